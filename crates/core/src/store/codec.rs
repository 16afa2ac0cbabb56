//! How a backend writes the engine's values as column text and reads them back: one encoding
//! for every backend, so that no two backends disagree on what a stored value means.
//!
//! ```
//! use vigil_core::store::codec::{parse_suppression_reason, parse_ts, suppression_reason_text, ts};
//! use vigil_core::suppression::SuppressionReason;
//!
//! let at = vigil_core::chrono::Utc::now();
//! assert_eq!(parse_ts(&ts(at)), Some(at));
//! let other = SuppressionReason::from_text("BenignPositive");
//! assert_eq!(parse_suppression_reason(&suppression_reason_text(&other)), Some(other));
//! ```

use chrono::{DateTime, Utc};

use super::query::{Order, SortKey, entity_values, resource_ids};
use super::types::{ErrorKind, FeedbackReason, StoreError, StoredAlert, Suppression};
use crate::suppression::SuppressionReason;
use crate::text::fold;
use crate::{Alert, Status};

/// An instant as RFC 3339 text with nine fractional digits (`2026-11-01T00:00:00.000000000Z`);
/// years outside 0000–9999 carry a sign, so every chrono instant is written exactly.
pub fn ts(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

/// The instant [`ts`] wrote.
pub fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.fZ")
        .ok()
        .map(|n| n.and_utc())
}

/// A status from its column text; only the exact names [`Status::as_str`] writes are accepted.
pub fn parse_status(s: &str) -> Option<Status> {
    Status::ALL.iter().copied().find(|x| x.as_str() == s)
}

/// A named suppression reason is written as its name, any other text as `~text`, so every
/// value reads back exactly (`Other("TruePositive")` never reads back as a named reason).
pub fn suppression_reason_text(r: &SuppressionReason) -> String {
    match r {
        SuppressionReason::Other(s) => format!("~{s}"),
        named => named.as_str().to_owned(),
    }
}

/// The reason [`suppression_reason_text`] wrote; `None` for any other text.
pub fn parse_suppression_reason(s: &str) -> Option<SuppressionReason> {
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
pub fn feedback_reason_text(r: &FeedbackReason) -> String {
    match r {
        FeedbackReason::Other(s) => format!("~{s}"),
        named => named.as_str().to_owned(),
    }
}

/// The reason [`feedback_reason_text`] wrote; `None` for any other text.
pub fn parse_feedback_reason(s: &str) -> Option<FeedbackReason> {
    if let Some(other) = s.strip_prefix('~') {
        return Some(FeedbackReason::Other(other.to_owned()));
    }
    FeedbackReason::named()
        .iter()
        .find(|r| r.as_str() == s)
        .cloned()
}

/// The JSON text of an alert (the 2022-01-01 resource form), as backends store it.
pub fn alert_json(alert: &Alert) -> Result<String, StoreError> {
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

/// The values a backend indexes for an alert: sort keys, and filter values folded as queries
/// fold them ([`fold`]; alert types and ARM ids ignoring ASCII case). Resource ids and entity
/// values are sorted and unique.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IndexKeys {
    /// [`Severity::rank`](crate::Severity::rank).
    pub severity_rank: i64,
    /// `timeGeneratedUtc` in microseconds.
    pub time_us: i64,
    /// [`super::priority_score`].
    pub priority: i64,
    /// The alert type, ASCII-lowercased.
    pub alert_type_lc: String,
    /// The product name, folded.
    pub product_lc: Option<String>,
    /// The display name, folded.
    pub display_lc: String,
    /// The correlation key, as is.
    pub correlation_key: Option<String>,
    /// The compromised entity, folded.
    pub compromised_lc: Option<String>,
    /// [`resource_ids`], ASCII-lowercased.
    pub resources: Vec<String>,
    /// [`entity_values`], folded.
    pub entities: Vec<String>,
}

impl IndexKeys {
    /// The keys of `alert`.
    pub fn of(alert: &Alert) -> IndexKeys {
        let sev = SortKey::of(Order::SeverityThenTime, alert, 0);
        let prio = SortKey::of(Order::Priority, alert, 0);
        let resources = resource_ids(alert)
            .into_iter()
            .map(str::to_ascii_lowercase)
            .collect();
        let entities = entity_values(alert)
            .into_iter()
            .map(|v| fold(v).into_owned())
            .collect();
        IndexKeys {
            severity_rank: sev.primary,
            time_us: sev.secondary,
            priority: prio.primary,
            alert_type_lc: alert.alert_type().to_ascii_lowercase(),
            product_lc: alert.product_name().map(|p| fold(p).into_owned()),
            display_lc: fold(alert.display_name()).into_owned(),
            correlation_key: alert.correlation_key().map(str::to_owned),
            compromised_lc: alert.compromised_entity().map(|c| fold(c).into_owned()),
            resources: sorted(resources),
            entities: sorted(entities),
        }
    }

    /// The same keys with every text passed through `f` (for a backend whose text type cannot
    /// hold some characters); the lists stay sorted and unique.
    pub fn map_text(self, f: impl Fn(String) -> String) -> IndexKeys {
        IndexKeys {
            alert_type_lc: f(self.alert_type_lc),
            product_lc: self.product_lc.map(&f),
            display_lc: f(self.display_lc),
            correlation_key: self.correlation_key.map(&f),
            compromised_lc: self.compromised_lc.map(&f),
            resources: sorted(self.resources.into_iter().map(&f).collect()),
            entities: sorted(self.entities.into_iter().map(&f).collect()),
            ..self
        }
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// The stored columns of an alert, as a backend reads them back.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AlertRow {
    /// The row's key: the alert's identity.
    pub id: String,
    /// The version.
    pub version: i64,
    /// The status column (an index of the status in the JSON).
    pub status: String,
    /// The alert's JSON (its 2022-01-01 resource form).
    pub json: String,
    /// When it was first stored ([`ts`]).
    pub ingested_at: String,
    /// When it last changed ([`ts`]).
    pub updated_at: String,
    /// The rule that suppressed it.
    pub suppression_rule: Option<String>,
    /// That rule's reason ([`suppression_reason_text`]).
    pub suppression_reason: Option<String>,
    /// When it was suppressed ([`ts`]).
    pub suppressed_at: Option<String>,
}

impl AlertRow {
    /// A row read back, column by column.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        version: i64,
        status: String,
        json: String,
        ingested_at: String,
        updated_at: String,
        suppression_rule: Option<String>,
        suppression_reason: Option<String>,
        suppressed_at: Option<String>,
    ) -> AlertRow {
        AlertRow {
            id,
            version,
            status,
            json,
            ingested_at,
            updated_at,
            suppression_rule,
            suppression_reason,
            suppressed_at,
        }
    }

    /// The stored alert; a row that does not decode is the error `corrupt(id, problem)` makes
    /// (the backend's own `Corrupt` error, naming the tenant and the alert).
    pub fn decode(
        self,
        corrupt: impl Fn(&str, String) -> StoreError,
    ) -> Result<StoredAlert, StoreError> {
        let bad = |problem: String| corrupt(&self.id, problem);
        let status = parse_status(&self.status).ok_or_else(|| {
            bad(format!(
                "unknown status {:?} (expected Active, InProgress, Resolved or Dismissed)",
                self.status
            ))
        })?;
        let alert: Alert = serde_json::from_str(&self.json)
            .map_err(|e| bad(format!("its JSON does not parse as an alert: {e}")))?;
        // A row is keyed by the alert's identity; a row migrated from an older schema whose
        // name was taken keeps its system alert id as key.
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
        let suppression = match (
            self.suppression_rule.clone(),
            self.suppression_reason.clone(),
        ) {
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
