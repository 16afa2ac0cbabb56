//! `vigil status` and `vigil feedback`: the lifecycle and the verdict.

use crate::prelude::*;

pub(crate) fn set_status(
    ctx: &mut Ctx,
    id: &str,
    to: Status,
    comment: Option<String>,
    actor: Option<String>,
) -> Res<()> {
    let stored = find_alert(ctx, id)?;
    let aid = stored.alert.id().clone();
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

pub(crate) fn bulk_status(
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

pub(crate) fn feedback(
    ctx: &mut Ctx,
    id: &str,
    verdict: Verdict,
    reason: &str,
    comment: Option<String>,
    actor: Option<String>,
) -> Res<()> {
    let stored = find_alert(ctx, id)?;
    let aid = stored.alert.id().clone();
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
