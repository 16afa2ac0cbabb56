//! `vigil`: the command-line tool for security-alert triage.
//!
//! A thin shell over `vigil-core` and `vigil-sqlite`: it parses arguments, calls the library and
//! prints. See `vigil --help`. This file holds the arguments and the dispatch; each command group
//! lives in its own module.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vigil_core::store::TenantId;

/// Prints a line to the command's output (`ctx.out`).
macro_rules! out {
    ($ctx:expr) => { writeln!($ctx.out)? };
    ($ctx:expr, $($arg:tt)*) => { writeln!($ctx.out, $($arg)*)? };
}

mod args;
mod automate;
mod dbfile;
mod demo;
mod formats;
mod import;
mod output;
mod prelude;
mod queue;
mod respond;
mod rules;
mod serve;
mod show;

use args::{Filters, SortArg, StatusArg, Verdict};
use output::{Ctx, Res};

use demo::{demo, export};
use import::import;
use queue::list;
use respond::{bulk_status, feedback, set_status};
use rules::{rules, suppress};
use show::show;

/// Security-alert triage on a SQLite file or a PostgreSQL server (Defender for Cloud alert model).
#[derive(Parser, Debug)]
#[command(name = "vigil", version, about)]
pub(crate) struct Cli {
    /// The database: a SQLite file, created on first use, or a PostgreSQL server given as a
    /// connection string (`postgres://user@host:port/database`, tables created on first use);
    /// default: $VIGIL_DB, else vigil.db in the current directory.
    #[arg(long, global = true, value_name = "PATH|URL")]
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
    /// How long a command waits for another command's write to the same database before it
    /// fails: seconds (`30`), or with a unit (`500ms`, `90s`, `10m`, `1h`); `0` does not wait
    /// (default: $VIGIL_BUSY_TIMEOUT, else 5m). Reading commands never wait.
    #[arg(long, global = true, value_name = "DURATION", value_parser = dbfile::parse_duration)]
    busy_timeout: Option<std::time::Duration>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
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
    /// The triage queue: open alerts (Active and InProgress), most severe first, then most
    /// recent. Resolved and Dismissed are one filter away (`--status dismissed`, `--status
    /// all`).
    List {
        #[command(flatten)]
        filters: Filters,
        /// How many alerts to show (at least 1).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
        limit: u32,
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
        #[command(flatten, next_help_heading = "Following changes")]
        follow: demo::Follow,
    },
    /// Loads the demo data set (suppression rules first, then about 300 generated alerts and
    /// the Defender samples) and prints the triage queue and what was suppressed; can be re-run.
    Demo,
    /// Serves Defender for Cloud's alerts REST API (for Defender clients and SDKs) and the triage
    /// web page, over the database; the subscription id in API paths is the tenant.
    Serve(serve::ServeArgs),
    /// Checks the database file: SQLite's integrity check, then every stored row of every
    /// tenant read back; lists what is damaged by table, tenant and id, and exits 1 if
    /// anything is.
    Check,
    /// Automation rules: webhooks and local programs called when alerts arrive or change.
    #[command(subcommand)]
    Automations(automate::AutomationsCommand),
    /// Delivers what automation rules call for (`vigil automate run [--once]`).
    #[command(subcommand)]
    Automate(automate::AutomateCommand),
}

#[derive(Subcommand, Debug)]
pub(crate) enum RulesCommand {
    /// Creates the rules of Defender suppression-rule JSON files; each file all or nothing
    /// (every rule checked first), with every lint printed at once.
    Add {
        /// The rule files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
        /// Create a rule even if it would suppress every alert of every type.
        #[arg(long)]
        force: bool,
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
        .or_else(|| std::env::var_os(dbfile::DB_ENV).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("vigil.db"));
    let store = dbfile::open(&db, cli.busy_timeout, &cli.command)?;
    let tenant = TenantId::new(cli.tenant.as_str())
        .map_err(|e| format!("--tenant {:?}: {e}", cli.tenant))?;
    if let Command::Serve(args) = &cli.command {
        return serve::serve(store, &tenant, args);
    }
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
        } => list(&mut ctx, &filters, limit as usize, sort, cursor.as_deref())?,
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
            follow,
        } if follow.follow => demo::follow(&mut ctx, format, &filters, &options, &follow)?,
        Command::Export {
            format,
            filters,
            options,
            ..
        } => export(&mut ctx, format, &filters, &options)?,
        Command::Demo => demo(&mut ctx)?,
        Command::Check => dbfile::check(&mut ctx)?,
        // Served above, before the context is built.
        Command::Serve(_) => {}
        Command::Automations(cmd) => automate::automations(&mut ctx, cmd)?,
        Command::Automate(cmd) => automate::automate(&mut ctx, cmd)?,
    }
    ctx.out.flush()?;
    Ok(())
}
