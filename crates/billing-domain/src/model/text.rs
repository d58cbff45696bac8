use std::fmt;

use super::{InvalidValue, Scalar, Text};

/// A free-text field of at most 200 characters (names of cities, street addresses, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShortText(String);

impl ShortText {
    pub const MAX_CHARS: usize = 200;

    /// # Errors
    /// When `raw` has more than 200 characters or a control character.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(InvalidValue::new("must be at most 200 characters"));
        }
        if raw.chars().any(char::is_control) {
            return Err(InvalidValue::new("must not contain control characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShortText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's or company's name: 1 to 200 characters, not only blanks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(ShortText);

impl Name {
    /// # Errors
    /// When `raw` is blank, longer than 200 characters or has a control character.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        if raw.trim().is_empty() {
            return Err(InvalidValue::new("must not be blank"));
        }
        ShortText::parse(raw).map(Self)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// An e-mail address, checked for shape only (`local@domain`, at most 254 characters): whether
/// it receives mail is not this service's concern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// # Errors
    /// When `raw` is not of the form `local@domain` or is longer than 254 characters.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let shape_ok = match raw.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
        if !shape_ok || raw.len() > 254 || raw.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(InvalidValue::new(
                "must be an e-mail address like name@example.com",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The id of the contracted service an invoice is for: 1 to 64 printable characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceId(String);

impl ServiceId {
    /// # Errors
    /// When `raw` is blank, longer than 64 characters or has a control character.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        if raw.trim().is_empty() || raw.chars().count() > 64 || raw.chars().any(char::is_control) {
            return Err(InvalidValue::new("must be 1-64 printable characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! into_scalar {
    ($($t:ty => $get:expr),+ $(,)?) => {$(
        impl From<$t> for Scalar {
            fn from(v: $t) -> Self {
                // Today's rules are tighter than the recorded bound.
                Self::Text(Text::parse($get(&v)).unwrap_or_else(|_| unreachable!()))
            }
        }
    )+};
}

into_scalar!(
    ShortText => ShortText::as_str,
    Name => Name::as_str,
    Email => Email::as_str,
    ServiceId => ServiceId::as_str,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_counts_characters_not_bytes() {
        assert!(ShortText::parse(&"é".repeat(200)).is_ok());
        assert!(ShortText::parse(&"é".repeat(201)).is_err());
    }

    #[test]
    fn a_blank_name_is_refused() {
        assert!(Name::parse("   ").is_err());
        assert!(Name::parse("Ana María").is_ok());
    }

    #[test]
    fn email_needs_a_local_part_and_a_domain() {
        assert!(Email::parse("ana@telecomx.co").is_ok());
        for bad in ["ana", "@x.co", "ana@", "a b@x.co", "a@b@c", "a@.co"] {
            assert!(Email::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn a_service_id_is_not_blank() {
        assert!(ServiceId::parse("").is_err());
        assert!(ServiceId::parse("42").is_ok());
    }
}
