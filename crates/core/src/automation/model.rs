//! The automation rule: when (triggers and conditions) and what (actions).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{EventKind, IngestOutcome};
use crate::suppression::{Condition, RuleSet, RuleState, SuppressionReason, SuppressionRule};
use crate::{Error, Status};

/// Most actions one automation may have.
pub const MAX_ACTIONS: usize = 10;
/// Most headers one webhook may add.
pub const MAX_HEADERS: usize = 32;
/// Most arguments (program included) of a command.
pub const MAX_ARGS: usize = 64;
/// The longest URL, header value or argument, in bytes.
pub const MAX_TEXT: usize = 4096;
/// The longest timeout an action may ask for, in seconds.
pub const MAX_TIMEOUT_SECS: u32 = 300;
/// A webhook's timeout when the rule gives none, in seconds.
pub const DEFAULT_WEBHOOK_TIMEOUT_SECS: u32 = 10;
/// A command's timeout when the rule gives none, in seconds.
pub const DEFAULT_COMMAND_TIMEOUT_SECS: u32 = 30;

/// What an automation listens to: a kind of change in the event log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub enum Trigger {
    /// A new alert was stored and not suppressed.
    AlertCreated,
    /// A new alert was dismissed on arrival by a suppression rule.
    AlertSuppressed,
    /// A stored alert arrived again (its content replaced).
    AlertUpdated,
    /// An alert's status changed; to one of `to` if it is not empty.
    StatusChanged {
        /// The statuses that fire the trigger (every status if empty).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        to: Vec<Status>,
    },
}

impl Trigger {
    /// Whether an event of this kind fires the trigger.
    pub fn fires(&self, kind: &EventKind) -> bool {
        match (self, kind) {
            (
                Trigger::AlertCreated,
                EventKind::AlertIngested {
                    outcome: IngestOutcome::New,
                    ..
                },
            ) => true,
            (
                Trigger::AlertSuppressed,
                EventKind::AlertIngested {
                    outcome: IngestOutcome::Suppressed { .. },
                    ..
                },
            ) => true,
            (
                Trigger::AlertUpdated,
                EventKind::AlertIngested {
                    outcome: IngestOutcome::Updated,
                    ..
                },
            ) => true,
            (Trigger::StatusChanged { to }, EventKind::StatusChanged { to: now, .. }) => {
                to.is_empty() || to.contains(now)
            }
            _ => false,
        }
    }
}

/// An HTTP(S) POST of the payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Webhook {
    /// The `http://` or `https://` URL. Write-only like Defender's Logic App `uri` (its query
    /// often carries a signature): [`Automation::redacted`] hides its query and user part.
    pub url: String,
    /// Headers added to every request (names checked; the signature, idempotency and content
    /// headers cannot be overridden).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The key of the HMAC-SHA256 signature of each request (see [`super::sign`]); no
    /// signature headers without one. Never shown by [`Automation::redacted`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Seconds the whole request may take (connect, send, response).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
}

impl Webhook {
    /// A webhook to `url`, no headers, no secret, the default timeout.
    pub fn new(url: impl Into<String>) -> Webhook {
        Webhook {
            url: url.into(),
            headers: BTreeMap::new(),
            secret: None,
            timeout_seconds: None,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Webhook {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// Sets the signing secret.
    pub fn secret(mut self, secret: impl Into<String>) -> Webhook {
        self.secret = Some(secret.into());
        self
    }

    /// Sets the timeout in seconds.
    pub fn timeout_seconds(mut self, seconds: u32) -> Webhook {
        self.timeout_seconds = Some(seconds);
        self
    }

    /// The timeout in force.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(
            self.timeout_seconds.unwrap_or(DEFAULT_WEBHOOK_TIMEOUT_SECS),
        ))
    }
}

/// A local program run with the payload on its standard input; its exit code is the outcome
/// (0 delivered, anything else a failed attempt).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct CommandAction {
    /// The program and its arguments, passed as they are (never through a shell).
    pub argv: Vec<String>,
    /// Seconds the program may run before it is killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
}

impl CommandAction {
    /// Runs `argv` (program first) with the default timeout.
    pub fn new<S: Into<String>>(argv: impl IntoIterator<Item = S>) -> CommandAction {
        CommandAction {
            argv: argv.into_iter().map(Into::into).collect(),
            timeout_seconds: None,
        }
    }

    /// Sets the timeout in seconds.
    pub fn timeout_seconds(mut self, seconds: u32) -> CommandAction {
        self.timeout_seconds = Some(seconds);
        self
    }

    /// The timeout in force.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(
            self.timeout_seconds.unwrap_or(DEFAULT_COMMAND_TIMEOUT_SECS),
        ))
    }
}

/// What an automation does when it fires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
#[non_exhaustive]
pub enum Action {
    /// An HTTP(S) POST.
    Webhook(Webhook),
    /// A local program.
    Command(CommandAction),
}

impl Action {
    /// `webhook` or `command`.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Webhook(_) => "webhook",
            Action::Command(_) => "command",
        }
    }

    /// What the action calls, for people: the URL without its query and user part, or the
    /// program with its arguments.
    pub fn target(&self) -> String {
        match self {
            Action::Webhook(w) => redact_url(&w.url),
            Action::Command(c) => c.argv.join(" "),
        }
    }
}

/// An automation rule ("workflow automation"): when an alert event of one of its triggers
/// happens and the alert meets its conditions, each action is delivered, at least once, by the
/// dispatcher ([`super::Dispatcher`]).
///
/// Conditions are the suppression condition language (`docs/suppression.md`): the same fields,
/// operators and three-valued semantics, compiled by the same matcher ([`RuleSet`]), all of
/// them required (`allOf`); no condition matches every alert.
///
/// ```
/// use vigil_core::automation::{Action, Automation, Trigger, Webhook};
/// use vigil_core::suppression::Condition;
///
/// let a = Automation::new(
///     "page-on-call",
///     [Trigger::AlertCreated],
///     [Action::Webhook(Webhook::new("https://hooks.example.com/vigil?sig=abc").secret("s3cret"))],
/// )
/// .condition(Condition::equals("severity", "High"));
/// a.check()?;
/// let shown = serde_json::to_string(&a.redacted())?;
/// assert!(!shown.contains("s3cret") && !shown.contains("sig=abc"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Automation {
    /// The name: its identity within a tenant (1 to 200 characters, no control characters).
    pub name: String,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether it fires. Deliveries of a disabled automation already planned wait until it is
    /// enabled again.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// The events it listens to (at least one).
    pub triggers: Vec<Trigger>,
    /// Conditions the alert must meet, all of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// What it does (1 to [`MAX_ACTIONS`]), each delivered on its own.
    pub actions: Vec<Action>,
}

fn enabled_by_default() -> bool {
    true
}

/// A stored automation with its bookkeeping.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct StoredAutomation {
    /// The automation.
    pub automation: Automation,
    /// 1 when created, one more at each change.
    pub version: u64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The number of the event that created it: only later events fire it, so an automation
    /// never acts on what happened before it existed (however far behind the dispatcher is).
    pub since: u64,
}

impl StoredAutomation {
    /// A stored automation; backends build the ones they read back with it.
    pub fn new(
        automation: Automation,
        version: u64,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
        since: u64,
    ) -> StoredAutomation {
        StoredAutomation {
            automation,
            version,
            created_at,
            updated_at,
            since,
        }
    }
}

/// The text shown instead of a secret.
pub const HIDDEN: &str = "(hidden)";

impl Automation {
    /// An enabled automation with these triggers and actions and no conditions.
    pub fn new(
        name: impl Into<String>,
        triggers: impl IntoIterator<Item = Trigger>,
        actions: impl IntoIterator<Item = Action>,
    ) -> Automation {
        Automation {
            name: name.into(),
            description: None,
            enabled: true,
            triggers: triggers.into_iter().collect(),
            conditions: Vec::new(),
            actions: actions.into_iter().collect(),
        }
    }

    /// Adds a condition.
    pub fn condition(mut self, c: Condition) -> Automation {
        self.conditions.push(c);
        self
    }

    /// Sets the description.
    pub fn description(mut self, d: impl Into<String>) -> Automation {
        self.description = Some(d.into());
        self
    }

    /// Enables or disables it.
    pub fn enabled(mut self, enabled: bool) -> Automation {
        self.enabled = enabled;
        self
    }

    /// Reads one automation in Vigil's own JSON form (as `Serialize` writes it).
    pub fn from_json(text: &str) -> Result<Automation, Error> {
        let value = crate::json::parse(text)?;
        serde_json::from_value(value).map_err(|e| Error::document("automation", e.to_string()))
    }

    /// The conditions as one suppression rule named like the automation, of every alert
    /// type, disabled when the automation is: what the shared matcher compiles.
    pub fn condition_rule(&self) -> SuppressionRule {
        let mut b = SuppressionRule::builder(
            self.name.clone(),
            "*",
            SuppressionReason::Other("automation".into()),
        )
        .state(if self.enabled {
            RuleState::Enabled
        } else {
            RuleState::Disabled
        });
        for c in &self.conditions {
            b = b.condition(c.clone());
        }
        b.build()
    }

    /// Whether an event fires one of its triggers.
    pub fn fires_on(&self, kind: &EventKind) -> bool {
        self.triggers.iter().any(|t| t.fires(kind))
    }

    /// Checks everything a stored automation must satisfy, reporting every problem at once:
    /// the name, at least one trigger and one action, URLs (`http`/`https` only, with a host),
    /// header names and values, argument vectors, timeouts, and that the conditions compile
    /// with the suppression matcher's checks and budgets.
    pub fn check(&self) -> Result<(), Error> {
        let mut problems: Vec<String> = Vec::new();
        if self.name.trim().is_empty()
            || self.name.chars().count() > 200
            || self.name.chars().any(char::is_control)
        {
            problems.push("name: give 1 to 200 characters without control characters".into());
        }
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.len() > MAX_TEXT)
        {
            problems.push(format!("description: at most {MAX_TEXT} bytes"));
        }
        if self.triggers.is_empty() {
            problems.push(
                "triggers: give at least one (alertCreated, alertSuppressed, alertUpdated, \
                 statusChanged)"
                    .into(),
            );
        }
        if self.triggers.len() > 8 {
            problems.push("triggers: at most 8".into());
        }
        if self.actions.is_empty() || self.actions.len() > MAX_ACTIONS {
            problems.push(format!("actions: give 1 to {MAX_ACTIONS}"));
        }
        for (i, action) in self.actions.iter().enumerate() {
            match action {
                Action::Webhook(w) => check_webhook(w, i, &mut problems),
                Action::Command(c) => check_command(c, i, &mut problems),
            }
        }
        if let Err(e) = RuleSet::compile([self.condition_rule()]) {
            for p in e.problems() {
                let at = p
                    .condition
                    .as_deref()
                    .map(|c| format!("conditions[{c}]"))
                    .unwrap_or_else(|| "conditions".into());
                problems.push(format!("{at}: {}", p.message));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::document(
                format!("automation {:?}", self.name),
                problems.join("; "),
            ))
        }
    }

    /// A copy safe to show: webhook secrets and the values of headers that look like
    /// credentials replaced by `(hidden)`, URLs without their query and user part.
    pub fn redacted(&self) -> Automation {
        let mut a = self.clone();
        for action in &mut a.actions {
            if let Action::Webhook(w) = action {
                w.url = redact_url(&w.url);
                if w.secret.is_some() {
                    w.secret = Some(HIDDEN.into());
                }
                for (name, value) in w.headers.iter_mut() {
                    if sensitive_header(name) {
                        *value = HIDDEN.into();
                    }
                }
            }
        }
        a
    }
}

fn check_timeout(t: Option<u32>, at: &str, problems: &mut Vec<String>) {
    if let Some(t) = t
        && (t == 0 || t > MAX_TIMEOUT_SECS)
    {
        problems.push(format!(
            "{at}.timeoutSeconds: give 1 to {MAX_TIMEOUT_SECS} seconds"
        ));
    }
}

fn check_webhook(w: &Webhook, i: usize, problems: &mut Vec<String>) {
    let at = format!("actions[{i}]");
    if let Err(e) = Url::parse(&w.url) {
        problems.push(format!("{at}.url: {e}"));
    }
    if w.headers.len() > MAX_HEADERS {
        problems.push(format!("{at}.headers: at most {MAX_HEADERS}"));
    }
    for (name, value) in &w.headers {
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            problems.push(format!(
                "{at}.headers: {name:?} is not a header name (letters, digits and !#$%&'*+-.^_`|~)"
            ));
        } else if reserved_header(name) {
            problems.push(format!(
                "{at}.headers: {name:?} is set by the dispatcher and cannot be given"
            ));
        }
        if value.len() > MAX_TEXT
            || !value
                .bytes()
                .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
        {
            problems.push(format!(
                "{at}.headers.{name}: a value is visible ASCII (and spaces), at most {MAX_TEXT} bytes"
            ));
        }
    }
    if let Some(s) = &w.secret
        && (s.is_empty() || s.len() > MAX_TEXT)
    {
        problems.push(format!("{at}.secret: give 1 to {MAX_TEXT} bytes"));
    }
    check_timeout(w.timeout_seconds, &at, problems);
}

fn check_command(c: &CommandAction, i: usize, problems: &mut Vec<String>) {
    let at = format!("actions[{i}]");
    match c.argv.first() {
        None => problems.push(format!(
            "{at}.argv: give the program and its arguments, e.g. [\"/usr/local/bin/notify\", \"--team\", \"secops\"]"
        )),
        Some(p) if p.trim().is_empty() => problems.push(format!("{at}.argv[0]: name the program")),
        Some(_) => {}
    }
    if c.argv.len() > MAX_ARGS {
        problems.push(format!("{at}.argv: at most {MAX_ARGS} items"));
    }
    for (j, arg) in c.argv.iter().enumerate() {
        if arg.contains('\0') || arg.len() > MAX_TEXT {
            problems.push(format!(
                "{at}.argv[{j}]: no NUL character, at most {MAX_TEXT} bytes"
            ));
        }
    }
    check_timeout(c.timeout_seconds, &at, problems);
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Headers the dispatcher sets itself.
fn reserved_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "content-type"
            | "content-length"
            | "host"
            | "connection"
            | "transfer-encoding"
            | "te"
            | "upgrade"
            | "idempotency-key"
    ) || n.starts_with("x-vigil-")
}

/// Headers whose values are shown as `(hidden)`.
fn sensitive_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "auth",
        "token",
        "key",
        "secret",
        "cookie",
        "password",
        "signature",
        "session",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// A URL as far as a webhook needs one: scheme, host, port and the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    /// `http` or `https`.
    pub scheme: String,
    /// The host, lower-cased (an IPv6 address keeps its brackets).
    pub host: String,
    /// The port, explicit or the scheme's.
    pub port: u16,
    /// Path, query and fragment as written (`/` if empty).
    pub rest: String,
}

impl Url {
    /// Parses an absolute `http` or `https` URL; anything else is refused with the reason.
    pub fn parse(text: &str) -> Result<Url, String> {
        if text.len() > MAX_TEXT {
            return Err(format!("at most {MAX_TEXT} bytes"));
        }
        if text.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err("a URL holds no spaces or control characters".into());
        }
        let (scheme, after) = text
            .split_once("://")
            .ok_or("give an absolute http:// or https:// URL")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            other => return Err(format!("scheme {other:?}: only http and https are allowed")),
        };
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let (authority, rest) = after.split_at(end);
        if authority.contains('@') {
            return Err("no user name or password in the URL; use a header".into());
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let close = v6.find(']').ok_or("unclosed [ in the host")?;
            let host = &authority[..close + 2];
            let tail = &v6[close + 1..];
            (host, tail.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err("the URL has no host".into());
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("port {p:?} is not a port number"))?,
            None => default_port,
        };
        Ok(Url {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
            rest: if rest.is_empty() {
                "/".into()
            } else {
                rest.into()
            },
        })
    }

    /// Whether two URLs are on the same scheme, host and port.
    pub fn same_origin(&self, other: &Url) -> bool {
        self.scheme == other.scheme && self.host == other.host && self.port == other.port
    }

    /// Resolves a `Location` header against this URL: absolute, or an absolute path.
    pub fn join(&self, location: &str) -> Result<Url, String> {
        if location.contains("://") {
            Url::parse(location)
        } else if location.starts_with("//") {
            Url::parse(&format!("{}:{location}", self.scheme))
        } else if location.starts_with('/') {
            Url::parse(&format!(
                "{}://{}:{}{location}",
                self.scheme, self.host, self.port
            ))
        } else {
            Err(format!(
                "redirect to {location:?}: not an absolute location"
            ))
        }
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}://{}:{}{}",
            self.scheme, self.host, self.port, self.rest
        )
    }
}

/// A URL without its user part and with its query and fragment replaced by `?(hidden)`.
pub fn redact_url(url: &str) -> String {
    let (base, hidden) = match url.find(['?', '#']) {
        Some(i) => (&url[..i], true),
        None => (url, false),
    };
    let base = match base.split_once("://") {
        Some((scheme, rest)) => match rest.find('/').map_or(rest, |i| &rest[..i]).rfind('@') {
            Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
            None => base.to_owned(),
        },
        None => base.to_owned(),
    };
    if hidden {
        format!("{base}?{HIDDEN}")
    } else {
        base
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::AlertId;

    #[test]
    fn urls_are_checked_and_redacted() {
        let u = Url::parse("HTTPS://Hooks.Example.com:8443/a/b?sig=x").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("hooks.example.com", 8443));
        assert_eq!(u.rest, "/a/b?sig=x");
        assert!(Url::parse("ftp://x/").unwrap_err().contains("only http"));
        assert!(Url::parse("http://u:p@x/").is_err());
        assert!(Url::parse("http:///x").is_err());
        assert!(Url::parse("http://x:0/").is_err());
        assert!(Url::parse("http://x y/").is_err());
        assert_eq!(Url::parse("http://[::1]:9/").unwrap().host, "[::1]");
        assert_eq!(
            redact_url("https://a.example/p?sig=secret"),
            "https://a.example/p?(hidden)"
        );
        assert_eq!(
            redact_url("https://u:pw@a.example/p"),
            "https://a.example/p"
        );
        let base = Url::parse("http://127.0.0.1:80/x").unwrap();
        assert!(base.join("/y").unwrap().same_origin(&base));
        assert!(!base.join("http://other/").unwrap().same_origin(&base));
    }

    #[test]
    fn check_reports_every_problem() {
        let a = Automation::new(
            "",
            [],
            [
                Action::Webhook(
                    Webhook::new("file:///etc/passwd")
                        .header("X-Vigil-Signature", "x")
                        .header("bad name", "v")
                        .timeout_seconds(0),
                ),
                Action::Command(CommandAction::new(Vec::<String>::new())),
            ],
        )
        .condition(Condition::equals("no.such.field", "x"));
        let e = a.check().unwrap_err().to_string();
        for needle in [
            "name:",
            "triggers:",
            "only http",
            "X-Vigil-Signature",
            "bad name",
            "timeoutSeconds",
            "argv",
            "conditions",
        ] {
            assert!(e.contains(needle), "{needle} missing from {e}");
        }
    }

    #[test]
    fn triggers_fire_on_their_events() {
        let id = AlertId::new("a").unwrap();
        let created = EventKind::AlertIngested {
            alert: id.clone(),
            outcome: IngestOutcome::New,
            version: 1,
            status: Status::Active,
        };
        let resolved = EventKind::StatusChanged {
            alert: id,
            from: Status::Active,
            to: Status::Resolved,
            actor: "a".into(),
            comment: None,
            version: 2,
        };
        assert!(Trigger::AlertCreated.fires(&created));
        assert!(!Trigger::AlertUpdated.fires(&created));
        assert!(Trigger::StatusChanged { to: vec![] }.fires(&resolved));
        assert!(
            Trigger::StatusChanged {
                to: vec![Status::Resolved]
            }
            .fires(&resolved)
        );
        assert!(
            !Trigger::StatusChanged {
                to: vec![Status::Dismissed]
            }
            .fires(&resolved)
        );
        let json = r#"{"name":"n","triggers":[{"type":"statusChanged","to":["Resolved"]}],
            "actions":[{"type":"command","argv":["/bin/true"]}]}"#;
        let a = Automation::from_json(json).unwrap();
        assert!(a.enabled && a.fires_on(&resolved));
        a.check().unwrap();
    }
}
