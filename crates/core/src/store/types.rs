//! Values the [`super::Store`] contract passes around.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::suppression::{SuppressionReason, SuppressionRule};
use crate::{Alert, AlertId, Status};

/// The scope every store operation runs in: Defender's subscription, or any tenant name. Never
/// blank.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    /// Wraps a tenant name; blank text is [`ErrorKind::InvalidInput`].
    pub fn new(name: impl Into<String>) -> Result<TenantId, StoreError> {
        let name = name.into();
        if name.trim().is_empty() {
            Err(StoreError::new(
                ErrorKind::InvalidInput,
                "a tenant name must not be empty",
            ))
        } else {
            Ok(TenantId(name))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What callers branch on when a store operation fails.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The alert or rule does not exist (in this tenant).
    NotFound,
    /// The expected version is stale: someone changed it first. Nothing was written.
    Conflict,
    /// A rule with that name already exists.
    AlreadyExists,
    /// The request is wrong (illegal transition, invalid rule, bad cursor, …).
    InvalidInput,
    /// The backend cannot be reached or is busy; retrying may help.
    Unavailable,
    /// Stored data cannot be read back (bad JSON, unknown enum values, …).
    Corrupt,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::AlreadyExists => "already exists",
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Corrupt => "corrupt data",
        })
    }
}

/// The error of every [`super::Store`] operation: a [`ErrorKind`] to branch on, a message that
/// says what to do, and the backend's error as `source()`.
#[derive(Debug, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct StoreError {
    kind: ErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl StoreError {
    /// A new error.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> StoreError {
        StoreError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// A new error caused by `source`.
    pub fn with_source(
        kind: ErrorKind,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> StoreError {
        StoreError {
            kind,
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// [`ErrorKind::NotFound`] for an alert id, worded the same by every store.
    pub fn alert_not_found(id: &AlertId) -> StoreError {
        StoreError::new(
            ErrorKind::NotFound,
            format!("no alert with id {:?} in this tenant", id.as_str()),
        )
    }

    /// [`ErrorKind::InvalidInput`] for an id that is the system alert id of several alerts
    /// (and the identity of none), listing their identities, worded the same by every store.
    pub fn ambiguous_alert_id(id: &AlertId, candidates: &[AlertId]) -> StoreError {
        let list: Vec<String> = candidates
            .iter()
            .map(|c| format!("{:?}", c.as_str()))
            .collect();
        StoreError::new(
            ErrorKind::InvalidInput,
            format!(
                "the id {:?} is the systemAlertId of {} alerts; name one of them by its resource \
                 name: {}",
                id.as_str(),
                candidates.len(),
                list.join(", ")
            ),
        )
    }

    /// [`ErrorKind::NotFound`] for a rule name, worded the same by every store.
    pub fn rule_not_found(name: &str) -> StoreError {
        StoreError::new(
            ErrorKind::NotFound,
            format!("no suppression rule named {name:?} in this tenant"),
        )
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// For a status change the lifecycle refused (an [`ErrorKind::InvalidInput`]), the alert's
    /// status and the requested one; `None` for every other error, so callers can tell a
    /// refused transition from other bad input without parsing the message.
    ///
    /// ```
    /// use chrono::Utc;
    /// use vigil_core::store::{MemoryStore, StatusChange, Store, TenantId};
    /// use vigil_core::{Alert, AlertId, Severity, Status};
    ///
    /// let store = MemoryStore::default();
    /// let t = TenantId::new("t")?;
    /// let id = AlertId::new("a1")?;
    /// let a = Alert::builder(id.clone(), "VM_EICAR", "x", Severity::Low, Utc::now()).build();
    /// store.ingest(&t, &[a], Utc::now())?;
    /// let e = store
    ///     .change_status(&t, &id, 1, StatusChange::new(Status::Active, "me"), Utc::now())
    ///     .unwrap_err();
    /// assert_eq!(e.illegal_transition(), Some((Status::Active, Status::Active)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn illegal_transition(&self) -> Option<(Status, Status)> {
        match self.source.as_deref()?.downcast_ref::<crate::Error>()? {
            crate::Error::IllegalTransition { from, to } => Some((*from, *to)),
            _ => None,
        }
    }
}

/// How a suppressed alert was suppressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppression {
    /// The rule's name.
    pub rule: String,
    /// The rule's reason.
    pub reason: SuppressionReason,
    /// When.
    pub at: DateTime<Utc>,
}

/// An alert as stored: the alert, its version for optimistic concurrency, and bookkeeping.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredAlert {
    /// The alert (its status is the current one).
    pub alert: Alert,
    /// Bumped by every change; pass it to [`super::Store::change_status`].
    pub version: u64,
    /// When it was first stored.
    pub ingested_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Set if a suppression rule dismissed it; cleared when the alert leaves Dismissed (the
    /// audit trail keeps the record), kept if the rule is deleted.
    pub suppression: Option<Suppression>,
}

/// Counts from one [`super::Store::ingest`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Alerts stored for the first time.
    pub new: usize,
    /// Alerts already stored, updated.
    pub updated: usize,
    /// New alerts dismissed by a suppression rule (counted in `new` too).
    pub suppressed: usize,
}

/// A requested status change: target, who, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusChange {
    /// The status to change to.
    pub to: Status,
    /// Who asks (a person, or a tool).
    pub actor: String,
    /// Why.
    pub comment: Option<String>,
}

impl StatusChange {
    /// A change to `to` by `actor`, without comment.
    pub fn new(to: Status, actor: impl Into<String>) -> StatusChange {
        StatusChange {
            to,
            actor: actor.into(),
            comment: None,
        }
    }

    /// Adds a comment.
    pub fn comment(mut self, comment: impl Into<String>) -> StatusChange {
        self.comment = Some(comment.into());
        self
    }
}

/// One entry of an alert's audit trail. Entries are never edited or removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// Who: a person, a tool, or `rule:<name>` for a suppression.
    pub actor: String,
    /// The status before.
    pub from: Status,
    /// The status after.
    pub to: Status,
    /// Why.
    pub comment: Option<String>,
    /// The alert's version after the change.
    pub version: u64,
}

/// The outcome for one alert of a bulk status change.
#[derive(Debug)]
pub struct BulkOutcome {
    /// The alert.
    pub id: AlertId,
    /// Its new version, or why it was not changed.
    pub result: Result<u64, StoreError>,
}

/// Why feedback calls an alert useful or not: a documented list, plus free text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FeedbackReason {
    /// Useful: it was a real attack.
    TruePositive,
    /// Useful: it helped an investigation.
    HelpfulContext,
    /// Not useful: the detection was wrong.
    FalsePositive,
    /// Not useful: real but expected activity (a test, an admin task).
    BenignPositive,
    /// Not useful: nothing could be done with it.
    NotActionable,
    /// Not useful: it repeats another alert.
    Duplicate,
    /// Not useful: too many of these.
    TooNoisy,
    /// Not useful: it lacks the details needed to investigate.
    MissingDetails,
    /// Anything else, kept verbatim.
    Other(String),
}

const FEEDBACK_REASONS: [FeedbackReason; 8] = [
    FeedbackReason::TruePositive,
    FeedbackReason::HelpfulContext,
    FeedbackReason::FalsePositive,
    FeedbackReason::BenignPositive,
    FeedbackReason::NotActionable,
    FeedbackReason::Duplicate,
    FeedbackReason::TooNoisy,
    FeedbackReason::MissingDetails,
];

impl FeedbackReason {
    /// The reason's text (`"FalsePositive"`, …).
    pub fn as_str(&self) -> &str {
        match self {
            FeedbackReason::TruePositive => "TruePositive",
            FeedbackReason::HelpfulContext => "HelpfulContext",
            FeedbackReason::FalsePositive => "FalsePositive",
            FeedbackReason::BenignPositive => "BenignPositive",
            FeedbackReason::NotActionable => "NotActionable",
            FeedbackReason::Duplicate => "Duplicate",
            FeedbackReason::TooNoisy => "TooNoisy",
            FeedbackReason::MissingDetails => "MissingDetails",
            FeedbackReason::Other(s) => s,
        }
    }

    /// The reason for a text: a named one ignoring ASCII case and `-`/`_`, else
    /// [`FeedbackReason::Other`].
    pub fn from_text(s: &str) -> FeedbackReason {
        let key: String = s
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .collect();
        FEEDBACK_REASONS
            .iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(&key))
            .cloned()
            .unwrap_or_else(|| FeedbackReason::Other(s.to_owned()))
    }

    /// Every named reason.
    pub fn named() -> &'static [FeedbackReason] {
        &FEEDBACK_REASONS
    }
}

impl fmt::Display for FeedbackReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Feedback on an alert: useful or not, why, and who said so.
///
/// ```
/// use chrono::Utc;
/// use vigil_core::store::{Feedback, FeedbackReason};
///
/// let f = Feedback::new(false, FeedbackReason::BenignPositive, "alice", Utc::now())
///     .comment("the nightly deployment script");
/// assert_eq!(f.comment.as_deref(), Some("the nightly deployment script"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Feedback {
    /// The verdict.
    pub useful: bool,
    /// Why.
    pub reason: FeedbackReason,
    /// Free text.
    pub comment: Option<String>,
    /// Who.
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
}

impl Feedback {
    /// Feedback without comment.
    pub fn new(
        useful: bool,
        reason: FeedbackReason,
        actor: impl Into<String>,
        at: DateTime<Utc>,
    ) -> Feedback {
        Feedback {
            useful,
            reason,
            comment: None,
            actor: actor.into(),
            at,
        }
    }

    /// Adds a comment.
    pub fn comment(mut self, comment: impl Into<String>) -> Feedback {
        self.comment = Some(comment.into());
        self
    }
}

/// Which feedback [`super::Store::list_feedback`] returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeedbackQuery {
    /// Only this alert's.
    pub alert: Option<AlertId>,
    /// Only useful (`Some(true)`) or not useful (`Some(false)`) feedback.
    pub useful: Option<bool>,
}

/// A rule as stored, with its version and hit statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredRule {
    /// The rule (its stored state; use [`SuppressionRule::state_at`] for the effective one).
    pub rule: SuppressionRule,
    /// Bumped by every update.
    pub version: u64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// How many alerts it dismissed: suppressed on ingest or by [`super::Store::apply_rule`].
    pub hit_count: u64,
    /// When it last suppressed one.
    pub last_matched: Option<DateTime<Utc>>,
}

/// What [`super::Store::simulate`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Simulation {
    /// Matching alerts per status, in [`Status::ALL`] order, zero counts included.
    pub by_status: Vec<(Status, u64)>,
    /// Up to the requested number of matching alert ids, most recent first.
    pub sample: Vec<AlertId>,
}

impl Simulation {
    /// All matching alerts.
    pub fn total(&self) -> u64 {
        self.by_status.iter().map(|(_, n)| n).sum()
    }

    /// Matching alerts that are open (Active or InProgress): those a rule applied to existing
    /// alerts would dismiss.
    pub fn open(&self) -> u64 {
        self.by_status
            .iter()
            .filter(|(s, _)| !s.is_closed())
            .map(|(_, n)| n)
            .sum()
    }
}

/// How two alerts are related.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Relation {
    /// Same correlation key.
    CorrelationKey,
    /// Same compromised entity.
    CompromisedEntity(String),
    /// A shared entity value (an IP, a host name, …).
    SharedEntity(String),
}

/// An alert related to another, with every relation that holds.
#[derive(Clone, Debug, PartialEq)]
pub struct RelatedAlert {
    /// The related alert.
    pub alert: StoredAlert,
    /// Why it is related.
    pub relations: Vec<Relation>,
}
