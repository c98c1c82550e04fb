//! Reconciler of `FailoverPlan`: validates the spec, reads the world, and decides: converged,
//! dry run, cooling down, awaiting approval, blocked by a lock, or a new execution. Executions
//! run as tasks of their own (`execution.rs`); while one runs, it alone writes the plan's
//! status.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::FieldsV1;
use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};

use crate::context::Context;
use crate::crd::common::conditions::*;
use crate::crd::common::parse_duration;
use crate::crd::failover_plan::{
    APPROVE_ANNOTATION, APPROVED_BY_ANNOTATION, ExecutionStatus, ObservedState, PlanPhase,
    StepStatus,
};
use crate::crd::{FailoverPlan, FailoverPlanStatus, Region};
use crate::error::{Error, Result};
use crate::execution::{Execution, lock_holder, lock_keys};
use crate::lock::Acquired;
use crate::status::{self, now, set_condition};
use crate::{plan, preflight, validation, world};

/// Requeue while an execution runs in this process (its task owns the status).
const WHILE_EXECUTING: Duration = Duration::from_secs(30);

pub async fn reconcile(plan: Arc<FailoverPlan>, ctx: Arc<Context>) -> Result<Action> {
    let key = format!(
        "{}/{}",
        plan.namespace().unwrap_or_default(),
        plan.name_any()
    );
    if ctx.is_executing(&key) {
        return Ok(Action::requeue(WHILE_EXECUTING));
    }
    let current = plan.status.clone().unwrap_or_default();
    let generation = plan.metadata.generation;

    if let Err(errors) = validation::validate_failover_plan(&plan.spec) {
        let message = format!("invalid spec: {}", validation::describe(&errors));
        let mut next = current.clone();
        next.phase = Some(PlanPhase::Invalid);
        next.message = Some(message.clone());
        stalled(&mut next, REASON_INVALID_SPEC, &message, generation);
        write(
            &ctx,
            &plan,
            &current,
            next,
            Some((EventType::Warning, REASON_INVALID_SPEC, message)),
        )
        .await?;
        return Ok(Action::await_change());
    }

    if resumable(&current) {
        return resume(plan, ctx, current).await;
    }

    let previous_writer = current.active_region.clone().or_else(|| {
        current
            .observed
            .as_ref()
            .and_then(|o| o.writer_region.clone())
    });
    let world = match observe(&ctx, &plan, previous_writer.as_deref()).await {
        Ok(world) => world,
        Err(err) => return observe_failed(&ctx, &plan, &current, err).await,
    };
    let target = plan.spec.active_region.clone();
    let mut next = current.clone();
    next.observed_generation = generation;
    observed(&mut next, &world);
    next.active_region = world.active_region().map(|r| r.0.clone());

    if world.active_region() == Some(&target) {
        return converged(&ctx, &plan, &current, next, &world, &target).await;
    }

    let execution_id = execution_id(&plan);
    if current
        .execution
        .as_ref()
        .is_some_and(|e| e.id == execution_id && e.outcome == "Failed")
    {
        // A failed execution is not retried on its own: a person looks first, then changes the
        // spec (a new generation) to try again.
        write(&ctx, &plan, &current, next, None).await?;
        return Ok(Action::await_change());
    }

    if let Err(err) = plan::database_change(
        &plan.spec,
        &world.database,
        world.writer_region.as_ref(),
        &target,
    ) && !err.is_transient()
    {
        let reason = if matches!(world.database, world::Database::Replica(_)) {
            REASON_FAILBACK_REFUSED
        } else {
            REASON_INVALID_SPEC
        };
        let message = err.to_string();
        next.phase = Some(PlanPhase::Failed);
        next.message = Some(message.clone());
        stalled(&mut next, reason, &message, generation);
        write(
            &ctx,
            &plan,
            &current,
            next,
            Some((EventType::Warning, reason, message)),
        )
        .await?;
        return Ok(Action::await_change());
    }

    let from = world
        .active_region()
        .or(world.writer_region.as_ref())
        .map(|r| r.0.clone())
        .unwrap_or_else(|| "unknown".into());

    if plan.spec.dry_run {
        return dry_run(&ctx, &plan, &current, next, &world, &target, &execution_id).await;
    }

    if let Some(wait) = cooldown_left(&plan, &current) {
        next.phase = Some(PlanPhase::CoolingDown);
        let message = format!(
            "cooling down for {}s after the last execution before moving to {target}",
            wait.as_secs()
        );
        next.message = Some(message.clone());
        progressing(&mut next, REASON_COOLING_DOWN, &message, generation);
        write(&ctx, &plan, &current, next, None).await?;
        return Ok(Action::requeue(wait + Duration::from_millis(100)));
    }

    if plan.spec.approval.required
        && plan.annotations().get(APPROVE_ANNOTATION) != Some(&execution_id)
    {
        next.phase = Some(PlanPhase::AwaitingApproval);
        next.execution_id = Some(execution_id.clone());
        let message = format!(
            "moving from {from} to {target} needs approval: kubectl annotate fp/{} {APPROVE_ANNOTATION}={execution_id} {APPROVED_BY_ANNOTATION}=<your name>",
            plan.name_any()
        );
        next.message = Some(message.clone());
        progressing(&mut next, REASON_AWAITING_APPROVAL, &message, generation);
        write(
            &ctx,
            &plan,
            &current,
            next,
            Some((EventType::Normal, REASON_AWAITING_APPROVAL, message)),
        )
        .await?;
        return Ok(Action::await_change());
    }

    let holder = lock_holder(&ctx, &plan, &execution_id);
    if let Some((lock, owner, expires_at)) = acquire_locks(&ctx, &plan, &holder).await? {
        next.phase = Some(PlanPhase::Blocked);
        let message = format!(
            "{lock} is held by {owner} until {}; waiting",
            format_epoch(expires_at)
        );
        next.message = Some(message.clone());
        progressing(&mut next, REASON_LOCKED, &message, generation);
        write(
            &ctx,
            &plan,
            &current,
            next,
            Some((EventType::Normal, REASON_LOCKED, message)),
        )
        .await?;
        return Ok(Action::requeue(
            ctx.settings.poll_interval.max(Duration::from_secs(5)),
        ));
    }

    let execution = ExecutionStatus {
        id: execution_id.clone(),
        from_region: from,
        target_region: target.0.clone(),
        generation: generation.unwrap_or_default(),
        requested_by: requested_by(&plan),
        started_at: Some(now()),
        finished_at: None,
        outcome: "Running".into(),
    };
    let mut started = Execution::begin(&next, execution);
    progressing(
        &mut started,
        REASON_EXECUTING,
        &format!("execution {execution_id} moving to {target}"),
        generation,
    );
    status::apply(&ctx.client, plan.as_ref(), &started).await?;
    tracing::info!(plan = %key, execution = %execution_id, target = %target, "execution started");
    publish(
        &ctx,
        &plan,
        EventType::Normal,
        "ExecutionStarted",
        &format!("execution {execution_id} moving to {target}"),
    )
    .await;
    spawn(ctx, plan, started, key);
    Ok(Action::requeue(WHILE_EXECUTING))
}

/// An execution that this or another process started and did not finish.
fn resumable(status: &FailoverPlanStatus) -> bool {
    status.phase == Some(PlanPhase::Executing)
        && status
            .execution
            .as_ref()
            .is_some_and(|e| e.outcome == "Running")
}

async fn resume(
    plan: Arc<FailoverPlan>,
    ctx: Arc<Context>,
    current: FailoverPlanStatus,
) -> Result<Action> {
    let key = format!(
        "{}/{}",
        plan.namespace().unwrap_or_default(),
        plan.name_any()
    );
    let execution_id = current.execution_id.clone().unwrap_or_default();
    let holder = lock_holder(&ctx, &plan, &execution_id);
    if let Some((lock, owner, _)) = acquire_locks(&ctx, &plan, &holder).await? {
        tracing::warn!(plan = %key, lock = %lock, owner = %owner, "cannot resume: lock held elsewhere");
        return Ok(Action::requeue(
            ctx.settings.poll_interval.max(Duration::from_secs(5)),
        ));
    }
    tracing::info!(plan = %key, execution = %execution_id, "resuming execution");
    spawn(ctx, plan, current, key);
    Ok(Action::requeue(WHILE_EXECUTING))
}

fn spawn(ctx: Arc<Context>, plan: Arc<FailoverPlan>, status: FailoverPlanStatus, key: String) {
    if let Some(execution) = Execution::new(ctx.clone(), plan.as_ref().clone(), status) {
        let handle = tokio::spawn(execution.run());
        ctx.track_execution(key, handle);
    }
}

/// Takes every lock of the plan, or returns the first one held elsewhere (and releases what
/// it took).
async fn acquire_locks(
    ctx: &Context,
    plan: &FailoverPlan,
    holder: &str,
) -> Result<Option<(String, String, i64)>> {
    let mut taken = Vec::new();
    for key in lock_keys(plan) {
        match ctx.adapters.locks.acquire(&key, holder).await? {
            Acquired::Yes => taken.push(key),
            Acquired::HeldBy {
                holder: owner,
                expires_at,
            } => {
                for key in taken {
                    ctx.adapters.locks.release(&key, holder).await?;
                }
                return Ok(Some((key, owner, expires_at)));
            }
        }
    }
    Ok(None)
}

async fn converged(
    ctx: &Context,
    plan: &FailoverPlan,
    current: &FailoverPlanStatus,
    mut next: FailoverPlanStatus,
    world: &world::World,
    target: &Region,
) -> Result<Action> {
    let generation = plan.metadata.generation;
    next.phase = Some(PlanPhase::Converged);
    next.message = Some(format!("active in {target}"));
    set_condition(
        &mut next.conditions,
        READY,
        true,
        REASON_CONVERGED,
        &format!("active in {target}"),
        generation,
    );
    set_condition(
        &mut next.conditions,
        RECONCILING,
        false,
        REASON_CONVERGED,
        "",
        generation,
    );
    set_condition(
        &mut next.conditions,
        STALLED,
        false,
        REASON_CONVERGED,
        "",
        generation,
    );

    let interval =
        parse_duration(&plan.spec.preflight.interval).unwrap_or(Duration::from_secs(600));
    if let Some(standby) = plan.spec.regions.iter().find(|r| &r.name != target) {
        let checks = standby_checks(ctx, plan, &standby.name, interval, &world.records).await;
        match preflight::failures(&checks) {
            None => set_condition(
                &mut next.conditions,
                STANDBY_READY,
                true,
                REASON_CHECKS_PASSED,
                &format!("{} is ready to take over", standby.name),
                generation,
            ),
            Some(failed) => set_condition(
                &mut next.conditions,
                STANDBY_READY,
                false,
                REASON_CHECK_FAILED,
                &failed,
                generation,
            ),
        }
    }
    write(ctx, plan, current, next, None).await?;
    // Limitation: a plan alone makes 16 AWS reads at each of these requeues (the world and the
    // standby checks), 96 an hour at the default 10m interval; plans naming the same resources
    // share them. Some are read twice (the global cluster, the flag version, the PRIMARY
    // health checks) because the world read and the checks do not yet share those reads.
    Ok(Action::requeue(interval))
}

/// The world of `plan`, read at most once per poll interval for plans naming the same
/// resources. Executions read for themselves and drop these results when they end.
async fn observe(
    ctx: &Context,
    plan: &FailoverPlan,
    previous_writer: Option<&str>,
) -> Result<world::World> {
    let key = format!(
        "{}|{}",
        resources_key(plan),
        previous_writer.unwrap_or_default()
    );
    ctx.worlds
        .get(key, ctx.settings.poll_interval, || {
            world::observe(&ctx.adapters, &plan.spec, previous_writer)
        })
        .await
}

/// The standby checks of `plan`, run at most once per `interval` for the same resources.
async fn standby_checks(
    ctx: &Context,
    plan: &FailoverPlan,
    standby: &Region,
    interval: Duration,
    records: &[world::Record],
) -> Vec<preflight::Check> {
    let key = format!("{}|{standby}", resources_key(plan));
    let checks = ctx
        .standby_checks
        .get(key, interval, || async {
            Ok::<_, std::convert::Infallible>(
                preflight::run(&ctx.adapters, &plan.spec, standby, Some(records)).await,
            )
        })
        .await;
    match checks {
        Ok(checks) => checks,
        Err(never) => match never {},
    }
}

/// The AWS resources a plan names; plans with the same key read the same world.
fn resources_key(plan: &FailoverPlan) -> String {
    let spec = &plan.spec;
    serde_json::to_string(&(
        &spec.regions,
        &spec.database,
        &spec.dns,
        &spec.maintenance.target,
    ))
    .unwrap_or_default()
}

async fn dry_run(
    ctx: &Context,
    plan: &FailoverPlan,
    current: &FailoverPlanStatus,
    mut next: FailoverPlanStatus,
    world: &world::World,
    target: &Region,
    execution_id: &str,
) -> Result<Action> {
    let generation = plan.metadata.generation;
    next.phase = Some(PlanPhase::DryRun);
    next.execution_id = Some(execution_id.to_string());
    next.steps = plan::describe(&plan.spec, world, target)
        .into_iter()
        .map(|(step, text)| StepStatus {
            name: step.name().into(),
            state: "Planned".into(),
            message: Some(text),
            ..StepStatus::default()
        })
        .collect();
    let message = format!(
        "dry run: an execution would move the platform to {target}; set dryRun: false to run it"
    );
    next.message = Some(message.clone());
    set_condition(
        &mut next.conditions,
        READY,
        false,
        REASON_DRY_RUN,
        &message,
        generation,
    );
    set_condition(
        &mut next.conditions,
        RECONCILING,
        false,
        REASON_DRY_RUN,
        "",
        generation,
    );
    set_condition(
        &mut next.conditions,
        STALLED,
        false,
        REASON_DRY_RUN,
        "",
        generation,
    );
    write(
        ctx,
        plan,
        current,
        next,
        Some((EventType::Normal, REASON_DRY_RUN, message)),
    )
    .await?;
    Ok(Action::requeue(
        parse_duration(&plan.spec.preflight.interval).unwrap_or(Duration::from_secs(600)),
    ))
}

async fn observe_failed(
    ctx: &Context,
    plan: &FailoverPlan,
    current: &FailoverPlanStatus,
    err: Error,
) -> Result<Action> {
    if err.is_transient() {
        return Err(err);
    }
    let mut next = current.clone();
    let message = format!("cannot read the platform's state: {err}");
    next.message = Some(message.clone());
    stalled(
        &mut next,
        REASON_OBSERVE_FAILED,
        &message,
        plan.metadata.generation,
    );
    write(
        ctx,
        plan,
        current,
        next,
        Some((EventType::Warning, REASON_OBSERVE_FAILED, message)),
    )
    .await?;
    Ok(Action::requeue(Duration::from_secs(60)))
}

fn observed(status: &mut FailoverPlanStatus, world: &world::World) {
    let observed = ObservedState {
        writer_region: world.writer_region.as_ref().map(|r| r.0.clone()),
        dns_region: world.dns_region.as_ref().map(|r| r.0.clone()),
        maintenance_enabled: world.flag.as_ref().map(|f| f.enabled),
        checked_at: None,
    };
    let unchanged = status.observed.as_ref().is_some_and(|o| {
        o.writer_region == observed.writer_region
            && o.dns_region == observed.dns_region
            && o.maintenance_enabled == observed.maintenance_enabled
    });
    if !unchanged {
        status.observed = Some(ObservedState {
            checked_at: Some(now()),
            ..observed
        });
    }
}

fn stalled(status: &mut FailoverPlanStatus, reason: &str, message: &str, generation: Option<i64>) {
    set_condition(
        &mut status.conditions,
        READY,
        false,
        reason,
        message,
        generation,
    );
    set_condition(
        &mut status.conditions,
        RECONCILING,
        false,
        reason,
        "",
        generation,
    );
    set_condition(
        &mut status.conditions,
        STALLED,
        true,
        reason,
        message,
        generation,
    );
    status.observed_generation = generation;
}

fn progressing(
    status: &mut FailoverPlanStatus,
    reason: &str,
    message: &str,
    generation: Option<i64>,
) {
    set_condition(
        &mut status.conditions,
        READY,
        false,
        reason,
        message,
        generation,
    );
    set_condition(
        &mut status.conditions,
        RECONCILING,
        true,
        reason,
        message,
        generation,
    );
    set_condition(
        &mut status.conditions,
        STALLED,
        false,
        reason,
        "",
        generation,
    );
    status.observed_generation = generation;
}

/// Writes `next` if it differs from `current`, with an event when given.
async fn write(
    ctx: &Context,
    plan: &FailoverPlan,
    current: &FailoverPlanStatus,
    next: FailoverPlanStatus,
    event: Option<(EventType, &str, String)>,
) -> Result<()> {
    if &next == current {
        return Ok(());
    }
    status::apply(&ctx.client, plan, &next).await?;
    if let Some((type_, reason, note)) = event {
        publish(ctx, plan, type_, reason, &note).await;
    }
    Ok(())
}

async fn publish(ctx: &Context, plan: &FailoverPlan, type_: EventType, reason: &str, note: &str) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note.chars().take(1000).collect()),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(err) = ctx.recorder.publish(&event, &plan.object_ref(&())).await {
        tracing::debug!(error = %err, "event not recorded");
    }
}

/// The id of the execution that carries out the plan's current generation.
pub fn execution_id(plan: &FailoverPlan) -> String {
    let uid = plan.uid().unwrap_or_default();
    let short: String = uid.chars().filter(|c| *c != '-').take(8).collect();
    format!("{short}-g{}", plan.metadata.generation.unwrap_or_default())
}

/// Keeps of a cached plan's managedFields only what [`requested_by`] reads: which managers
/// wrote the spec, and when. The field sets themselves are most of a cached object's size.
pub fn trim_managed_fields(plan: &mut FailoverPlan) {
    if let Some(entries) = plan.metadata.managed_fields.as_mut() {
        entries.retain(|m| {
            m.fields_v1
                .as_ref()
                .is_some_and(|f| f.0.get("f:spec").is_some())
        });
        for entry in entries.iter_mut() {
            entry.fields_v1 = Some(FieldsV1(serde_json::json!({ "f:spec": {} })));
        }
    }
}

/// Who asked for the execution: the approver, else the manager that last wrote the spec.
fn requested_by(plan: &FailoverPlan) -> String {
    if let Some(approver) = plan.annotations().get(APPROVED_BY_ANNOTATION) {
        return format!(
            "approved by {}",
            approver.chars().take(128).collect::<String>()
        );
    }
    plan.metadata
        .managed_fields
        .iter()
        .flatten()
        .filter(|m| {
            m.fields_v1
                .as_ref()
                .is_some_and(|f| f.0.get("f:spec").is_some())
        })
        .max_by_key(|m| m.time.as_ref().map(|t| t.0))
        .and_then(|m| m.manager.clone())
        .map(|manager| {
            format!(
                "{manager} (generation {})",
                plan.metadata.generation.unwrap_or_default()
            )
        })
        .unwrap_or_else(|| "unknown".into())
}

fn cooldown_left(plan: &FailoverPlan, status: &FailoverPlanStatus) -> Option<Duration> {
    let cooldown = parse_duration(&plan.spec.cooldown).ok()?;
    let finished = status.execution.as_ref()?.finished_at.as_ref()?.0;
    let ends = finished + jiff::SignedDuration::try_from(cooldown).ok()?;
    let left = ends.duration_since(jiff::Timestamp::now());
    (left > jiff::SignedDuration::ZERO).then(|| Duration::try_from(left).unwrap_or_default())
}

fn format_epoch(epoch: i64) -> String {
    jiff::Timestamp::from_second(epoch)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| epoch.to_string())
}

use kube::Resource;

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, Time};

    fn entry(manager: &str, fields: serde_json::Value, second: i64) -> ManagedFieldsEntry {
        ManagedFieldsEntry {
            manager: Some(manager.into()),
            fields_v1: Some(FieldsV1(fields)),
            time: Some(Time(jiff::Timestamp::from_second(second).expect("time"))),
            ..ManagedFieldsEntry::default()
        }
    }

    #[test]
    fn trimmed_cache_entries_still_name_who_changed_the_spec() {
        let mut plan: FailoverPlan =
            serde_saphyr::from_str(include_str!("../../examples/failoverplan.yaml"))
                .expect("example parses");
        plan.metadata.generation = Some(3);
        plan.metadata.managed_fields = Some(vec![
            entry(
                "argocd-controller",
                serde_json::json!({"f:spec": {"f:activeRegion": {}, "f:regions": {}}}),
                100,
            ),
            entry(
                "commandbridge-status",
                serde_json::json!({"f:status": {"f:phase": {}}}),
                200,
            ),
        ]);

        trim_managed_fields(&mut plan);

        let entries = plan.metadata.managed_fields.as_deref().expect("entries");
        assert_eq!(entries.len(), 1, "the status manager's entry is dropped");
        assert_eq!(
            entries[0].fields_v1,
            Some(FieldsV1(serde_json::json!({"f:spec": {}})))
        );
        assert_eq!(requested_by(&plan), "argocd-controller (generation 3)");
    }
}
