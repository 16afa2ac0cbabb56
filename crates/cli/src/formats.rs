//! `vigil export --format …` and `vigil import --format …`: the exchange formats of
//! `vigil_core::formats` on the command line.

use std::io::Write;

use clap::{Args, ValueEnum};
use vigil_core::formats::{self as core_formats, Format, asff, cef, graph, ocsf};
use vigil_core::{Alert, defender};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// What `vigil export` writes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Defender 2022-01-01 alert resources, one per line.
    Jsonl,
    /// One Defender list response, `{"value": […]}`.
    Defender,
    /// OCSF 1.8.0 Detection Findings, one per line.
    Ocsf,
    /// ArcSight CEF, one event per line (RFC 5424 syslog lines with --syslog-host).
    Cef,
    /// ASFF BatchImportFindings bodies of up to 100 findings, one per line (needs
    /// --aws-account-id and --aws-region or --aws-product-arn).
    Asff,
    /// A Microsoft Graph security alert list, `{"value": […]}`.
    Graph,
}

/// What `vigil import` reads.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ImportFormat {
    /// Tell from the records (an error, asking for --format, when they could be two formats).
    Auto,
    /// Defender alert JSON (a resource, {"value": [...]}, an array, or JSON lines).
    Defender,
    /// OCSF Detection Findings (an array, one finding, or JSON lines).
    Ocsf,
    /// ASFF findings ({"Findings": [...]} bodies, an array, or JSON lines).
    Asff,
    /// Microsoft Graph security alerts ({"value": [...]}, an array, or JSON lines).
    Graph,
}

/// Options of the exchange formats for `vigil export`.
#[derive(Args, Debug, Default, Clone)]
pub struct ExportOptions {
    /// CEF: frame each event as an RFC 5424 syslog message from this host name.
    #[arg(long, value_name = "HOST")]
    pub syslog_host: Option<String>,
    /// ASFF: the 12-digit AWS account the findings belong to (AwsAccountId).
    #[arg(long, value_name = "ACCOUNT")]
    pub aws_account_id: Option<String>,
    /// ASFF: the Security Hub region; the product is the account's private integration.
    #[arg(long, value_name = "REGION")]
    pub aws_region: Option<String>,
    /// ASFF: an explicit product ARN instead of the private integration.
    #[arg(long, value_name = "ARN", conflicts_with = "aws_region")]
    pub aws_product_arn: Option<String>,
    /// ASFF: UpdatedAt for re-sending changed alerts, `now` or an RFC 3339 time (default: each
    /// alert's CreatedAt, as a first import needs).
    #[arg(long, value_name = "TIME")]
    pub aws_updated_at: Option<String>,
}

fn asff_target(o: &ExportOptions) -> Res<asff::AsffTarget> {
    let account = o.aws_account_id.as_deref().ok_or(
        "--format asff needs --aws-account-id (the 12-digit account of the findings) and --aws-region or --aws-product-arn",
    )?;
    let target = match (&o.aws_product_arn, &o.aws_region) {
        (Some(arn), _) => asff::AsffTarget::with_product_arn(account, arn)?,
        (None, Some(region)) => asff::AsffTarget::private(account, region)?,
        (None, None) => {
            return Err("--format asff needs --aws-region (or --aws-product-arn)".into());
        }
    };
    match o.aws_updated_at.as_deref() {
        None => Ok(target),
        Some("now") => Ok(target.updated_at(chrono::Utc::now())),
        Some(t) => {
            let at = chrono::DateTime::parse_from_rfc3339(t).map_err(|e| {
                format!("--aws-updated-at {t:?}: {e} (expected `now` or RFC 3339, e.g. 2026-11-20T00:00:00Z)")
            })?;
            Ok(target.updated_at(at.with_timezone(&chrono::Utc)))
        }
    }
}

/// Checks the options a format needs before any work is done.
pub fn check_export(format: ExportFormat, o: &ExportOptions) -> Res<()> {
    if format == ExportFormat::Asff {
        asff_target(o)?;
    } else if o.aws_account_id.is_some()
        || o.aws_region.is_some()
        || o.aws_product_arn.is_some()
        || o.aws_updated_at.is_some()
    {
        return Err("--aws-* options apply to --format asff only".into());
    }
    if o.syslog_host.is_some() && format != ExportFormat::Cef {
        return Err("--syslog-host applies to --format cef only".into());
    }
    Ok(())
}

/// Writes alerts in a format.
pub fn write_export(
    out: &mut impl Write,
    alerts: &[Alert],
    format: ExportFormat,
    o: &ExportOptions,
) -> Res<()> {
    match format {
        ExportFormat::Jsonl => {
            for a in alerts {
                serde_json::to_writer(&mut *out, a)?;
                writeln!(out)?;
            }
        }
        ExportFormat::Defender => writeln!(out, "{}", defender::to_list_json(alerts)?)?,
        ExportFormat::Ocsf => out.write_all(ocsf::to_json_lines(alerts)?.as_bytes())?,
        ExportFormat::Cef => {
            out.write_all(cef::to_lines(alerts, o.syslog_host.as_deref()).as_bytes())?
        }
        ExportFormat::Asff => {
            out.write_all(asff::to_json_lines(alerts, &asff_target(o)?)?.as_bytes())?
        }
        ExportFormat::Graph => writeln!(out, "{}", graph::to_json(alerts)?)?,
    }
    Ok(())
}

/// Parses a file's text in a format; `defender` parses Defender JSON (the CLI's own reader,
/// with its progress bar). With `Auto`, the format is detected and never guessed.
pub fn parse_import(
    text: &str,
    format: ImportFormat,
    defender: impl FnOnce(&str) -> Result<Vec<Alert>, String>,
) -> Result<Vec<Alert>, String> {
    let format = match format {
        ImportFormat::Auto => match core_formats::detect(text) {
            Ok(f) => f,
            Err(e) => {
                // An empty list (`{"value": []}`, `[]`) holds no alert in any format.
                return match defender(text) {
                    Ok(alerts) if alerts.is_empty() => Ok(alerts),
                    _ => Err(format!("{e} (pass --format defender, ocsf, asff or graph)")),
                };
            }
        },
        ImportFormat::Defender => Format::Defender,
        ImportFormat::Ocsf => Format::Ocsf,
        ImportFormat::Asff => Format::Asff,
        ImportFormat::Graph => Format::Graph,
    };
    let parsed = match format {
        Format::Ocsf => ocsf::parse(text),
        Format::Asff => asff::parse(text),
        Format::Graph => graph::parse(text),
        _ => return defender(text),
    };
    parsed.map_err(|e| format!("{format}: {e}"))
}
