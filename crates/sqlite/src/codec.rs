//! How values are written to and read from columns: the shared encoding of
//! `vigil_core::store::codec`, and what only this backend adds.

use vigil_core::store::StoreError;
use vigil_core::store::StoredAlert;
pub(crate) use vigil_core::store::codec::{
    AlertRow, IndexKeys as Derived, alert_json, feedback_reason_text, parse_feedback_reason,
    parse_status, parse_ts, suppression_reason_text, ts,
};

use crate::error::corrupt_alert;

/// A status's column text.
pub(crate) fn status_text(s: vigil_core::Status) -> &'static str {
    s.as_str()
}

/// A JSON array of strings, for the `resources_lc` and `entities_lc` columns.
pub(crate) fn list_text(values: &[String]) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "[]".to_owned())
}

pub(crate) fn parse_list(tenant: &str, id: &str, text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| {
        corrupt_alert(
            tenant,
            id,
            format!("its cached filter values are not a JSON list of strings: {e}"),
        )
    })
}

/// The column list [`read_alert_row`] expects, in order.
pub(crate) const ALERT_COLUMNS: &str = "id, version, status, json, ingested_at, updated_at, suppression_rule, suppression_reason, suppressed_at";

/// Reads [`ALERT_COLUMNS`] starting at column `at`.
pub(crate) fn read_alert_row(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<AlertRow> {
    Ok(AlertRow::new(
        row.get(at)?,
        row.get(at + 1)?,
        row.get(at + 2)?,
        row.get(at + 3)?,
        row.get(at + 4)?,
        row.get(at + 5)?,
        row.get(at + 6)?,
        row.get(at + 7)?,
        row.get(at + 8)?,
    ))
}

/// The stored alert of a row of `tenant`, or a `Corrupt` error naming it.
pub(crate) fn decode(row: AlertRow, tenant: &str) -> Result<StoredAlert, StoreError> {
    row.decode(|id, problem| corrupt_alert(tenant, id, problem))
}
