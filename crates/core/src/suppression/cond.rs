//! Conditions: checking the JSON form, the compiled form, and three-valued evaluation.

use std::borrow::Cow;
use std::net::IpAddr;

use regex::{Regex, RegexBuilder};
use serde_json::Value;

use super::path::{FieldPath, Presence};
use crate::entity::kind_of;
use crate::{Alert, JsonMap};

/// Longest regex pattern accepted, in characters.
pub(crate) const MAX_REGEX_LEN: usize = 1000;
/// Largest compiled regex program accepted, in bytes.
pub(crate) const MAX_REGEX_SIZE: usize = 256 * 1024;

pub(crate) use crate::text::{fold, fold_into};

/// Three-valued truth: a test on a value the alert does not have is `Absent`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Truth {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// The condition tests a value the alert does not have.
    Absent,
}

impl Truth {
    fn not(self) -> Truth {
        match self {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::Absent => Truth::Absent,
        }
    }

    fn from_bool(b: bool) -> Truth {
        if b { Truth::True } else { Truth::False }
    }
}

/// An IP network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    pub(crate) fn parse(s: &str) -> Option<Net> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.len() <= 3 => {
                p.parse::<u8>().ok().filter(|n| *n <= max)?
            }
            Some(_) => return None,
        };
        Some(Net { addr, prefix })
    }

    /// The prefix length and the network address with host bits cleared.
    pub(crate) fn masked(&self) -> (u8, IpAddr) {
        let addr = match self.addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V4((u32::from(a) & mask).into())
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V6((u128::from(a) & mask).into())
            }
        };
        (self.prefix, addr)
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical_ip(ip);
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it carries; anything else unchanged.
pub(crate) fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Glob match of the whole `text` against `pat` (`*` any run, `?` one character), character by
/// character without allocating.
pub(crate) fn glob(pat: &str, text: &str) -> bool {
    // Length of the UTF-8 character starting with byte `b`.
    fn width(b: u8) -> usize {
        match b {
            0..0x80 => 1,
            0xF0.. => 4,
            0xE0.. => 3,
            _ => 2,
        }
    }
    let (p, t) = (pat.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while let Some(&tb) = t.get(ti) {
        let w = width(tb);
        match p.get(pi) {
            Some(b'?') => {
                pi += 1;
                ti += w;
                continue;
            }
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
                continue;
            }
            // Same lead byte means same width, so comparing the text character's bytes is
            // comparing characters.
            Some(_) if p.get(pi..pi + w).is_some() && p.get(pi..pi + w) == t.get(ti..ti + w) => {
                pi += w;
                ti += w;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, st)) => {
                let next = st + t.get(st).map_or(1, |b| width(*b));
                pi = sp + 1;
                ti = next;
                star = Some((sp, next));
            }
            None => return false,
        }
    }
    while p.get(pi) == Some(&b'*') {
        pi += 1;
    }
    pi == p.len()
}

/// Lists longer than this get a hash set (exact values) or an automaton (substrings, prefixes,
/// suffixes) for checking, so that a long list costs one probe or one scan per value.
const LONG_LIST: usize = 8;

/// Values to compare against, folded unless case-sensitive. Long lists get a hash set, and an
/// Aho-Corasick automaton built on first use for substring, prefix and suffix tests.
#[derive(Debug)]
pub(crate) struct Needles {
    pub(crate) list: Vec<String>,
    set: Option<std::collections::HashSet<String, foldhash::fast::RandomState>>,
    ac: std::sync::OnceLock<Option<aho_corasick::AhoCorasick>>,
}

impl Needles {
    fn new(list: Vec<String>) -> Needles {
        let set = (list.len() > LONG_LIST).then(|| list.iter().cloned().collect());
        Needles {
            list,
            set,
            ac: std::sync::OnceLock::new(),
        }
    }

    pub(crate) fn has(&self, v: &str) -> bool {
        match &self.set {
            Some(s) => s.contains(v),
            None => self.list.iter().any(|n| n == v),
        }
    }

    /// The automaton over a long list; `None` for short lists (or if it cannot be built).
    fn automaton(&self) -> Option<&aho_corasick::AhoCorasick> {
        if self.list.len() <= LONG_LIST {
            return None;
        }
        self.ac
            .get_or_init(|| {
                aho_corasick::AhoCorasick::builder()
                    .kind(Some(aho_corasick::AhoCorasickKind::NoncontiguousNFA))
                    .build(&self.list)
                    .ok()
            })
            .as_ref()
    }

    /// Some needle, read as a glob, matches the whole of `v`. Each pattern's literal pieces
    /// are looked for first (a substring search), so that a pattern whose pieces the value
    /// lacks costs no backtracking glob match.
    pub(crate) fn glob_any(&self, v: &str) -> bool {
        self.list.iter().any(|p| {
            p.split(['*', '?'])
                .filter(|piece| !piece.is_empty())
                .all(|piece| v.contains(piece))
                && glob(p, v)
        })
    }

    /// Some needle occurs in `v`.
    pub(crate) fn contains_in(&self, v: &str) -> bool {
        match self.automaton() {
            Some(ac) => ac.is_match(v),
            None => self.list.iter().any(|x| v.contains(x.as_str())),
        }
    }

    /// Some needle starts `v`.
    pub(crate) fn prefix_of(&self, v: &str) -> bool {
        match self.automaton() {
            Some(ac) => ac.find_overlapping_iter(v).any(|m| m.start() == 0),
            None => self.list.iter().any(|x| v.starts_with(x.as_str())),
        }
    }

    /// Some needle ends `v`.
    pub(crate) fn suffix_of(&self, v: &str) -> bool {
        match self.automaton() {
            Some(ac) => ac.find_overlapping_iter(v).any(|m| m.end() == v.len()),
            None => self.list.iter().any(|x| v.ends_with(x.as_str())),
        }
    }
}

/// A compiled operator.
#[derive(Debug)]
pub(crate) enum Op {
    Equals(Needles),
    Contains(Needles),
    StartsWith(Needles),
    EndsWith(Needles),
    Wildcard(Needles),
    Regex(Vec<std::sync::Arc<LazyRegex>>),
    Cidr(Vec<Net>),
    Exists(bool),
}

/// A compiled field test.
#[derive(Debug)]
pub(crate) struct Test {
    pub(crate) field: usize,
    pub(crate) field_text: String,
    pub(crate) op: Op,
    pub(crate) op_name: &'static str,
    pub(crate) case_sensitive: bool,
    /// The values as written, for explanations.
    pub(crate) written: Vec<String>,
}

/// A compiled condition.
#[derive(Debug)]
pub(crate) enum Cond {
    Test(Test),
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
}

/// Interned field paths shared by every rule of a set.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    pub(crate) paths: Vec<FieldPath>,
    index: std::collections::HashMap<FieldPath, usize>,
    /// Field texts seen so far: rules repeat the same few paths, so each is parsed once.
    by_text: std::collections::HashMap<String, Result<usize, String>>,
}

impl Fields {
    /// The interned id of a field path text, or why it is not a path.
    pub(crate) fn resolve_text(&mut self, text: &str) -> Result<usize, String> {
        if let Some(r) = self.by_text.get(text) {
            return r.clone();
        }
        let r = FieldPath::parse(text).map(|p| self.intern(p));
        self.by_text.insert(text.to_owned(), r.clone());
        r
    }

    pub(crate) fn intern(&mut self, p: FieldPath) -> usize {
        if let Some(i) = self.index.get(&p) {
            return *i;
        }
        let i = self.paths.len();
        self.index.insert(p.clone(), i);
        self.paths.push(p);
        i
    }
}

/// A problem found while compiling one condition.
#[derive(Debug)]
pub(crate) struct CondProblem {
    pub(crate) condition: String,
    pub(crate) field: Option<String>,
    pub(crate) message: String,
}

const OPERATORS: [&str; 9] = [
    "equals",
    "in",
    "contains",
    "startsWith",
    "endsWith",
    "wildcard",
    "regex",
    "cidr",
    "exists",
];
const COMBINATORS: [&str; 3] = ["allOf", "anyOf", "not"];

pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn suggest(key: &str) -> Option<&'static str> {
    let all = OPERATORS
        .iter()
        .chain(&COMBINATORS)
        .chain(&["field", "caseSensitive"]);
    all.clone()
        .find(|k| k.eq_ignore_ascii_case(key))
        .or_else(|| {
            all.map(|k| {
                (
                    edit_distance(&key.to_ascii_lowercase(), &k.to_ascii_lowercase()),
                    k,
                )
            })
            .filter(|(d, _)| *d <= 2)
            .min_by_key(|(d, _)| *d)
            .map(|(_, k)| k)
        })
        .copied()
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Compiles one condition object; problems are appended and `None` returned if any.
pub(crate) struct Compiler<'a> {
    pub(crate) fields: &'a mut Fields,
    /// Regexes compiled so far in this rule set, by anchored source: rules repeat patterns.
    pub(crate) regexes: &'a mut std::collections::HashMap<String, std::sync::Arc<LazyRegex>>,
    pub(crate) problems: Vec<CondProblem>,
    /// `(condition, message)` lint warnings.
    pub(crate) warnings: Vec<(String, String)>,
    /// The rule set's distinct regexes so far (for the budgets).
    pub(crate) regex_tally: &'a mut super::budget::RegexTally,
}

impl Compiler<'_> {
    fn problem(&mut self, at: &str, field: Option<&str>, message: impl Into<String>) {
        self.problems.push(CondProblem {
            condition: at.to_owned(),
            field: field.map(str::to_owned),
            message: message.into(),
        });
    }

    pub(crate) fn condition(&mut self, c: &JsonMap, at: &str) -> Option<Cond> {
        let combinator: Vec<&str> = COMBINATORS
            .iter()
            .copied()
            .filter(|k| c.contains_key(*k))
            .collect();
        if !combinator.is_empty() {
            return self.combination(c, at, &combinator);
        }
        self.test(c, at)
    }

    fn combination(&mut self, c: &JsonMap, at: &str, found: &[&str]) -> Option<Cond> {
        if found.len() > 1 || c.len() > 1 {
            let keys: Vec<&str> = c.keys().map(String::as_str).collect();
            self.problem(
                at,
                None,
                format!(
                    "a combination must have exactly one key (allOf, anyOf or not), found {}",
                    keys.join(", ")
                ),
            );
            return None;
        }
        let key = found[0];
        let v = c.get(key)?;
        if key == "not" {
            let here = format!("{at}.not");
            return match v {
                Value::Object(inner) => {
                    self.condition(inner, &here).map(|x| Cond::Not(Box::new(x)))
                }
                other => {
                    self.problem(
                        at,
                        None,
                        format!(
                            "\"not\" takes one condition object, found {}",
                            kind_of(other)
                        ),
                    );
                    None
                }
            };
        }
        let Value::Array(items) = v else {
            self.problem(
                at,
                None,
                format!(
                    "\"{key}\" takes an array of conditions, found {}",
                    kind_of(v)
                ),
            );
            return None;
        };
        if items.is_empty() {
            self.problem(
                at,
                None,
                format!("\"{key}\" is empty; give it at least one condition"),
            );
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let here = format!("{at}.{key}[{i}]");
            match item {
                Value::Object(m) => match self.condition(m, &here) {
                    Some(c) => out.push(c),
                    None => ok = false,
                },
                other => {
                    self.problem(
                        &here,
                        None,
                        format!("expected a condition object, found {}", kind_of(other)),
                    );
                    ok = false;
                }
            }
        }
        if !ok {
            return None;
        }
        Some(if key == "allOf" {
            Cond::All(out)
        } else {
            Cond::Any(out)
        })
    }

    fn test(&mut self, c: &JsonMap, at: &str) -> Option<Cond> {
        let field_text = match c.get("field") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.problem(
                    at,
                    None,
                    format!("\"field\" must be a string, found {}", kind_of(other)),
                );
                return None;
            }
            None => None,
        };
        let f = field_text.as_deref();
        let mut ok = true;
        let mut ops: Vec<&str> = Vec::new();
        for key in c.keys() {
            if key == "field" || key == "caseSensitive" {
                continue;
            }
            if OPERATORS.contains(&key.as_str()) {
                ops.push(key);
            } else {
                let hint = suggest(key)
                    .map(|s| format!(" (did you mean \"{s}\"?)"))
                    .unwrap_or_else(|| {
                        " (expected one of equals, in, contains, startsWith, endsWith, wildcard, regex, cidr, exists, allOf, anyOf, not)".to_owned()
                    });
                self.problem(at, f, format!("unknown operator \"{key}\"{hint}"));
                ok = false;
            }
        }
        let Some(field_text) = field_text else {
            self.problem(
                at,
                None,
                "condition has no \"field\" (e.g. \"entities.ip.address\")",
            );
            return None;
        };
        let path = match self.fields.resolve_text(&field_text) {
            Ok(p) => {
                if let Some(kind) = self.fields.paths[p].custom_entity_type() {
                    self.warnings.push((
                        at.to_owned(),
                        format!(
                            "field \"{field_text}\": entity type {kind:?} is not one Defender \
                             documents; the condition only sees entities whose type is exactly \
                             {kind:?}"
                        ),
                    ));
                }
                Some(p)
            }
            Err(m) => {
                self.problem(at, Some(&field_text), m);
                ok = false;
                None
            }
        };
        let case_sensitive = match c.get("caseSensitive") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                self.problem(
                    at,
                    Some(&field_text),
                    format!(
                        "\"caseSensitive\" must be true or false, found {}",
                        kind_of(other)
                    ),
                );
                ok = false;
                false
            }
        };
        match ops.len() {
            0 if ok => {
                self.problem(
                    at,
                    Some(&field_text),
                    "condition has no operator (e.g. \"in\": [...] or \"contains\": \"...\")",
                );
                return None;
            }
            0 => return None,
            1 => {}
            _ => {
                self.problem(
                    at,
                    Some(&field_text),
                    format!("condition has {} operators ({}); give one per condition and combine them with allOf or anyOf", ops.len(), ops.join(", ")),
                );
                return None;
            }
        }
        let op_key = ops[0];
        let value = c.get(op_key)?;
        let op_name = OPERATORS.iter().copied().find(|o| *o == op_key)?;
        let (op, written) = self.operator(op_name, value, case_sensitive, at, &field_text)?;
        if !ok {
            return None;
        }
        let field = path?;
        Some(Cond::Test(Test {
            field,
            field_text,
            op,
            op_name,
            case_sensitive,
            written,
        }))
    }

    fn values(
        &mut self,
        op: &str,
        v: &Value,
        list_only: bool,
        at: &str,
        field: &str,
    ) -> Option<Vec<String>> {
        let items: Vec<&Value> = match v {
            Value::Array(a) => a.iter().collect(),
            other if !list_only => vec![other],
            other => {
                self.problem(
                    at,
                    Some(field),
                    format!(
                        "\"{op}\" takes an array of values, found {}",
                        kind_of(other)
                    ),
                );
                return None;
            }
        };
        if items.is_empty() {
            self.problem(
                at,
                Some(field),
                format!("\"{op}\" has an empty list of values; it would never match"),
            );
            return None;
        }
        if items.len() > super::budget::MAX_VALUES_PER_CONDITION {
            self.problem(
                at,
                Some(field),
                format!(
                    "\"{op}\" lists {} values; the limit is {} values per condition (split the list across rules)",
                    items.len(),
                    super::budget::MAX_VALUES_PER_CONDITION
                ),
            );
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match scalar_text(item) {
                Some(s) => out.push(s),
                None => {
                    self.problem(
                        at,
                        Some(field),
                        format!(
                            "\"{op}\" value {i} must be a string, number or boolean, found {}",
                            kind_of(item)
                        ),
                    );
                    return None;
                }
            }
        }
        Some(out)
    }

    fn operator(
        &mut self,
        op: &'static str,
        v: &Value,
        cs: bool,
        at: &str,
        field: &str,
    ) -> Option<(Op, Vec<String>)> {
        let fold_all = |vals: &[String]| -> Vec<String> {
            vals.iter()
                .map(|s| if cs { s.clone() } else { fold(s).into_owned() })
                .collect()
        };
        match op {
            "exists" => match v {
                Value::Bool(b) => Some((Op::Exists(*b), vec![b.to_string()])),
                other => {
                    self.problem(
                        at,
                        Some(field),
                        format!("\"exists\" must be true or false, found {}", kind_of(other)),
                    );
                    None
                }
            },
            "in" | "equals" => {
                let vals = self.values(op, v, op == "in", at, field)?;
                Some((Op::Equals(Needles::new(fold_all(&vals))), vals))
            }
            "contains" | "startsWith" | "endsWith" | "wildcard" => {
                let vals = self.values(op, v, false, at, field)?;
                if op != "wildcard" && vals.iter().any(String::is_empty) {
                    self.problem(at, Some(field), format!("\"{op}\" with an empty value matches everything; remove the condition or give a value"));
                    return None;
                }
                if op == "contains" {
                    for s in vals.iter().filter(|s| s.chars().count() <= 2) {
                        self.warnings.push((at.to_owned(), format!("field \"{field}\": \"contains\" {s:?} is very short and will match many values")));
                    }
                }
                if op == "wildcard" && vals.iter().any(|p| p.chars().all(|c| c == '*')) {
                    self.warnings.push((
                        at.to_owned(),
                        format!("field \"{field}\": wildcard \"*\" matches every value"),
                    ));
                }
                let n = Needles::new(fold_all(&vals));
                let compiled = match op {
                    "contains" => Op::Contains(n),
                    "startsWith" => Op::StartsWith(n),
                    "endsWith" => Op::EndsWith(n),
                    _ => Op::Wildcard(n),
                };
                Some((compiled, vals))
            }
            "regex" => {
                let vals = self.values(op, v, false, at, field)?;
                let mut out = Vec::new();
                for p in &vals {
                    out.push(self.regex(p, cs, at, field)?);
                }
                if vals.iter().any(|p| matches_everything(p)) {
                    self.warnings.push((
                        at.to_owned(),
                        format!("field \"{field}\": regex \".*\" matches every value"),
                    ));
                }
                Some((Op::Regex(out), vals))
            }
            "cidr" => {
                let vals = self.values(op, v, false, at, field)?;
                let mut nets = Vec::new();
                for s in &vals {
                    match Net::parse(s) {
                        Some(n) => nets.push(n),
                        None => {
                            self.problem(at, Some(field), format!("invalid CIDR {s:?} (expected an IPv4 or IPv6 network such as 10.0.0.0/8 or 2001:db8::/32)"));
                            return None;
                        }
                    }
                }
                if let Some(all) = vals.iter().find(|s| s.trim().ends_with("/0")) {
                    self.warnings.push((
                        at.to_owned(),
                        format!("field \"{field}\": cidr {all:?} matches every address"),
                    ));
                }
                Some((Op::Cidr(nets), vals))
            }
            _ => None,
        }
    }

    fn regex(
        &mut self,
        p: &str,
        cs: bool,
        at: &str,
        field: &str,
    ) -> Option<std::sync::Arc<LazyRegex>> {
        if p.chars().count() > MAX_REGEX_LEN {
            self.problem(
                at,
                Some(field),
                format!(
                    "regex is {} characters long; the limit is {MAX_REGEX_LEN}",
                    p.chars().count()
                ),
            );
            return None;
        }
        let source = anchored_source(p, cs);
        if let Some(r) = self.regexes.get(&source) {
            return Some(r.clone());
        }
        // Checked before parsing, so that a set of thousands of long regexes is refused at
        // once rather than parsed first.
        self.regex_tally.chars += p.len();
        if self.regex_tally.chars > super::budget::MAX_REGEX_CHARS_PER_SET {
            self.problem(
                at,
                Some(field),
                format!(
                    "the rule set's distinct regexes reach {} characters here; the limit is {} characters of regex per rule set (simplify them, or use \"contains\", \"wildcard\" or \"in\")",
                    self.regex_tally.chars,
                    super::budget::MAX_REGEX_CHARS_PER_SET
                ),
            );
            return None;
        }
        // Checked now, compiled on first use: most rules' regexes never meet a candidate alert,
        // and compiling thousands of them would make `compile` slow.
        let hir = match regex_syntax::ParserBuilder::new()
            .case_insensitive(!cs)
            .build()
            .parse(&source)
        {
            Ok(h) => h,
            Err(e) => {
                let msg = e.to_string();
                let first = msg.lines().last().unwrap_or("invalid regex").trim();
                self.problem(at, Some(field), format!("invalid regex {p:?}: {first}"));
                return None;
            }
        };
        let size = program_size(&hir);
        if size > MAX_REGEX_PROGRAM {
            self.problem(
                at,
                Some(field),
                format!(
                    "regex compiles to more than {MAX_REGEX_SIZE} bytes (about {MAX_REGEX_PROGRAM} automaton states); simplify it"
                ),
            );
            return None;
        }
        self.regex_tally.program = self.regex_tally.program.saturating_add(size);
        if self.regex_tally.program > super::budget::MAX_REGEX_PROGRAM_PER_SET {
            self.problem(
                at,
                Some(field),
                format!(
                    "the rule set's distinct regexes reach an estimated {} automaton states here; the limit is {} per rule set (simplify them, or use \"contains\", \"wildcard\" or \"in\")",
                    self.regex_tally.program,
                    super::budget::MAX_REGEX_PROGRAM_PER_SET
                ),
            );
            return None;
        }
        let lazy = std::sync::Arc::new(LazyRegex {
            source: source.clone(),
            literals: required_literals_of(p),
            cell: std::sync::OnceLock::new(),
        });
        self.regexes.insert(source, lazy.clone());
        Some(lazy)
    }
}

/// `true` for a regex that matches every value, such as `.*`, `^.*$` or `(?s).*`.
pub(crate) fn matches_everything(p: &str) -> bool {
    let body = p.trim_start_matches("(?s)").trim_start_matches('^');
    let body = body.strip_suffix('$').unwrap_or(body);
    matches!(body, ".*" | "(.*)" | "(?:.*)" | "[\\s\\S]*" | "(?s:.*)")
}

/// The most automaton states [`program_size`] allows: about [`MAX_REGEX_SIZE`] bytes of
/// compiled program.
pub(crate) const MAX_REGEX_PROGRAM: u64 = (MAX_REGEX_SIZE / 16) as u64;

/// An estimate of a regex's compiled size, in automaton states: literals count their bytes,
/// classes their ranges (four UTF-8 states each), repetitions multiply.
pub(crate) fn program_size(h: &regex_syntax::hir::Hir) -> u64 {
    use regex_syntax::hir::{Class, HirKind};
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => 1,
        HirKind::Literal(l) => l.0.len() as u64,
        HirKind::Class(Class::Unicode(c)) => 4 * c.ranges().len() as u64,
        HirKind::Class(Class::Bytes(c)) => c.ranges().len() as u64,
        HirKind::Repetition(r) => {
            let times = r.max.unwrap_or(r.min.saturating_add(1)).max(1);
            program_size(&r.sub).saturating_mul(u64::from(times))
        }
        HirKind::Capture(c) => program_size(&c.sub),
        HirKind::Concat(v) | HirKind::Alternation(v) => {
            v.iter().map(program_size).fold(0u64, u64::saturating_add)
        }
    }
}

/// A regex checked at compile time and compiled on first use, shared by every condition that
/// writes the same pattern.
#[derive(Debug)]
pub(crate) struct LazyRegex {
    source: String,
    /// Literals one of which every match contains (folded, ASCII), for the index.
    pub(crate) literals: Option<Vec<String>>,
    cell: std::sync::OnceLock<Option<Regex>>,
}

/// Literals of which every match of `pattern` contains at least one, folded; `None` if there
/// are none usable as index keys. Only ASCII literals qualify: every character a
/// case-insensitive regex matches in place of an ASCII one folds to it (see [`fold`]), which is
/// not true beyond ASCII.
fn required_literals_of(pattern: &str) -> Option<Vec<String>> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .ok()?;
    let set = required_literals(&hir)?;
    let mut out = Vec::with_capacity(set.len());
    for l in set {
        match String::from_utf8(l) {
            Ok(s) if !s.is_empty() && s.is_ascii() => out.push(s.to_ascii_lowercase()),
            _ => return None,
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

/// A set of literals one of which every match of `h` contains.
fn required_literals(h: &regex_syntax::hir::Hir) -> Option<Vec<Vec<u8>>> {
    use regex_syntax::hir::HirKind;
    let min_len = |v: &Vec<Vec<u8>>| v.iter().map(Vec::len).min().unwrap_or(0);
    match h.kind() {
        HirKind::Literal(l) => Some(vec![l.0.to_vec()]),
        HirKind::Capture(c) => required_literals(&c.sub),
        HirKind::Repetition(r) if r.min >= 1 => required_literals(&r.sub),
        HirKind::Concat(items) => items
            .iter()
            .filter_map(required_literals)
            .max_by_key(min_len),
        HirKind::Alternation(items) => {
            let mut all = Vec::new();
            for i in items {
                all.extend(required_literals(i)?);
                if all.len() > 64 {
                    return None;
                }
            }
            Some(all)
        }
        _ => None,
    }
}

impl LazyRegex {
    /// The compiled regex; `None` only if the regex engine refuses a pattern the checks passed
    /// (then the condition matches nothing, the safe side).
    pub(crate) fn get(&self) -> Option<&Regex> {
        self.cell
            .get_or_init(|| {
                RegexBuilder::new(&self.source)
                    .size_limit(MAX_REGEX_SIZE.saturating_mul(4))
                    .build()
                    .ok()
            })
            .as_ref()
    }
}

/// The regex a `regex` condition runs: anchored to the whole value, case-insensitive unless
/// case-sensitive, size-limited.
pub(crate) fn anchored_regex(p: &str, case_sensitive: bool) -> Result<Regex, regex::Error> {
    RegexBuilder::new(&anchored_source(p, case_sensitive))
        .size_limit(MAX_REGEX_SIZE)
        .build()
}

/// The source of [`anchored_regex`], with the case flag inline so that a `RegexSet` can mix
/// case-sensitive and case-insensitive patterns.
pub(crate) fn anchored_source(p: &str, case_sensitive: bool) -> String {
    let flag = if case_sensitive { "" } else { "(?i)" };
    format!("{flag}^(?:{p})$")
}

/// Where one field's values sit in a [`Ctx`]'s flat value lists.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Slot {
    resolved: bool,
    no_entity: bool,
    start: u32,
    end: u32,
    /// Start of the folded copies, or `u32::MAX` until folded.
    folded: u32,
}

/// Buffers a [`Ctx`] can be built from and handed back, so that matching many alerts reuses
/// the same allocations.
#[derive(Debug, Default)]
pub(crate) struct CtxBuffers {
    slots: Vec<Slot>,
    raw: Vec<Cow<'static, str>>,
    folded: Vec<Folded>,
    arena: String,
}

/// An empty vector of another lifetime, keeping the allocation (the element layout is the same).
fn recycle<'b>(mut v: Vec<Cow<'_, str>>) -> Vec<Cow<'b, str>> {
    v.clear();
    v.into_iter().map(|_| Cow::Borrowed("")).collect()
}

/// A folded value: the raw value itself (folding changed nothing), or a range of the arena.
#[derive(Clone, Copy, Debug)]
enum Folded {
    Raw(u32),
    Arena(u32, u32),
}

/// One field's folded values, in the order of its raw values.
#[derive(Clone, Copy)]
pub(crate) struct FoldedValues<'c, 'a> {
    raw: &'c [Cow<'a, str>],
    refs: &'c [Folded],
    arena: &'c str,
}

impl<'c> FoldedValues<'c, '_> {
    /// The folded values.
    pub(crate) fn iter(self) -> impl Iterator<Item = &'c str> {
        self.refs.iter().map(move |f| match *f {
            Folded::Raw(i) => self.raw.get(i as usize).map_or("", |v| v.as_ref()),
            Folded::Arena(a, b) => self.arena.get(a as usize..b as usize).unwrap_or_default(),
        })
    }
}

/// Per-alert evaluation state: the alert and the values resolved so far, each field resolved
/// (and folded) at most once, all fields' values in flat lists and folded text in one arena.
pub(crate) struct Ctx<'a> {
    pub(crate) alert: &'a Alert,
    fields: &'a [FieldPath],
    slots: Vec<Slot>,
    raw: Vec<Cow<'a, str>>,
    folded: Vec<Folded>,
    arena: String,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(alert: &'a Alert, fields: &'a [FieldPath]) -> Ctx<'a> {
        Ctx::with_buffers(alert, fields, CtxBuffers::default())
    }

    /// A context over reused buffers.
    pub(crate) fn with_buffers(
        alert: &'a Alert,
        fields: &'a [FieldPath],
        b: CtxBuffers,
    ) -> Ctx<'a> {
        let mut slots = b.slots;
        slots.clear();
        slots.resize(fields.len(), Slot::default());
        let (mut folded, mut arena) = (b.folded, b.arena);
        folded.clear();
        arena.clear();
        Ctx {
            alert,
            fields,
            slots,
            raw: b.raw,
            folded,
            arena,
        }
    }

    /// The buffers back, emptied, for the next alert.
    pub(crate) fn into_buffers(self) -> CtxBuffers {
        CtxBuffers {
            slots: self.slots,
            raw: recycle(self.raw),
            folded: self.folded,
            arena: self.arena,
        }
    }

    fn slot(&mut self, field: usize) -> Option<Slot> {
        let s = *self.slots.get(field)?;
        if s.resolved {
            return Some(s);
        }
        let path = self.fields.get(field)?;
        let start = self.raw.len();
        let presence = path.resolve(self.alert, &mut self.raw);
        let s = Slot {
            resolved: true,
            no_entity: presence == Presence::NoEntityOfType,
            start: u32::try_from(start).ok()?,
            end: u32::try_from(self.raw.len()).ok()?,
            folded: u32::MAX,
        };
        *self.slots.get_mut(field)? = s;
        Some(s)
    }

    /// The field's values as the alert has them, and whether the alert lacks the entity type.
    pub(crate) fn raw(&mut self, field: usize) -> Option<(&[Cow<'a, str>], bool)> {
        let s = self.slot(field)?;
        Some((self.raw.get(s.start as usize..s.end as usize)?, s.no_entity))
    }

    /// The field's values, raw and folded (same order).
    pub(crate) fn both(&mut self, field: usize) -> Option<(&[Cow<'a, str>], FoldedValues<'_, 'a>)> {
        let mut s = self.slot(field)?;
        if s.folded == u32::MAX {
            s.folded = u32::try_from(self.folded.len()).ok()?;
            for i in s.start..s.end {
                let v = self.raw.get(i as usize)?;
                let a = self.arena.len();
                let f = if fold_into(v, &mut self.arena) {
                    Folded::Arena(
                        u32::try_from(a).ok()?,
                        u32::try_from(self.arena.len()).ok()?,
                    )
                } else {
                    Folded::Raw(i)
                };
                self.folded.push(f);
            }
            *self.slots.get_mut(field)? = s;
        }
        let n = (s.end - s.start) as usize;
        let f = s.folded as usize;
        Some((
            self.raw.get(s.start as usize..s.end as usize)?,
            FoldedValues {
                raw: &self.raw,
                refs: self.folded.get(f..f + n)?,
                arena: &self.arena,
            },
        ))
    }

    /// The field's folded values.
    pub(crate) fn folded(&mut self, field: usize) -> Option<FoldedValues<'_, 'a>> {
        self.both(field).map(|(_, f)| f)
    }
}

fn any_value(t: &Test, ctx: &mut Ctx<'_>) -> Option<String> {
    let matches_one = |v: &str, raw: &str| -> bool {
        match &t.op {
            Op::Equals(n) => n.has(v),
            Op::Contains(n) => n.contains_in(v),
            Op::StartsWith(n) => n.prefix_of(v),
            Op::EndsWith(n) => n.suffix_of(v),
            Op::Wildcard(n) => n.glob_any(v),
            Op::Regex(rs) => rs
                .iter()
                .any(|re| re.get().is_some_and(|re| re.is_match(raw))),
            Op::Cidr(nets) => raw
                .trim()
                .parse::<IpAddr>()
                .is_ok_and(|ip| nets.iter().any(|n| n.contains(ip))),
            Op::Exists(_) => false,
        }
    };
    if t.case_sensitive || matches!(t.op, Op::Regex(_) | Op::Cidr(_)) {
        let (raw, _) = ctx.raw(t.field)?;
        raw.iter()
            .find(|v| matches_one(v, v))
            .map(|v| v.to_string())
    } else {
        let (raw, folded) = ctx.both(t.field)?;
        folded
            .iter()
            .zip(raw.iter())
            .find(|(f, raw)| matches_one(f, raw))
            .map(|(_, raw)| raw.to_string())
    }
}

/// Evaluates a test: `(truth, the value that satisfied it)`.
pub(crate) fn eval_test(
    t: &Test,
    ctx: &mut Ctx<'_>,
    absent_match: bool,
) -> (Truth, Option<String>) {
    let Some((raw, no_entity)) = ctx.raw(t.field) else {
        return (Truth::Absent, None);
    };
    if let Op::Exists(want) = t.op {
        return (Truth::from_bool(raw.is_empty() != want), None);
    }
    if raw.is_empty() {
        return if no_entity && absent_match {
            (Truth::True, None)
        } else {
            (Truth::Absent, None)
        };
    }
    match any_value(t, ctx) {
        Some(v) => (Truth::True, Some(v)),
        None => (Truth::False, None),
    }
}

/// Evaluates a condition, short-circuiting.
pub(crate) fn eval(c: &Cond, ctx: &mut Ctx<'_>, absent_match: bool) -> Truth {
    match c {
        Cond::Test(t) => eval_test(t, ctx, absent_match).0,
        Cond::Not(inner) => eval(inner, ctx, absent_match).not(),
        Cond::All(items) => eval_all(items, ctx, absent_match),
        Cond::Any(items) => {
            let mut absent = false;
            for i in items {
                match eval(i, ctx, absent_match) {
                    Truth::True => return Truth::True,
                    Truth::Absent => absent = true,
                    Truth::False => {}
                }
            }
            if absent { Truth::Absent } else { Truth::False }
        }
    }
}

/// `allOf` over a list: false wins, then absent, then true.
pub(crate) fn eval_all(items: &[Cond], ctx: &mut Ctx<'_>, absent_match: bool) -> Truth {
    let mut absent = false;
    for i in items {
        match eval(i, ctx, absent_match) {
            Truth::False => return Truth::False,
            Truth::Absent => absent = true,
            Truth::True => {}
        }
    }
    if absent { Truth::Absent } else { Truth::True }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_whole_values() {
        assert!(glob("power*.exe", "powershell.exe"));
        assert!(glob("*", ""));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(!glob("power", "powershell"));
        assert!(glob("*shell*", "powershell.exe"));
        assert!(glob("**a**b", "xxaxxb"));
        assert!(!glob("*a*b", "xxbxxa"));
    }

    #[test]
    fn cidr_contains() {
        let n = Net::parse("10.1.0.0/16").unwrap_or_else(|| unreachable!());
        assert!(n.contains("10.1.200.3".parse().unwrap_or_else(|_| unreachable!())));
        assert!(!n.contains("10.2.0.1".parse().unwrap_or_else(|_| unreachable!())));
        assert!(n.contains("::ffff:10.1.0.9".parse().unwrap_or_else(|_| unreachable!())));
        let v6 = Net::parse("2001:db8::/32").unwrap_or_else(|| unreachable!());
        assert!(v6.contains("2001:db8:1::5".parse().unwrap_or_else(|_| unreachable!())));
        assert!(!v6.contains("10.1.0.1".parse().unwrap_or_else(|_| unreachable!())));
        assert!(
            Net::parse("0.0.0.0/0")
                .is_some_and(|n| n.contains("8.8.8.8".parse().unwrap_or_else(|_| unreachable!())))
        );
        for bad in [
            "10.0.0.0/33",
            "abc",
            "10.0.0.0/",
            "10.0.0/8",
            "::/129",
            "10.0.0.0/-1",
            "10.0.0.0/+8",
        ] {
            assert!(Net::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn fold_is_character_wise() {
        assert_eq!(fold("ÄRGER"), "ärger");
        assert_eq!(fold("ΑΣ"), "ασ"); // no final-sigma context rule
        assert!(matches!(fold("already lower"), Cow::Borrowed(_)));
        assert_eq!(fold("ſ\u{212A}"), "sk");
    }

    #[test]
    fn regex_required_literals() {
        let lits = |p: &str| required_literals_of(p);
        assert_eq!(lits("svc-app[0-9]{3}"), Some(vec!["svc-app".to_owned()]));
        assert_eq!(
            lits(".*contoso-agent-[0-9]+ --run 521.*"),
            Some(vec!["contoso-agent-".to_owned()])
        );
        assert_eq!(
            lits("PowerShell|cmd"),
            Some(vec!["cmd".to_owned(), "powershell".to_owned()])
        );
        assert_eq!(lits("(ab)?cd"), Some(vec!["cd".to_owned()]));
        assert_eq!(lits("[a-z]+"), None);
        assert_eq!(lits("x?"), None);
        assert_eq!(lits("ärger.*"), None); // not ASCII: no index key
    }

    #[test]
    fn regex_size_estimate() {
        let size = |p: &str| {
            regex_syntax::ParserBuilder::new()
                .case_insensitive(true)
                .build()
                .parse(p)
                .map(|h| program_size(&h))
                .unwrap_or(u64::MAX)
        };
        assert!(size("powershell.*-enc.*") < MAX_REGEX_PROGRAM);
        assert!(size(r"\w{1000}") > MAX_REGEX_PROGRAM);
        assert!(size("(a|b){5000}") > MAX_REGEX_PROGRAM);
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("startswith"), Some("startsWith"));
        assert_eq!(suggest("contain"), Some("contains"));
        assert_eq!(suggest("IN"), Some("in"));
        assert_eq!(suggest("frobnicate"), None);
    }
}
