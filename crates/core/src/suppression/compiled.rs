//! A rule compiled for matching, shared by the matcher ([`super::index`]) and the explainer
//! ([`super::explain`]) so that neither imports the other for it.

use super::cond::Cond;

/// A rule after checking: its conditions compiled.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub(crate) conds: Vec<Cond>,
    pub(crate) absent_match: bool,
}
