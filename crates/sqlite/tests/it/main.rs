//! The integration tests of vigil-sqlite: one binary, with modules.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod busy;
mod corrupt;
mod damaged;
mod prefilter;
mod procs;
mod readonly;
mod reference;
mod support;

use support::temp_store;

vigil_testkit::conformance_tests!(temp_store);
