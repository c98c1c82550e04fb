//! Prometheus metrics of the operator.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters the controller updates. Exposed at /metrics by the HTTP server.
#[derive(Default)]
pub struct Metrics {
    pub reconciles: AtomicU64,
    pub reconcile_errors: AtomicU64,
    pub executions_started: AtomicU64,
}

impl Metrics {
    pub fn reconciled(&self) {
        self.reconciles.fetch_add(1, Ordering::Relaxed);
    }
}
