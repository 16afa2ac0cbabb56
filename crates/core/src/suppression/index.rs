//! The compiled rule set: partitions by alert type, witness indexes, exact verification.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use chrono::{DateTime, Utc};

use super::compiled::Compiled;
use super::cond::{
    Compiler, Cond, Ctx, CtxBuffers, Fields, Net, Op, Test, Truth, eval, fold, fold_into,
};
use super::exact::ExactMap;
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
    let mut regexes = Default::default();
    let mut regex_tally = super::budget::RegexTally::default();
    let mut tally = super::budget::Tally::default();
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let mut compiled = Vec::with_capacity(rules.len());
    let mut seen: Map<&str, usize> = Map::with_capacity_and_hasher(rules.len(), Default::default());
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
            regex_tally: &mut regex_tally,
        };
        let mut conds = Vec::with_capacity(rule.conditions.len());
        for (ci, cond) in rule.conditions.iter().enumerate() {
            if let Some(x) = c.condition(&cond.0, &super::cond::index_text(ci)) {
                conds.push(x);
            }
        }
        for (at, field, message) in super::budget::check_rule(&conds, &mut tally) {
            problems.push(RuleProblem {
                rule: name.to_owned(),
                condition: Some(at),
                field: Some(field),
                message,
            });
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

/// Hash maps of the index: a fast non-cryptographic hasher with a per-map random seed.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// At most this many necessary conditions of one rule are indexed (one bit each).
const MAX_INDEXED: usize = 8;
/// Beyond a rule's most selective witness, another is indexed only if at most this many rules
/// of the partition share its key: a long posting list costs more to walk than the check it
/// would save.
const SHARED_LIMIT: u64 = 64;

/// Most literals of one field index scanned with a DFA (built on first use).
const DFA_LITERALS: usize = 2_000;

/// A field index's DFA is built once this many values have been scanned with its NFA: a DFA
/// costs as much to build as hundreds of NFA scans, and most partitions see few alerts, so
/// right after a compile only the busy ones pay for one.
const DFA_AFTER: u32 = 64;

/// Most literals of one field index compared one by one, without an automaton: building a
/// DFA costs hundreds of thousands of instructions even for one literal, and a few literals
/// are checked about as fast (a prefix, a suffix, a substring search each).
const SMALL_LITERALS: usize = 8;

/// How a literal must sit in a value for its posting to count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    Anywhere,
    Start,
    End,
}

/// One entry of a posting list: this rule's indexed condition number `bit` holds (or, if not
/// exact, may hold) for the value.
///
/// It carries what marking needs of the rule (its `needed` bits, and whether a complete mask
/// proves a match), so that marking reads no per-rule array: at 100,000 rules such an array
/// no longer fits the caches, and each posting cost a miss there.
#[derive(Clone, Copy, Debug)]
struct Post {
    rule: u32,
    bit: u8,
    place: Place,
    /// The rule's [`Meta::needed`] (0 for a rule checked in full, which the index never
    /// completes).
    needed: u8,
    /// [`SURE`] and [`EXPIRES`] bits.
    flags: u8,
}

/// [`Post::flags`]: the rule has nothing to verify, so a complete mask is a match (unless it
/// expired).
const SURE: u8 = 1;
/// [`Post::flags`]: the rule has an expiry, read from its [`Meta`] when its mask completes.
const EXPIRES: u8 = 2;

impl Post {
    fn new(rule: u32, bit: u8, place: Place) -> Post {
        Post {
            rule,
            bit,
            place,
            needed: 0,
            flags: 0,
        }
    }
}

/// A range in a field index's posting array.
type Span = (u32, u32);

/// The index of one field in one partition: exact values, one automaton over every literal, and
/// CIDR networks by prefix length, all pointing into one posting array.
#[derive(Debug)]
struct FieldIndex {
    field: usize,
    exact: ExactMap,
    ac: Option<AhoCorasick>,
    /// The literals again, for the DFA built on first use (empty if the set is too large).
    dfa_literals: Box<[Box<str>]>,
    dfa: OnceLock<Option<AhoCorasick>>,
    /// The NFA scanned with until the DFA is worth building (see [`DFA_AFTER`]).
    nfa: OnceLock<Option<AhoCorasick>>,
    /// Values probed so far, counted until the DFA is built.
    probes: std::sync::atomic::AtomicU32,
    ac_posts: Vec<Span>,
    v4: Vec<(u8, Map<u32, Span>)>,
    v6: Vec<(u8, Map<u128, Span>)>,
    posts: Vec<Post>,
}

/// The rules of one partition (one alert type, or `*`).
#[derive(Debug, Default)]
struct Bucket {
    /// Rules with no indexed condition: always checked.
    always: Vec<u32>,
    fields: Vec<FieldIndex>,
}

/// What matching needs of a rule beyond the index.
#[derive(Debug, Default)]
struct Meta {
    /// The bits of the indexed conditions: all must be seen before the rule is a candidate.
    needed: u8,
    /// Top-level conditions the index does not prove, checked on each candidate.
    verify: Box<[u16]>,
    expires: Option<DateTime<Utc>>,
}

/// Folded texts: a condition's own list when it is folded already (it is unless
/// case-sensitive), or folded copies.
enum Texts<'a> {
    Folded(&'a [String]),
    Owned(Vec<Cow<'a, str>>),
}

impl<'a> Texts<'a> {
    fn of(list: &'a [String], folded: bool) -> Texts<'a> {
        if folded {
            Texts::Folded(list)
        } else {
            Texts::Owned(list.iter().map(|s| fold(s)).collect())
        }
    }

    fn iter(&self) -> impl Iterator<Item = &str> {
        let (a, b) = match self {
            Texts::Folded(l) => (Some(l.iter().map(String::as_str)), None),
            Texts::Owned(v) => (None, Some(v.iter().map(|c| c.as_ref()))),
        };
        a.into_iter().flatten().chain(b.into_iter().flatten())
    }
}

/// Index keys of one necessary condition.
enum Keys<'a> {
    Exact(Texts<'a>),
    Literals(Texts<'a>, Place),
    Cidr(&'a [Net]),
}

/// A necessary condition of a rule that the index can find: a field test at top level (or
/// inside a top-level `allOf`), with its keys.
struct Witness<'a> {
    field: usize,
    /// The top-level condition it comes from.
    top: usize,
    /// A hit proves the top-level condition (not only makes it possible).
    exact: bool,
    keys: Keys<'a>,
}

impl Witness<'_> {
    /// Weight of the keys' kind: short literals hit many values.
    fn weight(&self) -> u64 {
        match &self.keys {
            Keys::Exact(_) | Keys::Cidr(_) => 1,
            Keys::Literals(l, _) if l.iter().all(|s| s.len() >= 4) => 2,
            Keys::Literals(..) => 16,
        }
    }
}

/// How many wildcard patterns of the rule set contain each literal piece (folded).
type PieceCounts = Map<String, u32>;

/// The literal pieces of a wildcard pattern (between `*` and `?`), folded and deduplicated.
fn pieces(pattern: &str) -> Vec<Cow<'_, str>> {
    let mut out: Vec<Cow<'_, str>> = pattern
        .split(['*', '?'])
        .filter(|p| !p.is_empty())
        .map(fold)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Counts the pieces of every wildcard pattern of the rules.
fn piece_counts(compiled: &[Compiled]) -> PieceCounts {
    let mut counts = PieceCounts::default();
    let mut stack: Vec<&Cond> = compiled.iter().flat_map(|c| c.conds.iter()).collect();
    while let Some(c) = stack.pop() {
        match c {
            Cond::Test(t) => {
                if let Op::Wildcard(n) = &t.op {
                    for p in &n.list {
                        for piece in pieces(p) {
                            match counts.get_mut(piece.as_ref()) {
                                Some(k) => *k += 1,
                                None => {
                                    counts.insert(piece.into_owned(), 1);
                                }
                            }
                        }
                    }
                }
            }
            Cond::All(items) | Cond::Any(items) => stack.extend(items.iter()),
            Cond::Not(inner) => stack.push(inner),
        }
    }
    counts
}

/// The piece of a wildcard pattern to index it by: the one fewest patterns of the set share
/// (a piece every pattern has, like `powershell` in `*powershell*x1*`, `*powershell*x2*`, …,
/// would make every such rule a candidate for every PowerShell command line), preferring
/// pieces of four bytes or more, then the longest. `None` if the pattern has no piece.
fn wildcard_key<'p>(pattern: &'p str, counts: &PieceCounts) -> Option<Cow<'p, str>> {
    pieces(pattern).into_iter().min_by_key(|p| {
        (
            p.len() < 4,
            counts.get(p.as_ref()).copied().unwrap_or(0),
            std::cmp::Reverse(p.len()),
        )
    })
}

fn keys_of<'a>(
    t: &'a Test,
    fields: &Fields,
    absent_match: bool,
    counts: &PieceCounts,
) -> Option<(Keys<'a>, bool)> {
    if absent_match && fields.paths.get(t.field).is_some_and(|p| p.is_entity()) {
        // An alert without the entity type satisfies this test: it is not necessary.
        return None;
    }
    let cs = t.case_sensitive;
    // Needles are folded unless case-sensitive.
    let lits = |n: &'a [String], place: Place| Keys::Literals(Texts::of(n, !cs), place);
    Some(match &t.op {
        Op::Equals(n) => (Keys::Exact(Texts::of(&n.list, !cs)), !cs),
        Op::Contains(n) => (lits(&n.list, Place::Anywhere), !cs),
        Op::StartsWith(n) => (lits(&n.list, Place::Start), !cs),
        Op::EndsWith(n) => (lits(&n.list, Place::End), !cs),
        Op::Wildcard(n) => {
            let mut out = Vec::with_capacity(n.list.len());
            for p in &n.list {
                out.push(wildcard_key(p, counts)?);
            }
            (Keys::Literals(Texts::Owned(out), Place::Anywhere), false)
        }
        Op::Regex(rs) => {
            // Required literals are folded.
            if let [r] = rs.as_slice() {
                let l = r.literals.as_ref()?;
                return Some((Keys::Literals(Texts::Folded(l), Place::Anywhere), false));
            }
            let mut out = Vec::new();
            for r in rs {
                let l = r.literals.as_ref()?;
                out.extend(l.iter().map(|s| Cow::Borrowed(s.as_str())));
            }
            (Keys::Literals(Texts::Owned(out), Place::Anywhere), false)
        }
        Op::Cidr(nets) => (Keys::Cidr(nets), true),
        Op::Exists(_) => return None,
    })
}

/// Appends every necessary condition of a rule the index can find to `found`.
fn witnesses<'a>(
    c: &'a Compiled,
    fields: &Fields,
    counts: &PieceCounts,
    found: &mut Vec<Witness<'a>>,
) {
    let mut stack: Vec<(&Cond, bool)> = Vec::new();
    for (top, cond) in c.conds.iter().enumerate() {
        stack.push((cond, true));
        while let Some((cond, is_top)) = stack.pop() {
            match cond {
                Cond::Test(t) => {
                    if let Some((keys, exact)) = keys_of(t, fields, c.absent_match, counts) {
                        found.push(Witness {
                            field: t.field,
                            top,
                            exact: exact && is_top,
                            keys,
                        });
                    }
                }
                Cond::All(items) => stack.extend(items.iter().map(|i| (i, false))),
                Cond::Any(_) | Cond::Not(_) => {}
            }
        }
    }
}

/// Key of a witness value, for counting how many rules of a partition share it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum KeyRef<'k> {
    Text(usize, bool, &'k str),
    Net(usize, u8, IpAddr),
}

fn for_each_key<'k>(w: &'k Witness<'_>, mut f: impl FnMut(KeyRef<'k>)) {
    match &w.keys {
        Keys::Exact(v) => v.iter().for_each(|s| f(KeyRef::Text(w.field, true, s))),
        Keys::Literals(v, _) => v.iter().for_each(|s| f(KeyRef::Text(w.field, false, s))),
        Keys::Cidr(nets) => nets.iter().for_each(|n| {
            let (p, a) = n.masked();
            f(KeyRef::Net(w.field, p, a))
        }),
    }
}

/// The index of `field` in `list`, added if missing.
fn field_slot(list: &mut Vec<FieldIndex>, field: usize) -> &mut FieldIndex {
    let i = match list.iter().position(|f| f.field == field) {
        Some(i) => i,
        None => {
            list.push(FieldIndex {
                field,
                exact: ExactMap::default(),
                ac: None,
                dfa_literals: Box::default(),
                dfa: OnceLock::new(),
                nfa: OnceLock::new(),
                probes: std::sync::atomic::AtomicU32::new(0),
                ac_posts: Vec::new(),
                v4: Vec::new(),
                v6: Vec::new(),
                posts: Vec::new(),
            });
            list.len() - 1
        }
    };
    &mut list[i]
}

/// Builds one partition's index and fills in its rules' [`Meta`].
fn build_bucket(
    ids: &[u32],
    compiled: &[Compiled],
    fields: &Fields,
    counts: &PieceCounts,
    meta: &mut [Meta],
) -> Bucket {
    // Every rule's witnesses in one list; per rule, its range.
    let mut all: Vec<Witness<'_>> = Vec::with_capacity(ids.len() * 2);
    let mut per_rule: Vec<(u32, usize, usize)> = Vec::with_capacity(ids.len());
    for &id in ids {
        let Some(c) = compiled.get(id as usize) else {
            continue;
        };
        let start = all.len();
        witnesses(c, fields, counts, &mut all);
        per_rule.push((id, start, all.len()));
    }
    let mut freq: Map<KeyRef<'_>, u32> = Map::default();
    if per_rule.iter().any(|&(_, a, b)| b - a > 1) {
        freq.reserve(all.len());
        for w in &all {
            for_each_key(w, |k| *freq.entry(k).or_default() += 1);
        }
    }
    let mut scored: Vec<(u64, usize)> = Vec::new();
    let mut chosen: Vec<usize> = Vec::new();
    let mut proven: Vec<bool> = Vec::new();
    let mut always = Vec::new();
    let mut exact: Vec<(usize, &str, Post)> = Vec::new();
    let mut lits: Vec<(usize, &str, Post)> = Vec::new();
    let mut v4: Vec<(usize, u8, u32, Post)> = Vec::new();
    let mut v6: Vec<(usize, u8, u128, Post)> = Vec::new();
    for &(rule, a, b) in &per_rule {
        let ws = all.get(a..b).unwrap_or_default();
        let Some(m) = meta.get_mut(rule as usize) else {
            continue;
        };
        scored.clear();
        scored.extend(ws.iter().enumerate().map(|(i, w)| {
            let mut shared = 1u64;
            if !freq.is_empty() {
                for_each_key(w, |k| {
                    shared = shared.max(u64::from(freq.get(&k).copied().unwrap_or(1)));
                });
            }
            (shared * w.weight(), i)
        }));
        scored.sort_by_key(|(score, _)| *score);
        chosen.clear();
        chosen.extend(
            scored
                .iter()
                .enumerate()
                .filter(|(rank, (score, _))| *rank == 0 || *score <= SHARED_LIMIT)
                .take(MAX_INDEXED)
                .map(|(_, (_, i))| *i),
        );
        let conds = compiled.get(rule as usize).map_or(0, |c| c.conds.len());
        proven.clear();
        proven.resize(conds, false);
        for (bit, &i) in chosen.iter().enumerate() {
            let Some(w) = ws.get(i) else { continue };
            let bit = bit as u8;
            if w.exact
                && let Some(p) = proven.get_mut(w.top)
            {
                *p = true;
            }
            let post = |place| Post::new(rule, bit, place);
            match &w.keys {
                Keys::Exact(v) => {
                    exact.extend(v.iter().map(|s| (w.field, s, post(Place::Anywhere))))
                }
                Keys::Literals(v, pl) => lits.extend(v.iter().map(|s| (w.field, s, post(*pl)))),
                Keys::Cidr(nets) => {
                    for n in nets.iter() {
                        match n.masked() {
                            (p, IpAddr::V4(a)) => {
                                v4.push((w.field, p, u32::from(a), post(Place::Anywhere)))
                            }
                            (p, IpAddr::V6(a)) => {
                                v6.push((w.field, p, u128::from(a), post(Place::Anywhere)))
                            }
                        }
                    }
                }
            }
        }
        m.needed = u8::try_from((1u16 << chosen.len()) - 1).unwrap_or(u8::MAX);
        m.verify = proven
            .iter()
            .enumerate()
            .filter(|(_, p)| !**p)
            .filter_map(|(i, _)| u16::try_from(i).ok())
            .collect();
        if chosen.is_empty() {
            always.push(rule);
        }
    }
    let mut by_field: Vec<FieldIndex> = Vec::new();
    // Each posting list in rule order: `first_match` stops walking a list at its best rule.
    exact.sort_unstable_by(|a, b| (a.0, a.1, a.2.rule).cmp(&(b.0, b.1, b.2.rule)));
    let mut exact_keys: Vec<(usize, &str, Span)> = Vec::new();
    for group in exact.chunk_by(|a, b| a.0 == b.0 && a.1 == b.1) {
        let Some(&(field, key, _)) = group.first() else {
            continue;
        };
        let fi = field_slot(&mut by_field, field);
        let start = fi.posts.len() as u32;
        fi.posts.extend(group.iter().map(|e| e.2));
        exact_keys.push((field, key, (start, fi.posts.len() as u32)));
    }
    for group in exact_keys.chunk_by(|a, b| a.0 == b.0) {
        let Some(&(field, _, _)) = group.first() else {
            continue;
        };
        field_slot(&mut by_field, field).exact =
            ExactMap::build(group.iter().map(|&(_, k, span)| (k, span)));
    }
    lits.sort_unstable_by(|a, b| (a.0, a.1, a.2.rule).cmp(&(b.0, b.1, b.2.rule)));
    let mut patterns: Vec<(usize, Vec<&str>)> = Vec::new();
    for group in lits.chunk_by(|a, b| a.0 == b.0 && a.1 == b.1) {
        let Some(&(field, key, _)) = group.first() else {
            continue;
        };
        let fi = field_slot(&mut by_field, field);
        let start = fi.posts.len() as u32;
        fi.posts.extend(group.iter().map(|e| e.2));
        fi.ac_posts.push((start, fi.posts.len() as u32));
        match patterns.last_mut() {
            Some((f, list)) if *f == field => list.push(key),
            _ => patterns.push((field, vec![key])),
        }
    }
    for (field, list) in patterns {
        let fi = field_slot(&mut by_field, field);
        // A DFA scans fastest but costs far more to build, so for sets of moderate size it is
        // built on the first alert that needs it (like regexes), from the literals kept here
        // in the same order; nothing is built now (the NFA the DFA is made from is built then).
        // Larger sets get an NFA now, in time linear in the literals.
        if list.len() <= DFA_LITERALS {
            fi.dfa_literals = list.iter().map(|l| Box::<str>::from(*l)).collect();
            continue;
        }
        let kind = AhoCorasickKind::NoncontiguousNFA;
        match AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .kind(Some(kind))
            .build(&list)
        {
            Ok(ac) => fi.ac = Some(ac),
            Err(_) => {
                // Cannot happen for these inputs, but a rule must never be lost: its rules
                // become always-candidates, checked in full.
                for p in fi.posts.drain(..) {
                    always.push(p.rule);
                    if let Some(m) = meta.get_mut(p.rule as usize) {
                        m.needed = 0;
                        m.verify = (0..compiled.get(p.rule as usize).map_or(0, |c| c.conds.len()))
                            .filter_map(|i| u16::try_from(i).ok())
                            .collect();
                    }
                }
                fi.exact = ExactMap::default();
                fi.ac_posts.clear();
            }
        }
    }
    v4.sort_unstable_by_key(|e| (e.0, e.1, e.2, e.3.rule));
    for group in v4.chunk_by(|a, b| (a.0, a.1, a.2) == (b.0, b.1, b.2)) {
        let Some(&(field, prefix, addr, _)) = group.first() else {
            continue;
        };
        let fi = field_slot(&mut by_field, field);
        let start = fi.posts.len() as u32;
        fi.posts.extend(group.iter().map(|e| e.3));
        let span = (start, fi.posts.len() as u32);
        match fi.v4.last_mut() {
            Some((p, map)) if *p == prefix => {
                map.insert(addr, span);
            }
            _ => {
                let mut map = Map::default();
                map.insert(addr, span);
                fi.v4.push((prefix, map));
            }
        }
    }
    v6.sort_unstable_by_key(|e| (e.0, e.1, e.2, e.3.rule));
    for group in v6.chunk_by(|a, b| (a.0, a.1, a.2) == (b.0, b.1, b.2)) {
        let Some(&(field, prefix, addr, _)) = group.first() else {
            continue;
        };
        let fi = field_slot(&mut by_field, field);
        let start = fi.posts.len() as u32;
        fi.posts.extend(group.iter().map(|e| e.3));
        let span = (start, fi.posts.len() as u32);
        match fi.v6.last_mut() {
            Some((p, map)) if *p == prefix => {
                map.insert(addr, span);
            }
            _ => {
                let mut map = Map::default();
                map.insert(addr, span);
                fi.v6.push((prefix, map));
            }
        }
    }
    for fi in &mut by_field {
        for p in &mut fi.posts {
            if let Some(m) = meta.get(p.rule as usize) {
                p.needed = m.needed;
                p.flags = if m.verify.is_empty() { SURE } else { 0 }
                    | if m.expires.is_some() { EXPIRES } else { 0 };
            }
        }
    }
    by_field.sort_by_key(|f| f.field);
    always.sort_unstable();
    always.dedup();
    Bucket {
        always,
        fields: by_field,
    }
}

/// Reused per-thread matching state: no allocation per alert once warm.
#[derive(Debug, Default)]
struct Scratch {
    ctx: CtxBuffers,
    /// Per rule: the bits of its indexed conditions seen for the current alert.
    masks: Vec<u8>,
    /// Rules whose mask is not zero.
    touched: Vec<u32>,
    /// Rules whose mask became complete, in the order they did.
    complete: Vec<u32>,
    /// Candidates, in rule order.
    cands: Vec<u32>,
    /// A value folded for probing.
    fold_buf: String,
    /// A value in lower case, for substring searches.
    low_buf: String,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch space (or a fresh one if it is in use).
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    let mut s = SCRATCH
        .try_with(|c| c.try_borrow_mut().map(|mut s| std::mem::take(&mut *s)).ok())
        .ok()
        .flatten()
        .unwrap_or_default();
    let r = f(&mut s);
    let _ = SCRATCH.try_with(|c| {
        if let Ok(mut slot) = c.try_borrow_mut() {
            *slot = s;
        }
    });
    r
}

/// Marking state for one alert: the scratch masks, and for `first_match` the lowest rule
/// known to match so far (postings of later rules need not be walked).
struct Marker<'s> {
    masks: &'s mut [u8],
    touched: &'s mut Vec<u32>,
    complete: &'s mut Vec<u32>,
    meta: &'s [Meta],
    at: DateTime<Utc>,
    /// Only the first match is wanted.
    first: bool,
    best: u32,
}

impl Marker<'_> {
    #[inline]
    fn post(&mut self, p: &Post) {
        let Some(m) = self.masks.get_mut(p.rule as usize) else {
            return;
        };
        let old = *m;
        if old == 0 {
            self.touched.push(p.rule);
        }
        let new = old | 1 << p.bit;
        *m = new;
        if new != old && new == p.needed {
            self.complete.push(p.rule);
            if self.first
                && p.rule < self.best
                && p.flags & SURE != 0
                && (p.flags & EXPIRES == 0
                    || self
                        .meta
                        .get(p.rule as usize)
                        .is_some_and(|meta| meta.expires.is_none_or(|e| self.at < e)))
            {
                self.best = p.rule;
            }
        }
    }

    #[inline]
    fn span(&mut self, posts: &[Post], span: Span) {
        for p in posts
            .get(span.0 as usize..span.1 as usize)
            .unwrap_or_default()
        {
            if p.rule >= self.best {
                break; // lists are in rule order
            }
            self.post(p);
        }
    }
}

/// `v` with its ASCII letters lowered, written into `low` (reused, so no allocation per value).
fn lower_into<'b>(v: &str, low: &'b mut String) -> &'b str {
    low.clear();
    low.push_str(v);
    low.make_ascii_lowercase();
    low
}

impl FieldIndex {
    /// The literal automaton: the NFA of a large set, or for a moderate one the DFA built on
    /// first use (an NFA if the DFA cannot be built; `None` if neither can, when
    /// [`FieldIndex::probe`] compares the literals one by one).
    fn automaton(&self) -> Option<&AhoCorasick> {
        if self.dfa_literals.is_empty() {
            return self.ac.as_ref();
        }
        if let Some(dfa) = self.dfa.get() {
            return dfa.as_ref();
        }
        let seen = self
            .probes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if seen < DFA_AFTER {
            let nfa = self.nfa.get_or_init(|| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .ascii_case_insensitive(true)
                    .kind(Some(AhoCorasickKind::ContiguousNFA))
                    .build(self.dfa_literals.iter().map(|l| l.as_bytes()))
                    .ok()
            });
            if nfa.is_some() {
                return nfa.as_ref();
            }
        }
        self.dfa
            .get_or_init(|| {
                let build = |kind| {
                    AhoCorasick::builder()
                        .match_kind(MatchKind::Standard)
                        .ascii_case_insensitive(true)
                        .kind(Some(kind))
                        .build(self.dfa_literals.iter().map(|l| l.as_bytes()))
                        .ok()
                };
                build(AhoCorasickKind::DFA).or_else(|| build(AhoCorasickKind::NoncontiguousNFA))
            })
            .as_ref()
    }

    /// Marks the literal postings `v` hits without an automaton: each literal compared in
    /// turn, ignoring ASCII case (the path of an automaton that could not be built).
    fn probe_literals_slowly(&self, v: &str, mk: &mut Marker<'_>) {
        let v = v.as_bytes();
        for (i, lit) in self.dfa_literals.iter().enumerate() {
            let lit = lit.as_bytes();
            let Some(&(a, b)) = self.ac_posts.get(i) else {
                continue;
            };
            let at_start = v
                .get(..lit.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(lit));
            let at_end = v
                .len()
                .checked_sub(lit.len())
                .and_then(|s| v.get(s..))
                .is_some_and(|p| p.eq_ignore_ascii_case(lit));
            let anywhere = at_start
                || at_end
                || v.windows(lit.len().max(1))
                    .any(|w| w.eq_ignore_ascii_case(lit));
            for p in self.posts.get(a as usize..b as usize).unwrap_or_default() {
                let ok = match p.place {
                    Place::Anywhere => anywhere,
                    Place::Start => at_start,
                    Place::End => at_end,
                };
                if ok && p.rule < mk.best {
                    mk.post(p);
                }
            }
        }
    }

    /// Marks the literal postings `v` hits for a set of at most [`SMALL_LITERALS`] literals,
    /// each compared in turn: a prefix or suffix compared ignoring ASCII case, a substring
    /// searched for (only if a posting needs it) in `v` lowered into `low`.
    fn probe_few(&self, v: &str, low: &mut String, mk: &mut Marker<'_>) {
        let vb = v.as_bytes();
        let mut lowered = false;
        for (i, lit) in self.dfa_literals.iter().enumerate() {
            let lb = lit.as_bytes();
            let Some(rest) = vb.len().checked_sub(lb.len()) else {
                continue; // longer than the value
            };
            let Some(&(a, b)) = self.ac_posts.get(i) else {
                continue;
            };
            let at_start = vb
                .get(..lb.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(lb));
            let at_end = vb.get(rest..).is_some_and(|p| p.eq_ignore_ascii_case(lb));
            let mut anywhere = (at_start || at_end).then_some(true);
            for p in self.posts.get(a as usize..b as usize).unwrap_or_default() {
                if p.rule >= mk.best {
                    break;
                }
                let ok = match p.place {
                    Place::Start => at_start,
                    Place::End => at_end,
                    Place::Anywhere => *anywhere.get_or_insert_with(|| {
                        if !lowered {
                            lower_into(v, low);
                            lowered = true;
                        }
                        low.contains(&**lit)
                    }),
                };
                if ok {
                    mk.post(p);
                }
            }
        }
    }

    /// Marks every posting the alert's values at this field hit.
    ///
    /// Keys and literals are folded. An ASCII value is probed as it is by the exact table, the
    /// literal comparisons and the automata built on first use, which ignore ASCII case
    /// (folding it would only lower its ASCII letters), and lowered into `low` for the
    /// automaton a large set builds at compile, which is case-sensitive (a case-insensitive
    /// one has twice the transitions to build); any other value is folded first, into `buf`.
    fn probe(&self, ctx: &mut Ctx<'_>, mk: &mut Marker<'_>, buf: &mut String, low: &mut String) {
        if (!self.exact.is_empty() || self.ac.is_some() || !self.dfa_literals.is_empty())
            && let Some((raw, _)) = ctx.raw(self.field)
        {
            for v in raw {
                let v: &str = if v.is_ascii() {
                    v
                } else {
                    buf.clear();
                    if fold_into(v, buf) { buf } else { v }
                };
                if let Some(span) = self.exact.get(v) {
                    mk.span(&self.posts, span);
                }
                if self.ac.is_none() && self.dfa_literals.len() <= SMALL_LITERALS {
                    self.probe_few(v, low, mk);
                    continue;
                }
                let Some(ac) = self.automaton() else {
                    self.probe_literals_slowly(v, mk);
                    continue;
                };
                // The automaton built at compile for a large set is case-sensitive over the
                // folded literals (an ASCII-case-insensitive one takes twice as long to build),
                // so it reads the value in lower case (for ASCII text, folding is lowering ASCII
                // letters; a value that is not ASCII is folded already; positions do not move).
                // The automata built on first use ignore ASCII case and read the value as it is.
                let v: &str = if self.ac.is_some() && v.bytes().any(|b| b.is_ascii_uppercase()) {
                    lower_into(v, low)
                } else {
                    v
                };
                for m in ac.find_overlapping_iter(v) {
                    let Some(&(a, b)) = self.ac_posts.get(m.pattern().as_usize()) else {
                        continue;
                    };
                    for p in self.posts.get(a as usize..b as usize).unwrap_or_default() {
                        if p.rule >= mk.best {
                            break;
                        }
                        let ok = match p.place {
                            Place::Anywhere => true,
                            Place::Start => m.start() == 0,
                            Place::End => m.end() == v.len(),
                        };
                        if ok {
                            mk.post(p);
                        }
                    }
                }
            }
        }
        if !self.v4.is_empty() || !self.v6.is_empty() {
            let Some((raw, _)) = ctx.raw(self.field) else {
                return;
            };
            for v in raw {
                match v.trim().parse::<IpAddr>().map(super::cond::canonical_ip) {
                    Ok(IpAddr::V4(a)) => {
                        let a = u32::from(a);
                        for (p, map) in &self.v4 {
                            let mask = u32::MAX.checked_shl(32 - u32::from(*p)).unwrap_or(0);
                            if let Some(span) = map.get(&(a & mask)) {
                                mk.span(&self.posts, *span);
                            }
                        }
                    }
                    Ok(IpAddr::V6(a)) => {
                        let a = u128::from(a);
                        for (p, map) in &self.v6 {
                            let mask = u128::MAX.checked_shl(128 - u32::from(*p)).unwrap_or(0);
                            if let Some(span) = map.get(&(a & mask)) {
                                mk.span(&self.posts, *span);
                            }
                        }
                    }
                    Err(_) => {}
                }
            }
        }
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
    by_type: Map<Box<str>, Bucket>,
    any_type: Bucket,
    meta: Vec<Meta>,
    by_name: Map<String, usize>,
    warnings: Vec<RuleWarning>,
}

impl RuleSet {
    /// Checks every rule and compiles them. All problems of all rules are reported at once in
    /// the [`RuleError`]; over-broad rules compile with [`RuleSet::warnings`].
    pub fn compile(rules: impl IntoIterator<Item = SuppressionRule>) -> Result<RuleSet, RuleError> {
        let rules: Vec<SuppressionRule> = rules.into_iter().collect();
        let (compiled, fields, warnings) = compile_all(&rules)?;
        let mut by_type: Map<Box<str>, Vec<u32>> = Map::default();
        let mut any_type = Vec::new();
        let mut meta: Vec<Meta> = Vec::with_capacity(rules.len());
        for (i, rule) in rules.iter().enumerate() {
            meta.push(Meta {
                expires: rule.expiration(),
                ..Meta::default()
            });
            if rule.state() != RuleState::Enabled {
                continue; // never matches; kept for listing and explanations
            }
            let Ok(id) = u32::try_from(i) else { break };
            if rule.is_any_type() {
                any_type.push(id);
            } else {
                // Types compare ignoring ASCII case: partitions are keyed in lower case.
                let t = rule.alert_type().trim();
                let lower;
                let key = if t.bytes().any(|b| b.is_ascii_uppercase()) {
                    lower = t.to_ascii_lowercase();
                    lower.as_str()
                } else {
                    t
                };
                match by_type.get_mut(key) {
                    Some(list) => list.push(id),
                    None => {
                        by_type.insert(key.into(), vec![id]);
                    }
                }
            }
        }
        let counts = piece_counts(&compiled);
        let by_type = by_type
            .into_iter()
            .map(|(t, mut ids)| {
                ids.sort_unstable();
                let b = build_bucket(&ids, &compiled, &fields, &counts, &mut meta);
                (t, b)
            })
            .collect();
        let any_type = build_bucket(&any_type, &compiled, &fields, &counts, &mut meta);
        let by_name = rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.name().to_owned(), i))
            .collect();
        Ok(RuleSet {
            by_type,
            any_type,
            meta,
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

    /// The partition of an alert type (compared ignoring ASCII case).
    fn bucket_for(&self, t: &str) -> Option<&Bucket> {
        if !t.bytes().any(|b| b.is_ascii_uppercase()) {
            return self.by_type.get(t);
        }
        let mut buf = [0u8; 96];
        match buf.get_mut(..t.len()) {
            Some(dst) => {
                dst.copy_from_slice(t.as_bytes());
                dst.make_ascii_lowercase();
                std::str::from_utf8(dst)
                    .ok()
                    .and_then(|k| self.by_type.get(k))
            }
            None => self.by_type.get(t.to_ascii_lowercase().as_str()),
        }
    }

    /// Fills `s.cands` with the candidate rules for the alert, in rule order; with `first`,
    /// only those that can come before the first match.
    fn candidates(&self, ctx: &mut Ctx<'_>, s: &mut Scratch, at: DateTime<Utc>, first: bool) {
        s.cands.clear();
        if s.masks.len() < self.rules.len() {
            s.masks.resize(self.rules.len(), 0);
        }
        let typed = self.bucket_for(&ctx.alert.alert_type);
        let mut mk = Marker {
            masks: &mut s.masks,
            touched: &mut s.touched,
            complete: &mut s.complete,
            meta: &self.meta,
            at,
            first,
            best: u32::MAX,
        };
        for bucket in typed.into_iter().chain([&self.any_type]) {
            s.cands.extend_from_slice(&bucket.always);
            for fi in &bucket.fields {
                fi.probe(ctx, &mut mk, &mut s.fold_buf, &mut s.low_buf);
            }
        }
        let best = mk.best;
        for &r in s.touched.iter() {
            if let Some(m) = s.masks.get_mut(r as usize) {
                *m = 0;
            }
        }
        s.touched.clear();
        s.cands.extend(s.complete.drain(..).filter(|&r| r <= best));
        if first {
            s.cands.retain(|&r| r <= best);
        }
        s.cands.sort_unstable();
    }

    /// The rule if it matches: not expired, and every condition the index did not prove holds.
    fn verify(&self, i: u32, ctx: &mut Ctx<'_>, at: DateTime<Utc>) -> Option<&SuppressionRule> {
        let i = i as usize;
        let m = self.meta.get(i)?;
        if m.expires.is_some_and(|e| at >= e) {
            return None;
        }
        let c = self.compiled.get(i)?;
        let mut absent = false;
        for &top in m.verify.iter() {
            match eval(c.conds.get(usize::from(top))?, ctx, c.absent_match) {
                Truth::False => return None,
                Truth::Absent => absent = true,
                Truth::True => {}
            }
        }
        if absent { None } else { self.rules.get(i) }
    }

    /// Every rule that matches `alert` at `at`, in rule-set order.
    pub fn matching(&self, alert: &Alert, at: DateTime<Utc>) -> Vec<&SuppressionRule> {
        with_scratch(|s| {
            let mut ctx = Ctx::with_buffers(alert, &self.fields.paths, std::mem::take(&mut s.ctx));
            self.candidates(&mut ctx, s, at, false);
            let out = s
                .cands
                .iter()
                .filter_map(|&i| self.verify(i, &mut ctx, at))
                .collect();
            s.ctx = ctx.into_buffers();
            out
        })
    }

    /// The first rule (in rule-set order) that matches: the cheap call for the ingest path.
    pub fn first_match(&self, alert: &Alert, at: DateTime<Utc>) -> Option<&SuppressionRule> {
        with_scratch(|s| {
            let mut ctx = Ctx::with_buffers(alert, &self.fields.paths, std::mem::take(&mut s.ctx));
            self.candidates(&mut ctx, s, at, true);
            let out = s.cands.iter().find_map(|&i| self.verify(i, &mut ctx, at));
            s.ctx = ctx.into_buffers();
            out
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_compared_one_by_one_mark_what_the_automaton_would() {
        let lits = ["shell", "web-", ".exe"];
        let place = [Place::Anywhere, Place::Start, Place::End];
        let fi = FieldIndex {
            field: 0,
            exact: ExactMap::default(),
            ac: None,
            dfa_literals: lits.iter().map(|l| Box::<str>::from(*l)).collect(),
            dfa: OnceLock::new(),
            nfa: OnceLock::new(),
            probes: std::sync::atomic::AtomicU32::new(0),
            ac_posts: vec![(0, 1), (1, 2), (2, 3)],
            v4: Vec::new(),
            v6: Vec::new(),
            posts: (0..3)
                .map(|i| Post {
                    needed: 1,
                    ..Post::new(i, 0, place[i as usize])
                })
                .collect(),
        };
        // As if no automaton could be built.
        assert!(fi.dfa.set(None).is_ok());
        assert!(fi.automaton().is_none());
        let meta: Vec<Meta> = (0..3).map(|_| Meta::default()).collect();
        for (v, want) in [
            ("PowerSHELL.EXE", [true, false, true]),
            ("WEB-01", [false, true, false]),
            ("x.exe y web-", [false, false, false]),
            ("web-shell.exe", [true, true, true]),
        ] {
            let (mut masks, mut touched, mut complete) = (vec![0u8; 3], Vec::new(), Vec::new());
            let mut mk = Marker {
                masks: &mut masks,
                touched: &mut touched,
                complete: &mut complete,
                meta: &meta,
                at: Utc::now(),
                first: false,
                best: u32::MAX,
            };
            fi.probe_literals_slowly(v, &mut mk);
            let got: Vec<bool> = masks.iter().map(|m| *m != 0).collect();
            assert_eq!(got, want, "{v}");
        }
    }
}
