//! Conditions: checking the JSON form, the compiled form, and three-valued evaluation.

use std::borrow::Cow;
use std::collections::HashSet;
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

pub(crate) use crate::text::fold;

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

/// Glob match of the whole `text` against `pat` (`*` any run, `?` one character).
pub(crate) fn glob(pat: &str, text: &str) -> bool {
    let p: Vec<char> = pat.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Values to compare against, folded unless case-sensitive. Large lists get a hash set.
#[derive(Debug)]
pub(crate) struct Needles {
    pub(crate) list: Vec<String>,
    set: Option<HashSet<String>>,
}

impl Needles {
    fn new(list: Vec<String>) -> Needles {
        let set = (list.len() > 8).then(|| list.iter().cloned().collect());
        Needles { list, set }
    }

    fn has(&self, v: &str) -> bool {
        match &self.set {
            Some(s) => s.contains(v),
            None => self.list.iter().any(|n| n == v),
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
        if program_size(&hir) > MAX_REGEX_PROGRAM {
            self.problem(
                at,
                Some(field),
                format!(
                    "regex compiles to more than {MAX_REGEX_SIZE} bytes (about {MAX_REGEX_PROGRAM} automaton states); simplify it"
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

/// The values of one field in one alert, resolved once and shared by every test on it.
pub(crate) struct Resolved<'a> {
    pub(crate) presence: Presence,
    pub(crate) raw: Vec<Cow<'a, str>>,
    folded: Option<Vec<Cow<'a, str>>>,
}

impl<'a> Resolved<'a> {
    pub(crate) fn folded(&mut self) -> &[Cow<'a, str>] {
        let raw = &self.raw;
        self.folded.get_or_insert_with(|| {
            raw.iter()
                .map(|v| match v {
                    Cow::Borrowed(b) => fold(b),
                    Cow::Owned(o) => Cow::Owned(fold(o).into_owned()),
                })
                .collect()
        })
    }
}

/// Per-alert evaluation state: the alert and the values resolved so far.
pub(crate) struct Ctx<'a> {
    pub(crate) alert: &'a Alert,
    fields: &'a [FieldPath],
    cache: Vec<Option<Resolved<'a>>>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(alert: &'a Alert, fields: &'a [FieldPath]) -> Ctx<'a> {
        let mut cache = Vec::new();
        cache.resize_with(fields.len(), || None);
        Ctx {
            alert,
            fields,
            cache,
        }
    }

    pub(crate) fn get(&mut self, field: usize) -> Option<&mut Resolved<'a>> {
        let alert = self.alert;
        let path = self.fields.get(field)?;
        let slot = self.cache.get_mut(field)?;
        Some(slot.get_or_insert_with(|| {
            let mut raw = Vec::new();
            let presence = path.resolve(alert, &mut raw);
            Resolved {
                presence,
                raw,
                folded: None,
            }
        }))
    }
}

fn any_value(t: &Test, r: &mut Resolved<'_>) -> Option<String> {
    let matches_one = |v: &str, raw: &str| -> bool {
        match &t.op {
            Op::Equals(n) => n.has(v),
            Op::Contains(n) => n.list.iter().any(|x| v.contains(x.as_str())),
            Op::StartsWith(n) => n.list.iter().any(|x| v.starts_with(x.as_str())),
            Op::EndsWith(n) => n.list.iter().any(|x| v.ends_with(x.as_str())),
            Op::Wildcard(n) => n.list.iter().any(|x| glob(x, v)),
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
        r.raw
            .iter()
            .find(|v| matches_one(v, v))
            .map(|v| v.to_string())
    } else {
        r.folded();
        let folded = r.folded.as_deref().unwrap_or_default();
        folded
            .iter()
            .zip(&r.raw)
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
    let Some(r) = ctx.get(t.field) else {
        return (Truth::Absent, None);
    };
    if let Op::Exists(want) = t.op {
        return (Truth::from_bool(r.raw.is_empty() != want), None);
    }
    if r.raw.is_empty() {
        return if r.presence == Presence::NoEntityOfType && absent_match {
            (Truth::True, None)
        } else {
            (Truth::Absent, None)
        };
    }
    match any_value(t, r) {
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
