//! Vigil: security-alert triage as a library.
//!
//! This facade re-exports [`vigil_core`], the alert model, Defender JSON and the MITRE ATT&CK
//! catalog. Storage adapters join it behind features as they arrive. The time library
//! ([`chrono`]) and JSON values ([`Value`], [`json!`]) come with it, so an embedder needs no
//! dependency of its own for them.
//!
//! ```
//! use vigil::chrono::{TimeZone, Utc};
//! use vigil::{Alert, AlertId, Entity, Severity, json};
//!
//! let alerts = vigil::defender::parse_alerts(include_str!(
//!     "../fixtures/alerts/sample-alerts.json"
//! ))?;
//! assert!(!alerts.is_empty());
//!
//! let at = Utc.with_ymd_and_hms(2026, 11, 2, 8, 30, 0).single().ok_or("no such time")?;
//! let alert = Alert::builder(AlertId::new("a1")?, "VM_X", "X", Severity::Low, at)
//!     .entity(Entity::host("vm1").with("tags", json!(["prod"])))
//!     .build();
//! assert_eq!(alert.time_generated(), at);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use vigil_core::*;

/// The durable SQLite store ([`sqlite::SqliteStore`]), on by default (feature `sqlite`).
#[cfg(feature = "sqlite")]
pub use vigil_sqlite as sqlite;

/// The PostgreSQL store (`postgres::PostgresStore`), for many processes sharing one server
/// (feature `postgres`, not on by default).
#[cfg(feature = "postgres")]
pub use vigil_postgres as postgres;

/// The README's example, compiled and run as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
