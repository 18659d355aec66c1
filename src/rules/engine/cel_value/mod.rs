//! Model values straight into CEL values, with the `Observed` rule applied
//! on the way: read -> the value, absent -> `null`, unknown -> the field is
//! left out and recorded as a gap with its path. A list or map with an
//! unknown member is itself left out: dropping the member alone would make
//! `size()`, `in` and `exists()` answer about the members that were read.
//!
//! A `serde` serializer, so every model type binds through its own
//! `Serialize` (the same field names as the snapshot file) without a JSON
//! tree in between: building and freeing that tree was most of the cost of
//! binding a resource.

mod key;

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use cel::Value;
use cel::objects::{Key, Map};
use serde::Serialize;
use serde::ser::{self, Impossible};

use crate::model::ReadError;
use key::KeySer;

/// How policy texts inside a bound value are bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policies {
    /// Whole: text, parse and parse error.
    Whole,
    /// As `{"parsed": bool, "statements": n}`, for bindings whose rules read
    /// policies from the model (the serializer then declares itself not
    /// human-readable, which `PolicyText` answers with its summary).
    Summaries,
}

/// The value of `v` as CEL sees it, and the unknown values left out of it
/// (path from `root`, error). `None` when `v` itself is an unknown `Observed`.
pub fn to_cel<T: Serialize + ?Sized>(
    v: &T,
    root: &str,
    gaps: &mut Vec<(String, ReadError)>,
) -> Option<Value> {
    to_cel_with(v, root, gaps, Policies::Whole)
}

/// [`to_cel`], with policy texts bound as `policies` says.
pub fn to_cel_with<T: Serialize + ?Sized>(
    v: &T,
    root: &str,
    gaps: &mut Vec<(String, ReadError)>,
    policies: Policies,
) -> Option<Value> {
    bind_value(v, root, gaps, policies, None)
}

/// [`to_cel`] of a struct (or an `Observed` of one) with only the fields
/// `keep` accepts: the others are neither built nor walked (for a value of
/// which rules read a few fields); the fields kept are bound whole.
/// Unknown values inside a field left out are not recorded as gaps: use it
/// only for values that hold no `Observed`, or whose left-out fields no
/// rule reads.
pub fn to_cel_fields<T: Serialize + ?Sized>(
    v: &T,
    root: &str,
    gaps: &mut Vec<(String, ReadError)>,
    keep: &dyn Fn(&str) -> bool,
) -> Option<Value> {
    bind_value(v, root, gaps, Policies::Whole, Some(keep))
}

fn bind_value<T: Serialize + ?Sized>(
    v: &T,
    root: &str,
    gaps: &mut Vec<(String, ReadError)>,
    policies: Policies,
    keep: Option<&dyn Fn(&str) -> bool>,
) -> Option<Value> {
    let mut path = vec![Cow::Owned(root.to_string())];
    let mut state = State {
        path: &mut path,
        gaps,
        policies,
        keep,
    };
    v.serialize(Ser { st: &mut state })
        .unwrap_or(Some(Value::Null))
}

struct State<'a> {
    /// Field names are borrowed: a path is only joined for a gap, and
    /// most values have none.
    path: &'a mut Vec<Cow<'static, str>>,
    gaps: &'a mut Vec<(String, ReadError)>,
    policies: Policies,
    /// The fields of the value to bind (all when `None`), until its
    /// struct takes them.
    keep: Option<&'a dyn Fn(&str) -> bool>,
}

/// Never produced by the model; required by `serde`.
#[derive(Debug)]
pub struct BindError(String);

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BindError {}

impl ser::Error for BindError {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        BindError(msg.to_string())
    }
}

type Out = Result<Option<Value>, BindError>;

/// The key for a field name. Field names are `'static` and few: each is
/// allocated once per thread and shared (a reference count, not two
/// allocations per field of every value bound, and two frees when dropped).
pub(super) fn field_key(name: &'static str) -> Key {
    thread_local! {
        static KEYS: RefCell<HashMap<usize, Key, BuildHasherDefault<AddressHasher>>> =
            RefCell::new(HashMap::default());
    }
    KEYS.with(|keys| {
        keys.borrow_mut()
            // Distinct addresses of equal names get distinct entries, which
            // is harmless: keys compare by content.
            .entry(name.as_ptr() as usize ^ name.len().rotate_left(48))
            .or_insert_with(|| Key::String(Arc::new(name.to_string())))
            .clone()
    })
}

/// Hashes an address (already well spread in its middle bits).
#[derive(Default)]
struct AddressHasher(u64);

impl std::hash::Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

fn string(s: &str) -> Value {
    Value::String(Arc::new(s.to_string()))
}

fn map(m: HashMap<Key, Value>) -> Value {
    Value::Map(Map { map: Arc::new(m) })
}

struct Ser<'s, 'a> {
    st: &'s mut State<'a>,
}

impl<'s, 'a> Ser<'s, 'a> {
    fn child(&mut self) -> Ser<'_, 'a> {
        Ser { st: self.st }
    }
}

impl<'s, 'a> ser::Serializer for Ser<'s, 'a> {
    type Ok = Option<Value>;
    type Error = BindError;
    type SerializeSeq = Seq<'s, 'a>;
    type SerializeTuple = Seq<'s, 'a>;
    type SerializeTupleStruct = Seq<'s, 'a>;
    type SerializeTupleVariant = Variant<Seq<'s, 'a>>;
    type SerializeMap = MapSer<'s, 'a>;
    type SerializeStruct = StructSer<'s, 'a>;
    type SerializeStructVariant = Variant<StructSer<'s, 'a>>;

    fn is_human_readable(&self) -> bool {
        self.st.policies == Policies::Whole
    }

    fn serialize_bool(self, v: bool) -> Out {
        Ok(Some(Value::Bool(v)))
    }
    fn serialize_i8(self, v: i8) -> Out {
        Ok(Some(Value::Int(v.into())))
    }
    fn serialize_i16(self, v: i16) -> Out {
        Ok(Some(Value::Int(v.into())))
    }
    fn serialize_i32(self, v: i32) -> Out {
        Ok(Some(Value::Int(v.into())))
    }
    fn serialize_i64(self, v: i64) -> Out {
        Ok(Some(Value::Int(v)))
    }
    fn serialize_u8(self, v: u8) -> Out {
        Ok(Some(Value::Int(v.into())))
    }
    fn serialize_u16(self, v: u16) -> Out {
        Ok(Some(Value::Int(v.into())))
    }
    fn serialize_u32(self, v: u32) -> Out {
        Ok(Some(Value::Int(v.into())))
    }
    fn serialize_u64(self, v: u64) -> Out {
        // As JSON numbers bind: integers that fit are ints.
        Ok(Some(match i64::try_from(v) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(v as f64),
        }))
    }
    fn serialize_f32(self, v: f32) -> Out {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> Out {
        Ok(Some(if v.is_finite() {
            Value::Float(v)
        } else {
            Value::Null
        }))
    }
    fn serialize_char(self, v: char) -> Out {
        Ok(Some(Value::String(Arc::new(v.to_string()))))
    }
    fn serialize_str(self, v: &str) -> Out {
        Ok(Some(string(v)))
    }
    fn serialize_bytes(self, v: &[u8]) -> Out {
        Ok(Some(Value::List(Arc::new(
            v.iter().map(|b| Value::Int((*b).into())).collect(),
        ))))
    }
    fn serialize_none(self) -> Out {
        Ok(Some(Value::Null))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Out {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Out {
        Ok(Some(Value::Null))
    }
    fn serialize_unit_struct(self, _: &'static str) -> Out {
        Ok(Some(Value::Null))
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Out {
        Ok(Some(string(variant)))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> Out {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        mut self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Out {
        self.st.path.push(Cow::Borrowed(variant));
        let inner = v.serialize(self.child());
        self.st.path.pop();
        // an unknown inside leaves the variant out, as for a field
        let Some(inner) = inner? else {
            return Ok(None);
        };
        let mut m = HashMap::with_capacity(1);
        m.insert(field_key(variant), inner);
        Ok(Some(map(m)))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Seq<'s, 'a>, BindError> {
        Ok(Seq {
            st: self.st,
            items: Vec::with_capacity(len.unwrap_or(0)),
            unknown: false,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Seq<'s, 'a>, BindError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Seq<'s, 'a>, BindError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Variant<Seq<'s, 'a>>, BindError> {
        Ok(Variant {
            name: variant,
            inner: self.serialize_seq(Some(len))?,
        })
    }
    fn serialize_map(self, len: Option<usize>) -> Result<MapSer<'s, 'a>, BindError> {
        Ok(MapSer {
            st: self.st,
            map: HashMap::with_capacity(len.unwrap_or(0)),
            next_key: None,
            unknown: false,
        })
    }
    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<StructSer<'s, 'a>, BindError> {
        let observed = name == "Observed";
        // the fields filtered are those of the first struct that is not
        // an `Observed` (the value's own)
        let keep = if observed { None } else { self.st.keep.take() };
        Ok(StructSer {
            observed,
            keep,
            st: self.st,
            map: HashMap::with_capacity(len),
            status: None,
            value: None,
            error: None,
        })
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Variant<StructSer<'s, 'a>>, BindError> {
        Ok(Variant {
            name: variant,
            inner: self.serialize_struct(variant, len)?,
        })
    }
}

pub struct Seq<'s, 'a> {
    st: &'s mut State<'a>,
    items: Vec<Value>,
    /// A member was unknown: the whole list is.
    unknown: bool,
}

impl ser::SerializeSeq for Seq<'_, '_> {
    type Ok = Option<Value>;
    type Error = BindError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), BindError> {
        match v.serialize(Ser { st: self.st })? {
            Some(v) => self.items.push(v),
            None => self.unknown = true,
        }
        Ok(())
    }
    fn end(self) -> Out {
        if self.unknown {
            return Ok(None);
        }
        Ok(Some(Value::List(Arc::new(self.items))))
    }
}

impl ser::SerializeTuple for Seq<'_, '_> {
    type Ok = Option<Value>;
    type Error = BindError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), BindError> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Out {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for Seq<'_, '_> {
    type Ok = Option<Value>;
    type Error = BindError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), BindError> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Out {
        ser::SerializeSeq::end(self)
    }
}

/// `{variant: inner}`, as enums with data serialize externally tagged.
pub struct Variant<S> {
    name: &'static str,
    inner: S,
}

fn wrap(name: &'static str, inner: Out) -> Out {
    let Some(v) = inner? else {
        return Ok(None);
    };
    let mut m = HashMap::with_capacity(1);
    m.insert(field_key(name), v);
    Ok(Some(map(m)))
}

impl ser::SerializeTupleVariant for Variant<Seq<'_, '_>> {
    type Ok = Option<Value>;
    type Error = BindError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), BindError> {
        ser::SerializeSeq::serialize_element(&mut self.inner, v)
    }
    fn end(self) -> Out {
        wrap(self.name, ser::SerializeSeq::end(self.inner))
    }
}

impl ser::SerializeStructVariant for Variant<StructSer<'_, '_>> {
    type Ok = Option<Value>;
    type Error = BindError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        v: &T,
    ) -> Result<(), BindError> {
        ser::SerializeStruct::serialize_field(&mut self.inner, name, v)
    }
    fn end(self) -> Out {
        wrap(self.name, ser::SerializeStruct::end(self.inner))
    }
}

pub struct MapSer<'s, 'a> {
    st: &'s mut State<'a>,
    map: HashMap<Key, Value>,
    next_key: Option<String>,
    /// A value was unknown: the whole map is.
    unknown: bool,
}

impl ser::SerializeMap for MapSer<'_, '_> {
    type Ok = Option<Value>;
    type Error = BindError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), BindError> {
        self.next_key = Some(k.serialize(KeySer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), BindError> {
        let k = self
            .next_key
            .take()
            .ok_or_else(|| BindError("a map value without a key".to_string()))?;
        self.st.path.push(Cow::Owned(k));
        let value = v.serialize(Ser { st: self.st });
        let k = self.st.path.pop().unwrap_or_default().into_owned();
        match value? {
            Some(value) => {
                self.map.insert(Key::String(Arc::new(k)), value);
            }
            None => self.unknown = true,
        }
        Ok(())
    }
    fn end(self) -> Out {
        if self.unknown {
            return Ok(None);
        }
        Ok(Some(map(self.map)))
    }
}

pub struct StructSer<'s, 'a> {
    st: &'s mut State<'a>,
    /// An `Observed` (internally tagged by `status`): unwrapped at the end.
    observed: bool,
    /// The fields to bind (all when `None`).
    keep: Option<&'a dyn Fn(&str) -> bool>,
    map: HashMap<Key, Value>,
    status: Option<String>,
    value: Option<Option<Value>>,
    error: Option<ReadError>,
}

impl ser::SerializeStruct for StructSer<'_, '_> {
    type Ok = Option<Value>;
    type Error = BindError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        v: &T,
    ) -> Result<(), BindError> {
        if self.observed {
            match name {
                "status" => {
                    self.status = Some(v.serialize(KeySer)?);
                    return Ok(());
                }
                "value" => {
                    self.value = Some(v.serialize(Ser { st: self.st })?);
                    return Ok(());
                }
                "error" => {
                    self.error = serde_json::to_value(v)
                        .ok()
                        .and_then(|e| serde_json::from_value(e).ok());
                    return Ok(());
                }
                _ => self.observed = false,
            }
        }
        if self.keep.is_some_and(|keep| !keep(name)) {
            return Ok(());
        }
        self.st.path.push(Cow::Borrowed(name));
        let value = v.serialize(Ser { st: self.st });
        self.st.path.pop();
        if let Some(value) = value? {
            self.map.insert(field_key(name), value);
        }
        Ok(())
    }
    fn end(self) -> Out {
        if !self.observed {
            return Ok(Some(map(self.map)));
        }
        match (self.status.as_deref(), self.value, self.error) {
            (Some("ok"), Some(value), None) => Ok(value),
            (Some("absent"), None, None) => Ok(Some(Value::Null)),
            (Some("unknown"), None, error) => {
                if let Some(e) = error {
                    self.st.gaps.push((self.st.path.join("."), e));
                }
                Ok(None)
            }
            _ => Err(BindError(
                "an Observed value of unexpected shape".to_string(),
            )),
        }
    }
}

#[cfg(test)]
mod tests;
