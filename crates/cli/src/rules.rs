//! `vigil rules …` and `vigil suppress`: suppression rules.

use vigil_core::store::SuppressSimilar;
use vigil_core::suppression::RuleSet;

use crate::prelude::*;

pub(crate) fn read_rules(file: &str) -> Res<Vec<SuppressionRule>> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    Ok(defender::parse_suppression_rules(&text).map_err(|e| format!("{file}: {e}"))?)
}

/// Creates the rules of one file in one transaction (all or nothing); returns the names created
/// and the lints.
pub(crate) fn add_rule_file(
    ctx: &Ctx,
    file: &str,
    force: bool,
    now: DateTime<Utc>,
) -> Result<(Vec<String>, Vec<String>), String> {
    let rules = read_rules(file).map_err(|e| e.to_string())?;
    let created = ctx
        .store
        .create_rules(&ctx.tenant, rules, now, force)
        .map_err(|e| {
            let refused = e
                .source()
                .and_then(|s| s.downcast_ref::<vigil_core::Error>())
                .is_some_and(|s| matches!(s, vigil_core::Error::Refused { .. }));
            if refused {
                format!("{e} (--force creates it anyway)")
            } else {
                format!("{e}; nothing from this file was created")
            }
        })?;
    let names = created
        .iter()
        .map(|c| c.rule.rule.name().to_owned())
        .collect();
    let lints = created
        .iter()
        .flat_map(|c| c.warnings.iter().map(ToString::to_string))
        .collect();
    Ok((names, lints))
}

pub(crate) fn add_rules(
    ctx: &mut Ctx,
    files: &[String],
    force: bool,
    now: DateTime<Utc>,
) -> Res<()> {
    let mut report = Vec::new();
    let mut failed = 0;
    let mut failed_names: Vec<&str> = Vec::new();
    for file in files {
        match add_rule_file(ctx, file, force, now) {
            Ok((created, warnings)) => {
                if !ctx.json {
                    for n in &created {
                        out!(ctx, "{file}: created rule {n:?}");
                    }
                    for w in &warnings {
                        out!(ctx, "{file}: warning: {w}");
                    }
                }
                report.push(json!({"file": file, "created": created, "warnings": warnings}));
            }
            Err(error) => {
                failed += 1;
                failed_names.push(file.as_str());
                if !ctx.json {
                    out!(ctx, "{file}: error: {error}");
                }
                report.push(json!({"file": file, "error": error}));
            }
        }
    }
    if ctx.json {
        print_json(ctx, &json!({ "files": report, "failed": failed }))?;
    }
    if failed > 0 {
        ctx.out.flush()?;
        return Err(Failures(format!(
            "{failed} of {} rule file(s) were not added: {} (nothing from a failed file was \
             created; the report above says why)",
            files.len(),
            failed_names.join(", ")
        ))
        .into());
    }
    Ok(())
}

pub(crate) fn get_rule(ctx: &Ctx, name: &str) -> Res<vigil_core::store::StoredRule> {
    ctx.store.get_rule(&ctx.tenant, name)?.ok_or_else(|| {
        format!("no suppression rule named {name:?} (see `vigil rules list`)").into()
    })
}

pub(crate) fn rules(ctx: &mut Ctx, cmd: RulesCommand) -> Res<()> {
    let now = Utc::now();
    match cmd {
        RulesCommand::Add { files, force } => add_rules(ctx, &files, force, now)?,
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
                .delete_rule(&ctx.tenant, &name, now)
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
            let alert = find_alert(ctx, &id)?;
            let why = ctx
                .store
                .explain(&ctx.tenant, &name, alert.alert.id(), now)
                .map_err(|e| explain_store_error(e, &format!("rule {name:?}")))?;
            if ctx.json {
                return print_json(
                    ctx,
                    &json!({"rule": name, "alert": alert.alert.id().as_str(),
                            "matched": why.matched(), "explanation": why.to_string()}),
                );
            }
            out!(ctx, "{why}");
        }
    }
    Ok(())
}

pub(crate) fn suppress(
    ctx: &mut Ctx,
    id: &str,
    fields: &[String],
    name: Option<String>,
    reason: &str,
    apply_existing: bool,
    actor: Option<String>,
) -> Res<()> {
    let now = Utc::now();
    let alert = find_alert(ctx, id)?;
    let mut request = SuppressSimilar::new(alert.alert.id().clone(), fields.iter().cloned())
        .reason(SuppressionReason::from_text(reason));
    if let Some(n) = name {
        request = request.name(n);
    }
    if apply_existing {
        request = request.apply_to_existing(actor_or_default(actor));
    }
    // The rule and, if asked, its application to existing alerts are one transaction.
    let (created, dismissed) = ctx
        .store
        .suppress_similar(&ctx.tenant, request, now)
        .map_err(|e| explain_store_error(e, "suppress"))?;
    let name = created.rule.rule.name().to_owned();
    if ctx.json {
        return print_json(
            ctx,
            &json!({
                "rule": serde_json::to_value(&created.rule.rule)?,
                "warnings": created.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "dismissed": dismissed.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
            }),
        );
    }
    out!(ctx, "created rule {name:?}");
    for w in &created.warnings {
        out!(ctx, "warning: {w}");
    }
    if apply_existing {
        out!(ctx, "dismissed {} existing alert(s)", dismissed.len());
        for d in &dismissed {
            out!(ctx, "  {d}");
        }
    }
    Ok(())
}
