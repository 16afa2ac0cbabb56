//! The compiled rule set: partitions by alert type, witness indexes, exact verification.

use std::collections::HashMap;
use std::net::IpAddr;

use aho_corasick::{AhoCorasick, MatchKind};
use chrono::{DateTime, Utc};
use regex::{RegexSet, RegexSetBuilder};

use super::cond::{
    Compiler, Cond, Ctx, Fields, MAX_REGEX_SIZE, Net, Op, Test, Truth, anchored_source, eval_all,
};
use super::explain::{Explanation, explain};
use super::rule::{EntityAbsence, RuleState};
use super::{RuleError, RuleProblem, RuleWarning, SuppressionRule};
use crate::Alert;

/// A rule after checking: its conditions compiled.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub(crate) conds: Vec<Cond>,
    pub(crate) absent_match: bool,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 260
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Checks and compiles every rule; all problems are reported together.
pub(crate) fn compile_all(
    rules: &[SuppressionRule],
) -> Result<(Vec<Compiled>, Fields, Vec<RuleWarning>), RuleError> {
    let mut fields = Fields::default();
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let mut compiled = Vec::with_capacity(rules.len());
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(rules.len());
    for (i, rule) in rules.iter().enumerate() {
        let name = rule.name();
        let rule_problem = |message: String| RuleProblem {
            rule: name.to_owned(),
            condition: None,
            field: None,
            message,
        };
        if !valid_name(name) {
            problems.push(rule_problem(
                "the rule name must be 1 to 260 letters, digits, '-' or '_'".to_owned(),
            ));
        }
        if let Some(first) = seen.insert(name, i) {
            problems.push(rule_problem(format!(
                "duplicate rule name (rules {first} and {i} are both called {name:?}); names identify rules"
            )));
        }
        let alert_type = rule.alert_type().trim();
        if alert_type.is_empty() || alert_type.chars().any(char::is_whitespace) {
            problems.push(rule_problem(format!(
                "alert type {:?} is not an alert type (write one type such as VM_EICAR, or \"*\")",
                rule.alert_type()
            )));
        }
        let mut c = Compiler {
            fields: &mut fields,
            problems: Vec::new(),
            warnings: Vec::new(),
        };
        let mut conds = Vec::with_capacity(rule.conditions.len());
        for (ci, cond) in rule.conditions.iter().enumerate() {
            if let Some(x) = c.condition(&cond.0, &ci.to_string()) {
                conds.push(x);
            }
        }
        for p in c.problems {
            problems.push(RuleProblem {
                rule: name.to_owned(),
                condition: Some(p.condition),
                field: p.field,
                message: p.message,
            });
        }
        for (at, message) in c.warnings {
            warnings.push(RuleWarning {
                rule: name.to_owned(),
                condition: Some(at),
                message,
            });
        }
        if rule.is_any_type() {
            if rule.conditions.is_empty() {
                warnings.push(RuleWarning {
                    rule: name.to_owned(),
                    condition: None,
                    message: "alert type \"*\" with no conditions suppresses every alert".into(),
                });
            }
            if rule.expiration().is_none() {
                warnings.push(RuleWarning {
                    rule: name.to_owned(),
                    condition: None,
                    message: "alert type \"*\" with no expiry suppresses across every alert type forever; set expirationDateUtc".into(),
                });
            }
        }
        compiled.push(Compiled {
            conds,
            absent_match: rule.when_entity_absent() == EntityAbsence::Match,
        });
    }
    if problems.is_empty() {
        Ok((compiled, fields, warnings))
    } else {
        Err(RuleError { problems })
    }
}

/// Rules of one partition, reachable through their witnesses.
#[derive(Debug, Default)]
struct Bucket {
    /// Rules with no indexable necessary condition: always candidates.
    always: Vec<u32>,
    fields: Vec<FieldIndex>,
}

#[derive(Debug)]
struct FieldIndex {
    field: usize,
    exact: HashMap<String, Vec<u32>>,
    ac: Option<AhoCorasick>,
    ac_rules: Vec<Vec<u32>>,
    regex: Option<RegexSet>,
    regex_rules: Vec<u32>,
    cidr: Vec<(Net, u32)>,
}

/// A necessary condition of a rule that an index can find.
enum Witness<'a> {
    Exact(usize, &'a [String]),
    Literals(usize, Vec<String>),
    Regex(usize, Vec<String>),
    Cidr(usize, &'a [Net]),
}

impl Witness<'_> {
    fn rank(&self) -> u32 {
        match self {
            Witness::Exact(..) => 0,
            Witness::Literals(_, l) if l.iter().all(|s| s.chars().count() >= 3) => 1,
            Witness::Literals(..) => 3,
            Witness::Regex(..) => 2,
            Witness::Cidr(..) => 4,
        }
    }
}

fn fold_owned(v: &str) -> String {
    super::cond::fold(v).into_owned()
}

fn witness_of<'a>(t: &'a Test, fields: &Fields, absent_match: bool) -> Option<Witness<'a>> {
    if absent_match && fields.paths.get(t.field).is_some_and(|p| p.is_entity()) {
        // An alert without the entity type satisfies this test: it is not necessary.
        return None;
    }
    match &t.op {
        Op::Equals(n) => Some(Witness::Exact(t.field, &n.list)),
        Op::Contains(n) | Op::StartsWith(n) | Op::EndsWith(n) => Some(Witness::Literals(
            t.field,
            n.list.iter().map(|s| fold_owned(s)).collect(),
        )),
        Op::Wildcard(n) => {
            let mut lits = Vec::new();
            for p in &n.list {
                let best = p
                    .split(['*', '?'])
                    .max_by_key(|s| s.len())
                    .unwrap_or_default();
                if best.is_empty() {
                    return None;
                }
                lits.push(fold_owned(best));
            }
            Some(Witness::Literals(t.field, lits))
        }
        Op::Regex(_) => Some(Witness::Regex(
            t.field,
            t.written
                .iter()
                .map(|p| anchored_source(p, t.case_sensitive))
                .collect(),
        )),
        Op::Cidr(nets) => Some(Witness::Cidr(t.field, nets)),
        Op::Exists(_) => None,
    }
}

/// The best witness among a rule's top-level conjuncts.
fn best_witness<'a>(conds: &'a [Cond], fields: &Fields, absent_match: bool) -> Option<Witness<'a>> {
    let mut best: Option<Witness<'a>> = None;
    let mut stack: Vec<&'a Cond> = conds.iter().collect();
    while let Some(c) = stack.pop() {
        match c {
            Cond::All(items) => stack.extend(items),
            Cond::Test(t) => {
                if let Some(w) = witness_of(t, fields, absent_match)
                    && best.as_ref().is_none_or(|b| w.rank() < b.rank())
                {
                    best = Some(w);
                }
            }
            Cond::Any(_) | Cond::Not(_) => {}
        }
    }
    best
}

#[derive(Default)]
struct BucketBuilder {
    always: Vec<u32>,
    fields: HashMap<usize, FieldBuilder>,
}

#[derive(Default)]
struct FieldBuilder {
    exact: HashMap<String, Vec<u32>>,
    literals: Vec<String>,
    literal_ids: HashMap<String, usize>,
    literal_rules: Vec<Vec<u32>>,
    regexes: Vec<String>,
    regex_rules: Vec<u32>,
    cidr: Vec<(Net, u32)>,
}

impl BucketBuilder {
    fn add(&mut self, rule: u32, w: Option<Witness<'_>>) {
        let Some(w) = w else {
            self.always.push(rule);
            return;
        };
        match w {
            Witness::Exact(f, values) => {
                let fb = self.fields.entry(f).or_default();
                for v in values {
                    let list = fb.exact.entry(fold_owned(v)).or_default();
                    if list.last() != Some(&rule) {
                        list.push(rule);
                    }
                }
            }
            Witness::Literals(f, lits) => {
                let fb = self.fields.entry(f).or_default();
                for l in lits {
                    let id = match fb.literal_ids.get(&l) {
                        Some(id) => *id,
                        None => {
                            let id = fb.literals.len();
                            fb.literal_ids.insert(l.clone(), id);
                            fb.literals.push(l);
                            fb.literal_rules.push(Vec::new());
                            id
                        }
                    };
                    let list = &mut fb.literal_rules[id];
                    if list.last() != Some(&rule) {
                        list.push(rule);
                    }
                }
            }
            Witness::Regex(f, sources) => {
                let fb = self.fields.entry(f).or_default();
                for s in sources {
                    fb.regexes.push(s);
                    fb.regex_rules.push(rule);
                }
            }
            Witness::Cidr(f, nets) => {
                let fb = self.fields.entry(f).or_default();
                fb.cidr.extend(nets.iter().map(|n| (*n, rule)));
            }
        }
    }

    fn build(self) -> Bucket {
        let mut always = self.always;
        let mut fields: Vec<FieldIndex> = Vec::with_capacity(self.fields.len());
        for (field, fb) in self.fields {
            // Building an automaton cannot fail for these inputs, but a rule must never be
            // lost: if one does fail, its rules become always-candidates.
            let ac = (!fb.literals.is_empty())
                .then(|| {
                    AhoCorasick::builder()
                        .match_kind(MatchKind::Standard)
                        .build(&fb.literals)
                        .ok()
                })
                .flatten();
            let (ac, ac_rules) = match ac {
                Some(a) => (Some(a), fb.literal_rules),
                None => {
                    always.extend(fb.literal_rules.into_iter().flatten());
                    (None, Vec::new())
                }
            };
            let regex = (!fb.regexes.is_empty())
                .then(|| {
                    RegexSetBuilder::new(&fb.regexes)
                        .size_limit(MAX_REGEX_SIZE.saturating_mul(fb.regexes.len()))
                        .build()
                        .ok()
                })
                .flatten();
            let (regex, regex_rules) = match regex {
                Some(r) => (Some(r), fb.regex_rules),
                None => {
                    always.extend(fb.regex_rules);
                    (None, Vec::new())
                }
            };
            fields.push(FieldIndex {
                field,
                exact: fb.exact,
                ac,
                ac_rules,
                regex,
                regex_rules,
                cidr: fb.cidr,
            });
        }
        fields.sort_by_key(|f| f.field);
        always.sort_unstable();
        always.dedup();
        Bucket { always, fields }
    }
}

/// A compiled set of suppression rules: the fast matcher.
///
/// Built by [`RuleSet::compile`], immutable afterwards; share it across threads (`Send + Sync`)
/// and rebuild it when rules change. Matching returns rules in rule-set order (the order given
/// to `compile`).
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<SuppressionRule>,
    compiled: Vec<Compiled>,
    fields: Fields,
    by_type: HashMap<String, Bucket>,
    any_type: Bucket,
    by_name: HashMap<String, usize>,
    warnings: Vec<RuleWarning>,
}

impl RuleSet {
    /// Checks every rule and compiles them. All problems of all rules are reported at once in
    /// the [`RuleError`]; over-broad rules compile with [`RuleSet::warnings`].
    pub fn compile(rules: impl IntoIterator<Item = SuppressionRule>) -> Result<RuleSet, RuleError> {
        let rules: Vec<SuppressionRule> = rules.into_iter().collect();
        let (compiled, fields, warnings) = compile_all(&rules)?;
        let mut by_type: HashMap<String, BucketBuilder> = HashMap::new();
        let mut any_type = BucketBuilder::default();
        for (i, (rule, c)) in rules.iter().zip(&compiled).enumerate() {
            if rule.state() != RuleState::Enabled {
                continue; // never matches; kept for listing and explanations
            }
            let Ok(id) = u32::try_from(i) else { break };
            let w = best_witness(&c.conds, &fields, c.absent_match);
            if rule.is_any_type() {
                any_type.add(id, w);
            } else {
                by_type
                    .entry(rule.alert_type().trim().to_ascii_lowercase())
                    .or_default()
                    .add(id, w);
            }
        }
        let by_name = rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.name().to_owned(), i))
            .collect();
        Ok(RuleSet {
            by_type: by_type.into_iter().map(|(k, b)| (k, b.build())).collect(),
            any_type: any_type.build(),
            rules,
            compiled,
            fields,
            by_name,
            warnings,
        })
    }

    /// The rules, in rule-set order.
    pub fn rules(&self) -> &[SuppressionRule] {
        &self.rules
    }

    /// A rule by name.
    pub fn get(&self, name: &str) -> Option<&SuppressionRule> {
        self.by_name.get(name).and_then(|i| self.rules.get(*i))
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// `true` if there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Lint warnings for over-broad rules.
    pub fn warnings(&self) -> &[RuleWarning] {
        &self.warnings
    }

    fn candidates(&self, ctx: &mut Ctx<'_>, out: &mut Vec<u32>) {
        let t = &ctx.alert.alert_type;
        let typed = if t.bytes().any(|b| b.is_ascii_uppercase()) {
            self.by_type.get(&t.to_ascii_lowercase())
        } else {
            self.by_type.get(t.as_str())
        };
        for bucket in typed.into_iter().chain([&self.any_type]) {
            out.extend_from_slice(&bucket.always);
            for fi in &bucket.fields {
                let Some(r) = ctx.get(fi.field) else { continue };
                if !fi.exact.is_empty() || fi.ac.is_some() {
                    for v in r.folded() {
                        if let Some(rules) = fi.exact.get(v.as_str()) {
                            out.extend_from_slice(rules);
                        }
                        if let Some(ac) = &fi.ac {
                            for m in ac.find_overlapping_iter(v.as_str()) {
                                if let Some(rules) = fi.ac_rules.get(m.pattern().as_usize()) {
                                    out.extend_from_slice(rules);
                                }
                            }
                        }
                    }
                }
                if let Some(set) = &fi.regex {
                    for v in &r.raw {
                        out.extend(set.matches(v).iter().filter_map(|i| fi.regex_rules.get(i)));
                    }
                }
                if !fi.cidr.is_empty() {
                    for v in &r.raw {
                        if let Ok(ip) = v.trim().parse::<IpAddr>() {
                            out.extend(
                                fi.cidr
                                    .iter()
                                    .filter(|(n, _)| n.contains(ip))
                                    .map(|(_, rule)| *rule),
                            );
                        }
                    }
                }
            }
        }
        out.sort_unstable();
        out.dedup();
    }

    fn verify(&self, i: u32, ctx: &mut Ctx<'_>, at: DateTime<Utc>) -> Option<&SuppressionRule> {
        let i = i as usize;
        let rule = self.rules.get(i)?;
        let c = self.compiled.get(i)?;
        if rule.expiration().is_some_and(|e| at >= e) {
            return None;
        }
        (eval_all(&c.conds, ctx, c.absent_match) == Truth::True).then_some(rule)
    }

    /// Every rule that matches `alert` at `at`, in rule-set order.
    pub fn matching(&self, alert: &Alert, at: DateTime<Utc>) -> Vec<&SuppressionRule> {
        let mut ctx = Ctx::new(alert, &self.fields.paths);
        let mut cands = Vec::new();
        self.candidates(&mut ctx, &mut cands);
        cands
            .into_iter()
            .filter_map(|i| self.verify(i, &mut ctx, at))
            .collect()
    }

    /// The first rule (in rule-set order) that matches: the cheap call for the ingest path.
    pub fn first_match(&self, alert: &Alert, at: DateTime<Utc>) -> Option<&SuppressionRule> {
        let mut ctx = Ctx::new(alert, &self.fields.paths);
        let mut cands = Vec::new();
        self.candidates(&mut ctx, &mut cands);
        cands.into_iter().find_map(|i| self.verify(i, &mut ctx, at))
    }

    /// `true` if any rule matches `alert` at `at`.
    pub fn is_suppressed(&self, alert: &Alert, at: DateTime<Utc>) -> bool {
        self.first_match(alert, at).is_some()
    }

    /// Why the named rule does or does not match `alert` at `at`: the rule-level checks (state,
    /// expiry, alert type) and every condition with its outcome and the values it saw.
    /// `None` if there is no rule of that name.
    pub fn explain(
        &self,
        rule_name: &str,
        alert: &Alert,
        at: DateTime<Utc>,
    ) -> Option<Explanation> {
        let i = *self.by_name.get(rule_name)?;
        let rule = self.rules.get(i)?;
        let c = self.compiled.get(i)?;
        Some(explain(rule, c, &self.fields.paths, alert, at))
    }
}
