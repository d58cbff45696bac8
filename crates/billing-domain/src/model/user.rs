use super::{DocumentId, Email, Name, Phone, PhonePatch, ShortText, Timestamp, UserId};

/// A user's postal address; every part is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub city: Option<ShortText>,
    pub country: Option<ShortText>,
    pub zip_code: Option<ShortText>,
    pub address: Option<ShortText>,
}

/// A change to an address, part by part: `None` keeps a part, `Some(None)` removes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPatch {
    pub city: Option<Option<ShortText>>,
    pub country: Option<Option<ShortText>>,
    pub zip_code: Option<Option<ShortText>>,
    pub address: Option<Option<ShortText>>,
}

impl AddressPatch {
    pub fn apply(&self, a: &Address) -> Address {
        let pick = |patch: &Option<Option<ShortText>>, old: &Option<ShortText>| {
            patch.clone().unwrap_or_else(|| old.clone())
        };
        Address {
            city: pick(&self.city, &a.city),
            country: pick(&self.country, &a.country),
            zip_code: pick(&self.zip_code, &a.zip_code),
            address: pick(&self.address, &a.address),
        }
    }
}

/// A customer of the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: DocumentId,
    pub user_id: UserId,
    pub name: Option<Name>,
    pub email: Option<Email>,
    pub address: Address,
    pub phone: Phone,
    pub is_active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What a client gives to create a user; the service fills in ids and times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// A UUID v4 is generated when absent.
    pub user_id: Option<UserId>,
    pub name: Option<Name>,
    pub email: Option<Email>,
    pub address: Address,
    pub phone: Phone,
    pub is_active: bool,
}

/// Server-set values a client echoed back in an update. They must equal the stored ones: a
/// client may PUT the whole object it fetched, but may not change them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserEcho {
    pub id: Option<DocumentId>,
    pub user_id: Option<UserId>,
    pub created_at: Option<Timestamp>,
}

/// A partial update of a user. `None` keeps a field; for optional fields `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPatch {
    pub name: Option<Option<Name>>,
    pub email: Option<Option<Email>>,
    pub address: AddressPatch,
    pub phone: PhonePatch,
    pub is_active: Option<bool>,
    pub echo: UserEcho,
}

/// A client tried to change a value the server owns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` cannot be changed")]
pub struct ImmutableField {
    pub field: &'static str,
}

impl UserPatch {
    /// A patch that only sets `isActive` (suspension and reactivation).
    pub fn activation(is_active: bool) -> Self {
        Self {
            is_active: Some(is_active),
            ..Self::default()
        }
    }

    /// The user after this patch. `updated_at` moves only when something changed.
    ///
    /// # Errors
    /// When an echoed server-set value differs from the stored one.
    pub fn apply(&self, user: &User, now: Timestamp) -> Result<User, ImmutableField> {
        check_echo(self.echo.id.as_ref(), &user.id, "_id")?;
        check_echo(self.echo.user_id.as_ref(), &user.user_id, "userId")?;
        check_echo(self.echo.created_at.as_ref(), &user.created_at, "createdAt")?;
        let mut next = User {
            name: self.name.clone().unwrap_or_else(|| user.name.clone()),
            email: self.email.clone().unwrap_or_else(|| user.email.clone()),
            address: self.address.apply(&user.address),
            phone: self.phone.apply(&user.phone),
            is_active: self.is_active.unwrap_or(user.is_active),
            ..user.clone()
        };
        if next != *user {
            next.updated_at = now;
        }
        Ok(next)
    }
}

pub(crate) fn check_echo<T: PartialEq>(
    echoed: Option<&T>,
    stored: &T,
    field: &'static str,
) -> Result<(), ImmutableField> {
    match echoed {
        Some(v) if v != stored => Err(ImmutableField { field }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CountryCode, PhoneNumber, parse_timestamp};

    fn user() -> User {
        let t = parse_timestamp("2025-01-01T00:00:00Z").unwrap();
        User {
            id: DocumentId::parse("65a1b2c3d4e5f60718293a4b").unwrap(),
            user_id: UserId::parse("u-1").unwrap(),
            name: Some(Name::parse("Ana").unwrap()),
            email: None,
            address: Address {
                city: Some(ShortText::parse("Bogotá").unwrap()),
                country: Some(ShortText::parse("CO").unwrap()),
                ..Address::default()
            },
            phone: Phone {
                code_number: CountryCode::default_code(),
                phone_number: Some(PhoneNumber::new(3_104_156_262).unwrap()),
            },
            is_active: true,
            created_at: t,
            updated_at: t,
        }
    }

    fn later() -> Timestamp {
        parse_timestamp("2025-06-01T00:00:00Z").unwrap()
    }

    #[test]
    fn an_address_patch_merges_part_by_part() {
        let patch = UserPatch {
            address: AddressPatch {
                city: Some(Some(ShortText::parse("Cali").unwrap())),
                ..AddressPatch::default()
            },
            ..UserPatch::default()
        };
        let next = patch.apply(&user(), later()).unwrap();
        assert_eq!(next.address.city.unwrap().as_str(), "Cali");
        assert_eq!(next.address.country.unwrap().as_str(), "CO");
        assert_eq!(next.updated_at, later());
    }

    #[test]
    fn a_patch_that_changes_nothing_keeps_updated_at() {
        let u = user();
        let patch = UserPatch {
            is_active: Some(true),
            ..UserPatch::default()
        };
        assert_eq!(patch.apply(&u, later()).unwrap(), u);
    }

    #[test]
    fn echoing_server_set_values_unchanged_is_allowed_but_changing_them_is_not() {
        let u = user();
        let same = UserPatch {
            echo: UserEcho {
                id: Some(u.id),
                user_id: Some(u.user_id.clone()),
                created_at: Some(u.created_at),
            },
            ..UserPatch::default()
        };
        assert!(same.apply(&u, later()).is_ok());
        let changed = UserPatch {
            echo: UserEcho {
                user_id: Some(UserId::parse("other").unwrap()),
                ..UserEcho::default()
            },
            ..UserPatch::default()
        };
        assert_eq!(changed.apply(&u, later()).unwrap_err().field, "userId");
    }

    #[test]
    fn null_clears_an_optional_field() {
        let patch = UserPatch {
            name: Some(None),
            ..UserPatch::default()
        };
        assert_eq!(patch.apply(&user(), later()).unwrap().name, None);
    }
}
