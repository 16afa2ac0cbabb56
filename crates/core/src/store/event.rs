//! The event log: every change the engine makes, as a typed event in a per-tenant, totally
//! ordered log, written in the same transaction as the change.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::types::{ErrorKind, StoreError};
use crate::{AlertId, Status};

/// One entry of a tenant's event log.
///
/// Sequence numbers start at 1 and grow by one per event within a tenant, in commit order: a
/// reader that has seen every event up to `seq` never later finds a new event numbered `seq` or
/// less. Read them with [`super::Store::events_since`].
///
/// ```
/// use chrono::Utc;
/// use vigil_core::store::{EventKind, MemoryStore, Store, TenantId};
/// use vigil_core::{defender, Status};
///
/// let store = MemoryStore::default();
/// let t = TenantId::new("contoso")?;
/// let alerts = defender::parse_alerts(include_str!("../../../../fixtures/alerts/sample-alerts.json"))?;
/// store.ingest(&t, &alerts, Utc::now())?;
///
/// // A consumer pages the log from its own checkpoint.
/// let mut checkpoint = 0;
/// let events = store.events_since(&t, checkpoint, 100)?;
/// assert_eq!(events.len(), alerts.len()); // one event per ingested alert
/// assert!(matches!(events[0].kind, EventKind::AlertIngested { .. }));
/// checkpoint = events.last().map_or(checkpoint, |e| e.seq);
/// assert!(store.events_since(&t, checkpoint, 100)?.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Event {
    /// The event's number in its tenant's log (1, 2, 3, …).
    pub seq: u64,
    /// When the change was made (the `at` of the operation).
    pub at: DateTime<Utc>,
    /// What changed.
    pub kind: EventKind,
}

impl Event {
    /// An event; backends build the ones they read back with it.
    pub fn new(seq: u64, at: DateTime<Utc>, kind: EventKind) -> Event {
        Event { seq, at, kind }
    }

    /// The event's kind as JSON text, as backends store it.
    pub fn kind_json(kind: &EventKind) -> Result<String, StoreError> {
        serde_json::to_string(kind).map_err(|e| {
            StoreError::with_source(
                ErrorKind::InvalidInput,
                format!("an event cannot be written as JSON: {e}"),
                e,
            )
        })
    }

    /// Reads back what [`Event::kind_json`] wrote; anything else is [`ErrorKind::Corrupt`].
    pub fn kind_from_json(seq: u64, text: &str) -> Result<EventKind, StoreError> {
        serde_json::from_str(text).map_err(|e| {
            StoreError::with_source(
                ErrorKind::Corrupt,
                format!("event {seq} cannot be read back: {e}; the database is damaged"),
                e,
            )
        })
    }

    /// The alert the event is about, if it is about one.
    pub fn alert(&self) -> Option<&AlertId> {
        match &self.kind {
            EventKind::AlertIngested { alert, .. }
            | EventKind::StatusChanged { alert, .. }
            | EventKind::FeedbackAdded { alert, .. } => Some(alert),
            _ => None,
        }
    }
}

/// How an alert arrived.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "outcome")]
#[non_exhaustive]
pub enum IngestOutcome {
    /// Stored for the first time, and not suppressed.
    New,
    /// Already stored: its content was replaced, its status kept.
    Updated,
    /// Stored for the first time, and dismissed on arrival by a suppression rule.
    Suppressed {
        /// The rule.
        rule: String,
    },
}

/// What an [`Event`] records. Each change the engine makes has exactly one event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
#[non_exhaustive]
pub enum EventKind {
    /// An alert was ingested.
    #[serde(rename_all = "camelCase")]
    AlertIngested {
        /// The alert's identity.
        alert: AlertId,
        /// New, updated or suppressed on arrival.
        #[serde(flatten)]
        outcome: IngestOutcome,
        /// The alert's version after the change.
        version: u64,
        /// Its status after the change.
        status: Status,
    },
    /// An alert's status changed (by a person, a tool, or a rule applied to existing alerts).
    #[serde(rename_all = "camelCase")]
    StatusChanged {
        /// The alert's identity.
        alert: AlertId,
        /// The status before.
        from: Status,
        /// The status after.
        to: Status,
        /// Who changed it.
        actor: String,
        /// Why.
        comment: Option<String>,
        /// The alert's version after the change.
        version: u64,
    },
    /// Feedback was recorded on an alert.
    #[serde(rename_all = "camelCase")]
    FeedbackAdded {
        /// The alert's identity.
        alert: AlertId,
        /// Useful or not.
        useful: bool,
        /// The reason, as text (a named reason or free text).
        reason: String,
        /// Who gave it.
        actor: String,
    },
    /// A suppression rule was created.
    #[serde(rename_all = "camelCase")]
    RuleCreated {
        /// The rule's name.
        rule: String,
        /// Its version (1).
        version: u64,
    },
    /// A suppression rule was replaced (enabled, disabled, edited).
    #[serde(rename_all = "camelCase")]
    RuleUpdated {
        /// The rule's name.
        rule: String,
        /// Its version after the change.
        version: u64,
    },
    /// A suppression rule was deleted.
    #[serde(rename_all = "camelCase")]
    RuleDeleted {
        /// The rule's name.
        rule: String,
    },
    /// A rule was applied to existing alerts; each alert it dismissed has its own
    /// [`EventKind::StatusChanged`] before this event.
    #[serde(rename_all = "camelCase")]
    RuleApplied {
        /// The rule's name.
        rule: String,
        /// Who applied it.
        actor: String,
        /// How many alerts it dismissed.
        dismissed: u64,
    },
    /// An automation was created (its secrets are never part of an event).
    #[serde(rename_all = "camelCase")]
    AutomationCreated {
        /// The automation's name.
        automation: String,
        /// Its version (1).
        version: u64,
    },
    /// An automation was replaced (enabled, disabled, edited).
    #[serde(rename_all = "camelCase")]
    AutomationUpdated {
        /// The automation's name.
        automation: String,
        /// Its version after the change.
        version: u64,
    },
    /// An automation was deleted.
    #[serde(rename_all = "camelCase")]
    AutomationDeleted {
        /// The automation's name.
        automation: String,
    },
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_json() {
        let id = AlertId::new("a1").unwrap();
        let kinds = [
            EventKind::AlertIngested {
                alert: id.clone(),
                outcome: IngestOutcome::Suppressed { rule: "r".into() },
                version: 1,
                status: Status::Dismissed,
            },
            EventKind::AlertIngested {
                alert: id.clone(),
                outcome: IngestOutcome::Updated,
                version: 2,
                status: Status::Active,
            },
            EventKind::StatusChanged {
                alert: id.clone(),
                from: Status::Active,
                to: Status::Resolved,
                actor: "alice".into(),
                comment: None,
                version: 3,
            },
            EventKind::FeedbackAdded {
                alert: id,
                useful: false,
                reason: "BenignPositive".into(),
                actor: "bob".into(),
            },
            EventKind::RuleCreated {
                rule: "r".into(),
                version: 1,
            },
            EventKind::RuleDeleted { rule: "r".into() },
            EventKind::RuleApplied {
                rule: "r".into(),
                actor: "a".into(),
                dismissed: 4,
            },
        ];
        for k in kinds {
            let text = Event::kind_json(&k).unwrap();
            assert_eq!(Event::kind_from_json(1, &text).unwrap(), k, "{text}");
        }
        let text = Event::kind_json(&EventKind::AlertIngested {
            alert: AlertId::new("a1").unwrap(),
            outcome: IngestOutcome::New,
            version: 1,
            status: Status::Active,
        })
        .unwrap();
        assert_eq!(
            text,
            r#"{"type":"alertIngested","alert":"a1","outcome":"new","version":1,"status":"Active"}"#
        );
        assert_eq!(
            Event::kind_from_json(7, "{").unwrap_err().kind(),
            ErrorKind::Corrupt
        );
    }
}
