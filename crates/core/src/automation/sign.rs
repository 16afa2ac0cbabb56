//! The webhook signature: HMAC-SHA256 of `<timestamp>.<body>` with the automation's secret.
//!
//! A request carries `X-Vigil-Timestamp` (seconds since the Unix epoch) and
//! `X-Vigil-Signature: v1=<hex>`. A receiver recomputes the HMAC over the timestamp, a dot and
//! the raw body, compares in constant time, and refuses timestamps too far from its clock (a
//! replayed request keeps its old timestamp, which the signature binds). [`verify`] does all
//! of that.
//!
//! ```
//! use vigil_core::automation::sign;
//!
//! let body = br#"{"automation":"page"}"#;
//! let header = sign::signature("s3cret", 1_700_000_000, body);
//! assert!(header.starts_with("v1="));
//! assert!(sign::verify("s3cret", "1700000000", &header, body, 1_700_000_010, 300).is_ok());
//! assert!(sign::verify("other", "1700000000", &header, body, 1_700_000_010, 300).is_err());
//! assert!(sign::verify("s3cret", "1700000000", &header, body, 1_700_009_999, 300).is_err());
//! ```

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header holding the signature.
pub const SIGNATURE_HEADER: &str = "X-Vigil-Signature";
/// The header holding the timestamp the signature covers.
pub const TIMESTAMP_HEADER: &str = "X-Vigil-Timestamp";

fn mac(secret: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this never fails; an empty MAC would only fail
    // verification.
    let mut m = match <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => <Hmac<Sha256> as KeyInit>::new(&Default::default()),
    };
    m.update(timestamp.as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The `X-Vigil-Signature` value for `body` sent at `timestamp` (Unix seconds).
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, &timestamp.to_string(), body)
        .finalize()
        .into_bytes();
    let mut out = String::with_capacity(3 + tag.len() * 2);
    out.push_str("v1=");
    for b in tag.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Why a signature was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The timestamp header is not a number of seconds.
    #[error("the timestamp {0:?} is not a number of seconds since 1970")]
    BadTimestamp(String),
    /// The timestamp is further from now than the tolerance (a replay, or a wrong clock).
    #[error("the timestamp is {0} s away from now, more than allowed")]
    Stale(i64),
    /// The signature header is not `v1=<64 hex digits>`.
    #[error("the signature is not of the form v1=<64 hex digits>")]
    Malformed,
    /// The signature does not match the body, the timestamp and the secret.
    #[error("the signature does not match")]
    Mismatch,
}

/// Checks a request: the timestamp within `tolerance_secs` of `now` (Unix seconds), and the
/// signature that of `body` at that timestamp with `secret` (compared in constant time).
pub fn verify(
    secret: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp(timestamp.to_owned()))?;
    let skew = now.saturating_sub(ts).saturating_abs();
    if skew > tolerance_secs {
        return Err(SignatureError::Stale(skew));
    }
    let hex = signature
        .trim()
        .strip_prefix("v1=")
        .ok_or(SignatureError::Malformed)?;
    if hex.len() != 64 {
        return Err(SignatureError::Malformed);
    }
    let mut tag = [0u8; 32];
    for (i, slot) in tag.iter_mut().enumerate() {
        let pair = hex.get(i * 2..i * 2 + 2).ok_or(SignatureError::Malformed)?;
        *slot = u8::from_str_radix(pair, 16).map_err(|_| SignatureError::Malformed)?;
    }
    mac(secret, timestamp.trim(), body)
        .verify_slice(&tag)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2 ("Jefe"), through the same MAC with an empty timestamp prefix
    /// removed: checks that the primitive is HMAC-SHA256.
    #[test]
    fn hmac_sha256_known_answer() {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(b"Jefe").unwrap();
        m.update(b"what do ya want for nothing?");
        let tag: String = m
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            tag,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn tampering_is_refused() {
        let sig = signature("k", 100, b"body");
        assert_eq!(verify("k", "100", &sig, b"body", 100, 0), Ok(()));
        assert_eq!(
            verify("k", "100", &sig, b"bodY", 100, 0),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("k", "101", &sig, b"body", 101, 0),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("k", "x", &sig, b"body", 100, 0),
            Err(SignatureError::BadTimestamp("x".into()))
        );
        assert_eq!(
            verify("k", "100", "v1=zz", b"body", 100, 0),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify("k", "100", &sig, b"body", 500, 60),
            Err(SignatureError::Stale(400))
        );
    }
}
