//! The conformance suite against the reference store, [`MemoryStore`]: one `#[test]` per check
//! (through the macro outside implementers use), plus the whole suite through `run_all`.

use vigil_core::store::MemoryStore;

vigil_testkit::conformance_tests!(MemoryStore::default);

/// `run_all` runs every check and passes on the reference store.
#[test]
fn run_all_passes_on_memory_store() {
    vigil_testkit::conformance::run_all(&MemoryStore::default);
}

/// `run_check` rejects an unknown name rather than passing silently.
#[test]
#[should_panic(expected = "no conformance check named")]
fn unknown_check_name_panics() {
    vigil_testkit::conformance::run_check("no_such_check", &MemoryStore::default);
}

/// The suite must be able to fail: each of these stores breaks one rule of the contract (by
/// wrapping [`MemoryStore`]), and the named check must catch it.
mod mutants {
    use chrono::{DateTime, Utc};
    use vigil_core::automation::{
        Automation, Delivery, DeliveryQuery, DeliveryState, DueDelivery, LeaseClaim, Outcome,
        PlanReport, RetryPolicy, StoredAutomation,
    };
    use vigil_core::store::{
        AlertQuery, AuditEntry, BulkOutcome, Counts, CreatedRule, ErrorKind, Event, Feedback,
        FeedbackQuery, IngestReport, MemoryStore, Page, RelatedAlert, Simulation, StatusChange,
        Store, StoreError, StoredAlert, StoredRule, SuppressSimilar, TenantId,
    };
    use vigil_core::suppression::{Explanation, SuppressionRule};
    use vigil_core::{Alert, AlertId, Status};

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Bug {
        /// The default queue shows Dismissed alerts.
        ShowsDismissed,
        /// Status changes ignore the expected version.
        NoVersionCheck,
        /// History newest first.
        HistoryReversed,
        /// Counts ignore the filters.
        CountsUnfiltered,
        /// Rules listed newest first.
        RulesReversed,
        /// `get` falls back to another tenant.
        LeaksAcrossTenants,
        /// A cursor of another order is silently dropped.
        CursorOrderIgnored,
        /// Feedback ignores the verdict filter.
        FeedbackUnfiltered,
        /// The batch is written alert by alert and fails on NUL characters half-way.
        PartialBatch,
        /// Bulk changes ignore the alert-type filter.
        BulkIgnoresFilter,
        /// Re-ingest resets the status to the incoming one.
        ReingestResetsStatus,
        /// Related alerts include the alert itself.
        RelatedIncludesSelf,
        /// Query pages restart from the beginning (cursor ignored).
        CursorIgnored,
        /// Simulate only counts open alerts.
        SimulateOpenOnly,
        /// Every dispatcher gets the lease.
        LeaseIgnored,
        /// Due deliveries ignore the per-alert order (a later one goes while an earlier waits).
        DueIgnoresOrder,
    }

    struct Mutant {
        inner: MemoryStore,
        bug: Bug,
    }

    impl Store for Mutant {
        fn ingest(
            &self,
            t: &TenantId,
            alerts: &[Alert],
            at: DateTime<Utc>,
        ) -> Result<IngestReport, StoreError> {
            match self.bug {
                Bug::PartialBatch => {
                    let mut report = IngestReport::default();
                    for a in alerts {
                        if a.description().is_some_and(|d| d.contains('\0')) {
                            return Err(StoreError::new(ErrorKind::Unavailable, "NUL"));
                        }
                        let r = self.inner.ingest(t, std::slice::from_ref(a), at)?;
                        report.new += r.new;
                        report.updated += r.updated;
                        report.suppressed += r.suppressed;
                    }
                    Ok(report)
                }
                Bug::ReingestResetsStatus => {
                    let r = self.inner.ingest(t, alerts, at)?;
                    // Force the incoming status back through the lifecycle.
                    for a in alerts {
                        for _ in 0..2 {
                            if let Ok(Some(s)) = self.inner.get(t, a.system_alert_id())
                                && s.alert.status() != a.status()
                            {
                                let step = if s.alert.status().can_transition_to(a.status()) {
                                    a.status()
                                } else {
                                    Status::Resolved
                                };
                                let _ = self.inner.change_status(
                                    t,
                                    a.system_alert_id(),
                                    s.version,
                                    StatusChange::new(step, "reset"),
                                    at,
                                );
                            }
                        }
                    }
                    Ok(r)
                }
                _ => self.inner.ingest(t, alerts, at),
            }
        }

        fn query(&self, t: &TenantId, q: &AlertQuery) -> Result<Page, StoreError> {
            let mut q = q.clone();
            match self.bug {
                Bug::ShowsDismissed if q.statuses.is_none() => q = q.all_statuses(),
                Bug::CursorOrderIgnored if q.cursor.is_some_and(|c| c.order() != q.order) => {
                    q.cursor = None
                }
                Bug::CursorIgnored => {
                    let had = q.cursor.take();
                    let mut page = self.inner.query(t, &q)?;
                    if had.is_some() {
                        page.next = None;
                    }
                    return Ok(page);
                }
                _ => {}
            }
            self.inner.query(t, &q)
        }

        fn counts(&self, t: &TenantId, q: &AlertQuery) -> Result<Counts, StoreError> {
            if self.bug == Bug::CountsUnfiltered {
                return self.inner.counts(t, &AlertQuery::default().all_statuses());
            }
            self.inner.counts(t, q)
        }

        fn get(&self, t: &TenantId, id: &AlertId) -> Result<Option<StoredAlert>, StoreError> {
            let got = self.inner.get(t, id)?;
            if got.is_none() && self.bug == Bug::LeaksAcrossTenants {
                for name in ["conformance-tenant", "conformance-other"] {
                    let x = TenantId::new(name)?;
                    if let Some(s) = self.inner.get(&x, id)? {
                        return Ok(Some(s));
                    }
                }
            }
            Ok(got)
        }

        fn related(
            &self,
            t: &TenantId,
            id: &AlertId,
            limit: usize,
        ) -> Result<Vec<RelatedAlert>, StoreError> {
            let mut r = self.inner.related(t, id, limit)?;
            if self.bug == Bug::RelatedIncludesSelf
                && let Some(me) = self.inner.get(t, id)?
            {
                r.push(RelatedAlert {
                    alert: me,
                    relations: vec![vigil_core::store::Relation::CorrelationKey],
                });
            }
            Ok(r)
        }

        fn change_status(
            &self,
            t: &TenantId,
            id: &AlertId,
            expected: u64,
            change: StatusChange,
            at: DateTime<Utc>,
        ) -> Result<StoredAlert, StoreError> {
            let expected = match (self.bug, self.inner.get(t, id)?) {
                (Bug::NoVersionCheck, Some(s)) => s.version,
                _ => expected,
            };
            self.inner.change_status(t, id, expected, change, at)
        }

        fn bulk_change_status(
            &self,
            t: &TenantId,
            q: &AlertQuery,
            change: StatusChange,
            at: DateTime<Utc>,
        ) -> Result<Vec<BulkOutcome>, StoreError> {
            let mut q = q.clone();
            if self.bug == Bug::BulkIgnoresFilter {
                q.alert_types.clear();
            }
            self.inner.bulk_change_status(t, &q, change, at)
        }

        fn history(&self, t: &TenantId, id: &AlertId) -> Result<Vec<AuditEntry>, StoreError> {
            let mut h = self.inner.history(t, id)?;
            if self.bug == Bug::HistoryReversed {
                h.reverse();
            }
            Ok(h)
        }

        fn add_feedback(&self, t: &TenantId, id: &AlertId, f: Feedback) -> Result<(), StoreError> {
            self.inner.add_feedback(t, id, f)
        }

        fn list_feedback(
            &self,
            t: &TenantId,
            q: &FeedbackQuery,
        ) -> Result<Vec<(AlertId, Feedback)>, StoreError> {
            let mut q = q.clone();
            if self.bug == Bug::FeedbackUnfiltered {
                q.useful = None;
            }
            self.inner.list_feedback(t, &q)
        }

        fn create_rule(
            &self,
            t: &TenantId,
            rule: SuppressionRule,
            at: DateTime<Utc>,
        ) -> Result<StoredRule, StoreError> {
            self.inner.create_rule(t, rule, at)
        }

        fn get_rule(&self, t: &TenantId, name: &str) -> Result<Option<StoredRule>, StoreError> {
            self.inner.get_rule(t, name)
        }

        fn list_rules(&self, t: &TenantId) -> Result<Vec<StoredRule>, StoreError> {
            let mut r = self.inner.list_rules(t)?;
            if self.bug == Bug::RulesReversed {
                r.reverse();
            }
            Ok(r)
        }

        fn update_rule(
            &self,
            t: &TenantId,
            rule: SuppressionRule,
            expected: u64,
            at: DateTime<Utc>,
        ) -> Result<StoredRule, StoreError> {
            self.inner.update_rule(t, rule, expected, at)
        }

        fn delete_rule(
            &self,
            t: &TenantId,
            name: &str,
            at: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            self.inner.delete_rule(t, name, at)
        }

        fn create_rules(
            &self,
            t: &TenantId,
            rules: Vec<SuppressionRule>,
            at: DateTime<Utc>,
            force: bool,
        ) -> Result<Vec<CreatedRule>, StoreError> {
            self.inner.create_rules(t, rules, at, force)
        }

        fn suppress_similar(
            &self,
            t: &TenantId,
            request: SuppressSimilar,
            at: DateTime<Utc>,
        ) -> Result<(CreatedRule, Vec<AlertId>), StoreError> {
            self.inner.suppress_similar(t, request, at)
        }

        fn explain(
            &self,
            t: &TenantId,
            rule: &str,
            id: &AlertId,
            at: DateTime<Utc>,
        ) -> Result<Explanation, StoreError> {
            self.inner.explain(t, rule, id, at)
        }

        fn events_since(
            &self,
            t: &TenantId,
            after: u64,
            limit: usize,
        ) -> Result<Vec<Event>, StoreError> {
            self.inner.events_since(t, after, limit)
        }

        fn checkpoint(&self, t: &TenantId, consumer: &str) -> Result<u64, StoreError> {
            self.inner.checkpoint(t, consumer)
        }

        fn save_checkpoint(
            &self,
            t: &TenantId,
            consumer: &str,
            seq: u64,
        ) -> Result<(), StoreError> {
            self.inner.save_checkpoint(t, consumer, seq)
        }

        fn simulate(
            &self,
            t: &TenantId,
            rule: &SuppressionRule,
            at: DateTime<Utc>,
            sample: usize,
        ) -> Result<Simulation, StoreError> {
            let mut s = self.inner.simulate(t, rule, at, sample)?;
            if self.bug == Bug::SimulateOpenOnly {
                for (status, n) in &mut s.by_status {
                    if status.is_closed() {
                        *n = 0;
                    }
                }
            }
            Ok(s)
        }

        fn apply_rule(
            &self,
            t: &TenantId,
            name: &str,
            actor: &str,
            at: DateTime<Utc>,
        ) -> Result<Vec<AlertId>, StoreError> {
            self.inner.apply_rule(t, name, actor, at)
        }

        fn create_automation(
            &self,
            t: &TenantId,
            a: Automation,
            at: DateTime<Utc>,
        ) -> Result<StoredAutomation, StoreError> {
            self.inner.create_automation(t, a, at)
        }

        fn get_automation(
            &self,
            t: &TenantId,
            name: &str,
        ) -> Result<Option<StoredAutomation>, StoreError> {
            self.inner.get_automation(t, name)
        }

        fn list_automations(&self, t: &TenantId) -> Result<Vec<StoredAutomation>, StoreError> {
            self.inner.list_automations(t)
        }

        fn update_automation(
            &self,
            t: &TenantId,
            a: Automation,
            expected: u64,
            at: DateTime<Utc>,
        ) -> Result<StoredAutomation, StoreError> {
            let expected = match (self.bug, self.inner.get_automation(t, &a.name)?) {
                (Bug::NoVersionCheck, Some(s)) => s.version,
                _ => expected,
            };
            self.inner.update_automation(t, a, expected, at)
        }

        fn delete_automation(
            &self,
            t: &TenantId,
            name: &str,
            at: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            self.inner.delete_automation(t, name, at)
        }

        fn acquire_lease(
            &self,
            t: &TenantId,
            claim: &LeaseClaim,
            at: DateTime<Utc>,
        ) -> Result<bool, StoreError> {
            if self.bug == Bug::LeaseIgnored {
                return Ok(true);
            }
            self.inner.acquire_lease(t, claim, at)
        }

        fn release_lease(&self, t: &TenantId, claim: &LeaseClaim) -> Result<(), StoreError> {
            self.inner.release_lease(t, claim)
        }

        fn plan_deliveries(
            &self,
            t: &TenantId,
            claim: &LeaseClaim,
            limit: usize,
            at: DateTime<Utc>,
        ) -> Result<PlanReport, StoreError> {
            self.inner.plan_deliveries(t, claim, limit, at)
        }

        fn due_deliveries(
            &self,
            t: &TenantId,
            at: DateTime<Utc>,
            limit: usize,
        ) -> Result<Vec<DueDelivery>, StoreError> {
            if self.bug == Bug::DueIgnoresOrder {
                let mut due = Vec::new();
                for d in self
                    .inner
                    .list_deliveries(t, &DeliveryQuery::state(DeliveryState::Pending))?
                {
                    if d.next_attempt_at <= at {
                        let automation = self
                            .inner
                            .get_automation(t, &d.automation)?
                            .map(|s| s.automation);
                        due.push(DueDelivery::new(d, automation));
                    }
                }
                due.truncate(limit);
                return Ok(due);
            }
            self.inner.due_deliveries(t, at, limit)
        }

        fn record_deliveries(
            &self,
            t: &TenantId,
            claim: &LeaseClaim,
            outcomes: &[(u64, Outcome)],
            policy: &RetryPolicy,
            at: DateTime<Utc>,
        ) -> Result<Vec<Delivery>, StoreError> {
            self.inner.record_deliveries(t, claim, outcomes, policy, at)
        }

        fn list_deliveries(
            &self,
            t: &TenantId,
            q: &DeliveryQuery,
        ) -> Result<Vec<Delivery>, StoreError> {
            self.inner.list_deliveries(t, q)
        }

        fn retry_delivery(
            &self,
            t: &TenantId,
            id: u64,
            at: DateTime<Utc>,
        ) -> Result<Delivery, StoreError> {
            self.inner.retry_delivery(t, id, at)
        }

        fn prune_deliveries(&self, t: &TenantId, before: DateTime<Utc>) -> Result<u64, StoreError> {
            self.inner.prune_deliveries(t, before)
        }
    }

    fn caught(bug: Bug, check: &str) -> bool {
        let factory = move || Mutant {
            inner: MemoryStore::default(),
            bug,
        };
        std::panic::catch_unwind(|| vigil_testkit::conformance::run_check(check, &factory)).is_err()
    }

    /// Each broken store fails the check meant to catch it.
    #[test]
    fn the_suite_catches_broken_stores() {
        let cases = [
            (Bug::ShowsDismissed, "query_default_shows_open_alerts"),
            (Bug::ShowsDismissed, "query_filters_match_oracle"),
            (Bug::NoVersionCheck, "change_status_conflict"),
            (Bug::HistoryReversed, "history_append_only"),
            (Bug::CountsUnfiltered, "query_counts_match_oracle"),
            (Bug::RulesReversed, "rules_crud"),
            (Bug::LeaksAcrossTenants, "tenant_isolation_direct"),
            (Bug::LeaksAcrossTenants, "tenant_isolation_model"),
            (Bug::CursorOrderIgnored, "query_cursor_errors"),
            (Bug::FeedbackUnfiltered, "feedback_filters"),
            (Bug::PartialBatch, "ingest_batch_atomicity"),
            (Bug::BulkIgnoresFilter, "bulk_change_status"),
            (Bug::ReingestResetsStatus, "ingest_update_keeps_status"),
            (Bug::RelatedIncludesSelf, "related_relations"),
            (Bug::CursorIgnored, "query_pagination_complete"),
            (Bug::CursorIgnored, "query_pagination_while_inserting"),
            (Bug::SimulateOpenOnly, "rules_simulate"),
            (Bug::NoVersionCheck, "automation_crud"),
            (Bug::LeaseIgnored, "automation_leases"),
            (Bug::DueIgnoresOrder, "automation_delivery_order"),
        ];
        let missed: Vec<String> = cases
            .iter()
            .filter(|(bug, check)| !caught(*bug, check))
            .map(|(bug, check)| format!("{bug:?} not caught by {check}"))
            .collect();
        assert!(missed.is_empty(), "{missed:#?}");
    }
}
