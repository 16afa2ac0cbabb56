//! `vigil automations …` (automation rules and their failed deliveries) and `vigil automate
//! run` (the dispatcher).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use vigil_core::automation::transport::Standard;
use vigil_core::automation::{
    Action, Automation, DeliveryQuery, DeliveryState, DispatchConfig, Dispatcher, HIDDEN, Progress,
    RetryPolicy, StoredAutomation, Trigger, parse_automations, payload, redact_url, sign,
};
use vigil_core::store::{Event, EventKind, IngestOutcome};
use vigil_core::suppression::RuleSet;

use crate::prelude::*;

#[derive(Subcommand, Debug)]
pub(crate) enum AutomationsCommand {
    /// Creates the automations of JSON files: Vigil's form, or Defender's
    /// Microsoft.Security/automations resource (translated; what does not translate is
    /// listed). Every automation is checked before any is created.
    Add {
        /// The automation files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
        /// Replace an automation of the same name instead of refusing it.
        #[arg(long)]
        replace: bool,
    },
    /// Every automation, with its triggers and actions (secrets hidden).
    List,
    /// One automation (secrets hidden) and its deliveries by state.
    Show {
        /// The automation's name.
        name: String,
    },
    /// Enables an automation.
    Enable {
        /// The automation's name.
        name: String,
    },
    /// Disables an automation (its planned deliveries wait until it is enabled again).
    Disable {
        /// The automation's name.
        name: String,
    },
    /// Deletes an automation (its pending deliveries are parked as failed).
    Delete {
        /// The automation's name.
        name: String,
    },
    /// Shows what the automation would do for an alert: whether it matches, the payload, and
    /// what would be called. Calls nothing.
    Test {
        /// The automation's name.
        name: String,
        /// System alert id or name.
        id: String,
    },
    /// Deliveries parked as failed (after their last attempt, or refused by the receiver).
    Failures {
        /// Only this automation's.
        #[arg(long)]
        automation: Option<String>,
        /// How many to show.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Deletes delivered deliveries older than the given age (pending and failed ones stay).
    Prune {
        /// How old a delivery must be to go: `7d`, `12h`, `30m`, `90s`.
        #[arg(long, value_name = "AGE", default_value = "7d", value_parser = parse_age)]
        older_than: Duration,
    },
    /// Makes failed deliveries pending again (attempts reset); `vigil automate run` sends them.
    Retry {
        /// Delivery numbers (see `vigil automations failures`).
        #[arg(value_name = "ID", required_unless_present = "all")]
        ids: Vec<u64>,
        /// Every failed delivery.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum AutomateCommand {
    /// Runs the dispatcher: reads the event log, records the deliveries automations call for,
    /// and delivers them (at least once, retried with backoff, parked after the last attempt).
    /// Only one dispatcher per tenant works at a time (a lease); others wait. Ctrl-C or
    /// SIGTERM stops it after the batch in flight and gives the lease up (a second Ctrl-C
    /// exits at once).
    Run(RunArgs),
}

#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    /// Deliver what is due now and exit (deliveries waiting for a retry stay pending).
    #[arg(long)]
    once: bool,
    /// How long the lease holds between renewals: a dispatcher that dies is replaced after
    /// at most this long.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::dbfile::parse_duration)]
    lease: Duration,
    /// Attempts before a delivery is parked as failed.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    max_attempts: u32,
    /// The delay before the first retry (doubling after each, with jitter).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = crate::dbfile::parse_duration)]
    retry_delay: Duration,
    /// The longest delay between retries.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = crate::dbfile::parse_duration)]
    max_retry_delay: Duration,
    /// Deliveries sent between two writes to the database (at most this many are sent again
    /// if the dispatcher dies).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    batch: u32,
    /// How many deliveries are in flight at once (each for a different automation, action
    /// and alert: one alert's deliveries to one receiver still go one at a time, in order).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    parallel: u32,
    /// How long to sleep when there is nothing to do.
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = crate::dbfile::parse_duration)]
    poll: Duration,
}

/// An age: a duration (`30s`, `10m`, `12h`) or a number of days (`7d`).
fn parse_age(text: &str) -> Result<Duration, String> {
    match text.trim().strip_suffix('d') {
        Some(days) => days
            .trim()
            .parse::<u64>()
            .map(|d| Duration::from_secs(d.saturating_mul(86_400)))
            .map_err(|_| format!("{text:?}: expected a number of days such as 7d")),
        None => crate::dbfile::parse_duration(text),
    }
}

fn not_found(name: &str) -> Box<dyn Error> {
    format!("no automation named {name:?} (see `vigil automations list`)").into()
}

fn get(ctx: &Ctx, name: &str) -> Res<StoredAutomation> {
    ctx.store
        .get_automation(&ctx.tenant, name)?
        .ok_or_else(|| not_found(name))
}

fn trigger_text(t: &Trigger) -> String {
    match t {
        Trigger::AlertCreated => "alertCreated".into(),
        Trigger::AlertSuppressed => "alertSuppressed".into(),
        Trigger::AlertUpdated => "alertUpdated".into(),
        Trigger::StatusChanged { to } if to.is_empty() => "statusChanged".into(),
        Trigger::StatusChanged { to } => format!(
            "statusChanged→{}",
            to.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("|")
        ),
        _ => "other".into(),
    }
}

fn shown(s: &StoredAutomation) -> Res<Value> {
    let mut v = serde_json::to_value(s.automation.redacted())?;
    if let Value::Object(m) = &mut v {
        m.insert("version".into(), json!(s.version));
        m.insert("createdAt".into(), json!(s.created_at));
        m.insert("updatedAt".into(), json!(s.updated_at));
    }
    Ok(v)
}

pub(crate) fn automations(ctx: &mut Ctx, cmd: AutomationsCommand) -> Res<()> {
    let now = Utc::now();
    match cmd {
        AutomationsCommand::Add { files, replace } => add(ctx, &files, replace, now),
        AutomationsCommand::List => {
            let all = ctx.store.list_automations(&ctx.tenant)?;
            if ctx.json {
                let v: Vec<Value> = all.iter().map(shown).collect::<Res<_>>()?;
                return print_json(ctx, &json!({ "automations": v }));
            }
            if all.is_empty() {
                out!(ctx, "no automations");
                return Ok(());
            }
            let mut table = new_table(ctx, &["NAME", "STATE", "VERSION", "TRIGGERS", "ACTIONS"]);
            for s in &all {
                let a = &s.automation;
                table.add_row(vec![
                    a.name.clone(),
                    if a.enabled { "enabled" } else { "disabled" }.to_owned(),
                    s.version.to_string(),
                    a.triggers
                        .iter()
                        .map(trigger_text)
                        .collect::<Vec<_>>()
                        .join(", "),
                    a.actions
                        .iter()
                        .map(|x| format!("{} {}", x.kind(), truncate(&x.target(), 60)))
                        .collect::<Vec<_>>()
                        .join("\n"),
                ]);
            }
            print_lines(ctx, &table)
        }
        AutomationsCommand::Show { name } => {
            let s = get(ctx, &name)?;
            let mut counts = serde_json::Map::new();
            for state in [
                DeliveryState::Pending,
                DeliveryState::Delivered,
                DeliveryState::Failed,
            ] {
                let n = ctx
                    .store
                    .list_deliveries(
                        &ctx.tenant,
                        &DeliveryQuery::state(state)
                            .automation(name.clone())
                            .limit(usize::MAX),
                    )?
                    .len();
                counts.insert(state.as_str().into(), json!(n));
            }
            let mut v = shown(&s)?;
            if let Value::Object(m) = &mut v {
                m.insert("deliveries".into(), Value::Object(counts));
            }
            if ctx.json {
                return print_json(ctx, &v);
            }
            let text = serde_json::to_string_pretty(&v)?;
            for line in text.lines() {
                out!(ctx, "{line}");
            }
            Ok(())
        }
        AutomationsCommand::Enable { name } => set_enabled(ctx, &name, true, now),
        AutomationsCommand::Disable { name } => set_enabled(ctx, &name, false, now),
        AutomationsCommand::Delete { name } => {
            ctx.store
                .delete_automation(&ctx.tenant, &name, now)
                .map_err(|e| explain_store_error(e, &format!("automation {name:?}")))?;
            if ctx.json {
                return print_json(ctx, &json!({ "deleted": name }));
            }
            out!(ctx, "automation {name:?} deleted");
            Ok(())
        }
        AutomationsCommand::Test { name, id } => test(ctx, &name, &id, now),
        AutomationsCommand::Failures { automation, limit } => {
            let mut q = DeliveryQuery::state(DeliveryState::Failed).limit(limit.max(1));
            if let Some(a) = automation {
                q = q.automation(a);
            }
            let failed = ctx.store.list_deliveries(&ctx.tenant, &q)?;
            if ctx.json {
                let v: Vec<Value> = failed
                    .iter()
                    .map(|d| {
                        json!({
                            "id": d.id, "automation": d.automation, "action": d.action,
                            "alert": d.alert, "event": d.event, "attempts": d.attempts,
                            "lastStatus": d.last_status, "lastError": d.last_error,
                            "updatedAt": d.updated_at,
                        })
                    })
                    .collect();
                return print_json(ctx, &json!({ "failures": v }));
            }
            if failed.is_empty() {
                out!(ctx, "no failed deliveries");
                return Ok(());
            }
            let mut table = new_table(
                ctx,
                &[
                    "ID",
                    "AUTOMATION",
                    "ACTION",
                    "ALERT",
                    "EVENT",
                    "ATTEMPTS",
                    "LAST",
                    "ERROR",
                    "AT",
                ],
            );
            for d in &failed {
                table.add_row(vec![
                    d.id.to_string(),
                    d.automation.clone(),
                    d.action.to_string(),
                    d.alert.as_ref().map_or("-".into(), |a| a.to_string()),
                    d.event.to_string(),
                    d.attempts.to_string(),
                    d.last_status.clone().unwrap_or_else(|| "-".into()),
                    truncate(d.last_error.as_deref().unwrap_or("-"), 60),
                    fmt_time(d.updated_at),
                ]);
            }
            print_lines(ctx, &table)?;
            out!(ctx, "retry with `vigil automations retry ID…` or `--all`");
            Ok(())
        }
        AutomationsCommand::Prune { older_than } => {
            let age =
                chrono::Duration::from_std(older_than).map_err(|_| "--older-than: too long")?;
            let n = ctx.store.prune_deliveries(&ctx.tenant, now - age)?;
            if ctx.json {
                return print_json(ctx, &json!({ "pruned": n }));
            }
            out!(ctx, "{n} delivered deliveries pruned");
            Ok(())
        }
        AutomationsCommand::Retry { ids, all } => {
            let ids: Vec<u64> = if all {
                ctx.store
                    .list_deliveries(
                        &ctx.tenant,
                        &DeliveryQuery::state(DeliveryState::Failed).limit(usize::MAX),
                    )?
                    .iter()
                    .map(|d| d.id)
                    .collect()
            } else {
                ids
            };
            for id in &ids {
                ctx.store.retry_delivery(&ctx.tenant, *id, now)?;
            }
            if ctx.json {
                return print_json(ctx, &json!({ "retried": ids }));
            }
            out!(
                ctx,
                "{} deliver{} pending again; `vigil automate run` sends {}",
                ids.len(),
                if ids.len() == 1 { "y" } else { "ies" },
                if ids.len() == 1 { "it" } else { "them" }
            );
            Ok(())
        }
    }
}

fn set_enabled(ctx: &mut Ctx, name: &str, enabled: bool, now: DateTime<Utc>) -> Res<()> {
    let s = ctx
        .store
        .set_automation_enabled(&ctx.tenant, name, enabled, now)
        .map_err(|e| explain_store_error(e, &format!("automation {name:?}")))?;
    if ctx.json {
        return print_json(ctx, &shown(&s)?);
    }
    out!(
        ctx,
        "automation {name:?} {}",
        if enabled { "enabled" } else { "disabled" }
    );
    Ok(())
}

fn add(ctx: &mut Ctx, files: &[String], replace: bool, now: DateTime<Utc>) -> Res<()> {
    // Every file read and every automation checked before anything is written.
    let mut all = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?;
        let found =
            parse_automations(&text).map_err(|e| format!("{file}: {e}; nothing was created"))?;
        all.extend(found.into_iter().map(|t| (file.clone(), t)));
    }
    let mut report = Vec::new();
    for (file, t) in all {
        let name = t.automation.name.clone();
        let existing = ctx.store.get_automation(&ctx.tenant, &name)?;
        let (verb, stored) = match existing {
            Some(old) if replace => (
                "replaced",
                ctx.store
                    .update_automation(&ctx.tenant, t.automation, old.version, now)?,
            ),
            Some(_) => {
                return Err(format!(
                    "{file}: an automation named {name:?} already exists (--replace replaces it)"
                )
                .into());
            }
            None => (
                "created",
                ctx.store
                    .create_automation(&ctx.tenant, t.automation, now)?,
            ),
        };
        if !ctx.json {
            out!(
                ctx,
                "{file}: {verb} automation {name:?} (version {})",
                stored.version
            );
            for u in &t.untranslated {
                out!(ctx, "{file}: not translated: {u}");
            }
        }
        report.push(json!({
            "file": file, "name": name, "outcome": verb, "version": stored.version,
            "untranslated": t.untranslated,
        }));
    }
    if ctx.json {
        print_json(ctx, &json!({ "automations": report }))?;
    }
    Ok(())
}

fn test(ctx: &mut Ctx, name: &str, id: &str, now: DateTime<Utc>) -> Res<()> {
    let s = get(ctx, name)?;
    let stored = find_alert(ctx, id)?;
    let a = &s.automation;
    let alert = &stored.alert;
    let rule = a.clone().enabled(true).condition_rule();
    let set = RuleSet::compile([rule])?;
    let explanation = set
        .explain(&a.name, alert, now)
        .map(|e| (e.matched(), e.to_string()));
    let matched = explanation.as_ref().is_some_and(|(m, _)| *m);
    let event = Event::new(
        0,
        now,
        EventKind::AlertIngested {
            alert: alert.id().clone(),
            outcome: IngestOutcome::New,
            version: stored.version,
            status: alert.status(),
        },
    );
    let body = payload::build(&ctx.tenant, &a.name, &event, alert)?;
    let mut calls = Vec::new();
    for (i, action) in a.actions.iter().enumerate() {
        calls.push(match action {
            Action::Webhook(w) => {
                let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
                for (k, v) in &w.redacted_headers() {
                    headers.push((k.clone(), v.clone()));
                }
                headers.push((
                    payload::IDEMPOTENCY_HEADER.into(),
                    format!("{}:<event>", ctx.tenant),
                ));
                headers.push((payload::DELIVERY_HEADER.into(), "<delivery>".into()));
                headers.push((payload::ATTEMPT_HEADER.into(), "<attempt>".into()));
                if w.secret.is_some() {
                    headers.push((sign::TIMESTAMP_HEADER.into(), "<unix seconds>".into()));
                    headers.push((
                        sign::SIGNATURE_HEADER.into(),
                        "v1=<HMAC-SHA256 of timestamp.body with the secret>".into(),
                    ));
                }
                json!({
                    "action": i, "type": "webhook", "method": "POST", "url": redact_url(&w.url),
                    "timeoutSeconds": w.timeout().as_secs(),
                    "headers": headers.into_iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
                })
            }
            Action::Command(c) => json!({
                "action": i, "type": "command", "argv": c.argv,
                "timeoutSeconds": c.timeout().as_secs(), "stdin": "the payload",
            }),
            _ => json!({ "action": i, "type": action.kind() }),
        });
    }
    let payload_value: Value = serde_json::from_str(&body)?;
    if ctx.json {
        return print_json(
            ctx,
            &json!({
                "automation": a.name, "enabled": a.enabled, "alert": alert.id(),
                "triggers": a.triggers.iter().map(trigger_text).collect::<Vec<_>>(),
                "conditionsMatch": matched,
                "calls": calls, "payload": payload_value,
            }),
        );
    }
    out!(
        ctx,
        "automation {:?} ({}), alert {}",
        a.name,
        if a.enabled { "enabled" } else { "disabled" },
        alert.id()
    );
    out!(
        ctx,
        "triggers: {}",
        a.triggers
            .iter()
            .map(trigger_text)
            .collect::<Vec<_>>()
            .join(", ")
    );
    out!(
        ctx,
        "conditions: {}",
        if matched {
            "the alert matches"
        } else {
            "the alert does NOT match (nothing would be called)"
        }
    );
    if let Some((_, text)) = &explanation
        && !a.conditions.is_empty()
    {
        for line in text.lines() {
            out!(ctx, "  {line}");
        }
    }
    out!(ctx, "would call (nothing was called):");
    for (action, call) in a.actions.iter().zip(&calls) {
        match action {
            Action::Webhook(w) => {
                out!(
                    ctx,
                    "  POST {} (timeout {}s)",
                    redact_url(&w.url),
                    w.timeout().as_secs()
                );
                if let Some(h) = call["headers"].as_array() {
                    for pair in h {
                        out!(
                            ctx,
                            "    {}: {}",
                            pair[0].as_str().unwrap_or(""),
                            pair[1].as_str().unwrap_or("")
                        );
                    }
                }
            }
            Action::Command(c) => {
                out!(
                    ctx,
                    "  run {:?} (timeout {}s), payload on standard input",
                    c.argv,
                    c.timeout().as_secs()
                );
            }
            _ => out!(ctx, "  {}", action.kind()),
        }
    }
    out!(ctx, "payload:");
    for line in serde_json::to_string_pretty(&payload_value)?.lines() {
        out!(ctx, "  {line}");
    }
    Ok(())
}

pub(crate) fn automate(ctx: &mut Ctx, cmd: AutomateCommand) -> Res<()> {
    let AutomateCommand::Run(args) = cmd;
    let mut config = DispatchConfig::default();
    config.lease_ttl = args.lease;
    config.delivery_batch = args.batch as usize;
    config.poll = args.poll;
    config.parallel = args.parallel as usize;
    config.retry = RetryPolicy::new(args.max_attempts, args.retry_delay, args.max_retry_delay);
    if args.lease < Duration::from_millis(100) {
        return Err("--lease: give at least 100ms".into());
    }
    let transport = Standard::new();
    let holder = Dispatcher::unique_holder();
    let store: &dyn Store = &ctx.store;
    let d = Dispatcher::new(store, ctx.tenant.clone(), holder, &transport, config);
    let bar = if ctx.json || !io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.enable_steady_tick(Duration::from_millis(200));
        pb.set_message("waiting for the lease");
        pb
    };
    let line = |p: &Progress| {
        format!(
            "event {} · {} delivered · {} retrying · {} parked",
            p.checkpoint, p.delivered, p.retrying, p.parked
        )
    };
    let total = if args.once {
        let t = d.drain()?;
        d.release()?;
        t
    } else {
        // The first Ctrl-C or SIGTERM ends the run after the batch in flight (recorded, lease
        // given up); a second one exits at once.
        let stop = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&stop))?;
            signal_hook::flag::register(signal, Arc::clone(&stop))?;
        }
        d.run(&stop, &mut |p| bar.set_message(line(p)))?
    };
    bar.finish_and_clear();
    let pending = ctx
        .store
        .list_deliveries(
            &ctx.tenant,
            &DeliveryQuery::state(DeliveryState::Pending).limit(usize::MAX),
        )?
        .len();
    if ctx.json {
        return print_json(
            ctx,
            &json!({
                "checkpoint": total.checkpoint, "events": total.events, "planned": total.planned,
                "delivered": total.delivered, "retrying": total.retrying, "parked": total.parked,
                "pending": pending,
            }),
        );
    }
    out!(
        ctx,
        "{}; {} events read, {} deliveries planned, {} pending",
        line(&total),
        total.events,
        total.planned,
        pending
    );
    if total.parked > 0 {
        out!(ctx, "see `vigil automations failures`");
    }
    Ok(())
}

/// A webhook's headers as shown: values of credential-like headers hidden.
trait RedactedHeaders {
    fn redacted_headers(&self) -> Vec<(String, String)>;
}

impl RedactedHeaders for vigil_core::automation::Webhook {
    fn redacted_headers(&self) -> Vec<(String, String)> {
        let shown = Automation::new(
            "x",
            [Trigger::AlertCreated],
            [Action::Webhook(self.clone())],
        )
        .redacted();
        match shown.actions.into_iter().next() {
            Some(Action::Webhook(w)) => w.headers.into_iter().collect(),
            _ => vec![("(headers)".into(), HIDDEN.into())],
        }
    }
}
