//! Request JSON, read strictly: a key given twice in one object is an error (a proxy reading the
//! first and this service the last would disagree about the request), and numbers keep their
//! exact text, so that `125000.00000000001` or `1e-400` is seen as the fraction it is instead of
//! being rounded to an integer on the way in.

use std::collections::HashSet;
use std::fmt;

use deserr::{IntoValue, Map, Sequence, Value, ValueKind};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// A JSON value as the client wrote it.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// The number's text, exactly as sent.
    Number(String),
    String(String),
    Array(Vec<Json>),
    /// Keys in the order sent, each once.
    Object(Vec<(String, Json)>),
}

/// Why a body is not JSON this service reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotJson(pub String);

impl Json {
    /// # Errors
    /// When `bytes` are not one JSON value, or an object has a key twice.
    pub fn parse(bytes: &[u8]) -> Result<Self, NotJson> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let value = Json::deserialize(&mut de).map_err(|e| NotJson(e.to_string()))?;
        de.end().map_err(|e| NotJson(e.to_string()))?;
        Ok(value)
    }

    /// The first key under `$` (a query operator) in this value, as a path.
    pub fn operator_key(&self) -> Option<String> {
        fn find(v: &Json, path: &str) -> Option<String> {
            match v {
                Json::Object(fields) => fields.iter().find_map(|(k, v)| {
                    let here = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    if k.starts_with('$') {
                        Some(here)
                    } else {
                        find(v, &here)
                    }
                }),
                Json::Array(items) => items
                    .iter()
                    .enumerate()
                    .find_map(|(i, v)| find(v, &format!("{path}[{i}]"))),
                _ => None,
            }
        }
        find(self, "")
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Each value is first taken as raw text: a number's text is kept as it is, anything
        // else is read again by the visitor below.
        let raw = <&RawValue>::deserialize(d)?;
        from_raw(raw.get()).map_err(de::Error::custom)
    }
}

fn from_raw(text: &str) -> Result<Json, serde_json::Error> {
    let first = text.trim_start().as_bytes().first().copied();
    match first {
        Some(b'-' | b'0'..=b'9') => Ok(Json::Number(text.trim().to_owned())),
        _ => {
            let mut de = serde_json::Deserializer::from_str(text);
            de.deserialize_any(JsonVisitor)
        }
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
        Ok(Json::Bool(b))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json, E> {
        Ok(Json::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Json, E> {
        Ok(Json::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Json>()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut fields = Vec::new();
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!(
                    "the key `{key}` is given more than once"
                )));
            }
            fields.push((key, map.next_value::<Json>()?));
        }
        Ok(Json::Object(fields))
    }
}

/// Whether the decimal `text` (a valid JSON number) is a whole number.
fn is_integral(text: &str) -> bool {
    let unsigned = text.trim_start_matches('-');
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (
            &unsigned[..i],
            unsigned[i + 1..].parse::<i64>().unwrap_or(i64::MIN),
        ),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    if digits.bytes().all(|b| b == b'0') {
        return true;
    }
    // The value is `digits` × 10^(exponent − fraction length): whole when the digits that
    // fall after the decimal point are zeros.
    let shift = i64::try_from(fraction.len())
        .unwrap_or(i64::MAX)
        .saturating_sub(exponent);
    if shift <= 0 {
        return true;
    }
    let trailing = digits.bytes().rev().take_while(|b| *b == b'0').count();
    i64::try_from(trailing).unwrap_or(i64::MAX) >= shift
}

/// How a number is handed to the typed layer: whole numbers as integers (`125000.0` is
/// `125000`), fractions as floats; a fraction a float cannot tell from a whole number
/// (`125000.00000000001`, `1e-400`) as NaN, which no field takes as a number it can keep.
fn number_value<V: IntoValue>(text: &str) -> Value<V> {
    if is_integral(text) {
        if let Ok(u) = text.parse::<u64>() {
            return Value::Integer(u);
        }
        if let Ok(i) = text.parse::<i64>() {
            return Value::NegativeInteger(i);
        }
        return match text.parse::<f64>() {
            // Within the range of integers, exactly (an integral f64 below 2^64 is one).
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Ok(f) if (0.0..18_446_744_073_709_551_616.0).contains(&f) => Value::Integer(f as u64),
            #[allow(clippy::cast_possible_truncation)]
            Ok(f) if (-9_223_372_036_854_775_808.0..0.0).contains(&f) => {
                Value::NegativeInteger(f as i64)
            }
            Ok(f) if f.is_finite() => Value::Float(f),
            _ => Value::Float(f64::NAN),
        };
    }
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() && f.fract() != 0.0 => Value::Float(f),
        _ => Value::Float(f64::NAN),
    }
}

#[derive(Debug)]
pub struct JsonSeq(Vec<Json>);

impl Sequence for JsonSeq {
    type Value = Json;
    type Iter = std::vec::IntoIter<Json>;

    fn len(&self) -> usize {
        self.0.len()
    }

    fn into_iter(self) -> Self::Iter {
        IntoIterator::into_iter(self.0)
    }
}

#[derive(Debug)]
pub struct JsonMap(Vec<(String, Json)>);

impl Map for JsonMap {
    type Value = Json;
    type Iter = std::vec::IntoIter<(String, Json)>;

    fn len(&self) -> usize {
        self.0.len()
    }

    fn remove(&mut self, key: &str) -> Option<Json> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(i).1)
    }

    fn into_iter(self) -> Self::Iter {
        IntoIterator::into_iter(self.0)
    }
}

impl IntoValue for Json {
    type Sequence = JsonSeq;
    type Map = JsonMap;

    fn kind(&self) -> ValueKind {
        match self {
            Json::Null => ValueKind::Null,
            Json::Bool(_) => ValueKind::Boolean,
            Json::Number(text) => match number_value::<Json>(text) {
                Value::Integer(_) => ValueKind::Integer,
                Value::NegativeInteger(_) => ValueKind::NegativeInteger,
                _ => ValueKind::Float,
            },
            Json::String(_) => ValueKind::String,
            Json::Array(_) => ValueKind::Sequence,
            Json::Object(_) => ValueKind::Map,
        }
    }

    fn into_value(self) -> Value<Self> {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Boolean(b),
            Json::Number(text) => number_value(&text),
            Json::String(s) => Value::String(s),
            Json::Array(items) => Value::Sequence(JsonSeq(items)),
            Json::Object(fields) => Value::Map(JsonMap(fields)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> String {
        match number_value::<Json>(text) {
            Value::Integer(u) => format!("int {u}"),
            Value::NegativeInteger(i) => format!("int {i}"),
            Value::Float(f) if f.is_nan() => "inexact".to_owned(),
            Value::Float(f) => format!("float {f}"),
            _ => "other".to_owned(),
        }
    }

    #[test]
    fn whole_numbers_are_integers_however_they_are_written() {
        assert_eq!(kind("125000"), "int 125000");
        assert_eq!(kind("125000.0"), "int 125000");
        assert_eq!(kind("1.25e5"), "int 125000");
        assert_eq!(kind("-7"), "int -7");
        assert_eq!(kind("0e-400"), "int 0");
    }

    #[test]
    fn fractions_stay_fractions_even_when_a_float_would_round_them_away() {
        assert_eq!(kind("12.5"), "float 12.5");
        assert!(kind("125000.00000000001").starts_with("float 125000.0000000000"));
        assert_eq!(kind("1e-400"), "inexact");
        assert_eq!(kind("-1e-400"), "inexact");
    }

    #[test]
    fn a_key_given_twice_is_refused_at_any_depth() {
        assert!(Json::parse(br#"{"a":1,"a":2}"#).is_err());
        assert!(Json::parse(br#"{"a":{"b":1,"b":1}}"#).is_err());
        assert!(Json::parse(br#"[{"b":1},{"b":1}]"#).is_ok());
    }

    #[test]
    fn values_parse_with_their_text_and_order() {
        let v = Json::parse(br#"{"b":[1.50,"x",null,true],"a":{}}"#).expect("json");
        assert_eq!(
            v,
            Json::Object(vec![
                (
                    "b".into(),
                    Json::Array(vec![
                        Json::Number("1.50".into()),
                        Json::String("x".into()),
                        Json::Null,
                        Json::Bool(true)
                    ])
                ),
                ("a".into(), Json::Object(vec![])),
            ])
        );
        assert!(Json::parse(b"{} x").is_err());
        assert_eq!(
            Json::parse(br#"{"q":{"$gt":""}}"#).unwrap().operator_key(),
            Some("q.$gt".into())
        );
    }
}
