//! Rule-level checks: what makes an alert type valid, the lints a rule earns as a whole, and the
//! admission check every new rule passes ([`admit`]).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::cond::get;
use super::{RuleSet, RuleWarning, SuppressionRule};
use crate::Error;

/// Why `t` cannot be an alert type, if it cannot. Alert types are opaque text: Defender's own
/// reference lists `AppServices_KnownCredential AccessTools`, with a space, so any non-empty
/// text without control characters is a type.
pub fn alert_type_problem(t: &str) -> Option<&'static str> {
    if t.trim().is_empty() {
        Some("the alert type must not be empty (a rule may use \"*\" for every type)")
    } else if t.chars().any(char::is_control) {
        Some("the alert type must not hold control characters (NUL, line breaks, escapes, …)")
    } else {
        None
    }
}

/// The lints of a rule as a whole (its conditions are linted as they compile); each is a
/// `(condition, message)` pair as in [`RuleWarning`].
pub(crate) fn rule_warnings(rule: &SuppressionRule) -> Vec<(Option<String>, String)> {
    let mut out = Vec::new();
    let t = rule.alert_type();
    if t != "*" && t.contains('*') {
        out.push((
            None,
            format!(
                "alert type {t:?} holds \"*\", but alert types compare literally: the rule \
                 matches only alerts whose type is exactly {t:?} (write \"*\" for every type, or \
                 one rule per type)"
            ),
        ));
    }
    if rule.is_any_type() {
        if rule.conditions().is_empty() {
            out.push((
                None,
                "alert type \"*\" with no conditions suppresses every alert".into(),
            ));
        }
        if rule.expiration().is_none() {
            out.push((
                None,
                "alert type \"*\" with no expiry suppresses across every alert type forever; set expirationDateUtc".into(),
            ));
        }
    }
    if let [only] = rule.conditions()
        && get(&only.0, "exists") == Some(&Value::Bool(true))
    {
        let field = get(&only.0, "field").and_then(Value::as_str).unwrap_or("?");
        out.push((
            Some("0".into()),
            format!(
                "field \"{field}\": \"exists\": true is the only condition, so the rule matches \
                 every alert of its type that has the field"
            ),
        ));
    }
    if !rule.conditions().is_empty()
        && rule
            .conditions()
            .iter()
            .all(|c| condition_matches_all(&c.0))
    {
        out.push((
            None,
            format!(
                "every condition matches every value, so the rule matches every alert of {}",
                if rule.is_any_type() {
                    "every type".to_owned()
                } else {
                    format!("type {t:?}")
                }
            ),
        ));
    }
    out
}

/// `true` for a condition that holds for every value of its field: `wildcard "*"`, a regex such
/// as `.*`, or `cidr 0.0.0.0/0` / `::/0` (a value in a list is enough).
fn condition_matches_all(c: &crate::JsonMap) -> bool {
    let any = |v: &Value, f: &dyn Fn(&str) -> bool| -> bool {
        match v {
            Value::String(s) => f(s),
            Value::Array(a) => a.iter().filter_map(Value::as_str).any(f),
            _ => false,
        }
    };
    if let Some(v) = get(c, "wildcard") {
        return any(v, &|p| !p.is_empty() && p.chars().all(|c| c == '*'));
    }
    if let Some(v) = get(c, "regex") {
        return any(v, &super::cond::matches_everything);
    }
    if let Some(v) = get(c, "cidr") {
        return any(v, &|n| n.trim().ends_with("/0"));
    }
    false
}

/// `true` if the rule, while enabled and unexpired, would suppress every alert of every type:
/// alert type `*` with no conditions, or only conditions that match every value.
pub fn suppresses_everything(rule: &SuppressionRule) -> bool {
    rule.is_any_type()
        && rule
            .conditions()
            .iter()
            .all(|c| condition_matches_all(&c.0))
}

/// Checks a rule about to be created or replaced at `at`: it must compile, and a rule that would
/// suppress every alert of every type ([`suppresses_everything`]) is refused unless `force` is
/// set. Returns every lint — the compile lints plus one for a rule already expired at `at` — so
/// that whoever creates the rule can show them at once.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use vigil_core::suppression::{admit, Condition, SuppressionReason, SuppressionRule};
///
/// let at = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
/// let everything = SuppressionRule::builder("all", "*", SuppressionReason::Noise).build();
/// assert!(admit(&everything, at, false).is_err());
/// assert!(!admit(&everything, at, true)?.is_empty()); // forced, with its lints
///
/// let stale = SuppressionRule::builder("old", "VM_EICAR", SuppressionReason::FalsePositive)
///     .condition(Condition::equals("entities.host.hostname", "vm1"))
///     .expires_at(Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap())
///     .build();
/// let lints = admit(&stale, at, false)?;
/// assert!(lints[0].message.contains("already expired"));
/// # Ok::<(), vigil_core::Error>(())
/// ```
pub fn admit(
    rule: &SuppressionRule,
    at: DateTime<Utc>,
    force: bool,
) -> Result<Vec<RuleWarning>, Error> {
    let set = RuleSet::compile([rule.clone()])?;
    if !force && suppresses_everything(rule) {
        return Err(Error::Refused {
            what: format!("rule {:?}", rule.name()),
            reason: "it would suppress every alert of every type (alert type \"*\" and no \
                     condition that narrows it); add conditions or a specific alert type, or \
                     force it"
                .into(),
        });
    }
    let mut lints = set.warnings().to_vec();
    if let Some(e) = rule.expiration()
        && e <= at
    {
        lints.push(RuleWarning {
            rule: rule.name().to_owned(),
            condition: None,
            message: format!(
                "the rule already expired at {} and will never suppress anything; set a later \
                 expirationDateUtc",
                crate::time::format_time(&e)
            ),
        });
    }
    Ok(lints)
}
