//! Vigil: security-alert triage as a library.
//!
//! This facade re-exports [`vigil_core`], the alert model, Defender JSON and the MITRE ATT&CK
//! catalog. Storage adapters join it behind features as they arrive.
//!
//! ```
//! let alerts = vigil::defender::parse_alerts(include_str!(
//!     "../fixtures/alerts/sample-alerts.json"
//! ))?;
//! assert!(!alerts.is_empty());
//! # Ok::<(), vigil::Error>(())
//! ```

pub use vigil_core::*;

/// The durable SQLite store ([`sqlite::SqliteStore`]), on by default (feature `sqlite`).
#[cfg(feature = "sqlite")]
pub use vigil_sqlite as sqlite;

/// The README's example, compiled and run as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
