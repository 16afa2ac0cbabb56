//! [`crate::SqliteBackend::check`]: SQLite's own checks of the file, then every stored row
//! decoded as the store's reads would decode it.

use std::collections::BTreeMap;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, Row};
use vigil_core::AlertId;
use vigil_core::store::{StoreError, TenantId};
use vigil_core::suppression::RuleSet;

use crate::SqliteError;
use crate::codec::{
    ALERT_COLUMNS, decode, parse_feedback_reason, parse_list, parse_status, parse_ts,
    read_alert_row,
};
use crate::error::Db;
use crate::rules::{RULE_COLUMNS, RuleRow};

/// What [`crate::SqliteBackend::check`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckReport {
    /// What SQLite's `PRAGMA integrity_check` and `PRAGMA foreign_key_check` report about the
    /// file's structure (b-trees, pages, indexes that disagree with their table, rows that refer
    /// to missing rows), and tables whose reading stopped at damage; empty when sound.
    pub integrity: Vec<String>,
    /// How many rows of each table were read.
    pub rows: BTreeMap<String, u64>,
    /// The stored rows that cannot be read back, one entry per row.
    pub damaged: Vec<DamagedRow>,
}

impl CheckReport {
    /// Whether nothing is damaged.
    pub fn is_clean(&self) -> bool {
        self.integrity.is_empty() && self.damaged.is_empty()
    }
}

/// A stored row that cannot be read back.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DamagedRow {
    /// The table: `alerts`, `rules`, `audit`, `feedback`, `alert_keys`, `tenant_state`.
    pub table: String,
    /// The tenant the row belongs to, when that can still be read.
    pub tenant: Option<String>,
    /// The alert's id (for alerts and the audit entries, feedback and entity values of an
    /// alert) or the rule's name, when that can still be read.
    pub id: Option<String>,
    /// What is wrong with it.
    pub problem: String,
}

/// Runs the check inside the caller's read transaction.
pub(crate) fn run(conn: &Connection) -> Result<CheckReport, StoreError> {
    let mut report = CheckReport::default();
    integrity(conn, &mut report);
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .db()?
        .query_map([], |r| r.get(0))
        .db()?
        .collect::<Result<_, _>>()
        .db()?;
    for table in &tables {
        walk(conn, table, &mut report)?;
    }
    Ok(report)
}

fn integrity(conn: &Connection, report: &mut CheckReport) {
    // On a damaged page SQLite returns what it found, then fails: keep both.
    let before = report.integrity.len();
    pragma_lines(
        conn,
        "PRAGMA integrity_check",
        "the integrity check",
        report,
        |r| {
            let line: String = r.get(0)?;
            Ok((line != "ok").then_some(line))
        },
    );
    // A row may hold several problems, one a line, under a "*** in database main ***" header.
    let found: Vec<String> = report.integrity.drain(before..).collect();
    report.integrity.extend(
        found
            .iter()
            .flat_map(|l| l.lines())
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("*** in database"))
            .map(str::to_owned),
    );
    pragma_lines(
        conn,
        "PRAGMA foreign_key_check",
        "the foreign key check",
        report,
        |r| {
            Ok(Some(format!(
                "table {} row {}: refers to a missing row of table {}",
                r.get::<_, String>(0)?,
                r.get::<_, Option<i64>>(1)?
                    .map_or_else(|| "?".to_owned(), |n| n.to_string()),
                r.get::<_, String>(2)?,
            )))
        },
    );
}

/// The problems a checking pragma reports, one per row, and the failure that stopped it.
fn pragma_lines(
    conn: &Connection,
    sql: &str,
    what: &str,
    report: &mut CheckReport,
    line: impl Fn(&Row<'_>) -> rusqlite::Result<Option<String>>,
) {
    let mut stmt = match conn.prepare(sql) {
        Ok(stmt) => stmt,
        Err(e) => {
            report.integrity.push(format!("{what} could not run: {e}"));
            return;
        }
    };
    let mut rows = match stmt.query([]) {
        Ok(rows) => rows,
        Err(e) => {
            report.integrity.push(format!("{what} could not run: {e}"));
            return;
        }
    };
    loop {
        match rows.next() {
            Ok(Some(row)) => match line(row) {
                Ok(Some(l)) => report.integrity.push(l),
                Ok(None) => {}
                Err(e) => report.integrity.push(format!("{what}: {e}")),
            },
            Ok(None) => return,
            Err(e) => {
                report.integrity.push(format!("{what} stopped: {e}"));
                return;
            }
        }
    }
}

/// How a table's rows are named: SQL for the tenant and the id, over the table aliased `t`.
fn naming(table: &str) -> (&'static str, &'static str) {
    const ALERT_TENANT: &str = "(SELECT a.tenant FROM alerts a WHERE a.seq = t.seq)";
    const ALERT_ID: &str = "(SELECT a.id FROM alerts a WHERE a.seq = t.seq)";
    match table {
        "alerts" => ("t.tenant", "t.id"),
        "rules" => ("t.tenant", "t.name"),
        "audit" | "alert_keys" => (ALERT_TENANT, ALERT_ID),
        "feedback" => (
            "t.tenant",
            "(SELECT a.id FROM alerts a WHERE a.seq = t.alert_seq)",
        ),
        "tenant_state" => ("t.tenant", "NULL"),
        _ => ("NULL", "NULL"),
    }
}

/// The columns a table's decode reads (before `t.*`), and the decode.
type Decode = fn(&Row<'_>, &str) -> Result<(), String>;

fn decoder(table: &str) -> Option<(String, Decode)> {
    match table {
        "alerts" => Some((
            format!("{ALERT_COLUMNS}, resources_lc, entities_lc"),
            decode_alert,
        )),
        "rules" => Some((RULE_COLUMNS.to_owned(), decode_rule)),
        "audit" => Some((
            "at, from_status, to_status, version".to_owned(),
            decode_audit,
        )),
        "feedback" => Some(("reason, at".to_owned(), decode_feedback)),
        _ => None,
    }
}

/// A cell as text whatever it holds, for naming a row.
fn lossy(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Text(b) | ValueRef::Blob(b) => Some(String::from_utf8_lossy(b).into_owned()),
    }
}

/// A declared column: name, whether it holds integers (else text, else anything), not null.
struct Column {
    name: String,
    ty: String,
    not_null: bool,
}

fn columns(conn: &Connection, table: &str) -> Result<Vec<Column>, StoreError> {
    let mut stmt = conn
        .prepare("SELECT name, upper(type), \"notnull\" FROM pragma_table_info(?1) ORDER BY cid")
        .db()?;
    stmt.query_map([table], |r| {
        Ok(Column {
            name: r.get(0)?,
            ty: r.get(1)?,
            not_null: r.get(2)?,
        })
    })
    .db()?
    .collect::<Result<_, _>>()
    .db()
}

/// A cell against its column's declared type.
fn cell_problem(column: &Column, v: ValueRef<'_>) -> Option<String> {
    let name = &column.name;
    match v {
        ValueRef::Null if column.not_null => Some(format!("column {name} is NULL")),
        ValueRef::Null => None,
        ValueRef::Integer(_) if column.ty.contains("INT") => None,
        ValueRef::Text(b) if column.ty.contains("TEXT") => std::str::from_utf8(b)
            .err()
            .map(|e| format!("column {name} is not valid UTF-8 text ({e})")),
        _ if column.ty.contains("INT") || column.ty.contains("TEXT") => Some(format!(
            "column {name} holds {} where its type is {}",
            v.data_type(),
            column.ty
        )),
        _ => None,
    }
}

fn walk(conn: &Connection, table: &str, report: &mut CheckReport) -> Result<(), StoreError> {
    let declared = columns(conn, table)?;
    let quoted = format!("\"{}\"", table.replace('"', "\"\""));
    let decode = decoder(table);
    let (tenant_sql, id_sql) = naming(table);
    let extra = decode
        .as_ref()
        .map(|(cols, _)| format!("{cols}, "))
        .unwrap_or_default();
    // The named, decoded form; else (a schema other than this version's) the bare rows.
    let mut stmt = match conn.prepare(&format!(
        "SELECT {tenant_sql}, {id_sql}, {extra}t.* FROM {quoted} AS t"
    )) {
        Ok(stmt) => stmt,
        Err(e) if decode.is_some() => {
            report.integrity.push(format!(
                "table {table} does not have the columns it should: {e}"
            ));
            return Ok(());
        }
        Err(_) => conn
            .prepare(&format!("SELECT NULL, NULL, t.* FROM {quoted} AS t"))
            .db()?,
    };
    let all = stmt.column_count();
    let first = all.saturating_sub(declared.len());
    let mut rows = stmt.query([]).db()?;
    let mut n = 0u64;
    loop {
        let row = match rows.next() {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(e) => {
                report.integrity.push(format!(
                    "table {table}: reading stopped after {n} rows: {e}"
                ));
                break;
            }
        };
        n += 1;
        let cell = |i: usize| row.get_ref(i).ok().and_then(lossy);
        let (tenant, id) = (cell(0), cell(1));
        let mut problems: Vec<String> = declared
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                row.get_ref(first + i)
                    .map_or_else(|e| Some(e.to_string()), |v| cell_problem(c, v))
            })
            .collect();
        if problems.is_empty()
            && let Some((_, decode)) = &decode
            && let Err(p) = decode(row, tenant.as_deref().unwrap_or_default())
        {
            problems.push(p);
        }
        if !problems.is_empty() {
            report.damaged.push(DamagedRow {
                table: table.to_owned(),
                tenant,
                id,
                problem: problems.join("; "),
            });
        }
    }
    report.rows.insert(table.to_owned(), n);
    Ok(())
}

/// The decodes read their columns from index 2 on (after the tenant and the id).
const AT: usize = 2;

/// What is wrong, without the naming the report already gives.
fn message(e: StoreError) -> String {
    use std::error::Error;
    match e.source().and_then(|s| s.downcast_ref::<SqliteError>()) {
        Some(
            SqliteError::CorruptAlert { problem, .. }
            | SqliteError::CorruptRule { problem, .. }
            | SqliteError::CorruptRow { problem, .. },
        ) => problem.clone(),
        _ => e.message().to_owned(),
    }
}

fn decode_alert(row: &Row<'_>, tenant: &str) -> Result<(), String> {
    let stored = read_alert_row(row, AT).map_err(|e| e.to_string())?;
    let id = stored.id.clone();
    decode(stored, tenant).map_err(message)?;
    let columns = ALERT_COLUMNS.split(',').count();
    for i in [AT + columns, AT + columns + 1] {
        let text: String = row.get(i).map_err(|e| e.to_string())?;
        parse_list(tenant, &id, &text).map_err(message)?;
    }
    Ok(())
}

fn decode_rule(row: &Row<'_>, tenant: &str) -> Result<(), String> {
    let tenant = TenantId::new(tenant).map_err(|e| format!("invalid tenant: {e}"))?;
    let stored = RuleRow::read_at(row, AT).map_err(|e| e.to_string())?;
    let stored = stored.decode(&tenant).map_err(message)?;
    RuleSet::compile([stored.rule])
        .map(|_| ())
        .map_err(|e| format!("the rule no longer compiles: {e}"))
}

fn decode_audit(row: &Row<'_>, _tenant: &str) -> Result<(), String> {
    let text = |i: usize| row.get::<_, String>(AT + i).map_err(|e| e.to_string());
    let at = text(0)?;
    parse_ts(&at).ok_or_else(|| format!("invalid time {at:?}"))?;
    for s in [text(1)?, text(2)?] {
        parse_status(&s).ok_or_else(|| format!("unknown status {s:?}"))?;
    }
    let version: i64 = row.get(AT + 3).map_err(|e| e.to_string())?;
    if version < 1 {
        return Err(format!("invalid version {version}"));
    }
    Ok(())
}

fn decode_feedback(row: &Row<'_>, _tenant: &str) -> Result<(), String> {
    let text = |i: usize| row.get::<_, String>(AT + i).map_err(|e| e.to_string());
    let reason = text(0)?;
    parse_feedback_reason(&reason).ok_or_else(|| format!("unknown reason {reason:?}"))?;
    let at = text(1)?;
    parse_ts(&at).ok_or_else(|| format!("invalid time {at:?}"))?;
    let id: Option<String> = row.get(1).map_err(|e| e.to_string())?;
    let id = id.ok_or("its alert is missing")?;
    AlertId::new(id).map_err(|e| format!("bad alert id: {e}"))?;
    Ok(())
}
