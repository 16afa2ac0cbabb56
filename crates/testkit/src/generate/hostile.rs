//! Hostile or careless rules: the shapes that once stalled a matcher (huge value lists, many
//! long regexes, thousands of wildcard patterns), for benchmarks and tests of the compile
//! budgets.

use serde_json::{Value, json};
use vigil_core::suppression::SuppressionRule;

/// A rule on `alert_type` (`"*"` for every type) with one condition: `field` and `op` over
/// `values`.
///
/// ```
/// use vigil_testkit::generate::hostile;
///
/// let values = hostile::distinct_texts(1_000, 12);
/// let rule = hostile::rule("big-list", "*", "entities.process.commandline", "contains", values)?;
/// assert_eq!(rule.name(), "big-list");
/// # Ok::<(), vigil_core::Error>(())
/// ```
pub fn rule(
    name: &str,
    alert_type: &str,
    field: &str,
    op: &str,
    values: Vec<String>,
) -> Result<SuppressionRule, vigil_core::Error> {
    SuppressionRule::from_json(json!({
        "name": name,
        "properties": {
            "alertType": alert_type,
            "reason": "Noise",
            "state": "Enabled",
            "suppressionAlertsScope": {"allOf": [{"field": field, op: Value::from(values)}]}
        }
    }))
}

/// `n` distinct texts of `len` characters (`len` ≥ 8) that no generated alert contains: a
/// counter spelled in letters, padded with `q`.
pub fn distinct_texts(n: usize, len: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let mut s = String::with_capacity(len);
            s.push_str("zx");
            let mut k = i;
            loop {
                s.push(char::from(b'a' + (k % 26) as u8));
                k /= 26;
                if k == 0 {
                    break;
                }
            }
            while s.len() < len {
                s.push('q');
            }
            s
        })
        .collect()
}

/// `n` regexes of about `len` characters each, all different: a literal start, then repeated
/// classes and alternations.
pub fn long_regexes(n: usize, len: usize) -> Vec<String> {
    distinct_texts(n, 12)
        .into_iter()
        .map(|head| {
            let mut r = format!("{head}-");
            let mut i = 0;
            while r.len() + 16 <= len {
                r.push_str(if i % 2 == 0 {
                    "[a-f0-9]{2}(x|y)"
                } else {
                    "(ab|cd)[0-9]+-z"
                });
                i += 1;
            }
            r
        })
        .collect()
}

/// `n` wildcard patterns that never match generated alerts but whose longest literal piece is
/// common in command lines (`*powershell*zx<counter>*`): an index keyed on that piece finds
/// them for every PowerShell command line.
pub fn wildcards(n: usize) -> Vec<String> {
    distinct_texts(n, 8)
        .into_iter()
        .map(|t| format!("*powershell*{t}*"))
        .collect()
}
