use super::{InvalidValue, Number};

/// An invoice total in the currency's smallest unit: an integer from 0 to 10^15.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Amount(u64);

impl Amount {
    pub const MAX: u64 = 1_000_000_000_000_000;

    /// # Errors
    /// When `value` is above 10^15.
    pub fn new(value: u64) -> Result<Self, InvalidValue> {
        if value > Self::MAX {
            return Err(InvalidValue::new("must be at most 1000000000000000"));
        }
        Ok(Self(value))
    }

    /// Parses a decimal string of digits without leading zeros, as some clients send
    /// `"125000"`.
    ///
    /// # Errors
    /// When `raw` is not a plain non-negative integer (leading zeros refused), or is above 10^15.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let digits = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit());
        if !digits || (raw.len() > 1 && raw.starts_with('0')) {
            return Err(InvalidValue::new(
                "must be a non-negative integer in the currency's smallest unit",
            ));
        }
        if raw.len() > 16 {
            return Err(InvalidValue::new("must be at most 1000000000000000"));
        }
        let value = raw
            .parse::<u64>()
            .map_err(|_| InvalidValue::new("must be at most 1000000000000000"))?;
        Self::new(value)
    }

    /// Accepts a float only when it holds an integer (Mongoose stores `Number` as a double).
    ///
    /// # Errors
    /// When `value` is negative, fractional, not finite or above 10^15.
    pub fn from_f64(value: f64) -> Result<Self, InvalidValue> {
        if !value.is_finite() || value < 0.0 || value.fract() != 0.0 {
            return Err(InvalidValue::new(
                "must be a non-negative integer in the currency's smallest unit",
            ));
        }
        if value > Self::MAX as f64 {
            return Err(InvalidValue::new("must be at most 1000000000000000"));
        }
        // In range and integral, so the cast is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Self::new(value as u64)
    }

    pub const fn value(self) -> u64 {
        self.0
    }
}

impl From<Amount> for Number {
    fn from(a: Amount) -> Self {
        Self::from_u64(a.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_bounded_by_ten_to_the_fifteenth() {
        assert!(Amount::new(Amount::MAX).is_ok());
        assert!(Amount::new(Amount::MAX + 1).is_err());
        assert_eq!(Amount::new(0).unwrap().value(), 0);
    }

    #[test]
    fn a_numeric_string_is_an_amount_but_a_decimal_or_signed_one_is_not() {
        assert_eq!(Amount::parse("125000").unwrap().value(), 125_000);
        for bad in [
            "",
            "-1",
            "12.5",
            "1e3",
            " 1",
            "007",
            "99999999999999999999999",
        ] {
            assert!(Amount::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn an_integral_double_is_an_amount() {
        assert_eq!(Amount::from_f64(125_000.0).unwrap().value(), 125_000);
        assert!(Amount::from_f64(0.5).is_err());
        assert!(Amount::from_f64(-1.0).is_err());
        assert!(Amount::from_f64(f64::NAN).is_err());
    }
}
