//! Types shared by `FailoverPlan` and `MaintenanceWindow`: AWS regions, the AppConfig feature
//! flag both kinds drive, duration strings, and the condition types and reasons they report.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// AWS regions a plan may name. A closed list, so that a typo (`eu-west-3` for `eu-west-2` is
/// fine, `eu-wset-2` is not) is refused by the API server instead of failing at 3 a.m.
pub const KNOWN_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

/// An AWS region name such as `eu-west-2`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(transparent)]
pub struct Region(pub String);

impl Region {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_known(&self) -> bool {
        KNOWN_REGIONS.contains(&self.0.as_str())
    }
}

impl std::fmt::Display for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Region {
    fn from(s: &str) -> Self {
        Region(s.to_string())
    }
}

impl JsonSchema for Region {
    fn schema_name() -> Cow<'static, str> {
        "Region".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "AWS region name, for example eu-west-2.",
            "enum": KNOWN_REGIONS,
        })
    }
}

/// Schema of an optional enum: `nullable` instead of a `null` member of the enum, which
/// API servers refuse in a structural schema.
pub fn nullable<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = T::json_schema(generator);
    schema.insert("nullable".into(), true.into());
    schema
}

/// Schema of a duration string in the Kubernetes (Go) notation: `90s`, `15m`, `1h30m`.
pub fn duration_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "pattern": DURATION_PATTERN,
        "maxLength": 32,
    })
}

/// The same as [`duration_schema`] for an optional field.
pub fn optional_duration_schema(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = duration_schema(generator);
    schema.insert("nullable".into(), true.into());
    schema
}

pub const DURATION_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$";

/// Parses a duration string (`15m`, `1h30m`) into a std duration; negative values are refused.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    check_duration_bounds(text)?;
    let parsed: kube::core::Duration = text.parse().map_err(|e| {
        format!("{text:?} is not a duration ({e}); write it like 90s, 15m or 1h30m")
    })?;
    if parsed.is_negative() {
        return Err(format!("{text:?} is negative; durations must be positive"));
    }
    Ok(parsed.into())
}

/// Longest duration the parser is handed (about 31,000 years); fields check their own ranges.
const MAX_DURATION_SECS: f64 = 1e12;

/// Refuses what would overflow the duration parser (it panics on huge values and on a sign
/// after the first character) before handing the text to it.
fn check_duration_bounds(text: &str) -> Result<(), String> {
    let short: String = text.chars().take(40).collect();
    if text.len() > 64 {
        return Err(format!(
            "{short:?}... is too long for a duration; write it like 90s, 15m or 1h30m"
        ));
    }
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    if body.contains(['-', '+']) {
        return Err(format!(
            "{short:?} has a sign inside; write it like 90s, 15m or 1h30m"
        ));
    }
    let mut total = 0.0_f64;
    let mut number = String::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(&next) = chars.peek() {
            if next.is_ascii_digit() || next == '.' {
                break;
            }
            unit.push(next);
            chars.next();
        }
        let seconds_per_unit = match unit.as_str() {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => continue,
        };
        total += number.parse::<f64>().unwrap_or(0.0) * seconds_per_unit;
        number.clear();
    }
    if !total.is_finite() || total > MAX_DURATION_SECS {
        return Err(format!(
            "{short:?} is far too long; durations here are at most days"
        ));
    }
    Ok(())
}

/// The AppConfig feature flag that puts the platform into maintenance mode, and how to deploy a
/// change of it. Both kinds name it the same way, so the operator can tell when several
/// resources hold the same flag on.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlagTarget {
    /// AppConfig application, by id or name.
    #[schemars(length(min = 1, max = 128))]
    pub application: String,

    /// AppConfig environment, by id or name.
    #[schemars(length(min = 1, max = 128))]
    pub environment: String,

    /// Feature-flag configuration profile (type AWS.AppConfig.FeatureFlags), by id or name.
    #[schemars(length(min = 1, max = 128))]
    pub profile: String,

    /// Flag key inside the profile.
    #[serde(default = "default_flag")]
    #[schemars(
        length(min = 1, max = 64),
        regex(pattern = r"^[A-Za-z][A-Za-z0-9_-]*$")
    )]
    pub flag: String,

    /// Deployment strategy used for every change of the flag, by id or name.
    #[schemars(length(min = 1, max = 128))]
    pub deployment_strategy: String,

    /// AWS region of the AppConfig application. Defaults to the operator's own region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "nullable::<Region>")]
    pub region: Option<Region>,
}

fn default_flag() -> String {
    "maintenance_mode".to_string()
}

impl FlagTarget {
    /// A key that is equal for every resource driving the same flag.
    pub fn key(&self) -> String {
        format!(
            "{}/{}/{}/{}/{}",
            self.region.as_ref().map(Region::as_str).unwrap_or(""),
            self.application,
            self.environment,
            self.profile,
            self.flag
        )
    }
}

/// Condition types and reasons. Reasons are constants so that alerts and dashboards can match
/// them exactly.
pub mod conditions {
    pub const READY: &str = "Ready";
    pub const RECONCILING: &str = "Reconciling";
    pub const STALLED: &str = "Stalled";
    pub const STANDBY_READY: &str = "StandbyReady";

    pub const REASON_INVALID_SPEC: &str = "InvalidSpec";
    pub const REASON_CONVERGED: &str = "Converged";
    pub const REASON_EXECUTING: &str = "Executing";
    pub const REASON_EXECUTION_FAILED: &str = "ExecutionFailed";
    pub const REASON_AWAITING_APPROVAL: &str = "AwaitingApproval";
    pub const REASON_COOLING_DOWN: &str = "CoolingDown";
    pub const REASON_LOCKED: &str = "LockHeldElsewhere";
    pub const REASON_DRY_RUN: &str = "DryRun";
    pub const REASON_OBSERVE_FAILED: &str = "ObserveFailed";
    pub const REASON_FAILBACK_REFUSED: &str = "FailbackRefused";
    pub const REASON_CHECKS_PASSED: &str = "ChecksPassed";
    pub const REASON_CHECK_FAILED: &str = "CheckFailed";
    pub const REASON_SCHEDULED: &str = "Scheduled";
    pub const REASON_WINDOW_OPEN: &str = "WindowOpen";
    pub const REASON_SUSPENDED: &str = "Suspended";
    pub const REASON_COMPLETED: &str = "Completed";
    pub const REASON_FLAG_FAILED: &str = "FlagChangeFailed";
}
