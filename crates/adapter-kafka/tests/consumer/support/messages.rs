//! Messages as producers send them.

use serde_json::{Value, json};

/// The two envelopes the service accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `{"type": ..., "payload": {...}}`, as documented.
    Documented,
    /// `{"event": ..., "data": {...}, "timestamp": ...}`, as the user service sends.
    UserService,
}

impl Style {
    /// The `timestamp` of every [`Style::UserService`] message.
    pub const TIMESTAMP: &'static str = "2025-09-01T08:00:00Z";

    pub fn wrap(self, kind: &str, payload: Value) -> Value {
        match self {
            Self::Documented => json!({ "type": kind, "payload": payload }),
            Self::UserService => {
                json!({ "event": kind, "data": payload, "timestamp": Self::TIMESTAMP })
            }
        }
    }
}

/// One Kafka record: a key (the userId, when there is one) and the raw value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Msg {
    pub key: Option<String>,
    pub value: Vec<u8>,
}

impl Msg {
    /// An event in `style`, keyed by its payload's `userId`.
    pub fn event(style: Style, kind: &str, payload: Value) -> Self {
        let key = payload
            .get("userId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Self {
            key,
            value: style.wrap(kind, payload).to_string().into_bytes(),
        }
    }

    /// Any bytes, under any key.
    pub fn raw(key: Option<&str>, value: impl Into<Vec<u8>>) -> Self {
        Self {
            key: key.map(str::to_owned),
            value: value.into(),
        }
    }
}
