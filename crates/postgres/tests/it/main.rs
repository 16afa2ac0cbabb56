//! The integration tests of vigil-postgres against a real server (the conformance suite runs
//! in its own binary, `tests/conformance.rs`): one binary, with modules.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod concurrency;
mod faults;
mod ingest;
mod open;
mod reference;
mod replica;
mod retries;
mod rls;
mod support;
mod tls;
