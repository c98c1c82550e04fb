//! What every reconcile and execution is handed: the Kubernetes client, the AWS adapters, the
//! event recorder, settings, and the executions running in this process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::runtime::events::{Recorder, Reporter};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::audit::AuditLog;
use crate::aws::appconfig::Flags;
use crate::aws::rds::Rds;
use crate::aws::route53::Route53;
use crate::config::AwsClients;
use crate::lock::Locks;
use crate::metrics::Metrics;
use crate::preflight::Check;
use crate::shared_reads::SharedReads;
use crate::world::World;

/// The AWS side, one adapter per service.
#[derive(Clone)]
pub struct Adapters {
    pub rds: Rds,
    pub route53: Route53,
    pub flags: Flags,
    pub audit: AuditLog,
    pub locks: Locks,
}

impl Adapters {
    pub fn new(clients: AwsClients, settings: &Settings, shutdown: CancellationToken) -> Self {
        Adapters {
            rds: Rds::new(clients.clone()),
            route53: Route53::new(&clients),
            flags: Flags::new(clients.clone(), settings.poll_interval, shutdown),
            audit: AuditLog::new(&clients),
            locks: Locks::new(&clients, settings.lock_lease),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Settings {
    /// How often a waiting step asks AWS again.
    pub poll_interval: Duration,
    /// Name of this Kubernetes cluster in lock holders and audit items, so that operators in
    /// two clusters tell each other apart.
    pub cluster_name: String,
    /// How long an execution lock lasts without renewal.
    pub lock_lease: Duration,
    /// Longest a step may wait out transient errors before it fails.
    pub step_retry_budget: Duration,
    /// The one namespace watched, or all of them.
    pub namespace: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            poll_interval: Duration::from_secs(2),
            cluster_name: "default".into(),
            lock_lease: Duration::from_secs(600),
            step_retry_budget: Duration::from_secs(900),
            namespace: None,
        }
    }
}

pub struct Context {
    pub client: kube::Client,
    /// This process's name in events and the Lease.
    pub instance: String,
    pub adapters: Adapters,
    pub recorder: Recorder,
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
    /// Executions running in this process, by `namespace/name` of their plan.
    pub executions: Mutex<HashMap<String, JoinHandle<()>>>,
    /// Cancelled on shutdown or loss of leadership: executions stop at the next safe point.
    pub shutdown: CancellationToken,
    /// The world as read for plans, shared between plans that name the same resources for one
    /// poll interval.
    pub worlds: SharedReads<World>,
    /// Results of standby checks, shared between plans that name the same resources for one
    /// `spec.preflight.interval`.
    pub standby_checks: SharedReads<Vec<Check>>,
}

impl Context {
    pub fn new(
        client: kube::Client,
        adapters: Adapters,
        settings: Settings,
        metrics: Arc<Metrics>,
        instance: String,
        shutdown: CancellationToken,
    ) -> Self {
        let reporter = Reporter {
            controller: "commandbridge-operator".into(),
            instance: Some(instance),
        };
        Context {
            instance: reporter.instance.clone().unwrap_or_default(),
            recorder: Recorder::new(client.clone(), reporter),
            client,
            adapters,
            settings,
            metrics,
            executions: Mutex::default(),
            shutdown,
            worlds: SharedReads::default(),
            standby_checks: SharedReads::default(),
        }
    }

    pub fn recorder_identity(&self) -> String {
        self.instance.clone()
    }

    /// An API of kind `K` in the watched namespace, or in all namespaces.
    pub fn api<K>(&self) -> kube::Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        match &self.settings.namespace {
            Some(ns) => kube::Api::namespaced(self.client.clone(), ns),
            None => kube::Api::all(self.client.clone()),
        }
    }

    /// Whether an execution of the plan `key` is running in this process.
    pub fn is_executing(&self, key: &str) -> bool {
        let mut running = self.executions.lock().unwrap_or_else(|p| p.into_inner());
        running.retain(|_, handle| !handle.is_finished());
        running.contains_key(key)
    }

    pub fn track_execution(&self, key: String, handle: JoinHandle<()>) {
        self.executions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, handle);
    }
}
