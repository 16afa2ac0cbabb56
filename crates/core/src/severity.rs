//! Alert severity.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// How severe an alert is, as Defender for Cloud rates it.
///
/// **Greater means more severe**: `Informational < Low < Medium < High`, so sorting in
/// descending order puts the most urgent alerts first, and `max()` picks the worst.
///
/// ```
/// use vigil_core::Severity;
///
/// assert!(Severity::High > Severity::Medium);
/// assert!(Severity::Low > Severity::Informational);
///
/// let mut queue = vec![Severity::Low, Severity::High, Severity::Informational, Severity::Medium];
/// queue.sort_by(|a, b| b.cmp(a)); // most severe first
/// assert_eq!(queue, [Severity::High, Severity::Medium, Severity::Low, Severity::Informational]);
///
/// // Parsing ignores case.
/// assert_eq!("high".parse::<Severity>()?, Severity::High);
/// assert_eq!("INFORMATIONAL".parse::<Severity>()?, Severity::Informational);
/// # Ok::<(), vigil_core::Error>(())
/// ```
///
/// # Mappings to other formats
///
/// | Vigil | OCSF `severity_id` | ASFF `Severity.Label` | CEF `Severity` (0–10) |
/// |---|---|---|---|
/// | `Informational` | 1 (Informational) | `INFORMATIONAL` | 1 |
/// | `Low` | 2 (Low) | `LOW` | 3 |
/// | `Medium` | 3 (Medium) | `MEDIUM` | 5 |
/// | `High` | 4 (High) | `HIGH` | 8 |
///
/// CEF's bands are 0–3 Low, 4–6 Medium, 7–8 High, 9–10 Very-High; Vigil uses a value inside
/// each band and never claims Very-High or OCSF's Critical (5), which Defender does not assign.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Severity {
    /// Meaningful mostly in the context of other alerts.
    Informational,
    /// Possibly benign, or a blocked attack.
    Low,
    /// Probably suspicious activity that may mean compromise.
    Medium,
    /// The resource is very likely compromised; look now.
    High,
}

impl Severity {
    /// Every severity, least severe first.
    pub const ALL: [Severity; 4] = [
        Severity::Informational,
        Severity::Low,
        Severity::Medium,
        Severity::High,
    ];

    /// The severity's rank: 0 (Informational) to 3 (High), the one number every order, index
    /// and score uses for it.
    ///
    /// ```
    /// use vigil_core::Severity;
    /// assert_eq!(Severity::High.rank(), 3);
    /// assert_eq!(Severity::Informational.rank(), 0);
    /// ```
    pub const fn rank(self) -> u8 {
        match self {
            Severity::Informational => 0,
            Severity::Low => 1,
            Severity::Medium => 2,
            Severity::High => 3,
        }
    }

    /// The name Defender uses (`"High"`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "Informational",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
        }
    }

    /// OCSF `severity_id`: 1 Informational, 2 Low, 3 Medium, 4 High.
    ///
    /// ```
    /// assert_eq!(vigil_core::Severity::High.ocsf_severity_id(), 4);
    /// ```
    pub const fn ocsf_severity_id(self) -> u8 {
        match self {
            Severity::Informational => 1,
            Severity::Low => 2,
            Severity::Medium => 3,
            Severity::High => 4,
        }
    }

    /// AWS Security Finding Format `Severity.Label`.
    pub const fn asff_label(self) -> &'static str {
        match self {
            Severity::Informational => "INFORMATIONAL",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
        }
    }

    /// ArcSight CEF header severity on its 0–10 scale (see the table on [`Severity`]).
    pub const fn cef_severity(self) -> u8 {
        match self {
            Severity::Informational => 1,
            Severity::Low => 3,
            Severity::Medium => 5,
            Severity::High => 8,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| {
                Error::invalid(
                    "severity",
                    s,
                    "expected one of Informational, Low, Medium, High",
                )
            })
    }
}

impl Serialize for Severity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn severity() -> impl Strategy<Value = Severity> {
        prop::sample::select(Severity::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn order_agrees_with_every_mapping(a in severity(), b in severity()) {
            prop_assert_eq!(a.cmp(&b), a.ocsf_severity_id().cmp(&b.ocsf_severity_id()));
            prop_assert_eq!(a.cmp(&b), a.cef_severity().cmp(&b.cef_severity()));
        }

        #[test]
        fn parse_ignores_case(a in severity(), upper in any::<bool>()) {
            let text = if upper { a.as_str().to_uppercase() } else { a.as_str().to_lowercase() };
            prop_assert_eq!(text.parse::<Severity>().ok(), Some(a));
        }
    }

    #[test]
    fn unknown_severity_is_rejected_with_the_value() {
        let err = "Hgh".parse::<Severity>().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(r#"invalid severity "Hgh": expected one of Informational, Low, Medium, High"#)
        );
    }

    #[test]
    fn cef_values_fall_in_their_bands() {
        assert!((0..=3).contains(&Severity::Low.cef_severity()));
        assert!((4..=6).contains(&Severity::Medium.cef_severity()));
        assert!((7..=8).contains(&Severity::High.cef_severity()));
    }
}
