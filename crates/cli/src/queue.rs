//! `vigil list`: the triage queue, a page at a time.

use crate::prelude::*;

pub(crate) fn list(
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
