//! Tests of the ATT&CK catalog: identifiers, look-ups, and the compiled-in data.
use super::*;
use proptest::prelude::*;

fn tid(s: &str) -> TechniqueId {
    s.parse().unwrap()
}

#[test]
fn types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Catalog>();
    check::<Tactic>();
    check::<Technique>();
    check::<TacticId>();
    check::<TechniqueId>();
}

#[test]
fn v19_tactics_in_matrix_order() {
    let c = Catalog::current();
    assert_eq!(c.version(), AttackVersion::V19_1);
    assert_eq!(AttackVersion::CURRENT, AttackVersion::V19_1);
    let tactics: Vec<&Tactic> = c.tactics().collect();
    assert_eq!(tactics.len(), 15);
    assert_eq!(tactics[0].id(), TacticId::RECONNAISSANCE);
    assert_eq!(tactics[0].name(), "Reconnaissance");
    assert_eq!(tactics[14].id(), TacticId::IMPACT);
    for (i, t) in tactics.iter().enumerate() {
        assert_eq!(usize::from(t.matrix_order()), i + 1);
    }
    let stealth = c.tactic(TacticId::STEALTH).unwrap();
    assert_eq!(stealth.name(), "Stealth");
    assert_eq!(stealth.shortname(), "stealth");
    assert_eq!(stealth.matrix_order(), 7);
    let impairment = c.tactic(TacticId::DEFENSE_IMPAIRMENT).unwrap();
    assert_eq!(impairment.name(), "Defense Impairment");
    assert_eq!(impairment.shortname(), "defense-impairment");
    assert_eq!(impairment.matrix_order(), 8);
    assert_eq!(impairment.id().to_string(), "TA0112");
    // Every named constant is a v19 tactic.
    let all = [
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
    let ids: Vec<TacticId> = c.tactics().map(Tactic::id).collect();
    let mut sorted_ids = ids.clone();
    sorted_ids.sort();
    let mut sorted_all = all.to_vec();
    sorted_all.sort();
    assert_eq!(sorted_ids, sorted_all);
    assert_eq!(
        c.tactic(TacticId::COMMAND_AND_CONTROL).unwrap().name(),
        "Command and Control"
    );
    assert_eq!(c.tactic(TacticId::from_number(99).unwrap()), None);
}

#[test]
fn v18_tactics() {
    let c = Catalog::for_version(AttackVersion::V18_1);
    assert_eq!(c.version(), AttackVersion::V18_1);
    assert_eq!(c.tactics().count(), 14);
    assert_eq!(c.tactics().next().unwrap().id(), TacticId::RECONNAISSANCE);
    let evasion = c.tactic(TacticId::DEFENSE_EVASION).unwrap();
    assert_eq!(evasion.name(), "Defense Evasion");
    assert_eq!(evasion.shortname(), "defense-evasion");
    assert_eq!(c.tactic(TacticId::DEFENSE_IMPAIRMENT), None);
    assert_eq!(TacticId::STEALTH, TacticId::DEFENSE_EVASION);
    assert_eq!(
        c.tactic_by_name("Defense Evasion").unwrap().id(),
        TacticId::DEFENSE_EVASION
    );
    assert!(
        Catalog::current()
            .tactic_by_name("Defense Evasion")
            .is_none()
    );
}

#[test]
fn technique_counts() {
    assert_eq!(Catalog::current().techniques().count(), 858);
    assert_eq!(
        Catalog::for_version(AttackVersion::V18_1)
            .techniques()
            .count(),
        835
    );
    let c = Catalog::current();
    assert_eq!(c.techniques().filter(|t| t.is_revoked()).count(), 149);
    assert_eq!(c.techniques().filter(|t| t.is_deprecated()).count(), 12);
    assert_eq!(
        c.techniques()
            .filter(|t| t.is_active() && !t.id().is_sub_technique())
            .count(),
        222
    );
    assert_eq!(
        c.techniques()
            .filter(|t| t.is_active() && t.id().is_sub_technique())
            .count(),
        475
    );
    assert_eq!(c.revoked.len(), 149);
    assert_eq!(
        Catalog::for_version(AttackVersion::V18_1).revoked.len(),
        132
    );
}

#[test]
fn tables_are_consistent() {
    for v in AttackVersion::ALL {
        let c = Catalog::for_version(v);
        assert!(c.techniques.windows(2).all(|w| w[0].id < w[1].id));
        assert!(c.revoked.windows(2).all(|w| w[0].0 < w[1].0));
        for t in c.techniques() {
            assert_eq!(t.version(), v);
            assert_eq!(c.technique(t.id()), Some(t));
            assert_eq!(t.parent(), t.id().parent());
            if let Some(p) = t.parent() {
                assert!(c.technique(p).is_some(), "{}", t.id());
                assert!(t.full_name().ends_with(&format!(": {}", t.name())));
            } else {
                assert_eq!(t.full_name(), t.name());
            }
            let orders: Vec<u8> = t.tactics().map(Tactic::matrix_order).collect();
            assert!(!orders.is_empty(), "{} has no tactic", t.id());
            assert!(orders.windows(2).all(|w| w[0] < w[1]));
            assert!(!t.platforms().is_empty() || t.is_revoked() || t.is_deprecated());
            // Every revoked technique resolves to an active replacement.
            if t.is_revoked() {
                assert!(c.revoked_by(t.id()).is_some(), "{}", t.id());
                let r = c.resolve(t.id()).unwrap();
                assert!(!r.is_revoked(), "{} -> {}", t.id(), r.id());
            } else {
                assert_eq!(c.revoked_by(t.id()), None);
                assert_eq!(c.resolve(t.id()), Some(t));
            }
        }
    }
}

#[test]
fn powershell() {
    let c = Catalog::current();
    let t = c.technique(tid("T1059.001")).unwrap();
    assert_eq!(t.id().to_string(), "T1059.001");
    assert_eq!(t.name(), "PowerShell");
    assert_eq!(
        t.full_name(),
        "Command and Scripting Interpreter: PowerShell"
    );
    assert_eq!(t.parent(), Some(tid("T1059")));
    let tactics: Vec<TacticId> = t.tactics().map(Tactic::id).collect();
    assert_eq!(tactics, [TacticId::EXECUTION]);
    assert_eq!(t.platforms(), ["Windows"]);
    assert!(t.is_active());
    assert!(!t.is_revoked());
    assert!(!t.is_deprecated());
    let parent = c.technique(tid("T1059")).unwrap();
    assert_eq!(parent.name(), "Command and Scripting Interpreter");
    assert_eq!(parent.full_name(), "Command and Scripting Interpreter");
    assert_eq!(parent.parent(), None);
    assert!(parent.platforms().contains(&"Linux"));
    assert_eq!(c.technique(tid("T9999")), None);
}

#[test]
fn revoked_powershell() {
    for v in AttackVersion::ALL {
        let c = Catalog::for_version(v);
        let old = c.technique(tid("T1086")).unwrap();
        assert!(old.is_revoked());
        assert!(!old.is_active());
        assert_eq!(c.revoked_by(tid("T1086")), Some(tid("T1059.001")));
        assert_eq!(c.resolve(tid("T1086")).unwrap().id(), tid("T1059.001"));
    }
    assert_eq!(Catalog::current().resolve(tid("T9999")), None);
    assert_eq!(Catalog::current().revoked_by(tid("T9999")), None);
}

#[test]
fn impair_defenses_split_in_v19() {
    let v19 = Catalog::current();
    let t1562 = v19.technique(tid("T1562")).unwrap();
    assert!(t1562.is_revoked());
    assert_eq!(v19.revoked_by(tid("T1562")), Some(tid("T1685")));
    let r = v19.resolve(tid("T1562")).unwrap();
    assert!((1685..=1690).contains(&r.id().number()), "{}", r.id());
    assert!(r.is_active());
    let tactics: Vec<TacticId> = r.tactics().map(Tactic::id).collect();
    assert_eq!(tactics, [TacticId::DEFENSE_IMPAIRMENT]);
    let r = v19.resolve(tid("T1562.007")).unwrap();
    assert_eq!(r.id(), tid("T1686.001"));
    assert_eq!(
        r.full_name(),
        "Disable or Modify System Firewall: Cloud Firewall"
    );

    let v18 = Catalog::for_version(AttackVersion::V18_1);
    let t1562 = v18.technique(tid("T1562")).unwrap();
    assert!(t1562.is_active());
    assert_eq!(t1562.name(), "Impair Defenses");
    assert_eq!(v18.resolve(tid("T1562")), Some(t1562));
    let tactics: Vec<&str> = t1562.tactics().map(Tactic::name).collect();
    assert_eq!(tactics, ["Defense Evasion"]);
    assert_eq!(v18.technique(tid("T1685")), None);
}

#[test]
fn tactic_lookup_by_names() {
    let c = Catalog::current();
    for name in [
        "Command and Control",
        "command-and-control",
        "CommandAndControl",
        "command_and_control",
        "  COMMAND AND CONTROL ",
    ] {
        assert_eq!(
            c.tactic_by_name(name).map(Tactic::id),
            Some(TacticId::COMMAND_AND_CONTROL),
            "{name}"
        );
        assert_eq!(
            c.tactic_by_shortname(name).map(Tactic::id),
            Some(TacticId::COMMAND_AND_CONTROL),
            "{name}"
        );
    }
    assert_eq!(
        c.tactic_by_shortname("defense-impairment").map(Tactic::id),
        Some(TacticId::DEFENSE_IMPAIRMENT)
    );
    assert_eq!(
        c.tactic_by_name("PrivilegeEscalation").map(Tactic::id),
        Some(TacticId::PRIVILEGE_ESCALATION)
    );
    assert!(c.tactic_by_name("").is_none());
    assert!(c.tactic_by_name("--").is_none());
    assert!(c.tactic_by_name("Command").is_none());
}

#[test]
fn invalid_ids_are_rejected() {
    for bad in [
        "T105",
        "T10590",
        "T1059.01",
        "TA01",
        "X1059",
        "T1059.0011",
        "",
        "T1059.",
        "T1059,001",
        "T-059",
        "T+059",
        "T１０５９",
        "T1059 .001",
    ] {
        let err = bad.parse::<TechniqueId>().unwrap_err();
        match &err {
            Error::InvalidValue {
                kind,
                value,
                reason,
            } => {
                assert_eq!(*kind, "technique id");
                assert_eq!(value, bad);
                assert!(reason.contains("T1059.001"), "{reason}");
            }
            other => panic!("unexpected error {other:?}"),
        }
    }
    for bad in [
        "TA01", "TA00001", "T0001", "TB0001", "TA000a", "", "TA", "TA-001", "X0001",
    ] {
        match bad.parse::<TacticId>().unwrap_err() {
            Error::InvalidValue { kind, reason, .. } => {
                assert_eq!(kind, "tactic id");
                assert!(reason.contains("TA0001"), "{reason}");
            }
            other => panic!("unexpected error {other:?}"),
        }
    }
}

#[test]
fn lenient_forms_are_accepted() {
    assert_eq!(
        tid(" t1059.001\n"),
        TechniqueId::from_parts(1059, Some(1)).unwrap()
    );
    assert_eq!(tid("T0000"), TechniqueId::from_parts(0, None).unwrap());
    assert_eq!(
        "ta0112".parse::<TacticId>().unwrap(),
        TacticId::DEFENSE_IMPAIRMENT
    );
    assert_eq!(
        "\tTA0043 ".parse::<TacticId>().unwrap(),
        TacticId::RECONNAISSANCE
    );
}

#[test]
fn id_parts() {
    assert_eq!(TechniqueId::from_parts(10000, None), None);
    assert_eq!(TechniqueId::from_parts(1059, Some(1000)), None);
    assert!(TechniqueId::from_parts(9999, Some(999)).is_some());
    let id = tid("T1059.013");
    assert_eq!(id.number(), 1059);
    assert_eq!(id.sub_number(), Some(13));
    assert!(id.is_sub_technique());
    assert_eq!(id.parent(), Some(tid("T1059")));
    assert_eq!(tid("T1059").parent(), None);
    assert!(!tid("T1059").is_sub_technique());
    assert_eq!(TacticId::from_number(10000), None);
    assert_eq!(TacticId::from_number(9999).unwrap().to_string(), "TA9999");
    assert_eq!(TacticId::EXECUTION.number(), 2);
    assert!(tid("T1001") < tid("T1001.001"));
    assert!(tid("T1001.999") < tid("T1002"));
}

#[test]
fn serde_as_strings() {
    let id = tid("T1059.001");
    assert_eq!(serde_json::to_string(&id).unwrap(), r#""T1059.001""#);
    let back: TechniqueId = serde_json::from_str(r#""T1059.001""#).unwrap();
    assert_eq!(back, id);
    assert!(serde_json::from_str::<TechniqueId>(r#""T1059.01""#).is_err());
    assert!(serde_json::from_str::<TechniqueId>("1059").is_err());
    assert_eq!(
        serde_json::to_string(&TacticId::DEFENSE_IMPAIRMENT).unwrap(),
        r#""TA0112""#
    );
    let back: Vec<TacticId> = serde_json::from_str(r#"["TA0001","ta0040"]"#).unwrap();
    assert_eq!(back, [TacticId::INITIAL_ACCESS, TacticId::IMPACT]);
    let err = serde_json::from_str::<TacticId>(r#""TA1""#).unwrap_err();
    assert!(err.to_string().contains("TA0001"), "{err}");
}

#[test]
fn display_of_versions_and_debug_of_catalog() {
    assert_eq!(AttackVersion::V18_1.to_string(), "18.1");
    assert_eq!(AttackVersion::V19_1.to_string(), "19.1");
    assert!(AttackVersion::V18_1 < AttackVersion::V19_1);
    let debug = format!("{:?}", Catalog::current());
    assert!(debug.contains("V19_1") && debug.contains("858"), "{debug}");
}

fn any_technique_id() -> impl Strategy<Value = TechniqueId> {
    (
        prop_oneof![0u16..=9999, 1000u16..=1003],
        proptest::option::of(prop_oneof![0u16..=999, 0u16..=2]),
    )
        .prop_map(|(t, s)| TechniqueId::from_parts(t, s).unwrap())
}

proptest! {
    #[test]
    fn technique_id_round_trips(t in 0u16..=9999, s in proptest::option::of(0u16..=999)) {
        let id = TechniqueId::from_parts(t, s).unwrap();
        let text = id.to_string();
        prop_assert_eq!(text.parse::<TechniqueId>().unwrap(), id);
        prop_assert_eq!(text.to_lowercase().parse::<TechniqueId>().unwrap(), id);
        prop_assert_eq!(id.number(), t);
        prop_assert_eq!(id.sub_number(), s);
        let json = serde_json::to_string(&id).unwrap();
        prop_assert_eq!(serde_json::from_str::<TechniqueId>(&json).unwrap(), id);
    }

    #[test]
    fn technique_id_order_is_string_order(a in any_technique_id(), b in any_technique_id()) {
        prop_assert_eq!(a.cmp(&b), a.to_string().cmp(&b.to_string()));
    }

    #[test]
    fn tactic_id_round_trips(n in 0u16..=9999) {
        let id = TacticId::from_number(n).unwrap();
        let text = id.to_string();
        prop_assert_eq!(text.parse::<TacticId>().unwrap(), id);
        prop_assert_eq!(text.to_lowercase().parse::<TacticId>().unwrap(), id);
        prop_assert_eq!(id.number(), n);
    }

    #[test]
    fn tactic_id_order_is_string_order(a in 0u16..=9999, b in 0u16..=9999) {
        let (a, b) = (TacticId::from_number(a).unwrap(), TacticId::from_number(b).unwrap());
        prop_assert_eq!(a.cmp(&b), a.to_string().cmp(&b.to_string()));
    }

    #[test]
    fn parsing_never_panics(s in "\\PC{0,12}") {
        let _ = s.parse::<TechniqueId>();
        let _ = s.parse::<TacticId>();
    }

    #[test]
    fn parsed_ids_display_canonically(s in "[Tt][0-9]{4}(\\.[0-9]{3})?") {
        let id = s.parse::<TechniqueId>().unwrap();
        prop_assert_eq!(id.to_string(), s.to_uppercase());
    }
}
