//! Bearer tokens, each bound to the tenants it may see.
//!
//! The tokens file has one token a line: a name (who acts, recorded in audit trails), the token
//! (at least 16 letters, digits or `-._~+/=`), and the tenants it may see, comma-separated (`*` for
//! every tenant). Blank lines and lines starting with `#` are skipped.
//!
//! ```text
//! # name   token                              tenants
//! alice    3f9c1e0a7b2d4c6e8f0a1b2c3d4e5f60   contoso,fabrikam
//! siem     0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e   *
//! ```
//!
//! Tokens are compared in constant time and never logged or shown. A token that may not see a
//! tenant gets the same 404 as a tenant with nothing in it, so it learns nothing about it.
//!
//! ```
//! use vigil_serve::Tokens;
//!
//! let tokens = Tokens::parse("alice 3f9c1e0a7b2d4c6e8f0a1b2c contoso\n")?;
//! let alice = tokens.check("3f9c1e0a7b2d4c6e8f0a1b2c").unwrap();
//! assert_eq!(alice.name(), "alice");
//! assert!(alice.may_see("contoso") && !alice.may_see("fabrikam"));
//! assert!(tokens.check("wrong").is_none());
//! # Ok::<(), String>(())
//! ```

use std::fmt;
use std::path::Path;

use subtle::ConstantTimeEq;

use crate::ServeError;

/// The shortest token accepted.
pub const MIN_TOKEN_LEN: usize = 16;

/// Who makes a request: a token's name and the tenants it may see.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    name: String,
    tenants: Option<Vec<String>>,
}

impl Identity {
    /// Whoever reaches a loopback server started without tokens: every tenant.
    pub fn local() -> Identity {
        Identity {
            name: "local".to_owned(),
            tenants: None,
        }
    }

    /// The name (the actor in audit trails and feedback).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this identity may see `tenant`.
    pub fn may_see(&self, tenant: &str) -> bool {
        match &self.tenants {
            None => true,
            Some(list) => list.iter().any(|t| t == tenant),
        }
    }

    /// The tenants it may see; `None` for every tenant.
    pub fn tenants(&self) -> Option<&[String]> {
        self.tenants.as_deref()
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("name", &self.name)
            .field("tenants", &self.tenants)
            .finish()
    }
}

/// The tokens a server accepts.
#[derive(Clone)]
pub struct Tokens {
    entries: Vec<(Vec<u8>, Identity)>,
}

impl fmt::Debug for Tokens {
    /// Names only: tokens are never shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|(_, id)| id))
            .finish()
    }
}

impl Tokens {
    /// Reads a tokens file.
    pub fn load(path: &Path) -> Result<Tokens, ServeError> {
        let wrap = |message: String| ServeError::Tokens {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| wrap(e.to_string()))?;
        Tokens::parse(&text).map_err(wrap)
    }

    /// Parses the text of a tokens file; the error names the line and what to fix (never the
    /// token).
    pub fn parse(text: &str) -> Result<Tokens, String> {
        let mut entries: Vec<(Vec<u8>, Identity)> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = n + 1;
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [name, token, tenants] = fields[..] else {
                return Err(format!(
                    "line {at}: expected three fields, NAME TOKEN TENANTS (comma-separated, or *), found {}",
                    fields.len()
                ));
            };
            if token.len() < MIN_TOKEN_LEN {
                return Err(format!(
                    "line {at} ({name}): the token is shorter than {MIN_TOKEN_LEN} characters; use a long random one (e.g. `openssl rand -hex 32`)"
                ));
            }
            if !token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b))
            {
                return Err(format!(
                    "line {at} ({name}): the token may hold only letters, digits and - . _ ~ + / = (it travels in headers and cookies)"
                ));
            }
            if entries.iter().any(|(_, id)| id.name == name) {
                return Err(format!("line {at}: the name {name:?} is used twice"));
            }
            if entries
                .iter()
                .any(|(t, _)| bool::from(t.ct_eq(token.as_bytes())))
            {
                return Err(format!(
                    "line {at} ({name}): this token is also another name's; give each its own"
                ));
            }
            let tenants = if tenants == "*" {
                None
            } else {
                let list: Vec<String> = tenants
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect();
                if list.is_empty() {
                    return Err(format!("line {at} ({name}): no tenant named"));
                }
                Some(list)
            };
            entries.push((
                token.as_bytes().to_vec(),
                Identity {
                    name: name.to_owned(),
                    tenants,
                },
            ));
        }
        if entries.is_empty() {
            return Err("no token in the file (one a line: NAME TOKEN TENANTS)".to_owned());
        }
        Ok(Tokens { entries })
    }

    /// The identity a presented token belongs to. Every stored token is compared, each in
    /// constant time, so the time taken does not reveal which one (or how much of one) matched.
    pub fn check(&self, presented: &str) -> Option<&Identity> {
        let mut found = None;
        for (token, id) in &self.entries {
            if bool::from(token.as_slice().ct_eq(presented.as_bytes())) {
                found = Some(id);
            }
        }
        found
    }

    /// How many tokens there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Never true for a parsed file (an empty one is refused).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The bearer token of an `Authorization` header value, if it is one.
pub(crate) fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_with_line_numbers() {
        let t = Tokens::parse("# c\n\na aaaaaaaaaaaaaaaaaaaa x,y\nb bbbbbbbbbbbbbbbbbbbb *\n")
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(t.len(), 2);
        let a = t.check("aaaaaaaaaaaaaaaaaaaa").cloned();
        assert_eq!(a.as_ref().map(Identity::name), Some("a"));
        assert!(
            a.as_ref()
                .is_some_and(|a| a.may_see("y") && !a.may_see("z"))
        );
        assert!(
            t.check("bbbbbbbbbbbbbbbbbbbb")
                .is_some_and(|b| b.may_see("z"))
        );
        assert!(t.check("aaaaaaaaaaaaaaaaaaa").is_none());
        assert!(t.check("").is_none());

        let short = Tokens::parse("a short x").err().unwrap_or_default();
        assert!(
            short.contains("line 1") && short.contains("shorter"),
            "{short}"
        );
        assert!(!short.contains("short x"));
        let dup = Tokens::parse("a aaaaaaaaaaaaaaaaaaaa x\nb aaaaaaaaaaaaaaaaaaaa y")
            .err()
            .unwrap_or_default();
        assert!(dup.contains("line 2"), "{dup}");
        assert!(Tokens::parse("a aaaaaaaaaaaaaaaaaaaa").is_err());
        let odd = Tokens::parse("a aaaaaaaaaaaaaaaa;aaa x")
            .err()
            .unwrap_or_default();
        assert!(odd.contains("only letters"), "{odd}");
        assert!(Tokens::parse("").is_err());
        assert!(!format!("{t:?}").contains("aaaa"));
    }

    #[test]
    fn reads_bearer_headers() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearer"), None);
    }
}
