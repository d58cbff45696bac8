//! The typed layer's error: every problem of a body or query string, each with the path of
//! the field it is about (`address.city`, `limit`), collected rather than stopping at the
//! first, so that one answer names them all.

use std::convert::Infallible;
use std::ops::ControlFlow;

use deserr::{DeserializeError, ErrorKind, IntoValue, MergeWithError, ValueKind, ValuePointerRef};

use crate::error::FieldError;

/// Every problem found, in the order found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<FieldError>);

/// The dotted path of `at` (`address.city`, `items[2]`); `body` for the whole value.
pub fn path(at: ValuePointerRef<'_>) -> String {
    fn walk(at: ValuePointerRef<'_>, out: &mut String) {
        match at {
            ValuePointerRef::Origin => {}
            ValuePointerRef::Key { key, prev } => {
                walk(*prev, out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            ValuePointerRef::Index { index, prev } => {
                walk(*prev, out);
                out.push_str(&format!("[{index}]"));
            }
        }
    }
    let mut out = String::new();
    walk(at, &mut out);
    if out.is_empty() {
        "body".to_owned()
    } else {
        out
    }
}

fn child(at: ValuePointerRef<'_>, key: &str) -> String {
    match path(at).as_str() {
        "body" => key.to_owned(),
        parent => format!("{parent}.{key}"),
    }
}

fn kind_name(kind: ValueKind) -> &'static str {
    match kind {
        ValueKind::Null => "null",
        ValueKind::Boolean => "true or false",
        ValueKind::Integer | ValueKind::NegativeInteger => "an integer",
        ValueKind::Float => "a number",
        ValueKind::String => "a string",
        ValueKind::Sequence => "an array",
        ValueKind::Map => "an object",
    }
}

impl Problems {
    pub fn one(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new(field, message)])
    }

    /// A problem at `at`, for the field types' own checks.
    pub fn at(at: ValuePointerRef<'_>, message: impl Into<String>) -> Self {
        Self::one(path(at), message)
    }
}

impl MergeWithError<Problems> for Problems {
    fn merge(
        acc: Option<Self>,
        other: Problems,
        _at: ValuePointerRef<'_>,
    ) -> ControlFlow<Self, Self> {
        let mut acc = acc.unwrap_or_default();
        acc.0.extend(other.0);
        ControlFlow::Continue(acc)
    }
}

impl MergeWithError<Infallible> for Problems {
    fn merge(acc: Option<Self>, _: Infallible, _: ValuePointerRef<'_>) -> ControlFlow<Self, Self> {
        ControlFlow::Continue(acc.unwrap_or_default())
    }
}

impl DeserializeError for Problems {
    fn error<V: IntoValue>(
        acc: Option<Self>,
        error: ErrorKind<'_, V>,
        at: ValuePointerRef<'_>,
    ) -> ControlFlow<Self, Self> {
        let (field, message) = match error {
            ErrorKind::IncorrectValueKind { accepted, .. } => {
                let names: Vec<&str> = accepted.iter().map(|k| kind_name(*k)).collect();
                let mut unique = names.clone();
                unique.dedup();
                (path(at), format!("must be {}", unique.join(" or ")))
            }
            ErrorKind::MissingField { field } => (child(at, field), "is required".to_owned()),
            ErrorKind::UnknownKey { key, .. } => {
                (child(at, key), "is not a known field".to_owned())
            }
            ErrorKind::UnknownValue { accepted, .. } => (
                path(at),
                format!(
                    "must be one of {}",
                    accepted
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            ErrorKind::BadSequenceLen { expected, .. } => {
                (path(at), format!("must have {expected} items"))
            }
            ErrorKind::Unexpected { msg } => (path(at), msg),
        };
        let mut acc = acc.unwrap_or_default();
        acc.0.push(FieldError::new(field, message));
        ControlFlow::Continue(acc)
    }
}
