//! Maintenance-window time arithmetic: cron schedules in IANA time zones, one-off windows,
//! and the next boundary at which the flag must change. Pure functions of a spec and an
//! instant, so that every rule is unit-tested with an injected clock.

use std::str::FromStr;

use croner::Cron;
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Parses a five-field cron expression (minute hour day-of-month month day-of-week).
pub fn parse_cron(text: &str) -> Result<Cron, String> {
    let fields = text.split_whitespace().count();
    if fields != 5 {
        return Err(format!(
            "{:?} has {fields} fields; write five: minute hour day-of-month month day-of-week, for example \"0 2 * * SUN\"",
            short(text)
        ));
    }
    Cron::from_str(text).map_err(|e| {
        format!(
            "{:?} is not a cron expression ({e}); write five fields, for example \"0 2 * * SUN\"",
            short(text)
        )
    })
}

/// Looks up an IANA time zone name such as `Europe/London`.
pub fn parse_time_zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name).map_err(|_| {
        format!(
            "{:?} is not an IANA time zone; use a name such as Europe/London or UTC",
            short(name)
        )
    })
}

/// Parses an RFC 3339 instant such as `2026-12-24T22:00:00Z`.
pub fn parse_timestamp(text: &str) -> Result<Timestamp, String> {
    Timestamp::from_str(text).map_err(|_| {
        format!("{:?} is not an RFC 3339 time; write it like 2026-12-24T22:00:00Z or 2026-12-24T22:00:00+00:00", short(text))
    })
}

fn short(text: &str) -> String {
    if text.chars().count() <= 64 {
        text.to_string()
    } else {
        format!("{}...", text.chars().take(64).collect::<String>())
    }
}

/// One open period of a window: from `start` (inclusive) to `end` (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// A parsed schedule.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Windows open at each cron match in `tz` and last `duration` of real time.
    Recurring {
        cron: Box<Cron>,
        tz: TimeZone,
        duration: jiff::SignedDuration,
    },
    OneOff(Window),
}

/// Most occurrences merged into one window; a schedule whose windows overlap without end
/// (every minute, lasting an hour) is treated as open until the last of them.
// Limitation: each occurrence is searched from three hours back (for clock changes), so an
// every-minute schedule costs a few hundred cron steps per occurrence; merging stops here.
const MAX_MERGED: usize = 200;

/// More than the largest daylight-saving shift of any time zone.
const DST_LOOKBACK: jiff::SignedDuration = jiff::SignedDuration::from_hours(3);

impl Schedule {
    pub fn from_spec(spec: &crate::crd::MaintenanceWindowSpec) -> Result<Schedule, String> {
        if let (Some(start), Some(end)) = (&spec.start, &spec.end) {
            return Ok(Schedule::OneOff(Window {
                start: parse_timestamp(start)?,
                end: parse_timestamp(end)?,
            }));
        }
        let (Some(cron), Some(duration)) = (&spec.schedule, &spec.duration) else {
            return Err(
                "give either spec.schedule with spec.duration, or spec.start with spec.end".into(),
            );
        };
        let duration = crate::crd::common::parse_duration(duration)?;
        let duration = jiff::SignedDuration::try_from(duration).map_err(|e| e.to_string())?;
        Ok(Schedule::Recurring {
            cron: Box::new(parse_cron(cron)?),
            tz: parse_time_zone(&spec.time_zone)?,
            duration,
        })
    }

    /// The window open at `now`, merged with the occurrences that overlap it.
    pub fn open_at(&self, now: Timestamp) -> Option<Window> {
        match self {
            Schedule::OneOff(w) => (w.start <= now && now < w.end).then_some(*w),
            Schedule::Recurring { duration, .. } => {
                let earliest = now.checked_sub(*duration).ok()?;
                let start = self.occurrence_after(earliest).filter(|s| *s <= now)?;
                Some(Window {
                    start,
                    end: self.merged_end(start),
                })
            }
        }
    }

    /// The next window that opens after `now`.
    pub fn next_after(&self, now: Timestamp) -> Option<Window> {
        match self {
            Schedule::OneOff(w) => (w.start > now).then_some(*w),
            Schedule::Recurring { .. } => {
                let start = self.occurrence_after(now)?;
                Some(Window {
                    start,
                    end: self.merged_end(start),
                })
            }
        }
    }

    /// The first start strictly after `after`. A local time skipped by a daylight-saving
    /// change starts later by the length of the gap; a local time that occurs twice starts at
    /// its first occurrence only.
    fn occurrence_after(&self, after: Timestamp) -> Option<Timestamp> {
        let Schedule::Recurring { cron, tz, .. } = self else {
            return None;
        };
        // Search from a little earlier in local time: a local time skipped by a clock change
        // maps to an instant after `after` even when `after` is past it on the wall clock.
        let mut cursor = tz.to_datetime(after.checked_sub(DST_LOOKBACK).unwrap_or(after));
        for _ in 0..MAX_MERGED {
            let civil = cron.find_next_occurrence(&cursor, false).ok()?;
            let start = tz.to_ambiguous_zoned(civil).compatible().ok()?.timestamp();
            if start > after {
                return Some(start);
            }
            cursor = civil;
        }
        None
    }

    fn merged_end(&self, start: Timestamp) -> Timestamp {
        let Schedule::Recurring { duration, .. } = self else {
            return start;
        };
        let mut end = start.checked_add(*duration).unwrap_or(Timestamp::MAX);
        let mut last = start;
        for _ in 0..MAX_MERGED {
            match self.occurrence_after(last) {
                Some(next) if next <= end => {
                    end = end.max(next.checked_add(*duration).unwrap_or(Timestamp::MAX));
                    last = next;
                }
                _ => break,
            }
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    fn recurring(cron: &str, tz: &str, minutes: i64) -> Schedule {
        Schedule::Recurring {
            cron: Box::new(parse_cron(cron).expect("cron")),
            tz: parse_time_zone(tz).expect("tz"),
            duration: jiff::SignedDuration::from_mins(minutes),
        }
    }

    fn starts(schedule: &Schedule, from: &str, count: usize) -> Vec<String> {
        let mut now = at(from);
        let mut out = Vec::new();
        for _ in 0..count {
            let next = schedule.occurrence_after(now).expect("an occurrence");
            out.push(next.to_string());
            now = next;
        }
        out
    }

    #[test]
    fn weekly_window_in_london_follows_the_clocks() {
        let schedule = recurring("0 2 * * SUN", "Europe/London", 120);

        let winter = schedule
            .next_after(at("2026-12-03T12:00:00Z"))
            .expect("next");
        let summer = schedule
            .next_after(at("2026-07-01T12:00:00Z"))
            .expect("next");

        assert_eq!(
            (winter.start, winter.end),
            (at("2026-12-06T02:00:00Z"), at("2026-12-06T04:00:00Z"))
        );
        assert_eq!(
            (summer.start, summer.end),
            (at("2026-07-05T01:00:00Z"), at("2026-07-05T03:00:00Z"))
        );
    }

    #[test]
    fn daily_window_is_open_inside_and_closed_outside() {
        let schedule = recurring("0 22 * * *", "UTC", 60);

        let inside = schedule.open_at(at("2026-12-03T22:30:00Z"));
        let at_end = schedule.open_at(at("2026-12-03T23:00:00Z"));
        let before = schedule.open_at(at("2026-12-03T21:59:59Z"));

        assert_eq!(
            inside,
            Some(Window {
                start: at("2026-12-03T22:00:00Z"),
                end: at("2026-12-03T23:00:00Z")
            })
        );
        assert_eq!(at_end, None, "the end is exclusive");
        assert_eq!(before, None);
    }

    #[test]
    fn a_local_time_skipped_in_spring_starts_once_an_hour_later() {
        // 29 March 2026: London clocks jump from 01:00 GMT to 02:00 BST; 01:30 does not exist.
        let schedule = recurring("30 1 * * *", "Europe/London", 30);

        let found = starts(&schedule, "2026-03-27T12:00:00Z", 3);

        assert_eq!(
            found,
            [
                "2026-03-28T01:30:00Z",
                "2026-03-29T01:30:00Z",
                "2026-03-30T00:30:00Z"
            ]
        );
        assert_eq!(
            schedule.open_at(at("2026-03-29T01:45:00Z")),
            Some(Window {
                start: at("2026-03-29T01:30:00Z"),
                end: at("2026-03-29T02:00:00Z")
            }),
            "02:30 BST to 03:00 BST, the time a person in London expects"
        );
    }

    #[test]
    fn a_local_time_repeated_in_autumn_starts_once_at_its_first_occurrence() {
        // 25 October 2026: London clocks go back from 02:00 BST to 01:00 GMT; 01:30 happens twice.
        let schedule = recurring("30 1 * * *", "Europe/London", 60);

        let found = starts(&schedule, "2026-10-24T12:00:00Z", 2);
        let during_second_pass = schedule.open_at(at("2026-10-25T01:45:00Z"));

        assert_eq!(found, ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]);
        assert_eq!(
            during_second_pass, None,
            "the window lasted 60 real minutes from 01:30 BST"
        );
        assert_eq!(
            schedule
                .next_after(at("2026-10-25T01:00:00Z"))
                .map(|w| w.start),
            Some(at("2026-10-26T01:30:00Z"))
        );
    }

    #[test]
    fn a_window_longer_than_its_period_stays_open() {
        let schedule = recurring("0 * * * *", "UTC", 90);

        let open = schedule.open_at(at("2026-12-03T10:10:00Z")).expect("open");

        assert_eq!(
            open.start,
            at("2026-12-03T09:00:00Z"),
            "the earliest occurrence still open"
        );
        assert!(
            open.end > at("2026-12-04T10:00:00Z"),
            "merged with the overlapping occurrences: {}",
            open.end
        );
    }

    #[test]
    fn one_off_window_is_open_between_start_and_end_only() {
        let window = Window {
            start: at("2026-12-13T01:00:00Z"),
            end: at("2026-12-13T03:00:00Z"),
        };
        let schedule = Schedule::OneOff(window);

        assert_eq!(schedule.open_at(at("2026-12-13T00:59:59Z")), None);
        assert_eq!(schedule.open_at(at("2026-12-13T01:00:00Z")), Some(window));
        assert_eq!(schedule.open_at(at("2026-12-13T03:00:00Z")), None);
        assert_eq!(
            schedule.next_after(at("2026-12-12T00:00:00Z")),
            Some(window)
        );
        assert_eq!(schedule.next_after(at("2026-12-13T02:00:00Z")), None);
    }

    #[test]
    fn a_window_that_ended_while_the_operator_was_down_is_closed_and_the_next_one_is_found() {
        let schedule = recurring("0 2 * * *", "UTC", 60);

        let after_end = at("2026-12-03T03:20:00Z");

        assert_eq!(schedule.open_at(after_end), None);
        assert_eq!(
            schedule.next_after(after_end).map(|w| w.start),
            Some(at("2026-12-04T02:00:00Z"))
        );
    }

    #[test]
    fn cron_and_time_zone_errors_name_the_fix() {
        assert!(
            parse_cron("0 2 * * * *")
                .expect_err("six fields")
                .contains("has 6 fields")
        );
        assert!(
            parse_cron("0 2 * * FUNDAY")
                .expect_err("bad weekday")
                .contains("not a cron expression")
        );
        assert!(
            parse_time_zone("Mars/Olympus")
                .expect_err("unknown")
                .contains("Europe/London")
        );
        assert!(
            parse_timestamp("yesterday")
                .expect_err("bad time")
                .contains("RFC 3339")
        );
    }
}
