//! The triage query: filters, orders, cursors and counts.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::types::{ErrorKind, StoreError, StoredAlert};
use crate::attack::{TacticId, TechniqueId};
use crate::{Alert, AlertId, KillChainIntent, Severity, Status};

/// How the queue is ordered. Every order ends with a hidden tiebreak on the store's insertion
/// sequence, so pages are stable.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Order {
    /// Most severe first, then most recent (`timeGeneratedUtc`) first: the portal's order.
    #[default]
    SeverityThenTime,
    /// Most recent first.
    Time,
    /// Highest [`priority_score`] first, then most recent first.
    Priority,
}

impl Order {
    fn code(self) -> char {
        match self {
            Order::SeverityThenTime => 's',
            Order::Time => 't',
            Order::Priority => 'p',
        }
    }
}

/// The priority score of an alert: `40 × severity rank + 5 × kill-chain stage`, where the
/// severity rank is 0 (Informational) to 3 (High) and the stage is the highest
/// [`KillChainIntent::stage`] among its intents (0–13).
///
/// Severity weighs most, but a late kill-chain stage lifts an alert: a Medium alert at
/// Exfiltration (80 + 60 = 140) outranks a High one at PreAttack (120 + 5 = 125), since data
/// already leaving is more urgent than a scan. Recency breaks ties ([`Order::Priority`]).
///
/// ```
/// use vigil_core::{KillChainIntent as K, Severity};
/// use vigil_core::store::priority_score;
///
/// assert_eq!(priority_score(Severity::High, &[K::PreAttack]), 125);
/// assert_eq!(priority_score(Severity::Medium, &[K::Exfiltration]), 140);
/// assert_eq!(priority_score(Severity::Informational, &[]), 0);
/// ```
pub fn priority_score(severity: Severity, intents: &[KillChainIntent]) -> i64 {
    let stage = intents
        .iter()
        .map(KillChainIntent::stage)
        .max()
        .unwrap_or(0);
    40 * severity_rank(severity) + 5 * i64::from(stage)
}

pub(crate) fn severity_rank(s: Severity) -> i64 {
    i64::from(s.rank())
}

/// A position in the queue, returned as [`Page::next`] and passed back as
/// [`AlertQuery::cursor`]. Its text form is opaque, versioned and stable (`to_string` /
/// `parse`), so it can travel through URLs and command lines. A cursor is bound to the order and
/// the filters of the query it came from: passing it with another order or other filters is
/// [`ErrorKind::InvalidInput`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cursor {
    order: Order,
    filters: u64,
    key: SortKey,
}

/// The version of the cursor text format.
const CURSOR_VERSION: &str = "c1";

/// The position of an alert in an order: compared descending, lexicographically.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SortKey {
    /// First key (severity rank, time or priority score).
    pub primary: i64,
    /// Second key (time, or 0).
    pub secondary: i64,
    /// The store's insertion sequence: the tiebreak.
    pub seq: u64,
}

impl SortKey {
    /// The key of an alert with insertion sequence `seq`, in `order`.
    pub fn of(order: Order, alert: &Alert, seq: u64) -> SortKey {
        let t = alert.time_generated().timestamp_micros();
        match order {
            Order::SeverityThenTime => SortKey {
                primary: severity_rank(alert.severity()),
                secondary: t,
                seq,
            },
            Order::Time => SortKey {
                primary: t,
                secondary: 0,
                seq,
            },
            Order::Priority => SortKey {
                primary: priority_score(alert.severity(), alert.intents()),
                secondary: t,
                seq,
            },
        }
    }
}

impl Cursor {
    /// The cursor just after the alert with key `key` in the results of `query`.
    pub(crate) fn for_query(query: &AlertQuery, key: SortKey) -> Cursor {
        Cursor {
            order: query.order,
            filters: query.fingerprint(),
            key,
        }
    }

    /// The order this cursor belongs to.
    pub fn order(&self) -> Order {
        self.order
    }

    /// The key of the last alert of the previous page; the next page holds strictly smaller
    /// keys.
    pub fn key(&self) -> SortKey {
        self.key
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{CURSOR_VERSION}.{}.{:016x}.{}.{}.{}",
            self.order.code(),
            self.filters,
            self.key.primary,
            self.key.secondary,
            self.key.seq
        )
    }
}

impl FromStr for Cursor {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Cursor, StoreError> {
        let bad = || {
            StoreError::new(
                ErrorKind::InvalidInput,
                format!("invalid cursor {s:?}: pass back the text a previous page returned"),
            )
        };
        let mut parts = s.split('.');
        if parts.next() != Some(CURSOR_VERSION) {
            return Err(bad());
        }
        let order = match parts.next() {
            Some("s") => Order::SeverityThenTime,
            Some("t") => Order::Time,
            Some("p") => Order::Priority,
            _ => return Err(bad()),
        };
        let filters = parts
            .next()
            .filter(|p| p.len() == 16)
            .and_then(|p| u64::from_str_radix(p, 16).ok())
            .ok_or_else(bad)?;
        let primary = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let secondary = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let seq = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Cursor {
            order,
            filters,
            key: SortKey {
                primary,
                secondary,
                seq,
            },
        })
    }
}

/// FNV-1a over bytes: a fingerprint stable across processes and versions of Rust.
fn fnv1a(bytes: &[u8], mut h: u64) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Which resources a query selects, by ARM resource id (compared ignoring ASCII case, as ARM
/// does), over the alert's `AzureResource` identifiers and `azure-resource` entities.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ResourceFilter {
    /// This resource.
    Exact(String),
    /// Resources under this prefix (a subscription, a resource group, …).
    Prefix(String),
}

/// A triage query: filters (all must hold), order, page size and position.
///
/// The default is the triage queue: the open alerts (Active and InProgress), most severe first,
/// then most recent, 50 per page. Resolved and Dismissed alerts are one filter away
/// ([`AlertQuery::statuses`], or [`AlertQuery::all_statuses`] for every status).
///
/// ```
/// use vigil_core::{Severity, Status};
/// use vigil_core::store::{AlertQuery, Order, ResourceFilter};
///
/// let q = AlertQuery::default()
///     .min_severity(Severity::Medium)
///     .resource(ResourceFilter::Prefix("/subscriptions/s1/resourceGroups/prod".into()))
///     .statuses([Status::Active, Status::InProgress])
///     .order(Order::Priority)
///     .limit(20);
/// assert_eq!(q.limit, 20);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct AlertQuery {
    /// Statuses to include; `None` means the open ones (Active and InProgress).
    pub statuses: Option<Vec<Status>>,
    /// Severities to include; `None` means all.
    pub severities: Option<Vec<Severity>>,
    /// Least severity to include.
    pub min_severity: Option<Severity>,
    /// Alert types to include (ASCII case-insensitive); empty means all.
    pub alert_types: Vec<String>,
    /// Product names to include (case-insensitive); empty means all.
    pub products: Vec<String>,
    /// Resource to select.
    pub resource: Option<ResourceFilter>,
    /// Intents to include (any of); empty means all.
    pub intents: Vec<KillChainIntent>,
    /// ATT&CK tactics to include: alerts whose intents map (nearest) to any of them.
    pub tactics: Vec<TacticId>,
    /// ATT&CK techniques to include: alerts listing any of them, or a sub-technique of one.
    pub techniques: Vec<TechniqueId>,
    /// An entity value (IP, host name, account, …) some entity must carry, ignoring case.
    pub entity: Option<String>,
    /// Only alerts generated at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only alerts generated before this time.
    pub until: Option<DateTime<Utc>>,
    /// Text the display name must contain, ignoring case.
    pub text: Option<String>,
    /// Only these alerts (by identity or system alert id); empty means all. For bulk changes
    /// of a chosen set of alerts.
    pub ids: Vec<AlertId>,
    /// The order.
    pub order: Order,
    /// Page size: at least 1 ([`AlertQuery::validate`] refuses 0).
    pub limit: usize,
    /// Where the page starts: `Page::next` of the previous page.
    pub cursor: Option<Cursor>,
}

impl Default for AlertQuery {
    fn default() -> Self {
        AlertQuery {
            statuses: None,
            severities: None,
            min_severity: None,
            alert_types: Vec::new(),
            products: Vec::new(),
            resource: None,
            intents: Vec::new(),
            tactics: Vec::new(),
            techniques: Vec::new(),
            entity: None,
            since: None,
            until: None,
            text: None,
            ids: Vec::new(),
            order: Order::SeverityThenTime,
            limit: 50,
            cursor: None,
        }
    }
}

macro_rules! setters {
    ($( $(#[$m:meta])* $name:ident: $ty:ty => $field:ident = $e:expr ;)*) => {$(
        $(#[$m])*
        #[allow(clippy::redundant_closure_call)]
        pub fn $name(mut self, v: $ty) -> Self {
            let f = $e;
            self.$field = f(v);
            self
        }
    )*};
}

impl AlertQuery {
    setters! {
        /// Only these statuses (include Resolved or Dismissed to see closed alerts).
        statuses: impl IntoIterator<Item = Status> => statuses = |v: _| Some(Vec::from_iter(v));
        /// Only these severities.
        severities: impl IntoIterator<Item = Severity> => severities = |v: _| Some(Vec::from_iter(v));
        /// At least this severity.
        min_severity: Severity => min_severity = Some;
        /// Only these alert types.
        alert_types: impl IntoIterator<Item = String> => alert_types = Vec::from_iter;
        /// Only these products.
        products: impl IntoIterator<Item = String> => products = Vec::from_iter;
        /// Only this resource, or resources under a prefix.
        resource: ResourceFilter => resource = Some;
        /// Only these intents.
        intents: impl IntoIterator<Item = KillChainIntent> => intents = Vec::from_iter;
        /// Only these ATT&CK tactics.
        tactics: impl IntoIterator<Item = TacticId> => tactics = Vec::from_iter;
        /// Only these ATT&CK techniques (a parent includes its sub-techniques).
        techniques: impl IntoIterator<Item = TechniqueId> => techniques = Vec::from_iter;
        /// Only alerts with an entity carrying this value.
        entity: impl Into<String> => entity = |v: _| Some(Into::into(v));
        /// Only alerts generated at or after this time.
        since: DateTime<Utc> => since = Some;
        /// Only alerts generated before this time.
        until: DateTime<Utc> => until = Some;
        /// Only alerts whose display name contains this text.
        text: impl Into<String> => text = |v: _| Some(Into::into(v));
        /// Only these alerts, by identity or system alert id.
        ids: impl IntoIterator<Item = AlertId> => ids = Vec::from_iter;
        /// The order.
        order: Order => order = |v| v;
        /// The page size.
        limit: usize => limit = |v: usize| v;
        /// Start after this cursor.
        cursor: Option<Cursor> => cursor = |v| v;
    }

    /// Every status, Dismissed included.
    pub fn all_statuses(self) -> Self {
        self.statuses(Status::ALL)
    }

    /// The statuses this query includes.
    pub fn effective_statuses(&self) -> Vec<Status> {
        match &self.statuses {
            Some(s) => s.clone(),
            None => Status::OPEN.to_vec(),
        }
    }

    /// A fingerprint of the query's filters and order (not its limit or cursor), which cursors
    /// carry so that a cursor is only used with the query it came from.
    pub fn fingerprint(&self) -> u64 {
        let mut statuses = self.effective_statuses();
        statuses.sort_by_key(|s| s.as_str());
        statuses.dedup();
        let mut severities = self.severities.clone();
        if let Some(s) = &mut severities {
            s.sort();
            s.dedup();
        }
        let mut types: Vec<String> = self
            .alert_types
            .iter()
            .map(|t| t.to_ascii_lowercase())
            .collect();
        types.sort();
        let mut products: Vec<String> = self
            .products
            .iter()
            .map(|p| crate::text::fold(p).into_owned())
            .collect();
        products.sort();
        let mut ids: Vec<&str> = self.ids.iter().map(AlertId::as_str).collect();
        ids.sort_unstable();
        ids.dedup();
        let text = format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            statuses,
            severities,
            self.min_severity,
            types,
            products,
            self.resource,
            self.intents,
            self.tactics,
            self.techniques,
            self.entity,
            self.since.map(|t| t.timestamp_nanos_opt()),
            self.until.map(|t| t.timestamp_nanos_opt()),
            self.text,
            self.order,
            ids
        );
        fnv1a(text.as_bytes(), 0xcbf2_9ce4_8422_2325)
    }

    /// Checks the query: a limit below 1, or a cursor from another order or other filters, is
    /// [`ErrorKind::InvalidInput`].
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.limit == 0 {
            return Err(StoreError::new(
                ErrorKind::InvalidInput,
                "the page size (limit) must be at least 1",
            ));
        }
        if let Some(c) = &self.cursor
            && c.order() != self.order
        {
            return Err(StoreError::new(
                ErrorKind::InvalidInput,
                "the cursor belongs to a different order; keep the order while paging",
            ));
        }
        if let Some(c) = &self.cursor
            && c.filters != self.fingerprint()
        {
            return Err(StoreError::new(
                ErrorKind::InvalidInput,
                "the cursor belongs to a query with other filters; keep the filters while paging",
            ));
        }
        Ok(())
    }

    /// Whether `alert` passes every filter (not the cursor). This is the contract's definition
    /// of each filter; stores may evaluate them differently but must agree with it.
    pub fn matches(&self, alert: &Alert) -> bool {
        let ci_eq = crate::text::eq_folded;
        if !self.effective_statuses().contains(&alert.status()) {
            return false;
        }
        if let Some(s) = &self.severities
            && !s.contains(&alert.severity())
        {
            return false;
        }
        if self.min_severity.is_some_and(|m| alert.severity() < m) {
            return false;
        }
        if !self.alert_types.is_empty()
            && !self
                .alert_types
                .iter()
                .any(|t| t.eq_ignore_ascii_case(alert.alert_type()))
        {
            return false;
        }
        if !self.products.is_empty()
            && !alert
                .product_name()
                .is_some_and(|p| self.products.iter().any(|x| ci_eq(x, p)))
        {
            return false;
        }
        if let Some(r) = &self.resource {
            let ids = resource_ids(alert);
            let hit = match r {
                ResourceFilter::Exact(x) => ids.iter().any(|id| id.eq_ignore_ascii_case(x)),
                ResourceFilter::Prefix(p) => ids.iter().any(|id| {
                    id.len() >= p.len()
                        && id.is_char_boundary(p.len())
                        && id[..p.len()].eq_ignore_ascii_case(p)
                }),
            };
            if !hit {
                return false;
            }
        }
        if !self.intents.is_empty() && !alert.intents().iter().any(|i| self.intents.contains(i)) {
            return false;
        }
        if !self.tactics.is_empty()
            && !alert
                .intents()
                .iter()
                .flat_map(|i| i.nearest_tactics())
                .any(|t| self.tactics.contains(t))
        {
            return false;
        }
        if !self.techniques.is_empty()
            && !alert
                .techniques()
                .iter()
                .chain(alert.sub_techniques())
                .any(|t| {
                    self.techniques
                        .iter()
                        .any(|q| q == t || t.parent() == Some(*q))
                })
        {
            return false;
        }
        if let Some(v) = &self.entity
            && !entity_values(alert).iter().any(|e| ci_eq(e, v))
        {
            return false;
        }
        let t = alert.time_generated();
        if self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t >= u) {
            return false;
        }
        if !self.ids.is_empty()
            && !self
                .ids
                .iter()
                .any(|i| i == alert.id() || i == alert.system_alert_id())
        {
            return false;
        }
        if let Some(text) = &self.text
            && !crate::text::fold(alert.display_name()).contains(crate::text::fold(text).as_ref())
        {
            return false;
        }
        true
    }
}

/// The ARM ids an alert is about: its `AzureResource` identifiers and `azure-resource` entities'
/// `resourceId`s. Stores index these for [`ResourceFilter`].
pub fn resource_ids(alert: &Alert) -> Vec<&str> {
    let mut ids: Vec<&str> = alert
        .resource_identifiers()
        .iter()
        .filter_map(|r| match r {
            crate::ResourceIdentifier::AzureResource {
                azure_resource_id, ..
            } => Some(azure_resource_id.as_str()),
            _ => None,
        })
        .collect();
    ids.extend(
        alert
            .entities()
            .iter()
            .filter_map(|e| e.as_azure_resource().and_then(|r| r.resource_id())),
    );
    ids
}

/// The entity values [`AlertQuery::entity`] and related-alert lookups compare: every
/// non-blank string held by a top-level property of an entity (directly, or in a list), except
/// `type` and `$id`. Stores index these. A suppression rule's `in`/`equals` test of an entity
/// property can only match a string value through one of these, which lets the engine find a
/// rule's candidates through an entity filter.
pub fn entity_values(alert: &Alert) -> Vec<&str> {
    fn strings<'a>(v: &'a Value, depth: usize, out: &mut Vec<&'a str>) {
        match v {
            Value::String(s) if !s.trim().is_empty() => out.push(s.as_str()),
            Value::Array(items) if depth < 16 => {
                items.iter().for_each(|i| strings(i, depth + 1, out));
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for e in alert.entities() {
        for (k, v) in e.properties() {
            if !k.eq_ignore_ascii_case("type") && !k.eq_ignore_ascii_case("$id") {
                strings(v, 0, &mut out);
            }
        }
    }
    out
}

/// One page of the triage queue.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Page {
    /// The alerts, in order.
    pub alerts: Vec<StoredAlert>,
    /// The cursor for the next page; `None` on the last page.
    pub next: Option<Cursor>,
}

/// Counts for the dashboard header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counts {
    /// Per severity, most severe first, zeros included.
    pub by_severity: Vec<(Severity, u64)>,
    /// Per status, in [`Status::ALL`] order, zeros included.
    pub by_status: Vec<(Status, u64)>,
}

impl Counts {
    /// Counts over a list of alerts.
    pub fn of<'a>(alerts: impl IntoIterator<Item = &'a Alert>) -> Counts {
        let mut sev = [0u64; 4];
        let mut st = [0u64; 4];
        for a in alerts {
            sev[usize::from(a.severity().rank())] += 1;
            if let Some(i) = Status::ALL.iter().position(|s| *s == a.status()) {
                st[i] += 1;
            }
        }
        Counts::from_tallies(sev, st)
    }

    /// Counts from tallies: per severity rank ([`Severity::rank`], 0 to 3) and per status in
    /// [`Status::ALL`] order. Backends that count in their storage build counts with it.
    pub fn from_tallies(by_rank: [u64; 4], by_status: [u64; 4]) -> Counts {
        Counts {
            by_severity: Severity::ALL
                .iter()
                .rev()
                .map(|s| (*s, by_rank[usize::from(s.rank())]))
                .collect(),
            by_status: Status::ALL.iter().copied().zip(by_status).collect(),
        }
    }

    /// How many alerts of this severity were counted.
    ///
    /// ```
    /// use vigil_core::Severity;
    /// use vigil_core::store::Counts;
    ///
    /// assert_eq!(Counts::of([]).get(Severity::High), 0);
    /// ```
    pub fn get(&self, severity: Severity) -> u64 {
        self.by_severity
            .iter()
            .find(|(s, _)| *s == severity)
            .map_or(0, |(_, n)| *n)
    }

    /// How many alerts in this status were counted.
    pub fn with_status(&self, status: Status) -> u64 {
        self.by_status
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n)
    }

    /// All alerts counted.
    pub fn total(&self) -> u64 {
        self.by_status.iter().map(|(_, n)| n).sum()
    }
}
