//! Validation of specs beyond what the schema enforces.
//!
//! The CRDs carry the cross-field rules as CEL (`x-kubernetes-validations`), but API servers
//! before 1.25 drop those rules silently, and some checks (cron syntax, time zones, duration
//! ranges) cannot be written in the schema at all. The controller runs these functions before
//! anything else and marks an invalid resource `Stalled` with every error found. Each error
//! names the field and says how to fix it.

use std::fmt;

use crate::crd::FlagTarget;
use crate::crd::common::{Region, parse_duration};
use crate::crd::failover_plan::{DatabaseTopology, FailoverMode, FailoverPlanSpec};
use crate::crd::maintenance_window::{MAX_WINDOW, MIN_WINDOW, MaintenanceWindowSpec};

/// One problem in a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// JSON path of the field, for example `spec.regions[1].clusterArn`.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// All problems of one spec, joined for a status message.
pub fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    fn into_result(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

/// Longest cooldown a plan may ask for; longer would block an emergency failover for days.
const MAX_COOLDOWN: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
/// Shortest interval between standby checks, to keep AWS read calls low.
const MIN_PREFLIGHT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// Checks a FailoverPlan spec.
pub fn validate_failover_plan(spec: &FailoverPlanSpec) -> Result<(), Vec<FieldError>> {
    let mut errors = Errors::default();

    check_region(&mut errors, "spec.activeRegion", &spec.active_region);
    if spec.regions.len() != 2 {
        errors.push(
            "spec.regions",
            format!(
                "exactly two regions are needed, found {}; list the primary and the standby",
                spec.regions.len()
            ),
        );
    }
    for (i, region) in spec.regions.iter().enumerate() {
        check_region(
            &mut errors,
            &format!("spec.regions[{i}].name"),
            &region.name,
        );
        check_cluster_arn(
            &mut errors,
            &format!("spec.regions[{i}].clusterArn"),
            &region.cluster_arn,
            &region.name,
        );
        if let Some(id) = &region.set_identifier {
            check_text(
                &mut errors,
                &format!("spec.regions[{i}].setIdentifier"),
                id,
                128,
            );
        }
    }
    if let [a, b] = spec.regions.as_slice() {
        if a.name == b.name {
            errors.push(
                "spec.regions",
                "the two regions must differ; change one of them",
            );
        }
        if a.set_identifier() == b.set_identifier() {
            errors.push(
                "spec.regions[1].setIdentifier",
                "the two regions need different Route 53 set identifiers",
            );
        }
    }
    if !spec.regions.iter().any(|r| r.name == spec.active_region) {
        errors.push(
            "spec.activeRegion",
            format!(
                "{} is not one of spec.regions; add it to spec.regions or fix the name",
                spec.active_region
            ),
        );
    }

    if spec.allow_data_loss && spec.mode != FailoverMode::Failover {
        errors.push("spec.allowDataLoss", "allowDataLoss: true is only allowed with mode: Failover; remove it or set mode: Failover");
    }
    match spec.database.topology {
        DatabaseTopology::GlobalCluster => match &spec.database.global_cluster_identifier {
            None => errors.push(
                "spec.database.globalClusterIdentifier",
                "required when topology is GlobalCluster; name the Aurora global cluster",
            ),
            Some(id) => check_identifier(&mut errors, "spec.database.globalClusterIdentifier", id),
        },
        DatabaseTopology::ReadReplica => {
            if spec.allow_data_loss {
                errors.push(
                    "spec.allowDataLoss",
                    "has no meaning for topology ReadReplica; remove it",
                );
            }
        }
    }

    check_duration(
        &mut errors,
        "spec.cooldown",
        &spec.cooldown,
        std::time::Duration::ZERO,
        MAX_COOLDOWN,
    );
    check_duration(
        &mut errors,
        "spec.database.maxReplicationLag",
        &spec.database.max_replication_lag,
        std::time::Duration::ZERO,
        std::time::Duration::from_secs(3600),
    );
    check_duration(
        &mut errors,
        "spec.preflight.interval",
        &spec.preflight.interval,
        MIN_PREFLIGHT_INTERVAL,
        std::time::Duration::from_secs(24 * 3600),
    );

    if spec.dns.hosted_zone_id.is_empty()
        || spec.dns.hosted_zone_id.len() > 32
        || !spec
            .dns
            .hosted_zone_id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        errors.push("spec.dns.hostedZoneId", "must be a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ (no /hostedzone/ prefix)");
    }
    if spec.dns.record_names.is_empty() {
        errors.push(
            "spec.dns.recordNames",
            "list at least one record name that carries traffic",
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, name) in spec.dns.record_names.iter().enumerate() {
        let field = format!("spec.dns.recordNames[{i}]");
        if !is_dns_name(&name.0) {
            errors.push(
                &field,
                format!(
                    "{:?} is not a DNS name; write it like portal.example.com",
                    truncate(&name.0)
                ),
            );
        } else if !seen.insert(name.fqdn()) {
            errors.push(&field, "is listed twice; remove the duplicate");
        }
    }

    check_flag_target(&mut errors, "spec.maintenance", &spec.maintenance.target);
    if let Some(message) = &spec.maintenance.message {
        check_text(&mut errors, "spec.maintenance.message", message, 1024);
    }

    errors.into_result()
}

/// Checks a MaintenanceWindow spec.
pub fn validate_maintenance_window(spec: &MaintenanceWindowSpec) -> Result<(), Vec<FieldError>> {
    let mut errors = Errors::default();

    match (&spec.schedule, &spec.start) {
        (Some(_), Some(_)) => errors.push(
            "spec.schedule",
            "give either spec.schedule (with spec.duration) or spec.start (with spec.end), not both",
        ),
        (None, None) => errors.push(
            "spec.schedule",
            "give either spec.schedule (with spec.duration) or spec.start (with spec.end)",
        ),
        _ => {}
    }

    if let Some(schedule) = &spec.schedule {
        if let Err(message) = crate::schedule::parse_cron(schedule) {
            errors.push("spec.schedule", message);
        }
        match &spec.duration {
            None => errors.push(
                "spec.duration",
                "required with spec.schedule; write it like 2h or 90m",
            ),
            Some(text) => {
                check_duration(&mut errors, "spec.duration", text, MIN_WINDOW, MAX_WINDOW)
            }
        }
    } else if spec.duration.is_some() {
        errors.push(
            "spec.duration",
            "only applies to spec.schedule; a one-off window ends at spec.end",
        );
    }

    if let Err(message) = crate::schedule::parse_time_zone(&spec.time_zone) {
        errors.push("spec.timeZone", message);
    }

    if let Some(start_text) = &spec.start {
        let start = crate::schedule::parse_timestamp(start_text);
        if let Err(message) = &start {
            errors.push("spec.start", message.clone());
        }
        match &spec.end {
            None => errors.push(
                "spec.end",
                "required with spec.start; give an RFC 3339 time after spec.start",
            ),
            Some(end_text) => match (start, crate::schedule::parse_timestamp(end_text)) {
                (_, Err(message)) => errors.push("spec.end", message),
                (Ok(start), Ok(end)) => {
                    let length = end.duration_since(start);
                    if length <= jiff::SignedDuration::ZERO {
                        errors.push(
                            "spec.end",
                            "must be after spec.start; swap them or fix the date",
                        );
                    } else if length.as_secs() < MIN_WINDOW.as_secs() as i64
                        || length.as_secs() > MAX_WINDOW.as_secs() as i64
                    {
                        errors.push(
                            "spec.end",
                            format!("the window must last between 1s and 72h, not {}s; split longer work into several windows", length.as_secs()),
                        );
                    }
                }
                (Err(_), Ok(_)) => {}
            },
        }
    } else if spec.end.is_some() {
        errors.push(
            "spec.end",
            "only applies with spec.start; remove it or add spec.start",
        );
    }

    check_flag_target(&mut errors, "spec.flag", &spec.flag);
    if let Some(message) = &spec.message {
        check_text(&mut errors, "spec.message", message, 1024);
    }

    errors.into_result()
}

fn check_region(errors: &mut Errors, field: &str, region: &Region) {
    if !region.is_known() {
        errors.push(
            field,
            format!(
                "{:?} is not an AWS region this operator knows; use a name such as eu-west-2",
                truncate(region.as_str())
            ),
        );
    }
}

fn check_cluster_arn(errors: &mut Errors, field: &str, arn: &str, region: &Region) {
    let parts: Vec<&str> = arn.split(':').collect();
    let well_formed = parts.len() == 7
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "rds"
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5] == "cluster"
        && is_identifier(parts[6]);
    if !well_formed {
        errors.push(field, format!("{:?} is not an Aurora DB cluster ARN; write it like arn:aws:rds:eu-west-2:123456789012:cluster:my-cluster", truncate(arn)));
    } else if parts[3] != region.as_str() {
        errors.push(field, format!("the cluster is in {} but is listed under region {region}; fix the ARN or the region name", parts[3]));
    }
}

fn check_identifier(errors: &mut Errors, field: &str, id: &str) {
    if !is_identifier(id) {
        errors.push(
            field,
            "must start with a letter and hold only letters, digits and hyphens (at most 63)",
        );
    }
}

fn is_identifier(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 63
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn is_dns_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    let name = name.strip_prefix("*.").unwrap_or(name);
    name.len() <= 253
        && name.contains('.')
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn check_flag_target(errors: &mut Errors, field: &str, target: &FlagTarget) {
    for (name, value) in [
        ("application", &target.application),
        ("environment", &target.environment),
        ("profile", &target.profile),
        ("deploymentStrategy", &target.deployment_strategy),
    ] {
        if value.trim().chars().all(is_invisible) {
            errors.push(
                format!("{field}.{name}"),
                "must name the AppConfig resource by id or name",
            );
        } else {
            check_text(errors, &format!("{field}.{name}"), value, 128);
        }
    }
    let flag_ok = !target.flag.is_empty()
        && target.flag.len() <= 64
        && target.flag.starts_with(|c: char| c.is_ascii_alphabetic())
        && target
            .flag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !flag_ok {
        errors.push(
            format!("{field}.flag"),
            "must be a feature flag key such as maintenance_mode",
        );
    }
}

fn check_text(errors: &mut Errors, field: &str, value: &str, max: usize) {
    if value.chars().count() > max.max(1) {
        errors.push(
            field,
            format!("is longer than {max} characters; shorten it"),
        );
    } else if value.chars().any(char::is_control) {
        errors.push(field, "contains control characters; remove them");
    } else if value.chars().any(is_invisible) {
        errors.push(
            field,
            "contains invisible or direction-changing characters; remove them",
        );
    }
}

/// Zero-width and bidirectional formatting characters: they make a name look like another.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

fn check_duration(
    errors: &mut Errors,
    field: &str,
    text: &str,
    min: std::time::Duration,
    max: std::time::Duration,
) {
    match parse_duration(text) {
        Err(message) => errors.push(field, message),
        Ok(value) if value < min || value > max => errors.push(
            field,
            format!(
                "{text} is out of range; use a value from {} to {}",
                humanize(min),
                humanize(max)
            ),
        ),
        Ok(_) => {}
    }
}

fn humanize(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        "0s".into()
    } else if secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// Keeps hostile input out of messages: at most 64 characters of it.
fn truncate(text: &str) -> String {
    if text.chars().count() <= 64 {
        text.to_string()
    } else {
        format!("{}...", text.chars().take(64).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{FailoverPlan, MaintenanceWindow};

    fn plan() -> FailoverPlanSpec {
        let plan: FailoverPlan =
            serde_saphyr::from_str(include_str!("../examples/failoverplan.yaml"))
                .expect("example parses");
        plan.spec
    }

    fn window() -> MaintenanceWindowSpec {
        let window: MaintenanceWindow =
            serde_saphyr::from_str(include_str!("../examples/maintenancewindow.yaml"))
                .expect("example parses");
        window.spec
    }

    fn one_off() -> MaintenanceWindowSpec {
        let window: MaintenanceWindow =
            serde_saphyr::from_str(include_str!("../examples/maintenancewindow-oneoff.yaml"))
                .expect("example parses");
        window.spec
    }

    /// Asserts that validation fails with an error on `field` whose message contains `hint`.
    fn assert_error(result: Result<(), Vec<FieldError>>, field: &str, hint: &str) {
        let errors = result.expect_err("spec should be refused");
        assert!(
            errors
                .iter()
                .any(|e| e.field == field && e.message.contains(hint)),
            "expected an error on {field} mentioning {hint:?}, got: {}",
            describe(&errors)
        );
    }

    #[test]
    fn example_manifests_are_valid() {
        assert_eq!(validate_failover_plan(&plan()), Ok(()));
        assert_eq!(validate_maintenance_window(&window()), Ok(()));
        assert_eq!(validate_maintenance_window(&one_off()), Ok(()));
    }

    #[test]
    fn active_region_must_be_one_of_the_regions() {
        let mut spec = plan();

        spec.active_region = "eu-central-1".into();

        assert_error(
            validate_failover_plan(&spec),
            "spec.activeRegion",
            "add it to spec.regions",
        );
    }

    #[test]
    fn the_two_regions_must_differ() {
        let mut spec = plan();

        spec.regions[1] = spec.regions[0].clone();

        assert_error(validate_failover_plan(&spec), "spec.regions", "must differ");
    }

    #[test]
    fn exactly_two_regions_are_needed() {
        let mut spec = plan();

        spec.regions.truncate(1);

        assert_error(
            validate_failover_plan(&spec),
            "spec.regions",
            "exactly two regions",
        );
    }

    #[test]
    fn unknown_region_names_are_refused() {
        let mut spec = plan();

        spec.regions[1].name = "eu-wset-1".into();

        assert_error(
            validate_failover_plan(&spec),
            "spec.regions[1].name",
            "such as eu-west-2",
        );
    }

    #[test]
    fn data_loss_needs_failover_mode() {
        let mut spec = plan();

        spec.allow_data_loss = true;

        assert_error(
            validate_failover_plan(&spec),
            "spec.allowDataLoss",
            "mode: Failover",
        );
        spec.mode = FailoverMode::Failover;
        assert_eq!(validate_failover_plan(&spec), Ok(()));
    }

    #[test]
    fn data_loss_has_no_meaning_for_a_read_replica() {
        let mut spec = plan();

        spec.mode = FailoverMode::Failover;
        spec.allow_data_loss = true;
        spec.database.topology = DatabaseTopology::ReadReplica;

        assert_error(
            validate_failover_plan(&spec),
            "spec.allowDataLoss",
            "ReadReplica",
        );
    }

    #[test]
    fn global_cluster_topology_needs_its_identifier() {
        let mut spec = plan();

        spec.database.global_cluster_identifier = None;

        assert_error(
            validate_failover_plan(&spec),
            "spec.database.globalClusterIdentifier",
            "name the Aurora global cluster",
        );
    }

    #[test]
    fn cluster_arn_must_be_an_aurora_cluster_arn() {
        let mut spec = plan();

        spec.regions[0].cluster_arn = "arn:aws:s3:::bucket".into();

        assert_error(
            validate_failover_plan(&spec),
            "spec.regions[0].clusterArn",
            "write it like arn:aws:rds:",
        );
    }

    #[test]
    fn cluster_arn_must_be_in_its_region() {
        let mut spec = plan();

        spec.regions[0].cluster_arn =
            "arn:aws:rds:eu-west-1:123456789012:cluster:scotaccount-euw2".into();

        assert_error(
            validate_failover_plan(&spec),
            "spec.regions[0].clusterArn",
            "fix the ARN or the region name",
        );
    }

    #[test]
    fn durations_must_parse_and_be_in_range() {
        let mut spec = plan();

        spec.cooldown = "ten minutes".into();
        spec.preflight.interval = "1s".into();
        spec.database.max_replication_lag = "-5s".into();

        let errors = validate_failover_plan(&spec).expect_err("refused");
        assert!(
            errors
                .iter()
                .any(|e| e.field == "spec.cooldown" && e.message.contains("15m")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.field == "spec.preflight.interval" && e.message.contains("from 10s")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.field == "spec.database.maxReplicationLag"),
            "{errors:?}"
        );
    }

    #[test]
    fn cooldown_longer_than_a_day_is_refused() {
        let mut spec = plan();

        spec.cooldown = "48h".into();

        assert_error(
            validate_failover_plan(&spec),
            "spec.cooldown",
            "from 0s to 24h",
        );
    }

    #[test]
    fn record_names_must_be_dns_names_and_unique() {
        let mut spec = plan();

        spec.dns.record_names[0].0 = "not a name".into();
        spec.dns.record_names.push(spec.dns.record_names[1].clone());

        let errors = validate_failover_plan(&spec).expect_err("refused");
        assert!(
            errors
                .iter()
                .any(|e| e.field == "spec.dns.recordNames[0]" && e.message.contains("DNS name"))
        );
        assert!(
            errors
                .iter()
                .any(|e| e.field == "spec.dns.recordNames[2]" && e.message.contains("twice"))
        );
    }

    #[test]
    fn hosted_zone_id_must_not_carry_the_path_prefix() {
        let mut spec = plan();

        spec.dns.hosted_zone_id = "/hostedzone/Z123".into();

        assert_error(
            validate_failover_plan(&spec),
            "spec.dns.hostedZoneId",
            "no /hostedzone/ prefix",
        );
    }

    #[test]
    fn flag_target_fields_must_be_filled() {
        let mut spec = plan();

        spec.maintenance.target.application = " ".into();
        spec.maintenance.target.flag = "9lives".into();

        let errors = validate_failover_plan(&spec).expect_err("refused");
        assert!(
            errors
                .iter()
                .any(|e| e.field == "spec.maintenance.application")
        );
        assert!(errors.iter().any(|e| e.field == "spec.maintenance.flag"));
    }

    #[test]
    fn hostile_text_is_truncated_in_messages() {
        let mut spec = plan();

        spec.regions[0].cluster_arn = "x".repeat(10_000);

        let errors = validate_failover_plan(&spec).expect_err("refused");
        assert!(errors.iter().all(|e| e.message.len() < 400), "{errors:?}");
    }

    #[test]
    fn window_needs_exactly_one_form() {
        let mut both = window();
        both.start = Some("2026-12-13T01:00:00Z".into());
        both.end = Some("2026-12-13T03:00:00Z".into());
        let mut neither = window();
        neither.schedule = None;
        neither.duration = None;

        assert_error(
            validate_maintenance_window(&both),
            "spec.schedule",
            "not both",
        );
        assert_error(
            validate_maintenance_window(&neither),
            "spec.schedule",
            "give either",
        );
    }

    #[test]
    fn window_cron_must_have_five_valid_fields() {
        let mut four = window();
        four.schedule = Some("0 2 * *".into());
        let mut bad = window();
        bad.schedule = Some("0 25 * * *".into());

        assert_error(
            validate_maintenance_window(&four),
            "spec.schedule",
            "has 4 fields",
        );
        assert_error(
            validate_maintenance_window(&bad),
            "spec.schedule",
            "not a cron expression",
        );
    }

    #[test]
    fn window_time_zone_must_be_iana() {
        let mut spec = window();

        spec.time_zone = "Europe/Edinburgh_Typo".into();

        assert_error(
            validate_maintenance_window(&spec),
            "spec.timeZone",
            "Europe/London",
        );
    }

    #[test]
    fn window_duration_must_be_between_a_second_and_three_days() {
        for (text, hint) in [
            ("0s", "out of range"),
            ("500ms", "out of range"),
            ("73h", "out of range"),
            ("-1h", "negative"),
            ("2 hours", "not a duration"),
        ] {
            let mut spec = window();

            spec.duration = Some(text.into());

            let result = validate_maintenance_window(&spec);
            assert!(result.is_err(), "{text} should be refused");
            assert_error(result, "spec.duration", hint);
        }
    }

    #[test]
    fn window_duration_is_required_with_a_schedule() {
        let mut spec = window();

        spec.duration = None;

        assert_error(
            validate_maintenance_window(&spec),
            "spec.duration",
            "required with spec.schedule",
        );
    }

    #[test]
    fn one_off_window_end_must_follow_start() {
        let mut spec = one_off();

        spec.end = Some("2026-12-13T00:00:00Z".into());

        assert_error(
            validate_maintenance_window(&spec),
            "spec.end",
            "must be after spec.start",
        );
    }

    #[test]
    fn one_off_window_times_must_be_rfc3339() {
        let mut spec = one_off();

        spec.start = Some("13/12/2026 01:00".into());

        assert_error(validate_maintenance_window(&spec), "spec.start", "RFC 3339");
    }

    #[test]
    fn one_off_window_is_at_most_three_days() {
        let mut spec = one_off();

        spec.end = Some("2026-12-20T03:00:00Z".into());

        assert_error(
            validate_maintenance_window(&spec),
            "spec.end",
            "split longer work",
        );
    }

    #[test]
    fn invisible_characters_are_refused_in_names_and_messages() {
        let mut spec = plan();

        spec.maintenance.target.application = "\u{200B}".into();
        spec.maintenance.message = Some("back soon\u{202E}".into());

        let errors = validate_failover_plan(&spec).expect_err("refused");
        assert!(
            errors
                .iter()
                .any(|e| e.field == "spec.maintenance.application"
                    && e.message.contains("by id or name"))
        );
        assert!(
            errors
                .iter()
                .any(|e| e.field == "spec.maintenance.message" && e.message.contains("invisible"))
        );
    }

    #[test]
    fn durations_too_large_for_the_parser_are_refused_not_panicked_on() {
        let mut spec = plan();

        spec.database.max_replication_lag = "99999999999999999999h".into();
        spec.cooldown = "1h-5m".into();

        let errors = validate_failover_plan(&spec).expect_err("refused");
        assert!(
            errors
                .iter()
                .any(|e| e.field == "spec.database.maxReplicationLag"
                    && e.message.contains("far too long"))
        );
        assert!(
            errors
                .iter()
                .any(|e| e.field == "spec.cooldown" && e.message.contains("sign inside"))
        );
    }
}
