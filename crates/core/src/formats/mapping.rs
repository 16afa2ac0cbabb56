//! The one mapping of severities, statuses and kill-chain intents between Vigil and the
//! exchange formats (OCSF 1.8, CEF 0, ASFF 2018-10-08, Microsoft Graph security alert v2), in
//! both directions. Every format module uses these functions; none keeps a table of its own.
//!
//! ```
//! use vigil_core::formats::mapping;
//! use vigil_core::{KillChainIntent, Severity, Status};
//!
//! assert_eq!(mapping::severity_from_ocsf_id(5), Some(Severity::High)); // Critical
//! assert_eq!(mapping::severity_from_asff_label("critical"), Some(Severity::High));
//! assert_eq!(mapping::severity_from_cef("9"), Some(Severity::High));
//! assert_eq!(mapping::status_from_asff_workflow("SUPPRESSED"), Some(Status::Dismissed));
//! assert_eq!(mapping::intent_from_tactic("Reconnaissance"), Some(KillChainIntent::PreAttack));
//! assert_eq!(mapping::intent_from_tactic("TA0002"), Some(KillChainIntent::Execution));
//! ```
//!
//! Reverse mappings that cannot be exact are documented on each function and in
//! `docs/formats.md`.

use crate::attack::{AttackVersion, Catalog, Tactic, TacticId};
use crate::{KillChainIntent, Severity, Status};

// ---------------------------------------------------------------------------------------------
// Severity

/// OCSF `severity_id` of a severity: 1 Informational, 2 Low, 3 Medium, 4 High.
pub const fn severity_to_ocsf_id(s: Severity) -> u8 {
    s.ocsf_severity_id()
}

/// The OCSF caption of a `severity_id` (`"Critical"` for 5), or `None` for ids OCSF does not
/// define.
pub fn ocsf_severity_caption(id: i64) -> Option<&'static str> {
    Some(match id {
        0 => "Unknown",
        1 => "Informational",
        2 => "Low",
        3 => "Medium",
        4 => "High",
        5 => "Critical",
        6 => "Fatal",
        99 => "Other",
        _ => return None,
    })
}

/// The severity of an OCSF `severity_id`: 1–4 map one to one, 5 Critical and 6 Fatal become
/// High (Vigil's highest). 0 Unknown, 99 Other and undefined ids give `None`; the importer then
/// reads the `severity` caption, and failing that uses Informational (see `docs/formats.md`).
pub const fn severity_from_ocsf_id(id: i64) -> Option<Severity> {
    match id {
        1 => Some(Severity::Informational),
        2 => Some(Severity::Low),
        3 => Some(Severity::Medium),
        4..=6 => Some(Severity::High),
        _ => None,
    }
}

/// CEF header severity (0–10) of a severity: 1, 3, 5, 8 (see [`Severity`]).
pub const fn severity_to_cef(s: Severity) -> u8 {
    s.cef_severity()
}

/// The severity of a CEF header severity: an integer 0–10 by the standard's bands (0–3 Low,
/// 4–6 Medium, 7–8 High, 9–10 Very-High → High; 0–1 read as Informational, the value Vigil
/// writes for it) or one of the standard's strings `Low`, `Medium`, `High`, `Very-High`.
/// `Unknown` and anything else give `None`.
pub fn severity_from_cef(text: &str) -> Option<Severity> {
    let t = text.trim();
    if let Ok(n) = t.parse::<u8>() {
        return match n {
            0..=1 => Some(Severity::Informational),
            2..=3 => Some(Severity::Low),
            4..=6 => Some(Severity::Medium),
            7..=10 => Some(Severity::High),
            _ => None,
        };
    }
    match t.to_ascii_lowercase().as_str() {
        "low" => Some(Severity::Low),
        "medium" => Some(Severity::Medium),
        "high" | "very-high" | "veryhigh" | "very high" => Some(Severity::High),
        _ => None,
    }
}

/// ASFF `Severity.Label` of a severity.
pub const fn severity_to_asff_label(s: Severity) -> &'static str {
    s.asff_label()
}

/// ASFF `Severity.Normalized` (deprecated, 0–100) of a severity: the lower bound of its label's
/// band (0, 1, 40, 70), as the ASFF documentation pairs labels and numbers.
pub const fn severity_to_asff_normalized(s: Severity) -> u8 {
    match s {
        Severity::Informational => 0,
        Severity::Low => 1,
        Severity::Medium => 40,
        Severity::High => 70,
    }
}

/// The severity of an ASFF `Severity.Label` (any case); `CRITICAL` becomes High.
pub fn severity_from_asff_label(label: &str) -> Option<Severity> {
    match label.trim().to_ascii_uppercase().as_str() {
        "INFORMATIONAL" => Some(Severity::Informational),
        "LOW" => Some(Severity::Low),
        "MEDIUM" => Some(Severity::Medium),
        "HIGH" | "CRITICAL" => Some(Severity::High),
        _ => None,
    }
}

/// The severity of an ASFF `Severity.Normalized` (0–100), by the documented bands: 0
/// Informational, 1–39 Low, 40–69 Medium, 70–100 High (90–100 is Critical in ASFF).
pub const fn severity_from_asff_normalized(n: i64) -> Option<Severity> {
    match n {
        0 => Some(Severity::Informational),
        1..=39 => Some(Severity::Low),
        40..=69 => Some(Severity::Medium),
        70..=100 => Some(Severity::High),
        _ => None,
    }
}

/// Microsoft Graph `alertSeverity` of a severity (lower case).
pub const fn severity_to_graph(s: Severity) -> &'static str {
    match s {
        Severity::Informational => "informational",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
    }
}

/// The severity of a Graph `alertSeverity`; `unknown` and `unknownFutureValue` give `None`.
pub fn severity_from_graph(text: &str) -> Option<Severity> {
    match text.trim().to_ascii_lowercase().as_str() {
        "informational" => Some(Severity::Informational),
        "low" => Some(Severity::Low),
        "medium" => Some(Severity::Medium),
        "high" => Some(Severity::High),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Status

/// OCSF finding `status_id` of a status: Active 1 New, InProgress 2 In Progress, Dismissed 3
/// Suppressed, Resolved 4 Resolved.
pub const fn status_to_ocsf_id(s: Status) -> u8 {
    match s {
        Status::Active => 1,
        Status::InProgress => 2,
        Status::Dismissed => 3,
        Status::Resolved => 4,
    }
}

/// The OCSF caption of a finding `status_id`.
pub fn ocsf_status_caption(id: i64) -> Option<&'static str> {
    Some(match id {
        0 => "Unknown",
        1 => "New",
        2 => "In Progress",
        3 => "Suppressed",
        4 => "Resolved",
        5 => "Archived",
        6 => "Deleted",
        99 => "Other",
        _ => return None,
    })
}

/// The status of an OCSF finding `status_id`: 1 → Active, 2 → InProgress, 3 → Dismissed,
/// 4 → Resolved, 5 Archived → Resolved (closed, kept for the record), 6 Deleted → Dismissed
/// (created in error). 0 Unknown, 99 Other and undefined ids give `None` (the importer then
/// reads the `status` caption, and failing that uses Active: a finding nobody has closed).
pub const fn status_from_ocsf_id(id: i64) -> Option<Status> {
    match id {
        1 => Some(Status::Active),
        2 => Some(Status::InProgress),
        3 | 6 => Some(Status::Dismissed),
        4 | 5 => Some(Status::Resolved),
        _ => None,
    }
}

/// ASFF `Workflow.Status` of a status: Active NEW, InProgress NOTIFIED, Resolved RESOLVED,
/// Dismissed SUPPRESSED. NOTIFIED ("the resource owner was told") is the nearest ASFF state to
/// "someone is handling it".
pub const fn status_to_asff_workflow(s: Status) -> &'static str {
    match s {
        Status::Active => "NEW",
        Status::InProgress => "NOTIFIED",
        Status::Resolved => "RESOLVED",
        Status::Dismissed => "SUPPRESSED",
    }
}

/// The status of an ASFF `Workflow.Status` (any case), or of the older `WorkflowState`
/// (`ASSIGNED`, `IN_PROGRESS` → InProgress; `DEFERRED` → Dismissed).
pub fn status_from_asff_workflow(text: &str) -> Option<Status> {
    match text.trim().to_ascii_uppercase().as_str() {
        "NEW" => Some(Status::Active),
        "NOTIFIED" | "ASSIGNED" | "IN_PROGRESS" => Some(Status::InProgress),
        "RESOLVED" => Some(Status::Resolved),
        "SUPPRESSED" | "DEFERRED" => Some(Status::Dismissed),
        _ => None,
    }
}

/// Microsoft Graph `status` and, for Dismissed, `classification` of a status. Graph has no
/// dismissed state: a dismissed alert is `resolved` with classification `falsePositive`.
pub const fn status_to_graph(s: Status) -> (&'static str, Option<&'static str>) {
    match s {
        Status::Active => ("new", None),
        Status::InProgress => ("inProgress", None),
        Status::Resolved => ("resolved", None),
        Status::Dismissed => ("resolved", Some("falsePositive")),
    }
}

/// The status of a Graph `status` and `classification`: `new` → Active, `inProgress` →
/// InProgress, `resolved` → Resolved, or Dismissed when classified `falsePositive` or
/// `informationalExpectedActivity`. `unknown` and unknown values give `None`.
pub fn status_from_graph(status: &str, classification: Option<&str>) -> Option<Status> {
    match status.trim().to_ascii_lowercase().as_str() {
        "new" => Some(Status::Active),
        "inprogress" => Some(Status::InProgress),
        "resolved" => {
            let dismissed = classification.is_some_and(|c| {
                c.eq_ignore_ascii_case("falsePositive")
                    || c.eq_ignore_ascii_case("informationalExpectedActivity")
            });
            Some(if dismissed {
                Status::Dismissed
            } else {
                Status::Resolved
            })
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Kill-chain intent and ATT&CK tactics

/// The ATT&CK tactics of an intent in the current catalog, for formats that name tactics: the
/// exact ones ([`KillChainIntent::tactics`]), or the nearest for the pre-ATT&CK intents
/// (PreAttack and Probing → TA0043 Reconnaissance, Exploitation → TA0001 Initial Access).
pub fn tactics_of(intent: &KillChainIntent) -> Vec<&'static Tactic> {
    let catalog = Catalog::current();
    intent
        .nearest_tactics()
        .iter()
        .filter_map(|id| catalog.tactic(*id))
        .collect()
}

/// The intent of an ATT&CK tactic, given by id (`TA0043`), display name (`Reconnaissance`,
/// any case and spacing) or shortname (`command-and-control`), in either embedded ATT&CK
/// release. Reconnaissance and Resource Development become PreAttack (Defender's intent for
/// activity before the attack); TA0005 (Defense Evasion, v19 Stealth) and TA0112 Defense
/// Impairment become DefenseEvasion; every other tactic has an intent of the same name. Text
/// that is a Defender intent name (`PreAttack`, `Probing`) is read as that intent. `None` for
/// anything else.
pub fn intent_from_tactic(text: &str) -> Option<KillChainIntent> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    let id = if let Ok(id) = t.parse::<TacticId>() {
        Some(id)
    } else {
        AttackVersion::ALL.iter().rev().find_map(|v| {
            let c = Catalog::for_version(*v);
            c.tactic_by_name(t)
                .or_else(|| c.tactic_by_shortname(t))
                .map(|x| x.id())
        })
    };
    match id {
        Some(id) => intent_of_tactic_id(id),
        None => match t.parse::<KillChainIntent>() {
            Ok(KillChainIntent::Other(_)) | Err(_) => None,
            Ok(named) => Some(named),
        },
    }
}

fn intent_of_tactic_id(id: TacticId) -> Option<KillChainIntent> {
    use KillChainIntent as K;
    use TacticId as T;
    Some(match id {
        T::RECONNAISSANCE | T::RESOURCE_DEVELOPMENT => K::PreAttack,
        T::INITIAL_ACCESS => K::InitialAccess,
        T::EXECUTION => K::Execution,
        T::PERSISTENCE => K::Persistence,
        T::PRIVILEGE_ESCALATION => K::PrivilegeEscalation,
        T::STEALTH | T::DEFENSE_IMPAIRMENT => K::DefenseEvasion,
        T::CREDENTIAL_ACCESS => K::CredentialAccess,
        T::DISCOVERY => K::Discovery,
        T::LATERAL_MOVEMENT => K::LateralMovement,
        T::COLLECTION => K::Collection,
        T::COMMAND_AND_CONTROL => K::CommandAndControl,
        T::EXFILTRATION => K::Exfiltration,
        T::IMPACT => K::Impact,
        _ => return None,
    })
}

/// The ASFF `Types` entry of an intent, in the `namespace/category` taxonomy: the ten TTP
/// categories ASFF defines; Exfiltration → `Effects/Data Exfiltration`; Impact → `Effects`;
/// PreAttack and Probing → `TTPs` (ASFF has no reconnaissance category); Exploitation →
/// `TTPs/Initial Access`; Unknown and unrecognised intents → `Unusual Behaviors`.
pub fn intent_to_asff_type(intent: &KillChainIntent) -> &'static str {
    use KillChainIntent as K;
    match intent {
        K::InitialAccess | K::Exploitation => "TTPs/Initial Access",
        K::Execution => "TTPs/Execution",
        K::Persistence => "TTPs/Persistence",
        K::PrivilegeEscalation => "TTPs/Privilege Escalation",
        K::DefenseEvasion => "TTPs/Defense Evasion",
        K::CredentialAccess => "TTPs/Credential Access",
        K::Discovery => "TTPs/Discovery",
        K::LateralMovement => "TTPs/Lateral Movement",
        K::Collection => "TTPs/Collection",
        K::CommandAndControl => "TTPs/Command and Control",
        K::Exfiltration => "Effects/Data Exfiltration",
        K::Impact => "Effects",
        K::PreAttack | K::Probing => "TTPs",
        K::Unknown | K::Other(_) => "Unusual Behaviors",
    }
}

/// The intent an ASFF `Types` entry names, if any: `TTPs/<category>[/…]` → that tactic's
/// intent, `Effects/Data Exfiltration` → Exfiltration, any other `Effects` → Impact. Other
/// namespaces (and a bare `TTPs`) name no intent.
pub fn intent_from_asff_type(types_entry: &str) -> Option<KillChainIntent> {
    let mut parts = types_entry.split('/').map(str::trim);
    let namespace = parts.next()?;
    let category = parts.next();
    if namespace.eq_ignore_ascii_case("TTPs") {
        category.and_then(intent_from_tactic)
    } else if namespace.eq_ignore_ascii_case("Effects") {
        Some(match category {
            Some(c) if c.eq_ignore_ascii_case("Data Exfiltration") => KillChainIntent::Exfiltration,
            _ => KillChainIntent::Impact,
        })
    } else {
        None
    }
}

/// Microsoft Graph `category` of an intent: the intent's canonical name (`DefenseEvasion`,
/// `CommandAndControl`), the spelling Defender XDR's alerts use.
pub fn intent_to_graph_category(intent: &KillChainIntent) -> &str {
    intent.as_str()
}

/// The intent of a Graph `category`: a Defender intent name, or an ATT&CK tactic name or id
/// ([`intent_from_tactic`]); anything else is kept as [`KillChainIntent::Other`]. Blank text
/// gives `None`.
pub fn intent_from_graph_category(category: &str) -> Option<KillChainIntent> {
    let t = category.trim();
    if t.is_empty() {
        return None;
    }
    intent_from_tactic(t).or_else(|| t.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn severity() -> impl Strategy<Value = Severity> {
        prop::sample::select(Severity::ALL.to_vec())
    }

    fn status() -> impl Strategy<Value = Status> {
        prop::sample::select(Status::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn severities_map_back(s in severity()) {
            prop_assert_eq!(severity_from_ocsf_id(severity_to_ocsf_id(s).into()), Some(s));
            prop_assert_eq!(severity_from_cef(&severity_to_cef(s).to_string()), Some(s));
            prop_assert_eq!(severity_from_asff_label(severity_to_asff_label(s)), Some(s));
            prop_assert_eq!(severity_from_asff_normalized(severity_to_asff_normalized(s).into()), Some(s));
            prop_assert_eq!(severity_from_graph(severity_to_graph(s)), Some(s));
        }

        #[test]
        fn statuses_map_back(s in status()) {
            prop_assert_eq!(status_from_ocsf_id(status_to_ocsf_id(s).into()), Some(s));
            prop_assert_eq!(status_from_asff_workflow(status_to_asff_workflow(s)), Some(s));
            let (g, c) = status_to_graph(s);
            prop_assert_eq!(status_from_graph(g, c), Some(s));
        }

        #[test]
        fn cef_integers_follow_the_bands(n in 0u8..=10) {
            let s = severity_from_cef(&n.to_string());
            let want = match n { 0..=1 => Severity::Informational, 2..=3 => Severity::Low, 4..=6 => Severity::Medium, _ => Severity::High };
            prop_assert_eq!(s, Some(want));
        }
    }

    #[test]
    fn reverse_edges() {
        assert_eq!(severity_from_ocsf_id(6), Some(Severity::High));
        assert_eq!(severity_from_ocsf_id(0), None);
        assert_eq!(severity_from_ocsf_id(99), None);
        assert_eq!(severity_from_cef("Very-High"), Some(Severity::High));
        assert_eq!(severity_from_cef("Unknown"), None);
        assert_eq!(severity_from_cef("11"), None);
        assert_eq!(severity_from_asff_normalized(95), Some(Severity::High));
        assert_eq!(severity_from_asff_normalized(101), None);
        assert_eq!(status_from_ocsf_id(5), Some(Status::Resolved));
        assert_eq!(status_from_ocsf_id(0), None);
        assert_eq!(
            status_from_graph("resolved", Some("truePositive")),
            Some(Status::Resolved)
        );
        assert_eq!(
            status_from_graph("resolved", Some("informationalExpectedActivity")),
            Some(Status::Dismissed)
        );
        assert_eq!(status_from_graph("unknown", None), None);
    }

    #[test]
    fn every_tactic_of_both_releases_has_an_intent() {
        for v in AttackVersion::ALL {
            for t in Catalog::for_version(v).tactics() {
                assert!(intent_from_tactic(t.name()).is_some(), "{}", t.name());
                assert!(intent_from_tactic(&t.id().to_string()).is_some());
                assert!(intent_from_tactic(t.shortname()).is_some());
            }
        }
        assert_eq!(
            intent_from_tactic("defense evasion"),
            Some(KillChainIntent::DefenseEvasion)
        );
        assert_eq!(
            intent_from_tactic("Resource Development"),
            Some(KillChainIntent::PreAttack)
        );
        assert_eq!(
            intent_from_tactic("Probing"),
            Some(KillChainIntent::Probing)
        );
        assert_eq!(intent_from_tactic("Nonsense"), None);
    }

    #[test]
    fn named_intents_survive_their_tactics() {
        // Through ATT&CK, each named intent comes back as itself, except the synonyms ATT&CK
        // does not have (Probing → PreAttack, Exploitation → InitialAccess) and Unknown.
        for intent in KillChainIntent::named() {
            let back: Vec<_> = tactics_of(intent)
                .iter()
                .filter_map(|t| intent_from_tactic(t.name()))
                .collect();
            let want = match intent {
                KillChainIntent::Unknown => vec![],
                KillChainIntent::Probing => vec![KillChainIntent::PreAttack],
                KillChainIntent::Exploitation => vec![KillChainIntent::InitialAccess],
                KillChainIntent::DefenseEvasion => vec![KillChainIntent::DefenseEvasion; 2],
                other => vec![other.clone()],
            };
            assert_eq!(back, want, "{intent}");
        }
    }

    #[test]
    fn asff_types_map_back_where_asff_has_a_category() {
        for intent in KillChainIntent::named() {
            let back = intent_from_asff_type(intent_to_asff_type(intent));
            let want = match intent {
                KillChainIntent::PreAttack
                | KillChainIntent::Probing
                | KillChainIntent::Unknown => None,
                KillChainIntent::Exploitation => Some(KillChainIntent::InitialAccess),
                other => Some(other.clone()),
            };
            assert_eq!(back, want, "{intent}");
        }
    }
}
