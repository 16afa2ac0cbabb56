//! Timestamps as text, the one form every reader and writer in the crate uses: Defender's (seven
//! fractional digits and `Z`) when writing, RFC 3339 with any number of fractional digits (or no
//! zone, read as UTC) when reading. A leaf: it imports nothing from the crate, so both the wire
//! format ([`crate::defender`]) and the rule language (which matches times by this text) use it
//! without importing each other.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};

/// Formats a timestamp as Defender does: seven fractional digits and `Z`, or nine digits when
/// the instant has nanoseconds that seven digits cannot hold. A leap second (`23:59:60`) follows
/// the same rule.
pub(crate) fn format_time(t: &DateTime<Utc>) -> String {
    let nanos = t.timestamp_subsec_nanos();
    // chrono keeps a leap second's fraction above one second; `%S` already prints `60`.
    let leap = nanos >= 1_000_000_000;
    let frac = nanos % 1_000_000_000;
    if frac.is_multiple_of(100) {
        format!("{}.{:07}Z", t.format("%Y-%m-%dT%H:%M:%S"), frac / 100)
    } else if leap {
        format!("{}.{:09}Z", t.format("%Y-%m-%dT%H:%M:%S"), frac)
    } else {
        t.to_rfc3339_opts(SecondsFormat::Nanos, true)
    }
}

/// Parses a timestamp: RFC 3339 with any number of fractional digits, or the same without a
/// zone (read as UTC).
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let t = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}
