//! Alert status and its lifecycle.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// Where an alert is in its handling, and the checked lifecycle between states.
///
/// The lifecycle:
///
/// - Active → InProgress, Resolved or Dismissed;
/// - InProgress → Resolved or Dismissed;
/// - Resolved or Dismissed → Active (reactivation).
///
/// Everything else, including a change to the same status, is an
/// [`Error::IllegalTransition`]. Older documents carry `New`, which reads as `Active`.
///
/// ```
/// use vigil_core::{Error, Status};
///
/// assert_eq!(Status::Active.transition(Status::InProgress)?, Status::InProgress);
/// assert_eq!(Status::Dismissed.transition(Status::Active)?, Status::Active);
/// assert!(matches!(
///     Status::Resolved.transition(Status::Dismissed),
///     Err(Error::IllegalTransition { from: Status::Resolved, to: Status::Dismissed })
/// ));
/// assert_eq!("New".parse::<Status>()?, Status::Active);
/// # Ok::<(), Error>(())
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Status {
    /// New or reopened, waiting for someone to look at it (Defender's default).
    Active,
    /// Someone is handling it.
    InProgress,
    /// Closed after handling.
    Resolved,
    /// Closed as not needing action (false positive, benign, or suppressed by a rule). Like
    /// Resolved, not in the default triage queue.
    Dismissed,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 4] = [
        Status::Active,
        Status::InProgress,
        Status::Resolved,
        Status::Dismissed,
    ];

    /// The open statuses, which the default triage queue shows.
    pub const OPEN: [Status; 2] = [Status::Active, Status::InProgress];

    /// `true` for Active and InProgress (the triage queue); `false` for Resolved and Dismissed.
    ///
    /// ```
    /// use vigil_core::Status;
    /// assert!(Status::InProgress.is_open());
    /// assert!(!Status::Resolved.is_open());
    /// ```
    pub const fn is_open(self) -> bool {
        matches!(self, Status::Active | Status::InProgress)
    }

    /// The name Defender uses (`"InProgress"`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Active => "Active",
            Status::InProgress => "InProgress",
            Status::Resolved => "Resolved",
            Status::Dismissed => "Dismissed",
        }
    }

    /// The statuses this one may change to, in [`Status::ALL`] order.
    pub const fn allowed_next(self) -> &'static [Status] {
        match self {
            Status::Active => &[Status::InProgress, Status::Resolved, Status::Dismissed],
            Status::InProgress => &[Status::Resolved, Status::Dismissed],
            Status::Resolved | Status::Dismissed => &[Status::Active],
        }
    }

    /// Whether the lifecycle allows changing from `self` to `to`.
    pub fn can_transition_to(self, to: Status) -> bool {
        self.allowed_next().contains(&to)
    }

    /// The checked transition function: `Ok(to)` if the lifecycle allows `self → to`, otherwise
    /// [`Error::IllegalTransition`].
    pub fn transition(self, to: Status) -> Result<Status, Error> {
        if self.can_transition_to(to) {
            Ok(to)
        } else {
            Err(Error::IllegalTransition { from: self, to })
        }
    }

    /// `true` for Resolved and Dismissed: nothing more to do unless reactivated.
    pub const fn is_closed(self) -> bool {
        matches!(self, Status::Resolved | Status::Dismissed)
    }
}

pub(crate) fn allowed_list(from: Status) -> String {
    let names: Vec<&str> = from.allowed_next().iter().map(|s| s.as_str()).collect();
    names.join(", ")
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = Error;

    /// Case-insensitive; ignores spaces, `-` and `_` (`in-progress`, `In Progress`); `New`
    /// (2020-01-01 documents and automation events) reads as `Active`.
    fn from_str(s: &str) -> Result<Self, Error> {
        let key: String = s
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '_'))
            .flat_map(char::to_lowercase)
            .collect();
        match key.as_str() {
            "active" | "new" => Ok(Status::Active),
            "inprogress" => Ok(Status::InProgress),
            "resolved" => Ok(Status::Resolved),
            "dismissed" => Ok(Status::Dismissed),
            _ => Err(Error::invalid(
                "status",
                s,
                "expected one of Active, InProgress, Resolved, Dismissed (or New)",
            )),
        }
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;
    use proptest::prelude::*;

    /// The lifecycle written out as a table, independently of `allowed_next`.
    fn reference_allows(from: Status, to: Status) -> bool {
        matches!(
            (from, to),
            (Active, InProgress)
                | (InProgress, Resolved)
                | (Active, Dismissed)
                | (InProgress, Dismissed)
                | (Active, Resolved)
                | (Resolved, Active)
                | (Dismissed, Active)
        )
    }

    fn status() -> impl Strategy<Value = Status> {
        prop::sample::select(Status::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn transition_agrees_with_the_table(from in status(), to in status()) {
            let result = from.transition(to);
            if reference_allows(from, to) {
                prop_assert_eq!(result.ok(), Some(to));
            } else {
                let illegal = matches!(result, Err(Error::IllegalTransition { from: f, to: t }) if f == from && t == to);
                prop_assert!(illegal);
            }
        }

        /// Any sequence of requested changes, applied with the checked function, only ever
        /// passes through allowed edges, and a closed alert can always be reopened.
        #[test]
        fn walks_stay_on_allowed_edges(steps in prop::collection::vec(status(), 0..40)) {
            let mut current = Active;
            for to in steps {
                let before = current;
                if let Ok(next) = current.transition(to) {
                    prop_assert!(reference_allows(before, next));
                    current = next;
                } else {
                    prop_assert_eq!(current, before);
                }
                if current.is_closed() {
                    prop_assert!(current.can_transition_to(Active));
                }
            }
        }

        #[test]
        fn display_parses_back(s in status()) {
            prop_assert_eq!(s.to_string().parse::<Status>().ok(), Some(s));
        }
    }

    #[test]
    fn legacy_and_loose_spellings() {
        for (text, want) in [
            ("New", Active),
            ("new", Active),
            ("in-progress", InProgress),
            ("In Progress", InProgress),
            ("inProgress", InProgress),
            ("DISMISSED", Dismissed),
        ] {
            assert_eq!(text.parse::<Status>().ok(), Some(want), "{text}");
        }
        assert!("Closed".parse::<Status>().is_err());
    }

    #[test]
    fn illegal_transition_message_says_what_is_allowed() {
        let msg = InProgress.transition(Active).err().map(|e| e.to_string());
        assert_eq!(
            msg.as_deref(),
            Some(
                "cannot change an alert's status from InProgress to Active; from InProgress it can go to: Resolved, Dismissed"
            )
        );
    }
}
