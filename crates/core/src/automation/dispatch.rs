//! The dispatcher: plans deliveries from the event log and delivers them, at least once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::Utc;

use super::delivery::{DISPATCH_LEASE, Delivery, DueDelivery, LeaseClaim, Outcome, RetryPolicy};
use super::model::Action;
use super::payload;
use crate::store::{ErrorKind, Store, StoreError, TenantId};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the lease keeps beyond an attempt's timeout (for the outcome to be recorded).
const LEASE_MARGIN: Duration = Duration::from_secs(1);

/// Sends one attempt of one delivery: an HTTP client and a program runner in production
/// ([`super::transport::Standard`]), anything that answers with an [`Outcome`] in tests.
pub trait Transport: Send + Sync {
    /// Delivers `request` once and says how it went. Never panics; every failure is an
    /// [`Outcome::Failed`].
    fn deliver(&self, request: &Request<'_>) -> Outcome;
}

/// One attempt to hand to a [`Transport`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Request<'a> {
    /// The tenant.
    pub tenant: &'a TenantId,
    /// What to call.
    pub action: &'a Action,
    /// The delivery (its payload is the body or the standard input).
    pub delivery: &'a Delivery,
    /// The attempt number (1 for the first).
    pub attempt: u32,
    /// For a webhook, every header to send ([`payload::headers`], signed); empty for a
    /// command.
    pub headers: Vec<(String, String)>,
}

/// How a dispatcher works.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DispatchConfig {
    /// How long the lease holds between renewals; a dispatcher that dies is replaced after at
    /// most this long. Every planning and recording step renews it, and so does an attempt
    /// that could otherwise outlast it (for as long as the action's timeout, plus 1 s).
    pub lease_ttl: Duration,
    /// Events read per planning step.
    pub plan_batch: usize,
    /// Deliveries attempted per step, then recorded in one transaction: the most that can be
    /// sent twice if the dispatcher dies before recording them.
    pub delivery_batch: usize,
    /// How many deliveries of one batch are in flight at once, each to a different order key
    /// (automation, action, alert): one key's deliveries still go one at a time, in order.
    pub parallel: usize,
    /// How long [`Dispatcher::run`] sleeps when there is nothing to do.
    pub poll: Duration,
    /// Retries and parking.
    pub retry: RetryPolicy,
}

impl Default for DispatchConfig {
    /// A 30 s lease, 500 events per planning step, 64 deliveries per step with up to 4 in
    /// flight, 500 ms polls, the default retry policy.
    fn default() -> Self {
        DispatchConfig {
            lease_ttl: Duration::from_secs(30),
            plan_batch: 500,
            delivery_batch: 64,
            parallel: 4,
            poll: Duration::from_millis(500),
            retry: RetryPolicy::default(),
        }
    }
}

/// What dispatching did (one step, or a total).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Whether the lease was held (false: another dispatcher has it; nothing was done).
    pub leased: bool,
    /// Events read from the log.
    pub events: u64,
    /// Deliveries planned.
    pub planned: u64,
    /// Deliveries delivered.
    pub delivered: u64,
    /// Failed attempts that will be retried.
    pub retrying: u64,
    /// Deliveries parked as failed.
    pub parked: u64,
    /// The dispatcher's checkpoint in the event log.
    pub checkpoint: u64,
}

impl Progress {
    fn add(&mut self, p: &Progress) {
        self.leased |= p.leased;
        self.events += p.events;
        self.planned += p.planned;
        self.delivered += p.delivered;
        self.retrying += p.retrying;
        self.parked += p.parked;
        self.checkpoint = self.checkpoint.max(p.checkpoint);
    }

    /// Whether the step found nothing to do.
    pub fn idle(&self) -> bool {
        self.events == 0 && self.delivered == 0 && self.retrying == 0 && self.parked == 0
    }
}

/// Delivers a tenant's automations: reads the event log after its durable checkpoint, records
/// the deliveries each event calls for ([`Store::plan_deliveries`]) before the checkpoint
/// moves past it, then attempts the due ones ([`Store::due_deliveries`]) through a
/// [`Transport`] and records the outcomes ([`Store::record_deliveries`]).
///
/// **At least once:** a delivery is stored before its event is passed, and marked delivered
/// only after the receiver accepted it; a dispatcher that dies in between sends it again when
/// it (or another) resumes — the only duplicates. **One at a time:** only the holder of the
/// tenant's lease plans or records; a lapsed lease (its holder died) is taken over.
/// **In order:** deliveries with the same [`Delivery::order_key`] (automation, action, alert)
/// go out in event order; after a failure the rest of that key waits for the retry.
///
/// ```
/// use std::sync::Mutex;
/// use chrono::Utc;
/// use vigil_core::automation::{
///     Action, Automation, CommandAction, DispatchConfig, Dispatcher, Outcome, Request, Transport,
///     Trigger,
/// };
/// use vigil_core::store::{MemoryStore, Store, TenantId};
/// use vigil_core::{defender, Severity};
///
/// /// Records what it is asked to deliver.
/// #[derive(Default)]
/// struct Recorder(Mutex<Vec<String>>);
/// impl Transport for Recorder {
///     fn deliver(&self, r: &Request<'_>) -> Outcome {
///         self.0.lock().unwrap().push(r.delivery.payload.clone());
///         Outcome::Delivered { status: "ok".into() }
///     }
/// }
///
/// let store = MemoryStore::default();
/// let t = TenantId::new("contoso")?;
/// let a = Automation::new("log", [Trigger::AlertCreated], [Action::Command(CommandAction::new(["/bin/cat"]))]);
/// store.create_automation(&t, a, Utc::now())?;
/// let alerts = defender::parse_alerts(include_str!("../../../../fixtures/alerts/sample-alerts.json"))?;
/// store.ingest(&t, &alerts, Utc::now())?;
///
/// let sent = Recorder::default();
/// let d = Dispatcher::new(&store, t.clone(), "worker-1", &sent, DispatchConfig::default());
/// let done = d.drain()?;
/// assert_eq!(done.delivered as usize, alerts.len());
/// assert_eq!(sent.0.lock().unwrap().len(), alerts.len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Dispatcher<'a> {
    store: &'a dyn Store,
    tenant: TenantId,
    claim: LeaseClaim,
    transport: &'a dyn Transport,
    config: DispatchConfig,
    /// Until when the lease surely holds, as this dispatcher last renewed it.
    lease_until: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Dispatcher<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("tenant", &self.tenant)
            .field("claim", &self.claim)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A holder name unique to this process and moment: `<pid>-<nanoseconds>`.
pub(crate) fn unique_holder() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("pid{}-{nanos}", std::process::id())
}

impl<'a> Dispatcher<'a> {
    /// A dispatcher of `tenant`'s automations on `store`, known as `holder` (unique per
    /// running dispatcher; see [`Dispatcher::unique_holder`]).
    pub fn new(
        store: &'a dyn Store,
        tenant: TenantId,
        holder: impl Into<String>,
        transport: &'a dyn Transport,
        config: DispatchConfig,
    ) -> Dispatcher<'a> {
        let claim = LeaseClaim::new(holder, config.lease_ttl);
        Dispatcher {
            store,
            tenant,
            claim,
            transport,
            config,
            lease_until: Mutex::new(None),
        }
    }

    /// A holder name unique to this process and moment.
    pub fn unique_holder() -> String {
        unique_holder()
    }

    /// The holder name.
    pub fn holder(&self) -> &str {
        &self.claim.holder
    }

    /// One step: take or renew the lease, plan one batch of events, attempt one batch of due
    /// deliveries and record them. Does nothing (`leased: false`) while another dispatcher
    /// holds the lease.
    pub fn step(&self) -> Result<Progress, StoreError> {
        let r = self.step_inner();
        if matches!(&r, Err(e) if e.kind() == ErrorKind::Conflict) {
            self.forget_lease();
        }
        r
    }

    /// How long the lease surely holds still, as far as this dispatcher knows.
    fn held_for(&self) -> Duration {
        self.lease_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map_or(Duration::ZERO, |u| {
                u.saturating_duration_since(Instant::now())
            })
    }

    /// Notes a renewal that started at `from`.
    fn renewed(&self, from: Instant, ttl: Duration) {
        *self
            .lease_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(from + ttl);
    }

    fn forget_lease(&self) {
        *self
            .lease_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn step_inner(&self) -> Result<Progress, StoreError> {
        let ttl = self.config.lease_ttl;
        let mut p = Progress::default();
        // Writes renew the lease; an explicit renewal is needed only when half of it passed
        // without one.
        if self.held_for() <= ttl / 2 {
            let t0 = Instant::now();
            if !self
                .store
                .acquire_lease(&self.tenant, &self.claim, Utc::now())?
            {
                self.forget_lease();
                return Ok(p);
            }
            self.renewed(t0, ttl);
        }
        p.leased = true;
        p.checkpoint = self.store.checkpoint(&self.tenant, DISPATCH_LEASE)?;
        if !self
            .store
            .events_since(&self.tenant, p.checkpoint, 1)?
            .is_empty()
        {
            let t0 = Instant::now();
            let plan = self.store.plan_deliveries(
                &self.tenant,
                &self.claim,
                self.config.plan_batch,
                Utc::now(),
            )?;
            self.renewed(t0, ttl);
            p.events = plan.events;
            p.planned = plan.deliveries;
            p.checkpoint = plan.checkpoint;
        }
        let due =
            self.store
                .due_deliveries(&self.tenant, Utc::now(), self.config.delivery_batch)?;
        // One queue per order key, in order; queues go out in parallel, each one at a time.
        let mut queues: Vec<Vec<&DueDelivery>> = Vec::new();
        let mut index: HashMap<(&str, u32, Option<&crate::AlertId>), usize> = HashMap::new();
        for d in &due {
            let k = d.delivery.order_key();
            let i = *index.entry(k).or_insert_with(|| {
                queues.push(Vec::new());
                queues.len() - 1
            });
            if let Some(q) = queues.get_mut(i) {
                q.push(d);
            }
        }
        let outcomes: Mutex<Vec<(u64, Outcome)>> = Mutex::new(Vec::with_capacity(due.len()));
        let trouble: Mutex<Option<StoreError>> = Mutex::new(None);
        let renewal = Mutex::new(());
        let next = AtomicUsize::new(0);
        let worker = || {
            while let Some(queue) = queues.get(next.fetch_add(1, Ordering::Relaxed)) {
                for due in queue {
                    if lock(&trouble).is_some() {
                        return;
                    }
                    if let Err(e) = self.cover(due, &renewal) {
                        *lock(&trouble) = Some(e);
                        return;
                    }
                    let outcome = self.deliver(due);
                    let delivered = matches!(outcome, Outcome::Delivered { .. });
                    lock(&outcomes).push((due.delivery.id, outcome));
                    if !delivered {
                        break; // the rest of this key waits for the retry
                    }
                }
            }
        };
        let workers = self.config.parallel.clamp(1, 64).min(queues.len());
        if workers <= 1 {
            worker();
        } else {
            std::thread::scope(|s| {
                for _ in 0..workers {
                    s.spawn(worker);
                }
            });
        }
        let outcomes = outcomes
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        let trouble = trouble.into_inner().unwrap_or_else(PoisonError::into_inner);
        if !outcomes.is_empty() {
            let t0 = Instant::now();
            let recorded = self.store.record_deliveries(
                &self.tenant,
                &self.claim,
                &outcomes,
                &self.config.retry,
                Utc::now(),
            )?;
            self.renewed(t0, ttl);
            for d in recorded {
                match d.state {
                    super::DeliveryState::Delivered => p.delivered += 1,
                    super::DeliveryState::Failed => p.parked += 1,
                    super::DeliveryState::Pending => p.retrying += 1,
                }
            }
        }
        match trouble {
            Some(e) => Err(e),
            None => Ok(p),
        }
    }

    /// Makes sure the lease outlasts an attempt of `due` (a slow receiver must not let it
    /// lapse while a request is in flight, or another dispatcher would send the same
    /// delivery); a lost lease is a [`ErrorKind::Conflict`].
    fn cover(&self, due: &DueDelivery, renewal: &Mutex<()>) -> Result<(), StoreError> {
        let d = &due.delivery;
        let needed = due
            .automation
            .as_ref()
            .and_then(|a| a.actions.get(d.action as usize))
            .map_or(Duration::ZERO, |a| match a {
                Action::Webhook(w) => w.timeout(),
                Action::Command(c) => c.timeout(),
            })
            + LEASE_MARGIN;
        let _one_at_a_time = lock(renewal);
        if self.held_for() >= needed {
            return Ok(());
        }
        let mut longer = self.claim.clone();
        longer.ttl = longer.ttl.max(needed);
        let t0 = Instant::now();
        if self
            .store
            .acquire_lease(&self.tenant, &longer, Utc::now())?
        {
            self.renewed(t0, longer.ttl);
            Ok(())
        } else {
            self.forget_lease();
            Err(StoreError::new(
                ErrorKind::Conflict,
                "another dispatcher took the lease during a batch",
            ))
        }
    }

    /// One attempt of a due delivery (refused at once if its automation or action is gone).
    fn deliver(&self, due: &DueDelivery) -> Outcome {
        let d = &due.delivery;
        match &due.automation {
            None => Outcome::reject(None, "its automation was deleted"),
            Some(a) => match a.actions.get(d.action as usize) {
                None => Outcome::reject(
                    None,
                    format!("automation {:?} no longer has action {}", a.name, d.action),
                ),
                Some(action) => self.attempt(action, d),
            },
        }
    }

    fn attempt(&self, action: &Action, d: &Delivery) -> Outcome {
        let attempt = d.attempts.saturating_add(1);
        let headers = match action {
            Action::Webhook(w) => {
                payload::headers(w, d, &self.tenant, attempt, Utc::now().timestamp())
            }
            Action::Command(_) => Vec::new(),
        };
        self.transport.deliver(&Request {
            tenant: &self.tenant,
            action,
            delivery: d,
            attempt,
            headers,
        })
    }

    /// Steps until every event is planned and no delivery is due now (deliveries waiting for
    /// a retry later stay pending), waiting for the lease while another dispatcher holds it;
    /// returns the totals. `vigil automate run --once`.
    pub fn drain(&self) -> Result<Progress, StoreError> {
        let mut total = Progress::default();
        loop {
            let p = match self.step() {
                Err(e) if e.kind() == ErrorKind::Conflict => continue, // lease lost: retake
                other => other?,
            };
            total.add(&p);
            if !p.leased {
                std::thread::sleep(self.config.poll.min(Duration::from_millis(100)));
                continue;
            }
            if p.idle() {
                return Ok(total);
            }
        }
    }

    /// Steps until `stop` is set, sleeping `poll` when idle, calling `progress` after each
    /// step that did something; gives the lease up on the way out. A lost lease or an
    /// unavailable store is waited out; damage or a bug ([`ErrorKind::Corrupt`], …) ends it.
    pub fn run(
        &self,
        stop: &AtomicBool,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<Progress, StoreError> {
        let mut total = Progress::default();
        while !stop.load(Ordering::Relaxed) {
            match self.step() {
                Ok(p) => {
                    total.add(&p);
                    if !p.idle() {
                        progress(&total);
                    }
                    if p.idle() || !p.leased {
                        sleep_unless(stop, self.config.poll);
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::Conflict | ErrorKind::Unavailable) => {
                    sleep_unless(stop, self.config.poll);
                }
                Err(e) => return Err(e),
            }
        }
        self.release()?;
        Ok(total)
    }

    /// Gives the lease up (after [`Dispatcher::drain`], so another dispatcher need not wait
    /// for it to lapse).
    pub fn release(&self) -> Result<(), StoreError> {
        self.forget_lease();
        self.store.release_lease(&self.tenant, &self.claim)
    }
}

fn sleep_unless(stop: &AtomicBool, d: Duration) {
    let end = Instant::now() + d;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= end {
            break;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}
