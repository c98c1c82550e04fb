//! An execution: the ordered steps that move the platform to the target region, carried out
//! one after another by a task of its own, resumable from the plan's status.
//!
//! Every step checks AWS before it acts, so a step that is run again (after a restart, or after
//! a transient error) finds the change it already made and waits for it instead of making it
//! twice. Before a mutating call the step records `mutationStartedAt`; after it, the AWS
//! request id. Each step transition writes one audit item (deterministic key) and one event,
//! then the status.

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use kube::ResourceExt;
use kube::runtime::events::{Event, EventType};
use tokio::time::{Instant, sleep};

use crate::audit::{AuditItem, MAX_PENDING};
use crate::context::Context;
use crate::crd::common::conditions::*;
use crate::crd::failover_plan::{ExecutionStatus, FailoverMode, PlanPhase, StepStatus};
use crate::crd::{FailoverPlan, FailoverPlanStatus, Region};
use crate::error::{Error, Result};
use crate::plan::{self, DatabaseChange, DnsChange, STEPS, StepKind};
use crate::status::{self, now, set_condition};
use crate::{preflight, window, world};

/// Longest a step waits for AWS to finish a change it asked for.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// What a finished step reports.
struct Done {
    message: String,
}

impl Done {
    fn new(message: impl Into<String>) -> Self {
        Done {
            message: message.into(),
        }
    }
}

/// Why an execution stopped before its end.
enum Stop {
    /// A step failed; the execution is over.
    Failed(String),
    /// Shutdown or lost leadership: the execution resumes in the next leader.
    Cancelled,
}

pub struct Execution {
    ctx: Arc<Context>,
    plan: FailoverPlan,
    status: FailoverPlanStatus,
    target: Region,
}

/// The lock keys an execution of `plan` holds: its global cluster (or target cluster) and
/// its hosted zone.
pub fn lock_keys(plan: &FailoverPlan) -> Vec<String> {
    let spec = &plan.spec;
    let database = match &spec.database.global_cluster_identifier {
        Some(id) => format!("LOCK#global-cluster#{id}"),
        None => {
            let mut arns: Vec<&str> = spec
                .regions
                .iter()
                .map(|r| r.cluster_arn.as_str())
                .collect();
            arns.sort();
            format!("LOCK#clusters#{}", arns.join(","))
        }
    };
    vec![
        database,
        format!("LOCK#hosted-zone#{}", spec.dns.hosted_zone_id),
    ]
}

/// Who holds the locks of an execution: stable across restarts of the same operator.
pub fn lock_holder(ctx: &Context, plan: &FailoverPlan, execution_id: &str) -> String {
    format!(
        "{}/{}/{}/{}",
        ctx.settings.cluster_name,
        plan.namespace().unwrap_or_default(),
        plan.name_any(),
        execution_id
    )
}

impl Execution {
    /// The status of a new execution: every step Pending.
    pub fn begin(status: &FailoverPlanStatus, execution: ExecutionStatus) -> FailoverPlanStatus {
        let mut next = status.clone();
        next.phase = Some(PlanPhase::Executing);
        next.execution_id = Some(execution.id.clone());
        next.message = Some(format!(
            "moving from {} to {}",
            execution.from_region, execution.target_region
        ));
        next.steps = STEPS
            .iter()
            .map(|s| StepStatus {
                name: s.name().into(),
                state: "Pending".into(),
                ..StepStatus::default()
            })
            .collect();
        next.execution = Some(execution);
        next
    }

    pub fn new(ctx: Arc<Context>, plan: FailoverPlan, status: FailoverPlanStatus) -> Option<Self> {
        let target = Region(status.execution.as_ref()?.target_region.clone());
        Some(Execution {
            ctx,
            plan,
            status,
            target,
        })
    }

    fn id(&self) -> String {
        self.status.execution_id.clone().unwrap_or_default()
    }

    fn key(&self) -> String {
        format!(
            "{}/{}",
            self.plan.namespace().unwrap_or_default(),
            self.plan.name_any()
        )
    }

    /// Runs the remaining steps, then finishes the execution.
    pub async fn run(mut self) {
        let id = self.id();
        let heartbeat = self.spawn_lock_heartbeat();
        let started = Instant::now();
        let result = self.run_steps().await;
        heartbeat.abort();
        // The world changed: plans must not decide from what was read before.
        self.ctx.worlds.forget();
        self.ctx.standby_checks.forget();

        match result {
            Ok(()) => {
                self.finish(
                    true,
                    "the platform runs in the target region".into(),
                    started,
                )
                .await
            }
            Err(Stop::Failed(message)) => self.finish(false, message, started).await,
            Err(Stop::Cancelled) => {
                tracing::info!(plan = %self.key(), execution = %id, "execution paused for shutdown; the next leader resumes it");
            }
        }
    }

    async fn run_steps(&mut self) -> Result<(), Stop> {
        for (index, kind) in STEPS.iter().enumerate() {
            let state = self
                .status
                .steps
                .get(index)
                .map(|s| s.state.clone())
                .unwrap_or_default();
            match state.as_str() {
                "Succeeded" | "Skipped" => continue,
                "Failed" => {
                    return Err(Stop::Failed(
                        self.status.steps[index].message.clone().unwrap_or_default(),
                    ));
                }
                _ => {}
            }
            if self.ctx.shutdown.is_cancelled() {
                return Err(Stop::Cancelled);
            }
            let resume = state == "Running";
            if !resume {
                self.transition(index, "Running", format!("{} started", kind.name()))
                    .await?;
            }

            let started = Instant::now();
            let outcome = self.run_with_retries(*kind, index, resume).await;
            self.ctx
                .metrics
                .step_finished(kind.name(), started.elapsed());
            match outcome {
                Ok(done) => self.transition(index, "Succeeded", done.message).await?,
                Err(Stop::Failed(message)) => {
                    self.transition(index, "Failed", message.clone()).await?;
                    return Err(Stop::Failed(format!("{} failed: {message}", kind.name())));
                }
                Err(Stop::Cancelled) => return Err(Stop::Cancelled),
            }
        }
        Ok(())
    }

    /// Runs one step; transient errors (throttling, 5xx, AWS or the API server unreachable)
    /// are waited out with backoff and jitter, within the step's retry budget.
    async fn run_with_retries(
        &mut self,
        kind: StepKind,
        index: usize,
        resume: bool,
    ) -> Result<Done, Stop> {
        let deadline = Instant::now() + self.ctx.settings.step_retry_budget;
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(500))
            .with_max_delay(Duration::from_secs(30))
            .with_jitter()
            .without_max_times()
            .build();
        let mut resume = resume;
        loop {
            match self.run_step(kind, index, resume).await {
                Ok(done) => return Ok(done),
                Err(err) if err.is_transient() && Instant::now() < deadline => {
                    let delay = delays.next().unwrap_or(Duration::from_secs(30));
                    tracing::warn!(plan = %self.key(), step = kind.name(), error = %err, retry_in = ?delay, "step will retry");
                    self.pause(delay).await?;
                    resume = true;
                }
                Err(Error::ShuttingDown) => return Err(Stop::Cancelled),
                Err(err) => return Err(Stop::Failed(err.to_string())),
            }
        }
    }

    async fn run_step(&mut self, kind: StepKind, index: usize, resume: bool) -> Result<Done> {
        match kind {
            StepKind::Preflight => self.preflight().await,
            StepKind::MaintenanceOn => self.maintenance(index, true, resume).await,
            StepKind::Database => self.database(index).await,
            StepKind::Dns => self.dns(index).await,
            StepKind::Verify => self.verify().await,
            StepKind::MaintenanceOff => self.maintenance(index, false, resume).await,
        }
    }

    async fn preflight(&mut self) -> Result<Done> {
        let checks = preflight::run(&self.ctx.adapters, &self.plan.spec, &self.target, None).await;
        match (preflight::failures(&checks), self.plan.spec.mode) {
            (None, _) => Ok(Done::new(format!("{} checks passed", checks.len()))),
            (Some(failed), FailoverMode::Switchover) => Err(Error::state(format!(
                "preflight failed, switchover blocked: {failed}. Fix these, or set mode: Failover if the primary region is down"
            ))),
            (Some(failed), FailoverMode::Failover) => Ok(Done::new(format!(
                "continuing because mode is Failover despite: {failed}"
            ))),
        }
    }

    async fn maintenance(&mut self, index: usize, enabled: bool, resume: bool) -> Result<Done> {
        let target = self.plan.spec.maintenance.target.clone();
        if !enabled
            && let Some(holder) =
                window::holder_of(&self.ctx, &target, jiff::Timestamp::now()).await?
        {
            self.observed_flag(true);
            return Ok(Done::new(format!("left on: {holder} holds the flag")));
        }
        let marker = format!("commandbridge {} {}", self.id(), STEPS[index].name());
        self.mark_mutation(index).await?;
        let message = self.plan.spec.maintenance.message.clone();
        let change = self
            .ctx
            .adapters
            .flags
            .set(&target, enabled, message.as_deref(), &marker, resume)
            .await?;
        self.observed_flag(enabled);
        let state = if enabled { "on" } else { "off" };
        if !change.changed {
            return Ok(Done::new(format!("{} was already {state}", target.flag)));
        }
        let step = &mut self.status.steps[index];
        step.aws_request_id = change.request_id.clone().or(step.aws_request_id.take());
        step.target = change.deployment_number.map(|n| format!("deployment {n}"));
        Ok(Done::new(format!(
            "{} {state}: version {} deployed (deployment {})",
            target.flag,
            change.version.unwrap_or_default(),
            change.deployment_number.unwrap_or_default()
        )))
    }

    /// Records the flag's deployed value once a maintenance step has set it, so that
    /// `status.observed` does not keep what Verify read before the last step.
    fn observed_flag(&mut self, enabled: bool) {
        if let Some(observed) = self.status.observed.as_mut() {
            observed.maintenance_enabled = Some(enabled);
        }
    }

    async fn database(&mut self, index: usize) -> Result<Done> {
        let deadline = Instant::now() + CHANGE_TIMEOUT;
        // Once this step has asked for the move, a promoted replica and its old source are both
        // standalone writers; the promoted one is the writer that counts.
        loop {
            let previous = if self.status.steps[index].mutation_started_at.is_some() {
                Some(self.target.0.clone())
            } else {
                self.status.active_region.clone()
            };
            let (database, writer) =
                world::observe_database(&self.ctx.adapters, &self.plan.spec, previous.as_deref())
                    .await?;
            let target_arn = self.target_arn()?;
            if let world::Database::Global(global) = &database
                && let Some(failover) = &global.failover
            {
                if failover.to_cluster_arn != target_arn {
                    return Err(Error::state(format!(
                        "a {} of {} to {} is in progress that this plan did not ask for; wait for it, then apply again",
                        failover.status, global.identifier, failover.to_cluster_arn
                    )));
                }
                tracing::debug!(plan = %self.key(), status = %failover.status, "waiting for the writer to move");
                self.wait(deadline, "the writer to move").await?;
                continue;
            }
            if let world::Database::Replica(clusters) = &database {
                let promoting = clusters.iter().any(|(r, c)| {
                    r == &self.target && c.as_ref().is_some_and(|c| c.status == "promoting")
                });
                if promoting {
                    self.wait(deadline, "the promotion").await?;
                    continue;
                }
            }

            let change =
                plan::database_change(&self.plan.spec, &database, writer.as_ref(), &self.target)?;
            let asked = self.status.steps[index].aws_request_id.is_some();
            let request_id = match (&change, asked) {
                (DatabaseChange::None, _) => {
                    return Ok(Done::new(format!(
                        "the writer is {target_arn} in {}",
                        self.target
                    )));
                }
                (_, true) => {
                    // AWS accepted the call; its effect is not visible yet.
                    self.wait(deadline, "the writer change to show").await?;
                    continue;
                }
                (DatabaseChange::Switchover { global, target_arn }, false) => {
                    self.mark_mutation(index).await?;
                    self.ctx.adapters.rds.switchover(global, target_arn).await?
                }
                (
                    DatabaseChange::Failover {
                        global,
                        target_arn,
                        allow_data_loss,
                    },
                    false,
                ) => {
                    self.mark_mutation(index).await?;
                    self.ctx
                        .adapters
                        .rds
                        .failover(global, target_arn, *allow_data_loss)
                        .await?
                }
                (DatabaseChange::Promote { cluster_arn }, false) => {
                    self.mark_mutation(index).await?;
                    self.ctx.adapters.rds.promote(cluster_arn).await?
                }
            };
            tracing::info!(plan = %self.key(), step = "Database", request_id = ?request_id, "writer move requested");
            let step = &mut self.status.steps[index];
            step.aws_request_id = Some(request_id.unwrap_or_else(|| "unknown".into()));
            step.target = Some(target_arn);
            self.persist().await?;
        }
    }

    async fn dns(&mut self, index: usize) -> Result<Done> {
        let deadline = Instant::now() + CHANGE_TIMEOUT;
        loop {
            let records = world::observe_records(&self.ctx.adapters, &self.plan.spec).await?;

            if let Some(change_id) = self.status.steps[index]
                .target
                .clone()
                .filter(|t| t.contains("change/"))
                && !self.ctx.adapters.route53.is_insync(&change_id).await?
            {
                self.wait(deadline, "the change to be INSYNC").await?;
                continue;
            }

            match plan::dns_change(&self.plan.spec, &records, &self.target)? {
                DnsChange::None => {
                    let serving_elsewhere: Vec<&str> = records
                        .iter()
                        .filter(|r| r.serving.as_ref() != Some(&self.target))
                        .map(|r| r.name.as_str())
                        .collect();
                    if !serving_elsewhere.is_empty() {
                        tracing::debug!(plan = %self.key(), records = ?serving_elsewhere, "waiting for health checks to follow");
                        self.wait(deadline, "Route 53 to route to the target")
                            .await?;
                        continue;
                    }
                    if self.status.steps[index].mutation_started_at.is_none() {
                        return Ok(Done::new(format!(
                            "traffic already goes to {}",
                            self.target
                        )));
                    }
                    let ttl = plan::max_ttl(&records);
                    self.wait_for_ttl(index, ttl).await?;
                    return Ok(Done::new(format!(
                        "traffic goes to {} (waited {ttl}s for the old answers to expire)",
                        self.target
                    )));
                }
                DnsChange::Invert(checks) => {
                    self.mark_mutation(index).await?;
                    let mut request_ids = Vec::new();
                    for (id, inverted) in &checks {
                        let request_id = self
                            .ctx
                            .adapters
                            .route53
                            .set_inverted(id, *inverted)
                            .await?;
                        tracing::info!(plan = %self.key(), health_check = %id, inverted, "health check updated");
                        request_ids.extend(request_id);
                    }
                    let step = &mut self.status.steps[index];
                    step.aws_request_id = Some(request_ids.join(","));
                    step.target = Some(
                        checks
                            .iter()
                            .map(|(id, _)| id.as_str())
                            .collect::<Vec<_>>()
                            .join(","),
                    );
                    self.persist().await?;
                }
                DnsChange::Upsert(sets) => {
                    self.mark_mutation(index).await?;
                    let comment = format!("commandbridge {} Dns", self.id());
                    let zone = self.plan.spec.dns.hosted_zone_id.clone();
                    let (change_id, request_id) = self
                        .ctx
                        .adapters
                        .route53
                        .upsert(&zone, sets, &comment)
                        .await?;
                    tracing::info!(plan = %self.key(), change = %change_id, "record change submitted");
                    let step = &mut self.status.steps[index];
                    step.aws_request_id = request_id;
                    step.target = Some(change_id);
                    self.persist().await?;
                }
            }
        }
    }

    /// Waits for the records' TTL after the change took, remembering the end in status so that
    /// a restart does not wait twice as long (or not at all).
    async fn wait_for_ttl(&mut self, index: usize, ttl: u64) -> Result<()> {
        let until = match self.status.steps[index].wait_until.as_ref() {
            Some(until) => until.0,
            None => {
                let until = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(ttl as i64);
                self.status.steps[index].wait_until =
                    Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(until));
                self.persist().await?;
                until
            }
        };
        let remaining = until.duration_since(jiff::Timestamp::now());
        if remaining > jiff::SignedDuration::ZERO {
            let remaining = Duration::try_from(remaining).unwrap_or_default();
            tokio::select! {
                _ = sleep(remaining) => {}
                _ = self.ctx.shutdown.cancelled() => return Err(Error::ShuttingDown),
            }
        }
        Ok(())
    }

    async fn verify(&mut self) -> Result<Done> {
        // After a promotion both clusters are standalone writers; the promoted one counts.
        let previous = Some(self.target.0.clone());
        let world =
            world::observe(&self.ctx.adapters, &self.plan.spec, previous.as_deref()).await?;
        let writer = world
            .writer_region
            .as_ref()
            .map(Region::as_str)
            .unwrap_or("unknown");
        let dns = world
            .dns_region
            .as_ref()
            .map(Region::as_str)
            .unwrap_or("mixed");
        self.status.observed = Some(crate::crd::failover_plan::ObservedState {
            writer_region: world.writer_region.as_ref().map(|r| r.0.clone()),
            dns_region: world.dns_region.as_ref().map(|r| r.0.clone()),
            maintenance_enabled: world.flag.as_ref().map(|f| f.enabled),
            checked_at: Some(now()),
        });
        if world.active_region() == Some(&self.target) {
            Ok(Done::new(format!("writer and DNS are in {}", self.target)))
        } else {
            Err(Error::state(format!(
                "after the move the writer is in {writer} and DNS points at {dns}, not both at {}",
                self.target
            )))
        }
    }

    fn target_arn(&self) -> Result<String> {
        self.plan
            .spec
            .regions
            .iter()
            .find(|r| r.name == self.target)
            .map(|r| r.cluster_arn.clone())
            .ok_or_else(|| {
                Error::state(format!("{} is no longer one of spec.regions", self.target))
            })
    }

    /// Sleeps one poll interval, or fails when the step has waited too long.
    async fn wait(&self, deadline: Instant, what: &str) -> Result<()> {
        if Instant::now() > deadline {
            return Err(Error::state(format!(
                "gave up waiting for {what} after {}s",
                CHANGE_TIMEOUT.as_secs()
            )));
        }
        tokio::select! {
            _ = sleep(self.ctx.settings.poll_interval) => Ok(()),
            _ = self.ctx.shutdown.cancelled() => Err(Error::ShuttingDown),
        }
    }

    async fn pause(&self, delay: Duration) -> Result<(), Stop> {
        tokio::select! {
            _ = sleep(delay) => Ok(()),
            _ = self.ctx.shutdown.cancelled() => Err(Stop::Cancelled),
        }
    }

    /// Records that the step is about to call a mutating AWS operation.
    async fn mark_mutation(&mut self, index: usize) -> Result<()> {
        if self.status.steps[index].mutation_started_at.is_none() {
            self.status.steps[index].mutation_started_at = Some(now());
            self.persist().await?;
        }
        Ok(())
    }

    /// Moves step `index` to `state`: audit item, event, status.
    async fn transition(&mut self, index: usize, state: &str, message: String) -> Result<(), Stop> {
        let name = STEPS[index].name();
        let at = now();
        {
            let step = &mut self.status.steps[index];
            step.state = state.into();
            step.message = Some(message.clone());
            if state == "Running" {
                step.started_at = Some(at.clone());
            } else {
                step.finished_at = Some(at.clone());
            }
        }
        let step = self.status.steps[index].clone();
        let execution = self.status.execution.clone().unwrap_or_default();
        let item = AuditItem {
            pk: format!("EXECUTION#{}", execution.id),
            sk: format!("{index}#{name}#{state}"),
            kind: "FailoverPlan".into(),
            resource: self.key(),
            execution: Some(execution.id.clone()),
            step: Some(name.into()),
            state: state.into(),
            actor: execution.requested_by.clone(),
            target: step.target.clone(),
            outcome: state.into(),
            message: Some(message.clone()),
            aws_request_id: step.aws_request_id.clone(),
            at: at.0.to_string(),
            due_at: None,
        };
        self.queue_audit(item);
        tracing::info!(plan = %self.key(), execution = %execution.id, step = name, state, message = %message, "step transition");
        self.event(
            if state == "Failed" {
                EventType::Warning
            } else {
                EventType::Normal
            },
            &format!("Step{state}"),
            &format!("{name}: {message}"),
        )
        .await;
        self.persist_or_stop().await
    }

    fn queue_audit(&mut self, item: AuditItem) {
        self.status.pending_audit.push(item);
    }

    /// Writes queued audit items and then the status. While the audit table is unreachable the
    /// items wait in status; past [`MAX_PENDING`] the execution waits for the table.
    async fn persist(&mut self) -> Result<()> {
        loop {
            self.flush_audit().await;
            if self.status.pending_audit.len() <= MAX_PENDING {
                break;
            }
            tracing::error!(plan = %self.key(), pending = self.status.pending_audit.len(), "audit table unreachable and too many items pending; waiting");
            tokio::select! {
                _ = sleep(self.ctx.settings.poll_interval * 5) => {}
                _ = self.ctx.shutdown.cancelled() => break,
            }
        }
        self.ctx
            .metrics
            .set_audit_pending(&self.key(), self.status.pending_audit.len());
        status::apply(&self.ctx.client, &self.plan, &self.status).await
    }

    async fn flush_audit(&mut self) {
        if self.status.pending_audit.is_empty() {
            return;
        }
        let items = std::mem::take(&mut self.status.pending_audit);
        self.status.pending_audit = self.ctx.adapters.audit.write_all(items).await;
    }

    /// Persists, retrying while the API server does not answer.
    async fn persist_or_stop(&mut self) -> Result<(), Stop> {
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(10))
            .with_jitter()
            .without_max_times()
            .build();
        let deadline = Instant::now() + self.ctx.settings.step_retry_budget;
        loop {
            match self.persist().await {
                Ok(()) => return Ok(()),
                Err(err) if Instant::now() < deadline => {
                    let delay = delays.next().unwrap_or(Duration::from_secs(10));
                    tracing::warn!(plan = %self.key(), error = %err, "status write failed; retrying");
                    self.pause(delay).await?;
                }
                Err(err) => {
                    tracing::error!(plan = %self.key(), error = %err, "status could not be written; stopping the execution");
                    return Err(Stop::Cancelled);
                }
            }
        }
    }

    async fn finish(&mut self, succeeded: bool, message: String, started: Instant) {
        let generation = self.plan.metadata.generation;
        let outcome = if succeeded { "Succeeded" } else { "Failed" };
        if let Some(execution) = self.status.execution.as_mut() {
            execution.outcome = outcome.into();
            execution.finished_at = Some(now());
        }
        let conditions = &mut self.status.conditions;
        if succeeded {
            self.status.phase = Some(PlanPhase::Converged);
            self.status.active_region = Some(self.target.0.clone());
            set_condition(
                conditions,
                READY,
                true,
                REASON_CONVERGED,
                &format!("active in {}", self.target),
                generation,
            );
            set_condition(
                conditions,
                RECONCILING,
                false,
                REASON_CONVERGED,
                "",
                generation,
            );
            set_condition(conditions, STALLED, false, REASON_CONVERGED, "", generation);
            // The region left behind is the new standby; its checks run at the next
            // reconcile, and until then no StandbyReady is better than the old standby's.
            conditions.retain(|c| c.type_ != STANDBY_READY);
        } else {
            self.status.phase = Some(PlanPhase::Failed);
            set_condition(
                conditions,
                READY,
                false,
                REASON_EXECUTION_FAILED,
                &message,
                generation,
            );
            set_condition(
                conditions,
                RECONCILING,
                false,
                REASON_EXECUTION_FAILED,
                "",
                generation,
            );
            set_condition(
                conditions,
                STALLED,
                true,
                REASON_EXECUTION_FAILED,
                &message,
                generation,
            );
        }
        self.status.message = Some(message.clone());
        self.status.observed_generation = generation;
        self.ctx
            .metrics
            .execution_finished(outcome, started.elapsed());
        let reason = if succeeded {
            "ExecutionSucceeded"
        } else {
            "ExecutionFailed"
        };
        let kind = if succeeded {
            EventType::Normal
        } else {
            EventType::Warning
        };
        self.event(kind, reason, &message).await;
        if self.persist_or_stop().await.is_err() {
            return;
        }
        for key in lock_keys(&self.plan) {
            let holder = lock_holder(&self.ctx, &self.plan, &self.id());
            if let Err(err) = self.ctx.adapters.locks.release(&key, &holder).await {
                tracing::warn!(plan = %self.key(), lock = %key, error = %err, "lock not released; it expires on its own");
            }
        }
        tracing::info!(plan = %self.key(), execution = %self.id(), outcome, seconds = started.elapsed().as_secs_f64(), "execution finished");
    }

    async fn event(&self, type_: EventType, reason: &str, note: &str) {
        let event = Event {
            type_,
            reason: reason.into(),
            note: Some(note.chars().take(1000).collect()),
            action: "Execute".into(),
            secondary: None,
        };
        if let Err(err) = self
            .ctx
            .recorder
            .publish(&event, &self.plan.object_ref(&()))
            .await
        {
            tracing::debug!(error = %err, "event not recorded");
        }
    }

    /// Renews the execution's locks while it runs.
    fn spawn_lock_heartbeat(&self) -> tokio::task::JoinHandle<()> {
        let ctx = self.ctx.clone();
        let keys = lock_keys(&self.plan);
        let holder = lock_holder(&self.ctx, &self.plan, &self.id());
        let every = ctx.settings.lock_lease / 3;
        tokio::spawn(async move {
            loop {
                sleep(every).await;
                for key in &keys {
                    if let Err(err) = ctx.adapters.locks.acquire(key, &holder).await {
                        tracing::warn!(lock = %key, error = %err, "lock renewal failed");
                    }
                }
            }
        })
    }
}

use kube::Resource;
