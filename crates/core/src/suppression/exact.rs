//! The exact-value index of a field: folded keys, probed with an alert's ASCII values as they
//! are, without folding them first.
//!
//! Folding an ASCII text is lowering its ASCII letters, so for an ASCII value `v` and a folded
//! key `k`, `fold(v) == k` exactly when `v.eq_ignore_ascii_case(k)`. The hash lowers ASCII
//! letters as it reads, so `v` and `fold(v)` hash alike. A value that is not ASCII is folded
//! first and then probed the same way (a folded text has no ASCII capital, so the comparison is
//! then plain equality).

/// One slot of the table: the high half of the key's hash, where its text sits in the arena
/// (`len` is the byte length plus one; 0 marks an empty slot), and its posting span. A probe
/// reads one slot, not a slot and then an entry elsewhere: at 100,000 rules the table does not
/// fit the caches, and each separate array read was a miss of its own.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    tag: u32,
    start: u32,
    len: u32,
    span: (u32, u32),
}

/// An open-addressing hash table from folded keys to posting spans, with a random seed (keys
/// come from rules, values from alerts: neither may choose collisions).
#[derive(Debug, Default)]
pub(crate) struct ExactMap {
    seed: u64,
    mask: usize,
    /// Bit `len % 256` set for the byte length of every key: most values of a field whose
    /// keys are short (or long) are skipped without hashing them.
    lengths: [u64; 4],
    slots: Box<[Slot]>,
    keys: usize,
    arena: String,
}

const K: u64 = 0x9E37_79B9_7F4A_7C15;

#[inline]
fn mix(x: u64, y: u64) -> u64 {
    let m = u128::from(x).wrapping_mul(u128::from(y));
    (m as u64) ^ ((m >> 64) as u64)
}

/// The word with its ASCII capitals lowered (bytes of 0x80 and above may carry into their
/// neighbours: still a function of the bytes, which is all the hash needs for them).
#[inline]
fn lower8(w: u64) -> u64 {
    const L: u64 = 0x0101_0101_0101_0101;
    let ge_a = w.wrapping_add(L * 0x3f);
    let gt_z = w.wrapping_add(L * 0x25);
    w | ((ge_a & !gt_z & (L * 0x80)) >> 2)
}

/// A hash of `s` that ignores ASCII case.
#[inline]
fn hash_ci(seed: u64, s: &[u8]) -> u64 {
    let mut h = seed ^ (s.len() as u64).wrapping_mul(K);
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        h = mix(h ^ lower8(u64::from_le_bytes(b)), K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut b = [0u8; 8];
        if let Some(dst) = b.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        h = mix(h ^ lower8(u64::from_le_bytes(b)), K);
    }
    mix(h, seed | 1)
}

impl ExactMap {
    /// A table of `keys` (folded, distinct).
    pub(crate) fn build<'k>(keys: impl ExactSizeIterator<Item = (&'k str, (u32, u32))>) -> Self {
        use std::hash::BuildHasher;
        let seed = foldhash::fast::RandomState::default().hash_one(0x5eed_u64);
        let n = keys.len();
        let cap = (n.max(1) * 2).next_power_of_two();
        let mut m = ExactMap {
            seed,
            mask: cap - 1,
            lengths: [0; 4],
            slots: vec![Slot::default(); cap].into_boxed_slice(),
            keys: 0,
            arena: String::new(),
        };
        for (key, span) in keys {
            let (Ok(start), Ok(len)) = (u32::try_from(m.arena.len()), u32::try_from(key.len() + 1))
            else {
                break;
            };
            if let Some(w) = m.lengths.get_mut((key.len() >> 6) & 3) {
                *w |= 1 << (key.len() & 63);
            }
            m.arena.push_str(key);
            m.keys += 1;
            let h = hash_ci(seed, key.as_bytes());
            let mut i = (h as usize) & m.mask;
            while let Some(slot) = m.slots.get_mut(i) {
                if slot.len == 0 {
                    *slot = Slot {
                        tag: (h >> 32) as u32,
                        start,
                        len,
                        span,
                    };
                    break;
                }
                i = (i + 1) & m.mask;
            }
        }
        m
    }

    /// `true` if there are no keys.
    pub(crate) fn is_empty(&self) -> bool {
        self.keys == 0
    }

    /// The span of the key equal to `v` ignoring ASCII case (`v` ASCII, or folded).
    #[inline]
    pub(crate) fn get(&self, v: &str) -> Option<(u32, u32)> {
        let w = self.lengths.get((v.len() >> 6) & 3)?;
        if w & (1 << (v.len() & 63)) == 0 {
            return None;
        }
        let h = hash_ci(self.seed, v.as_bytes());
        let tag = (h >> 32) as u32;
        let mut i = (h as usize) & self.mask;
        loop {
            let e = self.slots.get(i)?;
            if e.len == 0 {
                return None;
            }
            if e.tag == tag && e.len as usize == v.len() + 1 {
                let key = self
                    .arena
                    .as_bytes()
                    .get(e.start as usize..e.start as usize + v.len())?;
                if key.eq_ignore_ascii_case(v.as_bytes()) {
                    return Some(e.span);
                }
            }
            i = (i + 1) & self.mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_values_find_folded_keys() {
        let keys = [
            "web-01",
            "10.0.0.1",
            "ärger",
            "a-much-longer-key-than-eight-bytes",
            "",
        ];
        let m = ExactMap::build(keys.iter().enumerate().map(|(i, k)| (*k, (i as u32, 0))));
        assert_eq!(m.get("WEB-01"), Some((0, 0)));
        assert_eq!(m.get("web-01"), Some((0, 0)));
        assert_eq!(m.get("10.0.0.1"), Some((1, 0)));
        assert_eq!(m.get("ärger"), Some((2, 0)));
        assert_eq!(m.get("A-Much-Longer-KEY-than-eight-bytes"), Some((3, 0)));
        assert_eq!(m.get(""), Some((4, 0)));
        assert_eq!(m.get("web-02"), None);
        assert_eq!(m.get("web-01 "), None);
        assert_eq!(m.get("[web-01"), None);
    }

    #[test]
    fn hash_ignores_ascii_case_only() {
        for (a, b) in [
            ("ABCXYZ@[`{", "abcxyz@[`{"),
            ("Q", "q"),
            ("0123456789ABCDEFG", "0123456789abcdefg"),
        ] {
            assert_eq!(hash_ci(7, a.as_bytes()), hash_ci(7, b.as_bytes()), "{a}");
        }
        assert_ne!(hash_ci(7, b"@"), hash_ci(7, b"`"));
        assert_ne!(hash_ci(7, b"["), hash_ci(7, b"{"));
    }
}
