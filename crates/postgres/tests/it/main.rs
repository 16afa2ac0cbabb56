//! The integration tests of vigil-postgres, against a real server: one binary, with modules.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::TempStore;

vigil_testkit::conformance_tests!(TempStore::new);
