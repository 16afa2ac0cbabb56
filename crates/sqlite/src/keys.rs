//! Integer keys for the selective filters: entity values, resource-id prefixes, compromised
//! entities, intents, tactics and techniques hashed (with the tenant) into 64-bit keys, stored
//! as `(gen, key, seq, st, sev)` rows of `alert_keys`, and folded into a 64-bit filter
//! (`alerts.bloom`) that the order indexes carry, so a walk of the queue can skip rows that
//! cannot match without reading them.
//!
//! `gen` is the alert's row id divided by [`GEN_SIZE`]: the key rows of one batch land in the
//! region of the newest generation, not all over the table, so a commit rewrites a bounded
//! number of pages however large the file grows (random keys over the whole table made every
//! commit rewrite most of it). A lookup probes each generation (a few hundred on millions of
//! alerts). `st` and `sev` are the alert's status code ([`status_code`]) and severity rank,
//! kept in step by status changes, so a count under a key reads key rows only.
//!
//! The stored keys are SipHash-2-4 under a 128-bit key drawn at random for each database
//! (`key_secret`, from SQLite's `randomblob`): nobody who cannot read the file can make two
//! values share a key, so counts may trust a key alone. The filter bits come from an unkeyed
//! FNV-1a hash ([`filter_bits`], fixed since schema 4): they only narrow, every row found
//! through them is checked exactly, so a collision there costs a row read, never a wrong
//! answer.

use rusqlite::{Connection, OptionalExtension};
use vigil_core::store::StoreError;
use vigil_core::{KillChainIntent, Status};

use crate::error::{Db, corrupt_row};

use vigil_core::Alert;
use vigil_core::store::codec::IndexKeys;

/// FNV-1a over bytes: stable across processes, versions of Rust and platforms (the filter bits
/// are stored).
fn fnv1a(bytes: &[u8], mut h: u64) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Alerts per generation of `alert_keys` (a power of two).
pub(crate) const GEN_BITS: u32 = 13;

/// The generation of the alert with row id `seq`.
pub(crate) fn gen_of(seq: i64) -> i64 {
    seq >> GEN_BITS
}

/// `WITH` clause naming every generation as `gens(g)`, for `gen IN (SELECT g FROM gens)`.
pub(crate) const GENS_CTE: &str =
    "WITH RECURSIVE gens(g) AS (SELECT 0 UNION ALL SELECT g + 1 FROM gens
     WHERE g < (SELECT coalesce(max(seq), 0) >> 13 FROM alerts))";

/// What a key names.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A folded entity value ([`vigil_core::store::entity_values`]).
    Entity,
    /// A lowercased resource-id prefix ending at a segment boundary ([`resource_prefixes`]).
    Resource,
    /// The folded compromised entity.
    Compromised,
    /// A kill-chain intent ([`vigil_core::KillChainIntent::as_str`]).
    Intent,
    /// An ATT&CK tactic an intent maps to ([`vigil_core::KillChainIntent::nearest_tactics`]).
    Tactic,
    /// An ATT&CK technique or sub-technique the alert lists, and the parent of a sub-technique.
    Technique,
    /// An intent outside Defender's named values ([`KillChainIntent::Other`]), so that its
    /// text never shares the key of a named intent spelled the same.
    OtherIntent,
}

/// The filter bits of `value` of `kind` in `tenant` (the filter uses [`Kind::Intent`] for
/// every intent).
pub(crate) fn filter_bits(tenant: &str, kind: Kind, value: &str) -> i64 {
    let kind = if kind == Kind::OtherIntent {
        Kind::Intent
    } else {
        kind
    };
    bits(fnv_key(tenant, kind, value))
}

/// The kind and text of an intent's key.
pub(crate) fn intent(i: &KillChainIntent) -> (Kind, &str) {
    match i {
        KillChainIntent::Other(s) => (Kind::OtherIntent, s.as_str()),
        named => (Kind::Intent, named.as_str()),
    }
}

/// The stored code of a status in key rows (`st`).
pub(crate) fn status_code(s: Status) -> i64 {
    match s {
        Status::Active => 0,
        Status::InProgress => 1,
        Status::Resolved => 2,
        Status::Dismissed => 3,
        // A status added later gets a code of its own before it can be stored.
        _ => 15,
    }
}

/// The status of a stored code.
pub(crate) fn status_of_code(code: i64) -> Option<Status> {
    Status::ALL
        .iter()
        .copied()
        .find(|s| status_code(*s) == code)
}

/// The database's hash key (`key_secret`), which every stored key is computed under.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Keyer {
    k0: u64,
    k1: u64,
}

impl Keyer {
    /// The key stored in the file.
    pub(crate) fn load(conn: &Connection) -> Result<Keyer, StoreError> {
        let blob: Option<Vec<u8>> = conn
            .prepare_cached("SELECT k FROM key_secret")
            .db()?
            .query_row([], |r| r.get(0))
            .optional()
            .db()?;
        Keyer::of_blob(blob.as_deref()).ok_or_else(|| {
            corrupt_row(
                "the hash key (table key_secret)".to_owned(),
                "it is missing or not 16 bytes".to_owned(),
            )
        })
    }

    /// The key of a stored 16-byte blob.
    pub(crate) fn of_blob(blob: Option<&[u8]>) -> Option<Keyer> {
        let b = blob.filter(|b| b.len() == 16)?;
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[..8]);
        let k0 = u64::from_le_bytes(w);
        w.copy_from_slice(&b[8..]);
        Some(Keyer {
            k0,
            k1: u64::from_le_bytes(w),
        })
    }

    /// The stored key of `value` (already folded or lowercased) of `kind` in `tenant`.
    pub(crate) fn key(&self, tenant: &str, kind: Kind, value: &str) -> i64 {
        let tag: u8 = match kind {
            Kind::Entity => b'e',
            Kind::Resource => b'r',
            Kind::Compromised => b'c',
            Kind::Intent => b'i',
            Kind::Tactic => b'a',
            Kind::Technique => b't',
            Kind::OtherIntent => b'o',
        };
        // The tenant's length first, so that (tenant, value) pairs never run into each other.
        // The hasher streams: the pieces hash as their concatenation, without building it.
        use std::hash::Hasher as _;
        let mut h = siphasher::sip::SipHasher24::new_with_keys(self.k0, self.k1);
        h.write(&(tenant.len() as u64).to_le_bytes());
        h.write(tenant.as_bytes());
        h.write(&[tag]);
        h.write(value.as_bytes());
        i64::from_ne_bytes(h.finish().to_ne_bytes())
    }
}

/// The unkeyed hash of `value` (already folded or lowercased) of `kind` in `tenant`, whose
/// [`bits`] make the filter (the stored keys of schemas 4 to 6).
pub(crate) fn fnv_key(tenant: &str, kind: Kind, value: &str) -> i64 {
    let tag: &[u8] = match kind {
        Kind::Entity => b"\0e\0",
        Kind::Resource => b"\0r\0",
        Kind::Compromised => b"\0c\0",
        Kind::Intent => b"\0i\0",
        Kind::Tactic => b"\0a\0",
        Kind::Technique => b"\0t\0",
        // Only keyed: the filter hashes every intent under `Intent`.
        Kind::OtherIntent => b"\0o\0",
    };
    let h = fnv1a(tenant.as_bytes(), 0xcbf2_9ce4_8422_2325);
    let h = fnv1a(tag, h);
    // A final mix, so that the bits the filter takes are spread.
    let h = fnv1a(value.as_bytes(), h);
    let h = (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    i64::from_ne_bytes((h ^ (h >> 32)).to_ne_bytes())
}

/// The two bits of the 64-bit filter a key sets.
pub(crate) fn bits(key: i64) -> i64 {
    let k = u64::from_ne_bytes(key.to_ne_bytes());
    let m = (1u64 << (k & 63)) | (1u64 << ((k >> 6) & 63));
    i64::from_ne_bytes(m.to_ne_bytes())
}

/// The prefixes of a lowercased resource id that are indexed: those ending after the 2nd, 4th,
/// 6th, … segment (`/subscriptions/s`, `/subscriptions/s/resourcegroups/rg`, …), and the whole
/// id. A prefix query is served by the indexed prefixes that start with it ([`cover`]).
pub(crate) fn resource_prefixes(id: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut segment = 0usize;
    for (i, b) in id.bytes().enumerate() {
        if b == b'/' {
            if segment > 0 && segment.is_multiple_of(2) && i > 0 {
                out.push(&id[..i]);
            }
            segment += 1;
        }
    }
    if !id.is_empty() && out.last().is_none_or(|l| l.len() != id.len()) {
        out.push(id);
    }
    out
}

/// The stored keys of an alert (sorted, unique) and its filter. The compromised entity's key is
/// only for related alerts: it stays out of the filter.
pub(crate) fn of_alert(
    keyer: &Keyer,
    tenant: &str,
    alert: &Alert,
    d: &IndexKeys,
) -> (Vec<i64>, i64) {
    let mut keys = Vec::new();
    let mut bloom = 0i64;
    let mut add = |kind: Kind, value: &str| {
        keys.push(keyer.key(tenant, kind, value));
        bloom |= filter_bits(tenant, kind, value);
    };
    for v in &d.entities {
        add(Kind::Entity, v);
    }
    for r in &d.resources {
        for p in resource_prefixes(r) {
            add(Kind::Resource, p);
        }
    }
    for i in alert.intents() {
        let (kind, text) = intent(i);
        add(kind, text);
        for t in i.nearest_tactics() {
            add(Kind::Tactic, &t.to_string());
        }
    }
    for t in alert.techniques().iter().chain(alert.sub_techniques()) {
        add(Kind::Technique, &t.to_string());
        if let Some(p) = t.parent() {
            add(Kind::Technique, &p.to_string());
        }
    }
    if let Some(c) = d.compromised_lc.as_deref().filter(|c| !c.is_empty()) {
        keys.push(keyer.key(tenant, Kind::Compromised, c));
    }
    keys.sort_unstable();
    keys.dedup();
    (keys, bloom)
}

/// The smallest set of indexed prefixes (from `known`, every indexed prefix that starts with
/// `prefix`, as stored) such that every resource id starting with `prefix` has one of them as an
/// indexed prefix: those whose parent indexed prefix is shorter than `prefix`.
pub(crate) fn cover(prefix: &str, known: &[String]) -> Vec<String> {
    let mut out: Vec<String> = known
        .iter()
        .filter(|k| k.starts_with(prefix))
        .filter(|k| {
            // The longest indexed prefix of `k` shorter than `k` itself.
            let parent = resource_prefixes(k)
                .into_iter()
                .filter(|p| p.len() < k.len())
                .map(str::len)
                .max()
                .unwrap_or(0);
            parent < prefix.len()
        })
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn prefixes_end_at_every_second_segment_and_the_whole_id() {
        let id =
            "/subscriptions/s1/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm1";
        assert_eq!(
            resource_prefixes(id),
            [
                "/subscriptions/s1",
                "/subscriptions/s1/resourcegroups/rg",
                "/subscriptions/s1/resourcegroups/rg/providers/microsoft.compute",
                id,
            ]
        );
        assert_eq!(
            resource_prefixes("/subscriptions/s1/x"),
            ["/subscriptions/s1", "/subscriptions/s1/x"]
        );
        assert_eq!(resource_prefixes("vm1"), ["vm1"]);
        assert!(resource_prefixes("").is_empty());
    }

    #[test]
    fn a_cover_finds_every_id_under_a_prefix() {
        let ids = [
            "/subscriptions/s1/resourcegroups/rg/providers/p/t/a",
            "/subscriptions/s1/resourcegroups/rg2/providers/p/t/b",
            "/subscriptions/s1/resourcegroups/other/providers/p/t/c",
            "/subscriptions/s2/resourcegroups/rg/providers/p/t/d",
        ];
        let mut known: Vec<String> = ids
            .iter()
            .flat_map(|i| resource_prefixes(i))
            .map(str::to_owned)
            .collect();
        known.sort();
        known.dedup();
        for prefix in [
            "/subscriptions/s1/resourcegroups/rg",
            "/subscriptions/s1/resourcegroups/r",
            "/subscriptions/s1/resourcegroups/",
            "/subscriptions/s1",
            "/subscriptions/s",
            "/subscriptions/s1/resourcegroups/rg/providers/p/t/a",
            "/",
        ] {
            let under: Vec<String> = known
                .iter()
                .filter(|k| k.starts_with(prefix))
                .cloned()
                .collect();
            let c = cover(prefix, &under);
            for id in ids.iter().filter(|i| i.starts_with(prefix)) {
                assert!(
                    resource_prefixes(id)
                        .iter()
                        .any(|p| c.iter().any(|x| x == p)),
                    "{prefix}: {id} not covered by {c:?}"
                );
            }
            for x in &c {
                assert!(x.starts_with(prefix));
            }
        }
        let c = cover("/subscriptions/s1/resourcegroups/rg", &known);
        assert_eq!(
            c,
            [
                "/subscriptions/s1/resourcegroups/rg",
                "/subscriptions/s1/resourcegroups/rg2"
            ]
        );
    }

    #[test]
    fn the_generations_clause_divides_by_the_generation_size() {
        assert!(GENS_CTE.contains(&format!(">> {GEN_BITS} FROM alerts")));
        assert_eq!(gen_of(8191), 0);
        assert_eq!(gen_of(1 << GEN_BITS), 1);
    }

    #[test]
    fn keys_depend_on_tenant_kind_value_and_the_database_key_and_bits_on_the_first_three() {
        let keyer = Keyer::of_blob(Some(&[7u8; 16])).unwrap();
        let other = Keyer::of_blob(Some(&[8u8; 16])).unwrap();
        let a = keyer.key("t", Kind::Entity, "10.0.0.1");
        assert_eq!(a, keyer.key("t", Kind::Entity, "10.0.0.1"));
        assert_ne!(a, other.key("t", Kind::Entity, "10.0.0.1"));
        assert_ne!(a, keyer.key("u", Kind::Entity, "10.0.0.1"));
        assert_ne!(a, keyer.key("t", Kind::Resource, "10.0.0.1"));
        assert_ne!(a, keyer.key("t", Kind::Entity, "10.0.0.2"));
        // The tenant's length is hashed: ("ab", "c") and ("a", "bc") differ.
        assert_ne!(
            keyer.key("ab", Kind::Entity, "c"),
            keyer.key("a", Kind::Entity, "bc")
        );
        assert_ne!(
            keyer.key("t", Kind::Intent, "Probing"),
            keyer.key("t", Kind::OtherIntent, "Probing")
        );
        let b = u64::from_ne_bytes(filter_bits("t", Kind::Entity, "10.0.0.1").to_ne_bytes());
        assert!((1..=2).contains(&b.count_ones()));
        assert_eq!(
            filter_bits("t", Kind::Intent, "Probing"),
            filter_bits("t", Kind::OtherIntent, "Probing")
        );
        assert!(Keyer::of_blob(Some(&[0u8; 15])).is_none());
        assert!(Keyer::of_blob(None).is_none());
    }

    /// SipHash-2-4 of `data` under the key `(k0, k1)`, in one call.
    fn siphash24(k0: u64, k1: u64, data: &[u8]) -> u64 {
        use std::hash::Hasher as _;
        let mut h = siphasher::sip::SipHasher24::new_with_keys(k0, k1);
        h.write(data);
        h.finish()
    }

    #[test]
    fn a_key_is_the_siphash_of_its_pieces_concatenated() {
        let keyer = Keyer::of_blob(Some(&[9u8; 16])).unwrap();
        let (k0, k1) = (keyer.k0, keyer.k1);
        let mut msg = 6u64.to_le_bytes().to_vec();
        msg.extend_from_slice(b"tenant");
        msg.push(b'e');
        msg.extend_from_slice(b"10.0.0.1");
        let want = i64::from_ne_bytes(siphash24(k0, k1, &msg).to_ne_bytes());
        assert_eq!(keyer.key("tenant", Kind::Entity, "10.0.0.1"), want);
    }

    #[test]
    fn siphash_matches_the_reference_vectors() {
        // The reference implementation's vectors: key 00..0f, message 00..(n-1).
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        let msg: Vec<u8> = (0u8..64).collect();
        assert_eq!(siphash24(k0, k1, &msg[..0]), 0x726f_db47_dd0e_0e31);
        assert_eq!(siphash24(k0, k1, &msg[..1]), 0x74f8_39c5_93dc_67fd);
        assert_eq!(siphash24(k0, k1, &msg[..8]), 0x93f5_f579_9a93_2462);
        assert_eq!(siphash24(k0, k1, &msg[..15]), 0xa129_ca61_49be_45e5);
        assert_eq!(siphash24(k0, k1, &msg[..63]), 0x958a_324c_eb06_4572);
    }

    #[test]
    fn status_codes_are_distinct_and_read_back() {
        for s in Status::ALL {
            assert_eq!(status_of_code(status_code(s)), Some(s));
        }
        assert_eq!(status_of_code(15), None);
    }
}
