//! The triage query: SQL narrows, [`AlertQuery::matches`] decides.
//!
//! A query runs as one index-ordered stream per selected status (each served by the
//! `(tenant, status, <order keys>)` index of its order, from the cursor on), merged in Rust in
//! key order. The filters that SQL evaluates exactly (severities, types, products, time range
//! with whole microseconds, display text) go into each stream's `WHERE`; resource and entity
//! filters are checked exactly on the row's cached lowercase lists; filters SQL cannot decide
//! (intents, tactics, techniques, sub-microsecond time bounds) are checked by parsing the alert
//! and calling [`AlertQuery::matches`], the contract's definition. Streams are read in growing
//! chunks until the page is full, so paging stays exact whatever the filters.

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
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

impl Plan {
    fn new(q: &AlertQuery) -> Plan {
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
        } else if ranks.len() < 4 {
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
        if !q.intents.is_empty() || !q.tactics.is_empty() || !q.techniques.is_empty() {
            exact = false;
        }
        let resource = q.resource.as_ref().map(|r| match r {
            ResourceFilter::Exact(x) => ResourceCheck::Exact(x.to_ascii_lowercase()),
            ResourceFilter::Prefix(p) => ResourceCheck::Prefix(p.to_ascii_lowercase()),
        });
        Plan {
            statuses,
            cond,
            params,
            resource,
            entity: q.entity.as_ref().map(|e| fold(e).into_owned()),
            exact,
            empty,
        }
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
        Order::Time => ("alerts_by_time", "time_us", "0", "time_us DESC, tseq DESC"),
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

/// One status stream's chunk query: `?` parameters are tenant, status, the conditions', limit.
fn stream_sql(order: Order, cond: &str) -> String {
    let (index, p, sec, order_by) = order_sql(order);
    format!(
        "SELECT seq, {p}, {sec}, id, severity_rank, resources_lc, entities_lc, tseq
         FROM alerts INDEXED BY {index}
         WHERE tenant = ? AND status = ?{cond}
         ORDER BY {order_by} LIMIT ?"
    )
}

/// The chunk query of the first stream of `q`, with the cursor's condition, and its parameter
/// count (for query-plan tests).
#[cfg(test)]
pub(crate) fn first_stream_sql(q: &AlertQuery, after: Option<SortKey>) -> (String, usize) {
    let plan = Plan::new(q);
    let mut cond = plan.cond.clone();
    let mut params = plan.params.clone();
    if let Some(k) = after {
        after_sql(q.order, k, &mut cond, &mut params);
    }
    (stream_sql(q.order, &cond), params.len() + 3)
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
    let mut streams: Vec<Stream> = plan
        .statuses
        .iter()
        .map(|s| Stream {
            status: *s,
            buf: VecDeque::new(),
            after,
            chunk: first,
            done: false,
        })
        .collect();
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
    let plan = Plan::new(q);
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
    let plan = Plan::new(q);
    scan(conn, tenant, q, &plan, None, 256, |h| {
        let stored = match h.alert {
            Some(a) => a,
            None => load(conn, tenant, h.seq)?,
        };
        visit(AlertRecord::new(stored, h.key.seq))
    })
}

fn counts_from(sev: [u64; 4], st: [u64; 4]) -> Counts {
    Counts {
        by_severity: Severity::ALL
            .iter()
            .rev()
            .map(|s| (*s, sev[rank(*s) as usize]))
            .collect(),
        by_status: Status::ALL.iter().copied().zip(st).collect(),
    }
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

pub(crate) fn counts(
    conn: &Connection,
    tenant: &TenantId,
    q: &AlertQuery,
) -> Result<Counts, StoreError> {
    let mut q = q.clone();
    q.cursor = None;
    let plan = Plan::new(&q);
    let mut sev = [0u64; 4];
    let mut st = [0u64; 4];
    if plan.empty {
        return Ok(counts_from(sev, st));
    }
    if plan.exact && !plan.has_list_checks() {
        let statuses: Vec<Value> = plan
            .statuses
            .iter()
            .map(|s| Value::Text(status_text(*s).to_owned()))
            .collect();
        let sql = format!(
            "SELECT status, severity_rank, count(*) FROM alerts
             WHERE tenant = ? AND status IN ({}){} GROUP BY status, severity_rank",
            placeholders(statuses.len()),
            plan.cond
        );
        let mut params = vec![Value::Text(tenant.as_str().to_owned())];
        params.extend(statuses);
        params.extend(plan.params.iter().cloned());
        let mut stmt = conn.prepare_cached(&sql).db()?;
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
        return Ok(counts_from(sev, st));
    }
    scan(conn, tenant, &q, &plan, None, usize::MAX, |h| {
        tally(&mut sev, &mut st, h.status, h.severity_rank, 1);
        Ok(true)
    })?;
    Ok(counts_from(sev, st))
}

/// Alerts other than the one with row id `my_seq` that share its correlation key, its
/// compromised entity or an entity value; most severe then most recent first, at most `limit`.
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
    let compromised = me
        .compromised_entity()
        .filter(|c| !c.is_empty())
        .map(|c| fold(c).into_owned());
    let values = serde_json::to_string(&d.entities).unwrap_or_else(|_| "[]".to_owned());
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq FROM alerts
             WHERE seq IN (
                 SELECT seq FROM alerts WHERE tenant = ?1 AND correlation_key = ?3
                 UNION SELECT seq FROM alerts WHERE tenant = ?1 AND compromised_lc = ?4
                 UNION SELECT seq FROM alert_entities
                       WHERE value_lc IN (SELECT value FROM json_each(?5))
             ) AND tenant = ?1 AND seq <> ?2
             ORDER BY severity_rank DESC, time_us DESC, tseq DESC LIMIT ?6",
        )
        .db()?;
    let seqs = stmt
        .query_map(
            rusqlite::params![
                tenant.as_str(),
                my_seq,
                key,
                compromised,
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
