//! `vigil show`: one alert in full, as the investigation view.

use vigil_core::attack::Catalog;

use crate::prelude::*;

pub(crate) fn show(ctx: &mut Ctx, id: &str) -> Res<()> {
    let stored = find_alert(ctx, id)?;
    let a = &stored.alert;
    if ctx.json {
        return print_json(ctx, &serde_json::to_value(a)?);
    }
    let sev = paint(ctx, a.severity(), a.severity().as_str());
    out!(ctx, "{}", a.display_name());
    out!(ctx, "  id:          {}", a.id());
    if a.id() != a.system_alert_id() {
        out!(ctx, "  system id:   {}", a.system_alert_id());
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

    let history = ctx.store.history(&ctx.tenant, a.id())?;
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
        alert: Some(a.id().clone()),
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
