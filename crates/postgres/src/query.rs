//! The triage query: SQL narrows, [`AlertQuery::matches`] decides.
//!
//! A query reads the tenant's alerts of the selected statuses in the order's index order, from
//! the cursor on, in growing chunks (keyset paging: `(keys) < (cursor keys)`). The filters that
//! SQL can evaluate as a superset of the contract's definition (severities, types, products,
//! the time range to the microsecond, display text, ids, an exact resource, an entity value)
//! go into the `WHERE`; every row read is then checked with [`AlertQuery::matches`], the
//! contract's definition, so paging stays exact whatever the filters.

use postgres::types::ToSql;
use vigil_core::store::{
    AlertQuery, AlertRecord, Counts, Order, ResourceFilter, SortKey, StoreError, StoredAlert,
};
use vigil_core::text::fold;
use vigil_core::{Alert, Severity, Status};

use crate::codec::{ALERT_COLUMNS, derived, nul_free, status_text};
use crate::error::get;
use crate::tx::{PgTx, status_texts};

/// Statement parameters, numbered in the order they are pushed.
#[derive(Default)]
struct Params {
    values: Vec<Box<dyn ToSql + Sync>>,
}

impl Params {
    /// Adds a value and returns its placeholder (`$n`).
    fn push(&mut self, v: impl ToSql + Sync + 'static) -> String {
        self.values.push(Box::new(v));
        format!("${}", self.values.len())
    }

    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.values
            .iter()
            .map(|b| b.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// The statuses a query selects, each once.
fn distinct_statuses(q: &AlertQuery) -> Vec<Status> {
    let mut statuses: Vec<Status> = Vec::new();
    for s in q.effective_statuses() {
        if !statuses.contains(&s) {
            statuses.push(s);
        }
    }
    statuses
}

/// The `WHERE` of a query (without the cursor), or `None` if nothing can match.
fn filters(tx: &PgTx<'_>, q: &AlertQuery, p: &mut Params) -> Option<String> {
    let statuses = distinct_statuses(q);
    if statuses.is_empty() {
        return None;
    }
    let tenant = p.push(tx.t().to_owned());
    // One status as an equality, so that an order index (tenant, status, keys…) can deliver
    // its rows in order; `status = ANY(…)` cannot.
    let mut cond = match statuses.as_slice() {
        [one] => format!(
            "tenant = {tenant} AND status = {}",
            p.push(status_text(*one))
        ),
        _ => format!(
            "tenant = {tenant} AND status = ANY({})",
            p.push(status_texts(&statuses))
        ),
    };
    let ranks: Vec<i64> = Severity::ALL
        .iter()
        .filter(|s| q.severities.as_ref().is_none_or(|v| v.contains(s)))
        .filter(|s| q.min_severity.is_none_or(|m| **s >= m))
        .map(|s| i64::from(s.rank()))
        .collect();
    if ranks.is_empty() {
        return None;
    }
    if ranks.len() < Severity::ALL.len() {
        cond.push_str(&format!(" AND severity_rank = ANY({})", p.push(ranks)));
    }
    if !q.alert_types.is_empty() {
        let types: Vec<String> = q
            .alert_types
            .iter()
            .map(|t| nul_free(t.to_ascii_lowercase()))
            .collect();
        cond.push_str(&format!(" AND alert_type_lc = ANY({})", p.push(types)));
    }
    if !q.products.is_empty() {
        let products: Vec<String> = q
            .products
            .iter()
            .map(|x| nul_free(fold(x).into_owned()))
            .collect();
        cond.push_str(&format!(" AND product_lc = ANY({})", p.push(products)));
    }
    // time_us is the floor of the time in microseconds: these bounds select a superset.
    if let Some(since) = q.since {
        cond.push_str(&format!(
            " AND time_us >= {}",
            p.push(since.timestamp_micros())
        ));
    }
    if let Some(until) = q.until {
        // Exact for a bound in whole microseconds (time < until ⟺ floor < until).
        let op = if until.timestamp_subsec_nanos() % 1000 == 0 {
            "<"
        } else {
            "<="
        };
        cond.push_str(&format!(
            " AND time_us {op} {}",
            p.push(until.timestamp_micros())
        ));
    }
    if let Some(text) = &q.text {
        cond.push_str(&format!(
            " AND strpos(display_lc, {}) > 0",
            p.push(nul_free(fold(text).into_owned()))
        ));
    }
    if !q.ids.is_empty() {
        let ids: Vec<String> = q.ids.iter().map(|i| i.as_str().to_owned()).collect();
        let n = p.push(ids);
        cond.push_str(&format!(" AND (id = ANY({n}) OR sys_id = ANY({n}))"));
    }
    if let Some(ResourceFilter::Exact(x)) = &q.resource {
        cond.push_str(&format!(
            " AND {} = ANY(resources_lc)",
            p.push(nul_free(x.to_ascii_lowercase()))
        ));
    }
    if let Some(e) = &q.entity {
        cond.push_str(&format!(
            " AND {} = ANY(entities_lc)",
            p.push(nul_free(fold(e).into_owned()))
        ));
    }
    Some(cond)
}

/// Whether [`filters`] decides every filter of `q` exactly, so rows need no check in Rust:
/// not for intents, tactics and techniques, a resource prefix, time bounds finer than a
/// microsecond, or filter text holding the characters the derived columns replace.
fn exact(q: &AlertQuery) -> bool {
    let plain = |s: &str| !s.contains(['\0', '\u{FFFD}']);
    q.intents.is_empty()
        && q.tactics.is_empty()
        && q.techniques.is_empty()
        && !matches!(q.resource, Some(ResourceFilter::Prefix(_)))
        && q.since
            .is_none_or(|t| t.timestamp_subsec_nanos() % 1000 == 0)
        && q.until
            .is_none_or(|t| t.timestamp_subsec_nanos() % 1000 == 0)
        && q.alert_types.iter().all(|x| plain(x))
        && q.products.iter().all(|x| plain(x))
        && q.text.as_deref().is_none_or(plain)
        && q.entity.as_deref().is_none_or(plain)
        && match &q.resource {
            Some(ResourceFilter::Exact(x)) => plain(x),
            _ => true,
        }
}

/// (primary, secondary, ORDER BY) of an order.
fn order_sql(order: Order) -> (&'static str, &'static str, &'static str) {
    match order {
        Order::SeverityThenTime => (
            "severity_rank",
            "time_us",
            "severity_rank DESC, time_us DESC, tseq DESC",
        ),
        Order::Time => ("time_us", "0", "time_us DESC, tseq DESC"),
        Order::Priority => (
            "priority",
            "time_us",
            "priority DESC, time_us DESC, tseq DESC",
        ),
    }
}

fn seq_param(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// ` AND <keys> < <after>` for an order.
fn after_sql(order: Order, k: SortKey, p: &mut Params) -> String {
    match order {
        Order::SeverityThenTime | Order::Priority => {
            let (primary, _, _) = order_sql(order);
            format!(
                " AND ({primary}, time_us, tseq) < ({}, {}, {})",
                p.push(k.primary),
                p.push(k.secondary),
                p.push(seq_param(k.seq))
            )
        }
        // Rows of this order have secondary 0.
        Order::Time if k.secondary > 0 => format!(" AND time_us <= {}", p.push(k.primary)),
        Order::Time if k.secondary < 0 => format!(" AND time_us < {}", p.push(k.primary)),
        Order::Time => format!(
            " AND (time_us, tseq) < ({}, {})",
            p.push(k.primary),
            p.push(seq_param(k.seq))
        ),
    }
}

/// Visits the alerts `q` selects (ignoring its limit and cursor) after `after`, in `q.order`,
/// until `visit` returns `false`. `want` sizes the first read.
pub(crate) fn scan(
    tx: &PgTx<'_>,
    q: &AlertQuery,
    mut after: Option<SortKey>,
    want: usize,
    visit: &mut dyn FnMut(SortKey, AlertRecord) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let (_, _, order_by) = order_sql(q.order);
    let mut chunk = want.clamp(16, 4096);
    loop {
        let mut p = Params::default();
        let statuses = distinct_statuses(q);
        let sql = if statuses.len() < 2 {
            let Some(mut cond) = filters(tx, q, &mut p) else {
                return Ok(());
            };
            if let Some(k) = after {
                cond.push_str(&after_sql(q.order, k, &mut p));
            }
            let limit = p.push(i64::try_from(chunk).unwrap_or(i64::MAX));
            format!(
                "SELECT tseq, {ALERT_COLUMNS} FROM alerts WHERE {cond} ORDER BY {order_by} LIMIT {limit}"
            )
        } else {
            let limit = p.push(i64::try_from(chunk).unwrap_or(i64::MAX));
            // One index-ordered stream per status, merged: the first rows of each status in
            // the order, then the first of all of them. (One `status = ANY(…)` query would
            // sort every selected row: about a second for the queue of a million alerts.)
            let mut branches = Vec::with_capacity(statuses.len());
            for status in statuses {
                let single = AlertQuery {
                    statuses: Some(vec![status]),
                    ..q.clone()
                };
                let Some(mut c) = filters(tx, &single, &mut p) else {
                    continue;
                };
                if let Some(k) = after {
                    c.push_str(&after_sql(q.order, k, &mut p));
                }
                branches.push(format!(
                    "(SELECT tseq, {ALERT_COLUMNS}, severity_rank, priority, time_us FROM alerts
                      WHERE {c} ORDER BY {order_by} LIMIT {limit})"
                ));
            }
            if branches.is_empty() {
                return Ok(());
            }
            format!(
                "SELECT tseq, {ALERT_COLUMNS} FROM ({}) AS u ORDER BY {order_by} LIMIT {limit}",
                branches.join(" UNION ALL ")
            )
        };
        let rows = tx.query(&sql, &p.refs())?;
        let done = rows.len() < chunk;
        for row in &rows {
            let record = tx.record(row, 0)?;
            let key = SortKey::of(q.order, &record.stored.alert, record.seq);
            after = Some(key);
            if !q.matches(&record.stored.alert) {
                continue;
            }
            if !visit(key, record)? {
                return Ok(());
            }
        }
        if done {
            return Ok(());
        }
        chunk = (chunk * 4).min(4096);
    }
}

/// At most `limit` alerts `q` selects after `after`, in its order, with their keys.
pub(crate) fn page(
    tx: &PgTx<'_>,
    q: &AlertQuery,
    after: Option<SortKey>,
    limit: usize,
) -> Result<Vec<(SortKey, StoredAlert)>, StoreError> {
    let mut out = Vec::new();
    if limit == 0 {
        return Ok(out);
    }
    scan(tx, q, after, limit.saturating_add(1), &mut |k, r| {
        out.push((k, r.stored));
        Ok(out.len() < limit)
    })?;
    Ok(out)
}

/// Counts per severity and status of every alert `q` selects.
pub(crate) fn counts(tx: &PgTx<'_>, q: &AlertQuery) -> Result<Counts, StoreError> {
    let mut sev = [0u64; 4];
    let mut st = [0u64; 4];
    if exact(q) {
        let mut p = Params::default();
        let Some(cond) = filters(tx, q, &mut p) else {
            return Ok(Counts::from_tallies(sev, st));
        };
        let rows = tx.query(
            &format!(
                "SELECT status, severity_rank, count(*) FROM alerts WHERE {cond}
                 GROUP BY status, severity_rank"
            ),
            &p.refs(),
        )?;
        for r in &rows {
            let status: String = get(r, 0)?;
            let rank: i64 = get(r, 1)?;
            let n = u64::try_from(get::<i64>(r, 2)?).unwrap_or(0);
            if let Some(x) = usize::try_from(rank).ok().and_then(|i| sev.get_mut(i)) {
                *x += n;
            }
            if let Some(i) = Status::ALL.iter().position(|s| s.as_str() == status)
                && let Some(x) = st.get_mut(i)
            {
                *x += n;
            }
        }
        return Ok(Counts::from_tallies(sev, st));
    }
    scan(tx, q, None, 4096, &mut |_, r| {
        let alert = &r.stored.alert;
        let rank = SortKey::of(Order::SeverityThenTime, alert, 0).primary;
        if let Some(x) = usize::try_from(rank).ok().and_then(|i| sev.get_mut(i)) {
            *x += 1;
        }
        if let Some(i) = Status::ALL.iter().position(|s| *s == alert.status())
            && let Some(x) = st.get_mut(i)
        {
            *x += 1;
        }
        Ok(true)
    })?;
    Ok(Counts::from_tallies(sev, st))
}

/// Alerts other than `me` that share its correlation key, its compromised entity or an entity
/// value; most severe then most recent first, at most `limit`.
pub(crate) fn related_candidates(
    tx: &PgTx<'_>,
    me: &Alert,
    limit: usize,
) -> Result<Vec<StoredAlert>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let d = derived(me);
    let key = me
        .correlation_key()
        .filter(|k| !k.is_empty())
        .map(|k| nul_free(k.to_owned()));
    let compromised = me
        .compromised_entity()
        .filter(|c| !c.is_empty())
        .map(|c| nul_free(fold(c).into_owned()));
    let rows = tx.query(
        &format!(
            "SELECT tseq, {ALERT_COLUMNS} FROM alerts
             WHERE tenant = $1 AND id <> $2
               AND (correlation_key = $3 OR compromised_lc = $4 OR entities_lc && $5)
             ORDER BY severity_rank DESC, time_us DESC, tseq DESC LIMIT $6"
        ),
        &[
            &tx.t(),
            &me.id().as_str(),
            &key,
            &compromised,
            &d.entities,
            &i64::try_from(limit).unwrap_or(i64::MAX),
        ],
    )?;
    rows.iter()
        .map(|r| tx.record(r, 0).map(|rec| rec.stored))
        .collect()
}
