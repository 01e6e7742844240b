//! Calendar dates for the price table's `as_of` field and staleness checks.
//!
//! Owns [`Date`] (a proleptic-Gregorian `YYYY-MM-DD` day) and day arithmetic. It does not own
//! time zones or clocks beyond [`Date::today_utc`]; callers pass "today" so tests are deterministic.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A calendar day, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year (1970..=9999 accepted by [`Date::parse`]).
    pub year: i32,
    /// Month 1..=12.
    pub month: u32,
    /// Day 1..=31 (validated against the month).
    pub day: u32,
}

impl Date {
    /// Builds a date, or `None` when it does not exist.
    pub fn new(year: i32, month: u32, day: u32) -> Option<Self> {
        if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) || day == 0 {
            return None;
        }
        (day <= days_in_month(year, month)).then_some(Self { year, month, day })
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return None;
        }
        let digits = |r: std::ops::Range<usize>| -> Option<u32> {
            let s = text.get(r)?;
            if s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse().ok()
            } else {
                None
            }
        };
        let year = i32::try_from(digits(0..4)?).ok()?;
        Self::new(year, digits(5..7)?, digits(8..10)?)
    }

    /// Days since 1970-01-01.
    pub fn days_since_epoch(self) -> i64 {
        // Howard Hinnant's days-from-civil algorithm.
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// Inverse of [`Date::days_since_epoch`]; `None` outside the supported year range.
    pub fn from_days_since_epoch(days: i64) -> Option<Self> {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).ok()?;
        let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).ok()?;
        let year = i32::try_from(yoe + era * 400 + i64::from(month <= 2)).ok()?;
        Self::new(year, month, day)
    }

    /// Today's date in UTC according to the system clock (`None` if the clock is before 1970).
    pub fn today_utc() -> Option<Self> {
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
        Self::from_days_since_epoch(i64::try_from(secs / 86_400).ok()?)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!(Date::parse("2026-11-22"), Date::new(2026, 11, 22));
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "26-11-22",
            "2026/11/22",
            "",
            "2026-1a-01",
        ] {
            assert!(Date::parse(bad).is_none(), "{bad}");
        }
        assert!(Date::parse("2024-02-29").is_some());
    }

    #[test]
    fn day_arithmetic_round_trips() {
        let d = Date::new(2026, 3, 1).expect("valid");
        assert_eq!(
            d.days_since_epoch() - Date::new(2026, 2, 28).expect("valid").days_since_epoch(),
            1
        );
        assert_eq!(Date::new(1970, 1, 1).expect("valid").days_since_epoch(), 0);
        for days in [0_i64, 365, 10_957, 20_000, 20_779] {
            let date = Date::from_days_since_epoch(days).expect("in range");
            assert_eq!(date.days_since_epoch(), days);
        }
    }
}
