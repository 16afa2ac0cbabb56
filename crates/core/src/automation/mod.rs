//! Automated response ("workflow automation"): rules that call webhooks and local programs
//! when alerts arrive or change, delivered at least once.
//!
//! - [`Automation`]: *when* — [`Trigger`]s over the event log and conditions in the
//!   suppression condition language, compiled by the same matcher
//!   ([`crate::suppression::RuleSet`]) — and *what* — [`Action::Webhook`] (an HTTP(S) POST,
//!   signed with [`sign`]) and [`Action::Command`] (a program run with an argument vector,
//!   the payload on standard input and a timeout). Stored per tenant, versioned, through the
//!   [`crate::store::Store`] (`create_automation`, …), each change an event.
//! - [`parse_automations`]: Vigil's JSON form or Defender's `Microsoft.Security/automations`
//!   resource, translated, with what did not translate.
//! - [`Dispatcher`]: reads the event log after its durable checkpoint, records a [`Delivery`]
//!   per action before moving the checkpoint, then delivers through a [`Transport`], with
//!   retries ([`RetryPolicy`]: exponential backoff with jitter, then parking), a lease so
//!   two dispatchers never both deliver, and per-alert order.
//! - [`transport`] (feature `transports`, on by default): the HTTP client (ureq with rustls)
//!   and the command runner.
//!
//! ```
//! use chrono::Utc;
//! use vigil_core::automation::{Action, Automation, CommandAction, Trigger};
//! use vigil_core::store::{MemoryStore, Store, TenantId};
//! use vigil_core::suppression::Condition;
//!
//! let store = MemoryStore::default();
//! let t = TenantId::new("contoso")?;
//! let a = Automation::new(
//!     "ticket",
//!     [Trigger::AlertCreated],
//!     [Action::Command(CommandAction::new(["/usr/local/bin/open-ticket", "--queue", "soc"]))],
//! )
//! .condition(Condition::is_in("severity", ["High", "Medium"]));
//! let stored = store.create_automation(&t, a, Utc::now())?;
//! assert_eq!(stored.version, 1);
//! assert_eq!(store.list_automations(&t)?.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod defender;
mod delivery;
mod dispatch;
mod model;
pub mod payload;
pub mod sign;
#[cfg(feature = "transports")]
pub mod transport;

pub use defender::{AUTOMATION_RESOURCE_TYPE, Translation, parse_automations};
pub use delivery::{
    DISPATCH_LEASE, Delivery, DeliveryQuery, DeliveryState, DueDelivery, Lease, LeaseClaim,
    Outcome, PlanReport, RetryPolicy,
};
pub use dispatch::{DispatchConfig, Dispatcher, Progress, Request, Transport};
pub use model::{
    Action, Automation, CommandAction, DEFAULT_COMMAND_TIMEOUT_SECS, DEFAULT_WEBHOOK_TIMEOUT_SECS,
    HIDDEN, MAX_ACTIONS, MAX_ARGS, MAX_HEADERS, MAX_TEXT, MAX_TIMEOUT_SECS, StoredAutomation,
    Trigger, Url, Webhook, redact_url,
};
