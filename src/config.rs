//! Settings shared by every subcommand that talks to AWS, and the SDK clients built from them.
//!
//! Credentials come from the standard chain (environment, web identity for IRSA, profile);
//! `--aws-endpoint-url` (or `AWS_ENDPOINT_URL`) sends every call to one endpoint, such as the
//! local emulator, so that the same binary runs against AWS and against the local stack.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region as SdkRegion, SdkConfig};

use crate::aws::metrics::CallCounter;
use crate::metrics::Metrics;

#[derive(clap::Args, Clone, Debug)]
pub struct AwsArgs {
    /// Region of the audit table and the lock items, and of the AppConfig flag unless a
    /// resource names another.
    #[arg(long = "region", env = "AWS_REGION", default_value = "eu-west-2")]
    pub region: String,

    /// Send every AWS call to this URL instead of the public endpoints (a local emulator).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub aws_endpoint_url: Option<String>,

    /// DynamoDB table of the audit trail; execution locks live in it too.
    #[arg(
        long,
        env = "COMMANDBRIDGE_AUDIT_TABLE",
        default_value = "commandbridge-audit"
    )]
    pub audit_table: String,

    /// Attempts per AWS call, including the first, for throttling and 5xx answers.
    #[arg(long, env = "COMMANDBRIDGE_AWS_MAX_ATTEMPTS", default_value_t = 5)]
    pub aws_max_attempts: u32,
}

/// SDK clients, one per service and region, built on first use.
#[derive(Clone)]
pub struct AwsClients {
    base: SdkConfig,
    pub home_region: String,
    pub audit_table: String,
    rds: Arc<Mutex<HashMap<String, aws_sdk_rds::Client>>>,
    appconfig: Arc<Mutex<HashMap<String, aws_sdk_appconfig::Client>>>,
    pub route53: aws_sdk_route53::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    counter: Option<CallCounter>,
}

impl AwsClients {
    pub async fn load(args: &AwsArgs) -> Self {
        Self::load_counted(args, None).await
    }

    /// Like [`load`](Self::load), counting every call and retry in `metrics`.
    pub async fn load_counted(args: &AwsArgs, metrics: Option<Arc<Metrics>>) -> Self {
        // Standard retry mode: exponential backoff with full jitter on throttling, 5xx and
        // transient network errors.
        let retry = RetryConfig::standard()
            .with_max_attempts(args.aws_max_attempts.max(1))
            .with_initial_backoff(Duration::from_millis(200))
            .with_max_backoff(Duration::from_secs(10));
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .operation_attempt_timeout(Duration::from_secs(20))
            .operation_timeout(Duration::from_secs(90))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(SdkRegion::new(args.region.clone()))
            .retry_config(retry)
            .timeout_config(timeouts);
        if let Some(url) = &args.aws_endpoint_url {
            loader = loader.endpoint_url(url.clone());
        }
        let base = loader.load().await;
        let mut clients = Self::from_config(base, args);
        if let Some(metrics) = metrics {
            clients.count_calls(CallCounter::new(metrics));
        }
        clients
    }

    /// Clients from an SDK configuration built elsewhere (explicit credentials, tests).
    pub fn from_config(base: SdkConfig, args: &AwsArgs) -> Self {
        // Route 53 is global and signs for us-east-1.
        let route53_config = aws_sdk_route53::config::Builder::from(&base)
            .region(SdkRegion::new("us-east-1"))
            .build();
        AwsClients {
            route53: aws_sdk_route53::Client::from_conf(route53_config),
            dynamodb: aws_sdk_dynamodb::Client::new(&base),
            home_region: args.region.clone(),
            audit_table: args.audit_table.clone(),
            rds: Arc::default(),
            appconfig: Arc::default(),
            base,
            counter: None,
        }
    }

    fn count_calls(&mut self, counter: CallCounter) {
        let route53 = aws_sdk_route53::config::Builder::from(&self.base)
            .region(SdkRegion::new("us-east-1"))
            .interceptor(counter.clone())
            .build();
        self.route53 = aws_sdk_route53::Client::from_conf(route53);
        let dynamodb = aws_sdk_dynamodb::config::Builder::from(&self.base)
            .interceptor(counter.clone())
            .build();
        self.dynamodb = aws_sdk_dynamodb::Client::from_conf(dynamodb);
        self.counter = Some(counter);
    }

    /// The RDS client of one region. Global-cluster calls go to the region of the cluster
    /// they name, so that a failover works while the other region does not answer.
    pub fn rds(&self, region: &str) -> aws_sdk_rds::Client {
        let mut clients = self
            .rds
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        clients
            .entry(region.to_string())
            .or_insert_with(|| {
                let mut config = aws_sdk_rds::config::Builder::from(&self.base)
                    .region(SdkRegion::new(region.to_string()));
                if let Some(counter) = &self.counter {
                    config = config.interceptor(counter.clone());
                }
                let config = config.build();
                aws_sdk_rds::Client::from_conf(config)
            })
            .clone()
    }

    pub fn appconfig(&self, region: Option<&str>) -> aws_sdk_appconfig::Client {
        let region = region.unwrap_or(&self.home_region).to_string();
        let mut clients = self
            .appconfig
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        clients
            .entry(region.clone())
            .or_insert_with(|| {
                let mut config = aws_sdk_appconfig::config::Builder::from(&self.base)
                    .region(SdkRegion::new(region));
                if let Some(counter) = &self.counter {
                    config = config.interceptor(counter.clone());
                }
                let config = config.build();
                aws_sdk_appconfig::Client::from_conf(config)
            })
            .clone()
    }
}
