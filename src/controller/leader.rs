//! Leader election: among the replicas, the one holding the Lease reconciles; the others wait
//! as ready standbys. A leader that loses its Lease stops reconciling at once (executions pause
//! at their next safe point) and the process exits, so that it restarts as a standby.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kube_lease_manager::LeaseManagerBuilder;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::context::Context;

use super::RunArgs;

/// The Lease this process holds while it leads.
pub struct Lease {
    receiver: watch::Receiver<bool>,
    task:
        JoinHandle<Result<kube_lease_manager::LeaseManager, kube_lease_manager::LeaseManagerError>>,
}

impl Lease {
    /// Gives the Lease up so that a standby takes over without waiting for it to expire.
    pub async fn release(self) {
        drop(self.receiver);
        match self.task.await {
            Ok(Ok(_)) => tracing::info!("lease released"),
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "lease not released; it expires on its own")
            }
            Err(err) => tracing::warn!(error = %err, "lease task failed"),
        }
    }
}

/// Waits until this process holds the Lease, or until shutdown (`None`).
pub async fn wait_for_leadership(
    client: &kube::Client,
    args: &RunArgs,
    namespace: &str,
    ctx: &Arc<Context>,
    ready: &Arc<AtomicBool>,
) -> anyhow::Result<Option<Lease>> {
    let identity = ctx.recorder_identity();
    let manager = LeaseManagerBuilder::new(client.clone(), &args.lease_name)
        .with_namespace(namespace)
        .with_identity(identity.clone())
        .with_duration(args.lease_seconds.max(2))
        .with_grace((args.lease_seconds / 3).max(1))
        .with_field_manager("commandbridge-operator-lease")
        .build()
        .await?;
    let (mut receiver, task) = manager.watch().await;
    // A standby is ready: it reached the API server and waits its turn.
    ready.store(true, Ordering::Relaxed);
    tracing::info!(lease = %args.lease_name, namespace, identity = %identity, "waiting to become leader");
    while !*receiver.borrow_and_update() {
        tokio::select! {
            changed = receiver.changed() => {
                if changed.is_err() {
                    anyhow::bail!("leader election stopped: {:?}", task.await);
                }
            }
            _ = ctx.shutdown.cancelled() => {
                drop(receiver);
                let _ = task.await;
                return Ok(None);
            }
        }
    }
    tracing::info!(lease = %args.lease_name, identity = %identity, "became leader");
    ready.store(false, Ordering::Relaxed);

    let mut watch_loss = receiver.clone();
    let shutdown = ctx.shutdown.clone();
    tokio::spawn(async move {
        loop {
            // On shutdown this task drops its receiver, so that releasing the Lease can finish.
            tokio::select! {
                _ = shutdown.cancelled() => return,
                changed = watch_loss.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
            if !*watch_loss.borrow_and_update() {
                tracing::error!("lost the lease; stopping so that the new leader alone acts");
                shutdown.cancel();
                return;
            }
        }
    });
    Ok(Some(Lease { receiver, task }))
}
