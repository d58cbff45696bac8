use std::fmt;

use super::{InvalidValue, Scalar, Text};

/// Control characters (C0, DEL and C1): never part of a text this service writes.
pub const CONTROLS: &[(char, char)] = &[('\u{0}', '\u{1f}'), ('\u{7f}', '\u{9f}')];

/// White space, as Unicode's `White_Space` property has it (what `char::is_whitespace` tests).
pub const WHITE_SPACE: &[(char, char)] = &[
    ('\u{9}', '\u{d}'),
    (' ', ' '),
    ('\u{85}', '\u{85}'),
    ('\u{a0}', '\u{a0}'),
    ('\u{1680}', '\u{1680}'),
    ('\u{2000}', '\u{200a}'),
    ('\u{2028}', '\u{2029}'),
    ('\u{202f}', '\u{202f}'),
    ('\u{205f}', '\u{205f}'),
    ('\u{3000}', '\u{3000}'),
];

/// Characters that show nothing though they are not white space: zero-width and joining
/// characters, fillers, variation selectors, the byte-order mark.
pub const INVISIBLE: &[(char, char)] = &[
    ('\u{ad}', '\u{ad}'),
    ('\u{34f}', '\u{34f}'),
    ('\u{61c}', '\u{61c}'),
    ('\u{115f}', '\u{1160}'),
    ('\u{17b4}', '\u{17b5}'),
    ('\u{180b}', '\u{180f}'),
    ('\u{200b}', '\u{200f}'),
    ('\u{202a}', '\u{202e}'),
    ('\u{2060}', '\u{206f}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{fe00}', '\u{fe0f}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{ffa0}', '\u{ffa0}'),
];

/// Bidirectional formatting characters: in a name they can make it read as another one.
pub const BIDI_CONTROLS: &[(char, char)] = &[
    ('\u{61c}', '\u{61c}'),
    ('\u{200e}', '\u{200f}'),
    ('\u{202a}', '\u{202e}'),
    ('\u{2066}', '\u{2069}'),
];

/// Whether `c` falls in one of `ranges`.
pub fn in_ranges(c: char, ranges: &[(char, char)]) -> bool {
    ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c))
}

/// Whether `raw` shows nothing: only white space and invisible characters.
fn is_blank(raw: &str) -> bool {
    raw.chars()
        .all(|c| in_ranges(c, WHITE_SPACE) || in_ranges(c, INVISIBLE) || in_ranges(c, CONTROLS))
}

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
        if raw.chars().any(|c| in_ranges(c, CONTROLS)) {
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

/// A person's or company's name: 1 to 200 characters, something visible among them, and no
/// bidirectional controls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(ShortText);

impl Name {
    /// # Errors
    /// When `raw` is blank (nothing visible), longer than 200 characters, or has a control or
    /// bidirectional formatting character.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let text = ShortText::parse(raw)?;
        if is_blank(raw) {
            return Err(InvalidValue::new("must not be blank"));
        }
        if raw.chars().any(|c| in_ranges(c, BIDI_CONTROLS)) {
            return Err(InvalidValue::new(
                "must not contain bidirectional formatting characters",
            ));
        }
        Ok(Self(text))
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
    pub const MAX_CHARS: usize = 254;

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
        if !shape_ok
            || raw.chars().count() > Self::MAX_CHARS
            || raw
                .chars()
                .any(|c| in_ranges(c, WHITE_SPACE) || in_ranges(c, CONTROLS))
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
    pub const MAX_CHARS: usize = 64;

    /// # Errors
    /// When `raw` is blank, longer than 64 characters or has a control character.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        if is_blank(raw)
            || raw.chars().count() > Self::MAX_CHARS
            || raw.chars().any(|c| in_ranges(c, CONTROLS))
        {
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
    fn a_blank_name_is_refused_invisible_characters_and_all() {
        assert!(Name::parse("   ").is_err());
        assert!(Name::parse("\u{200b}\u{200b}").is_err());
        assert!(Name::parse("\u{feff} \u{3164}").is_err());
        assert!(Name::parse("Ana María").is_ok());
        assert!(Name::parse("Ana\u{200b}María").is_ok());
    }

    #[test]
    fn bidirectional_controls_are_refused_in_a_name() {
        assert!(Name::parse("Ana\u{202e}lleH").is_err());
        assert!(Name::parse("\u{2066}Ana").is_err());
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
