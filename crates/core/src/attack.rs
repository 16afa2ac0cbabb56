//! The MITRE ATT&CK® Enterprise catalog: tactics, techniques and sub-techniques, offline.
//!
//! The catalog is compiled into the crate from the CSV extracts in `data/attack/`: ATT&CK
//! Enterprise **v19.1** ([`AttackVersion::CURRENT`]) and **v18.1**, kept for data that still uses
//! v18 names. In v19, `TA0005` Defense Evasion was renamed Stealth and the new tactic `TA0112`
//! Defense Impairment took over `T1562` Impair Defenses (now revoked in favour of
//! `T1685`–`T1690`).
//!
//! ```
//! use vigil_core::attack::{AttackVersion, Catalog, TacticId, TechniqueId};
//!
//! let catalog = Catalog::current();
//! let id: TechniqueId = "T1059.001".parse()?;
//! let powershell = catalog.technique(id).ok_or("unknown technique")?;
//! assert_eq!(powershell.name(), "PowerShell");
//! assert_eq!(powershell.full_name(), "Command and Scripting Interpreter: PowerShell");
//! assert_eq!(powershell.parent(), Some("T1059".parse()?));
//! let tactics: Vec<TacticId> = powershell.tactics().map(|t| t.id()).collect();
//! assert_eq!(tactics, [TacticId::EXECUTION]);
//!
//! // Old ids, as still found in alert feeds, resolve to their replacement.
//! let old: TechniqueId = "T1086".parse()?;
//! assert_eq!(catalog.revoked_by(old), Some(id));
//! assert_eq!(catalog.resolve(old).map(|t| t.id()), Some(id));
//!
//! // Tactics by id, shortname or display name.
//! let stealth = catalog.tactic(TacticId::STEALTH).ok_or("unknown tactic")?;
//! assert_eq!(stealth.name(), "Stealth");
//! assert_eq!(catalog.tactic_by_name("Command and Control").map(|t| t.id()), Some(TacticId::COMMAND_AND_CONTROL));
//! let v18 = Catalog::for_version(AttackVersion::V18_1);
//! assert_eq!(v18.tactic(TacticId::DEFENSE_EVASION).map(|t| t.name()), Some("Defense Evasion"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Notice
//!
//! © 2026 The MITRE Corporation. This work is reproduced and distributed with the permission of
//! The MITRE Corporation.
//!
//! MITRE ATT&CK® and ATT&CK® are registered trademarks of The MITRE Corporation.

use std::fmt;
use std::str::FromStr;

use crate::Error;

// The generated tables: `V19_TACTICS`, `V19_TECHNIQUES`, `V19_REVOKED` and the same for `V18`.
include!(concat!(env!("OUT_DIR"), "/attack_data.rs"));

/// How many `revoked_by` links [`Catalog::resolve`] follows before giving up.
const MAX_RESOLVE_STEPS: usize = 32;

// ---------------------------------------------------------------------------------------------
// TacticId

/// An ATT&CK tactic id such as `TA0001` (Initial Access).
///
/// Parses from `TA` followed by exactly four digits (a lower-case `ta` and surrounding
/// whitespace are accepted), displays and serializes as the canonical `TA0001`. Ids order by
/// number, which is also their string order.
///
/// ```
/// use vigil_core::attack::TacticId;
///
/// let id: TacticId = " ta0002 ".parse()?;
/// assert_eq!(id, TacticId::EXECUTION);
/// assert_eq!(id.to_string(), "TA0002");
/// assert!("TA02".parse::<TacticId>().is_err());
/// # Ok::<(), vigil_core::Error>(())
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TacticId(u16);

impl TacticId {
    /// `TA0043` Reconnaissance.
    pub const RECONNAISSANCE: TacticId = TacticId(43);
    /// `TA0042` Resource Development.
    pub const RESOURCE_DEVELOPMENT: TacticId = TacticId(42);
    /// `TA0001` Initial Access.
    pub const INITIAL_ACCESS: TacticId = TacticId(1);
    /// `TA0002` Execution.
    pub const EXECUTION: TacticId = TacticId(2);
    /// `TA0003` Persistence.
    pub const PERSISTENCE: TacticId = TacticId(3);
    /// `TA0004` Privilege Escalation.
    pub const PRIVILEGE_ESCALATION: TacticId = TacticId(4);
    /// `TA0005` Stealth (ATT&CK v19 name; the same id as [`TacticId::DEFENSE_EVASION`]).
    pub const STEALTH: TacticId = TacticId(5);
    /// `TA0005` Defense Evasion (ATT&CK v18 name; the same id as [`TacticId::STEALTH`]).
    pub const DEFENSE_EVASION: TacticId = TacticId(5);
    /// `TA0112` Defense Impairment (new in ATT&CK v19).
    pub const DEFENSE_IMPAIRMENT: TacticId = TacticId(112);
    /// `TA0006` Credential Access.
    pub const CREDENTIAL_ACCESS: TacticId = TacticId(6);
    /// `TA0007` Discovery.
    pub const DISCOVERY: TacticId = TacticId(7);
    /// `TA0008` Lateral Movement.
    pub const LATERAL_MOVEMENT: TacticId = TacticId(8);
    /// `TA0009` Collection.
    pub const COLLECTION: TacticId = TacticId(9);
    /// `TA0010` Exfiltration.
    pub const EXFILTRATION: TacticId = TacticId(10);
    /// `TA0011` Command and Control.
    pub const COMMAND_AND_CONTROL: TacticId = TacticId(11);
    /// `TA0040` Impact.
    pub const IMPACT: TacticId = TacticId(40);

    /// The id's number: 1 for `TA0001`.
    pub const fn number(self) -> u16 {
        self.0
    }

    /// The id `TA` + `n` as four digits, or `None` when `n` is above 9999.
    pub const fn from_number(n: u16) -> Option<TacticId> {
        if n > 9999 { None } else { Some(TacticId(n)) }
    }
}

impl fmt::Display for TacticId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TA{:04}", self.0)
    }
}

impl FromStr for TacticId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = match s.trim().as_bytes() {
            [b'T' | b't', b'A' | b'a', rest @ ..] if rest.len() == 4 => digits(rest),
            _ => None,
        };
        parsed.map(TacticId).ok_or_else(|| {
            Error::invalid(
                "tactic id",
                s,
                "expected `TA` followed by exactly 4 digits, like TA0001",
            )
        })
    }
}

crate::serde_text::serde_as_text!(TacticId, "an ATT&CK tactic id like TA0001");

// ---------------------------------------------------------------------------------------------
// TechniqueId

/// An ATT&CK technique id such as `T1059`, or a sub-technique id such as `T1059.001`.
///
/// Parses from `T` followed by exactly four digits, optionally followed by `.` and exactly three
/// digits (a lower-case `t` and surrounding whitespace are accepted); displays and serializes in
/// that canonical form. Ids order like their strings: `T1001` < `T1001.001` < `T1002`.
///
/// ```
/// use vigil_core::attack::TechniqueId;
///
/// let id: TechniqueId = "t1059.001".parse()?;
/// assert_eq!(id.to_string(), "T1059.001");
/// assert_eq!(id, TechniqueId::from_parts(1059, Some(1)).ok_or("out of range")?);
/// assert!(id.is_sub_technique());
/// assert_eq!(id.parent().map(|p| p.to_string()).as_deref(), Some("T1059"));
/// assert!("T1059.01".parse::<TechniqueId>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TechniqueId {
    // Field order matters: the derived `Ord` compares the technique number first, then
    // `None` (the technique itself) before any sub-technique.
    technique: u16,
    sub: Option<u16>,
}

impl TechniqueId {
    /// The id of technique `technique` (`T` + four digits), or of its sub-technique `sub`
    /// (`.` + three digits). `None` when `technique` is above 9999 or `sub` above 999.
    pub const fn from_parts(technique: u16, sub: Option<u16>) -> Option<TechniqueId> {
        if technique > 9999 {
            return None;
        }
        match sub {
            Some(s) if s > 999 => None,
            _ => Some(TechniqueId { technique, sub }),
        }
    }

    /// The technique number: 1059 for both `T1059` and `T1059.001`.
    pub const fn number(self) -> u16 {
        self.technique
    }

    /// The sub-technique number: `Some(1)` for `T1059.001`, `None` for `T1059`.
    pub const fn sub_number(self) -> Option<u16> {
        self.sub
    }

    /// For a sub-technique, the id of its top-level technique (`T1059` for `T1059.001`);
    /// `None` for a top-level technique.
    pub const fn parent(self) -> Option<TechniqueId> {
        match self.sub {
            Some(_) => Some(TechniqueId {
                technique: self.technique,
                sub: None,
            }),
            None => None,
        }
    }

    /// Whether this is a sub-technique id (`T1059.001`) rather than a technique id (`T1059`).
    pub const fn is_sub_technique(self) -> bool {
        self.sub.is_some()
    }
}

impl fmt::Display for TechniqueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.sub {
            Some(sub) => write!(f, "T{:04}.{sub:03}", self.technique),
            None => write!(f, "T{:04}", self.technique),
        }
    }
}

impl FromStr for TechniqueId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parse = |b: &[u8]| -> Option<TechniqueId> {
            let [b'T' | b't', rest @ ..] = b else {
                return None;
            };
            let (number, tail) = rest.split_at_checked(4)?;
            let technique = digits(number)?;
            let sub = match tail {
                [] => None,
                [b'.', sub @ ..] if sub.len() == 3 => Some(digits(sub)?),
                _ => return None,
            };
            Some(TechniqueId { technique, sub })
        };
        parse(s.trim().as_bytes()).ok_or_else(|| {
            Error::invalid(
                "technique id",
                s,
                "expected `T` followed by exactly 4 digits, optionally followed by `.` and exactly \
                 3 digits, like T1059 or T1059.001",
            )
        })
    }
}

crate::serde_text::serde_as_text!(
    TechniqueId,
    "an ATT&CK technique id like T1059 or T1059.001"
);

/// The value of a non-empty run of ASCII digits (at most 4, so it fits a `u16`).
fn digits(bytes: &[u8]) -> Option<u16> {
    if bytes.is_empty() || bytes.len() > 4 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(bytes.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0')))
}

// ---------------------------------------------------------------------------------------------
// AttackVersion

/// An ATT&CK Enterprise release embedded in the crate.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AttackVersion {
    /// ATT&CK v18.1 (November 2025): 14 tactics, `TA0005` is Defense Evasion.
    V18_1,
    /// ATT&CK v19.1 (May 2026): 15 tactics, `TA0005` is Stealth and `TA0112` Defense Impairment
    /// is new.
    V19_1,
}

impl AttackVersion {
    /// The newest embedded release, used by [`Catalog::current`].
    pub const CURRENT: AttackVersion = AttackVersion::V19_1;

    /// Every embedded release, oldest first.
    pub const ALL: [AttackVersion; 2] = [AttackVersion::V18_1, AttackVersion::V19_1];
}

impl fmt::Display for AttackVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AttackVersion::V18_1 => "18.1",
            AttackVersion::V19_1 => "19.1",
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Tactic and Technique

/// An ATT&CK tactic (a column of the Enterprise matrix), as listed in one release.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Tactic {
    id: TacticId,
    shortname: &'static str,
    name: &'static str,
    matrix_order: u8,
}

impl Tactic {
    /// The tactic's id, e.g. `TA0002`.
    pub fn id(&self) -> TacticId {
        self.id
    }

    /// The tactic's shortname (ATT&CK's `x_mitre_shortname`), e.g. `command-and-control`.
    pub fn shortname(&self) -> &'static str {
        self.shortname
    }

    /// The tactic's display name, e.g. `Command and Control`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The tactic's 1-based column in the Enterprise matrix (1 is Reconnaissance).
    pub fn matrix_order(&self) -> u8 {
        self.matrix_order
    }
}

/// An ATT&CK technique or sub-technique, as listed in one release (revoked and deprecated
/// entries included, and flagged).
#[derive(Debug, PartialEq, Eq)]
pub struct Technique {
    version: AttackVersion,
    id: TechniqueId,
    name: &'static str,
    parent: Option<TechniqueId>,
    /// Indices into the release's tactic table, ascending (that is, in matrix order).
    tactics: &'static [u8],
    platforms: &'static [&'static str],
    deprecated: bool,
    revoked: bool,
}

impl Technique {
    /// The technique's id, e.g. `T1059.001`.
    pub fn id(&self) -> TechniqueId {
        self.id
    }

    /// The technique's own name: `PowerShell` for `T1059.001`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The name as ATT&CK's web pages show it: for a sub-technique, the parent's name, `: ` and
    /// its own name (`Command and Scripting Interpreter: PowerShell`); for a technique, its name.
    pub fn full_name(&self) -> String {
        match self
            .parent
            .and_then(|p| Catalog::for_version(self.version).technique(p))
        {
            Some(parent) => format!("{}: {}", parent.name, self.name),
            None => self.name.to_owned(),
        }
    }

    /// For a sub-technique, its parent technique's id; `None` for a top-level technique.
    pub fn parent(&self) -> Option<TechniqueId> {
        self.parent
    }

    /// The tactics the technique belongs to, in matrix order, from the same release.
    pub fn tactics(&self) -> impl Iterator<Item = &'static Tactic> + use<> {
        let table = Catalog::for_version(self.version).tactics;
        self.tactics
            .iter()
            .filter_map(move |&i| table.get(usize::from(i)))
    }

    /// The platforms the technique applies to, e.g. `["Windows", "Linux", "macOS"]`.
    pub fn platforms(&self) -> &'static [&'static str] {
        self.platforms
    }

    /// Whether ATT&CK revoked the technique (replaced it; see [`Catalog::revoked_by`]).
    pub fn is_revoked(&self) -> bool {
        self.revoked
    }

    /// Whether ATT&CK deprecated the technique (no longer maintained, no replacement).
    pub fn is_deprecated(&self) -> bool {
        self.deprecated
    }

    /// Whether the technique is current: neither revoked nor deprecated.
    pub fn is_active(&self) -> bool {
        !self.revoked && !self.deprecated
    }

    /// The release this entry comes from.
    pub fn version(&self) -> AttackVersion {
        self.version
    }
}

// ---------------------------------------------------------------------------------------------
// Catalog

/// The tactics and techniques of one ATT&CK Enterprise release, compiled into the crate.
///
/// Get one with [`Catalog::current`] or [`Catalog::for_version`]; lookups borrow from static
/// data and never allocate.
pub struct Catalog {
    version: AttackVersion,
    tactics: &'static [Tactic],
    techniques: &'static [Technique],
    revoked: &'static [(TechniqueId, TechniqueId)],
}

static V19_CATALOG: Catalog = Catalog {
    version: AttackVersion::V19_1,
    tactics: V19_TACTICS,
    techniques: V19_TECHNIQUES,
    revoked: V19_REVOKED,
};

static V18_CATALOG: Catalog = Catalog {
    version: AttackVersion::V18_1,
    tactics: V18_TACTICS,
    techniques: V18_TECHNIQUES,
    revoked: V18_REVOKED,
};

impl Catalog {
    /// The catalog of the current release, [`AttackVersion::CURRENT`] (v19.1).
    pub fn current() -> &'static Catalog {
        Catalog::for_version(AttackVersion::CURRENT)
    }

    /// The catalog of release `v`.
    pub fn for_version(v: AttackVersion) -> &'static Catalog {
        match v {
            AttackVersion::V18_1 => &V18_CATALOG,
            AttackVersion::V19_1 => &V19_CATALOG,
        }
    }

    /// The release this catalog describes.
    pub fn version(&self) -> AttackVersion {
        self.version
    }

    /// All tactics, in matrix order (Reconnaissance first, Impact last).
    pub fn tactics(&self) -> impl ExactSizeIterator<Item = &'static Tactic> + use<> {
        self.tactics.iter()
    }

    /// The tactic with id `id`, if this release has it.
    pub fn tactic(&self, id: TacticId) -> Option<&'static Tactic> {
        self.tactics.iter().find(|t| t.id == id)
    }

    /// The tactic with this shortname (`command-and-control`). The comparison ignores case,
    /// whitespace, `-` and `_`, so `Command_And_Control` matches too.
    pub fn tactic_by_shortname(&self, shortname: &str) -> Option<&'static Tactic> {
        self.tactics
            .iter()
            .find(|t| loosely_equal(t.shortname, shortname))
    }

    /// The tactic with this display name (`Command and Control`). The comparison ignores case,
    /// whitespace, `-` and `_`, so `command-and-control` and `CommandAndControl` match too.
    ///
    /// Names are those of this release: in v19 `Defense Evasion` is not found (it is `Stealth`);
    /// use the v18.1 catalog for old names.
    pub fn tactic_by_name(&self, name: &str) -> Option<&'static Tactic> {
        self.tactics.iter().find(|t| loosely_equal(t.name, name))
    }

    /// The technique or sub-technique with id `id`, including revoked and deprecated ones.
    pub fn technique(&self, id: TechniqueId) -> Option<&'static Technique> {
        let techniques = self.techniques;
        techniques
            .binary_search_by_key(&id, |t| t.id)
            .ok()
            .and_then(|i| techniques.get(i))
    }

    /// All techniques and sub-techniques (revoked and deprecated ones included), sorted by id.
    pub fn techniques(
        &self,
    ) -> impl ExactSizeIterator<Item = &'static Technique> + DoubleEndedIterator + use<> {
        self.techniques.iter()
    }

    /// For a revoked technique, the id ATT&CK replaced it with (which may itself be revoked;
    /// see [`Catalog::resolve`]). `None` for techniques that are not revoked or unknown.
    pub fn revoked_by(&self, id: TechniqueId) -> Option<TechniqueId> {
        let revoked = self.revoked;
        revoked
            .binary_search_by_key(&id, |&(old, _)| old)
            .ok()
            .and_then(|i| revoked.get(i))
            .map(|&(_, new)| new)
    }

    /// The technique `id` stands for today: the technique itself if it is not revoked,
    /// otherwise its replacement, following [`Catalog::revoked_by`] until a technique that is
    /// not revoked. `None` if `id` is unknown, or is revoked without a known replacement.
    ///
    /// A deprecated technique resolves to itself (it has no replacement).
    pub fn resolve(&self, id: TechniqueId) -> Option<&'static Technique> {
        let mut technique = self.technique(id)?;
        for _ in 0..MAX_RESOLVE_STEPS {
            if !technique.revoked {
                return Some(technique);
            }
            technique = self.technique(self.revoked_by(technique.id)?)?;
        }
        None
    }
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog")
            .field("version", &self.version)
            .field("tactics", &self.tactics.len())
            .field("techniques", &self.techniques.len())
            .field("revoked", &self.revoked.len())
            .finish()
    }
}

/// Compares two names ignoring case, whitespace, `-` and `_`.
fn loosely_equal(a: &str, b: &str) -> bool {
    fn fold(s: &str) -> impl Iterator<Item = char> + '_ {
        s.chars()
            .filter(|c| !(c.is_whitespace() || *c == '-' || *c == '_'))
            .flat_map(char::to_lowercase)
    }
    fold(a).eq(fold(b))
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests;
