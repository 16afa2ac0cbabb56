//! `vigil export` and `vigil demo`.

use crate::prelude::*;

/// The Defender samples shipped with Vigil.
const SAMPLES: &str = include_str!("../../../fixtures/alerts/sample-alerts.json");
/// The demo data set: generated alerts over several subscriptions (`examples/make-demo.rs`).
const DEMO_ALERTS: &str = include_str!("../../../fixtures/demo/alerts.jsonl");
/// Hand-written suppression rules over the demo alerts.
const DEMO_RULES: &str = include_str!("../../../fixtures/demo/rules.json");
/// How many alerts of the queue `demo` prints.
const DEMO_QUEUE: usize = 20;

pub(crate) fn export(
    ctx: &mut Ctx,
    format: crate::formats::ExportFormat,
    filters: &Filters,
    options: &crate::formats::ExportOptions,
) -> Res<()> {
    crate::formats::check_export(format, options)?;
    let mut query = build_query(filters)?;
    if filters.status.is_empty() {
        query = query.all_statuses();
    }
    let alerts: Vec<Alert> = query_all(ctx, query)?
        .into_iter()
        .map(|s| s.alert)
        .collect();
    crate::formats::write_export(&mut ctx.out, &alerts, format, options)
}

pub(crate) fn demo(ctx: &mut Ctx) -> Res<()> {
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
            defender::read_alerts(DEMO_ALERTS)?,
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
                    .map(|s| s.alert.id().as_str()).collect::<Vec<_>>(),
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

/// `export --follow`: new and changed alerts as they happen, from the event log.
#[derive(clap::Args, Debug, Default, Clone)]
pub(crate) struct Follow {
    /// Keep exporting new and changed alerts as they happen, read from the event log after the
    /// named checkpoint (each alert in its current state, once per batch of events); the
    /// checkpoint is saved after each batch is written, so a restart resumes where it stopped
    /// (delivery at least once). The filters choose which of them are written.
    #[arg(long)]
    pub(crate) follow: bool,
    /// The durable checkpoint's name (one per consumer, e.g. one per SIEM).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "export",
        requires = "follow"
    )]
    pub(crate) checkpoint: String,
    /// How often to look for new events.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = crate::dbfile::parse_duration, requires = "follow")]
    pub(crate) poll: std::time::Duration,
    /// Export what is there and stop, instead of waiting for more.
    #[arg(long, requires = "follow")]
    pub(crate) once: bool,
}

/// How many events one batch of `--follow` reads.
const FOLLOW_BATCH: usize = 500;

pub(crate) fn follow(
    ctx: &mut Ctx,
    format: crate::formats::ExportFormat,
    filters: &Filters,
    options: &crate::formats::ExportOptions,
    f: &Follow,
) -> Res<()> {
    crate::formats::check_export(format, options)?;
    let mut query = build_query(filters)?;
    if filters.status.is_empty() {
        query = query.all_statuses();
    }
    let mut after = ctx.store.checkpoint(&ctx.tenant, &f.checkpoint)?;
    loop {
        let events = ctx.store.events_since(&ctx.tenant, after, FOLLOW_BATCH)?;
        let Some(last) = events.last().map(|e| e.seq) else {
            if f.once {
                return Ok(());
            }
            std::thread::sleep(f.poll);
            continue;
        };
        // Each alert the batch touched, once, in its current state, in event order.
        let mut ids: Vec<AlertId> = Vec::new();
        for id in events.iter().filter_map(|e| e.alert()) {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
        let mut alerts = Vec::with_capacity(ids.len());
        for id in &ids {
            if let Some(s) = ctx.store.get(&ctx.tenant, id)?
                && query.matches(&s.alert)
            {
                alerts.push(s.alert);
            }
        }
        if !alerts.is_empty() {
            crate::formats::write_export(&mut ctx.out, &alerts, format, options)?;
        }
        // Written (and flushed) before the checkpoint moves: at least once.
        ctx.out.flush()?;
        ctx.store
            .save_checkpoint(&ctx.tenant, &f.checkpoint, last)?;
        after = last;
    }
}
