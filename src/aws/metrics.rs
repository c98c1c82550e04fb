//! Counts every AWS call and every retry, per service and operation, as the SDK makes them.

use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::metrics::Metrics;

#[derive(Debug, Clone)]
pub struct CallCounter {
    metrics: Arc<Metrics>,
}

impl CallCounter {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        CallCounter { metrics }
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "commandbridge-call-counter"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let attempt = cfg
            .load::<RequestAttempts>()
            .map(|a| a.attempts())
            .unwrap_or(1);
        if let Some(metadata) = cfg.load::<Metadata>() {
            self.metrics
                .aws_call(metadata.service(), metadata.name(), attempt);
        }
        Ok(())
    }
}
