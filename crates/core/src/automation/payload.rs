//! What a delivery sends: the JSON payload and the webhook's headers.

use serde::Serialize;

use super::delivery::Delivery;
use super::model::Webhook;
use super::sign;
use crate::Alert;
use crate::store::{ErrorKind, Event, StoreError, TenantId};

/// The header carrying the idempotency key ([`Delivery::idempotency_key`]).
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// The header carrying the delivery's number.
pub const DELIVERY_HEADER: &str = "X-Vigil-Delivery";
/// The header carrying the attempt number (1 for the first).
pub const ATTEMPT_HEADER: &str = "X-Vigil-Attempt";

#[derive(Serialize)]
struct Payload<'a> {
    automation: &'a str,
    tenant: &'a str,
    event: &'a Event,
    alert: &'a Alert,
}

/// The payload of a delivery: `{"automation": name, "tenant": …, "event": {seq, at, kind},
/// "alert": <the alert as Defender's 2022-01-01 resource>}`, as JSON text.
///
/// ```
/// use vigil_core::automation::payload;
/// use vigil_core::store::{Event, EventKind, IngestOutcome, TenantId};
/// use vigil_core::{Alert, AlertId, Severity, Status, chrono::Utc};
///
/// let alert = Alert::builder(AlertId::new("a1")?, "VM_EICAR", "EICAR", Severity::High, Utc::now()).build();
/// let event = Event::new(7, Utc::now(), EventKind::AlertIngested {
///     alert: alert.id().clone(), outcome: IngestOutcome::New, version: 1, status: Status::Active,
/// });
/// let body = payload::build(&TenantId::new("contoso")?, "page", &event, &alert)?;
/// let v: serde_json::Value = serde_json::from_str(&body)?;
/// assert_eq!(v["event"]["seq"], 7);
/// assert_eq!(v["alert"]["properties"]["alertType"], "VM_EICAR");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn build(
    tenant: &TenantId,
    automation: &str,
    event: &Event,
    alert: &Alert,
) -> Result<String, StoreError> {
    serde_json::to_string(&Payload {
        automation,
        tenant: tenant.as_str(),
        event,
        alert,
    })
    .map_err(|e| {
        StoreError::with_source(
            ErrorKind::InvalidInput,
            format!("the payload of automation {automation:?} cannot be written: {e}"),
            e,
        )
    })
}

/// The headers of one webhook attempt, in order: `Content-Type`, the rule's own headers, the
/// idempotency key, the delivery and attempt numbers, and (with a secret) the timestamp and
/// signature of `body` at `now` (Unix seconds). Names come from the rule and Vigil only;
/// values from the rule, numbers and the signature: never from the alert.
pub fn headers(
    webhook: &Webhook,
    delivery: &Delivery,
    tenant: &TenantId,
    attempt: u32,
    now: i64,
) -> Vec<(String, String)> {
    let mut h = Vec::with_capacity(webhook.headers.len() + 6);
    h.push(("Content-Type".to_owned(), "application/json".to_owned()));
    for (k, v) in &webhook.headers {
        h.push((k.clone(), v.clone()));
    }
    h.push((
        IDEMPOTENCY_HEADER.to_owned(),
        delivery.idempotency_key(tenant.as_str()),
    ));
    h.push((DELIVERY_HEADER.to_owned(), delivery.id.to_string()));
    h.push((ATTEMPT_HEADER.to_owned(), attempt.to_string()));
    if let Some(secret) = &webhook.secret {
        h.push((sign::TIMESTAMP_HEADER.to_owned(), now.to_string()));
        h.push((
            sign::SIGNATURE_HEADER.to_owned(),
            sign::signature(secret, now, delivery.payload.as_bytes()),
        ));
    }
    h
}
