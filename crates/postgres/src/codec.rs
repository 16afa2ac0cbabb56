//! How values are written to and read from columns.

use chrono::{DateTime, Utc};
use vigil_core::store::{ErrorKind, FeedbackReason, SortKey, StoreError, StoredAlert, Suppression};
use vigil_core::store::{Order, entity_values, resource_ids};
use vigil_core::suppression::SuppressionReason;
use vigil_core::text::fold;
use vigil_core::{Alert, Status};

use crate::error::{corrupt_alert, get};

/// An instant as RFC 3339 text with nine fractional digits (`2026-11-01T00:00:00.000000000Z`);
/// years outside 0000–9999 carry a sign, so every chrono instant is written exactly.
pub(crate) fn ts(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

/// The instant [`ts`] wrote.
pub(crate) fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.fZ")
        .ok()
        .map(|n| n.and_utc())
}

/// A status's column text.
pub(crate) fn status_text(s: Status) -> &'static str {
    s.as_str()
}

/// A status from its column text; only the exact names this store writes are accepted.
pub(crate) fn parse_status(s: &str) -> Option<Status> {
    Status::ALL.iter().copied().find(|x| x.as_str() == s)
}

/// A named suppression reason is written as its name, any other text as `~text`, so every
/// value reads back exactly.
pub(crate) fn suppression_reason_text(r: &SuppressionReason) -> String {
    match r {
        SuppressionReason::Other(s) => format!("~{s}"),
        named => named.as_str().to_owned(),
    }
}

pub(crate) fn parse_suppression_reason(s: &str) -> Option<SuppressionReason> {
    if let Some(other) = s.strip_prefix('~') {
        return Some(SuppressionReason::Other(other.to_owned()));
    }
    match SuppressionReason::from_text(s) {
        SuppressionReason::Other(_) => None,
        named if named.as_str() == s => Some(named),
        _ => None,
    }
}

/// Like [`suppression_reason_text`], for feedback reasons.
pub(crate) fn feedback_reason_text(r: &FeedbackReason) -> String {
    match r {
        FeedbackReason::Other(s) => format!("~{s}"),
        named => named.as_str().to_owned(),
    }
}

pub(crate) fn parse_feedback_reason(s: &str) -> Option<FeedbackReason> {
    if let Some(other) = s.strip_prefix('~') {
        return Some(FeedbackReason::Other(other.to_owned()));
    }
    FeedbackReason::named()
        .iter()
        .find(|r| r.as_str() == s)
        .cloned()
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

/// The derived columns of an alert: sort keys and filter values.
pub(crate) struct Derived {
    pub severity_rank: i64,
    pub time_us: i64,
    pub priority: i64,
    pub alert_type_lc: String,
    pub product_lc: Option<String>,
    pub display_lc: String,
    pub correlation_key: Option<String>,
    pub compromised_lc: Option<String>,
    pub resources: Vec<String>,
    pub entities: Vec<String>,
}

impl Derived {
    pub(crate) fn of(alert: &Alert) -> Derived {
        let sev = SortKey::of(Order::SeverityThenTime, alert, 0);
        let prio = SortKey::of(Order::Priority, alert, 0);
        let mut resources: Vec<String> = resource_ids(alert)
            .into_iter()
            .map(|r| nul_free(r.to_ascii_lowercase()))
            .collect();
        resources.sort();
        resources.dedup();
        let mut entities: Vec<String> = entity_values(alert)
            .into_iter()
            .map(|v| nul_free(fold(v).into_owned()))
            .collect();
        entities.sort();
        entities.dedup();
        Derived {
            severity_rank: sev.primary,
            time_us: sev.secondary,
            priority: prio.primary,
            alert_type_lc: nul_free(alert.alert_type().to_ascii_lowercase()),
            product_lc: alert.product_name().map(|p| nul_free(fold(p).into_owned())),
            display_lc: nul_free(fold(alert.display_name()).into_owned()),
            correlation_key: alert.correlation_key().map(|k| nul_free(k.to_owned())),
            compromised_lc: alert
                .compromised_entity()
                .map(|c| nul_free(fold(c).into_owned())),
            resources,
            entities,
        }
    }
}

/// The stored columns of an alert, read back.
pub(crate) struct AlertRow {
    pub id: String,
    pub version: i64,
    pub status: String,
    pub json: String,
    pub ingested_at: String,
    pub updated_at: String,
    pub suppression_rule: Option<String>,
    pub suppression_reason: Option<String>,
    pub suppressed_at: Option<String>,
}

/// The column list [`AlertRow::read`] expects, in order.
pub(crate) const ALERT_COLUMNS: &str = "id, version, status, json, ingested_at, updated_at, suppression_rule, suppression_reason, suppressed_at";

impl AlertRow {
    /// Reads [`ALERT_COLUMNS`] starting at column `at`.
    pub(crate) fn read(row: &postgres::Row, at: usize) -> Result<AlertRow, StoreError> {
        Ok(AlertRow {
            id: get(row, at)?,
            version: get(row, at + 1)?,
            status: get(row, at + 2)?,
            json: get(row, at + 3)?,
            ingested_at: get(row, at + 4)?,
            updated_at: get(row, at + 5)?,
            suppression_rule: get(row, at + 6)?,
            suppression_reason: get(row, at + 7)?,
            suppressed_at: get(row, at + 8)?,
        })
    }

    /// The stored alert, or a `Corrupt` error naming it.
    pub(crate) fn decode(self, tenant: &str) -> Result<StoredAlert, StoreError> {
        let bad = |problem: String| corrupt_alert(tenant, &self.id, problem);
        let status = parse_status(&self.status).ok_or_else(|| {
            bad(format!(
                "unknown status {:?} (expected Active, InProgress, Resolved or Dismissed)",
                self.status
            ))
        })?;
        let alert: Alert = serde_json::from_str(&self.json)
            .map_err(|e| bad(format!("its JSON does not parse as an alert: {e}")))?;
        // A row is keyed by the alert's identity; a row migrated from schema 1 whose name was
        // taken keeps its system alert id as key.
        if alert.id().as_str() != self.id && alert.system_alert_id().as_str() != self.id {
            return Err(bad(format!(
                "its JSON holds the alert {:?} (system alert id {:?})",
                alert.id().as_str(),
                alert.system_alert_id().as_str()
            )));
        }
        // The status lives in the alert's JSON; the column is its index and must agree.
        if alert.status() != status {
            return Err(bad(format!(
                "its status column says {} but its JSON says {}",
                status,
                alert.status()
            )));
        }
        let version = u64::try_from(self.version)
            .map_err(|_| bad(format!("negative version {}", self.version)))?;
        let suppression = match (self.suppression_rule, self.suppression_reason) {
            (None, _) => None,
            (Some(rule), reason) => {
                let text = reason.unwrap_or_default();
                let reason = parse_suppression_reason(&text)
                    .ok_or_else(|| bad(format!("unknown suppression reason {text:?}")))?;
                let at = self
                    .suppressed_at
                    .as_deref()
                    .and_then(parse_ts)
                    .ok_or_else(|| bad("a suppression without a valid time".to_owned()))?;
                Some(Suppression::new(rule, reason, at))
            }
        };
        let time = |what: &str, text: &str| {
            parse_ts(text).ok_or_else(|| bad(format!("invalid {what} time {text:?}")))
        };
        Ok(StoredAlert::new(
            alert,
            version,
            time("ingestion", &self.ingested_at)?,
            time("update", &self.updated_at)?,
            suppression,
        ))
    }
}

/// The JSON text of an alert (the 2022-01-01 resource form).
pub(crate) fn alert_json(alert: &Alert) -> Result<String, StoreError> {
    serde_json::to_string(alert).map_err(|e| {
        StoreError::with_source(
            ErrorKind::InvalidInput,
            format!(
                "alert {:?} cannot be written as JSON: {e}",
                alert.id().as_str()
            ),
            e,
        )
    })
}
