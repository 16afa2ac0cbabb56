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
    let text = crate::json::strip_bom(text);
    let whole_err = match crate::json::parse(text) {
        Ok(v) => return alerts_from_value(v),
        Err(e) => e,
    };
    // JSON lines, if the first non-blank line is a JSON document on its own.
    let first = text.lines().find(|l| !l.trim().is_empty());
    if first.is_none_or(|l| serde_json::from_str::<serde::de::IgnoredAny>(l).is_err()) {
        return Err(whole_err);
    }
    let mut alerts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = |error: Error| Error::Line {
            line: i + 1,
            error: Box::new(error),
        };
        let value = crate::json::parse(line).map_err(at)?;
        alerts.extend(alerts_from_value(value).map_err(at)?);
    }
    Ok(alerts)
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
