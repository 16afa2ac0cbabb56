//! How values are written to and read from columns: the shared encoding of
//! `vigil_core::store::codec`, and what only this backend adds.

use vigil_core::Alert;
pub(crate) use vigil_core::store::codec::{
    AlertRow, IndexKeys as Derived, alert_json, feedback_reason_text, parse_feedback_reason,
    parse_status, parse_ts, suppression_reason_text, ts,
};
use vigil_core::store::{StoreError, StoredAlert};

use crate::error::{corrupt_alert, get};

/// A status's column text.
pub(crate) fn status_text(s: vigil_core::Status) -> &'static str {
    s.as_str()
}

/// A derived (index-only) text with NUL characters, which PostgreSQL text cannot hold,
/// replaced by U+FFFD. Applied alike to stored values and to the values a query compares them
/// with, it only ever widens what SQL selects; the exact check in Rust decides.
pub(crate) fn nul_free(s: String) -> String {
    if s.contains('\0') {
        s.replace('\0', "\u{FFFD}")
    } else {
        s
    }
}

/// The index keys of an alert, with the NUL characters PostgreSQL text cannot hold replaced.
pub(crate) fn derived(alert: &Alert) -> Derived {
    Derived::of(alert).map_text(nul_free)
}

/// The column list [`read_alert_row`] expects, in order.
pub(crate) const ALERT_COLUMNS: &str = "id, version, status, json, ingested_at, updated_at, suppression_rule, suppression_reason, suppressed_at";

/// Reads [`ALERT_COLUMNS`] starting at column `at`.
pub(crate) fn read_alert_row(row: &postgres::Row, at: usize) -> Result<AlertRow, StoreError> {
    Ok(AlertRow::new(
        get(row, at)?,
        get(row, at + 1)?,
        get(row, at + 2)?,
        get(row, at + 3)?,
        get(row, at + 4)?,
        get(row, at + 5)?,
        get(row, at + 6)?,
        get(row, at + 7)?,
        get(row, at + 8)?,
    ))
}

/// The stored alert of a row of `tenant`, or a `Corrupt` error naming it.
pub(crate) fn decode(row: AlertRow, tenant: &str) -> Result<StoredAlert, StoreError> {
    row.decode(|id, problem| corrupt_alert(tenant, id, problem))
}
