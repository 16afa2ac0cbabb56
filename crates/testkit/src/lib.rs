//! Test and benchmark helpers for Vigil: deterministic generators of realistic Microsoft Defender
//! for Cloud alerts and of suppression rules over the same values.
//!
//! Everything here is seeded: the same seed gives the same alerts and the same rules, on every
//! platform, so tests and benchmarks are repeatable.
//!
//! ```
//! use vigil_testkit::generate::{AlertGenerator, RuleGenerator, reference_time};
//!
//! let alerts = AlertGenerator::new(7).alerts(100);
//! let rules = RuleGenerator::new(7).rules(50);
//! assert_eq!(alerts.len(), 100);
//! assert_eq!(rules.len(), 50);
//! // Every alert was generated before the reference time the rules' expiry dates refer to.
//! assert!(alerts.iter().all(|a| a.time_generated() <= reference_time()));
//! // Each rule spec writes Defender's rule resource form.
//! let json = rules[0].to_json();
//! assert!(json["properties"]["suppressionAlertsScope"]["allOf"].is_array());
//! ```

pub mod conformance;
pub mod generate;
pub mod receiver;
pub mod reference;
