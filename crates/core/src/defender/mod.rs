//! Microsoft Defender for Cloud REST JSON, in and out.
//!
//! [`parse_alerts`] reads what Defender's alerts API returns — one alert resource, a list response
//! `{"value": […], "nextLink": …}`, or a plain JSON array of resources — and the variants real
//! documents show:
//!
//! - keys in any case (2020-01-01 resource identifiers and the workflow-automation export event
//!   use PascalCase);
//! - `timeGenerated` / `processingEndTime` without the `Utc` suffix; timestamps with 0–9
//!   fractional digits, a `Z`, an offset (converted to UTC) or no zone at all (read as UTC);
//! - `null` for an absent optional value; status `New` (read as `Active`);
//! - `intent` as a comma-separated list, a JSON array, or a JSON array encoded in a string;
//! - `remediationSteps` as the legacy single string (split into lines);
//! - the flat export event, with the alert's properties at the top level instead of under
//!   `properties`;
//! - unknown properties anywhere: kept, and written back by the alert's `Serialize`.
//!
//! A `nextLink` is not followed (the crate does no I/O); fetch the next page and parse it too.
//!
//! Errors name the path of the offending value:
//!
//! ```
//! let err = vigil_core::defender::parse_alerts(
//!     r#"{"properties": {"alertType": "X", "systemAlertId": "1", "alertDisplayName": "x",
//!         "severity": "Hgh", "timeGeneratedUtc": "2024-01-01T00:00:00Z"}}"#,
//! )
//! .unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     r#"properties.severity: unknown severity "Hgh" (expected Informational, Low, Medium or High)"#
//! );
//! ```

use serde_json::Value;

use crate::entity::kind_of;
use crate::suppression::SuppressionRule;
use crate::{Alert, Error};

mod alert;
mod rule;

pub(crate) use alert::alert_from_value;

/// Parses Defender alert JSON: one alert resource, a list response `{"value": […]}`, or a JSON
/// array of resources. See the [module docs](self) for the variants accepted.
///
/// All or nothing: if any alert in the document is malformed, the error names it and no alert
/// is returned.
pub fn parse_alerts(json: &str) -> Result<Vec<Alert>, Error> {
    alerts_from_value(crate::json::parse(json)?)
}

/// Reads a stream of alerts as the command line and pipelines hand them over: one Defender
/// document (anything [`parse_alerts`] accepts) or JSON lines (one document per line; blank
/// lines skipped). A leading byte-order mark is skipped. An error in JSON lines names its
/// 1-based line ([`Error::Line`]). All or nothing, like [`parse_alerts`].
///
/// ```
/// use vigil_core::defender::read_alerts;
///
/// let one = r#"{"alertType": "A", "systemAlertId": "1", "alertDisplayName": "a", "severity": "Low", "timeGeneratedUtc": "2024-01-01T00:00:00Z"}"#;
/// let lines = format!("\u{feff}{one}\n\n{}\n", one.replace("\"1\"", "\"2\""));
/// assert_eq!(read_alerts(&lines)?.len(), 2);
///
/// let bad = format!("{one}\n{}", one.replace("Low", "Lowest"));
/// assert!(read_alerts(&bad).unwrap_err().to_string().starts_with("line 2: severity: unknown severity"));
/// # Ok::<(), vigil_core::Error>(())
/// ```
pub fn read_alerts(text: &str) -> Result<Vec<Alert>, Error> {
    let mut stream = AlertStream::new();
    for line in text.lines() {
        stream.push_line(line)?;
    }
    stream.finish()
}

/// Reads a stream of alerts a line at a time, as [`read_alerts`] reads a whole text, without
/// holding the text: JSON lines are parsed as each line arrives; a document spread over
/// several lines (pretty-printed JSON) is collected and parsed at [`AlertStream::finish`].
/// Which of the two it is follows from the first non-blank line: a complete JSON value on its
/// own starts JSON lines. The caller does the reading, so the crate stays free of I/O.
///
/// ```
/// use vigil_core::defender::AlertStream;
///
/// let mut stream = AlertStream::new();
/// for line in [
///     r#"{"alertType": "A", "systemAlertId": "1", "alertDisplayName": "a", "severity": "Low", "timeGeneratedUtc": "2024-01-01T00:00:00Z"}"#,
///     "",
///     r#"{"alertType": "A", "systemAlertId": "2", "alertDisplayName": "b", "severity": "High", "timeGeneratedUtc": "2024-01-01T00:00:00Z"}"#,
/// ] {
///     stream.push_line(line)?;
/// }
/// assert_eq!(stream.finish()?.len(), 2);
/// # Ok::<(), vigil_core::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct AlertStream {
    line: usize,
    mode: StreamMode,
    alerts: Vec<Alert>,
    pending: String,
}

#[derive(Debug, Default, PartialEq, Eq)]
enum StreamMode {
    #[default]
    Start,
    Lines,
    Document,
}

impl AlertStream {
    /// An empty stream.
    pub fn new() -> AlertStream {
        AlertStream::default()
    }

    /// Feeds the next line (without its line break). In JSON lines, an error names the line
    /// ([`Error::Line`]).
    pub fn push_line(&mut self, line: &str) -> Result<(), Error> {
        self.line += 1;
        let line = if self.line == 1 {
            crate::json::strip_bom(line)
        } else {
            line
        };
        match self.mode {
            StreamMode::Document => {
                self.pending.push_str(line);
                self.pending.push('\n');
                Ok(())
            }
            StreamMode::Start if line.trim().is_empty() => {
                self.pending.push('\n');
                Ok(())
            }
            // A complete JSON value on its own line (whatever else is wrong with it, such as a
            // duplicate key, which the strict parse then reports with its line) starts JSON
            // lines.
            StreamMode::Start if serde_json::from_str::<serde::de::IgnoredAny>(line).is_ok() => {
                self.mode = StreamMode::Lines;
                self.pending = String::new();
                let value = crate::json::parse(line).map_err(|e| self.at_line(e))?;
                self.take_value(value)
            }
            StreamMode::Start => {
                self.mode = StreamMode::Document;
                self.pending.push_str(line);
                self.pending.push('\n');
                Ok(())
            }
            StreamMode::Lines if line.trim().is_empty() => Ok(()),
            StreamMode::Lines => {
                let value = crate::json::parse(line).map_err(|e| self.at_line(e))?;
                self.take_value(value)
            }
        }
    }

    fn at_line(&self, error: Error) -> Error {
        Error::Line {
            line: self.line,
            error: Box::new(error),
        }
    }

    fn take_value(&mut self, value: Value) -> Result<(), Error> {
        let alerts = alerts_from_value(value).map_err(|e| self.at_line(e))?;
        self.alerts.extend(alerts);
        Ok(())
    }

    /// How many alerts were read so far (JSON lines only; a document is read at the end).
    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    /// `true` before any alert was read.
    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    /// Ends the stream: every alert, in order, or the error of a document read whole.
    pub fn finish(self) -> Result<Vec<Alert>, Error> {
        match self.mode {
            StreamMode::Document => alerts_from_value(crate::json::parse(&self.pending)?),
            // Nothing but blank lines: what parsing an empty document says.
            StreamMode::Start => alerts_from_value(crate::json::parse(&self.pending)?),
            StreamMode::Lines => Ok(self.alerts),
        }
    }
}

/// Like [`parse_alerts`], for a document that was already parsed into a [`serde_json::Value`].
pub fn alerts_from_value(value: Value) -> Result<Vec<Alert>, Error> {
    resources(value, "alert", alert_from_value)
}

/// The resources of a Defender document: one resource, a list response `{"value": [...]}` or a
/// JSON array, each read by `read` with its path for error messages.
fn resources<T>(
    value: Value,
    what: &str,
    read: impl Fn(Value, &str) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    match value {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| read(v, &format!("[{i}]")))
            .collect(),
        Value::Object(mut map) => {
            let list_key = map
                .keys()
                .find(|k| k.eq_ignore_ascii_case("value"))
                .cloned();
            match list_key.and_then(|k| map.remove(&k).map(|v| (k, v))) {
                Some((key, Value::Array(items))) => items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| read(v, &format!("{key}[{i}]")))
                    .collect(),
                Some((key, other)) => Err(Error::document(
                    key,
                    format!(
                        "expected the list of {what}s (an array), found {}",
                        kind_of(&other)
                    ),
                )),
                None => Ok(vec![read(Value::Object(map), "")?]),
            }
        }
        other => Err(Error::document(
            "(root)",
            format!(
                "expected {} {what} resource, a {{\"value\": [...]}} list or an array of {what}s, found {}",
                if what.starts_with(['a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                },
                kind_of(&other)
            ),
        )),
    }
}

/// Parses Defender suppression-rule JSON (`Microsoft.Security/alertsSuppressionRules`): one rule
/// resource, a list response `{"value": […]}`, or a JSON array of resources. Both the `…Utc` and
/// `…UTC` spellings of the timestamps are accepted. Conditions are kept as written and checked by
/// [`crate::suppression::RuleSet::compile`].
///
/// ```
/// let rules = vigil_core::defender::parse_suppression_rules(r#"{
///   "name": "dismissIpAnomalyAlerts",
///   "properties": {
///     "alertType": "IpAnomaly", "reason": "FalsePositive", "state": "Enabled",
///     "expirationDateUTC": "2019-12-01T19:50:47.083633Z",
///     "suppressionAlertsScope": {"allOf": [{"field": "entities.ip.address", "in": ["52.164.206.56"]}]}
///   }
/// }"#)?;
/// assert_eq!(rules[0].name(), "dismissIpAnomalyAlerts");
/// # Ok::<(), vigil_core::Error>(())
/// ```
pub fn parse_suppression_rules(json: &str) -> Result<Vec<SuppressionRule>, Error> {
    let value = crate::json::parse(json)?;
    resources(value, "suppression rule", rule::rule_from_value)
}

/// Serializes one alert as a 2022-01-01 resource.
pub fn to_json(alert: &Alert) -> Result<String, Error> {
    Ok(serde_json::to_string(alert)?)
}

/// Serializes alerts as a list response, `{"value": […]}`, which [`parse_alerts`] reads back.
pub fn to_list_json(alerts: &[Alert]) -> Result<String, Error> {
    #[derive(serde::Serialize)]
    struct List<'a> {
        value: &'a [Alert],
    }
    Ok(serde_json::to_string(&List { value: alerts })?)
}

pub(crate) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}
