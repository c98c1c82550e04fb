//! `MaintenanceWindow`: when the maintenance flag is held on.
//!
//! A recurring window is a five-field cron schedule in an IANA time zone plus a duration; a
//! one-off window is a start and an end. The status says whether the window is open now and
//! when the next one opens and closes.

// The printer-column attributes repeat `type_ = "string"`, which this lint mistakes for a
// duplicated attribute.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{FlagTarget, nullable, optional_duration_schema};

/// Desired state of a MaintenanceWindow.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "ops.commandbridge.io",
    version = "v1alpha1",
    kind = "MaintenanceWindow",
    namespaced,
    status = "MaintenanceWindowStatus",
    shortname = "mw",
    category = "commandbridge",
    doc = "A recurring or one-off window during which the maintenance flag is held on.",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Next Window",
        type_ = "string",
        json_path = ".status.nextStart"
    ),
    printcolumn(
        name = "Schedule",
        type_ = "string",
        json_path = ".spec.schedule",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.schedule) != has(self.start)").message("give either spec.schedule (with spec.duration) or spec.start (with spec.end), not both and not neither"),
    validation = Rule::new("!has(self.schedule) || has(self.duration)").message("spec.duration is required with spec.schedule; write it like 2h or 90m"),
    validation = Rule::new("!has(self.start) || has(self.end)").message("spec.end is required with spec.start; give an RFC 3339 time after spec.start"),
    validation = Rule::new("!has(self.start) || !has(self.end) || timestamp(self.end) > timestamp(self.start)").message("spec.end must be after spec.start; swap them or fix the date"),
    validation = Rule::new("!has(self.start) || !has(self.duration)").message("spec.duration only applies to spec.schedule; a one-off window ends at spec.end"),
)]
pub struct MaintenanceWindowSpec {
    /// Five-field cron expression (minute hour day-of-month month day-of-week) at which each
    /// window opens, in `timeZone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 9, max = 128))]
    pub schedule: Option<String>,

    /// IANA time zone of the schedule, for example Europe/London.
    #[serde(default = "default_time_zone")]
    #[schemars(
        length(min = 1, max = 64),
        regex(pattern = r"^[A-Za-z][A-Za-z0-9_+/-]*$")
    )]
    pub time_zone: String,

    /// How long each scheduled window lasts, in real time (1s to 72h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "optional_duration_schema")]
    pub duration: Option<String>,

    /// Start of a one-off window (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), extend("format" = "date-time"))]
    pub start: Option<String>,

    /// End of a one-off window (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), extend("format" = "date-time"))]
    pub end: Option<String>,

    /// Stops new windows from opening and ends an open one.
    #[serde(default)]
    pub suspend: bool,

    /// The flag to hold on.
    pub flag: FlagTarget,

    /// Banner text written to the flag's `message` attribute while the window is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub message: Option<String>,
}

fn default_time_zone() -> String {
    "UTC".to_string()
}

/// Longest window a spec may ask for.
pub const MAX_WINDOW: std::time::Duration = std::time::Duration::from_secs(72 * 3600);
/// Shortest window a spec may ask for.
pub const MIN_WINDOW: std::time::Duration = std::time::Duration::from_secs(1);

/// Observed state of a MaintenanceWindow.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceWindowStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "nullable::<WindowPhase>")]
    pub phase: Option<WindowPhase>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_start: Option<Time>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_end: Option<Time>,

    /// When the open window opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_since: Option<Time>,

    /// When the operator last turned the flag on or off for this window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition: Option<Time>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,

    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum WindowPhase {
    Scheduled,
    Active,
    Completed,
    Suspended,
    Invalid,
}
