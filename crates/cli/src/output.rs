//! Where output goes and how it looks: the context, JSON, colours, progress, tables.

use std::io::BufWriter;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::prelude::*;

/// A command's result; errors print as `error: …` and exit 1.
pub(crate) type Res<T> = Result<T, Box<dyn Error>>;

/// Where output goes, and how it looks.
pub(crate) struct Ctx {
    pub(crate) store: crate::dbfile::Db,
    pub(crate) tenant: TenantId,
    pub(crate) json: bool,
    pub(crate) color: bool,
    pub(crate) out: BufWriter<io::StdoutLock<'static>>,
}

pub(crate) fn actor_or_default(actor: Option<String>) -> String {
    actor
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.trim().is_empty()))
        .unwrap_or_else(|| "cli".to_owned())
}

pub(crate) fn print_json(ctx: &mut Ctx, value: &Value) -> Res<()> {
    serde_json::to_writer_pretty(&mut ctx.out, value)?;
    out!(ctx);
    Ok(())
}

/// A progress bar on stderr when it is a terminal and JSON is off; hidden otherwise.
pub(crate) fn progress_bar(ctx: &Ctx, name: &str) -> ProgressBar {
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
pub(crate) fn spin(pb: &ProgressBar, message: String) {
    if pb.is_hidden() {
        return;
    }
    let style = ProgressStyle::with_template("{prefix} {spinner} {msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    pb.set_style(style);
    pb.set_message(message);
    pb.enable_steady_tick(std::time::Duration::from_millis(100));
}

/// A command that already reported its failures on stdout: exit 1 with a one-line summary.
#[derive(Debug)]
pub(crate) struct Failures(pub(crate) String);

pub(crate) fn paint(ctx: &Ctx, sev: Severity, text: &str) -> String {
    let code = match sev {
        Severity::High => "31",
        Severity::Medium => "33",
        Severity::Low => "36",
        _ => return text.to_owned(),
    };
    if ctx.color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

pub(crate) fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

pub(crate) fn print_table(ctx: &mut Ctx, query: &AlertQuery, alerts: &[StoredAlert]) -> Res<()> {
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

/// Every alert a query selects, all pages.
pub(crate) fn query_all(ctx: &Ctx, query: AlertQuery) -> Res<Vec<StoredAlert>> {
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
pub(crate) fn find_alert(ctx: &Ctx, id: &str) -> Res<StoredAlert> {
    let aid = AlertId::new(id).map_err(|e| format!("alert id {id:?}: {e}"))?;
    ctx.store.get(&ctx.tenant, &aid)?.ok_or_else(|| {
        format!(
            "no alert {id:?} in tenant {:?} (pass an alert's name or system alert id, as `vigil list --status all` shows them)",
            ctx.tenant.as_str()
        )
        .into()
    })
}

pub(crate) fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub(crate) fn explain_store_error(e: StoreError, what: &str) -> Box<dyn Error> {
    let hint = match e.kind() {
        ErrorKind::Conflict => " (someone changed it meanwhile; run the command again)",
        _ => "",
    };
    format!("{what}: {e}{hint}").into()
}

pub(crate) fn opt_time(t: Option<DateTime<Utc>>) -> String {
    t.map(fmt_time).unwrap_or_else(|| "-".to_owned())
}

impl std::fmt::Display for Failures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for Failures {}

pub(crate) fn resource_label(a: &Alert) -> &str {
    a.compromised_entity()
        .filter(|c| !c.is_empty())
        .or_else(|| a.azure_resource_id().and_then(|r| r.rsplit('/').next()))
        .unwrap_or("-")
}

pub(crate) fn intents_text(a: &Alert) -> String {
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
