//! Integration tests for vigil-core: one binary, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod budgets;
mod common;
mod defender_samples;
mod fidelity;
mod formats;
mod malformed;
mod roundtrip;
mod rule_cases;
mod rule_errors;
mod rule_props;
mod rule_samples;
