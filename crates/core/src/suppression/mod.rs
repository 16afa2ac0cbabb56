//! Suppression rules ("suppress similar alerts") and the compiled matcher that applies them.
//!
//! A [`SuppressionRule`] is Defender for Cloud's rule resource with Vigil's richer conditions
//! (see `docs/suppression.md` for the language). Rules only match once compiled into a
//! [`RuleSet`], which checks them all and reports every problem at once, then matches an alert
//! against thousands of rules at a cost that grows slowly with their number: rules are
//! partitioned by alert type, and inside a partition every selective
//! necessary condition of each rule is indexed (exact values in hash maps; substrings,
//! prefixes, suffixes, wildcard literals and the literals a regex requires in one Aho-Corasick
//! automaton per field; CIDR networks in per-prefix hash maps). Each of the alert's values is
//! probed once: the exact tables and automata ignore ASCII case, so ASCII values are probed as
//! they are and only others are folded first. A rule is a candidate once all its indexed
//! conditions are seen (counting them, as in Whang et al., "Indexing Boolean Expressions"), and
//! only the conditions an index hit does not prove are checked. [`budget`] bounds what one
//! rule or one set may ask. Regexes are checked when compiled but built on first use.
//! [`reference::ReferenceMatcher`] is the plain loop the compiled matcher is tested against.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use vigil_core::{Alert, AlertId, Entity, Severity};
//! use vigil_core::suppression::{Condition, RuleSet, SuppressionReason, SuppressionRule};
//!
//! let rule = SuppressionRule::builder("test-vms", "VM_EICAR", SuppressionReason::FalsePositive)
//!     .condition(Condition::starts_with("entities.host.hostname", "test-"))
//!     .build();
//! let rules = RuleSet::compile([rule])?;
//!
//! let at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
//! let alert = Alert::builder(AlertId::new("a1")?, "VM_EICAR", "Test alert", Severity::High, at)
//!     .entity(Entity::host("TEST-vm7"))
//!     .build();
//! assert_eq!(rules.first_match(&alert, at).map(|r| r.name()), Some("test-vms"));
//!
//! // Why? Ask.
//! let why = rules.explain("test-vms", &alert, at).unwrap();
//! assert!(why.matched());
//! println!("{why}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod budget;
mod compiled;
mod cond;
mod eval;
mod exact;
mod explain;
mod index;
mod lint;
mod path;
pub mod reference;
mod regexes;
mod rule;

use std::fmt;

pub use cond::Truth;
pub use explain::{ConditionTrace, Explanation};
pub use index::RuleSet;
pub use lint::{admit, alert_type_problem, suppresses_everything};
pub use rule::{
    Condition, EntityAbsence, RULE_RESOURCE_TYPE, RuleState, SuppressionReason, SuppressionRule,
    SuppressionRuleBuilder,
};

/// One problem in one rule, found by [`RuleSet::compile`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuleProblem {
    /// The rule's name.
    pub rule: String,
    /// Where in the rule's conditions: the index in `allOf` (`"1"`), then nested parts
    /// (`"1.anyOf[0]"`, `"2.not"`). `None` for problems with the rule itself.
    pub condition: Option<String>,
    /// The field path the condition names, if any.
    pub field: Option<String>,
    /// What is wrong, and what to write instead.
    pub message: String,
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {:?}", self.rule)?;
        if let Some(c) = &self.condition {
            write!(f, ": condition {c}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field {field:?}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A rule that compiles but is probably broader than meant (a lint, not an error).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuleWarning {
    /// The rule's name.
    pub rule: String,
    /// Where in the rule's conditions, as in [`RuleProblem::condition`].
    pub condition: Option<String>,
    /// What is over-broad.
    pub message: String,
}

impl fmt::Display for RuleWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {:?}", self.rule)?;
        if let Some(c) = &self.condition {
            write!(f, ": condition {c}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in a set of rules; nothing was compiled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} problem(s) in suppression rules:\n{}", .problems.len(), list(.problems))]
pub struct RuleError {
    problems: Vec<RuleProblem>,
}

fn list(problems: &[RuleProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl RuleError {
    /// The problems, in rule order.
    pub fn problems(&self) -> &[RuleProblem] {
        &self.problems
    }
}

/// "Suppress similar alerts": a rule prefilled from an alert — its alert type, plus one `in`
/// condition per field path the caller picks, holding the alert's values at that path.
///
/// Each path must be a valid field path that has at least one value in the alert (otherwise the
/// rule would not describe this alert); the error names the path.
///
/// ```
/// use chrono::Utc;
/// use vigil_core::{Alert, AlertId, Entity, Severity};
/// use vigil_core::suppression::{RuleSet, SuppressionReason, similar_rule};
///
/// let alert = Alert::builder(AlertId::new("a1")?, "VM_EICAR", "EICAR", Severity::High, Utc::now())
///     .entity(Entity::ip("10.0.0.5"))
///     .entity(Entity::host("build-agent-3"))
///     .build();
/// let rule = similar_rule(&alert, "build-agents", SuppressionReason::from_text("BenignPositive"), &["entities.host.hostname"])?;
/// assert_eq!(rule.alert_type(), "VM_EICAR");
/// assert!(RuleSet::compile([rule])?.is_suppressed(&alert, Utc::now()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn similar_rule(
    alert: &crate::Alert,
    name: &str,
    reason: SuppressionReason,
    fields: &[&str],
) -> Result<SuppressionRule, crate::Error> {
    let mut b = SuppressionRule::builder(name, alert.alert_type(), reason).comment(format!(
        "similar to alert {} ({})",
        alert.system_alert_id(),
        alert.display_name()
    ));
    for field in fields {
        let path = path::FieldPath::parse(field)
            .map_err(|m| crate::Error::invalid("field path", *field, m))?;
        let mut values = Vec::new();
        path.resolve(alert, &mut values);
        let mut values: Vec<String> = values.into_iter().map(|v| v.into_owned()).collect();
        values.sort();
        values.dedup();
        if values.is_empty() {
            return Err(crate::Error::invalid(
                "field path",
                *field,
                format!(
                    "alert {} has no value at this path; pick a field the alert has",
                    alert.system_alert_id()
                ),
            ));
        }
        b = b.condition(Condition::is_in(field, values));
    }
    Ok(b.build())
}
