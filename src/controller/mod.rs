//! The controllers: one per kind, run side by side in one process, sharing a [`Context`].
//! `run` wires them to the API server, the AWS clients and the HTTP endpoints, and stops them
//! gracefully on SIGTERM: executions finish the AWS call in flight and record where they stand.

pub mod failover_plan;
mod leader;
pub mod maintenance_window;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::utils::Predicate;
use kube::runtime::{WatchStreamExt, predicates, reflector, watcher};

use crate::config::{AwsArgs, AwsClients};
use crate::context::{Adapters, Context, Settings};
use crate::crd::common::parse_duration;
use crate::crd::{FailoverPlan, MaintenanceWindow};
use crate::error::Error;
use crate::http::{self, Probes};
use crate::metrics::Metrics;

#[derive(clap::Args, Clone, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub aws: AwsArgs,

    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, env = "COMMANDBRIDGE_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: SocketAddr,

    /// Name of this Kubernetes cluster, in lock holders and audit items.
    #[arg(long, env = "COMMANDBRIDGE_CLUSTER_NAME", default_value = "default")]
    pub cluster_name: String,

    /// How often a waiting step asks AWS again.
    #[arg(long, env = "COMMANDBRIDGE_POLL_INTERVAL", default_value = "2s")]
    pub poll_interval: String,

    /// Name of this process in events and leases. Defaults to the host name.
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,

    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "COMMANDBRIDGE_NAMESPACE")]
    pub namespace: Option<String>,

    /// Elect one leader among the replicas through a Lease; only the leader reconciles.
    #[arg(long, env = "COMMANDBRIDGE_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_election: bool,

    /// Namespace of the Lease. Defaults to the operator's own namespace.
    #[arg(long, env = "POD_NAMESPACE")]
    pub lease_namespace: Option<String>,

    /// Name of the Lease through which the replicas elect their leader.
    #[arg(
        long,
        env = "COMMANDBRIDGE_LEASE_NAME",
        default_value = "commandbridge-operator"
    )]
    pub lease_name: String,

    /// Seconds a leader's Lease lasts without renewal; a standby takes over after it.
    #[arg(long, env = "COMMANDBRIDGE_LEASE_SECONDS", default_value_t = 15)]
    pub lease_seconds: u64,
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let poll_interval =
        parse_duration(&args.poll_interval).map_err(|e| anyhow::anyhow!("--poll-interval: {e}"))?;
    let identity = args.identity.clone().unwrap_or_else(|| {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "commandbridge-operator".into());
        format!("{host}-{}", std::process::id())
    });
    let client = kube::Client::try_default().await?;
    let metrics = Arc::new(Metrics::new());
    let clients = AwsClients::load_counted(&args.aws, Some(metrics.clone())).await;
    let settings = Settings {
        poll_interval,
        cluster_name: args.cluster_name.clone(),
        namespace: args.namespace.clone(),
        ..Settings::default()
    };
    let shutdown = tokio_util::sync::CancellationToken::new();
    let adapters = Adapters::new(clients, &settings, shutdown.clone());
    let ctx = Arc::new(Context::new(
        client.clone(),
        adapters,
        settings,
        metrics.clone(),
        identity,
        shutdown,
    ));

    let ready = Arc::new(AtomicBool::new(false));
    let probes = Probes {
        ready: ready.clone(),
        metrics: metrics.clone(),
    };
    let http_shutdown = ctx.shutdown.clone();
    let http = tokio::spawn(http::serve(args.http_addr, probes, http_shutdown));

    let signal_ctx = ctx.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: executions stop after the AWS call in flight");
        signal_ctx.shutdown.cancel();
    });

    let lease = if args.leader_election {
        let namespace = args
            .lease_namespace
            .clone()
            .unwrap_or_else(|| client.default_namespace().to_string());
        match leader::wait_for_leadership(&client, &args, &namespace, &ctx, &ready).await? {
            Some(lease) => Some(lease),
            None => {
                tracing::info!("stopped before becoming leader");
                let _ = http.await;
                return Ok(());
            }
        }
    } else {
        None
    };
    metrics.leader.set(1);

    let plans_synced = Arc::new(AtomicBool::new(false));
    let windows_synced = Arc::new(AtomicBool::new(false));
    let plans = plan_controller(ctx.clone(), plans_synced.clone());
    let windows = window_controller(ctx.clone(), windows_synced.clone());
    let readiness = tokio::spawn(async move {
        while !(plans_synced.load(Ordering::Relaxed) && windows_synced.load(Ordering::Relaxed)) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        ready.store(true, Ordering::Relaxed);
    });
    futures::future::join(plans, windows).await;
    readiness.abort();

    wait_for_executions(&ctx, Duration::from_secs(60)).await;
    ctx.shutdown.cancel();
    metrics.leader.set(0);
    if let Some(lease) = lease {
        lease.release().await;
    }
    if let Ok(Err(err)) = http.await {
        tracing::warn!(error = %err, "HTTP server stopped with an error");
    }
    tracing::info!("stopped");
    Ok(())
}

fn plan_controller(
    ctx: Arc<Context>,
    synced: Arc<AtomicBool>,
) -> impl std::future::Future<Output = ()> {
    let (reader, writer) = reflector::store();
    // Status writes do not change generation or annotations, so they do not wake the
    // reconciler: converged plans cause no churn.
    let stream = watcher(ctx.api::<FailoverPlan>(), watcher::Config::default())
        .default_backoff()
        .modify(failover_plan::trim_managed_fields)
        .reflect(writer)
        .inspect(move |event| mark_synced(event, &synced, "FailoverPlan"))
        .applied_objects()
        .predicate_filter(
            predicates::generation.combine(predicates::annotations),
            Default::default(),
        );
    let shutdown = ctx.shutdown.clone();
    Controller::for_stream(stream, reader)
        .with_config(controller_config())
        .graceful_shutdown_on(async move { shutdown.cancelled().await })
        .run(reconcile_plan, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(error = %err, "reconcile ended with an error");
            }
        })
}

/// Marks a cache synced when its first full list has been read.
fn mark_synced<K>(
    event: &Result<watcher::Event<K>, watcher::Error>,
    synced: &AtomicBool,
    kind: &str,
) {
    if matches!(event, Ok(watcher::Event::InitDone)) && !synced.swap(true, Ordering::Relaxed) {
        tracing::info!(kind, "cache synced");
    }
}

/// At most this many reconciles of one kind run at once: at start-up, thousands of resources
/// would otherwise all read AWS together, which costs memory and trips throttling.
const CONCURRENCY: u16 = 8;

fn controller_config() -> kube::runtime::controller::Config {
    kube::runtime::controller::Config::default().concurrency(CONCURRENCY)
}

fn window_controller(
    ctx: Arc<Context>,
    synced: Arc<AtomicBool>,
) -> impl std::future::Future<Output = ()> {
    let (reader, writer) = reflector::store();
    // Windows are woken by every change, status included: a window's own status writes are
    // rare (at its boundaries) and its reconcile makes no AWS call unless a boundary passed.
    let stream = watcher(ctx.api::<MaintenanceWindow>(), watcher::Config::default())
        .default_backoff()
        // managedFields are most of a cached object's size, and windows never read them.
        .modify(|window: &mut MaintenanceWindow| window.metadata.managed_fields = None)
        .reflect(writer)
        .inspect(move |event| mark_synced(event, &synced, "MaintenanceWindow"))
        .applied_objects();
    let shutdown = ctx.shutdown.clone();
    Controller::for_stream(stream, reader)
        .with_config(controller_config())
        .graceful_shutdown_on(async move { shutdown.cancelled().await })
        .run(reconcile_window, window_error_policy, ctx)
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(error = %err, "reconcile ended with an error");
            }
        })
}

async fn reconcile_window(
    window: Arc<MaintenanceWindow>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let result = maintenance_window::reconcile(window, ctx.clone()).await;
    ctx.metrics
        .reconciled("MaintenanceWindow", started.elapsed());
    result
}

fn window_error_policy(window: Arc<MaintenanceWindow>, err: &Error, ctx: Arc<Context>) -> Action {
    use kube::ResourceExt;
    ctx.metrics
        .reconcile_failed("MaintenanceWindow", err.label());
    tracing::warn!(window = %window.name_any(), namespace = ?window.namespace(), error = %err, "reconcile failed; retrying");
    Action::requeue(if err.is_transient() {
        Duration::from_secs(2)
    } else {
        Duration::from_secs(30)
    })
}

async fn reconcile_plan(plan: Arc<FailoverPlan>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let result = failover_plan::reconcile(plan, ctx.clone()).await;
    ctx.metrics.reconciled("FailoverPlan", started.elapsed());
    result
}

fn error_policy(plan: Arc<FailoverPlan>, err: &Error, ctx: Arc<Context>) -> Action {
    use kube::ResourceExt;
    ctx.metrics.reconcile_failed("FailoverPlan", err.label());
    tracing::warn!(plan = %plan.name_any(), namespace = ?plan.namespace(), error = %err, "reconcile failed; retrying");
    Action::requeue(if err.is_transient() {
        Duration::from_secs(5)
    } else {
        Duration::from_secs(60)
    })
}

async fn wait_for_executions(ctx: &Context, limit: Duration) {
    let handles: Vec<_> = ctx
        .executions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .drain()
        .map(|(_, h)| h)
        .collect();
    if handles.is_empty() {
        return;
    }
    tracing::info!(
        executions = handles.len(),
        "waiting for executions to reach a safe point"
    );
    let _ = tokio::time::timeout(limit, futures::future::join_all(handles)).await;
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
