//! ArcSight Common Event Format (CEF) version 0, export only: one event per line, optionally
//! framed as an RFC 5424 syslog message for a collector.
//!
//! ```text
//! CEF:0|Device Vendor|Device Product|Device Version|Device Event Class ID|Name|Severity|Extension
//! ```
//!
//! The header carries the vendor, product and schema version of the alert, its alert type as
//! the event class, its display name and its severity on CEF's 0–10 scale
//! ([`super::mapping::severity_to_cef`]). The extension uses the standard keys for times
//! (`rt`, `start`, `end`, epoch milliseconds), the first host (`dhost`, `dntdom`), account
//! (`duser`, `duid`), network connection or address (`src`, `dst`, `spt`, `dpt`, `proto`, or
//! `c6a1`/`c6a3` for IPv6), process (`sproc`, `spid`, and the command line in the user-defined
//! [`COMMAND_LINE_KEY`]), file (`fname`, `filePath`, `fileHash`),
//! URL (`request`) and resource (`deviceExternalId`), and labelled custom strings `cs1`–`cs6`
//! for the alert id, portal link, status, techniques, compromised entity and correlation key
//! (the table is in `docs/formats.md`). Values longer than the standard's limits are cut to
//! them; CEF is a view for SIEMs, not a lossless format (use OCSF for that).
//!
//! Escaping follows the standard: in the header `\` and `|` are escaped with a backslash and
//! line breaks (not allowed there) become spaces; in extension values `\` and `=` are escaped
//! and line breaks are written `\n` / `\r`. The last pair is always the numeric `cn1`, so no
//! text value is at the end of the line, where parsers drop trailing spaces.
//!
//! ```
//! use vigil_core::formats::cef;
//! use vigil_core::{Alert, AlertId, Entity, Severity};
//! use chrono::{TimeZone, Utc};
//!
//! let alert = Alert::builder(AlertId::new("a-1")?, "VM_EICAR", "Test | alert", Severity::High,
//!     Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap())
//!     .vendor_name("Microsoft").product_name("Azure Security Center").version("2022-01-01")
//!     .description("a=b\nc")
//!     .entity(Entity::ip("192.0.2.7"))
//!     .build();
//! let line = cef::to_line(&alert);
//! assert!(line.starts_with(r"CEF:0|Microsoft|Azure Security Center|2022-01-01|VM_EICAR|Test \| alert|8|"));
//! assert!(line.contains(r"msg=a\=b\nc "));
//! assert!(line.contains(" src=192.0.2.7 "));
//! let framed = cef::to_syslog(&alert, "collector-1");
//! assert!(framed.starts_with("<162>1 2026-01-02T03:04:05.000Z collector-1 vigil - alert - CEF:0|"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::Write as _;
use std::net::IpAddr;

use chrono::SecondsFormat;

use super::{cut, mapping};
use crate::{Alert, Entity, EntityKind, Severity};

/// The user-defined extension that carries the first process's command line: CEF has no key for
/// it, all six custom strings are taken, and the flex fields are reserved for customers. Named
/// `VendornameProductnameKeyName` as the standard asks (vendor and product: Vigil).
pub const COMMAND_LINE_KEY: &str = "VigilVigilCommandLine";

/// Escapes a header field: `\` → `\\`, `|` → `\|`; CR and LF (not allowed in the header)
/// become spaces.
pub fn escape_header(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Escapes an extension value: `\` → `\\`, `=` → `\=`, LF → `\n`, CR → `\r`.
pub fn escape_extension(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

struct Ext(String);

impl Ext {
    fn put(&mut self, key: &str, value: &str, max: usize) {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        self.0.push_str(key);
        self.0.push('=');
        self.0.push_str(&escape_extension(cut(value, max)));
    }

    fn label(&mut self, key: &str, label: &str, value: Option<&str>, max: usize) {
        if let Some(v) = value {
            self.put(key, v, max);
            self.put(&format!("{key}Label"), label, 1023);
        }
    }
}

/// The CEF record of one alert, without a line break.
pub fn to_line(a: &Alert) -> String {
    let mut line = String::from("CEF:0|");
    for (v, max) in [
        (a.vendor_name().unwrap_or("Vigil"), 63),
        (a.product_name().unwrap_or("Vigil"), 63),
        (a.version().unwrap_or(""), 31),
        (a.alert_type(), 1023),
        (a.display_name(), 512),
    ] {
        line.push_str(&escape_header(cut(v, max)));
        line.push('|');
    }
    let _ = write!(line, "{}|", mapping::severity_to_cef(a.severity()));

    let mut x = Ext(String::new());
    x.put("rt", &a.time_generated().timestamp_millis().to_string(), 40);
    if let Some(t) = a.start_time() {
        x.put("start", &t.timestamp_millis().to_string(), 40);
    }
    if let Some(t) = a.end_time() {
        x.put("end", &t.timestamp_millis().to_string(), 40);
    }
    if let Some(d) = a.description() {
        x.put("msg", d, 1023);
    }
    if !a.intents().is_empty() {
        let names: Vec<&str> = a.intents().iter().map(|i| i.as_str()).collect();
        x.put("cat", &names.join(", "), 1023);
    }
    let id = a.system_alert_id().as_str();
    if id.chars().count() <= 40 {
        x.put("externalId", id, 40);
    }
    x.label("cs1", "systemAlertId", Some(id), 4000);
    x.label("cs2", "alertUri", a.alert_uri(), 4000);
    x.label("cs3", "status", Some(a.status().as_str()), 4000);
    let techniques: Vec<String> = a
        .techniques()
        .iter()
        .chain(a.sub_techniques())
        .map(|t| t.to_string())
        .collect();
    if !techniques.is_empty() {
        x.label("cs4", "techniques", Some(&techniques.join(",")), 4000);
    }
    x.label("cs5", "compromisedEntity", a.compromised_entity(), 4000);
    x.label("cs6", "correlationKey", a.correlation_key(), 4000);
    if let Some(r) = a.azure_resource_id() {
        x.put("deviceExternalId", r, 255);
    }
    entities(a, &mut x);
    x.put("cn1Label", "isIncident", 1023);
    x.put("cn1", if a.is_incident() { "1" } else { "0" }, 20);
    line.push_str(&x.0);
    line
}

fn first<'a>(a: &'a Alert, kind: &EntityKind) -> Option<&'a Entity> {
    a.entities().iter().find(|e| e.kind() == kind)
}

fn entities(a: &Alert, x: &mut Ext) {
    if let Some(h) = first(a, &EntityKind::Host)
        && let Some(name) = h.get_str("hostName")
    {
        let fqdn = match h.get_str("dnsDomain") {
            Some(d) if !d.is_empty() => format!("{name}.{d}"),
            _ => name.to_owned(),
        };
        x.put("dhost", &fqdn, 1023);
    }
    if let Some(acc) = first(a, &EntityKind::Account) {
        if let Some(n) = acc.get_str("name") {
            x.put("duser", n, 1023);
        }
        if let Some(u) = acc.get_str("sid").or_else(|| acc.get_str("aadUserId")) {
            x.put("duid", u, 1023);
        }
        if let Some(d) = acc.get_str("ntDomain") {
            x.put("dntdom", d, 255);
        }
    }
    let ip = |v: Option<&str>| v.and_then(|s| s.trim().parse::<IpAddr>().ok());
    let addr = |x: &mut Ext, a: IpAddr, v4: &str, v6: &str, label: &str| match a {
        IpAddr::V4(_) => x.put(v4, &a.to_string(), 45),
        IpAddr::V6(_) => {
            x.put(v6, &a.to_string(), 45);
            x.put(&format!("{v6}Label"), label, 1023);
        }
    };
    let port = |e: &Entity, k: &str| -> Option<u16> {
        match e.get(k)? {
            serde_json::Value::Number(n) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    };
    if let Some(c) = first(a, &EntityKind::NetworkConnection) {
        if let Some(s) = ip(c.get_str("sourceAddress")) {
            addr(x, s, "src", "c6a1", "Source IPv6 Address");
        }
        if let Some(p) = port(c, "sourcePort") {
            x.put("spt", &p.to_string(), 5);
        }
        if let Some(d) = ip(c.get_str("destinationAddress")) {
            addr(x, d, "dst", "c6a3", "Destination IPv6 Address");
        }
        if let Some(p) = port(c, "destinationPort") {
            x.put("dpt", &p.to_string(), 5);
        }
        if let Some(p) = c.get_str("protocol") {
            x.put("proto", p, 31);
        }
    } else if let Some(i) = first(a, &EntityKind::Ip).and_then(|e| ip(e.get_str("address"))) {
        addr(x, i, "src", "c6a1", "Source IPv6 Address");
    }
    if let Some(p) = first(a, &EntityKind::Process) {
        let image = p
            .get("imageFile")
            .and_then(|f| f.get("$ref"))
            .and_then(|r| r.as_str())
            .and_then(|r| a.entity_by_id(r))
            .and_then(|f| f.get_str("name"))
            .map(str::to_owned)
            .or_else(|| {
                p.get_str("commandLine").and_then(|c| {
                    c.split_whitespace()
                        .next()
                        .map(|t| t.trim_matches('"').rsplit(['\\', '/']).next().unwrap_or(t))
                        .map(str::to_owned)
                })
            });
        if let Some(i) = image {
            x.put("sproc", &i, 1023);
        }
        if let Some(pid) = p
            .get_str("processId")
            .and_then(super::pid_of)
            .and_then(|p| u64::try_from(p).ok())
        {
            x.put("spid", &pid.to_string(), 20);
        }
        if let Some(c) = p.get_str("commandLine") {
            x.put(COMMAND_LINE_KEY, c, 4000);
        }
    }
    if let Some(f) = first(a, &EntityKind::File) {
        if let Some(n) = f.get_str("name") {
            x.put("fname", n, 1023);
        }
        let path = match (
            f.get_str("fullPath"),
            f.get_str("directory"),
            f.get_str("name"),
        ) {
            (Some(p), _, _) => Some(p.to_owned()),
            (None, Some(d), Some(n)) => {
                let sep = if d.contains('\\') { '\\' } else { '/' };
                Some(format!("{}{sep}{n}", d.trim_end_matches(['\\', '/'])))
            }
            (None, Some(d), None) => Some(d.to_owned()),
            _ => None,
        };
        if let Some(p) = path {
            x.put("filePath", &p, 1023);
        }
    }
    if let Some(h) = first(a, &EntityKind::FileHash).and_then(|h| h.get_str("value")) {
        x.put("fileHash", h, 255);
    }
    if let Some(u) = first(a, &EntityKind::Url).and_then(|u| u.get_str("url")) {
        x.put("request", u, 1023);
    }
}

/// Syslog severity for an alert severity (RFC 5424 §6.2.1): High 2 Critical, Medium 3 Error,
/// Low 4 Warning, Informational 6 Informational.
pub const fn syslog_severity(s: Severity) -> u8 {
    match s {
        Severity::High => 2,
        Severity::Medium => 3,
        Severity::Low => 4,
        Severity::Informational => 6,
    }
}

/// The syslog facility used: 20, `local4`.
pub const SYSLOG_FACILITY: u8 = 20;

/// The CEF record in an RFC 5424 syslog message:
/// `<PRI>1 TIMESTAMP HOSTNAME vigil - alert - CEF:0|…`, with `PRI` = facility `local4` × 8 +
/// [`syslog_severity`], the alert's generation time, and `hostname` (characters outside
/// printable ASCII replaced by `_`, `-` when empty, at most 255).
pub fn to_syslog(a: &Alert, hostname: &str) -> String {
    let host: String = hostname
        .chars()
        .take(255)
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .collect();
    let host = if host.is_empty() {
        "-".to_owned()
    } else {
        host
    };
    format!(
        "<{}>1 {} {} vigil - alert - {}",
        u16::from(SYSLOG_FACILITY) * 8 + u16::from(syslog_severity(a.severity())),
        a.time_generated()
            .to_rfc3339_opts(SecondsFormat::Millis, true),
        host,
        to_line(a)
    )
}

/// Alerts as CEF, one record per line; with `syslog_host`, each line is an RFC 5424 message
/// from that host (LF-terminated, the non-transparent framing of RFC 6587, which is safe
/// because escaped CEF holds no raw line break).
pub fn to_lines(alerts: &[Alert], syslog_host: Option<&str>) -> String {
    let mut out = String::new();
    for a in alerts {
        match syslog_host {
            Some(h) => out.push_str(&to_syslog(a, h)),
            None => out.push_str(&to_line(a)),
        }
        out.push('\n');
    }
    out
}
