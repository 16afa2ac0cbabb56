//! What the engine does for automations: versioned rules with their events, the dispatcher's
//! lease, planning deliveries from the event log, and recording attempts.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::backend::{Backend, WriteTx};
use super::event::EventKind;
use super::types::{ErrorKind, StoreError, TenantId};
use crate::automation::{
    Automation, DISPATCH_LEASE, Delivery, DeliveryQuery, DeliveryState, DueDelivery, Lease,
    LeaseClaim, Outcome, PlanReport, RetryPolicy, StoredAutomation, payload,
};
use crate::suppression::RuleSet;

/// How many pending deliveries one look for due ones reads at most.
const DUE_SCAN: usize = 10_000;

fn not_found(name: &str) -> StoreError {
    StoreError::new(
        ErrorKind::NotFound,
        format!("no automation named {name:?} (see `vigil automations list`)"),
    )
}

fn check(automation: &Automation) -> Result<(), StoreError> {
    automation
        .check()
        .map_err(|e| StoreError::with_source(ErrorKind::InvalidInput, e.to_string(), e))
}

fn chrono_of(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

pub(super) fn create<B: Backend>(
    b: &B,
    tenant: &TenantId,
    automation: Automation,
    at: DateTime<Utc>,
) -> Result<StoredAutomation, StoreError> {
    check(&automation)?;
    b.write(tenant, |tx| {
        if tx.automation(&automation.name)?.is_some() {
            return Err(StoreError::new(
                ErrorKind::AlreadyExists,
                format!(
                    "an automation named {:?} already exists; update it or pick another name",
                    automation.name
                ),
            ));
        }
        let since = tx.append_event(
            at,
            &EventKind::AutomationCreated {
                automation: automation.name.clone(),
                version: 1,
            },
        )?;
        let stored = StoredAutomation::new(automation.clone(), 1, at, at, since);
        tx.insert_automation(&stored)?;
        Ok(stored)
    })
}

pub(super) fn update<B: Backend>(
    b: &B,
    tenant: &TenantId,
    automation: Automation,
    expected_version: u64,
    at: DateTime<Utc>,
) -> Result<StoredAutomation, StoreError> {
    check(&automation)?;
    b.write(tenant, |tx| {
        let name = automation.name.clone();
        let current = tx.automation(&name)?.ok_or_else(|| not_found(&name))?;
        let stale = |v: u64| {
            StoreError::new(
                ErrorKind::Conflict,
                format!(
                    "automation {name:?} is at version {v}, not {expected_version}: reload it and retry"
                ),
            )
        };
        if current.version != expected_version {
            return Err(stale(current.version));
        }
        let stored =
            StoredAutomation::new(
                automation.clone(),
                current.version + 1,
                current.created_at,
                at,
                current.since,
            );
        if !tx.update_automation(&stored, expected_version)? {
            return Err(stale(current.version));
        }
        tx.append_event(
            at,
            &EventKind::AutomationUpdated {
                automation: name.clone(),
                version: stored.version,
            },
        )?;
        Ok(stored)
    })
}

pub(super) fn delete<B: Backend>(
    b: &B,
    tenant: &TenantId,
    name: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    b.write(tenant, |tx| {
        if !tx.delete_automation(name)? {
            return Err(not_found(name));
        }
        tx.append_event(
            at,
            &EventKind::AutomationDeleted {
                automation: name.to_owned(),
            },
        )?;
        Ok(())
    })
}

fn check_claim(claim: &LeaseClaim) -> Result<(), StoreError> {
    let ok = |s: &str| !s.trim().is_empty() && s.len() <= 200 && !s.chars().any(char::is_control);
    if !ok(&claim.name) || !ok(&claim.holder) {
        return Err(StoreError::new(
            ErrorKind::InvalidInput,
            "a lease name and holder are 1 to 200 characters without control characters",
        ));
    }
    if claim.ttl.is_zero() {
        return Err(StoreError::new(
            ErrorKind::InvalidInput,
            "a lease must last longer than zero",
        ));
    }
    Ok(())
}

pub(super) fn acquire_lease<B: Backend>(
    b: &B,
    tenant: &TenantId,
    claim: &LeaseClaim,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    check_claim(claim)?;
    b.write(tenant, |tx| {
        let free = match tx.lease(&claim.name)? {
            None => true,
            Some(l) => l.holder == claim.holder || l.expires_at <= at,
        };
        if free {
            tx.set_lease(&Lease::new(
                claim.name.clone(),
                claim.holder.clone(),
                at + chrono_of(claim.ttl),
            ))?;
        }
        Ok(free)
    })
}

pub(super) fn release_lease<B: Backend>(
    b: &B,
    tenant: &TenantId,
    claim: &LeaseClaim,
) -> Result<(), StoreError> {
    check_claim(claim)?;
    b.write(tenant, |tx| {
        if tx
            .lease(&claim.name)?
            .is_some_and(|l| l.holder == claim.holder)
        {
            tx.delete_lease(&claim.name)?;
        }
        Ok(())
    })
}

/// Inside a write: the claim must still hold the lease at `at`; it is renewed.
fn hold(tx: &mut dyn WriteTx, claim: &LeaseClaim, at: DateTime<Utc>) -> Result<(), StoreError> {
    match tx.lease(&claim.name)? {
        Some(l) if l.holder == claim.holder && l.expires_at > at => tx.set_lease(&Lease::new(
            claim.name.clone(),
            claim.holder.clone(),
            at + chrono_of(claim.ttl),
        )),
        other => Err(StoreError::new(
            ErrorKind::Conflict,
            format!(
                "the lease {:?} is no longer held by {:?} ({}); acquire it again",
                claim.name,
                claim.holder,
                match other {
                    Some(l) if l.holder != claim.holder => format!("{:?} holds it", l.holder),
                    Some(_) => "it lapsed".to_owned(),
                    None => "nobody holds it".to_owned(),
                }
            ),
        )),
    }
}

pub(super) fn plan<B: Backend>(
    b: &B,
    tenant: &TenantId,
    claim: &LeaseClaim,
    limit: usize,
    at: DateTime<Utc>,
) -> Result<PlanReport, StoreError> {
    check_claim(claim)?;
    b.write(tenant, |tx| {
        hold(tx, claim, at)?;
        let from = tx.checkpoint(DISPATCH_LEASE)?.unwrap_or(0);
        let events = tx.events_since(from, limit.max(1))?;
        let Some(last) = events.last().map(|e| e.seq) else {
            return Ok(PlanReport {
                checkpoint: from,
                ..PlanReport::default()
            });
        };
        let stored: Vec<StoredAutomation> = tx
            .automations()?
            .into_iter()
            .filter(|s| s.automation.enabled)
            .collect();
        let since: HashMap<&str, u64> = stored
            .iter()
            .map(|s| (s.automation.name.as_str(), s.since))
            .collect();
        let autos: Vec<&Automation> = stored.iter().map(|s| &s.automation).collect();
        let mut report = PlanReport {
            events: events.len() as u64,
            deliveries: 0,
            checkpoint: last,
        };
        if !autos.is_empty() {
            let set = RuleSet::compile(autos.iter().map(|a| a.condition_rule())).map_err(|e| {
                StoreError::with_source(
                    ErrorKind::Corrupt,
                    format!(
                        "the stored automations of tenant {:?} no longer compile: {e}",
                        tenant.as_str()
                    ),
                    e,
                )
            })?;
            for event in &events {
                let firing: Vec<&Automation> = autos
                    .iter()
                    .copied()
                    .filter(|a| {
                        since.get(a.name.as_str()).is_some_and(|s| event.seq > *s)
                            && a.fires_on(&event.kind)
                    })
                    .collect();
                if firing.is_empty() {
                    continue;
                }
                let Some(id) = event.alert() else { continue };
                let Some(rec) = tx.alert(id)? else { continue };
                let alert = &rec.stored.alert;
                let matched: HashSet<&str> = set
                    .matching(alert, at)
                    .into_iter()
                    .map(|r| r.name())
                    .collect();
                for a in firing {
                    if !matched.contains(a.name.as_str()) {
                        continue;
                    }
                    let body = payload::build(tenant, &a.name, event, alert)?;
                    for i in 0..a.actions.len() {
                        tx.insert_delivery(&Delivery::planned(
                            event.seq,
                            Some(id.clone()),
                            &a.name,
                            u32::try_from(i).unwrap_or(u32::MAX),
                            body.clone(),
                            at,
                        ))?;
                        report.deliveries += 1;
                    }
                }
            }
        }
        tx.set_checkpoint(DISPATCH_LEASE, last)?;
        Ok(report)
    })
}

pub(super) fn due<B: Backend>(
    b: &B,
    tenant: &TenantId,
    at: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<DueDelivery>, StoreError> {
    b.read(tenant, |tx| {
        let autos: HashMap<String, Automation> = tx
            .automations()?
            .into_iter()
            .map(|s| (s.automation.name.clone(), s.automation))
            .collect();
        let mut blocked: HashSet<(String, u32, Option<crate::AlertId>)> = HashSet::new();
        let mut out = Vec::new();
        let mut after = 0;
        let mut scanned = 0;
        while out.len() < limit && scanned < DUE_SCAN {
            let page = tx.deliveries(
                Some(DeliveryState::Pending),
                after,
                limit.saturating_mul(2).clamp(64, 500),
            )?;
            let Some(last) = page.last().map(|d| d.id) else {
                break;
            };
            after = last;
            scanned += page.len();
            for d in page {
                if out.len() >= limit {
                    break;
                }
                let key = (d.automation.clone(), d.action, d.alert.clone());
                if blocked.contains(&key) {
                    continue;
                }
                let automation = autos.get(&d.automation).cloned();
                let waiting = automation.as_ref().is_some_and(|a| !a.enabled);
                if waiting || d.next_attempt_at > at {
                    blocked.insert(key);
                    continue;
                }
                out.push(DueDelivery {
                    delivery: d,
                    automation,
                });
            }
        }
        Ok(out)
    })
}

pub(super) fn record<B: Backend>(
    b: &B,
    tenant: &TenantId,
    claim: &LeaseClaim,
    outcomes: &[(u64, Outcome)],
    policy: &RetryPolicy,
    at: DateTime<Utc>,
) -> Result<Vec<crate::automation::Delivery>, StoreError> {
    check_claim(claim)?;
    b.write(tenant, |tx| {
        hold(tx, claim, at)?;
        let mut out = Vec::with_capacity(outcomes.len());
        for (id, outcome) in outcomes {
            let Some(mut d) = tx.delivery(*id)? else {
                continue;
            };
            if d.state != DeliveryState::Pending {
                continue;
            }
            d.attempts = d.attempts.saturating_add(1);
            d.updated_at = at;
            match outcome {
                Outcome::Delivered { status } => {
                    d.state = DeliveryState::Delivered;
                    d.last_status = Some(status.clone());
                    d.last_error = None;
                }
                Outcome::Failed {
                    status,
                    error,
                    retry,
                } => {
                    d.last_status = status.clone();
                    d.last_error = Some(error.clone());
                    if *retry && d.attempts < policy.max_attempts {
                        d.next_attempt_at = at + chrono_of(policy.delay(d.attempts));
                    } else {
                        d.state = DeliveryState::Failed;
                    }
                }
            }
            tx.update_delivery(&d)?;
            out.push(d);
        }
        Ok(out)
    })
}

pub(super) fn list<B: Backend>(
    b: &B,
    tenant: &TenantId,
    q: &DeliveryQuery,
) -> Result<Vec<Delivery>, StoreError> {
    let limit = if q.limit == 0 { 100 } else { q.limit };
    b.read(tenant, |tx| {
        let mut out = Vec::new();
        let mut after = q.after;
        loop {
            let page = tx.deliveries(q.state, after, 500)?;
            let Some(last) = page.last().map(|d| d.id) else {
                break;
            };
            after = last;
            for d in page {
                if q.automation.as_ref().is_none_or(|a| *a == d.automation) {
                    out.push(d);
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
            }
        }
        Ok(out)
    })
}

pub(super) fn retry<B: Backend>(
    b: &B,
    tenant: &TenantId,
    id: u64,
    at: DateTime<Utc>,
) -> Result<Delivery, StoreError> {
    b.write(tenant, |tx| {
        let mut d = tx.delivery(id)?.ok_or_else(|| {
            StoreError::new(
                ErrorKind::NotFound,
                format!("no delivery numbered {id} (see `vigil automations failures`)"),
            )
        })?;
        if d.state != DeliveryState::Failed {
            return Err(StoreError::new(
                ErrorKind::InvalidInput,
                format!(
                    "delivery {id} is {}; only failed deliveries are retried",
                    d.state
                ),
            ));
        }
        d.state = DeliveryState::Pending;
        d.attempts = 0;
        d.next_attempt_at = at;
        d.updated_at = at;
        tx.update_delivery(&d)?;
        Ok(d)
    })
}

pub(super) fn prune<B: Backend>(
    b: &B,
    tenant: &TenantId,
    before: DateTime<Utc>,
) -> Result<u64, StoreError> {
    b.write(tenant, |tx| {
        // The newest delivery stays whatever its age, so delivery numbers (the backends
        // number from the highest) are never reused: the highest is pending or failed, which
        // stay, or it is the last delivered one, kept here.
        let mut old = Vec::new();
        let mut after = 0;
        loop {
            let page = tx.deliveries(Some(DeliveryState::Delivered), after, 500)?;
            let Some(last) = page.last().map(|d| d.id) else {
                break;
            };
            after = last;
            old.extend(page.iter().filter(|d| d.updated_at < before).map(|d| d.id));
        }
        old.retain(|id| *id != after);
        let mut n = 0;
        for id in old {
            if tx.delete_delivery(id)? {
                n += 1;
            }
        }
        Ok(n)
    })
}
