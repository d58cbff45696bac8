use super::change::{check_echo, no_problems};
use super::{
    Change, DocumentId, FieldProblem, PatchError, Phone, PhonePatch, Scalar, Timestamp, UserId,
};

/// A user's postal address as recorded; every part is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub city: Option<Scalar>,
    pub country: Option<Scalar>,
    pub zip_code: Option<Scalar>,
    pub address: Option<Scalar>,
}

/// A change to an address, part by part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPatch {
    pub city: Change<Scalar>,
    pub country: Change<Scalar>,
    pub zip_code: Change<Scalar>,
    pub address: Change<Scalar>,
}

impl AddressPatch {
    /// Clears every part (a producer sent `address: null`).
    pub fn clear() -> Self {
        Self {
            city: Change::To(None),
            country: Change::To(None),
            zip_code: Change::To(None),
            address: Change::To(None),
        }
    }

    pub fn apply(&self, a: &Address, problems: &mut Vec<FieldProblem>) -> Address {
        Address {
            city: self.city.apply("address.city", &a.city, problems),
            country: self.country.apply("address.country", &a.country, problems),
            zip_code: self
                .zip_code
                .apply("address.zipCode", &a.zip_code, problems),
            address: self.address.apply("address.address", &a.address, problems),
        }
    }
}

/// A customer of the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: DocumentId,
    pub user_id: UserId,
    pub name: Option<Scalar>,
    pub email: Option<Scalar>,
    pub address: Address,
    pub phone: Phone,
    pub is_active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The envelope timestamp of the newest customer event applied to this user: an older
    /// event has no effect. `None` when none with a timestamp was.
    pub last_event_at: Option<Timestamp>,
}

/// What a client gives to create a user; the service fills in ids and times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// A UUID v4 is generated when absent.
    pub user_id: Option<UserId>,
    pub name: Option<Scalar>,
    pub email: Option<Scalar>,
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

/// A partial update of a user, field by field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPatch {
    pub name: Change<Scalar>,
    pub email: Change<Scalar>,
    pub address: AddressPatch,
    pub phone: PhonePatch,
    pub is_active: Option<bool>,
    pub echo: UserEcho,
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
    /// When an echoed server-set value differs from the stored one, or a field is changed to a
    /// value today's rules refuse.
    pub fn apply(&self, user: &User, now: Timestamp) -> Result<User, PatchError> {
        check_echo(self.echo.id.as_ref(), &user.id, "_id")?;
        check_echo(self.echo.user_id.as_ref(), &user.user_id, "userId")?;
        check_echo(self.echo.created_at.as_ref(), &user.created_at, "createdAt")?;
        let mut problems = Vec::new();
        let mut next = User {
            name: self.name.apply("name", &user.name, &mut problems),
            email: self.email.apply("email", &user.email, &mut problems),
            address: self.address.apply(&user.address, &mut problems),
            phone: self.phone.apply(&user.phone, &mut problems),
            is_active: self.is_active.unwrap_or(user.is_active),
            ..user.clone()
        };
        no_problems(problems)?;
        if next != *user {
            next.updated_at = now;
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        CountryCode, ImmutableField, Name, PhoneNumber, ShortText, parse_timestamp,
    };

    fn text(s: &str) -> Scalar {
        ShortText::parse(s).unwrap().into()
    }

    fn user() -> User {
        let t = parse_timestamp("2025-01-01T00:00:00Z").unwrap();
        User {
            id: DocumentId::parse("65a1b2c3d4e5f60718293a4b").unwrap(),
            user_id: UserId::parse("u-1").unwrap(),
            name: Some(Name::parse("Ana").unwrap().into()),
            email: None,
            address: Address {
                city: Some(text("Bogotá")),
                country: Some(text("CO")),
                ..Address::default()
            },
            phone: Phone::checked(
                CountryCode::default_code(),
                Some(PhoneNumber::new(3_104_156_262).unwrap()),
            ),
            is_active: true,
            created_at: t,
            updated_at: t,
            last_event_at: None,
        }
    }

    fn later() -> Timestamp {
        parse_timestamp("2025-06-01T00:00:00Z").unwrap()
    }

    #[test]
    fn an_address_patch_merges_part_by_part() {
        let patch = UserPatch {
            address: AddressPatch {
                city: Change::To(Some(text("Cali"))),
                ..AddressPatch::default()
            },
            ..UserPatch::default()
        };
        let next = patch.apply(&user(), later()).unwrap();
        assert_eq!(next.address.city, Some(text("Cali")));
        assert_eq!(next.address.country, Some(text("CO")));
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
        assert_eq!(
            changed.apply(&u, later()).unwrap_err(),
            PatchError::Immutable(ImmutableField { field: "userId" })
        );
    }

    #[test]
    fn null_clears_an_optional_field() {
        let patch = UserPatch {
            name: Change::To(None),
            ..UserPatch::default()
        };
        assert_eq!(patch.apply(&user(), later()).unwrap().name, None);
    }

    #[test]
    fn a_stored_value_that_breaks_the_rules_may_be_echoed_but_not_set() {
        let mut u = user();
        u.email = Some(Scalar::text("not an e-mail").unwrap());
        let echo = |raw: &str| UserPatch {
            email: Change::EchoOnly {
                value: Some(Scalar::text(raw).unwrap()),
                problem: "must be an e-mail address".to_owned(),
            },
            ..UserPatch::default()
        };
        assert_eq!(echo("not an e-mail").apply(&u, later()).unwrap(), u);
        let PatchError::Invalid(problems) = echo("also bad").apply(&u, later()).unwrap_err() else {
            panic!("expected a field problem");
        };
        assert_eq!(problems[0].field, "email");
    }
}
