//! Compile budgets: limits on what one rule and one rule set may ask of the matcher, so that no
//! rule — careless or hostile — can make compiling slow or matching one alert expensive.
//!
//! Within these budgets every condition is checked in time linear in the alert's values (exact
//! values by hash, substring lists by one automaton scan, regexes by a compiled automaton); the
//! per-pattern work left, wildcard globs and CIDR comparisons, is capped.

use super::cond::{Cond, Op};

/// Most values one condition may list (`in`, `contains`, …).
pub const MAX_VALUES_PER_CONDITION: usize = 100_000;
/// Most CIDR networks one condition may list (each is compared in turn when checked).
pub const MAX_CIDRS_PER_CONDITION: usize = 1_024;
/// Most wildcard patterns one condition may list (each is a glob match when checked).
pub const MAX_WILDCARDS_PER_CONDITION: usize = 256;
/// Most distinct wildcard patterns a whole rule set may hold.
pub const MAX_WILDCARDS_PER_SET: usize = 8_192;
/// Most bytes of values (literals, patterns, networks) one rule may hold.
pub const MAX_LITERAL_BYTES_PER_RULE: usize = 4 << 20;
/// Most bytes of values a whole rule set may hold.
pub const MAX_LITERAL_BYTES_PER_SET: usize = 64 << 20;
/// Most characters of regex source a whole rule set may hold (each regex is also limited to
/// 1,000 characters).
pub const MAX_REGEX_CHARS_PER_SET: usize = 256 << 10;
/// Most estimated regex program size (automaton states) a whole rule set may hold: sixteen
/// regexes at the per-regex limit.
pub const MAX_REGEX_PROGRAM_PER_SET: u64 = 16 * super::cond::MAX_REGEX_PROGRAM;

/// Running totals over a rule set, and per rule.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) set_bytes: usize,
    pub(crate) set_wildcards: std::collections::HashSet<String, foldhash::fast::RandomState>,
}

/// Running totals of the rule set's distinct regexes (a regex written many times counts once).
#[derive(Debug, Default)]
pub(crate) struct RegexTally {
    pub(crate) chars: usize,
    pub(crate) program: u64,
}

/// Counts one rule's conditions into `t`; returns `(condition, field, message)` for every budget the
/// rule breaks (the first condition that crosses a limit names it).
pub(crate) fn check_rule(conds: &[Cond], t: &mut Tally) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut rule_bytes = 0usize;
    for (i, c) in conds.iter().enumerate() {
        walk(c, &super::cond::index_text(i), t, &mut rule_bytes, &mut out);
    }
    out
}

fn walk(
    c: &Cond,
    at: &str,
    t: &mut Tally,
    rule_bytes: &mut usize,
    out: &mut Vec<(String, String, String)>,
) {
    match c {
        Cond::Test(test) => {
            let field: &str = &test.field_text;
            let bytes: usize = test.written().iter().map(String::len).sum();
            let before_rule = *rule_bytes;
            *rule_bytes += bytes;
            if before_rule <= MAX_LITERAL_BYTES_PER_RULE && *rule_bytes > MAX_LITERAL_BYTES_PER_RULE
            {
                out.push((at.to_owned(), field.to_owned(), format!("the rule's values reach {} bytes here; the limit is {MAX_LITERAL_BYTES_PER_RULE} bytes of values per rule (split it into several rules)", *rule_bytes)));
            }
            let before_set = t.set_bytes;
            t.set_bytes += bytes;
            if before_set <= MAX_LITERAL_BYTES_PER_SET && t.set_bytes > MAX_LITERAL_BYTES_PER_SET {
                out.push((at.to_owned(), field.to_owned(), format!("the rule set's values reach {} bytes here; the limit is {MAX_LITERAL_BYTES_PER_SET} bytes of values per rule set (remove or merge rules)", t.set_bytes)));
            }
            match &test.op {
                Op::Wildcard(n) => {
                    let k = n.list.len();
                    if k > MAX_WILDCARDS_PER_CONDITION {
                        out.push((at.to_owned(), field.to_owned(), format!("\"wildcard\" lists {k} patterns; the limit is {MAX_WILDCARDS_PER_CONDITION} per condition (use \"contains\", \"startsWith\" or \"in\" for plain values, or split the list)")));
                    }
                    let before = t.set_wildcards.len();
                    for p in &n.list {
                        if !t.set_wildcards.contains(p.as_str()) {
                            t.set_wildcards.insert(p.clone());
                        }
                    }
                    let after = t.set_wildcards.len();
                    if before <= MAX_WILDCARDS_PER_SET && after > MAX_WILDCARDS_PER_SET {
                        out.push((at.to_owned(), field.to_owned(), format!("the rule set's distinct wildcard patterns reach {after} here; the limit is {MAX_WILDCARDS_PER_SET} per rule set (use \"contains\", \"startsWith\" or \"in\" where a pattern is a plain value)")));
                    }
                }
                Op::Cidr(nets) if nets.len() > MAX_CIDRS_PER_CONDITION => {
                    out.push((at.to_owned(), field.to_owned(), format!("\"cidr\" lists {} networks; the limit is {MAX_CIDRS_PER_CONDITION} per condition (list single addresses with \"in\", or split the list)", nets.len())));
                }
                _ => {}
            }
        }
        Cond::All(items) | Cond::Any(items) => {
            let key = if matches!(c, Cond::All(_)) {
                "allOf"
            } else {
                "anyOf"
            };
            for (i, x) in items.iter().enumerate() {
                walk(x, &format!("{at}.{key}[{i}]"), t, rule_bytes, out);
            }
        }
        Cond::Not(inner) => walk(inner, &format!("{at}.not"), t, rule_bytes, out),
    }
}
