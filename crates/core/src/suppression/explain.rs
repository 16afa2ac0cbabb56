//! Explanations: why a rule does or does not match an alert.

use std::fmt;

use chrono::{DateTime, Utc};

use super::SuppressionRule;
use super::compiled::Compiled;
use super::cond::{Cond, Ctx, Truth, eval_test};
use super::path::FieldPath;
use super::rule::RuleState;
use crate::Alert;
use crate::time::format_time;

/// One condition's outcome in an [`Explanation`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionTrace {
    /// Where in the rule: `"0"`, `"1.anyOf[0]"`, `"2.not"`.
    pub condition: String,
    /// A description of the condition: `entities.ip.address in ["10.0.0.1"]`, or the
    /// combinator (`anyOf`, `allOf`, `not`).
    pub description: String,
    /// The outcome.
    pub outcome: Truth,
    /// For a field test that held, the alert value that satisfied it.
    pub matched_value: Option<String>,
    /// For a field test, the alert's values at the field (at most ten).
    pub values: Vec<String>,
}

/// Why a rule does or does not match an alert; see [`super::RuleSet::explain`]. `Display` gives
/// a readable account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    rule: String,
    alert: String,
    matched: bool,
    checks: Vec<(String, bool)>,
    conditions: Vec<ConditionTrace>,
}

impl Explanation {
    /// `true` if the rule matches the alert.
    pub fn matched(&self) -> bool {
        self.matched
    }

    /// The rule-level checks (state, expiry, alert type): a description and whether it passed.
    pub fn checks(&self) -> &[(String, bool)] {
        &self.checks
    }

    /// Every condition and nested part, in order.
    pub fn conditions(&self) -> &[ConditionTrace] {
        &self.conditions
    }
}

fn quote_list(values: &[String]) -> String {
    let q: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    if q.len() == 1 {
        q.into_iter().next().unwrap_or_default()
    } else {
        format!("[{}]", q.join(", "))
    }
}

fn outcome(t: Truth) -> &'static str {
    match t {
        Truth::True => "holds",
        Truth::False => "fails",
        Truth::Absent => "absent (the alert has no value there)",
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "rule {:?} {} alert {}",
            self.rule,
            if self.matched {
                "matches"
            } else {
                "does not match"
            },
            self.alert
        )?;
        for (text, ok) in &self.checks {
            writeln!(f, "  [{}] {text}", if *ok { "ok" } else { "no" })?;
        }
        for c in &self.conditions {
            let depth = c.condition.matches('.').count();
            let indent = "  ".repeat(depth + 1);
            write!(
                f,
                "{indent}condition {}: {} — {}",
                c.condition,
                c.description,
                outcome(c.outcome)
            )?;
            if let Some(v) = &c.matched_value {
                write!(f, " on value {v:?}")?;
            } else if !c.values.is_empty() {
                write!(f, "; values seen: {}", quote_list(&c.values))?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

fn trace(
    c: &Cond,
    at: String,
    ctx: &mut Ctx<'_>,
    absent_match: bool,
    out: &mut Vec<ConditionTrace>,
) -> Truth {
    match c {
        Cond::Test(t) => {
            let (truth, matched_value) = eval_test(t, ctx, absent_match);
            let values = ctx
                .raw(t.field)
                .map(|(r, _)| r.iter().take(10).map(|v| v.to_string()).collect())
                .unwrap_or_default();
            let cs = if t.case_sensitive {
                " (case-sensitive)"
            } else {
                ""
            };
            out.push(ConditionTrace {
                condition: at,
                description: format!(
                    "{} {} {}{cs}",
                    t.field_text,
                    t.op_name,
                    quote_list(t.written())
                ),
                outcome: truth,
                matched_value,
                values,
            });
            truth
        }
        Cond::Not(inner) => {
            let slot = out.len();
            out.push(ConditionTrace {
                condition: at.clone(),
                description: "not".into(),
                outcome: Truth::Absent,
                matched_value: None,
                values: Vec::new(),
            });
            let t = match trace(inner, format!("{at}.not"), ctx, absent_match, out) {
                Truth::True => Truth::False,
                Truth::False => Truth::True,
                Truth::Absent => Truth::Absent,
            };
            if let Some(s) = out.get_mut(slot) {
                s.outcome = t;
            }
            t
        }
        Cond::All(items) | Cond::Any(items) => {
            let all = matches!(c, Cond::All(_));
            let key = if all { "allOf" } else { "anyOf" };
            let slot = out.len();
            out.push(ConditionTrace {
                condition: at.clone(),
                description: key.into(),
                outcome: Truth::Absent,
                matched_value: None,
                values: Vec::new(),
            });
            let results: Vec<Truth> = items
                .iter()
                .enumerate()
                .map(|(i, x)| trace(x, format!("{at}.{key}[{i}]"), ctx, absent_match, out))
                .collect();
            let t = combine(all, &results);
            if let Some(s) = out.get_mut(slot) {
                s.outcome = t;
            }
            t
        }
    }
}

fn combine(all: bool, results: &[Truth]) -> Truth {
    let (win, lose) = if all {
        (Truth::False, Truth::True)
    } else {
        (Truth::True, Truth::False)
    };
    if results.contains(&win) {
        win
    } else if results.contains(&Truth::Absent) {
        Truth::Absent
    } else {
        lose
    }
}

pub(crate) fn explain(
    rule: &SuppressionRule,
    c: &Compiled,
    fields: &[FieldPath],
    alert: &Alert,
    at: DateTime<Utc>,
) -> Explanation {
    let mut checks = Vec::new();
    let state = rule.state_at(at);
    checks.push((format!("state is {state}"), state == RuleState::Enabled));
    match rule.expiration() {
        Some(e) => checks.push((
            format!(
                "expires {} (checked at {})",
                format_time(&e),
                format_time(&at)
            ),
            at < e,
        )),
        None => checks.push(("never expires".into(), true)),
    }
    let type_ok = rule.is_any_type()
        || rule
            .alert_type()
            .trim()
            .eq_ignore_ascii_case(alert.alert_type());
    checks.push((
        if rule.is_any_type() {
            "applies to every alert type (\"*\")".to_owned()
        } else {
            format!(
                "alert type {:?} vs the alert's {:?}",
                rule.alert_type(),
                alert.alert_type()
            )
        },
        type_ok,
    ));
    let mut ctx = Ctx::new(alert, fields);
    let mut conditions = Vec::new();
    let results: Vec<Truth> = c
        .conds
        .iter()
        .enumerate()
        .map(|(i, x)| trace(x, i.to_string(), &mut ctx, c.absent_match, &mut conditions))
        .collect();
    let conds_ok = combine(true, &results) == Truth::True;
    Explanation {
        rule: rule.name().to_owned(),
        alert: alert.system_alert_id().to_string(),
        matched: checks.iter().all(|(_, ok)| *ok) && conds_ok,
        checks,
        conditions,
    }
}
