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
const MAX_MERGED: usize = 10_000;

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
        let mut cursor = tz.to_datetime(after);
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
