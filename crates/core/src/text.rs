//! Case folding: the one definition every case-insensitive comparison uses — query filters,
//! the lowercase keys a store indexes, and rule matching.

use std::borrow::Cow;

/// Case folding used for case-insensitive comparison: Unicode lower-case, character by
/// character (so it is a homomorphism: if `a` contains `b`, `fold(a)` contains `fold(b)`), with
/// the long s `ſ` folded to `s` as Unicode case folding does (the Kelvin sign already lower-cases
/// to `k`). With that, every character that folds to an ASCII letter lower-cases to it, which is
/// what lets ASCII literals of case-insensitive regexes serve as index keys.
///
/// Unlike `str::to_lowercase`, it has no context rules (a final capital sigma folds to `σ` like
/// any other), so folding a part of a text gives the same characters as that part of the folded
/// text.
///
/// ```
/// use vigil_core::text::fold;
/// assert_eq!(fold("WEB-01"), "web-01");
/// assert_eq!(fold("ΟΔΟΣ"), "οδοσ");
/// assert_eq!(fold("ſtate"), "state");
/// ```
pub fn fold(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        return if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Borrowed(s)
        };
    }
    if s.chars()
        .any(|c| c.is_uppercase() || (!c.is_ascii() && needs_fold(c)))
    {
        Cow::Owned(s.chars().flat_map(fold_char).collect())
    } else {
        Cow::Borrowed(s)
    }
}

/// `fold(a) == fold(b)`.
pub fn eq_folded(a: &str, b: &str) -> bool {
    fold(a) == fold(b)
}

fn needs_fold(c: char) -> bool {
    c == '\u{17F}' || c.to_lowercase().ne([c])
}

/// One character, folded.
pub(crate) fn fold_char(c: char) -> std::char::ToLowercase {
    if c == '\u{17F}' { 's' } else { c }.to_lowercase()
}

/// Folds `s` onto the end of `out`; `false` (and nothing written) if folding changes nothing.
pub(crate) fn fold_into(s: &str, out: &mut String) -> bool {
    let start = out.len();
    if s.is_ascii() {
        if !s.bytes().any(|b| b.is_ascii_uppercase()) {
            return false;
        }
        out.push_str(s);
        if let Some(tail) = out.get_mut(start..) {
            tail.make_ascii_lowercase();
        }
        return true;
    }
    if !s
        .chars()
        .any(|c| c.is_uppercase() || (!c.is_ascii() && needs_fold(c)))
    {
        return false;
    }
    out.extend(s.chars().flat_map(fold_char));
    true
}
