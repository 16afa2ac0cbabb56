//! Regexes of the rule language: checked when a rule compiles (syntax, size), built on first
//! use, and the literals a match must contain, which the index uses.

use regex::{Regex, RegexBuilder};

use super::cond::*;

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

/// Literals of which every match of the regex `hir` contains at least one, folded; `None` if
/// there are none usable as index keys. `hir` is the regex as checked (case-insensitive unless
/// the rule says otherwise), so that each regex is parsed once: a letter matched ignoring case
/// is a class such as `[Aa]` (or `[Kk\u{212A}]`), read here as the lower-case letter. Only
/// ASCII literals qualify: every character a case-insensitive regex matches in place of an
/// ASCII letter folds to it (see [`fold`]), which is not true beyond ASCII.
pub(crate) fn required_literals_of(hir: &regex_syntax::hir::Hir) -> Option<Vec<String>> {
    let set = required_literals(hir)?;
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

/// The lower-case ASCII letter a class stands for when it is exactly the class a
/// case-insensitive regex makes of that letter (`[Aa]`, `[Kk\u{212A}]`, `[Ss\u{17F}]`).
fn case_letter(c: &regex_syntax::hir::ClassUnicode) -> Option<u8> {
    // `[Xx]`, plus the one other character that folds to `k` (KELVIN SIGN) or `s` (LATIN SMALL
    // LETTER LONG S): any other shape is not read as a letter (no key, never a wrong one).
    let single = |i: usize| {
        c.ranges()
            .get(i)
            .and_then(|r| (r.start() == r.end()).then_some(r.start()))
    };
    let upper = single(0).filter(char::is_ascii_uppercase)?;
    let lower = single(1).filter(|l| *l == upper.to_ascii_lowercase())?;
    let extra = match lower {
        'k' => Some('\u{212A}'),
        's' => Some('\u{17F}'),
        _ => None,
    };
    let len = 2 + usize::from(extra.is_some());
    (c.ranges().len() == len && (extra.is_none() || single(2) == extra)).then_some(lower as u8)
}

/// The bytes `h` matches if it matches one fixed text (ignoring ASCII case): a literal, or a
/// letter's case class.
fn fixed_text(h: &regex_syntax::hir::Hir) -> Option<std::borrow::Cow<'_, [u8]>> {
    use regex_syntax::hir::{Class, HirKind};
    match h.kind() {
        HirKind::Literal(l) => Some(std::borrow::Cow::Borrowed(&l.0)),
        HirKind::Class(Class::Unicode(c)) => case_letter(c).map(|b| vec![b].into()),
        _ => None,
    }
}

/// A set of literals one of which every match of `h` contains.
pub(crate) fn required_literals(h: &regex_syntax::hir::Hir) -> Option<Vec<Vec<u8>>> {
    use regex_syntax::hir::HirKind;
    let min_len = |v: &Vec<Vec<u8>>| v.iter().map(Vec::len).min().unwrap_or(0);
    match h.kind() {
        HirKind::Literal(_) | HirKind::Class(_) => fixed_text(h).map(|t| vec![t.into_owned()]),
        HirKind::Capture(c) => required_literals(&c.sub),
        HirKind::Repetition(r) if r.min >= 1 => required_literals(&r.sub),
        HirKind::Concat(items) => {
            // Runs of fixed texts (a case-insensitive `abc` is three classes) are one literal.
            let mut best: Option<Vec<Vec<u8>>> = None;
            let mut consider = |set: Vec<Vec<u8>>| {
                if best.as_ref().is_none_or(|b| min_len(&set) >= min_len(b)) {
                    best = Some(set);
                }
            };
            let mut run: Vec<u8> = Vec::new();
            for item in items {
                match fixed_text(item) {
                    Some(t) => run.extend_from_slice(&t),
                    None => {
                        if !run.is_empty() {
                            consider(vec![std::mem::take(&mut run)]);
                        }
                        if let Some(set) = required_literals(item) {
                            consider(set);
                        }
                    }
                }
            }
            if !run.is_empty() {
                consider(vec![run]);
            }
            best
        }
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
    /// A regex checked but not built yet: `source` is its anchored source, `literals` those
    /// every match contains ([`required_literals_of`]).
    pub(crate) fn new(source: String, literals: Option<Vec<String>>) -> LazyRegex {
        LazyRegex {
            source,
            literals,
            cell: std::sync::OnceLock::new(),
        }
    }

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
