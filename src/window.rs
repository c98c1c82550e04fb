//! Who holds the maintenance flag on. Computed from the resources themselves at the moment
//! of asking (open MaintenanceWindows, running executions), never from a counter that a
//! restart could lose.

use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use crate::context::Context;
use crate::crd::failover_plan::PlanPhase;
use crate::crd::{FailoverPlan, FlagTarget, MaintenanceWindow};
use crate::error::Result;
use crate::schedule::Schedule;

/// Whether `window` holds its flag on at `now`.
pub fn holds(window: &MaintenanceWindow, now: Timestamp) -> bool {
    if window.spec.suspend || window.metadata.deletion_timestamp.is_some() {
        return false;
    }
    if crate::validation::validate_maintenance_window(&window.spec).is_err() {
        return false;
    }
    Schedule::from_spec(&window.spec)
        .ok()
        .and_then(|s| s.open_at(now))
        .is_some()
}

/// The first resource, other than `except`, that holds `flag` on at `now`: an open window or
/// a plan whose execution turned the flag on and has not turned it off yet.
pub async fn holder_except(
    ctx: &Context,
    flag: &FlagTarget,
    now: Timestamp,
    except: Option<(&str, &str, &str)>,
) -> Result<Option<String>> {
    let key = flag.key();
    let is_except = |kind: &str, ns: &str, name: &str| except == Some((kind, ns, name));

    let windows: Api<MaintenanceWindow> = ctx.api();
    for window in windows.list(&ListParams::default()).await? {
        let ns = window.namespace().unwrap_or_default();
        if window.spec.flag.key() == key
            && !is_except("MaintenanceWindow", &ns, &window.name_any())
            && holds(&window, now)
        {
            return Ok(Some(format!(
                "MaintenanceWindow {ns}/{}",
                window.name_any()
            )));
        }
    }

    let plans: Api<FailoverPlan> = ctx.api();
    for plan in plans.list(&ListParams::default()).await? {
        let ns = plan.namespace().unwrap_or_default();
        if plan.spec.maintenance.target.key() != key
            || is_except("FailoverPlan", &ns, &plan.name_any())
        {
            continue;
        }
        let Some(status) = &plan.status else { continue };
        let executing = status.phase == Some(PlanPhase::Executing);
        let holding = status
            .steps
            .iter()
            .any(|s| s.name == "MaintenanceOn" && s.state == "Succeeded")
            && status
                .steps
                .iter()
                .any(|s| s.name == "MaintenanceOff" && s.state != "Succeeded");
        if executing && holding {
            return Ok(Some(format!(
                "FailoverPlan {ns}/{} (execution in progress)",
                plan.name_any()
            )));
        }
    }
    Ok(None)
}

/// The holder of `flag` other than FailoverPlans: used when an execution ends.
pub async fn holder_of(ctx: &Context, flag: &FlagTarget, now: Timestamp) -> Result<Option<String>> {
    let windows: Api<MaintenanceWindow> = ctx.api();
    let key = flag.key();
    for window in windows.list(&ListParams::default()).await? {
        if window.spec.flag.key() == key && holds(&window, now) {
            return Ok(Some(format!(
                "MaintenanceWindow {}/{}",
                window.namespace().unwrap_or_default(),
                window.name_any()
            )));
        }
    }
    Ok(None)
}
