//! Arguments shared by several commands: filters, statuses, severities, orders, times.

use crate::prelude::*;

#[derive(Args, Debug, Default)]
pub(crate) struct Filters {
    /// Only these statuses (repeatable; `all` for every status). Without it, `list` shows the
    /// open alerts (Active and InProgress).
    #[arg(long, value_enum)]
    pub(crate) status: Vec<StatusFilter>,
    /// A severity (`high`) or a least severity (`medium+`); repeatable.
    #[arg(long, value_parser = parse_severity_filter)]
    pub(crate) severity: Vec<SeverityFilter>,
    /// Only this alert type (repeatable).
    #[arg(long = "type", value_name = "TYPE")]
    pub(crate) alert_type: Vec<String>,
    /// Only resources under this ARM id prefix.
    #[arg(long)]
    pub(crate) resource: Option<String>,
    /// Only this kill-chain intent (repeatable), e.g. Execution or PrivilegeEscalation.
    #[arg(long, value_parser = parse_intent_filter)]
    pub(crate) intent: Vec<KillChainIntent>,
    /// Only alerts with an entity carrying this value (IP, host, account, …).
    #[arg(long)]
    pub(crate) entity: Option<String>,
    /// Only alerts generated at or after this time (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    pub(crate) since: Option<DateTime<Utc>>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum StatusArg {
    Active,
    InProgress,
    Resolved,
    Dismissed,
}

impl StatusArg {
    pub(crate) fn status(self) -> Status {
        match self {
            StatusArg::Active => Status::Active,
            StatusArg::InProgress => Status::InProgress,
            StatusArg::Resolved => Status::Resolved,
            StatusArg::Dismissed => Status::Dismissed,
        }
    }
}

/// A status filter: one status, or every status.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum StatusFilter {
    Active,
    InProgress,
    Resolved,
    Dismissed,
    All,
}

impl StatusFilter {
    pub(crate) fn statuses(self) -> &'static [Status] {
        match self {
            StatusFilter::Active => &[Status::Active],
            StatusFilter::InProgress => &[Status::InProgress],
            StatusFilter::Resolved => &[Status::Resolved],
            StatusFilter::Dismissed => &[Status::Dismissed],
            StatusFilter::All => &Status::ALL,
        }
    }
}

/// `--severity`: one severity, or a least severity (`medium+`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum SeverityFilter {
    Exactly(Severity),
    AtLeast(Severity),
}

pub(crate) fn parse_severity_filter(s: &str) -> Result<SeverityFilter, String> {
    let expected = "expected informational, low, medium or high, optionally followed by one + \
                    for that severity or above (e.g. medium+)";
    let (name, at_least) = match s.strip_suffix('+') {
        Some(rest) => (rest, true),
        None => (s, false),
    };
    let sev: Severity = name.parse().map_err(|_| expected.to_owned())?;
    Ok(if at_least {
        SeverityFilter::AtLeast(sev)
    } else {
        SeverityFilter::Exactly(sev)
    })
}

pub(crate) fn parse_intent_filter(s: &str) -> Result<KillChainIntent, String> {
    match s.parse::<KillChainIntent>() {
        Ok(KillChainIntent::Other(_)) | Err(_) => {
            let known: Vec<&str> = KillChainIntent::named()
                .iter()
                .map(|i| i.as_str())
                .collect();
            Err(format!(
                "unknown intent; known intents: {}",
                known.join(", ")
            ))
        }
        Ok(intent) => Ok(intent),
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum SortArg {
    Priority,
    Time,
    Severity,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Verdict {
    Useful,
    NotUseful,
}

pub(crate) fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e} (expected RFC 3339, e.g. 2026-11-20T00:00:00Z)"))
}

pub(crate) fn build_query(f: &Filters) -> Res<AlertQuery> {
    let mut q = AlertQuery::default();
    if !f.status.is_empty() {
        let mut statuses: Vec<Status> = f
            .status
            .iter()
            .flat_map(|s| s.statuses().iter().copied())
            .collect();
        statuses.sort_by_key(|s| Status::ALL.iter().position(|a| a == s));
        statuses.dedup();
        q = q.statuses(statuses);
    }
    let mut exact = Vec::new();
    for s in &f.severity {
        match *s {
            SeverityFilter::AtLeast(min) => q = q.min_severity(min),
            SeverityFilter::Exactly(sev) => exact.push(sev),
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
        q = q.intents(f.intent.iter().cloned());
    }
    if let Some(e) = &f.entity {
        q = q.entity(e.as_str());
    }
    if let Some(t) = f.since {
        q = q.since(t);
    }
    Ok(q)
}

pub(crate) fn order_of(sort: SortArg) -> Order {
    match sort {
        SortArg::Priority => Order::Priority,
        SortArg::Time => Order::Time,
        SortArg::Severity => Order::SeverityThenTime,
    }
}
