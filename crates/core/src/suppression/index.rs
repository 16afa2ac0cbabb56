//! The compiled rule set: partitions by alert type, witness indexes, exact verification.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use chrono::{DateTime, Utc};

use super::compiled::Compiled;
use super::cond::{Compiler, Cond, Ctx, Fields, Net, Op, Test, Truth, eval_all};
use super::explain::{Explanation, explain};
use super::rule::{EntityAbsence, RuleState};
use super::{RuleError, RuleProblem, RuleWarning, SuppressionRule};
use crate::Alert;

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
    let mut regexes = HashMap::new();
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
        if let Some(why) = super::lint::alert_type_problem(rule.alert_type()) {
            problems.push(rule_problem(format!(
                "alert type {:?}: {why}",
                rule.alert_type()
            )));
        }
        let mut c = Compiler {
            fields: &mut fields,
            regexes: &mut regexes,
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
        for (condition, message) in super::lint::rule_warnings(rule) {
            warnings.push(RuleWarning {
                rule: name.to_owned(),
                condition,
                message,
            });
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

/// How many conjuncts of one rule are indexed (the rest are only verified).
const MAX_INDEXED: usize = 1;

/// A hit: rule index << 3 | conjunct number.
type Hit = u32;

/// Rules of one partition. A rule is a candidate for an alert when every one of its indexed
/// conjuncts (necessary conditions) has a hit; rules with none are always candidates.
#[derive(Debug, Default)]
struct Bucket {
    always: Vec<u32>,
    fields: Vec<FieldIndex>,
}

#[derive(Debug)]
struct FieldIndex {
    field: usize,
    exact: HashMap<String, Vec<Hit>>,
    ac: Option<AhoCorasick>,
    ac_hits: Vec<Vec<Hit>>,
    v4: Vec<(u8, HashMap<u32, Vec<Hit>>)>,
    v6: Vec<(u8, HashMap<u128, Vec<Hit>>)>,
}

/// A necessary condition of a rule that an index can find.
enum Witness<'a> {
    /// The value equals one of these (folded).
    Exact(usize, &'a [String]),
    /// The folded value contains one of these.
    Literals(usize, Vec<String>),
    /// The value is an address in one of these networks.
    Cidr(usize, &'a [Net]),
}

impl<'a> Witness<'a> {
    fn clone_ref(&self) -> Witness<'a> {
        match self {
            Witness::Exact(f, v) => Witness::Exact(*f, v),
            Witness::Literals(f, l) => Witness::Literals(*f, l.clone()),
            Witness::Cidr(f, n) => Witness::Cidr(*f, n),
        }
    }

    fn rank(&self) -> u32 {
        match self {
            Witness::Exact(..) => 0,
            Witness::Cidr(..) => 1,
            Witness::Literals(_, l) if l.iter().all(|s| s.len() >= 4) => 2,
            Witness::Literals(..) => 3,
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
        Op::Regex(rs) => {
            let mut lits = Vec::new();
            for r in rs {
                lits.extend(r.literals.as_ref()?.iter().cloned());
            }
            Some(Witness::Literals(t.field, lits))
        }
        Op::Cidr(nets) => Some(Witness::Cidr(t.field, nets)),
        Op::Exists(_) => None,
    }
}

/// The witnesses of a rule: its best indexable top-level conjuncts, at most [`MAX_INDEXED`].
fn witnesses<'a>(conds: &'a [Cond], fields: &Fields, absent_match: bool) -> Vec<Witness<'a>> {
    let mut found: Vec<Witness<'a>> = Vec::new();
    let mut stack: Vec<&'a Cond> = conds.iter().rev().collect();
    while let Some(c) = stack.pop() {
        match c {
            Cond::All(items) => stack.extend(items.iter().rev()),
            Cond::Test(t) => found.extend(witness_of(t, fields, absent_match)),
            Cond::Any(_) | Cond::Not(_) => {}
        }
    }
    found
}

/// Index keys of a witness, for counting how many rules of a partition share them.
fn witness_keys<'w>(w: &'w Witness<'_>) -> Vec<(usize, u8, Cow<'w, str>)> {
    match w {
        Witness::Exact(f, vals) => vals.iter().map(|v| (*f, 0, super::cond::fold(v))).collect(),
        Witness::Literals(f, lits) => lits
            .iter()
            .map(|l| (*f, 1, Cow::Borrowed(l.as_str())))
            .collect(),
        Witness::Cidr(f, nets) => nets
            .iter()
            .map(|n| {
                let (p, a) = n.masked();
                (*f, 2, Cow::Owned(format!("{a}/{p}")))
            })
            .collect(),
    }
}

#[derive(Default)]
struct BucketBuilder<'a> {
    always: Vec<u32>,
    pending: Vec<(u32, Vec<Witness<'a>>)>,
    fields: HashMap<usize, FieldBuilder>,
}

#[derive(Default)]
struct FieldBuilder {
    exact: HashMap<String, Vec<Hit>>,
    literals: Vec<String>,
    literal_ids: HashMap<String, usize>,
    literal_hits: Vec<Vec<Hit>>,
    v4: HashMap<u8, HashMap<u32, Vec<Hit>>>,
    v6: HashMap<u8, HashMap<u128, Vec<Hit>>>,
}

fn push_hit(list: &mut Vec<Hit>, hit: Hit) {
    if list.last() != Some(&hit) {
        list.push(hit);
    }
}

impl<'a> BucketBuilder<'a> {
    fn push(&mut self, rule: u32, ws: Vec<Witness<'a>>) {
        if ws.is_empty() {
            self.always.push(rule);
        } else {
            self.pending.push((rule, ws));
        }
    }

    /// Picks each rule's most selective witnesses: those whose keys the fewest rules of the
    /// partition share (a value many rules name is likely a common one), weighing short
    /// literals down since they hit many values. Returns per rule how many were indexed.
    fn choose(&mut self, needed: &mut [u8]) {
        let pending = std::mem::take(&mut self.pending);
        let mut freq: HashMap<(usize, u8, Cow<'_, str>), u32> = HashMap::new();
        for (_, ws) in &pending {
            for w in ws {
                for k in witness_keys(w) {
                    *freq.entry(k).or_default() += 1;
                }
            }
        }
        let mut chosen: Vec<(u32, Vec<Witness<'a>>)> = Vec::with_capacity(pending.len());
        for (rule, ws) in &pending {
            let mut scored: Vec<(u64, usize)> = ws
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let shared = witness_keys(w)
                        .into_iter()
                        .map(|k| u64::from(freq.get(&k).copied().unwrap_or(1)))
                        .max()
                        .unwrap_or(1);
                    let weight = match w.rank() {
                        0 | 1 => 1,
                        2 => 2,
                        _ => 16,
                    };
                    (shared * weight, i)
                })
                .collect();
            scored.sort_by_key(|(score, _)| *score);
            scored.truncate(MAX_INDEXED);
            if let Some(n) = needed.get_mut(*rule as usize) {
                *n = scored.len() as u8;
            }
            let picks: Vec<usize> = scored.into_iter().map(|(_, i)| i).collect();
            chosen.push((
                *rule,
                picks
                    .iter()
                    .filter_map(|i| ws.get(*i))
                    .map(Witness::clone_ref)
                    .collect(),
            ));
        }
        drop(freq);
        for (rule, ws) in chosen {
            self.add(rule, ws);
        }
    }

    fn add(&mut self, rule: u32, ws: Vec<Witness<'_>>) {
        for (j, w) in ws.into_iter().enumerate() {
            let hit = (rule << 3) | j as u32;
            match w {
                Witness::Exact(f, values) => {
                    let fb = self.fields.entry(f).or_default();
                    for v in values {
                        push_hit(fb.exact.entry(fold_owned(v)).or_default(), hit);
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
                                fb.literal_hits.push(Vec::new());
                                id
                            }
                        };
                        if let Some(list) = fb.literal_hits.get_mut(id) {
                            push_hit(list, hit);
                        }
                    }
                }
                Witness::Cidr(f, nets) => {
                    let fb = self.fields.entry(f).or_default();
                    for n in nets {
                        match n.masked() {
                            (prefix, IpAddr::V4(a)) => push_hit(
                                fb.v4
                                    .entry(prefix)
                                    .or_default()
                                    .entry(u32::from(a))
                                    .or_default(),
                                hit,
                            ),
                            (prefix, IpAddr::V6(a)) => push_hit(
                                fb.v6
                                    .entry(prefix)
                                    .or_default()
                                    .entry(u128::from(a))
                                    .or_default(),
                                hit,
                            ),
                        }
                    }
                }
            }
        }
    }

    fn build(mut self, needed: &mut [u8]) -> Bucket {
        self.choose(needed);
        let mut always = self.always;
        let mut fields: Vec<FieldIndex> = Vec::with_capacity(self.fields.len());
        for (field, fb) in self.fields {
            // Building an automaton cannot fail for these inputs, but a rule must never be
            // lost: if one does fail, its rules become always-candidates.
            let ac = (!fb.literals.is_empty())
                .then(|| {
                    AhoCorasick::builder()
                        .match_kind(MatchKind::Standard)
                        .kind(Some(AhoCorasickKind::NoncontiguousNFA))
                        .build(&fb.literals)
                        .ok()
                })
                .flatten();
            let (ac, ac_hits) = match ac {
                Some(a) => (Some(a), fb.literal_hits),
                None => {
                    always.extend(fb.literal_hits.into_iter().flatten().map(|h| h >> 3));
                    (None, Vec::new())
                }
            };
            let mut v4: Vec<_> = fb.v4.into_iter().collect();
            v4.sort_by_key(|(p, _)| *p);
            let mut v6: Vec<_> = fb.v6.into_iter().collect();
            v6.sort_by_key(|(p, _)| *p);
            fields.push(FieldIndex {
                field,
                exact: fb.exact,
                ac,
                ac_hits,
                v4,
                v6,
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
    /// Per rule: how many indexed conjuncts must hit before it is a candidate.
    needed: Vec<u8>,
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
        let mut needed = vec![0u8; rules.len()];
        for (i, (rule, c)) in rules.iter().zip(&compiled).enumerate() {
            if rule.state() != RuleState::Enabled {
                continue; // never matches; kept for listing and explanations
            }
            let Ok(id) = u32::try_from(i) else { break };
            if id >= (1 << 29) {
                break; // hits pack the rule index into 29 bits
            }
            let ws = witnesses(&c.conds, &fields, c.absent_match);
            if rule.is_any_type() {
                any_type.push(id, ws);
            } else {
                by_type
                    .entry(rule.alert_type().trim().to_ascii_lowercase())
                    .or_default()
                    .push(id, ws);
            }
        }
        let by_name = rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.name().to_owned(), i))
            .collect();
        let by_type = by_type
            .into_iter()
            .map(|(k, b)| (k, b.build(&mut needed)))
            .collect();
        let any_type = any_type.build(&mut needed);
        Ok(RuleSet {
            by_type,
            any_type,
            needed,
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
        let mut hits: Vec<Hit> = Vec::new();
        for bucket in typed.into_iter().chain([&self.any_type]) {
            out.extend_from_slice(&bucket.always);
            for fi in &bucket.fields {
                let Some(r) = ctx.get(fi.field) else { continue };
                if !fi.exact.is_empty() || fi.ac.is_some() {
                    for v in r.folded() {
                        if let Some(h) = fi.exact.get(v.as_ref()) {
                            hits.extend_from_slice(h);
                        }
                        if let Some(ac) = &fi.ac {
                            for m in ac.find_overlapping_iter(v.as_ref()) {
                                if let Some(h) = fi.ac_hits.get(m.pattern().as_usize()) {
                                    hits.extend_from_slice(h);
                                }
                            }
                        }
                    }
                }
                if !fi.v4.is_empty() || !fi.v6.is_empty() {
                    for v in &r.raw {
                        match v.trim().parse::<IpAddr>().map(super::cond::canonical_ip) {
                            Ok(IpAddr::V4(a)) => {
                                let a = u32::from(a);
                                for (p, map) in &fi.v4 {
                                    let mask =
                                        u32::MAX.checked_shl(32 - u32::from(*p)).unwrap_or(0);
                                    if let Some(h) = map.get(&(a & mask)) {
                                        hits.extend_from_slice(h);
                                    }
                                }
                            }
                            Ok(IpAddr::V6(a)) => {
                                let a = u128::from(a);
                                for (p, map) in &fi.v6 {
                                    let mask =
                                        u128::MAX.checked_shl(128 - u32::from(*p)).unwrap_or(0);
                                    if let Some(h) = map.get(&(a & mask)) {
                                        hits.extend_from_slice(h);
                                    }
                                }
                            }
                            Err(_) => {}
                        }
                    }
                }
            }
        }
        // A rule is a candidate once every one of its indexed conjuncts has a hit.
        hits.sort_unstable();
        hits.dedup();
        let mut i = 0;
        while i < hits.len() {
            let rule = hits[i] >> 3;
            let mut j = i;
            while j < hits.len() && hits[j] >> 3 == rule {
                j += 1;
            }
            if self
                .needed
                .get(rule as usize)
                .is_some_and(|n| usize::from(*n) == j - i)
            {
                out.push(rule);
            }
            i = j;
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
