//! Values as the system of record sent or stored them.
//!
//! The operator's user service validates almost nothing, and the previous Node service stored
//! what it was given. What they recorded is a fact, kept exactly: any text (bounded only against
//! abuse), a number where text was expected, a phone number of 0. This service's own API still
//! applies its rules (see `text.rs`, `phone.rs`, `money.rs`) to what *it* is asked to write;
//! the values it accepts convert into these types.

use std::fmt;

use super::InvalidValue;

/// The longest text a recorded field may hold, in characters: a bound against abuse, not a
/// rule.
pub const MAX_TEXT_CHARS: usize = 4096;

/// Integers up to 2^53 are exact in a double, the type Mongoose and JavaScript use for every
/// number; an integral float within that range is the same number as the integer.
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// A number as it was sent or stored: an integer, or a finite float that is not one.
#[derive(Debug, Clone, Copy)]
pub enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    pub const fn from_i64(v: i64) -> Self {
        Self::Int(v)
    }

    /// An unsigned integer; above `i64::MAX` only as a float can hold it.
    pub fn from_u64(v: u64) -> Self {
        #[allow(clippy::cast_precision_loss)]
        i64::try_from(v).map_or(Self::Float(v as f64), Self::Int)
    }

    /// A float; `None` when it is not finite. An integral value within ±2^53 is the integer
    /// (`125000.0` is `125000`, as JavaScript prints it), so the two forms compare equal.
    pub fn from_f64(v: f64) -> Option<Self> {
        if !v.is_finite() {
            return None;
        }
        if v.fract() == 0.0 && v.abs() <= MAX_EXACT {
            // Integral and within ±2^53: exact.
            #[allow(clippy::cast_possible_truncation)]
            return Some(Self::Int(v as i64));
        }
        Some(Self::Float(v))
    }

    /// Parses a decimal number written as text (`"125000"`, `"-3.5"`, `"1e3"`).
    ///
    /// # Errors
    /// When `raw` is not a finite decimal number.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let invalid = || InvalidValue::new("must be a number");
        let plain = !raw.is_empty()
            && raw
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
        if !plain {
            return Err(invalid());
        }
        if let Ok(i) = raw.parse::<i64>() {
            return Ok(Self::Int(i));
        }
        raw.parse::<f64>()
            .ok()
            .and_then(Self::from_f64)
            .ok_or_else(invalid)
    }

    pub fn as_f64(self) -> f64 {
        match self {
            #[allow(clippy::cast_precision_loss)]
            Self::Int(i) => i as f64,
            Self::Float(f) => f,
        }
    }

    pub const fn as_i64(self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(i),
            Self::Float(_) => None,
        }
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Int(a), Self::Int(b)) => a == b,
            // Finite by construction, and -0.0 is `Int(0)`: bit equality is value equality.
            (Self::Float(a), Self::Float(b)) => a.to_bits() == b.to_bits(),
            _ => false,
        }
    }
}

impl Eq for Number {}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(i) => write!(f, "{i}"),
            Self::Float(x) => write!(f, "{x}"),
        }
    }
}

/// Any text up to [`MAX_TEXT_CHARS`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(String);

impl Text {
    /// # Errors
    /// When `raw` is longer than [`MAX_TEXT_CHARS`].
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Self::new(raw.to_owned())
    }

    /// # Errors
    /// When `raw` is longer than [`MAX_TEXT_CHARS`].
    pub fn new(raw: String) -> Result<Self, InvalidValue> {
        if raw.chars().count() > MAX_TEXT_CHARS {
            return Err(InvalidValue::new("must be at most 4096 characters"));
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A field's value as recorded: text, or a number where a producer sent one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    Text(Text),
    Number(Number),
}

impl Scalar {
    /// # Errors
    /// When `raw` is longer than [`MAX_TEXT_CHARS`].
    pub fn text(raw: &str) -> Result<Self, InvalidValue> {
        Text::parse(raw).map(Self::Text)
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(t.as_str()),
            Self::Number(_) => None,
        }
    }

    pub const fn as_number(&self) -> Option<Number> {
        match self {
            Self::Number(n) => Some(*n),
            Self::Text(_) => None,
        }
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(t) => t.fmt(f),
            Self::Number(n) => n.fmt(f),
        }
    }
}

impl From<Number> for Scalar {
    fn from(n: Number) -> Self {
        Self::Number(n)
    }
}

impl From<Text> for Scalar {
    fn from(t: Text) -> Self {
        Self::Text(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_integral_float_is_the_integer_and_a_fractional_one_stays_a_float() {
        assert_eq!(Number::from_f64(125_000.0), Some(Number::Int(125_000)));
        assert_eq!(Number::from_f64(-0.0), Some(Number::Int(0)));
        assert_eq!(Number::from_f64(0.5), Some(Number::Float(0.5)));
        assert_eq!(Number::from_f64(f64::NAN), None);
        assert_eq!(Number::from_f64(f64::INFINITY), None);
        assert_eq!(Number::from_f64(1e20), Some(Number::Float(1e20)));
    }

    #[test]
    fn numbers_print_as_javascript_prints_them() {
        assert_eq!(Number::from_f64(125_000.0).unwrap().to_string(), "125000");
        assert_eq!(Number::from_f64(-3.25).unwrap().to_string(), "-3.25");
        assert_eq!(Number::from_u64(u64::MAX).as_f64(), u64::MAX as f64);
    }

    #[test]
    fn numbers_parse_from_decimal_text() {
        assert_eq!(Number::parse("125000").unwrap(), Number::Int(125_000));
        assert_eq!(Number::parse("-3.5").unwrap(), Number::Float(-3.5));
        assert_eq!(Number::parse("1e3").unwrap(), Number::Int(1000));
        for bad in ["", "abc", "1,5", "NaN", "inf", " 1"] {
            assert!(Number::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn recorded_text_is_any_text_up_to_four_kibibytes() {
        assert!(Text::parse("").is_ok());
        assert!(Text::parse("\u{0}tab\there").is_ok());
        assert!(Text::parse(&"x".repeat(MAX_TEXT_CHARS)).is_ok());
        assert!(Text::parse(&"x".repeat(MAX_TEXT_CHARS + 1)).is_err());
    }
}
