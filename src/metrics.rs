//! Prometheus metrics, served at /metrics. Labels use the same words as logs and status:
//! kind, reason, step, outcome, service, operation.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub kind: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StepLabels {
    pub step: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AwsLabels {
    pub service: String,
    pub operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResourceLabels {
    pub resource: String,
}

fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.0, 16))
}

#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    pub reconciles: Family<KindLabels, Counter>,
    pub reconcile_errors: Family<ErrorLabels, Counter>,
    pub reconcile_duration: Family<KindLabels, Histogram, fn() -> Histogram>,
    pub executions: Family<OutcomeLabels, Counter>,
    pub failover_duration: Family<OutcomeLabels, Histogram, fn() -> Histogram>,
    pub step_duration: Family<StepLabels, Histogram, fn() -> Histogram>,
    pub aws_calls: Family<AwsLabels, Counter>,
    pub aws_retries: Family<AwsLabels, Counter>,
    pub audit_pending: Family<ResourceLabels, Gauge>,
    pub maintenance_flag: Family<ResourceLabels, Gauge>,
    pub leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let metrics = Metrics {
            registry: Mutex::new(Registry::with_prefix("commandbridge")),
            reconciles: Family::default(),
            reconcile_errors: Family::default(),
            reconcile_duration: Family::new_with_constructor(duration_histogram),
            executions: Family::default(),
            failover_duration: Family::new_with_constructor(duration_histogram),
            step_duration: Family::new_with_constructor(duration_histogram),
            aws_calls: Family::default(),
            aws_retries: Family::default(),
            audit_pending: Family::default(),
            maintenance_flag: Family::default(),
            leader: Gauge::default(),
        };
        {
            let mut r = metrics.registry.lock().unwrap_or_else(|p| p.into_inner());
            r.register(
                "reconciles",
                "Reconciles by kind",
                metrics.reconciles.clone(),
            );
            r.register(
                "reconcile_errors",
                "Reconcile errors by kind and reason",
                metrics.reconcile_errors.clone(),
            );
            r.register(
                "reconcile_duration_seconds",
                "Reconcile duration by kind",
                metrics.reconcile_duration.clone(),
            );
            r.register(
                "executions",
                "Finished executions by outcome",
                metrics.executions.clone(),
            );
            r.register(
                "failover_duration_seconds",
                "Time from the start of an execution to its end, by outcome",
                metrics.failover_duration.clone(),
            );
            r.register(
                "step_duration_seconds",
                "Step duration by step",
                metrics.step_duration.clone(),
            );
            r.register(
                "aws_calls",
                "AWS calls by service and operation",
                metrics.aws_calls.clone(),
            );
            r.register(
                "aws_retries",
                "AWS call retries by service and operation",
                metrics.aws_retries.clone(),
            );
            r.register(
                "audit_items_pending",
                "Audit items waiting for the audit table",
                metrics.audit_pending.clone(),
            );
            r.register(
                "maintenance_flag",
                "Whether a resource holds the maintenance flag on (1) or not (0)",
                metrics.maintenance_flag.clone(),
            );
            r.register(
                "leader",
                "Whether this process is the leader (1) or a standby (0)",
                metrics.leader.clone(),
            );
        }
        metrics
    }

    pub fn reconciled(&self, kind: &str, took: Duration) {
        let labels = KindLabels { kind: kind.into() };
        self.reconciles.get_or_create(&labels).inc();
        self.reconcile_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    pub fn reconcile_failed(&self, kind: &str, reason: &str) {
        self.reconcile_errors
            .get_or_create(&ErrorLabels {
                kind: kind.into(),
                reason: reason.into(),
            })
            .inc();
    }

    pub fn step_finished(&self, step: &str, took: Duration) {
        self.step_duration
            .get_or_create(&StepLabels { step: step.into() })
            .observe(took.as_secs_f64());
    }

    pub fn execution_finished(&self, outcome: &str, took: Duration) {
        let labels = OutcomeLabels {
            outcome: outcome.into(),
        };
        self.executions.get_or_create(&labels).inc();
        self.failover_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    pub fn set_audit_pending(&self, resource: &str, pending: usize) {
        self.audit_pending
            .get_or_create(&ResourceLabels {
                resource: resource.into(),
            })
            .set(pending as i64);
    }

    pub fn set_flag_held(&self, resource: &str, held: bool) {
        self.maintenance_flag
            .get_or_create(&ResourceLabels {
                resource: resource.into(),
            })
            .set(i64::from(held));
    }

    pub fn aws_call(&self, service: &str, operation: &str, attempt: u32) {
        let labels = AwsLabels {
            service: service.into(),
            operation: operation.into(),
        };
        if attempt <= 1 {
            self.aws_calls.get_or_create(&labels).inc();
        } else {
            self.aws_retries.get_or_create(&labels).inc();
        }
    }

    /// The metrics in Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}
