//! Evaluating compiled conditions on one alert: the three-valued logic over the values a field
//! path reads, with reused buffers and values folded once.

use std::borrow::Cow;
use std::net::IpAddr;

use super::cond::*;
use super::path::{FieldPath, Presence};
use crate::Alert;

/// Where one field's values sit in a [`Ctx`]'s flat value lists.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Slot {
    resolved: bool,
    no_entity: bool,
    start: u32,
    end: u32,
    /// Start of the folded copies, or `u32::MAX` until folded.
    folded: u32,
}

/// Buffers a [`Ctx`] can be built from and handed back, so that matching many alerts reuses
/// the same allocations.
#[derive(Debug, Default)]
pub(crate) struct CtxBuffers {
    slots: Vec<Slot>,
    raw: Vec<Cow<'static, str>>,
    folded: Vec<Folded>,
    arena: String,
}

/// An empty vector of another lifetime, keeping the allocation (the element layout is the same).
pub(crate) fn recycle<'b>(mut v: Vec<Cow<'_, str>>) -> Vec<Cow<'b, str>> {
    v.clear();
    v.into_iter().map(|_| Cow::Borrowed("")).collect()
}

/// A folded value: the raw value itself (folding changed nothing), or a range of the arena.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Folded {
    Raw(u32),
    Arena(u32, u32),
}

/// One field's folded values, in the order of its raw values.
#[derive(Clone, Copy)]
pub(crate) struct FoldedValues<'c, 'a> {
    raw: &'c [Cow<'a, str>],
    refs: &'c [Folded],
    arena: &'c str,
}

impl<'c> FoldedValues<'c, '_> {
    /// The folded values.
    pub(crate) fn iter(self) -> impl Iterator<Item = &'c str> {
        self.refs.iter().map(move |f| match *f {
            Folded::Raw(i) => self.raw.get(i as usize).map_or("", |v| v.as_ref()),
            Folded::Arena(a, b) => self.arena.get(a as usize..b as usize).unwrap_or_default(),
        })
    }
}

/// Per-alert evaluation state: the alert and the values resolved so far, each field resolved
/// (and folded) at most once, all fields' values in flat lists and folded text in one arena.
pub(crate) struct Ctx<'a> {
    pub(crate) alert: &'a Alert,
    fields: &'a [FieldPath],
    slots: Vec<Slot>,
    raw: Vec<Cow<'a, str>>,
    folded: Vec<Folded>,
    arena: String,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(alert: &'a Alert, fields: &'a [FieldPath]) -> Ctx<'a> {
        Ctx::with_buffers(alert, fields, CtxBuffers::default())
    }

    /// A context over reused buffers.
    pub(crate) fn with_buffers(
        alert: &'a Alert,
        fields: &'a [FieldPath],
        b: CtxBuffers,
    ) -> Ctx<'a> {
        let mut slots = b.slots;
        slots.clear();
        slots.resize(fields.len(), Slot::default());
        let (mut folded, mut arena) = (b.folded, b.arena);
        folded.clear();
        arena.clear();
        Ctx {
            alert,
            fields,
            slots,
            raw: b.raw,
            folded,
            arena,
        }
    }

    /// The buffers back, emptied, for the next alert.
    pub(crate) fn into_buffers(self) -> CtxBuffers {
        CtxBuffers {
            slots: self.slots,
            raw: recycle(self.raw),
            folded: self.folded,
            arena: self.arena,
        }
    }

    fn slot(&mut self, field: usize) -> Option<Slot> {
        let s = *self.slots.get(field)?;
        if s.resolved {
            return Some(s);
        }
        let path = self.fields.get(field)?;
        let start = self.raw.len();
        let presence = path.resolve(self.alert, &mut self.raw);
        let s = Slot {
            resolved: true,
            no_entity: presence == Presence::NoEntityOfType,
            start: u32::try_from(start).ok()?,
            end: u32::try_from(self.raw.len()).ok()?,
            folded: u32::MAX,
        };
        *self.slots.get_mut(field)? = s;
        Some(s)
    }

    /// The field's values as the alert has them, and whether the alert lacks the entity type.
    pub(crate) fn raw(&mut self, field: usize) -> Option<(&[Cow<'a, str>], bool)> {
        let s = self.slot(field)?;
        Some((self.raw.get(s.start as usize..s.end as usize)?, s.no_entity))
    }

    /// The field's values, raw and folded (same order).
    pub(crate) fn both(&mut self, field: usize) -> Option<(&[Cow<'a, str>], FoldedValues<'_, 'a>)> {
        let mut s = self.slot(field)?;
        if s.folded == u32::MAX {
            s.folded = u32::try_from(self.folded.len()).ok()?;
            for i in s.start..s.end {
                let v = self.raw.get(i as usize)?;
                let a = self.arena.len();
                let f = if fold_into(v, &mut self.arena) {
                    Folded::Arena(
                        u32::try_from(a).ok()?,
                        u32::try_from(self.arena.len()).ok()?,
                    )
                } else {
                    Folded::Raw(i)
                };
                self.folded.push(f);
            }
            *self.slots.get_mut(field)? = s;
        }
        let n = (s.end - s.start) as usize;
        let f = s.folded as usize;
        Some((
            self.raw.get(s.start as usize..s.end as usize)?,
            FoldedValues {
                raw: &self.raw,
                refs: self.folded.get(f..f + n)?,
                arena: &self.arena,
            },
        ))
    }
}

pub(crate) fn any_value(t: &Test, ctx: &mut Ctx<'_>) -> Option<String> {
    let matches_one = |v: &str, raw: &str| -> bool {
        match &t.op {
            Op::Equals(n) => n.has(v),
            Op::Contains(n) => n.contains_in(v),
            Op::StartsWith(n) => n.prefix_of(v),
            Op::EndsWith(n) => n.suffix_of(v),
            Op::Wildcard(n) => n.glob_any(v),
            Op::Regex(rs) => rs
                .iter()
                .any(|re| re.get().is_some_and(|re| re.is_match(raw))),
            Op::Cidr(nets) => raw
                .trim()
                .parse::<IpAddr>()
                .is_ok_and(|ip| nets.iter().any(|n| n.contains(ip))),
            Op::Exists(_) => false,
        }
    };
    if t.case_sensitive || matches!(t.op, Op::Regex(_) | Op::Cidr(_)) {
        let (raw, _) = ctx.raw(t.field)?;
        raw.iter()
            .find(|v| matches_one(v, v))
            .map(|v| v.to_string())
    } else {
        let (raw, folded) = ctx.both(t.field)?;
        folded
            .iter()
            .zip(raw.iter())
            .find(|(f, raw)| matches_one(f, raw))
            .map(|(_, raw)| raw.to_string())
    }
}

/// Evaluates a test: `(truth, the value that satisfied it)`.
pub(crate) fn eval_test(
    t: &Test,
    ctx: &mut Ctx<'_>,
    absent_match: bool,
) -> (Truth, Option<String>) {
    let Some((raw, no_entity)) = ctx.raw(t.field) else {
        return (Truth::Absent, None);
    };
    if let Op::Exists(want) = t.op {
        return (Truth::from_bool(raw.is_empty() != want), None);
    }
    if raw.is_empty() {
        return if no_entity && absent_match {
            (Truth::True, None)
        } else {
            (Truth::Absent, None)
        };
    }
    match any_value(t, ctx) {
        Some(v) => (Truth::True, Some(v)),
        None => (Truth::False, None),
    }
}

/// Evaluates a condition, short-circuiting.
pub(crate) fn eval(c: &Cond, ctx: &mut Ctx<'_>, absent_match: bool) -> Truth {
    match c {
        Cond::Test(t) => eval_test(t, ctx, absent_match).0,
        Cond::Not(inner) => eval(inner, ctx, absent_match).not(),
        Cond::All(items) => eval_all(items, ctx, absent_match),
        Cond::Any(items) => {
            let mut absent = false;
            for i in items {
                match eval(i, ctx, absent_match) {
                    Truth::True => return Truth::True,
                    Truth::Absent => absent = true,
                    Truth::False => {}
                }
            }
            if absent { Truth::Absent } else { Truth::False }
        }
    }
}

/// `allOf` over a list: false wins, then absent, then true.
pub(crate) fn eval_all(items: &[Cond], ctx: &mut Ctx<'_>, absent_match: bool) -> Truth {
    let mut absent = false;
    for i in items {
        match eval(i, ctx, absent_match) {
            Truth::False => return Truth::False,
            Truth::Absent => absent = true,
            Truth::True => {}
        }
    }
    if absent { Truth::Absent } else { Truth::True }
}
