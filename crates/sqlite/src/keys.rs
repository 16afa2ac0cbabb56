//! Integer keys for the selective filters: entity values, resource-id prefixes and compromised
//! entities hashed (with the tenant) into 64-bit keys, stored as `(gen, key, seq)` rows of
//! `alert_keys`, and folded into a 64-bit filter (`alerts.bloom`) that the order indexes carry,
//! so a walk of the queue can skip rows that cannot match without reading them.
//!
//! `gen` is the alert's row id divided by [`GEN_SIZE`]: the key rows of one batch land in the
//! region of the newest generation, not all over the table, so a commit rewrites a bounded
//! number of pages however large the file grows (random keys over the whole table made every
//! commit rewrite most of it). A lookup probes each generation (a few hundred on millions of
//! alerts).
//!
//! A key or a filter bit only ever narrows: every row found through them is checked exactly
//! against its stored lists before it is returned, so a hash collision costs a row read, never
//! a wrong answer.

use vigil_core::Alert;
use vigil_core::store::codec::IndexKeys;

/// FNV-1a over bytes: stable across processes, versions of Rust and platforms (keys are stored).
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
}

/// The key of `value` (already folded or lowercased) of `kind` in `tenant`.
pub(crate) fn key(tenant: &str, kind: Kind, value: &str) -> i64 {
    let tag: &[u8] = match kind {
        Kind::Entity => b"\0e\0",
        Kind::Resource => b"\0r\0",
        Kind::Compromised => b"\0c\0",
        Kind::Intent => b"\0i\0",
        Kind::Tactic => b"\0a\0",
        Kind::Technique => b"\0t\0",
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

/// The keys of an alert (sorted, unique) and its filter. The compromised entity's key is only
/// for related alerts: it stays out of the filter.
pub(crate) fn of_alert(tenant: &str, alert: &Alert, d: &IndexKeys) -> (Vec<i64>, i64) {
    let mut keys: Vec<i64> = d
        .entities
        .iter()
        .map(|v| key(tenant, Kind::Entity, v))
        .collect();
    for r in &d.resources {
        keys.extend(
            resource_prefixes(r)
                .into_iter()
                .map(|p| key(tenant, Kind::Resource, p)),
        );
    }
    for i in alert.intents() {
        keys.push(key(tenant, Kind::Intent, i.as_str()));
        for t in i.nearest_tactics() {
            keys.push(key(tenant, Kind::Tactic, &t.to_string()));
        }
    }
    for t in alert.techniques().iter().chain(alert.sub_techniques()) {
        keys.push(key(tenant, Kind::Technique, &t.to_string()));
        if let Some(p) = t.parent() {
            keys.push(key(tenant, Kind::Technique, &p.to_string()));
        }
    }
    let bloom = keys.iter().fold(0i64, |m, k| m | bits(*k));
    if let Some(c) = d.compromised_lc.as_deref().filter(|c| !c.is_empty()) {
        keys.push(key(tenant, Kind::Compromised, c));
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
    fn keys_depend_on_tenant_kind_and_value_and_set_two_bits_at_most() {
        let a = key("t", Kind::Entity, "10.0.0.1");
        assert_eq!(a, key("t", Kind::Entity, "10.0.0.1"));
        assert_ne!(a, key("u", Kind::Entity, "10.0.0.1"));
        assert_ne!(a, key("t", Kind::Resource, "10.0.0.1"));
        assert_ne!(a, key("t", Kind::Entity, "10.0.0.2"));
        let b = u64::from_ne_bytes(bits(a).to_ne_bytes());
        assert!((1..=2).contains(&b.count_ones()));
    }
}
