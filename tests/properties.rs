//! Properties of the code that reads user input: validation of both specs, duration parsing,
//! cron, time zones and timestamps, and the windows a schedule opens. Inputs are hostile on
//! purpose (any Unicode, control characters, long strings); nothing here may panic.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use commandbridge_operator::crd::common::{FlagTarget, KNOWN_REGIONS, Region, parse_duration};
use commandbridge_operator::crd::failover_plan::{
    ApprovalSpec, DatabaseSpec, DatabaseTopology, DnsMethod, DnsSpec, FailoverMode,
    FailoverPlanSpec, PlanMaintenanceSpec, PreflightSpec, RecordName, RegionSpec,
};
use commandbridge_operator::crd::maintenance_window::MaintenanceWindowSpec;
use commandbridge_operator::schedule::{Schedule, parse_cron, parse_time_zone, parse_timestamp};
use commandbridge_operator::validation::{
    FieldError, validate_failover_plan, validate_maintenance_window,
};
use jiff::Timestamp;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::Config;

/// Modest case counts so that the file runs in seconds in a debug build; failures are not
/// persisted to disk (a failing case is printed, and pinned below as a plain test).
fn config() -> Config {
    Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Any text: every Unicode scalar value (control, format and right-to-left characters
/// included), shell and YAML punctuation, long runs, and plausible values.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        vec(any::<char>(), 0..24).prop_map(String::from_iter),
        "[a-zA-Z0-9 .:/*,_+-]{0,24}",
        "[\u{0}-\u{1f}\u{7f}-\u{9f}\u{200b}-\u{200f}\u{202a}-\u{202e}\u{1f680}-\u{1f6ff}]{0,8}",
        (any::<char>(), 0usize..2_000).prop_map(|(c, n)| c.to_string().repeat(n)),
        Just(String::new()),
    ]
}

fn region() -> impl Strategy<Value = Region> {
    prop_oneof![
        3 => proptest::sample::select(KNOWN_REGIONS).prop_map(Region::from),
        1 => text().prop_map(Region),
    ]
}

fn cluster_arn() -> impl Strategy<Value = String> {
    prop_oneof![
        (region(), "[0-9]{10,13}", "[a-zA-Z][a-zA-Z0-9-]{0,70}").prop_map(
            |(region, account, id)| format!("arn:aws:rds:{region}:{account}:cluster:{id}")
        ),
        text(),
    ]
}

/// Durations: plausible ones, negative ones, long runs of digits that the CRD's pattern still
/// accepts, a sign in the middle, and any text.
fn duration_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "-?[0-9]{1,6}(\\.[0-9]{1,3})?(ns|us|ms|s|m|h)",
        2 => "[0-9]{1,3}h[0-9]{1,3}m[0-9]{1,3}s",
        1 => "[0-9]{12,31}(ns|us|ms|s|m|h)",
        1 => "[0-9]{1,3}h-[0-9]{1,3}m",
        2 => text(),
    ]
}

fn region_spec() -> impl Strategy<Value = RegionSpec> {
    (region(), cluster_arn(), proptest::option::of(text())).prop_map(
        |(name, cluster_arn, set_identifier)| RegionSpec {
            name,
            cluster_arn,
            set_identifier,
        },
    )
}

fn flag_target() -> impl Strategy<Value = FlagTarget> {
    (
        text(),
        text(),
        text(),
        prop_oneof![Just("maintenance_mode".to_string()), text()],
        text(),
        proptest::option::of(region()),
    )
        .prop_map(
            |(application, environment, profile, flag, deployment_strategy, region)| FlagTarget {
                application,
                environment,
                profile,
                flag,
                deployment_strategy,
                region,
            },
        )
}

fn database_spec() -> impl Strategy<Value = DatabaseSpec> {
    (
        prop_oneof![
            Just(DatabaseTopology::GlobalCluster),
            Just(DatabaseTopology::ReadReplica)
        ],
        proptest::option::of(text()),
        duration_text(),
    )
        .prop_map(
            |(topology, global_cluster_identifier, max_replication_lag)| DatabaseSpec {
                topology,
                global_cluster_identifier,
                max_replication_lag,
            },
        )
}

fn dns_spec() -> impl Strategy<Value = DnsSpec> {
    let record_name = prop_oneof!["(\\*\\.)?([a-z0-9-]{1,12}\\.){1,4}[a-z]{2,6}\\.?", text(),];
    (
        prop_oneof!["Z[A-Z0-9]{5,20}", text()],
        prop_oneof![
            Just(DnsMethod::HealthCheckInversion),
            Just(DnsMethod::RecordUpsert)
        ],
        vec(record_name.prop_map(RecordName), 0..25),
    )
        .prop_map(|(hosted_zone_id, method, record_names)| DnsSpec {
            hosted_zone_id,
            method,
            record_names,
        })
}

fn failover_plan_spec() -> impl Strategy<Value = FailoverPlanSpec> {
    (
        region(),
        prop_oneof![Just(FailoverMode::Switchover), Just(FailoverMode::Failover)],
        any::<bool>(),
        vec(region_spec(), 0..4),
        database_spec(),
        dns_spec(),
        (flag_target(), proptest::option::of(text())),
        any::<(bool, bool)>(),
        duration_text(),
        duration_text(),
    )
        .prop_map(
            |(
                active_region,
                mode,
                allow_data_loss,
                regions,
                database,
                dns,
                (target, message),
                (required, dry_run),
                cooldown,
                interval,
            )| FailoverPlanSpec {
                active_region,
                mode,
                allow_data_loss,
                regions,
                database,
                dns,
                maintenance: PlanMaintenanceSpec { target, message },
                approval: ApprovalSpec { required },
                dry_run,
                cooldown,
                preflight: PreflightSpec { interval },
            },
        )
}

fn timestamp_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9](Z|[+-][0-9]{2}:[0-9]{2})",
        text(),
    ]
}

fn maintenance_window_spec() -> impl Strategy<Value = MaintenanceWindowSpec> {
    (
        proptest::option::of(prop_oneof![cron_text(), text()]),
        prop_oneof![
            proptest::sample::select(ZONES).prop_map(String::from),
            text()
        ],
        proptest::option::of(duration_text()),
        proptest::option::of(timestamp_text()),
        proptest::option::of(timestamp_text()),
        any::<bool>(),
        flag_target(),
        proptest::option::of(text()),
    )
        .prop_map(
            |(schedule, time_zone, duration, start, end, suspend, flag, message)| {
                MaintenanceWindowSpec {
                    schedule,
                    time_zone,
                    duration,
                    start,
                    end,
                    suspend,
                    flag,
                    message,
                }
            },
        )
}

/// A refusal names at least one field, every field is under `spec.`, and every message says
/// something.
fn assert_refusal_names_spec_fields(result: Result<(), Vec<FieldError>>) {
    if let Err(errors) = result {
        assert!(!errors.is_empty(), "an error without a field");
        for error in &errors {
            assert!(
                error.field.starts_with("spec."),
                "{error} does not name a spec field"
            );
            assert!(!error.message.trim().is_empty(), "{error} has no message");
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn failover_plan_validation_never_panics_and_names_spec_fields(
        spec in failover_plan_spec()
    ) {
        let result = validate_failover_plan(&spec);

        assert_refusal_names_spec_fields(result);
    }

    #[test]
    fn maintenance_window_validation_never_panics_and_names_spec_fields(
        spec in maintenance_window_spec()
    ) {
        let result = validate_maintenance_window(&spec);

        assert_refusal_names_spec_fields(result);
    }

    #[test]
    fn parse_duration_never_panics(text in duration_text()) {
        let outcome = catch_unwind(|| parse_duration(&text));

        prop_assert!(outcome.is_ok(), "parse_duration({text:?}) panicked");
    }

    #[test]
    fn parse_duration_never_panics_on_numbers_the_schema_pattern_allows(
        digits in "[0-9]{1,31}",
        unit in proptest::sample::select(&["ns", "us", "ms", "s", "m", "h"][..]),
    ) {
        let text = format!("{digits}{unit}");

        let outcome = catch_unwind(|| parse_duration(&text));

        prop_assert!(outcome.is_ok(), "parse_duration({text:?}) panicked");
    }

    #[test]
    fn whole_seconds_minutes_and_hours_round_trip(n in 0u64..10_000_000) {
        let seconds = parse_duration(&format!("{n}s"));
        let minutes = parse_duration(&format!("{n}m"));
        let hours = parse_duration(&format!("{n}h"));

        prop_assert_eq!(seconds, Ok(Duration::from_secs(n)));
        prop_assert_eq!(minutes, Ok(Duration::from_secs(n * 60)));
        prop_assert_eq!(hours, Ok(Duration::from_secs(n * 3600)));
    }

    #[test]
    fn negative_durations_are_refused(n in 1u64..10_000_000, unit in "(s|m|h)") {
        let result = parse_duration(&format!("-{n}{unit}"));

        prop_assert!(result.is_err());
    }

    #[test]
    fn parse_cron_never_panics(text in prop_oneof![cron_text(), text()]) {
        let outcome = catch_unwind(|| parse_cron(&text).map(|_| ()));

        prop_assert!(outcome.is_ok(), "parse_cron({text:?}) panicked");
    }

    #[test]
    fn parse_time_zone_never_panics(
        name in prop_oneof![text(), "[A-Z][a-z]{2,10}/[A-Z][a-z_]{2,12}", "Etc/GMT[+-][0-9]{1,3}"]
    ) {
        let outcome = catch_unwind(|| parse_time_zone(&name).map(|_| ()));

        prop_assert!(outcome.is_ok(), "parse_time_zone({name:?}) panicked");
    }

    #[test]
    fn parse_timestamp_never_panics(text in timestamp_text()) {
        let outcome = catch_unwind(|| parse_timestamp(&text).map(|_| ()));

        prop_assert!(outcome.is_ok(), "parse_timestamp({text:?}) panicked");
    }

}

proptest! {
    // Fewer cases: one search of an every-minute schedule with a long duration takes about a
    // second in a debug build.
    #![proptest_config(Config { cases: 64, ..config() })]

    #[test]
    fn open_window_contains_the_instant_and_next_window_starts_after_it(
        cron in cron_text(),
        zone in proptest::sample::select(ZONES),
        seconds in 1i64..=72 * 3600,
        at in instant(),
    ) {
        let spec = window_spec(&cron, zone, &format!("{seconds}s"));
        let schedule = Schedule::from_spec(&spec).expect("a valid schedule");

        let open = catch_unwind(AssertUnwindSafe(|| schedule.open_at(at)));
        let next = catch_unwind(AssertUnwindSafe(|| schedule.next_after(at)));

        let open = open.map_err(|_| TestCaseError::fail(format!("open_at({at}) panicked")))?;
        let next = next.map_err(|_| TestCaseError::fail(format!("next_after({at}) panicked")))?;
        if let Some(w) = open {
            prop_assert!(w.start <= at && at < w.end, "open_at({at}) = {w:?}");
        }
        if let Some(w) = next {
            prop_assert!(w.start > at, "next_after({at}) = {w:?}");
            prop_assert!(w.end > w.start, "next_after({at}) = {w:?}");
        }
    }
}

const ZONES: &[&str] = &[
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "UTC",
];

/// A valid five-field cron: random minute and hour fields (a value, `*`, a step, a list), any
/// day of the month and month, and any day of the week, a weekday or every weekday.
fn cron_text() -> impl Strategy<Value = String> {
    // Every-minute schedules are the slowest to search (up to a thousand merged occurrences,
    // each found by stepping through the previous three hours), so they are drawn less often.
    let minute = prop_oneof![
        6 => (0u32..60).prop_map(|m| m.to_string()),
        1 => Just("*".to_string()),
        2 => (1u32..60).prop_map(|s| format!("*/{s}")),
        2 => (0u32..60, 1u32..60).prop_map(|(a, s)| format!("{a}-59/{s}")),
    ];
    let hour = prop_oneof![
        (0u32..24).prop_map(|h| h.to_string()),
        Just("*".to_string()),
        (1u32..24).prop_map(|s| format!("*/{s}")),
        (0u32..24, 0u32..24).prop_map(|(a, b)| format!("{},{}", a.min(b), a.max(b))),
    ];
    let weekday = prop_oneof![
        Just("*".to_string()),
        (0u32..7).prop_map(|d| d.to_string()),
        Just("MON-FRI".to_string()),
    ];
    (minute, hour, weekday).prop_map(|(m, h, d)| format!("{m} {h} * * {d}"))
}

/// Any instant from 2020 to 2035.
fn instant() -> impl Strategy<Value = Timestamp> {
    let from = Timestamp::from_second(1_577_836_800).expect("2020-01-01");
    let to = Timestamp::from_second(2_082_758_400).expect("2036-01-01");
    (from.as_second()..to.as_second()).prop_map(|s| Timestamp::from_second(s).expect("in range"))
}

fn window_spec(cron: &str, zone: &str, duration: &str) -> MaintenanceWindowSpec {
    MaintenanceWindowSpec {
        schedule: Some(cron.to_string()),
        time_zone: zone.to_string(),
        duration: Some(duration.to_string()),
        start: None,
        end: None,
        suspend: false,
        flag: FlagTarget {
            application: "scotaccount".into(),
            environment: "production".into(),
            profile: "feature-flags".into(),
            flag: "maintenance_mode".into(),
            deployment_strategy: "commandbridge-immediate".into(),
            region: None,
        },
        message: None,
    }
}

/// Durations that match the CRD's pattern (so the API server accepts them) but do not fit in a
/// duration, and a sign in the middle (which `commandbridge-operator plan FILE` reads without
/// the schema): the operator must refuse them, not panic.
#[test]
fn overflowing_durations_are_refused_without_a_panic() {
    for text in [
        "99999999999999999999h",
        "6000000000000000h",
        "5000000000000000h5000000000000000h",
        "18446744073709551616s",
        "1h-5m",
    ] {
        let outcome = catch_unwind(|| parse_duration(text));

        assert!(
            matches!(outcome, Ok(Err(_))),
            "parse_duration({text:?}) must return an error: {outcome:?}"
        );
    }
}
