//! Defender's kill-chain intent and its mapping to MITRE ATT&CK tactics.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;
use crate::attack::{AttackVersion, Catalog, TacticId};

/// The kill-chain intent Defender assigns to an alert (its `intent` property).
///
/// Defender marks this enum as open-ended, so an unrecognised value is kept as
/// [`KillChainIntent::Other`] and written back unchanged, never rejected. Parsing accepts the
/// spellings seen in the wild: case, spaces, `-` and `_` are ignored, so `"Defense Evasion"`,
/// `"Pre-Attack"` and `"Initial access"` all parse.
///
/// ```
/// use vigil_core::KillChainIntent;
/// use vigil_core::attack::TacticId;
///
/// let intent: KillChainIntent = "Defense Evasion".parse()?;
/// assert_eq!(intent, KillChainIntent::DefenseEvasion);
/// // In ATT&CK v19 Defense Evasion became two tactics.
/// assert_eq!(intent.tactics(), &[TacticId::STEALTH, TacticId::DEFENSE_IMPAIRMENT]);
///
/// // Values outside Defender's list are kept.
/// let other: KillChainIntent = "Impact (Defacement)".parse()?;
/// assert_eq!(other.to_string(), "Impact (Defacement)");
///
/// // Kill-chain order: earlier stages compare lower.
/// assert!(KillChainIntent::InitialAccess.stage() < KillChainIntent::Impact.stage());
/// # Ok::<(), vigil_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KillChainIntent {
    /// Defender could not tell.
    Unknown,
    /// Reconnaissance before an attack, usually a scan from outside the network.
    PreAttack,
    /// Getting a foothold on the attacked resource.
    InitialAccess,
    /// Keeping access across restarts and changed credentials.
    Persistence,
    /// Gaining higher-level permissions.
    PrivilegeEscalation,
    /// Avoiding detection (ATT&CK v19: Stealth and Defense Impairment).
    DefenseEvasion,
    /// Stealing account names and passwords.
    CredentialAccess,
    /// Learning about the environment.
    Discovery,
    /// Moving through the environment.
    LateralMovement,
    /// Running malicious code.
    Execution,
    /// Gathering data of interest.
    Collection,
    /// Stealing data.
    Exfiltration,
    /// Communicating with compromised systems to control them.
    CommandAndControl,
    /// Manipulating, interrupting or destroying systems and data.
    Impact,
    /// Legacy synonym of [`KillChainIntent::PreAttack`].
    Probing,
    /// Legacy synonym of [`KillChainIntent::InitialAccess`], for compute hosts and accounts.
    Exploitation,
    /// A value outside Defender's list, kept verbatim (for example an ATT&CK tactic name such as
    /// `"Reconnaissance"`).
    Other(String),
}

use KillChainIntent as K;

/// The 16 named values, in Defender's (swagger) order.
const NAMED: [KillChainIntent; 16] = [
    K::Unknown,
    K::PreAttack,
    K::InitialAccess,
    K::Persistence,
    K::PrivilegeEscalation,
    K::DefenseEvasion,
    K::CredentialAccess,
    K::Discovery,
    K::LateralMovement,
    K::Execution,
    K::Collection,
    K::Exfiltration,
    K::CommandAndControl,
    K::Impact,
    K::Probing,
    K::Exploitation,
];

impl KillChainIntent {
    /// Defender's 16 named values, in the order the API lists them.
    pub fn named() -> &'static [KillChainIntent] {
        &NAMED
    }

    /// The canonical spelling (`"DefenseEvasion"`), or the kept text of an
    /// [`KillChainIntent::Other`].
    pub fn as_str(&self) -> &str {
        match self {
            K::Unknown => "Unknown",
            K::PreAttack => "PreAttack",
            K::InitialAccess => "InitialAccess",
            K::Persistence => "Persistence",
            K::PrivilegeEscalation => "PrivilegeEscalation",
            K::DefenseEvasion => "DefenseEvasion",
            K::CredentialAccess => "CredentialAccess",
            K::Discovery => "Discovery",
            K::LateralMovement => "LateralMovement",
            K::Execution => "Execution",
            K::Collection => "Collection",
            K::Exfiltration => "Exfiltration",
            K::CommandAndControl => "CommandAndControl",
            K::Impact => "Impact",
            K::Probing => "Probing",
            K::Exploitation => "Exploitation",
            K::Other(s) => s,
        }
    }

    /// Position in the kill chain, as Defender's documentation orders it (aligned to ATT&CK):
    /// PreAttack 1, InitialAccess 2, Persistence 3, PrivilegeEscalation 4, DefenseEvasion 5,
    /// CredentialAccess 6, Discovery 7, LateralMovement 8, Execution 9, Collection 10,
    /// CommandAndControl 11, Exfiltration 12, Impact 13. The legacy Probing and Exploitation
    /// share the stage of PreAttack and InitialAccess. Unknown has stage 0; an
    /// [`KillChainIntent::Other`] that names an ATT&CK tactic takes the stage of the nearest
    /// Defender intent, anything else 0.
    pub fn stage(&self) -> u8 {
        match self {
            K::Unknown => 0,
            K::PreAttack | K::Probing => 1,
            K::InitialAccess | K::Exploitation => 2,
            K::Persistence => 3,
            K::PrivilegeEscalation => 4,
            K::DefenseEvasion => 5,
            K::CredentialAccess => 6,
            K::Discovery => 7,
            K::LateralMovement => 8,
            K::Execution => 9,
            K::Collection => 10,
            K::CommandAndControl => 11,
            K::Exfiltration => 12,
            K::Impact => 13,
            K::Other(name) => other_stage(name),
        }
    }

    /// The ATT&CK v19 tactics this intent is, exactly. Empty for intents that ATT&CK has no
    /// tactic for (Unknown, PreAttack, Probing, Exploitation); see
    /// [`KillChainIntent::nearest_tactics`]. An [`KillChainIntent::Other`] naming an ATT&CK
    /// tactic (`"Reconnaissance"`, `"Stealth"`) maps to it.
    ///
    /// DefenseEvasion maps to TA0005 Stealth **and** TA0112 Defense Impairment, the two tactics
    /// v19 split it into.
    pub fn tactics(&self) -> &'static [TacticId] {
        self.tactics_in(AttackVersion::CURRENT)
    }

    /// Like [`KillChainIntent::tactics`] for a given ATT&CK version: in v18.1, DefenseEvasion is
    /// the single tactic TA0005 "Defense Evasion".
    pub fn tactics_in(&self, version: AttackVersion) -> &'static [TacticId] {
        use TacticId as T;
        match self {
            K::Unknown | K::PreAttack | K::Probing | K::Exploitation => &[],
            K::InitialAccess => &[T::INITIAL_ACCESS],
            K::Persistence => &[T::PERSISTENCE],
            K::PrivilegeEscalation => &[T::PRIVILEGE_ESCALATION],
            K::DefenseEvasion => match version {
                AttackVersion::V18_1 => &[T::DEFENSE_EVASION],
                AttackVersion::V19_1 => &[T::STEALTH, T::DEFENSE_IMPAIRMENT],
            },
            K::CredentialAccess => &[T::CREDENTIAL_ACCESS],
            K::Discovery => &[T::DISCOVERY],
            K::LateralMovement => &[T::LATERAL_MOVEMENT],
            K::Execution => &[T::EXECUTION],
            K::Collection => &[T::COLLECTION],
            K::Exfiltration => &[T::EXFILTRATION],
            K::CommandAndControl => &[T::COMMAND_AND_CONTROL],
            K::Impact => &[T::IMPACT],
            K::Other(name) => other_tactic(name, version),
        }
    }

    /// The exact tactics if there are any, otherwise the nearest one: PreAttack and Probing →
    /// TA0043 Reconnaissance, Exploitation → TA0001 Initial Access. Unknown (and an
    /// unrecognised [`KillChainIntent::Other`]) has none.
    pub fn nearest_tactics(&self) -> &'static [TacticId] {
        match self {
            K::PreAttack | K::Probing => &[TacticId::RECONNAISSANCE],
            K::Exploitation => &[TacticId::INITIAL_ACCESS],
            _ => self.tactics(),
        }
    }
}

fn other_tactic(name: &str, version: AttackVersion) -> &'static [TacticId] {
    let catalog = Catalog::for_version(version);
    let Some(tactic) = catalog.tactic_by_name(name) else {
        return &[];
    };
    let id = tactic.id();
    // Return a 'static slice: the tactic ids are few and known.
    ALL_TACTIC_IDS
        .iter()
        .position(|t| *t == id)
        .map(|i| &ALL_TACTIC_IDS[i..=i])
        .unwrap_or(&[])
}

const ALL_TACTIC_IDS: [TacticId; 15] = [
    TacticId::RECONNAISSANCE,
    TacticId::RESOURCE_DEVELOPMENT,
    TacticId::INITIAL_ACCESS,
    TacticId::EXECUTION,
    TacticId::PERSISTENCE,
    TacticId::PRIVILEGE_ESCALATION,
    TacticId::STEALTH,
    TacticId::DEFENSE_IMPAIRMENT,
    TacticId::CREDENTIAL_ACCESS,
    TacticId::DISCOVERY,
    TacticId::LATERAL_MOVEMENT,
    TacticId::COLLECTION,
    TacticId::COMMAND_AND_CONTROL,
    TacticId::EXFILTRATION,
    TacticId::IMPACT,
];

fn other_stage(name: &str) -> u8 {
    use TacticId as T;
    match other_tactic(name, AttackVersion::CURRENT).first().copied() {
        Some(T::RECONNAISSANCE) | Some(T::RESOURCE_DEVELOPMENT) => 1,
        Some(T::INITIAL_ACCESS) => 2,
        Some(T::PERSISTENCE) => 3,
        Some(T::PRIVILEGE_ESCALATION) => 4,
        Some(T::STEALTH) | Some(T::DEFENSE_IMPAIRMENT) => 5,
        Some(T::CREDENTIAL_ACCESS) => 6,
        Some(T::DISCOVERY) => 7,
        Some(T::LATERAL_MOVEMENT) => 8,
        Some(T::EXECUTION) => 9,
        Some(T::COLLECTION) => 10,
        Some(T::COMMAND_AND_CONTROL) => 11,
        Some(T::EXFILTRATION) => 12,
        Some(T::IMPACT) => 13,
        _ => 0,
    }
}

fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_'))
        .flat_map(char::to_lowercase)
        .collect()
}

impl FromStr for KillChainIntent {
    type Err = Error;

    /// Never fails for non-empty text: unrecognised values become [`KillChainIntent::Other`]
    /// (trimmed). Empty or blank text is an error.
    fn from_str(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        if t.is_empty() {
            return Err(Error::invalid(
                "kill-chain intent",
                s,
                "expected an intent such as Execution",
            ));
        }
        let key = squash(t);
        Ok(NAMED
            .iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(&key))
            .cloned()
            .unwrap_or_else(|| K::Other(t.to_owned())))
    }
}

/// Parse Defender's `intent` text, which may list several intents separated by commas
/// (`"Persistence, PrivilegeEscalation"`). Blank items and the placeholder `-` are skipped.
pub fn parse_intents(text: &str) -> Vec<KillChainIntent> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty() && *t != "-")
        .filter_map(|t| t.parse().ok())
        .collect()
}

/// The inverse of [`parse_intents`]: intents joined with `", "`.
pub fn format_intents(intents: &[KillChainIntent]) -> String {
    let names: Vec<&str> = intents.iter().map(KillChainIntent::as_str).collect();
    names.join(", ")
}

impl fmt::Display for KillChainIntent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for KillChainIntent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for KillChainIntent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn spellings_seen_in_the_wild() {
        for (text, want) in [
            ("Pre-Attack", K::PreAttack),
            ("PreAttack", K::PreAttack),
            ("Pre Attack", K::PreAttack),
            ("Pre-attack", K::PreAttack),
            ("Defense Evasion", K::DefenseEvasion),
            ("Initial access", K::InitialAccess),
            ("Command And Control", K::CommandAndControl),
            ("Command and Control", K::CommandAndControl),
            ("Lateral movement", K::LateralMovement),
            ("Privilege escalation", K::PrivilegeEscalation),
            ("Credential access", K::CredentialAccess),
        ] {
            assert_eq!(text.parse::<KillChainIntent>().ok(), Some(want), "{text}");
        }
        for kept in ["Impact (Defacement)", "Defense Execution", "Reconnaissance"] {
            assert_eq!(
                kept.parse::<KillChainIntent>().ok(),
                Some(K::Other(kept.into()))
            );
        }
        assert!("  ".parse::<KillChainIntent>().is_err());
    }

    #[test]
    fn lists_split_on_commas() {
        assert_eq!(
            parse_intents("Persistence, Privilege Escalation,,-"),
            vec![K::Persistence, K::PrivilegeEscalation]
        );
        assert_eq!(
            format_intents(&[K::Persistence, K::PrivilegeEscalation]),
            "Persistence, PrivilegeEscalation"
        );
    }

    #[test]
    fn tactic_mapping() {
        use TacticId as T;
        assert_eq!(
            K::DefenseEvasion.tactics(),
            &[T::STEALTH, T::DEFENSE_IMPAIRMENT]
        );
        assert_eq!(
            K::DefenseEvasion.tactics_in(AttackVersion::V18_1),
            &[T::DEFENSE_EVASION]
        );
        assert!(K::PreAttack.tactics().is_empty());
        assert_eq!(K::PreAttack.nearest_tactics(), &[T::RECONNAISSANCE]);
        assert_eq!(K::Probing.nearest_tactics(), &[T::RECONNAISSANCE]);
        assert!(K::Exploitation.tactics().is_empty());
        assert_eq!(K::Exploitation.nearest_tactics(), &[T::INITIAL_ACCESS]);
        assert!(K::Unknown.nearest_tactics().is_empty());
        assert_eq!(
            K::Other("Reconnaissance".into()).tactics(),
            &[T::RECONNAISSANCE]
        );
        assert_eq!(K::Other("Stealth".into()).stage(), 5);
        assert!(K::Other("Nonsense".into()).tactics().is_empty());
        // Every named intent's exact tactics exist in the catalog of that version.
        for version in [AttackVersion::V18_1, AttackVersion::V19_1] {
            for intent in KillChainIntent::named() {
                for t in intent.tactics_in(version) {
                    assert!(
                        Catalog::for_version(version).tactic(*t).is_some(),
                        "{intent} {t}"
                    );
                }
            }
        }
    }

    #[test]
    fn stages_follow_the_documented_kill_chain() {
        let documented = [
            K::PreAttack,
            K::InitialAccess,
            K::Persistence,
            K::PrivilegeEscalation,
            K::DefenseEvasion,
            K::CredentialAccess,
            K::Discovery,
            K::LateralMovement,
            K::Execution,
            K::Collection,
            K::CommandAndControl,
            K::Exfiltration,
            K::Impact,
        ];
        for pair in documented.windows(2) {
            assert!(pair[0].stage() < pair[1].stage(), "{} {}", pair[0], pair[1]);
        }
        assert_eq!(K::Probing.stage(), K::PreAttack.stage());
        assert_eq!(K::Exploitation.stage(), K::InitialAccess.stage());
        assert_eq!(K::Unknown.stage(), 0);
    }

    proptest! {
        #[test]
        fn display_parses_back(i in 0usize..16, upper in any::<bool>()) {
            let intent = NAMED[i].clone();
            let text = if upper { intent.as_str().to_uppercase() } else { intent.to_string() };
            prop_assert_eq!(text.parse::<KillChainIntent>().ok(), Some(intent));
        }

        #[test]
        fn any_text_is_kept(s in "[A-Za-z][A-Za-z ()]{0,20}") {
            let parsed = s.parse::<KillChainIntent>().map_err(|e| TestCaseError::fail(e.to_string()))?;
            // Re-parsing the written form gives the same intent: nothing is lost.
            prop_assert_eq!(parsed.to_string().parse::<KillChainIntent>().ok(), Some(parsed));
        }
    }
}
