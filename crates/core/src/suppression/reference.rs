//! The reference matcher: a plain loop over every rule, interpreting each condition directly.
//!
//! It exists to be obviously right, not fast: the compiled [`super::RuleSet`] is tested
//! against it on random rules and alerts, and benchmarks use it as the `naive` baseline. It
//! shares only the rule checking (so both accept the same rules) and the field-path reader.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde_json::Value;

use super::cond::{Net, anchored_regex};
use super::index::compile_all;
use super::path::{FieldPath, Presence};
use super::rule::{EntityAbsence, RuleState};
use super::{RuleError, SuppressionRule};
use crate::Alert;

#[derive(Debug)]
enum Naive {
    Test {
        path: FieldPath,
        op: String,
        values: Vec<String>,
        case_sensitive: bool,
        regexes: Vec<Regex>,
    },
    All(Vec<Naive>),
    Any(Vec<Naive>),
    Not(Box<Naive>),
}

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum T3 {
    Yes,
    No,
    Unknown,
}

/// Lower-case, character by character, with the long s as `s` (docs/suppression.md).
fn lower(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\u{17F}' { 's' } else { c })
        .flat_map(char::to_lowercase)
        .collect()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Builds the naive tree from a condition that `compile_all` already accepted.
fn build(c: &serde_json::Map<String, Value>) -> Option<Naive> {
    if let Some(Value::Array(items)) = c.get("allOf") {
        return items
            .iter()
            .map(|i| i.as_object().and_then(build))
            .collect::<Option<Vec<_>>>()
            .map(Naive::All);
    }
    if let Some(Value::Array(items)) = c.get("anyOf") {
        return items
            .iter()
            .map(|i| i.as_object().and_then(build))
            .collect::<Option<Vec<_>>>()
            .map(Naive::Any);
    }
    if let Some(Value::Object(inner)) = c.get("not") {
        return build(inner).map(|n| Naive::Not(Box::new(n)));
    }
    let path = FieldPath::parse(c.get("field")?.as_str()?).ok()?;
    let case_sensitive = c
        .get("caseSensitive")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let (op, v) = c
        .iter()
        .find(|(k, _)| *k != "field" && *k != "caseSensitive")?;
    let values: Vec<String> = match v {
        Value::Array(a) => a.iter().map(text).collect(),
        other => vec![text(other)],
    };
    let regexes = if op == "regex" {
        values
            .iter()
            .map(|p| anchored_regex(p, case_sensitive).ok())
            .collect::<Option<Vec<_>>>()?
    } else if op == "wildcard" {
        // Independent of the compiled matcher's glob: translate to a regex over folded text.
        values
            .iter()
            .map(|p| {
                let p = if case_sensitive { p.clone() } else { lower(p) };
                let mut re = String::from("(?s)^");
                for ch in p.chars() {
                    match ch {
                        '*' => re.push_str(".*"),
                        '?' => re.push('.'),
                        c => re.push_str(&regex::escape(&c.to_string())),
                    }
                }
                re.push('$');
                Regex::new(&re).ok()
            })
            .collect::<Option<Vec<_>>>()?
    } else {
        Vec::new()
    };
    Some(Naive::Test {
        path,
        op: op.clone(),
        values,
        case_sensitive,
        regexes,
    })
}

fn test_value(op: &str, needles: &[String], regexes: &[Regex], cs: bool, v: &str) -> bool {
    let norm = |s: &str| if cs { s.to_owned() } else { lower(s) };
    let v_n = norm(v);
    match op {
        "in" | "equals" => needles.iter().any(|n| norm(n) == v_n),
        "contains" => needles.iter().any(|n| v_n.contains(&norm(n))),
        "startsWith" => needles.iter().any(|n| v_n.starts_with(&norm(n))),
        "endsWith" => needles.iter().any(|n| v_n.ends_with(&norm(n))),
        "wildcard" => regexes.iter().any(|r| r.is_match(&v_n)),
        "regex" => regexes.iter().any(|r| r.is_match(v)),
        "cidr" => v.trim().parse::<IpAddr>().is_ok_and(|ip| {
            needles
                .iter()
                .filter_map(|n| Net::parse(n))
                .any(|n| n.contains(ip))
        }),
        _ => false,
    }
}

fn eval(n: &Naive, alert: &Alert, absent_match: bool) -> T3 {
    match n {
        Naive::Test {
            path,
            op,
            values,
            case_sensitive,
            regexes,
        } => {
            let mut found = Vec::new();
            let presence = path.resolve(alert, &mut found);
            if op == "exists" {
                let want = values.first().is_some_and(|v| v == "true");
                return if found.is_empty() != want {
                    T3::Yes
                } else {
                    T3::No
                };
            }
            if found.is_empty() {
                return if presence == Presence::NoEntityOfType && absent_match {
                    T3::Yes
                } else {
                    T3::Unknown
                };
            }
            if found
                .iter()
                .any(|v| test_value(op, values, regexes, *case_sensitive, v))
            {
                T3::Yes
            } else {
                T3::No
            }
        }
        Naive::Not(inner) => match eval(inner, alert, absent_match) {
            T3::Yes => T3::No,
            T3::No => T3::Yes,
            T3::Unknown => T3::Unknown,
        },
        Naive::All(items) => all(items, alert, absent_match),
        Naive::Any(items) => {
            let r: Vec<T3> = items.iter().map(|i| eval(i, alert, absent_match)).collect();
            if r.contains(&T3::Yes) {
                T3::Yes
            } else if r.contains(&T3::Unknown) {
                T3::Unknown
            } else {
                T3::No
            }
        }
    }
}

fn all(items: &[Naive], alert: &Alert, absent_match: bool) -> T3 {
    let r: Vec<T3> = items.iter().map(|i| eval(i, alert, absent_match)).collect();
    if r.contains(&T3::No) {
        T3::No
    } else if r.contains(&T3::Unknown) {
        T3::Unknown
    } else {
        T3::Yes
    }
}

/// Matches by looping over every rule. See the [module docs](self).
#[derive(Debug)]
pub struct ReferenceMatcher {
    rules: Vec<SuppressionRule>,
    trees: Vec<Vec<Naive>>,
}

impl ReferenceMatcher {
    /// Checks the rules exactly as [`super::RuleSet::compile`] does, and keeps them.
    pub fn new(rules: Vec<SuppressionRule>) -> Result<ReferenceMatcher, RuleError> {
        compile_all(&rules)?;
        let trees = rules
            .iter()
            .map(|r| r.conditions().iter().filter_map(|c| build(&c.0)).collect())
            .collect();
        Ok(ReferenceMatcher { rules, trees })
    }

    /// Every rule matching `alert` at `at`, in rule order.
    pub fn matching(&self, alert: &Alert, at: DateTime<Utc>) -> Vec<&SuppressionRule> {
        self.rules
            .iter()
            .zip(&self.trees)
            .filter(|(rule, tree)| {
                rule.state() == RuleState::Enabled
                    && rule.expiration().is_none_or(|e| at < e)
                    && (rule.alert_type().trim() == "*"
                        || rule
                            .alert_type()
                            .trim()
                            .eq_ignore_ascii_case(alert.alert_type()))
                    && all(
                        tree,
                        alert,
                        rule.when_entity_absent() == EntityAbsence::Match,
                    ) == T3::Yes
            })
            .map(|(rule, _)| rule)
            .collect()
    }
}
