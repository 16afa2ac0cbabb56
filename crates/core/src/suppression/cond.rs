//! Conditions: checking the JSON form, the compiled form, and three-valued evaluation.

use std::net::IpAddr;

use serde_json::Value;

use super::path::FieldPath;
use crate::JsonMap;
use crate::entity::kind_of;

/// Longest regex pattern accepted, in characters.
pub(crate) const MAX_REGEX_LEN: usize = 1000;
/// Largest compiled regex program accepted, in bytes.
pub(crate) const MAX_REGEX_SIZE: usize = 256 * 1024;

pub(crate) use super::eval::*;
pub(crate) use super::regexes::*;
pub(crate) use crate::text::{fold, fold_into};

/// `i` as text, without allocating for the small indices conditions mostly have.
pub(crate) fn index_text(i: usize) -> std::borrow::Cow<'static, str> {
    const SMALL: [&str; 16] = [
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15",
    ];
    match SMALL.get(i) {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(i.to_string()),
    }
}

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
    pub(crate) fn not(self) -> Truth {
        match self {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::Absent => Truth::Absent,
        }
    }

    pub(crate) fn from_bool(b: bool) -> Truth {
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
    /// Needles for equality tests (a long list gets a hash set).
    fn exact(list: Vec<String>) -> Needles {
        let set = (list.len() > LONG_LIST).then(|| list.iter().cloned().collect());
        Needles {
            list,
            set,
            ac: std::sync::OnceLock::new(),
        }
    }

    /// Needles for substring, prefix, suffix and wildcard tests (never asked [`Needles::has`]).
    fn text(list: Vec<String>) -> Needles {
        let set = None;
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
    pub(crate) field_text: std::sync::Arc<str>,
    pub(crate) op: Op,
    pub(crate) op_name: &'static str,
    pub(crate) case_sensitive: bool,
    /// The values as written, for explanations; empty when they are the needles' list
    /// (folding changed none of them), see [`Test::written`].
    pub(crate) written: Vec<String>,
}

impl Test {
    /// The values as written.
    pub(crate) fn written(&self) -> &[String] {
        if !self.written.is_empty() {
            return &self.written;
        }
        match &self.op {
            Op::Equals(n)
            | Op::Contains(n)
            | Op::StartsWith(n)
            | Op::EndsWith(n)
            | Op::Wildcard(n) => &n.list,
            _ => &[],
        }
    }
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
    index: std::collections::HashMap<FieldPath, usize, foldhash::fast::RandomState>,
    /// Field texts seen so far: rules repeat the same few paths, so each is parsed once (and
    /// its text kept once, shared by every condition that names it).
    by_text: std::collections::HashMap<
        std::sync::Arc<str>,
        Result<usize, String>,
        foldhash::fast::RandomState,
    >,
}

impl Fields {
    /// The interned id of a field path text, or why it is not a path; with the text as shared
    /// by the set.
    pub(crate) fn resolve_shared(
        &mut self,
        text: &str,
    ) -> (std::sync::Arc<str>, Result<usize, String>) {
        if let Some((k, r)) = self.by_text.get_key_value(text) {
            return (k.clone(), r.clone());
        }
        let r = FieldPath::parse(text).map(|p| self.intern(p));
        let k: std::sync::Arc<str> = text.into();
        self.by_text.insert(k.clone(), r.clone());
        (k, r)
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

/// `c[key]`: a condition object has two or three keys, where comparing them beats hashing the
/// key (the map's hasher is SipHash).
pub(crate) fn get<'m>(c: &'m JsonMap, key: &str) -> Option<&'m Value> {
    if c.len() > 8 {
        return c.get(key);
    }
    c.iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| v)
}

/// Regexes of a rule set by pattern.
pub(crate) type RegexMap =
    std::collections::HashMap<String, std::sync::Arc<LazyRegex>, foldhash::fast::RandomState>;

/// Compiles one condition object; problems are appended and `None` returned if any.
pub(crate) struct Compiler<'a> {
    pub(crate) fields: &'a mut Fields,
    /// Regexes compiled so far in this rule set, by pattern (case-insensitive ones first, then
    /// case-sensitive): rules repeat patterns.
    pub(crate) regexes: &'a mut [RegexMap; 2],
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
            .filter(|k| get(c, k).is_some())
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
        let v = get(c, key)?;
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
        let field_text = match get(c, "field") {
            Some(Value::String(s)) => Some(s.as_str()),
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
        let f = field_text;
        let mut ok = true;
        // The operators named (keys of a JSON object are distinct, so at most all of them).
        let mut op_keys = [""; OPERATORS.len()];
        let mut n_ops = 0;
        for key in c.keys() {
            if key == "field" || key == "caseSensitive" {
                continue;
            }
            if OPERATORS.contains(&key.as_str()) {
                if let Some(slot) = op_keys.get_mut(n_ops) {
                    *slot = key;
                    n_ops += 1;
                }
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
        let (field_text, path) = self.fields.resolve_shared(field_text);
        let path = match path {
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
        let case_sensitive = match get(c, "caseSensitive") {
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
        let ops = op_keys.get(..n_ops).unwrap_or_default();
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
        let value = get(c, op_key)?;
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
        let items: &[Value] = match v {
            Value::Array(a) => a,
            other if !list_only => std::slice::from_ref(other),
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
        // `(needles, written)`: the values folded unless case-sensitive, and as written if
        // that differs (see `Test::written`).
        let fold_all = |vals: Vec<String>| -> (Vec<String>, Vec<String>) {
            if cs
                || vals
                    .iter()
                    .all(|s| matches!(fold(s), std::borrow::Cow::Borrowed(_)))
            {
                return (vals, Vec::new());
            }
            let folded = vals.iter().map(|s| fold(s).into_owned()).collect();
            (folded, vals)
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
                let (needles, written) = fold_all(vals);
                Some((Op::Equals(Needles::exact(needles)), written))
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
                let (needles, written) = fold_all(vals);
                let n = Needles::text(needles);
                let compiled = match op {
                    "contains" => Op::Contains(n),
                    "startsWith" => Op::StartsWith(n),
                    "endsWith" => Op::EndsWith(n),
                    _ => Op::Wildcard(n),
                };
                Some((compiled, written))
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
        if let Some(r) = self.regexes[usize::from(cs)].get(p) {
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
        let source = anchored_source(p, cs);
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
        let literals = required_literals_of(&hir);
        let lazy = std::sync::Arc::new(LazyRegex::new(source.clone(), literals));
        self.regexes[usize::from(cs)].insert(p.to_owned(), lazy.clone());
        Some(lazy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

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
        // Parsed as a rule's regex is checked: anchored, ignoring case.
        let lits = |p: &str| {
            regex_syntax::ParserBuilder::new()
                .case_insensitive(true)
                .build()
                .parse(&anchored_source(p, false))
                .ok()
                .and_then(|h| required_literals_of(&h))
        };
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
        // Only ASCII letters become keys: "ä" ends the literal.
        assert_eq!(lits("ärger.*"), Some(vec!["rger".to_owned()]));
        assert_eq!(lits("ä.*"), None);
        // "k" matches the Kelvin sign too, which folds to "k".
        assert_eq!(lits("kb[0-9]+"), Some(vec!["kb".to_owned()]));
        assert_eq!(lits("[0-9]+SVC"), Some(vec!["svc".to_owned()]));
        assert_eq!(lits("(?-i:X)yz"), Some(vec!["xyz".to_owned()]));
        assert_eq!(lits("[ab]c"), Some(vec!["c".to_owned()]));
        assert_eq!(lits("CONTOSO\\\\x"), Some(vec!["contoso\\x".to_owned()]));
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
