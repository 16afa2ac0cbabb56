//! The integration tests of vigil-sqlite: one binary, with modules.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod corrupt;
mod procs;
mod reference;
mod support;

use support::TempStore;

vigil_testkit::conformance_tests!(TempStore::new);
