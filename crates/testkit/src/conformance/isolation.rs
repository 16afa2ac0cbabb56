//! Tenant isolation: nothing of one tenant is readable or writable through another.

use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use vigil_core::store::{
    AlertQuery, ErrorKind, Feedback, FeedbackQuery, FeedbackReason, Order, StatusChange, Store,
    StoreError, TenantId,
};
use vigil_core::suppression::{Condition, SuppressionReason, SuppressionRule};
use vigil_core::{Alert, Entity, Severity, Status};

use super::support::{alert, at, everything, expect_err, id, must_get, other_tenant, tenant};

const HOSTS: [&str; 3] = ["iso-h0", "iso-h1", "iso-h2"];

fn pool_alert(n: u8, variant: u8) -> Alert {
    let sev = Severity::ALL[usize::from(variant) % 4];
    alert(
        &format!("iso-{n}"),
        if n.is_multiple_of(2) {
            "VM_EICAR"
        } else {
            "Iso_Other"
        },
        sev,
        i64::from(n),
    )
    .into_builder()
    .entity(Entity::host(HOSTS[usize::from(variant) % 3]))
    .description(format!("variant {variant}"))
    .correlation_key(format!("iso-ck-{}", n % 3))
    .build()
}

fn pool_rule(n: u8) -> SuppressionRule {
    let b = |alert_type: &str| {
        SuppressionRule::builder(
            format!("iso-rule-{n}"),
            alert_type,
            SuppressionReason::Noise,
        )
    };
    match n % 4 {
        0 => b("VM_EICAR")
            .condition(Condition::equals("entities.host.hostname", HOSTS[0]))
            .build(),
        1 => b("*")
            .condition(Condition::equals("entities.host.hostname", HOSTS[1]))
            .build(),
        2 => b("*")
            .condition(Condition::equals("severity", "High"))
            .build(),
        _ => b("Iso_Other")
            .condition(Condition::exists("entities.host.hostname", true))
            .build(),
    }
}

fn pool_query(n: u8) -> AlertQuery {
    match n % 5 {
        0 => AlertQuery::default(),
        1 => AlertQuery::default().all_statuses().limit(1000),
        2 => AlertQuery::default().all_statuses().entity(HOSTS[0]),
        3 => AlertQuery::default().statuses([Status::Dismissed]),
        _ => AlertQuery::default().order(Order::Time).limit(3),
    }
}

/// One operation of a random sequence; `b` picks the tenant (B if true, A if false).
#[derive(Clone, Debug)]
enum Op {
    Ingest { b: bool, alerts: Vec<(u8, u8)> },
    Change { b: bool, alert: u8, to: u8 },
    CreateRule { b: bool, rule: u8 },
    DeleteRule { b: bool, rule: u8 },
    ApplyRule { b: bool, rule: u8 },
    Feedback { b: bool, alert: u8, useful: bool },
    Query { b: bool, query: u8 },
    Related { b: bool, alert: u8 },
}

impl Op {
    fn on_b(&self) -> bool {
        match self {
            Op::Ingest { b, .. }
            | Op::Change { b, .. }
            | Op::CreateRule { b, .. }
            | Op::DeleteRule { b, .. }
            | Op::ApplyRule { b, .. }
            | Op::Feedback { b, .. }
            | Op::Query { b, .. }
            | Op::Related { b, .. } => *b,
        }
    }
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let a = 0u8..6;
    prop_oneof![
        3 => (any::<bool>(), prop::collection::vec((0u8..6, 0u8..6), 1..4))
            .prop_map(|(b, alerts)| Op::Ingest { b, alerts }),
        3 => (any::<bool>(), a.clone(), 0u8..4).prop_map(|(b, alert, to)| Op::Change { b, alert, to }),
        2 => (any::<bool>(), 0u8..4).prop_map(|(b, rule)| Op::CreateRule { b, rule }),
        1 => (any::<bool>(), 0u8..4).prop_map(|(b, rule)| Op::DeleteRule { b, rule }),
        1 => (any::<bool>(), 0u8..4).prop_map(|(b, rule)| Op::ApplyRule { b, rule }),
        2 => (any::<bool>(), a.clone(), any::<bool>())
            .prop_map(|(b, alert, useful)| Op::Feedback { b, alert, useful }),
        1 => (any::<bool>(), 0u8..5).prop_map(|(b, query)| Op::Query { b, query }),
        1 => (any::<bool>(), a).prop_map(|(b, alert)| Op::Related { b, alert }),
    ]
}

/// An outcome, comparable across stores: the value's debug form or the error's kind.
fn outcome<T: std::fmt::Debug>(r: Result<T, StoreError>) -> String {
    match r {
        Ok(v) => format!("Ok({v:?})"),
        Err(e) => format!("Err({:?})", e.kind()),
    }
}

fn exec(store: &dyn Store, t: &TenantId, op: &Op, step: i64) -> String {
    let when = at(step);
    match op {
        Op::Ingest { alerts, .. } => {
            let batch: Vec<Alert> = alerts.iter().map(|(n, v)| pool_alert(*n, *v)).collect();
            outcome(store.ingest(t, &batch, when))
        }
        Op::Change { alert, to, .. } => {
            let i = id(&format!("iso-{alert}"));
            let version = store.get(t, &i).unwrap().map_or(1, |s| s.version);
            let change = StatusChange::new(Status::ALL[usize::from(*to)], "iso");
            outcome(store.change_status(t, &i, version, change, when))
        }
        Op::CreateRule { rule, .. } => outcome(store.create_rule(t, pool_rule(*rule), when)),
        Op::DeleteRule { rule, .. } => {
            outcome(store.delete_rule(t, &format!("iso-rule-{rule}"), at(0)))
        }
        Op::ApplyRule { rule, .. } => {
            outcome(store.apply_rule(t, &format!("iso-rule-{rule}"), "iso", when))
        }
        Op::Feedback { alert, useful, .. } => {
            let f = Feedback {
                useful: *useful,
                reason: FeedbackReason::Other(format!("step {step}")),
                comment: None,
                actor: "iso".into(),
                at: when,
            };
            outcome(store.add_feedback(t, &id(&format!("iso-{alert}")), f))
        }
        Op::Query { query, .. } => outcome(store.query(t, &pool_query(*query))),
        Op::Related { alert, .. } => outcome(store.related(t, &id(&format!("iso-{alert}")), 10)),
    }
}

/// Everything readable through one tenant.
fn snapshot(store: &dyn Store, t: &TenantId) -> Vec<String> {
    let mut out = vec![
        format!("{:?}", everything(store, t)),
        outcome(store.counts(t, &AlertQuery::default().all_statuses())),
        outcome(store.list_rules(t)),
        outcome(store.list_feedback(t, &FeedbackQuery::default())),
    ];
    for n in 0..6 {
        let i = id(&format!("iso-{n}"));
        out.push(outcome(store.get(t, &i)));
        out.push(outcome(store.history(t, &i)));
    }
    for q in 0..5 {
        out.push(outcome(store.query(t, &pool_query(q))));
    }
    out
}

fn run_case(factory: &dyn Fn() -> Arc<dyn Store>, ops: &[Op]) -> Result<(), TestCaseError> {
    let (ta, tb) = (tenant(), other_tenant());
    let both = factory();
    let only_a = factory();
    let only_b = factory();
    for (step, op) in ops.iter().enumerate() {
        let step = step as i64;
        if op.on_b() {
            let shared = exec(&*both, &tb, op, step);
            let alone = exec(&*only_b, &tb, op, step);
            prop_assert_eq!(shared, alone, "step {}: {:?} through tenant B", step, op);
        } else {
            let shared = exec(&*both, &ta, op, step);
            let alone = exec(&*only_a, &ta, op, step);
            prop_assert_eq!(shared, alone, "step {}: {:?} through tenant A", step, op);
        }
    }
    let (sb, ob) = (snapshot(&*both, &tb), snapshot(&*only_b, &tb));
    for (i, (x, y)) in sb.iter().zip(&ob).enumerate() {
        prop_assert_eq!(x, y, "tenant B read {} differs when tenant A has data", i);
    }
    let (sa, oa) = (snapshot(&*both, &ta), snapshot(&*only_a, &ta));
    for (i, (x, y)) in sa.iter().zip(&oa).enumerate() {
        prop_assert_eq!(x, y, "tenant A read {} differs when tenant B has data", i);
    }
    Ok(())
}

/// Random sequences of operations (ingest, status changes, rule create/delete/apply,
/// feedback, queries, related) over two tenants sharing alert ids and rule names: every result
/// and every read through one tenant equals what a fresh store holding only that tenant's
/// operations gives. 32 deterministic proptest cases, shrunk on failure.
pub fn tenant_isolation_model(factory: &dyn Fn() -> Arc<dyn Store>) {
    let config = Config {
        cases: 32,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let strategy = prop::collection::vec(op_strategy(), 1..30);
    if let Err(e) = runner.run(&strategy, |ops| run_case(factory, &ops)) {
        panic!("tenant isolation: {e}");
    }
}

/// Direct probes: A's alert, history, feedback and rules are invisible through B, and B's
/// operations on the same ids and names neither fail because of A nor touch A.
pub fn tenant_isolation_direct(store: &dyn Store) {
    let (ta, tb) = (tenant(), other_tenant());
    let a_alert = pool_alert(0, 0);
    let i = a_alert.system_alert_id().clone();
    store
        .ingest(&ta, std::slice::from_ref(&a_alert), at(0))
        .unwrap();
    let fb = Feedback {
        useful: true,
        reason: FeedbackReason::TruePositive,
        comment: None,
        actor: "a".into(),
        at: at(1),
    };
    store.add_feedback(&ta, &i, fb.clone()).unwrap();
    store.create_rule(&ta, pool_rule(0), at(2)).unwrap();
    let a_before = must_get(store, &ta, &i);

    assert!(store.get(&tb, &i).unwrap().is_none(), "A's alert through B");
    expect_err(
        store.change_status(&tb, &i, 1, StatusChange::new(Status::Resolved, "b"), at(3)),
        ErrorKind::NotFound,
        "change A's alert through B",
    );
    expect_err(
        store.history(&tb, &i),
        ErrorKind::NotFound,
        "A's history through B",
    );
    expect_err(
        store.add_feedback(&tb, &i, fb.clone()),
        ErrorKind::NotFound,
        "feedback on A's alert through B",
    );
    expect_err(
        store.related(&tb, &i, 10),
        ErrorKind::NotFound,
        "related of A's alert through B",
    );
    assert!(
        store
            .query(&tb, &AlertQuery::default().all_statuses())
            .unwrap()
            .alerts
            .is_empty()
    );
    assert_eq!(
        store
            .counts(&tb, &AlertQuery::default().all_statuses())
            .unwrap()
            .total(),
        0
    );
    assert!(
        store
            .list_feedback(&tb, &FeedbackQuery::default())
            .unwrap()
            .is_empty()
    );
    assert!(
        store.list_rules(&tb).unwrap().is_empty(),
        "A's rules listed in B"
    );
    assert!(store.get_rule(&tb, "iso-rule-0").unwrap().is_none());
    expect_err(
        store.apply_rule(&tb, "iso-rule-0", "b", at(4)),
        ErrorKind::NotFound,
        "apply A's rule in B",
    );
    expect_err(
        store.delete_rule(&tb, "iso-rule-0", at(0)),
        ErrorKind::NotFound,
        "delete A's rule in B",
    );
    expect_err(
        store.update_rule(&tb, pool_rule(0), 1, at(4)),
        ErrorKind::NotFound,
        "update A's rule in B",
    );
    assert!(
        store
            .bulk_change_status(
                &tb,
                &AlertQuery::default().all_statuses(),
                StatusChange::new(Status::Resolved, "b"),
                at(4)
            )
            .unwrap()
            .is_empty(),
        "bulk change in B selects A's alerts"
    );
    assert_eq!(
        store
            .simulate(&tb, &pool_rule(0), at(4), 10)
            .unwrap()
            .total(),
        0,
        "simulate in B counts A's alerts"
    );

    // The same id in B is a new alert of B, not suppressed by A's rule (it matches it).
    let b_alert = pool_alert(0, 0)
        .into_builder()
        .description("B's copy")
        .build();
    let r = store
        .ingest(&tb, std::slice::from_ref(&b_alert), at(5))
        .unwrap();
    assert_eq!(
        (r.new, r.updated, r.suppressed),
        (1, 0, 0),
        "B's ingest of an id A has"
    );
    assert_eq!(must_get(store, &tb, &i).alert, b_alert);
    // The same rule name in B is free.
    store.create_rule(&tb, pool_rule(0), at(6)).unwrap();
    let b_v = must_get(store, &tb, &i).version;
    store
        .change_status(
            &tb,
            &i,
            b_v,
            StatusChange::new(Status::Resolved, "b"),
            at(7),
        )
        .unwrap();
    store
        .add_feedback(
            &tb,
            &i,
            Feedback {
                useful: false,
                ..fb.clone()
            },
        )
        .unwrap();
    store.delete_rule(&tb, "iso-rule-0", at(0)).unwrap();

    // A is untouched by all of that.
    assert_eq!(
        must_get(store, &ta, &i),
        a_before,
        "A's alert changed through B"
    );
    assert!(
        store
            .history(&ta, &i)
            .unwrap()
            .iter()
            .all(|e| e.actor != "b")
    );
    assert_eq!(
        store.list_feedback(&ta, &FeedbackQuery::default()).unwrap(),
        vec![(i.clone(), fb)]
    );
    let rules = store.list_rules(&ta).unwrap();
    assert_eq!(rules.len(), 1, "deleting B's rule deleted A's");
    assert_eq!(
        rules[0].hit_count, 0,
        "B's ingest counted a hit on A's rule"
    );
    assert_eq!(everything(store, &ta).len(), 1);
    assert_eq!(everything(store, &tb).len(), 1);
}
