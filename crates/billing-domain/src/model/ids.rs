use std::fmt;

use super::InvalidValue;

/// A document's `_id`: the 12 bytes of a MongoDB ObjectId, written as 24 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocumentId([u8; 12]);

impl DocumentId {
    pub const fn from_bytes(bytes: [u8; 12]) -> Self {
        Self(bytes)
    }

    pub const fn bytes(&self) -> [u8; 12] {
        self.0
    }

    /// # Errors
    /// When `raw` is not exactly 24 hex digits.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let invalid = || InvalidValue::new("must be a 24-digit hex ObjectId");
        if raw.len() != 24 {
            return Err(invalid());
        }
        let mut bytes = [0u8; 12];
        for (i, pair) in raw.as_bytes().chunks(2).enumerate() {
            let hi = hex_value(pair[0]).ok_or_else(invalid)?;
            let lo = hex_value(pair[1]).ok_or_else(invalid)?;
            bytes[i] = hi << 4 | lo;
        }
        Ok(Self(bytes))
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One write of the whole text: every `_id` in every response and row goes through
        // here, and a formatting call per byte cost more than the rest of it.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; 24];
        for (pair, b) in text.chunks_exact_mut(2).zip(self.0) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 0x0f)];
        }
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')
}

/// The longest id (`userId`, `billingId`) a producer or a stored document may carry, in
/// characters.
pub const MAX_ID_CHARS: usize = 1024;

fn recorded_id(raw: &str, what: &str) -> Result<String, InvalidValue> {
    if raw.is_empty() || raw.chars().count() > MAX_ID_CHARS {
        return Err(InvalidValue::new(format!(
            "must be a {what} of 1 to {MAX_ID_CHARS} characters"
        )));
    }
    Ok(raw.to_owned())
}

/// The application's id of a user. Any non-empty text (up to [`MAX_ID_CHARS`]) names one:
/// the user service assigns ids and validates almost nothing. Ids this service assigns or
/// accepts on creation follow a tighter rule ([`UserId::parse_new`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserId(String);

impl UserId {
    pub const MAX_LEN: usize = 128;

    /// An id as the system of record has it.
    ///
    /// # Errors
    /// When `raw` is empty or longer than [`MAX_ID_CHARS`].
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        recorded_id(raw, "userId").map(Self)
    }

    /// An id for a user created through this service's API: 1 to 128 letters, digits or `-_.:`.
    ///
    /// # Errors
    /// When `raw` is empty, longer than 128 characters, or has a character outside `[A-Za-z0-9-_.:]`.
    pub fn parse_new(raw: &str) -> Result<Self, InvalidValue> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN || !raw.chars().all(is_id_char) {
            return Err(InvalidValue::new(
                "must be 1-128 characters of letters, digits and -_.:",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a request names a user: by `userId`, or by `_id` when the text is an ObjectId.
/// A text that could be both is looked up as a `userId` first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserKey {
    user_id: Option<UserId>,
    object_id: Option<DocumentId>,
}

impl UserKey {
    /// # Errors
    /// When `raw` is neither a valid `userId` nor an ObjectId.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let user_id = UserId::parse(raw).ok();
        let object_id = DocumentId::parse(raw).ok();
        if user_id.is_none() && object_id.is_none() {
            return Err(InvalidValue::new("must be a userId or a 24-digit hex _id"));
        }
        Ok(Self { user_id, object_id })
    }

    pub fn user_id(&self) -> Option<&UserId> {
        self.user_id.as_ref()
    }

    pub fn object_id(&self) -> Option<DocumentId> {
        self.object_id
    }
}

impl From<UserId> for UserKey {
    fn from(user_id: UserId) -> Self {
        Self {
            user_id: Some(user_id),
            object_id: None,
        }
    }
}

/// The id of an invoice. New ones are the `billingId` sequence number, zero-padded to nine
/// digits (`000000001`, more digits past 999999999). Ids written by the previous service, such
/// as `bill-1696150000000`, are valid too: any non-empty text up to [`MAX_ID_CHARS`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BillingId(String);

impl BillingId {
    pub fn from_sequence(seq: u64) -> Self {
        Self(format!("{seq:09}"))
    }

    /// # Errors
    /// When `raw` is empty or longer than [`MAX_ID_CHARS`].
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        recorded_id(raw, "billingId").map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BillingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_id_round_trips_through_its_hex_form() {
        let id = DocumentId::parse("65a1b2c3d4e5f60718293a4b").unwrap();
        assert_eq!(id.to_string(), "65a1b2c3d4e5f60718293a4b");
    }

    #[test]
    fn an_object_id_rejects_wrong_length_and_non_hex() {
        assert!(DocumentId::parse("65a1b2c3").is_err());
        assert!(DocumentId::parse("zza1b2c3d4e5f60718293a4b").is_err());
    }

    #[test]
    fn a_new_user_id_follows_the_documented_alphabet_but_any_recorded_one_is_valid() {
        assert!(UserId::parse_new("cust-42_a.b:c").is_ok());
        assert!(UserId::parse_new("").is_err());
        assert!(UserId::parse_new("has space").is_err());
        assert!(UserId::parse_new(&"x".repeat(129)).is_err());
        assert!(UserId::parse_new(&"x".repeat(128)).is_ok());
        assert!(UserId::parse("has space / and ü").is_ok());
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse(&"x".repeat(MAX_ID_CHARS + 1)).is_err());
    }

    #[test]
    fn a_billing_id_from_the_sequence_is_zero_padded_to_nine_digits() {
        assert_eq!(BillingId::from_sequence(1).as_str(), "000000001");
        assert_eq!(
            BillingId::from_sequence(1_234_567_890).as_str(),
            "1234567890"
        );
    }

    #[test]
    fn a_legacy_billing_id_is_valid() {
        assert!(BillingId::parse("bill-1696150000000").is_ok());
        assert!(BillingId::parse("a/b c").is_ok());
        assert!(BillingId::parse("").is_err());
    }

    #[test]
    fn a_user_key_may_be_both_a_user_id_and_an_object_id() {
        let key = UserKey::parse("65a1b2c3d4e5f60718293a4b").unwrap();
        assert!(key.user_id().is_some() && key.object_id().is_some());
        let key = UserKey::parse("alice").unwrap();
        assert!(key.user_id().is_some() && key.object_id().is_none());
    }
}
