//! The crate's error type.

use crate::status::Status;

/// Everything that can go wrong in `vigil-core`.
///
/// Callers branch on [`Error::kind`]: [`ErrorKind::Json`] and [`ErrorKind::Document`] for input
/// that is not a valid Defender document, [`ErrorKind::InvalidValue`] for a malformed identifier
/// or enum value, [`ErrorKind::IllegalTransition`] for a status change the lifecycle forbids, and
/// so on; the variants carry the details. Every message names what to fix.
///
/// ```
/// use vigil_core::{Alert, AlertId, ErrorKind, Severity, Status};
/// use vigil_core::chrono::Utc;
///
/// let mut a = Alert::builder(AlertId::new("a1")?, "T", "t", Severity::Low, Utc::now()).build();
/// a.transition(Status::Resolved)?;
/// let err = a.transition(Status::InProgress).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::IllegalTransition);
///
/// let err = vigil_core::defender::read_alerts("{}\n{").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Document); // what was wrong on the line, not `Line`
/// assert_eq!(err.line(), Some(1));
/// # Ok::<(), vigil_core::Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not JSON at all (syntax error, truncated input, …).
    #[error("invalid JSON: {message}")]
    Json {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What the JSON parser reported.
        message: String,
    },
    /// The JSON is well formed but a value in it is wrong; `path` names the value, for example
    /// `properties.severity` or `value[3].properties.entities[0].type`.
    #[error("{path}: {message}")]
    Document {
        /// Dotted path of the offending value, from the document root.
        path: String,
        /// What is wrong and, where possible, what is expected instead.
        message: String,
    },
    /// A string could not be parsed into one of the crate's value types (an id or an enum).
    #[error("invalid {kind} {value:?}: {reason}")]
    InvalidValue {
        /// What was being parsed, e.g. `"technique id"` or `"severity"`.
        kind: &'static str,
        /// The rejected input.
        value: String,
        /// Why it was rejected and what is expected.
        reason: String,
    },
    /// An error on one line of JSON lines input (see [`crate::defender::read_alerts`]).
    #[error("line {line}: {error}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong on that line.
        error: Box<Error>,
    },
    /// Suppression rules that do not compile; the [`crate::suppression::RuleError`] lists every
    /// problem.
    #[error(transparent)]
    Rules(#[from] crate::suppression::RuleError),
    /// Input that is well formed but refused by policy unless the caller insists (for example a
    /// suppression rule that would suppress every alert, see
    /// [`crate::suppression::admit`]).
    #[error("refused {what}: {reason}")]
    Refused {
        /// What was refused, e.g. `rule "all"`.
        what: String,
        /// Why, and how to proceed.
        reason: String,
    },
    /// A status change that the alert lifecycle does not allow.
    #[error("cannot change an alert's status from {from} to {to}; from {from} it can go to: {allowed}", allowed = crate::status::allowed_list(*from))]
    IllegalTransition {
        /// The alert's current status.
        from: Status,
        /// The requested status.
        to: Status,
    },
}

/// What kind of [`Error`] happened, for callers that branch on it (an HTTP status, a retry, an
/// exit code). [`Error::Line`] reports the kind of the error on that line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The text is not JSON ([`Error::Json`]).
    Json,
    /// The JSON is well formed but a value in it is wrong ([`Error::Document`]).
    Document,
    /// A string is not a valid id or enum value ([`Error::InvalidValue`]).
    InvalidValue,
    /// Suppression rules do not compile ([`Error::Rules`]).
    Rules,
    /// Input refused by policy unless the caller insists ([`Error::Refused`]).
    Refused,
    /// A status change the lifecycle forbids ([`Error::IllegalTransition`]).
    IllegalTransition,
}

impl Error {
    /// What kind of error this is; for [`Error::Line`], the kind of the error on that line.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Json { .. } => ErrorKind::Json,
            Error::Document { .. } => ErrorKind::Document,
            Error::InvalidValue { .. } => ErrorKind::InvalidValue,
            Error::Line { error, .. } => error.kind(),
            Error::Rules(_) => ErrorKind::Rules,
            Error::Refused { .. } => ErrorKind::Refused,
            Error::IllegalTransition { .. } => ErrorKind::IllegalTransition,
        }
    }

    /// The 1-based line of JSON lines input the error is on ([`Error::Line`]), or the line of a
    /// JSON syntax error ([`Error::Json`]).
    pub fn line(&self) -> Option<usize> {
        match self {
            Error::Line { line, .. } | Error::Json { line, .. } => Some(*line),
            _ => None,
        }
    }

    pub(crate) fn document(path: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Document {
            path: path.into(),
            message: message.into(),
        }
    }

    pub(crate) fn invalid(
        kind: &'static str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::InvalidValue {
            kind,
            value: value.into(),
            reason: reason.into(),
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Json {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        }
    }
}
