//! The operator's one error type. Variants double as metric labels (`Error::label`), and an AWS
//! error keeps the service's code, message and request id so that a failed step says exactly
//! what AWS answered.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::request_id::RequestId;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{service} {operation}: {code}: {message}")]
    Aws {
        service: &'static str,
        operation: &'static str,
        code: String,
        message: String,
        request_id: Option<String>,
        /// Throttling, 5xx, time-outs and connection failures: worth another try later.
        transient: bool,
    },

    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),

    /// AWS answered, but not what the plan needs (a missing record, an unexpected shape).
    #[error("{0}")]
    State(String),

    #[error("serialization: {0}")]
    Serde(#[from] serde_json::Error),

    /// The process is stopping; the work resumes in the next leader.
    #[error("shutting down")]
    ShuttingDown,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Short, stable label for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Error::Aws {
                transient: true, ..
            } => "aws_transient",
            Error::Aws { .. } => "aws_permanent",
            Error::Kube(_) => "kube",
            Error::State(_) => "state",
            Error::Serde(_) => "serde",
            Error::ShuttingDown => "shutdown",
        }
    }

    /// Whether waiting and trying again may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Aws { transient, .. } => *transient,
            Error::Kube(_) => true,
            Error::State(_) | Error::Serde(_) | Error::ShuttingDown => false,
        }
    }

    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Aws { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// The AWS error code, if this is an AWS error.
    pub fn aws_code(&self) -> Option<&str> {
        match self {
            Error::Aws { code, .. } => Some(code),
            _ => None,
        }
    }

    pub fn state(message: impl Into<String>) -> Self {
        Error::State(message.into())
    }
}

/// Error codes that AWS services use for throttling and server-side trouble.
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestThrottled",
    "PriorRequestNotComplete",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "InternalServerError",
    "InternalServerException",
    "InternalError",
];

/// Converts an SDK error of any AWS service into [`Error::Aws`].
pub fn aws<E>(service: &'static str, operation: &'static str, err: SdkError<E, Response>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let request_id = err.request_id().map(str::to_string);
    match &err {
        SdkError::ServiceError(service_error) => {
            let status = service_error.raw().status().as_u16();
            let code = service_error.err().code().unwrap_or("Unknown").to_string();
            let message = service_error
                .err()
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| format!("HTTP {status}"));
            let transient =
                status >= 500 || status == 429 || TRANSIENT_CODES.contains(&code.as_str());
            Error::Aws {
                service,
                operation,
                code,
                message,
                request_id,
                transient,
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Error::Aws {
                service,
                operation,
                code: "Unreachable".to_string(),
                message: source_chain(&err),
                request_id,
                transient: true,
            }
        }
        _ => Error::Aws {
            service,
            operation,
            code: "RequestNotSent".to_string(),
            message: source_chain(&err),
            request_id,
            transient: false,
        },
    }
}

fn source_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
