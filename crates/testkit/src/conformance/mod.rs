//! The storage conformance suite: every behaviour the [`Store`] contract documents, as checks any
//! backend runs against itself.
//!
//! Each check takes a fresh, empty store, drives it through the public trait only, and panics
//! (with a message naming the broken rule) when the store disagrees with the contract. Expected
//! results come from the contract's own definitions — [`AlertQuery::matches`] for filters,
//! [`priority_score`] for [`Order::Priority`], [`RuleSet::first_match`] for suppression — never
//! from another store, so the reference [`MemoryStore`] is tested like any other backend.
//!
//! Run the whole suite as one test with [`run_all`], or get one `#[test]` per check (failures
//! reported by name) with [`conformance_tests!`](crate::conformance_tests):
//!
//! ```no_run
//! // tests/conformance.rs of a backend crate (here with the reference store)
//! vigil_testkit::conformance_tests!(|| vigil_core::store::MemoryStore::default());
//! # fn main() {}
//! ```
//!
//! The checks use fixed instants around [`base_time`] (2026-11-01T00:00:00Z) and explicit `at`
//! values; nothing sleeps or reads the clock, so a failure reproduces exactly.
//!
//! [`Store`]: vigil_core::store::Store
//! [`AlertQuery::matches`]: vigil_core::store::AlertQuery::matches
//! [`priority_score`]: vigil_core::store::priority_score
//! [`Order::Priority`]: vigil_core::store::Order::Priority
//! [`RuleSet::first_match`]: vigil_core::suppression::RuleSet::first_match
//! [`MemoryStore`]: vigil_core::store::MemoryStore

// The suite's product is a loud failure: a check that finds a contract violation must panic with
// a message, like a test does. Unwrapping a store result *is* the assertion that the operation
// succeeds, so the workspace's no-unwrap/no-panic lints do not fit this module.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod automation;
mod edges;
mod events;
mod identity;
mod ingest;
mod investigate;
mod isolation;
mod query;
mod respond;
mod rules;
mod sample;
mod support;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use vigil_core::store::Store;

pub use automation::{
    automation_crud, automation_delivery_order, automation_delivery_records, automation_leases,
    automation_plan_deliveries,
};
pub use edges::{edge_timestamps, edge_unicode_and_long_values};
pub use events::{
    events_checkpoints, events_one_per_change, events_tenant_scoped_and_suppress_similar,
};
pub use identity::{identity_reingest_spellings, identity_resource_name};
pub use ingest::{
    ingest_batch_atomicity, ingest_counts, ingest_duplicate_ids_in_batch,
    ingest_expired_and_disabled_rules_do_not_suppress, ingest_suppression_equals_matcher,
    ingest_suppression_first_rule_wins, ingest_suppression_keeps_data, ingest_suppression_records,
    ingest_update_keeps_status,
};
pub use investigate::{get_missing, related_relations};
pub use isolation::{tenant_isolation_direct, tenant_isolation_model};
pub use query::{
    query_counts_match_oracle, query_cursor_errors, query_default_shows_open_alerts,
    query_filters_match_oracle, query_order_priority, query_order_severity_then_time,
    query_order_time, query_pagination_complete, query_pagination_while_inserting,
};
pub use respond::{
    bulk_change_status, change_status_concurrent, change_status_conflict, change_status_happy_path,
    change_status_illegal, change_status_missing, feedback_filters, feedback_missing_alert,
    feedback_reasons_round_trip, history_append_only,
};
pub use rules::{
    rules_apply, rules_crud, rules_delete_keeps_dismissed, rules_invalid_and_duplicate,
    rules_similar_rule, rules_simulate,
};

/// The instant the checks are built around: 2026-11-01T00:00:00Z. Alerts are generated before
/// it, and most operations happen at or shortly after it.
pub fn base_time() -> DateTime<Utc> {
    support::base()
}

/// How a check gets its store.
#[derive(Clone, Copy)]
pub enum CheckFn {
    /// The check needs one fresh, empty store.
    Store(fn(&dyn Store)),
    /// The check makes its own fresh stores (several per run) from the factory.
    Factory(fn(&dyn Fn() -> Arc<dyn Store>)),
}

impl std::fmt::Debug for CheckFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CheckFn::Store(_) => "CheckFn::Store",
            CheckFn::Factory(_) => "CheckFn::Factory",
        })
    }
}

/// One named conformance check.
#[derive(Clone, Copy, Debug)]
pub struct Check {
    /// The check's name: the name of its function and of the `#[test]`
    /// [`conformance_tests!`](crate::conformance_tests) generates.
    pub name: &'static str,
    /// What the check needs and runs.
    pub run: CheckFn,
}

macro_rules! checks {
    ($($kind:ident $name:ident),* $(,)?) => {
        /// Every check of the suite, in the order [`run_all`] runs them.
        pub const CHECKS: &[Check] = &[$(Check { name: stringify!($name), run: CheckFn::$kind($name) }),*];
    };
}

checks! {
    Store ingest_counts,
    Store ingest_update_keeps_status,
    Store ingest_duplicate_ids_in_batch,
    Store ingest_batch_atomicity,
    Store ingest_suppression_records,
    Store ingest_suppression_keeps_data,
    Store ingest_suppression_first_rule_wins,
    Store ingest_expired_and_disabled_rules_do_not_suppress,
    Store ingest_suppression_equals_matcher,
    Store identity_resource_name,
    Store identity_reingest_spellings,
    Store events_one_per_change,
    Store events_tenant_scoped_and_suppress_similar,
    Store events_checkpoints,
    Store query_default_shows_open_alerts,
    Store query_order_severity_then_time,
    Store query_order_time,
    Store query_order_priority,
    Store query_filters_match_oracle,
    Store query_counts_match_oracle,
    Store query_pagination_complete,
    Store query_pagination_while_inserting,
    Store query_cursor_errors,
    Store get_missing,
    Store related_relations,
    Store change_status_happy_path,
    Store change_status_conflict,
    Store change_status_illegal,
    Store change_status_missing,
    Store history_append_only,
    Store change_status_concurrent,
    Store bulk_change_status,
    Store feedback_filters,
    Store feedback_missing_alert,
    Store feedback_reasons_round_trip,
    Store rules_crud,
    Store rules_invalid_and_duplicate,
    Store rules_simulate,
    Store rules_similar_rule,
    Store rules_apply,
    Store rules_delete_keeps_dismissed,
    Factory tenant_isolation_model,
    Store tenant_isolation_direct,
    Store edge_unicode_and_long_values,
    Store edge_timestamps,
    Store automation_crud,
    Store automation_plan_deliveries,
    Store automation_leases,
    Store automation_delivery_records,
    Store automation_delivery_order,
}

/// Runs one check by name against fresh stores from `factory`.
///
/// # Panics
///
/// If the check fails, or if no check has that name.
pub fn run_check<S: Store + 'static>(name: &str, factory: &dyn Fn() -> S) {
    let check = CHECKS
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no conformance check named {name:?}"));
    run(check, factory);
}

/// Runs every check, each against a fresh store (or fresh stores) from `factory`.
///
/// # Panics
///
/// At the first failing check, naming it.
pub fn run_all<S: Store + 'static>(factory: &dyn Fn() -> S) {
    for check in CHECKS {
        run(check, factory);
    }
}

fn run<S: Store + 'static>(check: &Check, factory: &dyn Fn() -> S) {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match check.run {
        CheckFn::Store(f) => {
            let store = factory();
            f(&store);
        }
        CheckFn::Factory(f) => {
            let arc = || Arc::new(factory()) as Arc<dyn Store>;
            f(&arc);
        }
    }));
    if let Err(payload) = outcome {
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("(no message)");
        panic!("conformance check `{}` failed: {message}", check.name);
    }
}

/// Expands to one `#[test]` per conformance check, in a module named `conformance` (or the
/// name given first), each running against fresh stores from the factory expression: anything
/// callable as `Fn() -> S` where `S: Store + 'static`; it may name items of the calling module.
///
/// ```no_run
/// use vigil_core::store::MemoryStore;
///
/// vigil_testkit::conformance_tests!(|| MemoryStore::default());
/// // Several backends in one file: name each module.
/// vigil_testkit::conformance_tests!(memory_again, MemoryStore::new);
/// ```
///
/// The module also holds a test that fails if the list here and [`conformance::CHECKS`] ever
/// disagree, so no check is silently skipped.
///
/// [`conformance::CHECKS`]: crate::conformance::CHECKS
#[macro_export]
macro_rules! conformance_tests {
    (@tests $module:ident ($factory:expr) $($name:ident),* $(,)?) => {
        #[allow(unused_imports)]
        mod $module {
            use super::*;

            $(
                #[test]
                fn $name() {
                    $crate::conformance::run_check(stringify!($name), &$factory);
                }
            )*

            #[test]
            fn every_check_has_a_test() {
                let here: &[&str] = &[$(stringify!($name)),*];
                let suite: ::std::vec::Vec<&str> =
                    $crate::conformance::CHECKS.iter().map(|c| c.name).collect();
                assert_eq!(here, suite.as_slice(), "conformance_tests! and CHECKS disagree");
            }
        }
    };
    ($module:ident, $factory:expr $(,)?) => {
        $crate::conformance_tests!(@tests $module ($factory)
            ingest_counts,
            ingest_update_keeps_status,
            ingest_duplicate_ids_in_batch,
            ingest_batch_atomicity,
            ingest_suppression_records,
            ingest_suppression_keeps_data,
            ingest_suppression_first_rule_wins,
            ingest_expired_and_disabled_rules_do_not_suppress,
            ingest_suppression_equals_matcher,
            identity_resource_name,
            identity_reingest_spellings,
            events_one_per_change,
            events_tenant_scoped_and_suppress_similar,
            events_checkpoints,
            query_default_shows_open_alerts,
            query_order_severity_then_time,
            query_order_time,
            query_order_priority,
            query_filters_match_oracle,
            query_counts_match_oracle,
            query_pagination_complete,
            query_pagination_while_inserting,
            query_cursor_errors,
            get_missing,
            related_relations,
            change_status_happy_path,
            change_status_conflict,
            change_status_illegal,
            change_status_missing,
            history_append_only,
            change_status_concurrent,
            bulk_change_status,
            feedback_filters,
            feedback_missing_alert,
            feedback_reasons_round_trip,
            rules_crud,
            rules_invalid_and_duplicate,
            rules_simulate,
            rules_similar_rule,
            rules_apply,
            rules_delete_keeps_dismissed,
            tenant_isolation_model,
            tenant_isolation_direct,
            edge_unicode_and_long_values,
            edge_timestamps,
            automation_crud,
            automation_plan_deliveries,
            automation_leases,
            automation_delivery_records,
            automation_delivery_order,
        );
    };
    ($factory:expr $(,)?) => {
        $crate::conformance_tests!(conformance, $factory);
    };
}
