//! Deliveries, the dispatcher's lease, and the retry policy.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::model::Automation;
use crate::AlertId;

/// Where a delivery stands.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum DeliveryState {
    /// Not delivered yet: due at its `next_attempt_at`.
    Pending,
    /// Delivered (a 2xx answer, or exit code 0).
    Delivered,
    /// Parked after its last allowed attempt, or refused for good (a 4xx answer, a redirect to
    /// another host, a program that cannot start, its automation deleted); visible with
    /// `vigil automations failures` until retried.
    Failed,
}

impl DeliveryState {
    /// `pending`, `delivered` or `failed`, as stored.
    pub const fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    /// The state [`DeliveryState::as_str`] wrote.
    pub fn parse(s: &str) -> Option<DeliveryState> {
        [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::Failed,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}

impl std::fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One action of one automation for one event: recorded (with its payload) before the
/// dispatcher's checkpoint moves past the event, then attempted until delivered or parked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Delivery {
    /// Its number in the tenant (1, 2, 3, … in the order they were planned).
    pub id: u64,
    /// The event that fired it.
    pub event: u64,
    /// The alert the event is about.
    pub alert: Option<AlertId>,
    /// The automation's name.
    pub automation: String,
    /// The index of the action in the automation.
    pub action: u32,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it is next due (while pending).
    pub next_attempt_at: DateTime<Utc>,
    /// The last answer: `HTTP 500`, `exit 3`, `timeout`, …
    pub last_status: Option<String>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was planned.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The JSON body sent (webhook) or written to standard input (command). Not part of
    /// [`Delivery::to_json`]: backends keep it in a column of its own, written once.
    #[serde(skip)]
    pub payload: String,
}

impl Delivery {
    /// A pending delivery due at `at`; the backend numbers it when it is stored.
    pub fn planned(
        event: u64,
        alert: Option<AlertId>,
        automation: &str,
        action: u32,
        payload: String,
        at: DateTime<Utc>,
    ) -> Delivery {
        Delivery {
            id: 0,
            event,
            alert,
            automation: automation.to_owned(),
            action,
            state: DeliveryState::Pending,
            attempts: 0,
            next_attempt_at: at,
            last_status: None,
            last_error: None,
            created_at: at,
            updated_at: at,
            payload,
        }
    }

    /// The idempotency key sent with it: the tenant and the number of the event that fired
    /// it (`<tenant>:<event>`, the tenant percent-encoded outside unreserved characters), the
    /// same on every attempt.
    pub fn idempotency_key(&self, tenant: &str) -> String {
        let mut out = String::with_capacity(tenant.len() + 12);
        for b in tenant.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out.push(':');
        out.push_str(&self.event.to_string());
        out
    }

    /// What orders deliveries: those with the same key go out one at a time, in event order.
    /// The key is the automation, the action and the alert, so each receiver sees an alert's
    /// events in the order they happened, and one slow receiver does not hold up another.
    pub fn order_key(&self) -> (&str, u32, Option<&AlertId>) {
        (&self.automation, self.action, self.alert.as_ref())
    }

    /// The delivery as JSON text, as backends store it, without its payload (which never
    /// changes, and is stored beside it).
    pub fn to_json(&self) -> Result<String, crate::store::StoreError> {
        serde_json::to_string(self).map_err(|e| {
            crate::store::StoreError::with_source(
                crate::store::ErrorKind::InvalidInput,
                format!("delivery {} cannot be written as JSON: {e}", self.id),
                e,
            )
        })
    }

    /// Reads back what [`Delivery::to_json`] wrote, with the payload stored beside it;
    /// anything else is [`crate::store::ErrorKind::Corrupt`].
    pub fn from_json(
        id: u64,
        text: &str,
        payload: String,
    ) -> Result<Delivery, crate::store::StoreError> {
        let mut d: Delivery = serde_json::from_str(text).map_err(|e| {
            crate::store::StoreError::with_source(
                crate::store::ErrorKind::Corrupt,
                format!("delivery {id} cannot be read back: {e}; the database is damaged"),
                e,
            )
        })?;
        d.id = id;
        d.payload = payload;
        Ok(d)
    }
}

/// A pending delivery that is due, with the automation that will deliver it (`None` if it was
/// deleted since: the delivery is then parked).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct DueDelivery {
    /// The delivery.
    pub delivery: Delivery,
    /// Its automation, as it is now.
    pub automation: Option<Automation>,
}

impl DueDelivery {
    /// A due delivery with its automation.
    pub fn new(delivery: Delivery, automation: Option<Automation>) -> DueDelivery {
        DueDelivery {
            delivery,
            automation,
        }
    }
}

/// Which deliveries to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryQuery {
    /// Only this state.
    pub state: Option<DeliveryState>,
    /// Only this automation.
    pub automation: Option<String>,
    /// Only deliveries numbered after this one.
    pub after: u64,
    /// At most this many (0: 100).
    pub limit: usize,
}

impl DeliveryQuery {
    /// Deliveries in `state`.
    pub fn state(state: DeliveryState) -> DeliveryQuery {
        DeliveryQuery {
            state: Some(state),
            ..DeliveryQuery::default()
        }
    }

    /// Sets the limit.
    pub fn limit(mut self, limit: usize) -> DeliveryQuery {
        self.limit = limit;
        self
    }

    /// Only deliveries of `automation`.
    pub fn automation(mut self, automation: impl Into<String>) -> DeliveryQuery {
        self.automation = Some(automation.into());
        self
    }
}

/// The right, for a while, to dispatch a tenant's automations: only the holder plans and
/// records deliveries, so two dispatchers never both deliver one event unless one died (or
/// stalled past the lease) mid-delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lease {
    /// The lease's name.
    pub name: String,
    /// Who holds it.
    pub holder: String,
    /// When it lapses unless renewed.
    pub expires_at: DateTime<Utc>,
}

impl Lease {
    /// A lease; backends build the ones they read back with it.
    pub fn new(
        name: impl Into<String>,
        holder: impl Into<String>,
        expires_at: DateTime<Utc>,
    ) -> Lease {
        Lease {
            name: name.into(),
            holder: holder.into(),
            expires_at,
        }
    }
}

/// A dispatcher's claim on a lease: the lease's name, who claims it, and for how long each
/// renewal holds.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaseClaim {
    /// The lease's name ([`DISPATCH_LEASE`] for the dispatcher).
    pub name: String,
    /// Who claims it: unique per running dispatcher.
    pub holder: String,
    /// How long each acquisition or renewal holds.
    pub ttl: Duration,
}

/// The name of the dispatcher's lease, and of its checkpoint in the event log.
pub const DISPATCH_LEASE: &str = "vigil.automation";

impl LeaseClaim {
    /// A claim on the dispatcher's lease by `holder` for `ttl`.
    pub fn new(holder: impl Into<String>, ttl: Duration) -> LeaseClaim {
        LeaseClaim {
            name: DISPATCH_LEASE.into(),
            holder: holder.into(),
            ttl,
        }
    }
}

/// How one attempt went.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Delivered.
    Delivered {
        /// `HTTP 200`, `exit 0`.
        status: String,
    },
    /// Not delivered.
    Failed {
        /// The answer, if there was one (`HTTP 503`, `exit 2`).
        status: Option<String>,
        /// What went wrong.
        error: String,
        /// Whether another attempt may succeed (a timeout, a refused connection, a 5xx, 408 or
        /// 429) or not (another 4xx, a redirect to another host, a program that cannot start).
        retry: bool,
    },
}

impl Outcome {
    /// A failure worth retrying.
    pub fn retry(status: Option<String>, error: impl Into<String>) -> Outcome {
        Outcome::Failed {
            status,
            error: error.into(),
            retry: true,
        }
    }

    /// A failure not worth retrying.
    pub fn reject(status: Option<String>, error: impl Into<String>) -> Outcome {
        Outcome::Failed {
            status,
            error: error.into(),
            retry: false,
        }
    }
}

/// Retries with exponential backoff and jitter, then parking.
///
/// ```
/// use std::time::Duration;
/// use vigil_core::automation::RetryPolicy;
///
/// let p = RetryPolicy::default();
/// let d = p.delay(3); // after the third failed attempt: about 4 × the first delay
/// assert!(d >= p.initial * 2 && d <= p.initial * 4);
/// assert!(p.delay(60) <= p.max);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts before a delivery is parked as failed.
    pub max_attempts: u32,
    /// The delay after the first failed attempt (before jitter).
    pub initial: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for RetryPolicy {
    /// 8 attempts, 2 s doubling to at most 10 min (about 4 min from first to last attempt).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            initial: Duration::from_secs(2),
            max: Duration::from_secs(600),
        }
    }
}

impl RetryPolicy {
    /// A policy.
    pub fn new(max_attempts: u32, initial: Duration, max: Duration) -> RetryPolicy {
        RetryPolicy {
            max_attempts: max_attempts.max(1),
            initial,
            max: max.max(initial),
        }
    }

    /// The delay after `attempts` failed attempts: `initial × 2^(attempts−1)`, at most `max`,
    /// then scaled by a random factor in [½, 1] so that retries of many deliveries spread out.
    pub fn delay(&self, attempts: u32) -> Duration {
        let exp = attempts.saturating_sub(1).min(30);
        let base = self.initial.saturating_mul(1u32 << exp).min(self.max);
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(attempts);
        let r = (h.finish() % 1024) as f64 / 1023.0; // 0.0 ..= 1.0
        base.mul_f64(0.5 + 0.5 * r)
    }
}

/// What one planning step did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlanReport {
    /// Events read and handled.
    pub events: u64,
    /// Deliveries recorded for them.
    pub deliveries: u64,
    /// The checkpoint after the step (the last event handled).
    pub checkpoint: u64,
}
