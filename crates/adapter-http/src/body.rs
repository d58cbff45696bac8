//! Request bodies: read with a size limit, parsed as a JSON object, then taken apart field by
//! field so that every problem names its field and unknown fields are caught.

use actix_web::HttpRequest;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::web::{Bytes, BytesMut, Payload};
use billing_domain::{Change, InvalidValue, Number, Scalar, Timestamp, parse_timestamp};
use futures_util::StreamExt;
use serde_json::{Map, Value};

use crate::error::{ApiError, ErrorCode, FieldError};

pub const MAX_BODY_BYTES: usize = 64 * 1024;

fn too_large() -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        "The request body is larger than 64 KiB",
    )
}

/// Reads the whole body, refusing more than 64 KiB.
pub async fn read(req: &HttpRequest, mut payload: Payload) -> Result<Bytes, ApiError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidJson,
                format!("Could not read the body: {e}"),
            )
        })?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Parses a body that must be a JSON object. An empty body is `None` (for optional bodies).
pub fn object(bytes: &[u8]) -> Result<Option<Map<String, Value>>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(ApiError::field(
            ErrorCode::InvalidJson,
            "body",
            "must be a JSON object",
        )),
        Err(e) => Err(ApiError::field(
            ErrorCode::InvalidJson,
            "body",
            format!("is not valid JSON: {e}"),
        )),
    }
}

/// Reads the body and parses it as a JSON object; an empty body is `None`.
///
/// # Errors
/// 413 over 64 KiB; `INVALID_JSON` when it is not a JSON object.
pub async fn json(
    req: &HttpRequest,
    payload: Payload,
) -> Result<Option<Map<String, Value>>, ApiError> {
    let bytes = read(req, payload).await?;
    object(&bytes)
}

/// A body that must be there.
///
/// # Errors
/// `INVALID_JSON` when it is empty.
pub fn required(body: Option<Map<String, Value>>) -> Result<Map<String, Value>, ApiError> {
    body.ok_or_else(|| {
        ApiError::field(ErrorCode::InvalidJson, "body", "is required: a JSON object")
    })
}

/// A field as the client sent it.
#[derive(Debug, Clone, PartialEq)]
pub enum Sent<T> {
    Absent,
    Null,
    Value(T),
}

impl<T> Sent<T> {
    /// `None` when absent, `Some(None)` when null: the shape of a patch's optional fields.
    pub fn into_patch(self) -> Option<Option<T>> {
        match self {
            Self::Absent => None,
            Self::Null => Some(None),
            Self::Value(v) => Some(Some(v)),
        }
    }

    pub fn value(self) -> Option<T> {
        match self {
            Self::Value(v) => Some(v),
            Self::Absent | Self::Null => None,
        }
    }
}

/// Takes fields out of a JSON object, collecting a [`FieldError`] for each problem.
#[derive(Debug)]
pub struct Fields {
    map: Map<String, Value>,
    prefix: String,
    errors: Vec<FieldError>,
}

impl Fields {
    pub fn new(map: Map<String, Value>) -> Self {
        Self {
            map,
            prefix: String::new(),
            errors: Vec::new(),
        }
    }

    fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub fn error(&mut self, name: &str, message: impl Into<String>) {
        let path = self.path(name);
        self.errors.push(FieldError::new(path, message));
    }

    /// Takes `name` and converts it; a conversion error is recorded against the field.
    pub fn take<T>(
        &mut self,
        name: &str,
        convert: impl FnOnce(Value) -> Result<T, String>,
    ) -> Sent<T> {
        match self.map.remove(name) {
            None => Sent::Absent,
            Some(Value::Null) => Sent::Null,
            Some(v) => match convert(v) {
                Ok(t) => Sent::Value(t),
                Err(message) => {
                    self.error(name, message);
                    Sent::Absent
                }
            },
        }
    }

    /// Like [`Fields::take`], but null is an error too.
    pub fn take_non_null<T>(
        &mut self,
        name: &str,
        convert: impl FnOnce(Value) -> Result<T, String>,
    ) -> Option<T> {
        match self.take(name, convert) {
            Sent::Null => {
                self.error(name, "must not be null");
                None
            }
            sent => sent.value(),
        }
    }

    /// A field that must be present and not null.
    pub fn require<T>(
        &mut self,
        name: &str,
        convert: impl FnOnce(Value) -> Result<T, String>,
    ) -> Option<T> {
        if !self.map.contains_key(name) {
            self.error(name, "is required");
            return None;
        }
        self.take_non_null(name, convert)
    }

    /// An optional field checked by today's rules, as a [`Change`]: absent keeps it, `null`
    /// clears it when `clearable`, a valid value sets it (in the rules' form, unless it echoes
    /// the stored value in another: [`Change::Normalized`]). A value the rules refuse (or a `null`
    /// for a field that cannot be cleared) is not an error yet: it may be an echo of what is
    /// stored, which the update checks ([`Change::EchoOnly`]). `loose` reads such a value as
    /// it would be stored; one it cannot read either is an error now.
    pub fn checked<T: Clone + PartialEq>(
        &mut self,
        name: &str,
        clearable: bool,
        strict: impl FnOnce(Value) -> Result<T, String>,
        loose: impl FnOnce(&Value) -> Option<T>,
    ) -> Change<T> {
        match self.map.remove(name) {
            None => Change::Keep,
            Some(Value::Null) if clearable => Change::To(None),
            Some(Value::Null) => Change::EchoOnly {
                value: None,
                problem: "must not be null".to_owned(),
            },
            Some(v) => {
                let as_stored = loose(&v);
                match (strict(v), as_stored) {
                    (Ok(t), Some(as_sent)) if as_sent != t => {
                        Change::Normalized { value: t, as_sent }
                    }
                    (Ok(t), _) => Change::To(Some(t)),
                    (Err(problem), Some(value)) => Change::EchoOnly {
                        value: Some(value),
                        problem,
                    },
                    (Err(problem), None) => {
                        self.error(name, problem);
                        Change::Keep
                    }
                }
            }
        }
    }

    /// A nested object, taken apart with its own [`Fields`]; hand it back with
    /// [`Fields::absorb`] so that its errors and unknown fields are reported.
    pub fn nested(&mut self, name: &str) -> Sent<Self> {
        let prefix = format!("{}{name}.", self.prefix);
        self.take(name, |v| match v {
            Value::Object(map) => Ok(Self {
                map,
                prefix,
                errors: Vec::new(),
            }),
            _ => Err("must be an object".to_owned()),
        })
    }

    pub fn absorb(&mut self, nested: Self) {
        let errors = nested.into_errors();
        self.errors.extend(errors);
    }

    /// Refuses a field the server sets, when present.
    pub fn forbid(&mut self, name: &str) {
        if self.map.remove(name).is_some() {
            self.error(name, "is set by the server");
        }
    }

    fn into_errors(mut self) -> Vec<FieldError> {
        let mut unknown: Vec<String> = self.map.keys().cloned().collect();
        unknown.sort();
        for name in unknown {
            self.error(&name, "is not a known field");
        }
        self.errors
    }

    /// Ends the parse of a body whose unknown fields are ignored (the previous service's
    /// routes, whose Mongoose models dropped them).
    ///
    /// # Errors
    /// A `VALIDATION_ERROR` listing every problem found.
    pub fn finish_ignoring_unknown(mut self) -> Result<(), ApiError> {
        self.map.clear();
        self.finish()
    }

    /// Ends the parse: any field not taken is unknown.
    ///
    /// # Errors
    /// A `VALIDATION_ERROR` listing every problem found.
    pub fn finish(self) -> Result<(), ApiError> {
        let errors = self.into_errors();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::fields(ErrorCode::ValidationError, errors))
        }
    }
}

// Converters for `Fields::take`: JSON value to domain value, or a message for the client.

pub fn string(v: Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s),
        _ => Err("must be a string".to_owned()),
    }
}

pub fn parsed<T>(
    parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
) -> impl FnOnce(Value) -> Result<T, String> {
    move |v| parse(&string(v)?).map_err(|e| e.0)
}

/// A JSON number as a stored number.
pub fn number(v: &Value) -> Option<Number> {
    let n = v.as_number()?;
    n.as_i64()
        .map(Number::Int)
        .or_else(|| n.as_u64().map(Number::from_u64))
        .or_else(|| n.as_f64().and_then(Number::from_f64))
}

/// A value as a recorded field stores it: text, or a number.
pub fn recorded(v: &Value) -> Option<Scalar> {
    match v {
        Value::String(s) => Scalar::text(s).ok(),
        Value::Number(_) => number(v).map(Scalar::Number),
        _ => None,
    }
}

/// A checked text field (`Name::parse`, ...) as the recorded value it becomes.
pub fn text_field<T: Into<Scalar>>(
    parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
) -> impl FnOnce(Value) -> Result<Scalar, String> {
    move |v| parsed(parse)(v).map(Into::into)
}

pub fn boolean(v: Value) -> Result<bool, String> {
    v.as_bool()
        .ok_or_else(|| "must be true or false".to_owned())
}

pub fn timestamp(v: Value) -> Result<Timestamp, String> {
    parsed(parse_timestamp)(v)
}

/// A non-negative integer given as a JSON number (an integral float such as `125000.0` too)
/// or as a string of digits.
pub fn unsigned(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1.8e19)
                // Integral and in range: exact.
                .map(|f| {
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    let u = f as u64;
                    u
                })
        }),
        Value::String(s)
            if !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            s.parse().ok()
        }
        _ => None,
    }
}
