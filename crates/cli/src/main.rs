//! `vigil`: the command-line tool for security-alert triage.
//!
//! A thin shell over `vigil-core` and `vigil-sqlite`: it parses arguments, calls the library and
//! prints. See `vigil --help`.

mod formats;

use std::error::Error;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};
use vigil_core::attack::Catalog;
use vigil_core::store::{
    AlertQuery, ErrorKind, Feedback, FeedbackQuery, FeedbackReason, Order, ResourceFilter,
    StatusChange, Store, StoreError, StoredAlert, TenantId, disable_rule,
};
use vigil_core::suppression::{RuleSet, SuppressionReason, SuppressionRule, similar_rule};
use vigil_core::{Alert, AlertId, KillChainIntent, Severity, Status, defender};
use vigil_sqlite::SqliteStore;

const SAMPLES: &str = include_str!("../../../fixtures/alerts/sample-alerts.json");
/// The demo data set: generated alerts over several subscriptions (`examples/make-demo.rs`).
const DEMO_ALERTS: &str = include_str!("../../../fixtures/demo/alerts.jsonl");
/// Hand-written suppression rules over the demo alerts.
const DEMO_RULES: &str = include_str!("../../../fixtures/demo/rules.json");
/// How many alerts of the queue `demo` prints.
const DEMO_QUEUE: usize = 20;

type Res<T> = Result<T, Box<dyn Error>>;

/// Security-alert triage on a local SQLite database (Defender for Cloud alert model).
#[derive(Parser, Debug)]
#[command(name = "vigil", version, about)]
struct Cli {
    /// The database file (default: $VIGIL_DB, else vigil.db in the current directory); created
    /// on first use.
    #[arg(long, global = true, value_name = "PATH")]
    db: Option<PathBuf>,
    /// The tenant (Defender subscription) to work in.
    #[arg(long, global = true, default_value = "default")]
    tenant: String,
    /// Machine-readable JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
    /// No colour (also when NO_COLOR is set or stdout is not a terminal).
    #[arg(long, global = true)]
    no_color: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Import alerts: Defender alert JSON (a resource, {"value": [...]}, an array, or JSON
    /// lines), OCSF or ASFF findings, or Graph alerts, detected per file; `-` reads stdin. Each
    /// file is imported atomically.
    Import {
        /// Files to import (`-` for stdin).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
        /// The files' format.
        #[arg(long, value_enum, default_value_t = formats::ImportFormat::Auto)]
        format: formats::ImportFormat,
    },
    /// The triage queue (Dismissed hidden unless asked for).
    List {
        #[command(flatten)]
        filters: Filters,
        /// How many alerts to show.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// The order.
        #[arg(long, value_enum, default_value_t = SortArg::Severity)]
        sort: SortArg,
        /// Start after this position: the cursor a previous page printed (same filters and order).
        #[arg(long, value_name = "CURSOR")]
        cursor: Option<String>,
    },
    /// One alert in full: ID is the system alert id or the alert's name.
    Show {
        /// System alert id or name.
        id: String,
    },
    /// Changes an alert's status through the lifecycle; with `--all STATUS`, of every alert
    /// that list's filters select (every status unless `--status` is given).
    #[command(override_usage = "vigil status [OPTIONS] <ID> <STATUS>\n       \
                                vigil status [OPTIONS] --all <STATUS> [FILTERS]")]
    Status {
        /// System alert id or name (omitted with `--all`).
        #[arg(required_unless_present = "all", conflicts_with_all = ["all", "Filters"])]
        id: Option<String>,
        /// The new status (omitted with `--all`, which takes it).
        #[arg(
            id = "new_status",
            value_name = "STATUS",
            value_enum,
            required_unless_present = "all",
            conflicts_with = "all"
        )]
        to: Option<StatusArg>,
        /// Changes every alert the filters select to STATUS (bulk form; exits 0 even when some
        /// alerts cannot change, and reports them).
        #[arg(long, value_enum, value_name = "STATUS")]
        all: Option<StatusArg>,
        #[command(flatten, next_help_heading = "Filters (with --all)")]
        filters: Filters,
        /// A comment for the audit trail.
        #[arg(long)]
        comment: Option<String>,
        /// Who makes the change (default: $USER, else `cli`).
        #[arg(long)]
        actor: Option<String>,
    },
    /// Records feedback on an alert.
    Feedback {
        /// System alert id or name.
        id: String,
        /// The verdict.
        #[arg(value_enum)]
        verdict: Verdict,
        /// Why (TruePositive, HelpfulContext, FalsePositive, BenignPositive, NotActionable,
        /// Duplicate, TooNoisy, MissingDetails, or free text).
        #[arg(long)]
        reason: String,
        /// A comment.
        #[arg(long)]
        comment: Option<String>,
        /// Who gives the feedback (default: $USER, else `cli`).
        #[arg(long)]
        actor: Option<String>,
    },
    /// Suppression rules.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Creates a rule suppressing alerts similar to one alert (same type, same values at the
    /// given field paths).
    Suppress {
        /// System alert id or name.
        id: String,
        /// A field path whose values the rule requires (repeatable), e.g. entities.ip.address.
        #[arg(long = "field", required = true, value_name = "PATH")]
        fields: Vec<String>,
        /// The rule's name (default: `similar-<alert id>`).
        #[arg(long)]
        name: Option<String>,
        /// The suppression reason (FalsePositive, Noise, NotRelevant,
        /// SpecificEntityFalsePositive, Unclear, AlertSeverityTooHigh, or other text).
        #[arg(long, default_value = "SpecificEntityFalsePositive")]
        reason: String,
        /// Also dismiss the open alerts already stored that the rule matches.
        #[arg(long)]
        apply_existing: bool,
        /// Who applies the rule to existing alerts (default: $USER, else `cli`).
        #[arg(long)]
        actor: Option<String>,
    },
    /// Exports alerts of every status (with list's filters) as Defender JSON lines, or in an
    /// exchange format for a SIEM or another tool.
    Export {
        /// The output format.
        #[arg(long, value_enum, default_value_t = formats::ExportFormat::Jsonl)]
        format: formats::ExportFormat,
        #[command(flatten)]
        filters: Filters,
        #[command(flatten, next_help_heading = "Format options")]
        options: formats::ExportOptions,
    },
    /// Loads the demo data set (suppression rules first, then about 300 generated alerts and
    /// the Defender samples) and prints the triage queue and what was suppressed; can be re-run.
    Demo,
}

#[derive(Subcommand, Debug)]
enum RulesCommand {
    /// Creates the rules of a Defender suppression-rule JSON file (all checked first).
    Add {
        /// The rule file.
        file: String,
    },
    /// Every rule, with its state, expiry and hits, and lint warnings.
    List,
    /// One rule.
    Show {
        /// The rule's name.
        name: String,
    },
    /// Disables a rule.
    Disable {
        /// The rule's name.
        name: String,
    },
    /// Deletes a rule (alerts it dismissed stay dismissed).
    Delete {
        /// The rule's name.
        name: String,
    },
    /// How many stored alerts the rules of a file would match; changes nothing.
    Simulate {
        /// The rule file.
        file: String,
    },
    /// Why a stored rule does or does not match an alert.
    Explain {
        /// The rule's name.
        name: String,
        /// System alert id or name.
        id: String,
    },
}

#[derive(Args, Debug, Default)]
struct Filters {
    /// Only these statuses (repeatable).
    #[arg(long, value_enum)]
    status: Vec<StatusArg>,
    /// A severity (`high`) or a least severity (`medium+`); repeatable.
    #[arg(long)]
    severity: Vec<String>,
    /// Only this alert type (repeatable).
    #[arg(long = "type", value_name = "TYPE")]
    alert_type: Vec<String>,
    /// Only resources under this ARM id prefix.
    #[arg(long)]
    resource: Option<String>,
    /// Only this kill-chain intent (repeatable).
    #[arg(long)]
    intent: Vec<String>,
    /// Only alerts with an entity carrying this value (IP, host, account, …).
    #[arg(long)]
    entity: Option<String>,
    /// Only alerts generated at or after this time (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    since: Option<DateTime<Utc>>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum StatusArg {
    Active,
    InProgress,
    Resolved,
    Dismissed,
}

impl StatusArg {
    fn status(self) -> Status {
        match self {
            StatusArg::Active => Status::Active,
            StatusArg::InProgress => Status::InProgress,
            StatusArg::Resolved => Status::Resolved,
            StatusArg::Dismissed => Status::Dismissed,
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum SortArg {
    Priority,
    Time,
    Severity,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Verdict {
    Useful,
    NotUseful,
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e} (expected RFC 3339, e.g. 2026-11-20T00:00:00Z)"))
}

/// Where output goes, and how it looks.
struct Ctx {
    store: SqliteStore,
    tenant: TenantId,
    json: bool,
    color: bool,
    out: BufWriter<io::StdoutLock<'static>>,
}

macro_rules! out {
    ($ctx:expr) => { writeln!($ctx.out)? };
    ($ctx:expr, $($arg:tt)*) => { writeln!($ctx.out, $($arg)*)? };
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(io) = e.downcast_ref::<io::Error>()
                && io.kind() == io::ErrorKind::BrokenPipe
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Res<()> {
    let db = cli
        .db
        .or_else(|| std::env::var_os("VIGIL_DB").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("vigil.db"));
    let store = SqliteStore::open(&db)?;
    let tenant = TenantId::new(cli.tenant.as_str())
        .map_err(|e| format!("--tenant {:?}: {e}", cli.tenant))?;
    let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let color = !cli.no_color && !no_color_env && io::stdout().is_terminal();
    let mut ctx = Ctx {
        store,
        tenant,
        json: cli.json,
        color,
        out: BufWriter::new(io::stdout().lock()),
    };
    match cli.command {
        Command::Import { files, format } => import(&mut ctx, &files, format)?,
        Command::List {
            filters,
            limit,
            sort,
            cursor,
        } => list(&mut ctx, &filters, limit, sort, cursor.as_deref())?,
        Command::Show { id } => show(&mut ctx, &id)?,
        Command::Status {
            id,
            to,
            all,
            filters,
            comment,
            actor,
        } => match (id, to, all) {
            (_, _, Some(to)) => bulk_status(&mut ctx, &filters, to.status(), comment, actor)?,
            (Some(id), Some(to), None) => set_status(&mut ctx, &id, to.status(), comment, actor)?,
            _ => return Err("pass an alert id and a status, or --all STATUS".into()),
        },
        Command::Feedback {
            id,
            verdict,
            reason,
            comment,
            actor,
        } => feedback(&mut ctx, &id, verdict, &reason, comment, actor)?,
        Command::Rules(cmd) => rules(&mut ctx, cmd)?,
        Command::Suppress {
            id,
            fields,
            name,
            reason,
            apply_existing,
            actor,
        } => suppress(&mut ctx, &id, &fields, name, &reason, apply_existing, actor)?,
        Command::Export {
            format,
            filters,
            options,
        } => export(&mut ctx, format, &filters, &options)?,
        Command::Demo => demo(&mut ctx)?,
    }
    ctx.out.flush()?;
    Ok(())
}

fn actor_or_default(actor: Option<String>) -> String {
    actor
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.trim().is_empty()))
        .unwrap_or_else(|| "cli".to_owned())
}

fn print_json(ctx: &mut Ctx, value: &Value) -> Res<()> {
    serde_json::to_writer_pretty(&mut ctx.out, value)?;
    out!(ctx);
    Ok(())
}

// ---------------------------------------------------------------- import

/// A progress bar on stderr when it is a terminal and JSON is off; hidden otherwise.
fn progress_bar(ctx: &Ctx, name: &str) -> ProgressBar {
    if ctx.json || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    let style =
        ProgressStyle::with_template("{prefix} [{bar:30}] {bytes}/{total_bytes} {msg} ({elapsed})")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    pb.set_style(style);
    pb.set_prefix(name.to_owned());
    pb.set_message("parsing");
    pb
}

/// Switches a progress bar to a spinner while the store works.
fn spin(pb: &ProgressBar, message: String) {
    if pb.is_hidden() {
        return;
    }
    let style = ProgressStyle::with_template("{prefix} {spinner} {msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    pb.set_style(style);
    pb.set_message(message);
    pb.enable_steady_tick(std::time::Duration::from_millis(100));
}

/// Reads a file (`-` is stdin) and parses it: one JSON document, else JSON lines.
fn read_alerts(file: &str, pb: &ProgressBar, format: formats::ImportFormat) -> Res<Vec<Alert>> {
    let text = if file == "-" {
        let mut s = String::new();
        io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
        s
    } else {
        std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?
    };
    let name = if file == "-" { "<stdin>" } else { file };
    pb.set_length(text.len() as u64);
    formats::parse_import(&text, format, |t| parse_document(t, pb))
        .map_err(|e| format!("{name}: {e} (nothing was imported from it)").into())
}

fn parse_document(text: &str, pb: &ProgressBar) -> Result<Vec<Alert>, String> {
    let whole = serde_json::from_str::<Value>(text);
    let whole_err = match whole {
        Ok(v) => return defender::alerts_from_value(v).map_err(|e| e.to_string()),
        Err(e) => e,
    };
    // JSON lines, if the first non-blank line is a JSON document on its own.
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let first_is_json = lines
        .next()
        .is_some_and(|(_, l)| serde_json::from_str::<Value>(l).is_ok());
    if !first_is_json {
        return Err(format!("invalid JSON: {whole_err}"));
    }
    let mut alerts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        pb.inc(line.len() as u64 + 1);
        if line.trim().is_empty() {
            continue;
        }
        let v: Value =
            serde_json::from_str(line).map_err(|e| format!("line {}: invalid JSON: {e}", i + 1))?;
        alerts.extend(defender::alerts_from_value(v).map_err(|e| format!("line {}: {e}", i + 1))?);
    }
    Ok(alerts)
}

fn import(ctx: &mut Ctx, files: &[String], format: formats::ImportFormat) -> Res<()> {
    let now = Utc::now();
    let (mut new, mut updated, mut suppressed) = (0, 0, 0);
    let mut per_file = Vec::new();
    for file in files {
        let pb = progress_bar(ctx, file);
        let parsed = read_alerts(file, &pb, format);
        let alerts = match parsed {
            Ok(a) => a,
            Err(e) => {
                pb.finish_and_clear();
                return Err(e);
            }
        };
        // One ingest per file keeps the file atomic; the spinner shows it is working.
        spin(&pb, format!("storing {} alerts", alerts.len()));
        let result = ctx.store.ingest(&ctx.tenant, &alerts, now);
        pb.finish_and_clear();
        let report = result.map_err(|e| format!("{file}: {e}"))?;
        new += report.new;
        updated += report.updated;
        suppressed += report.suppressed;
        per_file.push(json!({
            "file": file, "new": report.new, "updated": report.updated,
            "suppressed": report.suppressed,
        }));
        if !ctx.json {
            out!(
                ctx,
                "{file}: {} new, {} updated, {} suppressed",
                report.new,
                report.updated,
                report.suppressed
            );
        }
    }
    if ctx.json {
        print_json(
            ctx,
            &json!({"new": new, "updated": updated, "suppressed": suppressed, "files": per_file}),
        )?;
    } else if files.len() > 1 {
        out!(
            ctx,
            "total: {new} new, {updated} updated, {suppressed} suppressed"
        );
    }
    Ok(())
}

// ---------------------------------------------------------------- list

fn build_query(f: &Filters) -> Res<AlertQuery> {
    let mut q = AlertQuery::default();
    if !f.status.is_empty() {
        q = q.statuses(f.status.iter().map(|s| s.status()));
    }
    let mut exact = Vec::new();
    for s in &f.severity {
        if let Some(min) = s.strip_suffix('+') {
            let sev: Severity = min.parse().map_err(|e| format!("--severity: {e}"))?;
            q = q.min_severity(sev);
        } else {
            exact.push(
                s.parse::<Severity>()
                    .map_err(|e| format!("--severity: {e}"))?,
            );
        }
    }
    if !exact.is_empty() {
        q = q.severities(exact);
    }
    if !f.alert_type.is_empty() {
        q = q.alert_types(f.alert_type.iter().cloned());
    }
    if let Some(r) = &f.resource {
        q = q.resource(ResourceFilter::Prefix(r.clone()));
    }
    if !f.intent.is_empty() {
        let intents = f
            .intent
            .iter()
            .map(|i| i.parse::<KillChainIntent>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("--intent: {e}"))?;
        q = q.intents(intents);
    }
    if let Some(e) = &f.entity {
        q = q.entity(e.as_str());
    }
    if let Some(t) = f.since {
        q = q.since(t);
    }
    Ok(q)
}

fn order_of(sort: SortArg) -> Order {
    match sort {
        SortArg::Priority => Order::Priority,
        SortArg::Time => Order::Time,
        SortArg::Severity => Order::SeverityThenTime,
    }
}

fn paint(ctx: &Ctx, sev: Severity, text: &str) -> String {
    let code = match sev {
        Severity::High => "31",
        Severity::Medium => "33",
        Severity::Low => "36",
        Severity::Informational => return text.to_owned(),
    };
    if ctx.color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn resource_label(a: &Alert) -> &str {
    a.compromised_entity()
        .filter(|c| !c.is_empty())
        .or_else(|| a.azure_resource_id().and_then(|r| r.rsplit('/').next()))
        .unwrap_or("-")
}

fn intents_text(a: &Alert) -> String {
    if a.intents().is_empty() {
        "-".to_owned()
    } else {
        a.intents()
            .iter()
            .map(|i| i.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn list(
    ctx: &mut Ctx,
    filters: &Filters,
    limit: usize,
    sort: SortArg,
    cursor: Option<&str>,
) -> Res<()> {
    let cursor = cursor
        .map(str::parse::<vigil_core::store::Cursor>)
        .transpose()?;
    let query = build_query(filters)?
        .order(order_of(sort))
        .limit(limit)
        .cursor(cursor);
    let page = ctx.store.query(&ctx.tenant, &query)?;
    if ctx.json {
        let arr = page
            .alerts
            .iter()
            .map(|s| serde_json::to_value(&s.alert))
            .collect::<Result<Vec<_>, _>>()?;
        print_json(ctx, &Value::Array(arr))?;
        // stdout holds the array alone; the next position goes to stderr.
        if let Some(next) = page.next {
            eprintln!("next page: --cursor {next}");
        }
        return Ok(());
    }
    print_table(ctx, &query, &page.alerts)?;
    if let Some(next) = page.next {
        out!(ctx, "next page: --cursor {next}");
    }
    Ok(())
}

fn print_table(ctx: &mut Ctx, query: &AlertQuery, alerts: &[StoredAlert]) -> Res<()> {
    let counts = ctx.store.counts(&ctx.tenant, query)?;
    let by_sev: Vec<String> = counts
        .by_severity
        .iter()
        .map(|(s, n)| paint(ctx, *s, &format!("{s} {n}")))
        .collect();
    out!(
        ctx,
        "{} alerts ({}); showing {}",
        counts.total(),
        by_sev.join(", "),
        alerts.len()
    );
    if alerts.is_empty() {
        return Ok(());
    }
    out!(
        ctx,
        "{:<13} {:<16} {:<36} {:<44} {:<16} {:<10} INTENT",
        "SEVERITY",
        "TIME (UTC)",
        "TYPE",
        "DISPLAY NAME",
        "RESOURCE",
        "STATUS"
    );
    for s in alerts {
        let a = &s.alert;
        let name = a.severity().as_str();
        let sev = format!(
            "{}{}",
            paint(ctx, a.severity(), name),
            " ".repeat(13usize.saturating_sub(name.len()))
        );
        out!(
            ctx,
            "{} {:<16} {:<36} {:<44} {:<16} {:<10} {}",
            sev,
            a.time_generated().format("%Y-%m-%d %H:%M"),
            truncate(a.alert_type(), 36),
            truncate(a.display_name(), 44),
            truncate(resource_label(a), 16),
            a.status().as_str(),
            intents_text(a)
        );
    }
    Ok(())
}

// ---------------------------------------------------------------- show

/// Every alert a query selects, all pages.
fn query_all(ctx: &Ctx, query: AlertQuery) -> Res<Vec<StoredAlert>> {
    let mut q = query.limit(500);
    let mut all = Vec::new();
    loop {
        let page = ctx.store.query(&ctx.tenant, &q)?;
        all.extend(page.alerts);
        match page.next {
            Some(c) => q = q.cursor(Some(c)),
            None => return Ok(all),
        }
    }
}

/// An alert by system alert id, else by name.
fn find_alert(ctx: &Ctx, id: &str) -> Res<StoredAlert> {
    if let Ok(aid) = AlertId::new(id)
        && let Some(s) = ctx.store.get(&ctx.tenant, &aid)?
    {
        return Ok(s);
    }
    let all = query_all(ctx, AlertQuery::default().all_statuses())?;
    all.into_iter()
        .find(|s| s.alert.name() == Some(id))
        .ok_or_else(|| {
            format!(
                "no alert {id:?} in tenant {:?} (pass a system alert id or name from `vigil list --status active --status dismissed ...`)",
                ctx.tenant.as_str()
            )
            .into()
        })
}

fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn show(ctx: &mut Ctx, id: &str) -> Res<()> {
    let stored = find_alert(ctx, id)?;
    let a = &stored.alert;
    if ctx.json {
        return print_json(ctx, &serde_json::to_value(a)?);
    }
    let sev = paint(ctx, a.severity(), a.severity().as_str());
    out!(ctx, "{}", a.display_name());
    out!(ctx, "  id:          {}", a.system_alert_id());
    if let Some(n) = a.name().filter(|n| *n != a.system_alert_id().as_str()) {
        out!(ctx, "  name:        {n}");
    }
    out!(ctx, "  type:        {}", a.alert_type());
    out!(ctx, "  severity:    {sev}");
    out!(ctx, "  status:      {}", a.status());
    out!(ctx, "  generated:   {}", fmt_time(a.time_generated()));
    let activity = match (a.start_time(), a.end_time()) {
        (Some(s), Some(e)) => format!("{} – {}", fmt_time(s), fmt_time(e)),
        (Some(s), None) => format!("{} –", fmt_time(s)),
        (None, Some(e)) => format!("– {}", fmt_time(e)),
        (None, None) => "-".to_owned(),
    };
    out!(ctx, "  activity:    {activity}");
    if let Some(p) = a.product_name() {
        out!(ctx, "  product:     {p}");
    }
    out!(ctx, "  resource:    {}", resource_label(a));
    if let Some(r) = a.azure_resource_id() {
        out!(ctx, "               {r}");
    }
    out!(ctx, "  version:     {}", stored.version);
    out!(ctx);
    out!(ctx, "Description");
    out!(ctx, "  {}", a.description().unwrap_or("-"));

    if !a.entities().is_empty() {
        out!(ctx);
        out!(ctx, "Entities");
        for e in a.entities() {
            out!(
                ctx,
                "  {:<16} {}",
                e.kind().type_name(),
                e.display_value().unwrap_or("-")
            );
        }
    }

    let catalog = Catalog::current();
    out!(ctx);
    out!(ctx, "MITRE ATT&CK");
    out!(ctx, "  intent:      {}", intents_text(a));
    let mut tactics = Vec::new();
    for t in a.intents().iter().flat_map(|i| i.nearest_tactics()) {
        if !tactics.contains(t) {
            tactics.push(*t);
        }
    }
    for t in tactics {
        let name = catalog.tactic(t).map(|t| t.name()).unwrap_or("(unknown)");
        out!(ctx, "  tactic:      {t} {name}");
    }
    for t in a.techniques().iter().chain(a.sub_techniques()) {
        let name = catalog
            .technique(*t)
            .map(|t| t.full_name())
            .unwrap_or_else(|| "(not in the catalog)".to_owned());
        out!(ctx, "  technique:   {t} {name}");
    }

    if !a.remediation_steps().is_empty() {
        out!(ctx);
        out!(ctx, "Remediation");
        for (i, step) in a.remediation_steps().iter().enumerate() {
            out!(ctx, "  {}. {step}", i + 1);
        }
    }

    let links: Vec<String> = a
        .extended_links()
        .iter()
        .filter_map(|l| {
            l.href()
                .map(|h| format!("{} {h}", l.label().unwrap_or("link")))
        })
        .chain(a.alert_uri().map(|u| format!("portal {u}")))
        .collect();
    if !links.is_empty() {
        out!(ctx);
        out!(ctx, "Links");
        for l in links {
            out!(ctx, "  {l}");
        }
    }

    if let Some(s) = &stored.suppression {
        out!(ctx);
        out!(ctx, "Suppression");
        out!(
            ctx,
            "  rule {:?} ({}) at {}",
            s.rule,
            s.reason,
            fmt_time(s.at)
        );
    }

    let history = ctx.store.history(&ctx.tenant, a.system_alert_id())?;
    if !history.is_empty() {
        out!(ctx);
        out!(ctx, "Audit trail");
        for h in history {
            out!(
                ctx,
                "  {}  {} → {}  by {}{}",
                fmt_time(h.at),
                h.from,
                h.to,
                h.actor,
                h.comment.map(|c| format!(": {c}")).unwrap_or_default()
            );
        }
    }

    let fq = FeedbackQuery {
        alert: Some(a.system_alert_id().clone()),
        useful: None,
    };
    let feedback = ctx.store.list_feedback(&ctx.tenant, &fq)?;
    if !feedback.is_empty() {
        out!(ctx);
        out!(ctx, "Feedback");
        for (_, f) in feedback {
            out!(
                ctx,
                "  {}  {} ({}) by {}{}",
                fmt_time(f.at),
                if f.useful { "useful" } else { "not useful" },
                f.reason,
                f.actor,
                f.comment.map(|c| format!(": {c}")).unwrap_or_default()
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- status, feedback

fn explain_store_error(e: StoreError, what: &str) -> Box<dyn Error> {
    let hint = match e.kind() {
        ErrorKind::Conflict => " (someone changed it meanwhile; run the command again)",
        _ => "",
    };
    format!("{what}: {e}{hint}").into()
}

fn set_status(
    ctx: &mut Ctx,
    id: &str,
    to: Status,
    comment: Option<String>,
    actor: Option<String>,
) -> Res<()> {
    let stored = find_alert(ctx, id)?;
    let aid = stored.alert.system_alert_id().clone();
    let mut change = StatusChange::new(to, actor_or_default(actor));
    if let Some(c) = comment {
        change = change.comment(c);
    }
    let updated = ctx
        .store
        .change_status(&ctx.tenant, &aid, stored.version, change, Utc::now())
        .map_err(|e| explain_store_error(e, &format!("alert {aid}")))?;
    if ctx.json {
        return print_json(ctx, &serde_json::to_value(&updated.alert)?);
    }
    out!(
        ctx,
        "{aid}: {} → {} (version {})",
        stored.alert.status(),
        updated.alert.status(),
        updated.version
    );
    Ok(())
}

fn bulk_status(
    ctx: &mut Ctx,
    filters: &Filters,
    to: Status,
    comment: Option<String>,
    actor: Option<String>,
) -> Res<()> {
    let mut query = build_query(filters)?;
    if filters.status.is_empty() {
        query = query.all_statuses();
    }
    let mut change = StatusChange::new(to, actor_or_default(actor));
    if let Some(c) = comment {
        change = change.comment(c);
    }
    let outcomes = ctx
        .store
        .bulk_change_status(&ctx.tenant, &query, change, Utc::now())
        .map_err(|e| explain_store_error(e, "bulk status change"))?;
    if ctx.json {
        let arr: Vec<Value> = outcomes
            .iter()
            .map(|o| match &o.result {
                Ok(v) => json!({"id": o.id.as_str(), "ok": true, "version": v}),
                Err(e) => json!({"id": o.id.as_str(), "ok": false, "error": e.to_string()}),
            })
            .collect();
        return print_json(ctx, &Value::Array(arr));
    }
    let changed = outcomes.iter().filter(|o| o.result.is_ok()).count();
    for o in &outcomes {
        match &o.result {
            Ok(v) => out!(ctx, "{}: ok → {to} (version {v})", o.id),
            Err(e) => out!(ctx, "{}: not changed: {e}", o.id),
        }
    }
    out!(
        ctx,
        "{changed} changed, {} not changed",
        outcomes.len() - changed
    );
    Ok(())
}

fn feedback(
    ctx: &mut Ctx,
    id: &str,
    verdict: Verdict,
    reason: &str,
    comment: Option<String>,
    actor: Option<String>,
) -> Res<()> {
    let stored = find_alert(ctx, id)?;
    let aid = stored.alert.system_alert_id().clone();
    let fb = Feedback {
        useful: verdict == Verdict::Useful,
        reason: FeedbackReason::from_text(reason),
        comment,
        actor: actor_or_default(actor),
        at: Utc::now(),
    };
    let summary = json!({
        "alert": aid.as_str(),
        "useful": fb.useful,
        "reason": fb.reason.as_str(),
        "comment": fb.comment,
        "actor": fb.actor,
    });
    ctx.store
        .add_feedback(&ctx.tenant, &aid, fb)
        .map_err(|e| explain_store_error(e, &format!("alert {aid}")))?;
    if ctx.json {
        return print_json(ctx, &summary);
    }
    out!(ctx, "feedback recorded on {aid}");
    Ok(())
}

// ---------------------------------------------------------------- rules

fn read_rules(file: &str) -> Res<Vec<SuppressionRule>> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let rules = defender::parse_suppression_rules(&text).map_err(|e| format!("{file}: {e}"))?;
    // Check them all before creating any.
    RuleSet::compile(rules.clone()).map_err(|e| format!("{file}: {e}"))?;
    Ok(rules)
}

fn get_rule(ctx: &Ctx, name: &str) -> Res<vigil_core::store::StoredRule> {
    ctx.store.get_rule(&ctx.tenant, name)?.ok_or_else(|| {
        format!("no suppression rule named {name:?} (see `vigil rules list`)").into()
    })
}

fn opt_time(t: Option<DateTime<Utc>>) -> String {
    t.map(fmt_time).unwrap_or_else(|| "-".to_owned())
}

fn rules(ctx: &mut Ctx, cmd: RulesCommand) -> Res<()> {
    let now = Utc::now();
    match cmd {
        RulesCommand::Add { file } => {
            let rules = read_rules(&file)?;
            let mut names = Vec::new();
            for rule in rules {
                let name = rule.name().to_owned();
                ctx.store
                    .create_rule(&ctx.tenant, rule, now)
                    .map_err(|e| format!("{file}: rule {name:?}: {e}"))?;
                names.push(name);
            }
            if ctx.json {
                return print_json(ctx, &json!({ "created": names }));
            }
            for n in names {
                out!(ctx, "created rule {n:?}");
            }
        }
        RulesCommand::List => {
            let stored = ctx.store.list_rules(&ctx.tenant)?;
            let warnings: Vec<String> =
                match RuleSet::compile(stored.iter().map(|s| s.rule.clone())) {
                    Ok(set) => set.warnings().iter().map(|w| w.to_string()).collect(),
                    Err(e) => vec![e.to_string()],
                };
            if ctx.json {
                let rules: Vec<Value> = stored
                    .iter()
                    .map(|s| {
                        json!({
                            "name": s.rule.name(),
                            "alertType": s.rule.alert_type(),
                            "state": s.rule.state_at(now).as_str(),
                            "expiration": s.rule.expiration(),
                            "hitCount": s.hit_count,
                            "lastMatched": s.last_matched,
                            "version": s.version,
                        })
                    })
                    .collect();
                return print_json(ctx, &json!({"rules": rules, "warnings": warnings}));
            }
            if stored.is_empty() {
                out!(ctx, "no suppression rules");
            } else {
                let w = stored
                    .iter()
                    .map(|s| s.rule.name().chars().count())
                    .max()
                    .unwrap_or(4)
                    .max(4);
                out!(
                    ctx,
                    "{:<w$} {:<36} {:<9} {:<24} {:>5} LAST MATCH",
                    "NAME",
                    "TYPE",
                    "STATE",
                    "EXPIRES",
                    "HITS"
                );
                for s in &stored {
                    out!(
                        ctx,
                        "{:<w$} {:<36} {:<9} {:<24} {:>5} {}",
                        s.rule.name(),
                        truncate(s.rule.alert_type(), 36),
                        s.rule.state_at(now).as_str(),
                        opt_time(s.rule.expiration()),
                        s.hit_count,
                        opt_time(s.last_matched)
                    );
                }
            }
            for w in warnings {
                out!(ctx, "warning: {w}");
            }
        }
        RulesCommand::Show { name } => {
            let s = get_rule(ctx, &name)?;
            if ctx.json {
                return print_json(ctx, &serde_json::to_value(&s.rule)?);
            }
            out!(ctx, "{}", s.rule.name());
            out!(ctx, "  type:        {}", s.rule.alert_type());
            out!(ctx, "  reason:      {}", s.rule.reason());
            out!(ctx, "  state:       {}", s.rule.state_at(now));
            out!(ctx, "  expires:     {}", opt_time(s.rule.expiration()));
            out!(ctx, "  comment:     {}", s.rule.comment().unwrap_or("-"));
            out!(ctx, "  hits:        {}", s.hit_count);
            out!(ctx, "  last match:  {}", opt_time(s.last_matched));
            out!(ctx, "  version:     {}", s.version);
            out!(ctx, "  resource:");
            let text = serde_json::to_string_pretty(&s.rule)?;
            for line in text.lines() {
                out!(ctx, "    {line}");
            }
        }
        RulesCommand::Disable { name } => {
            let s = disable_rule(&ctx.store, &ctx.tenant, &name, now)
                .map_err(|e| explain_store_error(e, &format!("rule {name:?}")))?;
            if ctx.json {
                return print_json(ctx, &serde_json::to_value(&s.rule)?);
            }
            out!(ctx, "rule {name:?} disabled");
        }
        RulesCommand::Delete { name } => {
            ctx.store
                .delete_rule(&ctx.tenant, &name)
                .map_err(|e| explain_store_error(e, &format!("rule {name:?}")))?;
            if ctx.json {
                return print_json(ctx, &json!({ "deleted": name }));
            }
            out!(ctx, "rule {name:?} deleted");
        }
        RulesCommand::Simulate { file } => {
            let rules = read_rules(&file)?;
            let mut results = Vec::new();
            for rule in &rules {
                let sim = ctx.store.simulate(&ctx.tenant, rule, now, 5)?;
                results.push(json!({
                    "name": rule.name(),
                    "total": sim.total(),
                    "open": sim.open(),
                    "byStatus": sim.by_status.iter()
                        .map(|(s, n)| (s.as_str().to_owned(), json!(n)))
                        .collect::<serde_json::Map<_, _>>(),
                    "sample": sim.sample.iter().map(|id| id.as_str()).collect::<Vec<_>>(),
                }));
                if !ctx.json {
                    let by: Vec<String> = sim
                        .by_status
                        .iter()
                        .map(|(s, n)| format!("{s} {n}"))
                        .collect();
                    out!(
                        ctx,
                        "rule {:?} would match {} stored alert(s) ({}; {} open)",
                        rule.name(),
                        sim.total(),
                        by.join(", "),
                        sim.open()
                    );
                    for id in &sim.sample {
                        out!(ctx, "  {id}");
                    }
                }
            }
            if ctx.json {
                return print_json(ctx, &Value::Array(results));
            }
        }
        RulesCommand::Explain { name, id } => {
            let s = get_rule(ctx, &name)?;
            let alert = find_alert(ctx, &id)?;
            let set = RuleSet::compile([s.rule])?;
            let why = set
                .explain(&name, &alert.alert, now)
                .ok_or_else(|| format!("no suppression rule named {name:?}"))?;
            if ctx.json {
                return print_json(
                    ctx,
                    &json!({"rule": name, "alert": alert.alert.system_alert_id().as_str(),
                            "matched": why.matched(), "explanation": why.to_string()}),
                );
            }
            out!(ctx, "{why}");
        }
    }
    Ok(())
}

fn suppress(
    ctx: &mut Ctx,
    id: &str,
    fields: &[String],
    name: Option<String>,
    reason: &str,
    apply_existing: bool,
    actor: Option<String>,
) -> Res<()> {
    let now = Utc::now();
    let stored = find_alert(ctx, id)?;
    let a = &stored.alert;
    let name = name.unwrap_or_else(|| format!("similar-{}", a.system_alert_id()));
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    let rule = similar_rule(a, &name, SuppressionReason::from_text(reason), &fields)
        .map_err(|e| format!("--field: {e}"))?;
    let created = ctx
        .store
        .create_rule(&ctx.tenant, rule, now)
        .map_err(|e| explain_store_error(e, &format!("rule {name:?}")))?;
    let dismissed = if apply_existing {
        ctx.store
            .apply_rule(&ctx.tenant, &name, &actor_or_default(actor), now)?
    } else {
        Vec::new()
    };
    if ctx.json {
        return print_json(
            ctx,
            &json!({
                "rule": serde_json::to_value(&created.rule)?,
                "dismissed": dismissed.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
            }),
        );
    }
    out!(ctx, "created rule {name:?}");
    if apply_existing {
        out!(ctx, "dismissed {} existing alert(s)", dismissed.len());
        for d in &dismissed {
            out!(ctx, "  {d}");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- export, demo

fn export(
    ctx: &mut Ctx,
    format: formats::ExportFormat,
    filters: &Filters,
    options: &formats::ExportOptions,
) -> Res<()> {
    formats::check_export(format, options)?;
    let mut query = build_query(filters)?;
    if filters.status.is_empty() {
        query = query.all_statuses();
    }
    let alerts: Vec<Alert> = query_all(ctx, query)?
        .into_iter()
        .map(|s| s.alert)
        .collect();
    formats::write_export(&mut ctx.out, &alerts, format, options)
}

fn demo(ctx: &mut Ctx) -> Res<()> {
    let now = Utc::now();
    // The rules go first, so that the alerts are suppressed as they arrive; rules already there
    // (a re-run) are kept as they are.
    let rules = defender::parse_suppression_rules(DEMO_RULES)?;
    let (mut created, mut kept) = (Vec::new(), Vec::new());
    for rule in &rules {
        let name = rule.name().to_owned();
        if ctx.store.get_rule(&ctx.tenant, &name)?.is_some() {
            kept.push(name);
        } else {
            ctx.store
                .create_rule(&ctx.tenant, rule.clone(), now)
                .map_err(|e| explain_store_error(e, &format!("demo rule {name:?}")))?;
            created.push(name);
        }
    }

    let sources = [
        (
            "demo alerts (fixtures/demo/alerts.jsonl)",
            parse_document(DEMO_ALERTS, &ProgressBar::hidden())?,
        ),
        (
            "Defender samples (fixtures/alerts/sample-alerts.json)",
            defender::parse_alerts(SAMPLES)?,
        ),
    ];
    let mut imports = Vec::new();
    let (mut new, mut updated, mut suppressed) = (0, 0, 0);
    for (label, alerts) in &sources {
        let r = ctx.store.ingest(&ctx.tenant, alerts, now)?;
        new += r.new;
        updated += r.updated;
        suppressed += r.suppressed;
        imports.push((*label, r));
    }

    // What each demo rule has dismissed (on this run or an earlier one).
    let dismissed = query_all(ctx, AlertQuery::default().statuses([Status::Dismissed]))?;
    let by_rule: Vec<(&SuppressionRule, usize)> = rules
        .iter()
        .map(|rule| {
            let n = dismissed
                .iter()
                .filter(|d| {
                    d.suppression
                        .as_ref()
                        .is_some_and(|s| s.rule == rule.name())
                })
                .count();
            (rule, n)
        })
        .collect();
    let total_by_rules: usize = by_rule.iter().map(|(_, n)| n).sum();

    let query = AlertQuery::default().limit(DEMO_QUEUE);
    let page = ctx.store.query(&ctx.tenant, &query)?;

    if ctx.json {
        return print_json(
            ctx,
            &json!({
                "new": new, "updated": updated, "suppressed": suppressed,
                "rules": {"created": created, "kept": kept},
                "imports": imports.iter().map(|(label, r)| json!({
                    "source": label, "new": r.new, "updated": r.updated,
                    "suppressed": r.suppressed,
                })).collect::<Vec<_>>(),
                "suppressedByRule": by_rule.iter().map(|(rule, n)| json!({
                    "name": rule.name(), "reason": rule.reason().as_str(),
                    "comment": rule.comment(), "state": rule.state_at(now).as_str(),
                    "dismissed": n,
                })).collect::<Vec<_>>(),
                "queue": page.alerts.iter()
                    .map(|s| s.alert.system_alert_id().as_str()).collect::<Vec<_>>(),
            }),
        );
    }
    out!(
        ctx,
        "suppression rules: {} created, {} already there (kept)",
        created.len(),
        kept.len()
    );
    for (label, r) in &imports {
        out!(
            ctx,
            "{label}: {} new, {} updated, {} suppressed",
            r.new,
            r.updated,
            r.suppressed
        );
    }
    out!(ctx);
    out!(ctx, "Triage queue (first {DEMO_QUEUE})");
    print_table(ctx, &query, &page.alerts)?;
    out!(ctx);
    out!(
        ctx,
        "Suppressed by the demo rules: {total_by_rules} alert(s) dismissed on arrival"
    );
    for (rule, n) in &by_rule {
        let state = rule.state_at(now);
        let state = if state.as_str() == "Enabled" {
            String::new()
        } else {
            format!(", {state}")
        };
        out!(
            ctx,
            "  {:>3}  {} ({}{state}, {})",
            n,
            rule.name(),
            rule.reason(),
            rule.alert_type()
        );
        if let Some(c) = rule.comment() {
            out!(ctx, "       {c}");
        }
    }
    out!(ctx);
    out!(
        ctx,
        "Next: `vigil list --status dismissed`, `vigil rules list`, `vigil show <ID>`."
    );
    Ok(())
}
