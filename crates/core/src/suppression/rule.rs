//! The suppression rule resource.

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::JsonMap;

/// Whether a rule is in force, as stored.
///
/// Only [`RuleState::Enabled`] rules match. A rule past its expiry reads
/// [`RuleState::Expired`] from [`SuppressionRule::state_at`] whatever its stored state.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RuleState {
    /// In force.
    Enabled,
    /// Switched off by a person.
    Disabled,
    /// Past its expiry date.
    Expired,
}

impl RuleState {
    /// The name Defender uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            RuleState::Enabled => "Enabled",
            RuleState::Disabled => "Disabled",
            RuleState::Expired => "Expired",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<RuleState> {
        [RuleState::Enabled, RuleState::Disabled, RuleState::Expired]
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for RuleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a rule suppresses alerts: the values Defender's portal and policy offer, and any other
/// text kept verbatim.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SuppressionReason {
    /// "The severity of the alert should be lower".
    AlertSeverityTooHigh,
    /// "The alert detects too many normal activities".
    FalsePositive,
    /// "Too noisy, hitting the same resources".
    Noise,
    /// "The resource isn't relevant to monitor".
    NotRelevant,
    /// "Normal activity on a specific entity".
    SpecificEntityFalsePositive,
    /// "Not actionable, or not clear how to investigate".
    Unclear,
    /// Any other text, e.g. `"BenignPositive"` or `"Other"`.
    Other(String),
}

const REASONS: [SuppressionReason; 6] = [
    SuppressionReason::AlertSeverityTooHigh,
    SuppressionReason::FalsePositive,
    SuppressionReason::Noise,
    SuppressionReason::NotRelevant,
    SuppressionReason::SpecificEntityFalsePositive,
    SuppressionReason::Unclear,
];

impl SuppressionReason {
    /// The reason's text.
    pub fn as_str(&self) -> &str {
        match self {
            SuppressionReason::AlertSeverityTooHigh => "AlertSeverityTooHigh",
            SuppressionReason::FalsePositive => "FalsePositive",
            SuppressionReason::Noise => "Noise",
            SuppressionReason::NotRelevant => "NotRelevant",
            SuppressionReason::SpecificEntityFalsePositive => "SpecificEntityFalsePositive",
            SuppressionReason::Unclear => "Unclear",
            SuppressionReason::Other(s) => s,
        }
    }

    /// The reason for a text: a named value (ignoring ASCII case), otherwise
    /// [`SuppressionReason::Other`] with the text kept.
    pub fn from_text(s: &str) -> SuppressionReason {
        REASONS
            .iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .cloned()
            .unwrap_or_else(|| SuppressionReason::Other(s.to_owned()))
    }
}

impl fmt::Display for SuppressionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an entity condition means on an alert that has no entity of the condition's type.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum EntityAbsence {
    /// The condition is *absent* and the rule does not match (the safe default).
    #[default]
    NoMatch,
    /// The condition holds, as Defender documents: alerts without that entity are suppressed.
    Match,
}

/// One condition of a rule, as written: a JSON object such as
/// `{"field": "entities.ip.address", "in": ["10.0.0.1"]}`.
///
/// Conditions are kept as written and checked by [`crate::suppression::RuleSet::compile`], which
/// reports every problem at once. The constructors build well-formed ones.
///
/// ```
/// use vigil_core::suppression::Condition;
///
/// let c = Condition::is_in("entities.ip.address", ["104.215.95.187", "52.164.206.56"]);
/// assert_eq!(
///     serde_json::to_string(&c)?,
///     r#"{"field":"entities.ip.address","in":["104.215.95.187","52.164.206.56"]}"#
/// );
/// let c = Condition::any_of([
///     Condition::starts_with("entities.host.hostname", "test-"),
///     Condition::cidr("entities.ip.address", "10.0.0.0/8"),
/// ]);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Condition(pub(crate) JsonMap);

impl Condition {
    /// A condition from its JSON object, kept as written (checked when the rule set compiles).
    ///
    /// ```
    /// use vigil_core::suppression::Condition;
    /// use vigil_core::{Value, json};
    ///
    /// let Value::Object(m) = json!({"field": "alertType", "equals": "VM_EICAR"}) else {
    ///     unreachable!()
    /// };
    /// let c = Condition::from_json(m);
    /// assert_eq!(c.as_json()["equals"], "VM_EICAR");
    /// ```
    pub fn from_json(condition: JsonMap) -> Condition {
        Condition(condition)
    }

    /// The condition's JSON object, as written.
    pub fn as_json(&self) -> &JsonMap {
        &self.0
    }

    /// The condition's JSON object, taken out.
    pub fn into_json(self) -> JsonMap {
        self.0
    }

    fn test(field: &str, op: &str, value: Value) -> Condition {
        let mut m = JsonMap::new();
        m.insert("field".into(), Value::String(field.to_owned()));
        m.insert(op.into(), value);
        Condition(m)
    }

    fn strings<I: IntoIterator<Item = S>, S: Into<String>>(values: I) -> Value {
        Value::Array(
            values
                .into_iter()
                .map(|v| Value::String(v.into()))
                .collect(),
        )
    }

    /// `{"field": F, "in": [values]}`: equals one of the values (Defender's "Equals").
    pub fn is_in<I: IntoIterator<Item = S>, S: Into<String>>(field: &str, values: I) -> Condition {
        Condition::test(field, "in", Condition::strings(values))
    }

    /// `{"field": F, "equals": v}`.
    pub fn equals(field: &str, value: impl Into<String>) -> Condition {
        Condition::test(field, "equals", Value::String(value.into()))
    }

    /// `{"field": F, "contains": v}` (Defender's "Contains").
    pub fn contains(field: &str, value: impl Into<String>) -> Condition {
        Condition::test(field, "contains", Value::String(value.into()))
    }

    /// `{"field": F, "startsWith": v}`.
    pub fn starts_with(field: &str, value: impl Into<String>) -> Condition {
        Condition::test(field, "startsWith", Value::String(value.into()))
    }

    /// `{"field": F, "endsWith": v}`.
    pub fn ends_with(field: &str, value: impl Into<String>) -> Condition {
        Condition::test(field, "endsWith", Value::String(value.into()))
    }

    /// `{"field": F, "wildcard": p}`: `*` and `?` glob over the whole value.
    pub fn wildcard(field: &str, pattern: impl Into<String>) -> Condition {
        Condition::test(field, "wildcard", Value::String(pattern.into()))
    }

    /// `{"field": F, "regex": r}`: a regular expression over the whole value.
    pub fn regex(field: &str, pattern: impl Into<String>) -> Condition {
        Condition::test(field, "regex", Value::String(pattern.into()))
    }

    /// `{"field": F, "cidr": n}`: an IP address inside network `n`.
    pub fn cidr(field: &str, network: impl Into<String>) -> Condition {
        Condition::test(field, "cidr", Value::String(network.into()))
    }

    /// `{"field": F, "exists": b}`.
    pub fn exists(field: &str, exists: bool) -> Condition {
        Condition::test(field, "exists", Value::Bool(exists))
    }

    /// `{"allOf": [...]}`.
    pub fn all_of(conditions: impl IntoIterator<Item = Condition>) -> Condition {
        Condition::combine("allOf", conditions)
    }

    /// `{"anyOf": [...]}`.
    pub fn any_of(conditions: impl IntoIterator<Item = Condition>) -> Condition {
        Condition::combine("anyOf", conditions)
    }

    /// `{"not": c}`.
    pub fn negate(condition: Condition) -> Condition {
        let mut m = JsonMap::new();
        m.insert("not".into(), Value::Object(condition.0));
        Condition(m)
    }

    fn combine(key: &str, conditions: impl IntoIterator<Item = Condition>) -> Condition {
        let mut m = JsonMap::new();
        m.insert(
            key.into(),
            Value::Array(conditions.into_iter().map(|c| Value::Object(c.0)).collect()),
        );
        Condition(m)
    }

    /// Makes a field test compare case-sensitively (`"caseSensitive": true`).
    pub fn case_sensitive(mut self) -> Condition {
        self.0.insert("caseSensitive".into(), Value::Bool(true));
        self
    }
}

/// A suppression rule: Defender's `alertsSuppressionRules` resource, with Vigil's extended
/// conditions. See `docs/suppression.md` for the full language.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use vigil_core::suppression::{Condition, RuleState, SuppressionReason, SuppressionRule};
///
/// let rule = SuppressionRule::builder("dismissIpAnomalyAlerts", "IpAnomaly", SuppressionReason::FalsePositive)
///     .condition(Condition::is_in("entities.ip.address", ["52.164.206.56"]))
///     .condition(Condition::contains("entities.process.commandline", "POWERSHELL.EXE"))
///     .expires_at(Utc.with_ymd_and_hms(2019, 12, 1, 19, 50, 47).unwrap())
///     .comment("Test VM")
///     .build();
/// assert_eq!(rule.name(), "dismissIpAnomalyAlerts");
/// assert_eq!(rule.state_at(Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap()), RuleState::Expired);
/// let json = serde_json::to_value(&rule)?;
/// assert_eq!(json["properties"]["suppressionAlertsScope"]["allOf"][1]["contains"], "POWERSHELL.EXE");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SuppressionRule {
    pub(crate) resource_id: Option<String>,
    pub(crate) name: String,
    pub(crate) resource_type: Option<String>,
    pub(crate) alert_type: String,
    pub(crate) reason: SuppressionReason,
    pub(crate) state: RuleState,
    pub(crate) expiration: Option<DateTime<Utc>>,
    pub(crate) last_modified: Option<DateTime<Utc>>,
    pub(crate) comment: Option<String>,
    pub(crate) when_entity_absent: EntityAbsence,
    pub(crate) conditions: Vec<Condition>,
    pub(crate) scope_extra: JsonMap,
    pub(crate) extra: JsonMap,
    pub(crate) envelope_extra: JsonMap,
}

/// The ARM resource type of a suppression rule.
pub const RULE_RESOURCE_TYPE: &str = "Microsoft.Security/alertsSuppressionRules";

impl SuppressionRule {
    /// Starts a rule: its name, the alert type it applies to (`*` for every type) and the
    /// reason. It starts [`RuleState::Enabled`], never expiring, with no conditions.
    pub fn builder(
        name: impl Into<String>,
        alert_type: impl Into<String>,
        reason: SuppressionReason,
    ) -> SuppressionRuleBuilder {
        let name = name.into();
        SuppressionRuleBuilder(SuppressionRule {
            resource_id: None,
            resource_type: Some(RULE_RESOURCE_TYPE.to_owned()),
            name,
            alert_type: alert_type.into(),
            reason,
            state: RuleState::Enabled,
            expiration: None,
            last_modified: None,
            comment: None,
            when_entity_absent: EntityAbsence::NoMatch,
            conditions: Vec::new(),
            scope_extra: JsonMap::new(),
            extra: JsonMap::new(),
            envelope_extra: JsonMap::new(),
        })
    }

    /// The rule's name: its identity (the ARM resource name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The ARM resource id, if the rule came from Defender.
    pub fn resource_id(&self) -> Option<&str> {
        self.resource_id.as_deref()
    }

    /// The alert type the rule applies to, or `*` for every type.
    pub fn alert_type(&self) -> &str {
        &self.alert_type
    }

    /// `true` if the rule applies to every alert type (`*`).
    pub fn is_any_type(&self) -> bool {
        self.alert_type.trim() == "*"
    }

    /// Why the rule suppresses.
    pub fn reason(&self) -> &SuppressionReason {
        &self.reason
    }

    /// The state as stored.
    pub fn state(&self) -> RuleState {
        self.state
    }

    /// The state at `at`: [`RuleState::Expired`] once `at` reaches the expiry, otherwise the
    /// stored state.
    pub fn state_at(&self, at: DateTime<Utc>) -> RuleState {
        match self.expiration {
            Some(e) if at >= e => RuleState::Expired,
            _ => self.state,
        }
    }

    /// `true` if the rule is Enabled and not expired at `at`.
    pub fn is_active_at(&self, at: DateTime<Utc>) -> bool {
        self.state_at(at) == RuleState::Enabled
    }

    /// When the rule stops matching (exclusive), if ever.
    pub fn expiration(&self) -> Option<DateTime<Utc>> {
        self.expiration
    }

    /// When the rule was last changed.
    pub fn last_modified(&self) -> Option<DateTime<Utc>> {
        self.last_modified
    }

    /// The free-text comment.
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// What an entity condition means on an alert without that entity type.
    pub fn when_entity_absent(&self) -> EntityAbsence {
        self.when_entity_absent
    }

    /// The conditions (`suppressionAlertsScope.allOf`), as written.
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// Properties Vigil does not model, kept verbatim.
    pub fn additional_properties(&self) -> &JsonMap {
        &self.extra
    }

    /// Sets the stored state (enabling or disabling the rule).
    pub fn set_state(&mut self, state: RuleState) {
        self.state = state;
    }

    /// Sets the last-modified time.
    pub fn set_last_modified(&mut self, at: DateTime<Utc>) {
        self.last_modified = Some(at);
    }

    /// Sets (or, with `None`, removes) the expiry: the rule matches only strictly before it.
    pub fn set_expiration(&mut self, at: Option<DateTime<Utc>>) {
        self.expiration = at;
    }
}

/// Builds a [`SuppressionRule`]; see [`SuppressionRule::builder`].
#[derive(Clone, Debug)]
#[must_use = "call build() to get the rule"]
pub struct SuppressionRuleBuilder(SuppressionRule);

impl SuppressionRuleBuilder {
    /// Adds a condition (all must hold).
    pub fn condition(mut self, c: Condition) -> Self {
        self.0.conditions.push(c);
        self
    }

    /// Sets the stored state.
    pub fn state(mut self, state: RuleState) -> Self {
        self.0.state = state;
        self
    }

    /// The rule stops matching at this instant.
    pub fn expires_at(mut self, at: DateTime<Utc>) -> Self {
        self.0.expiration = Some(at);
        self
    }

    /// A comment.
    pub fn comment(mut self, comment: impl Into<String>) -> Self {
        self.0.comment = Some(comment.into());
        self
    }

    /// Last-modified time.
    pub fn last_modified(mut self, at: DateTime<Utc>) -> Self {
        self.0.last_modified = Some(at);
        self
    }

    /// The ARM resource id.
    pub fn resource_id(mut self, id: impl Into<String>) -> Self {
        self.0.resource_id = Some(id.into());
        self
    }

    /// Defender's documented behaviour: entity conditions hold on alerts that lack the entity.
    pub fn when_entity_absent(mut self, absence: EntityAbsence) -> Self {
        self.0.when_entity_absent = absence;
        self
    }

    /// The rule.
    pub fn build(self) -> SuppressionRule {
        self.0
    }
}
