//! The former walker: serde_json's streaming deserializer (`from_str`, so names without escapes
//! are borrowed) with typed visitors instead of any `serde_json::Value` tree. It now runs only
//! for headers the hand-written scanner rejects as JSON, so that their error is serde_json's own,
//! and as the reference the hand-written scanner is tested against.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::fmt::{self, Write as _};

use mir_core::MetaValue;
use mir_core::pyrepr::{self, ITEM_SEP, KEY_SEP};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use xxhash_rust::xxh3::{Xxh3DefaultBuilder, xxh3_128};

use super::{Fields, Layer, MAX_NESTED_KEYS, NUMBER_KEY, State, push_number_text, push_u64s};
use crate::header::SafetensorsError;

/// Walks `text` with serde_json, filling `st`.
pub(super) fn walk(text: &str, st: &mut State<'_, '_>) -> Result<(), SafetensorsError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let r = de.deserialize_map(TopLevel { st: &mut *st });
    // Only trailing whitespace may follow the object (writers pad with spaces).
    let r = r.and_then(|()| de.end());
    r.map_err(|e| st.fatal.take().unwrap_or(SafetensorsError::InvalidJson(e)))
}

struct TopLevel<'a, 's, 'l> {
    st: &'a mut State<'s, 'l>,
}

impl<'de> Visitor<'de> for TopLevel<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let st = self.st;
        while let Some(CowStr(key)) = map.next_key::<CowStr<'de>>()? {
            if key == "__metadata__" && !st.seen_metadata {
                st.seen_metadata = true;
                map.next_value_seed(MetadataSeed { st: &mut *st })?;
                continue;
            }
            if st.entries >= st.limits.max_tensors {
                return Err(de::Error::custom(format!(
                    "more than {} tensors",
                    st.limits.max_tensors
                )));
            }
            st.entries = st.entries.saturating_add(1);
            // Entries after a bad one are still read the same way: a JSON error further on
            // (e.g. nesting too deep in an unknown field) is the error reported, as before.
            let too_long = key.len() > st.limits.max_name_bytes;
            if st.entries > 1 {
                st.layer.buf.push_str(ITEM_SEP);
            }
            pyrepr::push_str(st.layer.buf, &key);
            st.layer.buf.push_str(KEY_SEP);
            let entry = map.next_value_seed(EntrySeed { st: &mut *st })?;
            st.entry_done(key, too_long, entry);
        }
        Ok(())
    }
}

/// One tensor entry: `Some` for an object (fields read into typed slots, the layer string
/// written as they come), `None` for anything else (drained).
struct EntrySeed<'a, 's, 'l> {
    st: &'a mut State<'s, 'l>,
}

impl<'de> DeserializeSeed<'de> for EntrySeed<'_, '_, '_> {
    type Value = Option<Fields<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EntrySeed<'_, '_, '_> {
    type Value = Option<Fields<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tensor entry")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
        let st = self.st;
        let mut e = Fields::new();
        let (mut has_dtype, mut has_shape, mut has_offsets) = (false, false, false);
        let mut first = true;
        st.layer.buf.push('{');
        while let Some(CowStr(key)) = m.next_key::<CowStr<'de>>()? {
            if first && key == NUMBER_KEY {
                m.next_value::<IgnoredAny>()?;
                return Ok(None);
            }
            if !first {
                st.layer.buf.push_str(ITEM_SEP);
            }
            first = false;
            match key.as_ref() {
                "dtype" if has_dtype => {
                    m.next_value::<Skip>()?;
                    e.bad_field = Some("dtype appears more than once");
                }
                "shape" if has_shape => {
                    m.next_value::<Skip>()?;
                    e.bad_field = Some("shape appears more than once");
                }
                "data_offsets" if has_offsets => {
                    m.next_value::<Skip>()?;
                    e.bad_field = Some("data_offsets appears more than once");
                }
                "dtype" => {
                    has_dtype = true;
                    e.dtype = m.next_value::<MaybeStr<'de>>()?.0;
                    match &e.dtype {
                        Some(d) => {
                            st.layer.buf.push_str("'dtype': ");
                            pyrepr::push_str(st.layer.buf, d);
                        }
                        None => e.bad_field = Some("dtype is not a string"),
                    }
                }
                "shape" => {
                    has_shape = true;
                    st.dims.clear();
                    let ok = m.next_value_seed(U64ListSeed {
                        out: &mut *st.dims,
                        max_len: st.limits.max_rank,
                    })?;
                    if ok {
                        st.layer.buf.push_str("'shape': [");
                        push_u64s(st.layer.buf, st.dims);
                        st.layer.buf.push(']');
                        e.shape = Some(st.dims.as_slice().to_vec());
                    } else {
                        e.bad_field = Some(
                            "shape is not a list of non-negative integers within the rank limit",
                        );
                    }
                }
                "data_offsets" => {
                    has_offsets = true;
                    st.dims.clear();
                    let ok = m.next_value_seed(U64ListSeed {
                        out: &mut *st.dims,
                        max_len: 2,
                    })?;
                    if ok {
                        st.layer.buf.push_str("'data_offsets': [");
                        push_u64s(st.layer.buf, st.dims);
                        st.layer.buf.push(']');
                        let mut pair = [0u64; 2];
                        for (slot, v) in pair.iter_mut().zip(st.dims.iter()) {
                            *slot = *v;
                        }
                        e.offsets = Some((pair, st.dims.len()));
                    } else {
                        e.bad_field = Some("data_offsets is not a list of two integers");
                    }
                }
                _ => {
                    pyrepr::push_str(st.layer.buf, &key);
                    st.layer.buf.push_str(KEY_SEP);
                    m.next_value_seed(ReprSeed {
                        layer: &mut st.layer,
                    })?;
                }
            }
        }
        st.layer.buf.push('}');
        Ok(Some(e))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
        while s.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// `__metadata__`: null, or an object of strings read straight into the index. The entry count
/// is checked before each pair is kept; a wrong type is remembered (reported after the JSON is
/// known to be valid, as before) and the rest drained.
struct MetadataSeed<'a, 's, 'l> {
    st: &'a mut State<'s, 'l>,
}

impl<'de> DeserializeSeed<'de> for MetadataSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl MetadataSeed<'_, '_, '_> {
    fn not_object(self) {
        self.st
            .meta_err
            .get_or_insert(SafetensorsError::MetadataNotObject);
    }
}

impl<'de> Visitor<'de> for MetadataSeed<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of strings")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let st = self.st;
        let limit = st.limits.max_metadata_entries;
        let mut count = 0u64;
        let mut meta: BTreeMap<String, MetaValue> = BTreeMap::new();
        while let Some(CowStr(key)) = m.next_key::<CowStr<'de>>()? {
            if count == 0 && key == NUMBER_KEY {
                m.next_value::<IgnoredAny>()?;
                st.meta_err
                    .get_or_insert(SafetensorsError::MetadataNotObject);
                return Ok(());
            }
            count = count.saturating_add(1);
            if count > limit {
                st.fatal = Some(SafetensorsError::TooManyMetadataEntries { limit });
                return Err(de::Error::custom(format!(
                    "more than {limit} __metadata__ entries"
                )));
            }
            if st.meta_err.is_some() {
                m.next_value::<Skip>()?;
                continue;
            }
            match m.next_value::<MetaStr<'de>>()?.0 {
                Some(v) => {
                    meta.insert(key.into_owned(), MetaValue::Str(v.into_owned()));
                }
                None => {
                    st.meta_err = Some(SafetensorsError::MetadataNotString {
                        key: key.into_owned(),
                    });
                }
            }
        }
        if st.meta_err.is_none() {
            st.index.metadata = meta;
        }
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        while s.next_element::<Skip>()?.is_some() {}
        self.not_object();
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.not_object();
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.not_object();
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.not_object();
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.not_object();
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.not_object();
        Ok(())
    }
}

/// Python's `repr` of an unknown field's value as `json.loads` would build it, written into the
/// layer string while the value is read (nothing kept; nesting is bounded by serde_json's
/// recursion limit).
struct ReprSeed<'a, 'b> {
    layer: &'a mut Layer<'b>,
}

impl<'de> DeserializeSeed<'de> for ReprSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ReprSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        pyrepr::push_bool(self.layer.buf, v);
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        let _ = write!(self.layer.buf, "{v}");
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        let _ = write!(self.layer.buf, "{v}");
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        pyrepr::push_float(self.layer.buf, v);
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        pyrepr::push_str(self.layer.buf, v);
        self.layer.maybe_flush();
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        pyrepr::push_none(self.layer.buf);
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        let layer = self.layer;
        layer.buf.push('[');
        let mut first = true;
        loop {
            let sep_at = layer.buf.len();
            if !first {
                layer.buf.push_str(ITEM_SEP);
            }
            if s.next_element_seed(ReprSeed { layer: &mut *layer })?
                .is_none()
            {
                layer.buf.truncate(sep_at);
                break;
            }
            first = false;
            layer.maybe_flush();
        }
        layer.buf.push(']');
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let layer = self.layer;
        // Python keeps the first position and the last value of a repeated key; rather than
        // buffer the object to rewrite it, a repeat makes the layer string "not reproducible".
        let mut keys: HashSet<u128, Xxh3DefaultBuilder> = HashSet::default();
        let mut first = true;
        let at = layer.buf.len();
        layer.buf.push('{');
        while let Some(CowStr(key)) = m.next_key::<CowStr<'de>>()? {
            if first && key == NUMBER_KEY {
                // A number in its decimal text: `repr` of what `json.loads` builds from it.
                layer.buf.truncate(at);
                let CowStr(text) = m.next_value::<CowStr<'de>>()?;
                push_number_text(layer.buf, &text);
                return Ok(());
            }
            layer.nested_keys = layer.nested_keys.saturating_add(1);
            if layer.nested_keys > MAX_NESTED_KEYS || !keys.insert(xxh3_128(key.as_bytes())) {
                layer.broken = true;
            }
            if layer.broken {
                m.next_value::<Skip>()?;
                continue;
            }
            if !first {
                layer.buf.push_str(ITEM_SEP);
            }
            first = false;
            pyrepr::push_str(layer.buf, &key);
            layer.buf.push_str(KEY_SEP);
            m.next_value_seed(ReprSeed { layer: &mut *layer })?;
            layer.maybe_flush();
        }
        layer.buf.push('}');
        Ok(())
    }
}

/// A string that borrows from the input when it can.
struct CowStr<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// Any JSON value, read and dropped like a `serde_json::Value` would be read (nesting is bounded
/// by serde_json's recursion limit, an error as before), without building anything. Used where
/// the former parser built a `Value` (metadata, unknown fields), so the same files get the same
/// JSON error; `IgnoredAny` is used where it drained with `IgnoredAny`.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Skip, A::Error> {
        while s.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Skip, A::Error> {
        while m.next_entry::<IgnoredAny, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

/// A metadata value: `Some` when it is a string, read with [`Skip`] and `None` otherwise.
struct MetaStr<'de>(Option<Cow<'de, str>>);

impl<'de> Deserialize<'de> for MetaStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MetaStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(MetaStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MetaStr(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(MetaStr(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(MetaStr(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(MetaStr(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(MetaStr(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(MetaStr(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, s: A) -> Result<Self::Value, A::Error> {
                SkipVisitor.visit_seq(s).map(|_| MetaStr(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<Self::Value, A::Error> {
                SkipVisitor.visit_map(m).map(|_| MetaStr(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// Any JSON value: `Some` when it is a string, drained and `None` otherwise.
struct MaybeStr<'de>(Option<Cow<'de, str>>);

impl<'de> Deserialize<'de> for MaybeStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MaybeStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(MaybeStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MaybeStr(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeStr(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(MaybeStr(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// Any JSON value: `true` with `out` filled when it is an array of at most `max_len`
/// non-negative integers, drained and `false` otherwise.
struct U64ListSeed<'a> {
    out: &'a mut Vec<u64>,
    max_len: usize,
}

impl<'de> DeserializeSeed<'de> for U64ListSeed<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for U64ListSeed<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<bool, A::Error> {
        let mut ok = true;
        while let Some(v) = s.next_element::<MaybeU64>()? {
            match v.0 {
                Some(d) if ok && self.out.len() < self.max_len => self.out.push(d),
                _ => ok = false,
            }
        }
        Ok(ok)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<bool, A::Error> {
        while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
}

/// Any JSON value: `Some` for a non-negative integer, drained and `None` otherwise.
struct MaybeU64(Option<u64>);

impl<'de> Deserialize<'de> for MaybeU64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MaybeU64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(MaybeU64(Some(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(MaybeU64(u64::try_from(v).ok()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(MaybeU64(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(MaybeU64(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(MaybeU64(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(MaybeU64(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeU64(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(MaybeU64(None))
            }
        }
        d.deserialize_any(V)
    }
}
