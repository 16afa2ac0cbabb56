//! The triage query: SQL narrows, [`AlertQuery::matches`] decides.
//!
//! A query runs as one index-ordered stream per selected status (each served by the
//! `(tenant, status, <order keys>)` index of its order, from the cursor on), merged in Rust in
//! key order. The filters that SQL evaluates exactly (severities, types, products, time range
//! with whole microseconds, display text) go into each stream's `WHERE`; resource and entity
//! filters are checked exactly on the row's cached lowercase lists; filters SQL cannot decide
//! (intents, tactics, techniques, sub-microsecond time bounds) are checked by parsing the alert
//! and calling [`AlertQuery::matches`], the contract's definition. Streams are read in growing
//! chunks until the page is full, so paging stays exact whatever the filters. The time order
//! has one stream per status and severity, served by the severity index.
//!
//! Entity, resource, intent, tactic and technique filters also narrow through their keys
//! (`keys.rs`): a stream tests the key filter bits of each index entry before reading its row,
//! and when a filter's keys name few rows those rows are read and sorted instead of walking
//! the order (a page that walks without finding matches switches to them). Counts that filter
//! only by statuses, severities, types and display-name text read the tallies; counts under
//! one selective filter (and statuses and severities) read its key rows only.

use std::collections::VecDeque;

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};
use vigil_core::store::{
    AlertQuery, AlertRecord, Counts, Order, ResourceFilter, SortKey, StoreError, StoredAlert,
    TenantId,
};
use vigil_core::text::fold;
use vigil_core::{Alert, Severity, Status};

use crate::alerts::load;
use crate::codec::{Derived, parse_list, parse_status, status_text};
use crate::error::Db;
use crate::keys::{self, Kind};

fn rank(s: Severity) -> i64 {
    i64::from(s.rank())
}

enum ResourceCheck {
    Exact(String),
    Prefix(String),
}

/// What SQL evaluates, what Rust checks.
struct Plan {
    statuses: Vec<Status>,
    /// ` AND …` conditions, with `?` placeholders bound from `params` in order.
    cond: String,
    params: Vec<Value>,
    resource: Option<ResourceCheck>,
    entity: Option<String>,
    /// Whether SQL plus the list checks decide every filter (no need to parse the alert).
    exact: bool,
    /// Whether nothing can match.
    empty: bool,
    /// The severity ranks the query admits (the streams of the time order, one per rank).
    ranks: Vec<i64>,
    /// The rows of `alert_keys` to read instead of walking the order, when a filter's keys
    /// name few alerts (every alert that can match has one of these keys).
    keyed: Option<Vec<i64>>,
    /// How many key rows `keyed` names (at most `KEYED_MAX`, or `KEYED_MAX_ALL`).
    keyed_rows: i64,
    /// Whether every match is wanted (so key rows are read at once when there are keys).
    all: bool,
    /// ` AND st IN (…)[ AND sev IN (…)]`: the statuses and severities asked for, on key rows.
    kcond: String,
    /// The key sets of the selective filters (each holds a key of every alert that passes).
    key_sets: Vec<Vec<i64>>,
}

/// A filter whose keys name at most this many `alert_keys` rows can be served by reading those
/// rows and sorting them; above it, by walking the order's index with the filter's bits.
/// Reading 20,000 rows costs tens of milliseconds; a walk for a value that only closed alerts
/// carry visits the whole open queue (a second on a million alerts), so the bound is generous.
const KEYED_MAX: i64 = if cfg!(test) { 40 } else { 20_000 };

/// The bound for reads that want every match (counts, `scan`): a walk reads every entry of the
/// statuses asked for, so key rows are cheaper up to many more (each is held in memory while
/// sorted, a few hundred bytes).
const KEYED_MAX_ALL: i64 = if cfg!(test) { 100 } else { 100_000 };

/// Up to this many key rows, reading them is cheap whatever a walk would cost. (The unit tests
/// use small bounds, so that the answers on generated data cover every way a query is read.)
const KEYED_CHEAP: i64 = if cfg!(test) { 4 } else { 2_000 };

/// A page walk that has looked at this many rows (beyond twice the page) without filling the
/// page goes on by reading the key rows instead, from where it is: matches are rare in the
/// order walked (a value on closed alerts, a small group of a common severity).
const WALK_BUDGET: usize = if cfg!(test) { 3 } else { 512 };

/// A resource prefix covering more indexed prefixes than this is checked row by row only.
const COVER_MAX: usize = 8;

/// A prefix above this many indexed prefixes (`/subscriptions`, say) is not worth covering.
const KNOWN_MAX: usize = 4_096;

/// The least text greater than every text that starts with `p` (`None` when there is none).
fn upper_bound(p: &str) -> Option<String> {
    let mut chars: Vec<char> = p.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        if next == 0xD800 {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The indexed prefixes of the tenant's resource ids that start with `p` (at most
/// `KNOWN_MAX + 1`).
fn known_prefixes(
    conn: &Connection,
    tenant: &TenantId,
    p: &str,
) -> Result<Vec<String>, StoreError> {
    // Without an upper bound (a prefix of U+10FFFF only), every text from `p` on.
    let upper = upper_bound(p).unwrap_or_else(|| char::MAX.to_string().repeat(p.len() + 1));
    conn.prepare_cached(KNOWN_SQL)
        .db()?
        .query_map(
            rusqlite::params![tenant.as_str(), p, upper, KNOWN_MAX as i64 + 1],
            |r| r.get::<_, String>(0),
        )
        .db()?
        .collect::<Result<Vec<_>, _>>()
        .db()
}

/// The indexed prefixes in a range: tenant, from, below, limit.
pub(crate) const KNOWN_SQL: &str = "SELECT prefix FROM resource_prefixes
     WHERE tenant = ?1 AND prefix >= ?2 AND prefix < ?3 LIMIT ?4";

/// How many `alert_keys` rows of the statuses and severities of `kcond` carry one of `keys`,
/// counting up to `max + 1`.
fn keyed_rows(conn: &Connection, keys: &[i64], kcond: &str, max: i64) -> Result<i64, StoreError> {
    conn.prepare_cached(&keyed_rows_sql(keys.len(), kcond, max))
        .db()?
        .query_row(params_from_iter(keys.iter()), |r| r.get(0))
        .db()
}

/// The count of `keyed_rows`, for `n` keys, up to `max + 1`.
pub(crate) fn keyed_rows_sql(n: usize, kcond: &str, max: i64) -> String {
    format!(
        "{} SELECT count(*) FROM (SELECT 1 FROM alert_keys
         WHERE gen IN (SELECT g FROM gens) AND key IN ({}){kcond} LIMIT {})",
        keys::GENS_CTE,
        placeholders(n),
        max + 1
    )
}

/// ` AND st IN (…)`, and ` AND sev IN (…)` unless every rank is listed: the statuses and
/// severities a query asks for, as conditions on key rows (integer literals).
fn key_row_cond(statuses: &[Status], ranks: &[i64]) -> String {
    let codes: Vec<String> = statuses
        .iter()
        .map(|s| keys::status_code(*s).to_string())
        .collect();
    let mut cond = format!(" AND st IN ({})", codes.join(", "));
    if ranks.len() < 4 {
        let list: Vec<String> = ranks.iter().map(i64::to_string).collect();
        cond.push_str(&format!(" AND sev IN ({})", list.join(", ")));
    }
    cond
}

/// ` AND (bloom & m) = m` for one of `masks`.
fn bloom_sql(masks: &[i64], cond: &mut String, params: &mut Vec<Value>) {
    let one: Vec<&str> = masks.iter().map(|_| "(bloom & ?) = ?").collect();
    cond.push_str(&format!(" AND ({})", one.join(" OR ")));
    for m in masks {
        params.extend([Value::Integer(*m), Value::Integer(*m)]);
    }
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

impl Plan {
    /// The plan of `q`; `all` when every match is wanted (counts, `scan`) rather than a page.
    fn new(
        conn: &Connection,
        tenant: &TenantId,
        q: &AlertQuery,
        all: bool,
    ) -> Result<Plan, StoreError> {
        let mut statuses = Vec::new();
        for s in q.effective_statuses() {
            if !statuses.contains(&s) {
                statuses.push(s);
            }
        }
        let mut cond = String::new();
        let mut params = Vec::new();
        let mut exact = true;
        let mut empty = statuses.is_empty();

        let ranks: Vec<i64> = Severity::ALL
            .iter()
            .filter(|s| q.severities.as_ref().is_none_or(|v| v.contains(s)))
            .filter(|s| q.min_severity.is_none_or(|m| **s >= m))
            .map(|s| rank(*s))
            .collect();
        if ranks.is_empty() {
            empty = true;
        } else if ranks.len() < 4 || q.since.is_some() || q.until.is_some() {
            // Every rank listed, with a time range: the severity index then serves the range
            // within each status and rank rather than reading each entry of the status.
            let list: Vec<String> = ranks.iter().map(i64::to_string).collect();
            cond.push_str(&format!(" AND severity_rank IN ({})", list.join(", ")));
        }
        if !q.alert_types.is_empty() {
            cond.push_str(&format!(
                " AND alert_type_lc IN ({})",
                placeholders(q.alert_types.len())
            ));
            params.extend(
                q.alert_types
                    .iter()
                    .map(|t| Value::Text(t.to_ascii_lowercase())),
            );
        }
        if !q.products.is_empty() {
            cond.push_str(&format!(
                " AND product_lc IN ({})",
                placeholders(q.products.len())
            ));
            params.extend(q.products.iter().map(|p| Value::Text(fold(p).into_owned())));
        }
        if let Some(since) = q.since {
            // time_us is the floor of the time in microseconds: exact for whole microseconds,
            // a superset otherwise.
            cond.push_str(" AND time_us >= ?");
            params.push(Value::Integer(since.timestamp_micros()));
            exact &= since.timestamp_subsec_nanos() % 1000 == 0;
        }
        if let Some(until) = q.until {
            if until.timestamp_subsec_nanos() % 1000 == 0 {
                cond.push_str(" AND time_us < ?");
            } else {
                cond.push_str(" AND time_us <= ?");
                exact = false;
            }
            params.push(Value::Integer(until.timestamp_micros()));
        }
        if let Some(text) = &q.text {
            cond.push_str(" AND instr(display_lc, ?) > 0");
            params.push(Value::Text(fold(text).into_owned()));
        }
        if !q.ids.is_empty() {
            cond.push_str(&format!(
                " AND (id IN ({0}) OR sys_id IN ({0}))",
                placeholders(q.ids.len())
            ));
            // The same list binds both IN clauses, in order.
            let list: Vec<Value> = q
                .ids
                .iter()
                .map(|i| Value::Text(i.as_str().to_owned()))
                .collect();
            params.extend(list.iter().cloned());
            params.extend(list);
        }
        if !q.intents.is_empty() || !q.tactics.is_empty() || !q.techniques.is_empty() {
            exact = false;
        }
        let resource = q.resource.as_ref().map(|r| match r {
            ResourceFilter::Exact(x) => ResourceCheck::Exact(x.to_ascii_lowercase()),
            ResourceFilter::Prefix(p) => ResourceCheck::Prefix(p.to_ascii_lowercase()),
        });
        let entity = q.entity.as_ref().map(|e| fold(e).into_owned());
        let t = tenant.as_str();
        let has_keys = entity.is_some()
            || resource.is_some()
            || !q.intents.is_empty()
            || !q.tactics.is_empty()
            || !q.techniques.is_empty();
        let keyer = if has_keys {
            Some(keys::Keyer::load(conn)?)
        } else {
            None
        };
        // The keys of the selective filters: each set holds a key of every alert that passes.
        let mut key_sets: Vec<Vec<i64>> = Vec::new();
        let mut any_of =
            |values: Vec<(Kind, String)>, cond: &mut String, params: &mut Vec<Value>| {
                // A long list is checked row by row rather than probed key by key.
                let Some(keyer) = &keyer else {
                    return;
                };
                if values.is_empty() || values.len() > COVER_MAX * 8 {
                    return;
                }
                let ks: Vec<i64> = values.iter().map(|(k, v)| keyer.key(t, *k, v)).collect();
                let masks: Vec<i64> = values
                    .iter()
                    .map(|(k, v)| keys::filter_bits(t, *k, v))
                    .collect();
                bloom_sql(&masks, cond, params);
                key_sets.push(ks);
            };
        if let Some(v) = &entity {
            any_of(vec![(Kind::Entity, v.clone())], &mut cond, &mut params);
        }
        let intents = q
            .intents
            .iter()
            .map(|i| {
                let (k, v) = keys::intent(i);
                (k, v.to_owned())
            })
            .collect();
        any_of(intents, &mut cond, &mut params);
        let tactics = q
            .tactics
            .iter()
            .map(|x| (Kind::Tactic, x.to_string()))
            .collect();
        any_of(tactics, &mut cond, &mut params);
        let techniques = q
            .techniques
            .iter()
            .map(|x| (Kind::Technique, x.to_string()))
            .collect();
        any_of(techniques, &mut cond, &mut params);
        match &resource {
            Some(ResourceCheck::Exact(x)) => {
                any_of(vec![(Kind::Resource, x.clone())], &mut cond, &mut params);
            }
            Some(ResourceCheck::Prefix(p)) if !p.is_empty() && !empty => {
                let known = known_prefixes(conn, tenant, p)?;
                if known.len() <= KNOWN_MAX {
                    let cover = keys::cover(p, &known);
                    if cover.is_empty() {
                        // Every stored id is indexed whole: none starts with `p`.
                        empty = true;
                    } else if cover.len() <= COVER_MAX {
                        let values = cover.into_iter().map(|c| (Kind::Resource, c)).collect();
                        any_of(values, &mut cond, &mut params);
                    }
                }
            }
            _ => {}
        }
        let kcond = key_row_cond(&statuses, &ranks);
        Ok(Plan {
            statuses,
            cond,
            params,
            resource,
            entity,
            exact,
            empty,
            ranks,
            keyed_rows: 0,
            all,
            keyed: None,
            kcond,
            key_sets,
        })
    }

    /// Chooses the key set to read instead of walking: the one naming the fewest key rows of
    /// the statuses and severities asked for, if at most `max`. (Counting them costs a read of
    /// up to `max` key rows, so a page counts up to the cheap bound only, and more if its walk
    /// finds few matches.)
    fn pick_keys(&mut self, conn: &Connection, max: i64) -> Result<(), StoreError> {
        if let Some((n, ks)) = smallest_key_set(conn, self, max)? {
            self.keyed_rows = n;
            self.keyed = Some(ks);
        }
        Ok(())
    }

    fn has_list_checks(&self) -> bool {
        self.resource.is_some() || self.entity.is_some()
    }

    /// The exact resource and entity checks, on the cached lowercase lists.
    fn list_checks(&self, tenant: &TenantId, c: &Cand) -> Result<bool, StoreError> {
        if let Some(r) = &self.resource {
            let ids = parse_list(tenant.as_str(), &c.id, &c.resources)?;
            let hit = match r {
                ResourceCheck::Exact(x) => ids.iter().any(|id| id == x),
                ResourceCheck::Prefix(p) => ids.iter().any(|id| id.starts_with(p.as_str())),
            };
            if !hit {
                return Ok(false);
            }
        }
        if let Some(v) = &self.entity {
            let values = parse_list(tenant.as_str(), &c.id, &c.entities)?;
            if !values.iter().any(|e| e == v) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// A row read from a stream: its key and the small columns.
struct Cand {
    key: SortKey,
    seq: i64,
    id: String,
    status: Status,
    severity_rank: i64,
    resources: String,
    entities: String,
}

/// A row that passed every filter.
pub(crate) struct Hit {
    key: SortKey,
    seq: i64,
    status: Status,
    severity_rank: i64,
    alert: Option<StoredAlert>,
}

struct Stream {
    status: Status,
    /// The one severity rank of a time-order stream (served by the severity index).
    rank: Option<i64>,
    buf: VecDeque<Cand>,
    after: Option<SortKey>,
    chunk: usize,
    done: bool,
}

fn order_sql(order: Order) -> (&'static str, &'static str, &'static str, &'static str) {
    // (index, primary, secondary, ORDER BY)
    match order {
        Order::SeverityThenTime => (
            "alerts_by_severity",
            "severity_rank",
            "time_us",
            "severity_rank DESC, time_us DESC, tseq DESC",
        ),
        // One stream per severity rank, each in time order within the severity index.
        Order::Time => (
            "alerts_by_severity",
            "time_us",
            "0",
            "severity_rank DESC, time_us DESC, tseq DESC",
        ),
        Order::Priority => (
            "alerts_by_priority",
            "priority",
            "time_us",
            "priority DESC, time_us DESC, tseq DESC",
        ),
    }
}

fn seq_param(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// ` AND <key> < <after>` for an order, with its parameters.
fn after_sql(order: Order, k: SortKey, cond: &mut String, params: &mut Vec<Value>) {
    match order {
        Order::SeverityThenTime | Order::Priority => {
            let (_, p, _, _) = order_sql(order);
            cond.push_str(&format!(" AND ({p}, time_us, tseq) < (?, ?, ?)"));
            params.extend([
                Value::Integer(k.primary),
                Value::Integer(k.secondary),
                Value::Integer(seq_param(k.seq)),
            ]);
        }
        // Rows of this order have secondary 0.
        Order::Time if k.secondary > 0 => {
            cond.push_str(" AND time_us <= ?");
            params.push(Value::Integer(k.primary));
        }
        Order::Time if k.secondary < 0 => {
            cond.push_str(" AND time_us < ?");
            params.push(Value::Integer(k.primary));
        }
        Order::Time => {
            cond.push_str(" AND (time_us, tseq) < (?, ?)");
            params.extend([Value::Integer(k.primary), Value::Integer(seq_param(k.seq))]);
        }
    }
}

/// One stream's chunk query: `?` parameters are tenant, status, (the rank, for the time
/// order), the conditions', limit.
fn stream_sql(order: Order, cond: &str) -> String {
    let (index, p, sec, order_by) = order_sql(order);
    let rank = if order == Order::Time {
        " AND severity_rank = ?"
    } else {
        ""
    };
    format!(
        "SELECT seq, {p}, {sec}, id, severity_rank, resources_lc, entities_lc, tseq
         FROM alerts INDEXED BY {index}
         WHERE tenant = ? AND status = ?{rank}{cond}
         ORDER BY {order_by} LIMIT ?"
    )
}

/// A statement and how many parameters it takes.
#[cfg(test)]
pub(crate) type SqlWithParams = (String, usize);

/// The chunk query of the first stream of `q`, with the cursor's condition, its parameter
/// count, and the keyed query if the plan reads keys instead (for query-plan tests).
#[cfg(test)]
pub(crate) fn first_stream_sql(
    conn: &Connection,
    tenant: &TenantId,
    q: &AlertQuery,
    after: Option<SortKey>,
) -> Result<(String, usize, Option<SqlWithParams>), StoreError> {
    let mut plan = Plan::new(conn, tenant, q, false)?;
    plan.pick_keys(conn, KEYED_MAX)?;
    let mut cond = plan.cond.clone();
    let mut params = plan.params.clone();
    if let Some(k) = after {
        after_sql(q.order, k, &mut cond, &mut params);
    }
    let rank = usize::from(q.order == Order::Time);
    let keyed = plan.keyed.as_ref().map(|ks| {
        (
            keyed_sql(q.order, &plan, ks.len()),
            ks.len() + 1 + plan.statuses.len() + plan.params.len(),
        )
    });
    Ok((stream_sql(q.order, &cond), params.len() + 3 + rank, keyed))
}

fn fetch(
    conn: &Connection,
    tenant: &TenantId,
    order: Order,
    plan: &Plan,
    s: &mut Stream,
) -> Result<(), StoreError> {
    let mut cond = plan.cond.clone();
    let mut params: Vec<Value> = vec![
        Value::Text(tenant.as_str().to_owned()),
        Value::Text(status_text(s.status).to_owned()),
    ];
    if let Some(r) = s.rank {
        params.push(Value::Integer(r));
    }
    params.extend(plan.params.iter().cloned());
    if let Some(k) = s.after {
        after_sql(order, k, &mut cond, &mut params);
    }
    params.push(Value::Integer(i64::try_from(s.chunk).unwrap_or(i64::MAX)));
    let sql = stream_sql(order, &cond);
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut rows = stmt.query(params_from_iter(params)).db()?;
    let mut n = 0usize;
    while let Some(r) = rows.next().db()? {
        let seq: i64 = r.get(0).db()?;
        let tseq: i64 = r.get(7).db()?;
        let key = SortKey {
            primary: r.get(1).db()?,
            secondary: r.get(2).db()?,
            seq: u64::try_from(tseq).unwrap_or(0),
        };
        s.after = Some(key);
        s.buf.push_back(Cand {
            key,
            seq,
            id: r.get(3).db()?,
            status: s.status,
            severity_rank: r.get(4).db()?,
            resources: r.get(5).db()?,
            entities: r.get(6).db()?,
        });
        n += 1;
    }
    if n < s.chunk {
        s.done = true;
    }
    s.chunk = (s.chunk * 4).min(4096);
    Ok(())
}

/// The keyed query: the alerts with one of `n` keys, with the plan's SQL conditions (`CROSS
/// JOIN` keeps the key rows the outer loop, whatever SQLite guesses of the tables); `?`
/// parameters are the keys, the tenant, the statuses, the conditions'.
fn keyed_sql(order: Order, plan: &Plan, n: usize) -> String {
    let (_, p, sec, _) = order_sql(order);
    format!(
        "{} SELECT a.seq, {p}, {sec}, id, severity_rank, resources_lc, entities_lc, tseq, status
         FROM alert_keys k CROSS JOIN alerts a ON a.seq = k.seq
         WHERE k.gen IN (SELECT g FROM gens) AND k.key IN ({}){} AND tenant = ? AND status IN ({}){}",
        keys::GENS_CTE,
        placeholders(n),
        plan.kcond,
        placeholders(plan.statuses.len()),
        plan.cond
    )
}

/// Every row with one of the plan's keys before `after`, most significant first (one stream
/// that is never fetched again).
fn keyed(
    conn: &Connection,
    tenant: &TenantId,
    order: Order,
    plan: &Plan,
    keys: &[i64],
    after: Option<SortKey>,
) -> Result<Stream, StoreError> {
    let mut params: Vec<Value> = keys.iter().map(|k| Value::Integer(*k)).collect();
    params.push(Value::Text(tenant.as_str().to_owned()));
    params.extend(
        plan.statuses
            .iter()
            .map(|s| Value::Text(status_text(*s).to_owned())),
    );
    params.extend(plan.params.iter().cloned());
    let mut stmt = conn
        .prepare_cached(&keyed_sql(order, plan, keys.len()))
        .db()?;
    let mut rows = stmt.query(params_from_iter(params)).db()?;
    let mut found: Vec<Cand> = Vec::new();
    while let Some(r) = rows.next().db()? {
        let tseq: i64 = r.get(7).db()?;
        let key = SortKey {
            primary: r.get(1).db()?,
            secondary: r.get(2).db()?,
            seq: u64::try_from(tseq).unwrap_or(0),
        };
        if after.is_some_and(|a| key >= a) {
            continue;
        }
        let status: String = r.get(8).db()?;
        let Some(status) = parse_status(&status) else {
            continue;
        };
        found.push(Cand {
            key,
            seq: r.get(0).db()?,
            id: r.get(3).db()?,
            status,
            severity_rank: r.get(4).db()?,
            resources: r.get(5).db()?,
            entities: r.get(6).db()?,
        });
    }
    // Most significant first; an alert found through several keys once.
    found.sort_by(|a, b| b.key.cmp(&a.key).then(b.seq.cmp(&a.seq)));
    found.dedup_by_key(|c| c.seq);
    Ok(Stream {
        status: Status::Active,
        rank: None,
        buf: found.into(),
        after,
        chunk: 0,
        done: true,
    })
}

/// The plan's key set naming the fewest key rows, with their number, if at most `max`.
fn smallest_key_set(
    conn: &Connection,
    plan: &Plan,
    max: i64,
) -> Result<Option<(i64, Vec<i64>)>, StoreError> {
    let mut best: Option<(i64, Vec<i64>)> = None;
    if plan.empty {
        return Ok(best);
    }
    for ks in &plan.key_sets {
        let n = keyed_rows(conn, ks, &plan.kcond, max)?;
        if n <= max && best.as_ref().is_none_or(|(m, _)| n < *m) {
            best = Some((n, ks.clone()));
        }
    }
    Ok(best)
}

/// Visits the rows `q` selects (ignoring its limit and cursor) after `after` in `q.order`,
/// until `visit` returns `false`. `want` sizes the first reads.
fn scan(
    conn: &Connection,
    tenant: &TenantId,
    q: &AlertQuery,
    plan: &Plan,
    after: Option<SortKey>,
    want: usize,
    mut visit: impl FnMut(Hit) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    if plan.empty {
        return Ok(());
    }
    let first = if plan.exact && !plan.has_list_checks() {
        want.clamp(1, 1024)
    } else {
        want.clamp(128, 1024)
    };
    // Key rows at once when they are few or every match is wanted; else a walk of the order,
    // which may switch to them (`WALK_BUDGET`).
    let keyed_now = plan.keyed.is_some() && (plan.keyed_rows <= KEYED_CHEAP || plan.all);
    let mut budget = (!keyed_now && !plan.all && !plan.key_sets.is_empty())
        .then(|| want.saturating_mul(2).saturating_add(WALK_BUDGET));
    let mut streams: Vec<Stream> = Vec::new();
    if let (true, Some(ks)) = (keyed_now, &plan.keyed) {
        streams.push(keyed(conn, tenant, q.order, plan, ks, after)?);
    } else {
        for s in &plan.statuses {
            let ranks: Vec<Option<i64>> = if q.order == Order::Time {
                plan.ranks.iter().map(|r| Some(*r)).collect()
            } else {
                vec![None]
            };
            for rank in ranks {
                streams.push(Stream {
                    status: *s,
                    rank,
                    buf: VecDeque::new(),
                    after,
                    chunk: first,
                    done: false,
                });
            }
        }
    }
    loop {
        for s in &mut streams {
            if s.buf.is_empty() && !s.done {
                fetch(conn, tenant, q.order, plan, s)?;
            }
        }
        let best = streams
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.buf.front().map(|c| (c.key, i)))
            .max();
        let Some((_, i)) = best else {
            return Ok(());
        };
        let Some(c) = streams.get_mut(i).and_then(|s| s.buf.pop_front()) else {
            return Ok(());
        };
        if let Some(b) = budget.as_mut() {
            *b = b.saturating_sub(1);
            if *b == 0 {
                budget = None;
                if let Some((_, ks)) = smallest_key_set(conn, plan, KEYED_MAX)? {
                    // Every row keyed above this one was looked at by the walk (the merge
                    // takes the greatest key of all streams): read the key rows from here on.
                    let mut rest = keyed(conn, tenant, q.order, plan, &ks, Some(c.key))?;
                    rest.buf.push_front(c);
                    streams = vec![rest];
                    continue;
                }
            }
        }
        if !plan.list_checks(tenant, &c)? {
            continue;
        }
        let alert = if plan.exact {
            None
        } else {
            let stored = load(conn, tenant, c.seq)?;
            if !q.matches(&stored.alert) {
                continue;
            }
            Some(stored)
        };
        let hit = Hit {
            key: c.key,
            seq: c.seq,
            status: c.status,
            severity_rank: c.severity_rank,
            alert,
        };
        if !visit(hit)? {
            return Ok(());
        }
    }
}

/// At most `limit` alerts `q` selects after `after`, in its order, with their keys.
pub(crate) fn page(
    conn: &Connection,
    tenant: &TenantId,
    q: &AlertQuery,
    after: Option<SortKey>,
    limit: usize,
) -> Result<Vec<(SortKey, StoredAlert)>, StoreError> {
    let mut plan = Plan::new(conn, tenant, q, false)?;
    plan.pick_keys(conn, KEYED_CHEAP)?;
    let mut hits = Vec::new();
    if limit == 0 {
        return Ok(Vec::new());
    }
    scan(conn, tenant, q, &plan, after, limit, |h| {
        hits.push(h);
        Ok(hits.len() < limit)
    })?;
    hits.into_iter()
        .map(|h| {
            let stored = match h.alert {
                Some(a) => a,
                None => load(conn, tenant, h.seq)?,
            };
            Ok((h.key, stored))
        })
        .collect()
}

/// Every alert `q` selects, in its order, until `visit` returns `false`.
pub(crate) fn scan_records(
    conn: &Connection,
    tenant: &TenantId,
    q: &AlertQuery,
    visit: &mut dyn FnMut(AlertRecord) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let mut plan = Plan::new(conn, tenant, q, true)?;
    plan.pick_keys(conn, KEYED_MAX_ALL)?;
    scan(conn, tenant, q, &plan, None, 256, |h| {
        let stored = match h.alert {
            Some(a) => a,
            None => load(conn, tenant, h.seq)?,
        };
        visit(AlertRecord::new(stored, h.key.seq))
    })
}

fn counts_from(sev: [u64; 4], st: [u64; 4]) -> Counts {
    Counts::from_tallies(sev, st)
}

fn tally(sev: &mut [u64; 4], st: &mut [u64; 4], status: Status, severity_rank: i64, n: u64) {
    if let Some(x) = usize::try_from(severity_rank)
        .ok()
        .and_then(|i| sev.get_mut(i))
    {
        *x += n;
    }
    if let Some(i) = Status::ALL.iter().position(|s| *s == status) {
        st[i] += n;
    }
}

/// The counting query of `q` when SQL decides it alone, and its parameter count (for
/// query-plan tests).
#[cfg(test)]
pub(crate) fn counts_sql_of(
    conn: &Connection,
    tenant: &TenantId,
    q: &AlertQuery,
) -> Result<(String, usize), StoreError> {
    let plan = Plan::new(conn, tenant, q, false)?;
    Ok((
        counts_sql(plan.statuses.len(), &plan.cond),
        1 + plan.statuses.len() + plan.params.len(),
    ))
}

/// The counts from the tallies, when the query filters by statuses, severities, types and
/// display-name text only.
fn tallied(
    conn: &Connection,
    tenant: &TenantId,
    q: &AlertQuery,
    plan: &Plan,
) -> Result<Option<Counts>, StoreError> {
    // Any filter beyond these (including one added to the query later) makes `q` differ.
    let only = AlertQuery {
        statuses: q.statuses.clone(),
        severities: q.severities.clone(),
        min_severity: q.min_severity,
        alert_types: q.alert_types.clone(),
        text: q.text.clone(),
        order: q.order,
        limit: q.limit,
        cursor: q.cursor,
        ..AlertQuery::default()
    };
    if only != *q || plan.empty {
        return Ok(None);
    }
    grouped_counts(
        conn,
        tenant,
        plan,
        &tallies_sql(plan.statuses.len(), &plan.cond),
    )
    .map(Some)
}

/// The counts from the tallies: tenant, `n` statuses, the conditions' (on the type, severity
/// and display name).
pub(crate) fn tallies_sql(n: usize, cond: &str) -> String {
    format!(
        "SELECT status, severity_rank, sum(n) FROM tallies
         WHERE tenant = ? AND status IN ({}){cond} GROUP BY status, severity_rank",
        placeholders(n),
    )
}

/// The counts from key rows alone, when the query filters by statuses, severities and one
/// selective filter whose keys decide it (an entity value, a resource, intents, tactics or
/// techniques). The keys are keyed hashes (`keys.rs`): no value can be made to share one.
fn keyed_counts(
    conn: &Connection,
    q: &AlertQuery,
    plan: &Plan,
) -> Result<Option<Counts>, StoreError> {
    let [ks] = plan.key_sets.as_slice() else {
        return Ok(None);
    };
    let only = AlertQuery {
        statuses: q.statuses.clone(),
        severities: q.severities.clone(),
        min_severity: q.min_severity,
        resource: q.resource.clone(),
        entity: q.entity.clone(),
        intents: q.intents.clone(),
        tactics: q.tactics.clone(),
        techniques: q.techniques.clone(),
        order: q.order,
        limit: q.limit,
        cursor: q.cursor,
        ..AlertQuery::default()
    };
    // One key set, and nothing but it and the statuses and severities: the key set is then
    // the one filter (a filter without keys, such as a long list, leaves the set out).
    let filters = usize::from(q.resource.is_some())
        + usize::from(q.entity.is_some())
        + usize::from(!q.intents.is_empty())
        + usize::from(!q.tactics.is_empty())
        + usize::from(!q.techniques.is_empty());
    if only != *q || filters != 1 || plan.empty {
        return Ok(None);
    }
    // Counted here rather than by a `GROUP BY`, which sorts every key row first (three times
    // slower on tens of thousands of rows).
    let mut by_code = [0u64; 64];
    let mut stmt = conn
        .prepare_cached(&keyed_counts_sql(ks.len(), &plan.kcond))
        .db()?;
    let mut rows = stmt.query(params_from_iter(ks.iter())).db()?;
    let mut found: Vec<(i64, usize)> = Vec::new();
    while let Some(r) = rows.next().db()? {
        let code = usize::try_from(r.get::<_, i64>(1).db()?).unwrap_or(usize::MAX);
        if ks.len() == 1 {
            if let Some(n) = by_code.get_mut(code) {
                *n += 1;
            }
        } else {
            found.push((r.get(0).db()?, code));
        }
    }
    // Several keys of one alert count it once.
    found.sort_unstable();
    found.dedup_by_key(|(seq, _)| *seq);
    for (_, code) in found {
        if let Some(n) = by_code.get_mut(code) {
            *n += 1;
        }
    }
    let mut sev = [0u64; 4];
    let mut st = [0u64; 4];
    for (code, n) in by_code.iter().enumerate().filter(|(_, n)| **n > 0) {
        let code = i64::try_from(code).unwrap_or(i64::MAX);
        if let Some(status) = keys::status_of_code(code / 4) {
            tally(&mut sev, &mut st, status, code % 4, *n);
        }
    }
    Ok(Some(counts_from(sev, st)))
}

/// The key rows of the alerts with one of `n` keys: row id and `st * 4 + sev` (status code
/// and severity rank), from key rows only.
pub(crate) fn keyed_counts_sql(n: usize, kcond: &str) -> String {
    format!(
        "{} SELECT seq, st * 4 + sev FROM alert_keys
         WHERE gen IN (SELECT g FROM gens) AND key IN ({}){kcond}",
        keys::GENS_CTE,
        placeholders(n)
    )
}

/// Runs `sql`, a query of (status, severity rank, count) rows taking the tenant, the plan's
/// statuses and the plan's parameters, and adds its rows up into counts.
fn grouped_counts(
    conn: &Connection,
    tenant: &TenantId,
    plan: &Plan,
    sql: &str,
) -> Result<Counts, StoreError> {
    let mut params: Vec<Value> = vec![Value::Text(tenant.as_str().to_owned())];
    params.extend(
        plan.statuses
            .iter()
            .map(|s| Value::Text(status_text(*s).to_owned())),
    );
    params.extend(plan.params.iter().cloned());
    let mut sev = [0u64; 4];
    let mut st = [0u64; 4];
    let mut stmt = conn.prepare_cached(sql).db()?;
    let mut rows = stmt.query(params_from_iter(params)).db()?;
    while let Some(r) = rows.next().db()? {
        let status: String = r.get(0).db()?;
        let severity_rank: i64 = r.get(1).db()?;
        let n: i64 = r.get(2).db()?;
        if let Some(status) = parse_status(&status) {
            tally(
                &mut sev,
                &mut st,
                status,
                severity_rank,
                u64::try_from(n).unwrap_or(0),
            );
        }
    }
    Ok(counts_from(sev, st))
}

/// The counts of what SQL decides alone: tenant, `n` statuses, the conditions'.
pub(crate) fn counts_sql(n: usize, cond: &str) -> String {
    format!(
        "SELECT status, severity_rank, count(*) FROM alerts
         WHERE tenant = ? AND status IN ({}){cond} GROUP BY status, severity_rank",
        placeholders(n)
    )
}

pub(crate) fn counts(
    conn: &Connection,
    tenant: &TenantId,
    q: &AlertQuery,
) -> Result<Counts, StoreError> {
    let mut q = q.clone();
    q.cursor = None;
    let mut plan = Plan::new(conn, tenant, &q, true)?;
    let mut sev = [0u64; 4];
    let mut st = [0u64; 4];
    if plan.empty {
        return Ok(counts_from(sev, st));
    }
    if let Some(c) = tallied(conn, tenant, &q, &plan)? {
        return Ok(c);
    }
    if let Some(c) = keyed_counts(conn, &q, &plan)? {
        return Ok(c);
    }
    if plan.exact && !plan.has_list_checks() {
        let sql = counts_sql(plan.statuses.len(), &plan.cond);
        return grouped_counts(conn, tenant, &plan, &sql);
    }
    plan.pick_keys(conn, KEYED_MAX_ALL)?;
    scan(conn, tenant, &q, &plan, None, usize::MAX, |h| {
        tally(&mut sev, &mut st, h.status, h.severity_rank, 1);
        Ok(true)
    })?;
    Ok(counts_from(sev, st))
}

/// The related-candidates query: tenant, my row id, correlation key, the JSON list of shared
/// keys, limit.
pub(crate) fn related_sql() -> String {
    format!(
        "{} SELECT seq FROM alerts
         WHERE seq IN (
             SELECT seq FROM alerts WHERE tenant = ?1 AND correlation_key = ?3
             UNION SELECT seq FROM alert_keys
                   WHERE gen IN (SELECT g FROM gens)
                     AND key IN (SELECT value FROM json_each(?4))
         ) AND tenant = ?1 AND seq <> ?2
         ORDER BY severity_rank DESC, time_us DESC, tseq DESC LIMIT ?5",
        keys::GENS_CTE
    )
}

/// Alerts other than the one with row id `my_seq` that share its correlation key, its
/// compromised entity or an entity value (through their keys, so a rare hash collision may add
/// a candidate the engine then drops); most severe then most recent first, at most `limit`.
pub(crate) fn related_candidates(
    conn: &Connection,
    tenant: &TenantId,
    my_seq: i64,
    me: &Alert,
    limit: usize,
) -> Result<Vec<StoredAlert>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let d = Derived::of(me);
    let key = me.correlation_key().filter(|k| !k.is_empty());
    let keyer = keys::Keyer::load(conn)?;
    let mut shared: Vec<i64> = d
        .entities
        .iter()
        .map(|v| keyer.key(tenant.as_str(), Kind::Entity, v))
        .collect();
    if let Some(c) = me.compromised_entity().filter(|c| !c.is_empty()) {
        shared.push(keyer.key(tenant.as_str(), Kind::Compromised, &fold(c)));
    }
    let values = serde_json::to_string(&shared).unwrap_or_else(|_| "[]".to_owned());
    let mut stmt = conn.prepare_cached(&related_sql()).db()?;
    let seqs = stmt
        .query_map(
            rusqlite::params![
                tenant.as_str(),
                my_seq,
                key,
                values,
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            |r| r.get::<_, i64>(0),
        )
        .db()?
        .collect::<Result<Vec<_>, _>>()
        .db()?;
    seqs.into_iter()
        .map(|seq| load(conn, tenant, seq))
        .collect()
}
