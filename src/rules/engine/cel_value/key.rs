//! The serializer of map keys and enum tags.

use super::*;

/// Map keys and tags: strings (numbers and booleans as their text, as in JSON).
pub(super) struct KeySer;

impl ser::Serializer for KeySer {
    type Ok = String;
    type Error = BindError;
    type SerializeSeq = Impossible<String, BindError>;
    type SerializeTuple = Impossible<String, BindError>;
    type SerializeTupleStruct = Impossible<String, BindError>;
    type SerializeTupleVariant = Impossible<String, BindError>;
    type SerializeMap = Impossible<String, BindError>;
    type SerializeStruct = Impossible<String, BindError>;
    type SerializeStructVariant = Impossible<String, BindError>;

    fn serialize_bool(self, v: bool) -> Result<String, BindError> {
        Ok(v.to_string())
    }
    fn serialize_i8(self, v: i8) -> Result<String, BindError> {
        Ok(v.to_string())
    }
    fn serialize_i16(self, v: i16) -> Result<String, BindError> {
        Ok(v.to_string())
    }
    fn serialize_i32(self, v: i32) -> Result<String, BindError> {
        Ok(v.to_string())
    }
    fn serialize_i64(self, v: i64) -> Result<String, BindError> {
        Ok(v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<String, BindError> {
        Ok(v.to_string())
    }
    fn serialize_u16(self, v: u16) -> Result<String, BindError> {
        Ok(v.to_string())
    }
    fn serialize_u32(self, v: u32) -> Result<String, BindError> {
        Ok(v.to_string())
    }
    fn serialize_u64(self, v: u64) -> Result<String, BindError> {
        Ok(v.to_string())
    }
    fn serialize_f32(self, v: f32) -> Result<String, BindError> {
        Ok(v.to_string())
    }
    fn serialize_f64(self, v: f64) -> Result<String, BindError> {
        Ok(v.to_string())
    }
    fn serialize_char(self, v: char) -> Result<String, BindError> {
        Ok(v.to_string())
    }
    fn serialize_str(self, v: &str) -> Result<String, BindError> {
        Ok(v.to_string())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<String, BindError> {
        Err(BindError("bytes as a map key".to_string()))
    }
    fn serialize_none(self) -> Result<String, BindError> {
        Err(BindError("null as a map key".to_string()))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<String, BindError> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<String, BindError> {
        Err(BindError("unit as a map key".to_string()))
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<String, BindError> {
        Err(BindError("unit as a map key".to_string()))
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<String, BindError> {
        Ok(variant.to_string())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<String, BindError> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<String, BindError> {
        Err(BindError("an enum as a map key".to_string()))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, BindError> {
        Err(BindError("a list as a map key".to_string()))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, BindError> {
        Err(BindError("a tuple as a map key".to_string()))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, BindError> {
        Err(BindError("a tuple as a map key".to_string()))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, BindError> {
        Err(BindError("an enum as a map key".to_string()))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, BindError> {
        Err(BindError("a map as a map key".to_string()))
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, BindError> {
        Err(BindError("a struct as a map key".to_string()))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, BindError> {
        Err(BindError("an enum as a map key".to_string()))
    }
}
