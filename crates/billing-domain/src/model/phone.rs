use super::{Change, FieldProblem, InvalidValue, Number, Scalar, Text};

/// A country calling code such as `+57`: a plus sign and 1 to 4 digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountryCode(String);

impl CountryCode {
    /// Colombia's, the code the previous service defaulted to.
    pub fn default_code() -> Self {
        Self("+57".to_owned())
    }

    /// # Errors
    /// When `raw` is not `+` followed by 1-4 digits.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let digits = raw.strip_prefix('+').unwrap_or("");
        if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidValue::new(
                "must be + followed by 1-4 digits, like +57",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A subscriber number without the country code: a positive integer of at most 15 digits
/// (the E.164 limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhoneNumber(u64);

impl PhoneNumber {
    pub const MAX: u64 = 999_999_999_999_999;

    /// # Errors
    /// When `value` is 0 or has more than 15 digits.
    pub fn new(value: u64) -> Result<Self, InvalidValue> {
        if value == 0 || value > Self::MAX {
            return Err(InvalidValue::new(
                "must be a positive integer of at most 15 digits",
            ));
        }
        Ok(Self(value))
    }

    pub const fn value(self) -> u64 {
        self.0
    }
}

/// A user's phone as recorded; a billing keeps a copy of it as it was when the billing was
/// created. Either part may be missing, and either may be text or a number (the system of
/// record's producers send both).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Phone {
    pub code_number: Option<Scalar>,
    pub phone_number: Option<Scalar>,
}

impl Phone {
    /// A phone set through this service's own API, by its rules.
    pub fn checked(code_number: CountryCode, phone_number: Option<PhoneNumber>) -> Self {
        Self {
            code_number: Some(code_number.into()),
            phone_number: phone_number.map(Into::into),
        }
    }
}

impl From<CountryCode> for Scalar {
    fn from(c: CountryCode) -> Self {
        Self::Text(Text::parse(&c.0).unwrap_or_else(|_| unreachable!("a country code is short")))
    }
}

impl From<PhoneNumber> for Scalar {
    fn from(n: PhoneNumber) -> Self {
        Self::Number(Number::from_u64(n.0))
    }
}

/// A change to a phone, field by field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhonePatch {
    pub code_number: Change<Scalar>,
    pub phone_number: Change<Scalar>,
}

impl PhonePatch {
    /// Clears both parts (a producer sent `phone: null`).
    pub fn clear() -> Self {
        Self {
            code_number: Change::To(None),
            phone_number: Change::To(None),
        }
    }

    pub fn apply(&self, phone: &Phone, problems: &mut Vec<FieldProblem>) -> Phone {
        Phone {
            code_number: self
                .code_number
                .apply("phone.codeNumber", &phone.code_number, problems),
            phone_number: self.phone_number.apply(
                "phone.phoneNumber",
                &phone.phone_number,
                problems,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_country_code_is_a_plus_and_up_to_four_digits() {
        assert!(CountryCode::parse("+57").is_ok());
        assert!(CountryCode::parse("+1868").is_ok());
        for bad in ["57", "+", "+12345", "+5a"] {
            assert!(CountryCode::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn a_phone_number_has_one_to_fifteen_digits() {
        assert!(PhoneNumber::new(3_104_156_262).is_ok());
        assert!(PhoneNumber::new(0).is_err());
        assert!(PhoneNumber::new(PhoneNumber::MAX + 1).is_err());
    }

    #[test]
    fn a_phone_patch_changes_only_the_fields_it_names() {
        let phone = Phone::checked(
            CountryCode::parse("+57").unwrap(),
            Some(PhoneNumber::new(3_001_112_233).unwrap()),
        );
        let patch = PhonePatch {
            code_number: Change::To(Some(Scalar::text("1").unwrap())),
            phone_number: Change::Keep,
        };
        let patched = patch.apply(&phone, &mut Vec::new());
        assert_eq!(patched.code_number, Some(Scalar::text("1").unwrap()));
        assert_eq!(patched.phone_number, phone.phone_number);
    }
}
