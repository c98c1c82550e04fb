//! Reconciler of `MaintenanceWindow`: holds the maintenance flag on while a window is open and
//! turns it off after, unless another window or a running FailoverPlan execution still holds
//! it. It requeues exactly at the next boundary, and works out from the schedule and the clock
//! (not from memory) whether a window is open, so a restart in the middle of a window, or
//! across its end, does the right thing when the operator comes back.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};

use crate::audit::AuditItem;
use crate::context::Context;
use crate::crd::MaintenanceWindow;
use crate::crd::common::conditions::*;
use crate::crd::maintenance_window::{MaintenanceWindowStatus, WindowPhase};
use crate::error::{Error, Result};
use crate::schedule::{Schedule, Window};
use crate::status::{self, set_condition};
use crate::{validation, window};

pub const FINALIZER: &str = "ops.commandbridge.io/maintenance-flag";

/// Longest sleep between reconciles of a window, so that clock jumps are caught.
const MAX_REQUEUE: Duration = Duration::from_secs(3600);

pub async fn reconcile(object: Arc<MaintenanceWindow>, ctx: Arc<Context>) -> Result<Action> {
    let api: Api<MaintenanceWindow> =
        Api::namespaced(ctx.client.clone(), &object.namespace().unwrap_or_default());
    let ctx2 = ctx.clone();
    finalizer(&api, FINALIZER, object, |event| async move {
        match event {
            Finalizer::Apply(window) => apply(&window, &ctx2, Timestamp::now()).await,
            Finalizer::Cleanup(window) => cleanup(&window, &ctx2).await,
        }
    })
    .await
    .map_err(|err| match err {
        kube::runtime::finalizer::Error::ApplyFailed(err)
        | kube::runtime::finalizer::Error::CleanupFailed(err) => err,
        kube::runtime::finalizer::Error::AddFinalizer(err)
        | kube::runtime::finalizer::Error::RemoveFinalizer(err) => Error::Kube(err),
        other => Error::state(other.to_string()),
    })
}

/// The window occurrence in audit keys: its start to the second, as status keeps it.
fn occurrence(start: Timestamp) -> String {
    Timestamp::from_second(start.as_second())
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn key(window: &MaintenanceWindow) -> String {
    format!(
        "{}/{}",
        window.namespace().unwrap_or_default(),
        window.name_any()
    )
}

async fn apply(object: &MaintenanceWindow, ctx: &Context, now: Timestamp) -> Result<Action> {
    let current = object.status.clone().unwrap_or_default();
    let generation = object.metadata.generation;
    let mut next = current.clone();
    next.observed_generation = generation;

    if let Err(errors) = validation::validate_maintenance_window(&object.spec) {
        let message = format!("invalid spec: {}", validation::describe(&errors));
        next.phase = Some(WindowPhase::Invalid);
        next.message = Some(message.clone());
        set_condition(
            &mut next.conditions,
            READY,
            false,
            REASON_INVALID_SPEC,
            &message,
            generation,
        );
        set_condition(
            &mut next.conditions,
            STALLED,
            true,
            REASON_INVALID_SPEC,
            &message,
            generation,
        );
        // An open window whose spec became invalid stops holding the flag.
        if current.phase == Some(WindowPhase::Active) {
            turn_off(object, ctx, &mut next, now, None).await?;
        }
        write(
            ctx,
            object,
            &current,
            next,
            Some((EventType::Warning, REASON_INVALID_SPEC, message)),
        )
        .await?;
        return Ok(Action::await_change());
    }
    let schedule = Schedule::from_spec(&object.spec).map_err(Error::State)?;

    let open = if object.spec.suspend {
        None
    } else {
        schedule.open_at(now)
    };
    let was_on = current.phase == Some(WindowPhase::Active);
    match open {
        Some(window) => {
            let already =
                was_on && current.active_since.as_ref().map(|t| t.0) == Some(window.start);
            next.phase = Some(WindowPhase::Active);
            next.active_since = Some(Time(window.start));
            next.next_start = Some(Time(window.start));
            next.next_end = Some(Time(window.end));
            next.message = Some(format!("window open until {}", window.end));
            if !already {
                // Written ahead of the flag: an operator stopped between the two still finds
                // the window open in status when it returns, and turns the flag off at its end.
                status::apply(&ctx.client, object, &next).await?;
            }
            // An open window confirms the flag on every reconcile, so one whose flag change was
            // cut short (stopped operator, AWS error) completes it; a flag already on costs
            // two reads and no change.
            turn_on(object, ctx, &mut next, window, now, !already).await?;
        }
        None => {
            if was_on {
                let due = current.next_end.as_ref().map(|t| t.0);
                turn_off(object, ctx, &mut next, now, due).await?;
            }
            next.active_since = None;
            match (object.spec.suspend, schedule.next_after(now)) {
                (true, _) => {
                    next.phase = Some(WindowPhase::Suspended);
                    next.next_start = None;
                    next.next_end = None;
                    next.message = Some("suspended: no window opens".into());
                }
                (false, Some(upcoming)) => {
                    next.phase = Some(WindowPhase::Scheduled);
                    next.next_start = Some(Time(upcoming.start));
                    next.next_end = Some(Time(upcoming.end));
                    next.message = Some(format!(
                        "next window {} to {}",
                        upcoming.start, upcoming.end
                    ));
                }
                (false, None) => {
                    next.phase = Some(WindowPhase::Completed);
                    next.next_start = None;
                    next.next_end = None;
                    next.message = Some("the window has ended".into());
                }
            }
        }
    }
    ctx.metrics
        .set_flag_held(&key(object), next.phase == Some(WindowPhase::Active));

    let (reason, text) = match next.phase {
        Some(WindowPhase::Active) => (REASON_WINDOW_OPEN, "window open; flag held on"),
        Some(WindowPhase::Suspended) => (REASON_SUSPENDED, "suspended"),
        Some(WindowPhase::Completed) => (REASON_COMPLETED, "window ended"),
        _ => (REASON_SCHEDULED, "waiting for the next window"),
    };
    set_condition(&mut next.conditions, READY, true, reason, text, generation);
    set_condition(
        &mut next.conditions,
        STALLED,
        false,
        reason,
        text,
        generation,
    );
    write(ctx, object, &current, next.clone(), None).await?;

    let boundary = match next.phase {
        Some(WindowPhase::Active) => next.next_end.map(|t| t.0),
        Some(WindowPhase::Scheduled) => next.next_start.map(|t| t.0),
        _ => None,
    };
    Ok(match boundary {
        Some(at) => Action::requeue(until(at, now)),
        None => Action::await_change(),
    })
}

/// Time from `now` until `at`, a little after so the boundary has passed, at most an hour.
fn until(at: Timestamp, now: Timestamp) -> Duration {
    let wait = Duration::try_from(at.duration_since(now)).unwrap_or_default();
    (wait + Duration::from_millis(50)).min(MAX_REQUEUE)
}

async fn turn_on(
    object: &MaintenanceWindow,
    ctx: &Context,
    next: &mut MaintenanceWindowStatus,
    window: Window,
    now: Timestamp,
    opening: bool,
) -> Result<()> {
    let marker = format!("commandbridge window {} {} on", key(object), window.start);
    let message = object.spec.message.as_deref();
    let change = match ctx
        .adapters
        .flags
        .set(&object.spec.flag, true, message, &marker, true)
        .await
    {
        Ok(change) => change,
        Err(err) => return Err(flag_failed(object, ctx, next, err).await),
    };
    if !opening && !change.changed {
        return Ok(());
    }
    next.last_transition = Some(Time(now));
    let note = if change.changed {
        format!(
            "{} on for the window {} to {}",
            object.spec.flag.flag, window.start, window.end
        )
    } else {
        format!(
            "{} was already on; held for the window {} to {}",
            object.spec.flag.flag, window.start, window.end
        )
    };
    audit(
        ctx,
        object,
        &occurrence(window.start),
        "On",
        &note,
        change.request_id,
        now,
        Some(window.start),
    )
    .await;
    publish(ctx, object, EventType::Normal, "FlagOn", &note).await;
    tracing::info!(window = %key(object), flag = %object.spec.flag.flag, changed = change.changed, "window opened");
    Ok(())
}

async fn turn_off(
    object: &MaintenanceWindow,
    ctx: &Context,
    next: &mut MaintenanceWindowStatus,
    now: Timestamp,
    due: Option<Timestamp>,
) -> Result<()> {
    let started = object
        .status
        .as_ref()
        .and_then(|s| s.active_since.as_ref())
        .map(|t| occurrence(t.0))
        .unwrap_or_default();
    let exception = (object.namespace().unwrap_or_default(), object.name_any());
    let holder = window::holder_except(
        ctx,
        &object.spec.flag,
        now,
        Some(("MaintenanceWindow", &exception.0, &exception.1)),
    )
    .await?;
    let (note, request_id) = match holder {
        Some(holder) => (
            format!(
                "window closed; {} stays on, held by {holder}",
                object.spec.flag.flag
            ),
            None,
        ),
        None => {
            let marker = format!("commandbridge window {} {started} off", key(object));
            let change = match ctx
                .adapters
                .flags
                .set(&object.spec.flag, false, None, &marker, true)
                .await
            {
                Ok(change) => change,
                Err(err) => return Err(flag_failed(object, ctx, next, err).await),
            };
            (
                format!("window closed; {} off", object.spec.flag.flag),
                change.request_id,
            )
        }
    };
    next.last_transition = Some(Time(now));

    audit(ctx, object, &started, "Off", &note, request_id, now, due).await;
    publish(ctx, object, EventType::Normal, "FlagOff", &note).await;
    tracing::info!(window = %key(object), flag = %object.spec.flag.flag, "window closed");
    Ok(())
}

async fn flag_failed(
    object: &MaintenanceWindow,
    ctx: &Context,
    next: &mut MaintenanceWindowStatus,
    err: Error,
) -> Error {
    let message = format!("cannot change {}: {err}", object.spec.flag.flag);
    set_condition(
        &mut next.conditions,
        READY,
        false,
        REASON_FLAG_FAILED,
        &message,
        object.metadata.generation,
    );
    next.message = Some(message.clone());
    let current = object.status.clone().unwrap_or_default();
    let _ = write(
        ctx,
        object,
        &current,
        next.clone(),
        Some((EventType::Warning, REASON_FLAG_FAILED, message)),
    )
    .await;
    err
}

/// Deleting an open window turns the flag off unless something else holds it.
async fn cleanup(object: &MaintenanceWindow, ctx: &Context) -> Result<Action> {
    let current = object.status.clone().unwrap_or_default();
    if current.phase == Some(WindowPhase::Active) {
        let mut next = current.clone();
        turn_off(object, ctx, &mut next, Timestamp::now(), None).await?;
    }
    ctx.metrics.set_flag_held(&key(object), false);
    Ok(Action::await_change())
}

#[allow(clippy::too_many_arguments)]
async fn audit(
    ctx: &Context,
    object: &MaintenanceWindow,
    occurrence: &str,
    state: &str,
    note: &str,
    request_id: Option<String>,
    now: Timestamp,
    due: Option<Timestamp>,
) {
    let item = AuditItem {
        pk: format!("WINDOW#{}#{occurrence}", key(object)),
        sk: state.to_uppercase(),
        kind: "MaintenanceWindow".into(),
        resource: key(object),
        execution: None,
        step: None,
        state: state.into(),
        actor: format!(
            "MaintenanceWindow {} (generation {})",
            key(object),
            object.metadata.generation.unwrap_or_default()
        ),
        target: Some(object.spec.flag.key()),
        outcome: "Succeeded".into(),
        message: Some(note.into()),
        aws_request_id: request_id,
        at: now.to_string(),
        due_at: due.map(|d| d.to_string()),
    };
    if let Err(err) = ctx.adapters.audit.write(&item).await {
        // Limitation: a window's audit item that cannot be written is logged, not kept for a
        // later retry as FailoverPlan executions do.
        tracing::error!(window = %key(object), error = %err, pk = %item.pk, sk = %item.sk, "audit item not written");
    }
}

async fn write(
    ctx: &Context,
    object: &MaintenanceWindow,
    current: &MaintenanceWindowStatus,
    next: MaintenanceWindowStatus,
    event: Option<(EventType, &str, String)>,
) -> Result<()> {
    if &next == current {
        return Ok(());
    }
    status::apply(&ctx.client, object, &next).await?;
    if let Some((type_, reason, note)) = event {
        publish(ctx, object, type_, reason, &note).await;
    }
    Ok(())
}

async fn publish(
    ctx: &Context,
    object: &MaintenanceWindow,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note.chars().take(1000).collect()),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(err) = ctx.recorder.publish(&event, &object.object_ref(&())).await {
        tracing::debug!(error = %err, "event not recorded");
    }
}

use kube::Resource;
