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
