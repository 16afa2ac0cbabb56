//! Serde for the crate's value types that have a text form: written with `Display`, read with
//! `FromStr` (so a JSON value is checked exactly as parsing the text is). One definition, used by
//! every such type through [`serde_as_text!`].

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::{self, Visitor};

/// Deserializes a string through `FromStr`.
pub(crate) struct ParseVisitor<T> {
    expecting: &'static str,
    target: PhantomData<T>,
}

impl<T> ParseVisitor<T> {
    pub(crate) fn new(expecting: &'static str) -> Self {
        ParseVisitor {
            expecting,
            target: PhantomData,
        }
    }
}

impl<T: FromStr<Err = crate::Error>> Visitor<'_> for ParseVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }
}

/// Implements `Serialize` (through `Display`) and `Deserialize` (through `FromStr`) for a type,
/// with the description serde's errors use for what was expected.
macro_rules! serde_as_text {
    ($t:ty, $expecting:literal) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str($crate::serde_text::ParseVisitor::<$t>::new($expecting))
            }
        }
    };
}

pub(crate) use serde_as_text;
