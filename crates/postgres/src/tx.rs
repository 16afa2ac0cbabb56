//! One transaction of one tenant: every read and write of the [`ReadTx`] and [`WriteTx`]
//! contract, each filtered by the tenant.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use postgres::types::ToSql;
use postgres::{Row, Statement};
use vigil_core::AlertId;
use vigil_core::Status;
use vigil_core::store::SortKey;
use vigil_core::store::{
    AlertQuery, AlertRecord, AuditEntry, Change, Counts, Event, EventKind, Feedback, ReadTx,
    StoreError, StoredAlert, StoredRule, TenantId, WriteTx,
};

use crate::automations;
use crate::codec::{
    ALERT_COLUMNS, alert_json, decode, derived, feedback_reason_text, parse_feedback_reason,
    parse_status, parse_ts, read_alert_row, status_text, suppression_reason_text, ts,
};
use crate::error::{Db, corrupt_alert, corrupt_row, get};
use crate::query;
use crate::rules;
use vigil_core::automation::{Delivery, DeliveryState, Lease, StoredAutomation};

/// Parameters of one statement, numbered `$1`, `$2`, … in the order they are pushed.
pub(crate) type Param<'p> = &'p (dyn ToSql + Sync);

/// How many prepared statements a connection keeps (the triage query's text varies with its
/// filters); past it, the cache starts over.
const STATEMENT_CACHE: usize = 256;

/// A list as the text of a PostgreSQL array (`{"a","b\"c"}`), which the bulk insert casts
/// back to `text[]`: a list per row cannot travel as a two-dimensional array (the rows'
/// lists differ in length), and the server reads this form several times faster than JSON.
fn array_literal(values: &[String]) -> String {
    let mut out = String::with_capacity(2 + values.iter().map(|v| v.len() + 3).sum::<usize>());
    out.push('{');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for c in v.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
    out.push('}');
    out
}

pub(crate) fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// One transaction of one tenant. The tenant's insertion and event counters are read (and the
/// tenant's state row locked) when a write transaction begins, and written back by
/// [`PgTx::finish`] before it commits.
pub(crate) struct PgTx<'c> {
    tx: RefCell<postgres::Transaction<'c>>,
    statements: RefCell<&'c mut HashMap<String, Statement>>,
    pub(crate) tenant: TenantId,
    last_alert: Cell<i64>,
    last_event: Cell<i64>,
    moved: Cell<bool>,
    /// New alerts, their audit entries, events and rule hits not yet sent: written in bulk
    /// before any other statement runs and before commit.
    pending: RefCell<Pending>,
    /// Alerts read by [`ReadTx::prefetch`], by identity (`None`: not stored), answered by
    /// [`ReadTx::alert`] until the transaction writes them. With the write-behind, an ingest
    /// costs a handful of round trips per batch rather than one per alert.
    known: RefCell<HashMap<String, Option<AlertRecord>>>,
}

/// Rows written behind: new alerts (with their identities, for lookups), the audit entries of
/// new alerts, events, and rule hits (per rule: hits, last time).
#[derive(Default)]
struct Pending {
    alerts: Vec<(i64, StoredAlert)>,
    index: HashMap<String, usize>,
    audits: Vec<(i64, i64, AuditEntry)>,
    events: Vec<(i64, String, String)>,
    hits: HashMap<String, (i64, DateTime<Utc>)>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.alerts.is_empty()
            && self.audits.is_empty()
            && self.events.is_empty()
            && self.hits.is_empty()
    }
}

/// How many pending rows of a kind are sent at once.
const PENDING_MAX: usize = 1000;

impl<'c> PgTx<'c> {
    /// A read transaction (no counters).
    pub(crate) fn read(
        tx: postgres::Transaction<'c>,
        statements: &'c mut HashMap<String, Statement>,
        tenant: &TenantId,
    ) -> PgTx<'c> {
        PgTx::with_counters(tx, statements, tenant, 0, 0)
    }

    /// A write transaction: locks the tenant's state row (creating it if needed), which
    /// serialises the tenant's writers, and reads its counters.
    pub(crate) fn write(
        tx: postgres::Transaction<'c>,
        statements: &'c mut HashMap<String, Statement>,
        tenant: &TenantId,
    ) -> Result<PgTx<'c>, StoreError> {
        let t = PgTx::with_counters(tx, statements, tenant, 0, 0);
        let lock = "SELECT last_alert_seq, last_event_seq FROM tenant_state
                    WHERE tenant = $1 FOR UPDATE";
        let mut row = t.query_opt(lock, &[&tenant.as_str()])?;
        if row.is_none() {
            t.execute(
                "INSERT INTO tenant_state (tenant) VALUES ($1) ON CONFLICT (tenant) DO NOTHING",
                &[&tenant.as_str()],
            )?;
            row = t.query_opt(lock, &[&tenant.as_str()])?;
        }
        if let Some(r) = row {
            t.last_alert.set(get(&r, 0)?);
            t.last_event.set(get(&r, 1)?);
        }
        Ok(t)
    }

    fn with_counters(
        tx: postgres::Transaction<'c>,
        statements: &'c mut HashMap<String, Statement>,
        tenant: &TenantId,
        last_alert: i64,
        last_event: i64,
    ) -> PgTx<'c> {
        PgTx {
            tx: RefCell::new(tx),
            statements: RefCell::new(statements),
            tenant: tenant.clone(),
            last_alert: Cell::new(last_alert),
            last_event: Cell::new(last_event),
            moved: Cell::new(false),
            pending: RefCell::new(Pending::default()),
            known: RefCell::new(HashMap::new()),
        }
    }

    /// Writes back the counters this transaction moved, then commits.
    pub(crate) fn commit(self) -> Result<(), StoreError> {
        self.flush()?;
        if self.moved.get() {
            self.execute(
                "UPDATE tenant_state SET last_alert_seq = $2, last_event_seq = $3
                 WHERE tenant = $1",
                &[
                    &self.tenant.as_str(),
                    &self.last_alert.get(),
                    &self.last_event.get(),
                ],
            )?;
        }
        self.tx.into_inner().commit().db()
    }

    pub(crate) fn t(&self) -> &str {
        self.tenant.as_str()
    }

    /// The connection's prepared statement for `sql`, preparing it the first time.
    fn statement(&self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.borrow_mut().prepare(sql).db()?;
        let mut cache = self.statements.borrow_mut();
        if cache.len() >= STATEMENT_CACHE {
            cache.clear();
        }
        cache.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    /// Runs a query after sending what is pending.
    pub(crate) fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, StoreError> {
        self.flush()?;
        let s = self.statement(sql)?;
        self.tx.borrow_mut().query(&s, params).db()
    }

    /// Runs a query of at most one row after sending what is pending.
    pub(crate) fn query_opt(
        &self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Option<Row>, StoreError> {
        self.flush()?;
        self.query_opt_now(sql, params)
    }

    /// Runs a query of at most one row without sending what is pending.
    fn query_opt_now(&self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>, StoreError> {
        let s = self.statement(sql)?;
        self.tx.borrow_mut().query_opt(&s, params).db()
    }

    /// Runs a statement after sending what is pending.
    pub(crate) fn execute(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError> {
        self.flush()?;
        self.execute_now(sql, params)
    }

    fn execute_now(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError> {
        let s = self.statement(sql)?;
        self.tx.borrow_mut().execute(&s, params).db()
    }

    /// Sends the pending rows, each kind in one statement.
    fn flush(&self) -> Result<(), StoreError> {
        let (alerts, audits, events, hits) = {
            let mut p = self.pending.borrow_mut();
            if p.is_empty() {
                return Ok(());
            }
            p.index.clear();
            (
                std::mem::take(&mut p.alerts),
                std::mem::take(&mut p.audits),
                std::mem::take(&mut p.events),
                std::mem::take(&mut p.hits),
            )
        };
        if !alerts.is_empty() {
            self.insert_alerts(&alerts)?;
        }
        if !audits.is_empty() {
            self.insert_audits(&audits)?;
        }
        if !hits.is_empty() {
            let mut names = Vec::with_capacity(hits.len());
            let mut counts = Vec::with_capacity(hits.len());
            let mut ats = Vec::with_capacity(hits.len());
            for (name, (n, at)) in hits {
                names.push(name);
                counts.push(n);
                ats.push(ts(at));
            }
            self.execute_now(
                "UPDATE rules r SET hit_count = r.hit_count + h.hits, last_matched_at = h.at
                 FROM unnest($2::text[], $3::bigint[], $4::text[]) AS h (name, hits, at)
                 WHERE r.tenant = $1 AND r.name = h.name",
                &[&self.t(), &names, &counts, &ats],
            )?;
        }
        if !events.is_empty() {
            let mut seqs = Vec::with_capacity(events.len());
            let mut ats = Vec::with_capacity(events.len());
            let mut bodies = Vec::with_capacity(events.len());
            for (seq, at, body) in events {
                seqs.push(seq);
                ats.push(at);
                bodies.push(body);
            }
            self.execute_now(
                "INSERT INTO events (tenant, seq, at, body)
                 SELECT $1, e.seq, e.at, e.body
                 FROM unnest($2::bigint[], $3::text[], $4::text[]) AS e (seq, at, body)",
                &[&self.t(), &seqs, &ats, &bodies],
            )?;
        }
        Ok(())
    }

    /// Inserts new alerts in one statement (columns as arrays; the lists as JSON text).
    fn insert_alerts(&self, alerts: &[(i64, StoredAlert)]) -> Result<(), StoreError> {
        let n = alerts.len();
        let mut tseq = Vec::with_capacity(n);
        let mut id = Vec::with_capacity(n);
        let mut sys_id = Vec::with_capacity(n);
        let mut version = Vec::with_capacity(n);
        let mut status = Vec::with_capacity(n);
        let mut severity_rank = Vec::with_capacity(n);
        let mut time_us = Vec::with_capacity(n);
        let mut priority = Vec::with_capacity(n);
        let mut alert_type = Vec::with_capacity(n);
        let mut product = Vec::with_capacity(n);
        let mut display = Vec::with_capacity(n);
        let mut correlation = Vec::with_capacity(n);
        let mut compromised = Vec::with_capacity(n);
        let mut resources = Vec::with_capacity(n);
        let mut entities = Vec::with_capacity(n);
        let mut ingested = Vec::with_capacity(n);
        let mut updated = Vec::with_capacity(n);
        let mut rule = Vec::with_capacity(n);
        let mut reason = Vec::with_capacity(n);
        let mut suppressed = Vec::with_capacity(n);
        let mut json = Vec::with_capacity(n);
        for (seq, stored) in alerts {
            let alert = &stored.alert;
            let d = derived(alert);
            let (r, why, at) = suppression_columns(stored);
            tseq.push(*seq);
            id.push(alert.id().as_str().to_owned());
            sys_id.push(alert.system_alert_id().as_str().to_owned());
            version.push(i64_of(stored.version));
            status.push(status_text(alert.status()).to_owned());
            severity_rank.push(d.severity_rank);
            time_us.push(d.time_us);
            priority.push(d.priority);
            alert_type.push(d.alert_type_lc);
            product.push(d.product_lc);
            display.push(d.display_lc);
            correlation.push(d.correlation_key);
            compromised.push(d.compromised_lc);
            resources.push(array_literal(&d.resources));
            entities.push(array_literal(&d.entities));
            ingested.push(ts(stored.ingested_at));
            updated.push(ts(stored.updated_at));
            rule.push(r);
            reason.push(why);
            suppressed.push(at);
            json.push(alert_json(alert)?);
        }
        self.execute_now(
            "INSERT INTO alerts (tenant, tseq, id, sys_id, version, status, severity_rank,
                time_us, priority, alert_type_lc, product_lc, display_lc, correlation_key,
                compromised_lc, resources_lc, entities_lc, ingested_at, updated_at,
                suppression_rule, suppression_reason, suppressed_at, json)
             SELECT $1, a.tseq, a.id, a.sys_id, a.version, a.status, a.severity_rank,
                a.time_us, a.priority, a.alert_type_lc, a.product_lc, a.display_lc,
                a.correlation_key, a.compromised_lc,
                a.resources::text[], a.entities::text[],
                a.ingested_at, a.updated_at, a.suppression_rule, a.suppression_reason,
                a.suppressed_at, a.json
             FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[],
                $7::bigint[], $8::bigint[], $9::bigint[], $10::text[], $11::text[], $12::text[],
                $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[],
                $19::text[], $20::text[], $21::text[], $22::text[])
             AS a (tseq, id, sys_id, version, status, severity_rank, time_us, priority,
                alert_type_lc, product_lc, display_lc, correlation_key, compromised_lc,
                resources, entities, ingested_at, updated_at, suppression_rule,
                suppression_reason, suppressed_at, json)",
            &[
                &self.t(),
                &tseq,
                &id,
                &sys_id,
                &version,
                &status,
                &severity_rank,
                &time_us,
                &priority,
                &alert_type,
                &product,
                &display,
                &correlation,
                &compromised,
                &resources,
                &entities,
                &ingested,
                &updated,
                &rule,
                &reason,
                &suppressed,
                &json,
            ],
        )?;
        Ok(())
    }

    /// Inserts audit entries of new alerts in one statement.
    fn insert_audits(&self, audits: &[(i64, i64, AuditEntry)]) -> Result<(), StoreError> {
        let n = audits.len();
        let (mut tseq, mut num, mut at, mut actor) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut from, mut to, mut comment, mut version) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for (seq, k, e) in audits {
            tseq.push(*seq);
            num.push(*k);
            at.push(ts(e.at));
            actor.push(e.actor.as_str());
            from.push(status_text(e.from));
            to.push(status_text(e.to));
            comment.push(e.comment.as_deref());
            version.push(i64_of(e.version));
        }
        self.execute_now(
            "INSERT INTO audit (tenant, tseq, n, at, actor, from_status, to_status, comment,
                version)
             SELECT $1, a.tseq, a.n, a.at, a.actor, a.from_status, a.to_status, a.comment,
                a.version
             FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[],
                $7::text[], $8::text[], $9::bigint[])
             AS a (tseq, n, at, actor, from_status, to_status, comment, version)",
            &[
                &self.t(),
                &tseq,
                &num,
                &at,
                &actor,
                &from,
                &to,
                &comment,
                &version,
            ],
        )?;
        Ok(())
    }

    /// Decodes an alert row read as `tseq, {ALERT_COLUMNS}` from column `at`.
    pub(crate) fn record(&self, row: &Row, at: usize) -> Result<AlertRecord, StoreError> {
        let tseq: i64 = get(row, at)?;
        let stored = decode(read_alert_row(row, at + 1)?, self.t())?;
        Ok(AlertRecord::new(stored, u64_of(tseq)))
    }

    fn exists(&self, id: &AlertId) -> Result<bool, StoreError> {
        Ok(self
            .query_opt(
                "SELECT 1 FROM alerts WHERE tenant = $1 AND id = $2",
                &[&self.t(), &id.as_str()],
            )?
            .is_some())
    }
}

fn suppression_columns(stored: &StoredAlert) -> (Option<String>, Option<String>, Option<String>) {
    match &stored.suppression {
        Some(s) => (
            Some(s.rule.clone()),
            Some(suppression_reason_text(&s.reason)),
            Some(ts(s.at)),
        ),
        None => (None, None, None),
    }
}

impl ReadTx for PgTx<'_> {
    fn alert(&self, id: &AlertId) -> Result<Option<AlertRecord>, StoreError> {
        {
            let p = self.pending.borrow();
            if let Some((seq, stored)) = p.index.get(id.as_str()).and_then(|&i| p.alerts.get(i)) {
                return Ok(Some(AlertRecord::new(stored.clone(), u64_of(*seq))));
            }
        }
        if let Some(known) = self.known.borrow().get(id.as_str()) {
            return Ok(known.clone());
        }
        // Pending rows are new alerts, which the table cannot hold yet: no need to send them.
        let row = self.query_opt_now(
            &format!("SELECT tseq, {ALERT_COLUMNS} FROM alerts WHERE tenant = $1 AND id = $2"),
            &[&self.t(), &id.as_str()],
        )?;
        row.map(|r| self.record(&r, 0)).transpose()
    }

    fn prefetch(&self, ids: &[&AlertId]) -> Result<(), StoreError> {
        let wanted: Vec<&str> = {
            let known = self.known.borrow();
            let p = self.pending.borrow();
            ids.iter()
                .map(|id| id.as_str())
                // Text with NUL cannot be sent; its lookup reports that on its own.
                .filter(|id| !id.contains('\0'))
                .filter(|id| !known.contains_key(*id) && !p.index.contains_key(*id))
                .collect()
        };
        if wanted.is_empty() {
            return Ok(());
        }
        // One lookup of the unique (tenant, id) index per identity. On a table whose
        // statistics lag behind a fast ingest, the planner takes a tenant of 100,000 alerts
        // for a few hundred rows, and turns `id = ANY($2)` or a plain join into a scan of the
        // whole tenant (seconds per batch at a few hundred thousand alerts). A lateral
        // subquery with a LIMIT is not flattened into a join: it runs once per identity, and
        // its only sensible plan is the index. (LIMIT 1 changes nothing: (tenant, id) is unique.)
        let rows = self.query(
            &format!(
                "SELECT a.* FROM unnest($2::text[]) AS w (id)
                 CROSS JOIN LATERAL (
                    SELECT tseq, {ALERT_COLUMNS} FROM alerts WHERE tenant = $1 AND id = w.id
                    LIMIT 1
                 ) AS a"
            ),
            &[&self.t(), &wanted],
        )?;
        let mut known = self.known.borrow_mut();
        for id in wanted {
            known.insert(id.to_owned(), None);
        }
        for row in &rows {
            let record = self.record(row, 0)?;
            known.insert(record.stored.alert.id().as_str().to_owned(), Some(record));
        }
        Ok(())
    }

    fn ids_with_system_id(&self, id: &AlertId, limit: usize) -> Result<Vec<AlertId>, StoreError> {
        let rows = self.query(
            "SELECT id FROM alerts WHERE tenant = $1 AND sys_id = $2
             ORDER BY id COLLATE \"C\" LIMIT $3",
            &[&self.t(), &id.as_str(), &i64_of(limit as u64)],
        )?;
        rows.iter()
            .map(|r| {
                let i: String = get(r, 0)?;
                AlertId::new(i.clone())
                    .map_err(|e| corrupt_alert(self.t(), &i, format!("bad id: {e}")))
            })
            .collect()
    }

    fn page(
        &self,
        q: &AlertQuery,
        after: Option<SortKey>,
        limit: usize,
    ) -> Result<Vec<(SortKey, StoredAlert)>, StoreError> {
        query::page(self, q, after, limit)
    }

    fn counts(&self, q: &AlertQuery) -> Result<Counts, StoreError> {
        query::counts(self, q)
    }

    fn scan(
        &self,
        q: &AlertQuery,
        f: &mut dyn FnMut(AlertRecord) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        query::scan(self, q, None, 256, &mut |_, r| f(r))
    }

    fn related_candidates(
        &self,
        me: &AlertRecord,
        limit: usize,
    ) -> Result<Vec<StoredAlert>, StoreError> {
        query::related_candidates(self, &me.stored.alert, limit)
    }

    fn history(&self, id: &AlertId) -> Result<Vec<AuditEntry>, StoreError> {
        if !self.exists(id)? {
            return Err(StoreError::alert_not_found(id));
        }
        let rows = self.query(
            "SELECT au.at, au.actor, au.from_status, au.to_status, au.comment, au.version
             FROM audit au JOIN alerts a ON a.tenant = au.tenant AND a.tseq = au.tseq
             WHERE au.tenant = $1 AND a.id = $2 ORDER BY au.n",
            &[&self.t(), &id.as_str()],
        )?;
        rows.iter()
            .map(|r| {
                let what = || format!("audit entry of alert {:?}", id.as_str());
                let status = |s: String| {
                    parse_status(&s).ok_or_else(|| {
                        corrupt_row(self.t(), what(), format!("unknown status {s:?}"))
                    })
                };
                let at: String = get(r, 0)?;
                Ok(AuditEntry::new(
                    parse_ts(&at).ok_or_else(|| {
                        corrupt_row(self.t(), what(), format!("invalid time {at:?}"))
                    })?,
                    get::<String>(r, 1)?,
                    status(get(r, 2)?)?,
                    status(get(r, 3)?)?,
                    get(r, 4)?,
                    u64_of(get(r, 5)?),
                ))
            })
            .collect()
    }

    fn feedback(
        &self,
        alert: Option<&AlertId>,
        useful: Option<bool>,
    ) -> Result<Vec<(AlertId, Feedback)>, StoreError> {
        let rows = self.query(
            "SELECT alert_id, useful, reason, comment, actor, at FROM feedback
             WHERE tenant = $1 AND ($2::text IS NULL OR alert_id = $2)
               AND ($3::boolean IS NULL OR useful = $3)
             ORDER BY fseq",
            &[&self.t(), &alert.map(AlertId::as_str), &useful],
        )?;
        rows.iter()
            .map(|r| {
                let id: String = get(r, 0)?;
                let what = || format!("feedback on alert {id:?}");
                let reason: String = get(r, 2)?;
                let reason = parse_feedback_reason(&reason).ok_or_else(|| {
                    corrupt_row(self.t(), what(), format!("unknown reason {reason:?}"))
                })?;
                let at: String = get(r, 5)?;
                let alert = AlertId::new(id.clone())
                    .map_err(|e| corrupt_row(self.t(), what(), format!("bad alert id: {e}")))?;
                Ok((
                    alert,
                    Feedback {
                        useful: get(r, 1)?,
                        reason,
                        comment: get(r, 3)?,
                        actor: get(r, 4)?,
                        at: parse_ts(&at).ok_or_else(|| {
                            corrupt_row(self.t(), what(), format!("invalid time {at:?}"))
                        })?,
                    },
                ))
            })
            .collect()
    }

    fn rule(&self, name: &str) -> Result<Option<StoredRule>, StoreError> {
        rules::get_rule(self, name)
    }

    fn rules(&self) -> Result<Vec<StoredRule>, StoreError> {
        rules::list(self)
    }

    fn rules_generation(&self) -> Result<u64, StoreError> {
        let row = self.query_opt(
            "SELECT rules_generation FROM tenant_state WHERE tenant = $1",
            &[&self.t()],
        )?;
        Ok(match row {
            Some(r) => u64_of(get(&r, 0)?),
            None => 0,
        })
    }

    fn events_since(&self, after: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let rows = self.query(
            "SELECT seq, at, body FROM events WHERE tenant = $1 AND seq > $2
             ORDER BY seq LIMIT $3",
            &[&self.t(), &i64_of(after), &i64_of(limit as u64)],
        )?;
        rows.iter()
            .map(|r| {
                let seq = u64_of(get(r, 0)?);
                let at: String = get(r, 1)?;
                let body: String = get(r, 2)?;
                let at = parse_ts(&at).ok_or_else(|| {
                    corrupt_row(
                        self.t(),
                        format!("event {seq}"),
                        format!("invalid time {at:?}"),
                    )
                })?;
                Ok(Event::new(seq, at, Event::kind_from_json(seq, &body)?))
            })
            .collect()
    }

    fn checkpoint(&self, consumer: &str) -> Result<Option<u64>, StoreError> {
        let row = self.query_opt(
            "SELECT seq FROM checkpoints WHERE tenant = $1 AND name = $2",
            &[&self.t(), &consumer],
        )?;
        row.map(|r| get::<i64>(&r, 0).map(u64_of)).transpose()
    }

    fn automation(&self, name: &str) -> Result<Option<StoredAutomation>, StoreError> {
        automations::get_one(self, name)
    }

    fn automations(&self) -> Result<Vec<StoredAutomation>, StoreError> {
        automations::list(self)
    }

    fn delivery(&self, id: u64) -> Result<Option<Delivery>, StoreError> {
        automations::delivery(self, id)
    }

    fn deliveries(
        &self,
        state: Option<DeliveryState>,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        automations::deliveries(self, state, after, limit)
    }

    fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        automations::lease(self, name)
    }
}

impl WriteTx for PgTx<'_> {
    fn insert_alert(&mut self, stored: &StoredAlert) -> Result<u64, StoreError> {
        self.known.borrow_mut().remove(stored.alert.id().as_str());
        let tseq = self.last_alert.get() + 1;
        let full = {
            let mut p = self.pending.borrow_mut();
            let at = p.alerts.len();
            p.index.insert(stored.alert.id().as_str().to_owned(), at);
            p.alerts.push((tseq, stored.clone()));
            p.alerts.len() >= PENDING_MAX
        };
        if full {
            self.flush()?;
        }
        self.last_alert.set(tseq);
        self.moved.set(true);
        Ok(u64_of(tseq))
    }

    fn update_alert(
        &mut self,
        stored: &StoredAlert,
        expected_version: u64,
        change: Change,
    ) -> Result<bool, StoreError> {
        let alert = &stored.alert;
        self.known.borrow_mut().remove(alert.id().as_str());
        let n = match change {
            Change::Status => {
                let (rule, reason, at) = suppression_columns(stored);
                self.execute(
                    "UPDATE alerts SET version = $1, status = $2, updated_at = $3, json = $4,
                        suppression_rule = $5, suppression_reason = $6, suppressed_at = $7
                     WHERE tenant = $8 AND id = $9 AND version = $10",
                    &[
                        &i64_of(stored.version),
                        &status_text(alert.status()),
                        &ts(stored.updated_at),
                        &alert_json(alert)?,
                        &rule,
                        &reason,
                        &at,
                        &self.t(),
                        &alert.id().as_str(),
                        &i64_of(expected_version),
                    ],
                )?
            }
            _ => {
                let d = derived(alert);
                self.execute(
                    "UPDATE alerts SET version = $1, status = $2, severity_rank = $3,
                        time_us = $4, priority = $5, alert_type_lc = $6, product_lc = $7,
                        display_lc = $8, correlation_key = $9, compromised_lc = $10,
                        resources_lc = $11, entities_lc = $12, updated_at = $13, json = $14,
                        sys_id = $15
                     WHERE tenant = $16 AND id = $17 AND version = $18",
                    &[
                        &i64_of(stored.version),
                        &status_text(alert.status()),
                        &d.severity_rank,
                        &d.time_us,
                        &d.priority,
                        &d.alert_type_lc,
                        &d.product_lc,
                        &d.display_lc,
                        &d.correlation_key,
                        &d.compromised_lc,
                        &d.resources,
                        &d.entities,
                        &ts(stored.updated_at),
                        &alert_json(alert)?,
                        &alert.system_alert_id().as_str(),
                        &self.t(),
                        &alert.id().as_str(),
                        &i64_of(expected_version),
                    ],
                )?
            }
        };
        Ok(n == 1)
    }

    fn append_audit(&mut self, id: &AlertId, e: &AuditEntry) -> Result<(), StoreError> {
        {
            // An alert written in this transaction and not yet sent has no stored entries:
            // its entries are numbered here and sent with it.
            let mut p = self.pending.borrow_mut();
            let tseq = p
                .index
                .get(id.as_str())
                .and_then(|&i| p.alerts.get(i))
                .map(|(seq, _)| *seq);
            if let Some(tseq) = tseq {
                let n = p.audits.iter().filter(|(s, _, _)| *s == tseq).count() as i64 + 1;
                p.audits.push((tseq, n, e.clone()));
                return Ok(());
            }
        }
        let n = self.execute(
            "INSERT INTO audit (tenant, tseq, n, at, actor, from_status, to_status, comment,
                version)
             SELECT a.tenant, a.tseq,
                    coalesce((SELECT max(n) FROM audit
                              WHERE tenant = a.tenant AND tseq = a.tseq), 0) + 1,
                    $3, $4, $5, $6, $7, $8
             FROM alerts a WHERE a.tenant = $1 AND a.id = $2",
            &[
                &self.t(),
                &id.as_str(),
                &ts(e.at),
                &e.actor,
                &status_text(e.from),
                &status_text(e.to),
                &e.comment,
                &i64_of(e.version),
            ],
        )?;
        if n == 0 {
            return Err(StoreError::alert_not_found(id));
        }
        Ok(())
    }

    fn add_feedback(&mut self, id: &AlertId, f: &Feedback) -> Result<(), StoreError> {
        if !self.exists(id)? {
            return Err(StoreError::alert_not_found(id));
        }
        self.execute(
            "INSERT INTO feedback (tenant, alert_id, useful, reason, comment, actor, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &self.t(),
                &id.as_str(),
                &f.useful,
                &feedback_reason_text(&f.reason),
                &f.comment,
                &f.actor,
                &ts(f.at),
            ],
        )?;
        Ok(())
    }

    fn insert_rule(&mut self, rule: &StoredRule) -> Result<(), StoreError> {
        rules::insert(self, rule)
    }

    fn update_rule(
        &mut self,
        rule: &StoredRule,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        rules::update(self, rule, expected_version)
    }

    fn delete_rule(&mut self, name: &str) -> Result<bool, StoreError> {
        rules::delete(self, name)
    }

    fn record_rule_hits(
        &mut self,
        name: &str,
        hits: u64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // Sent with the other pending rows (one statement for every rule hit of a batch).
        let mut p = self.pending.borrow_mut();
        let entry = p.hits.entry(name.to_owned()).or_insert((0, at));
        entry.0 = entry.0.saturating_add(i64_of(hits));
        entry.1 = at;
        Ok(())
    }

    fn append_event(&mut self, at: DateTime<Utc>, kind: &EventKind) -> Result<u64, StoreError> {
        let seq = self.last_event.get() + 1;
        let body = Event::kind_json(kind)?;
        let full = {
            let mut p = self.pending.borrow_mut();
            p.events.push((seq, ts(at), body));
            p.events.len() >= PENDING_MAX
        };
        if full {
            self.flush()?;
        }
        self.last_event.set(seq);
        self.moved.set(true);
        Ok(u64_of(seq))
    }

    fn set_checkpoint(&mut self, consumer: &str, seq: u64) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO checkpoints (tenant, name, seq) VALUES ($1, $2, $3)
             ON CONFLICT (tenant, name) DO UPDATE SET seq = excluded.seq",
            &[&self.t(), &consumer, &i64_of(seq)],
        )?;
        Ok(())
    }

    fn insert_automation(&mut self, automation: &StoredAutomation) -> Result<(), StoreError> {
        automations::insert(self, automation)
    }

    fn update_automation(
        &mut self,
        automation: &StoredAutomation,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        automations::update(self, automation, expected_version)
    }

    fn delete_automation(&mut self, name: &str) -> Result<bool, StoreError> {
        automations::delete(self, name)
    }

    fn insert_delivery(&mut self, delivery: &Delivery) -> Result<u64, StoreError> {
        automations::insert_delivery(self, delivery)
    }

    fn update_delivery(&mut self, delivery: &Delivery) -> Result<bool, StoreError> {
        automations::update_delivery(self, delivery)
    }

    fn set_lease(&mut self, lease: &Lease) -> Result<(), StoreError> {
        automations::set_lease(self, lease)
    }

    fn delete_lease(&mut self, name: &str) -> Result<bool, StoreError> {
        automations::delete_lease(self, name)
    }

    fn delete_delivery(&mut self, id: u64) -> Result<bool, StoreError> {
        automations::delete_delivery(self, id)
    }
}

/// The status column's values, for `status = ANY($n)`.
pub(crate) fn status_texts(statuses: &[Status]) -> Vec<String> {
    statuses
        .iter()
        .map(|s| status_text(*s).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::array_literal;

    #[test]
    fn lists_become_quoted_array_literals() {
        assert_eq!(array_literal(&[]), "{}");
        let values = ["a".to_owned(), "NULL".to_owned(), r#"b"c\d,{e}"#.to_owned()];
        assert_eq!(array_literal(&values), r#"{"a","NULL","b\"c\\d,{e}"}"#);
    }
}
