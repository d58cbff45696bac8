//! The contract of [`UserRepository`], and of what deleting a user does to their billings.

use std::num::NonZeroU32;

use super::{draft, inactive_user, seq, t, text, uid, user, user_oid};
use crate::error::{CreateUserError, DeleteUserError, UpdateUserError};
use crate::model::{
    Address, AddressPatch, BillingQuery, Change, CountryCode, ImmutableField, Limit,
    MAX_TEXT_CHARS, Number, PageRequest, PatchError, Phone, PhonePatch, Position, Scalar, User,
    UserCursor, UserEcho, UserKey, UserPatch, UserQuery,
};
use crate::ports::Repository;

fn key(raw: &str) -> UserKey {
    UserKey::parse(raw).expect("a valid test key")
}

fn by_oid(u: &User) -> UserKey {
    key(&u.id.to_string())
}

fn by_user_id(u: &User) -> UserKey {
    u.user_id.clone().into()
}

fn limit(n: u32) -> Limit {
    Limit::new(n).expect("a valid test limit")
}

fn page(limit_: u32, number: u32) -> PageRequest<UserCursor> {
    PageRequest {
        limit: limit(limit_),
        position: Position::Page(NonZeroU32::new(number).expect("a page number from 1")),
    }
}

fn after(limit_: u32, cursor: UserCursor) -> PageRequest<UserCursor> {
    PageRequest {
        limit: limit(limit_),
        position: Position::After(cursor),
    }
}

fn query(page: PageRequest<UserCursor>) -> UserQuery {
    UserQuery {
        is_active: None,
        page,
    }
}

fn ids(users: &[User]) -> Vec<String> {
    users.iter().map(|u| u.user_id.to_string()).collect()
}

async fn create_users<R: Repository>(repo: &R, users: impl IntoIterator<Item = User>) {
    for u in users {
        repo.create_user(u).await.expect("the test user is created");
    }
}

async fn find<R: Repository>(repo: &R, key: &UserKey) -> Option<User> {
    repo.find_user(key).await.expect("find_user works")
}

/// `create_user` returns the user as stored; `find_user` finds it by `userId` and by `_id`, and
/// finds nothing for a key that names nobody.
pub async fn a_created_user_is_found_by_user_id_and_by_object_id<R: Repository>(repo: R) {
    let u = user(1);
    let created = repo.create_user(u.clone()).await.expect("created");
    assert_eq!(created, u);
    assert_eq!(find(&repo, &by_user_id(&u)).await, Some(u.clone()));
    assert_eq!(find(&repo, &by_oid(&u)).await, Some(u.clone()));
    assert_eq!(find(&repo, &key("nobody")).await, None);
    assert_eq!(find(&repo, &by_oid(&user(2))).await, None);
}

/// A key that is both a valid `userId` and an ObjectId finds the user with that `userId` before
/// the user with that `_id`; when no `userId` matches, it finds the user by `_id`.
pub async fn a_key_that_could_be_both_is_looked_up_as_a_user_id_first<R: Repository>(repo: R) {
    let by_id = user(1);
    let hex = by_id.id.to_string();
    let named_like_an_id = User {
        user_id: uid(&hex),
        ..user(2)
    };
    create_users(&repo, [by_id.clone(), named_like_an_id.clone()]).await;
    assert_eq!(find(&repo, &key(&hex)).await, Some(named_like_an_id));
    repo.delete_user(&uid(&hex).into(), t("2025-11-01"))
        .await
        .expect("deleted");
    assert_eq!(find(&repo, &key(&hex)).await, Some(by_id));
}

/// A second user with a `userId` already taken is refused with `Duplicate` and the first user
/// stays as it was.
pub async fn a_second_user_with_the_same_user_id_is_refused_as_a_duplicate<R: Repository>(repo: R) {
    let first = user(1);
    create_users(&repo, [first.clone()]).await;
    let twin = User {
        user_id: first.user_id.clone(),
        name: None,
        ..user(2)
    };
    let result = repo.create_user(twin).await;
    assert!(
        matches!(&result, Err(CreateUserError::Duplicate(id)) if *id == first.user_id),
        "expected Duplicate, got {result:?}"
    );
    assert_eq!(find(&repo, &by_user_id(&first)).await, Some(first));
    assert_eq!(find(&repo, &by_oid(&user(2))).await, None);
    let all = repo
        .list_users(&UserQuery::default())
        .await
        .expect("listed");
    assert_eq!(all.items.len(), 1);
}

/// Users come in `_id` order whatever the order they were stored in; `isActive` filters them
/// and the total counts only the matching ones.
pub async fn users_are_listed_in_object_id_order_and_filtered_by_is_active<R: Repository>(repo: R) {
    create_users(
        &repo,
        [
            user(3),
            inactive_user(1),
            user(5),
            inactive_user(4),
            user(2),
        ],
    )
    .await;
    let all = repo
        .list_users(&UserQuery::default())
        .await
        .expect("listed");
    assert_eq!(
        ids(&all.items),
        ["user-1", "user-2", "user-3", "user-4", "user-5"]
    );
    assert_eq!(all.total, Some(5));
    assert_eq!(all.next, None);
    assert_eq!(all.items[0], inactive_user(1));

    let active = UserQuery {
        is_active: Some(true),
        ..UserQuery::default()
    };
    let listed = repo.list_users(&active).await.expect("listed");
    assert_eq!(ids(&listed.items), ["user-2", "user-3", "user-5"]);
    assert_eq!(listed.total, Some(3));

    let inactive = UserQuery {
        is_active: Some(false),
        page: page(1, 1),
    };
    let listed = repo.list_users(&inactive).await.expect("listed");
    assert_eq!(ids(&listed.items), ["user-1"]);
    assert_eq!(listed.total, Some(2));
    assert_eq!(listed.next, Some(UserCursor(user_oid(1))));
}

/// `page` skips `(page - 1) * limit` users, reports the total, and a page past the end is empty
/// but still has the total.
pub async fn users_are_paged_by_page_number_with_the_total_of_matching_users<R: Repository>(
    repo: R,
) {
    create_users(&repo, (1..=5).map(user)).await;
    let second = repo.list_users(&query(page(2, 2))).await.expect("listed");
    assert_eq!(ids(&second.items), ["user-3", "user-4"]);
    assert_eq!(second.total, Some(5));
    assert_eq!(second.next, Some(UserCursor(user_oid(4))));

    let third = repo.list_users(&query(page(2, 3))).await.expect("listed");
    assert_eq!(ids(&third.items), ["user-5"]);
    assert_eq!(third.total, Some(5));
    assert_eq!(third.next, None);

    let beyond = repo.list_users(&query(page(2, 4))).await.expect("listed");
    assert!(beyond.items.is_empty());
    assert_eq!(beyond.total, Some(5));
    assert_eq!(beyond.next, None);
}

/// A request that names no page gets the first page and its `next` cursor, but no total:
/// counting would make a plain list cost more the longer the list.
pub async fn a_first_page_asked_without_a_page_number_counts_no_total<R: Repository>(repo: R) {
    create_users(&repo, (1..=3).map(user)).await;
    let first = PageRequest {
        limit: limit(2),
        position: Position::First,
    };
    let listing = repo.list_users(&query(first)).await.expect("listed");
    assert_eq!(ids(&listing.items), ["user-1", "user-2"]);
    assert_eq!(listing.total, None);
    assert_eq!(listing.next, Some(UserCursor(user_oid(2))));
    let billings = repo
        .list_billings(&crate::model::BillingQuery {
            page: PageRequest {
                limit: limit(2),
                position: Position::First,
            },
            ..crate::model::BillingQuery::new(
                crate::model::timestamp_from_millis(0).expect("epoch"),
            )
        })
        .await
        .expect("listed");
    assert_eq!((billings.items.len(), billings.total), (0, None));
}

/// Following `next` cursors walks every user once, in order, without totals; a cursor whose user
/// has been deleted since still starts right after where that user was.
pub async fn users_are_paged_by_cursor_even_when_the_cursor_user_was_deleted<R: Repository>(
    repo: R,
) {
    create_users(&repo, (1..=5).map(user)).await;
    let mut seen = Vec::new();
    let mut request = page(2, 1);
    loop {
        let listing = repo.list_users(&query(request)).await.expect("listed");
        seen.extend(ids(&listing.items));
        match listing.next {
            Some(cursor) => {
                assert_eq!(Some(cursor), listing.items.last().map(UserCursor::of));
                request = after(2, cursor);
            }
            None => break,
        }
    }
    assert_eq!(seen, ["user-1", "user-2", "user-3", "user-4", "user-5"]);

    let cursor = UserCursor::of(&user(2));
    let listing = repo
        .list_users(&query(after(2, cursor)))
        .await
        .expect("listed");
    assert_eq!(listing.total, None);
    assert_eq!(ids(&listing.items), ["user-3", "user-4"]);

    repo.delete_user(&by_user_id(&user(2)), t("2025-11-01"))
        .await
        .expect("deleted");
    let listing = repo
        .list_users(&query(after(2, cursor)))
        .await
        .expect("listed");
    assert_eq!(ids(&listing.items), ["user-3", "user-4"]);
    assert_eq!(listing.next, Some(UserCursor(user_oid(4))));
}

/// A page holds at most `limit` users, from 1 to 500; `next` is there only when more users
/// remain, so a page that ends exactly at the last user has none.
pub async fn a_next_user_cursor_is_given_only_when_more_users_remain<R: Repository>(repo: R) {
    create_users(&repo, (1..=3).map(user)).await;
    let one = repo.list_users(&query(page(1, 1))).await.expect("listed");
    assert_eq!(ids(&one.items), ["user-1"]);
    assert_eq!(one.next, Some(UserCursor(user_oid(1))));

    let exact = repo.list_users(&query(page(3, 1))).await.expect("listed");
    assert_eq!(exact.items.len(), 3);
    assert_eq!(exact.next, None);

    let max = repo
        .list_users(&query(page(Limit::MAX, 1)))
        .await
        .expect("listed");
    assert_eq!(max.items.len(), 3);
    assert_eq!(max.next, None);

    let last = repo
        .list_users(&query(after(1, UserCursor(user_oid(2)))))
        .await
        .expect("listed");
    assert_eq!(ids(&last.items), ["user-3"]);
    assert_eq!(last.next, None);

    let past_the_end = repo
        .list_users(&query(after(1, UserCursor(user_oid(3)))))
        .await
        .expect("listed");
    assert!(past_the_end.items.is_empty());
    assert_eq!(past_the_end.next, None);
}

/// A page number with a cursor is the n-th page after the cursor's user, and counts the total
/// of every matching user, as page-numbered requests do.
pub async fn a_page_number_after_a_user_cursor_skips_whole_pages_past_it<R: Repository>(repo: R) {
    create_users(&repo, (1..=6).map(user)).await;
    let at = |number| PageRequest {
        limit: limit(2),
        position: Position::PageAfter(
            UserCursor(user_oid(1)),
            NonZeroU32::new(number).expect("a page number from 1"),
        ),
    };
    let first = repo.list_users(&query(at(1))).await.expect("listed");
    assert_eq!(ids(&first.items), ["user-2", "user-3"]);
    assert_eq!(first.total, Some(6));
    let second = repo.list_users(&query(at(2))).await.expect("listed");
    assert_eq!(ids(&second.items), ["user-4", "user-5"]);
    assert_eq!(second.next, Some(UserCursor(user_oid(5))));
    let third = repo.list_users(&query(at(3))).await.expect("listed");
    assert_eq!(ids(&third.items), ["user-6"]);
    assert_eq!((third.next, third.total), (None, Some(6)));
}

/// An empty store lists no users and no billings, with totals of zero on page requests and no
/// totals on cursor requests.
pub async fn an_empty_store_lists_nothing<R: Repository>(repo: R) {
    let users = repo
        .list_users(&UserQuery::default())
        .await
        .expect("listed");
    assert!(users.items.is_empty());
    assert_eq!((users.total, users.next), (Some(0), None));
    let users = repo
        .list_users(&query(after(10, UserCursor(user_oid(1)))))
        .await
        .expect("listed");
    assert!(users.items.is_empty());
    assert_eq!((users.total, users.next), (None, None));

    let billings = repo
        .list_billings(&BillingQuery::new(t("2025-10-01")))
        .await
        .expect("listed");
    assert!(billings.items.is_empty());
    assert_eq!((billings.total, billings.next), (Some(0), None));
}

/// An update changes only the address parts and phone fields it names (`Some(None)` clears a
/// part), moves `updated_at`, keeps `createdAt`, and is what `find_user` returns afterwards,
/// whether the user was named by `_id` or by `userId`.
pub async fn an_update_merges_the_address_and_the_phone_field_by_field<R: Repository>(repo: R) {
    let u = user(1);
    create_users(&repo, [u.clone()]).await;
    let now = t("2025-06-01T10:00:00.456Z");
    let patch = UserPatch {
        address: AddressPatch {
            city: Change::To(Some(text("Cali"))),
            zip_code: Change::To(Some(text("760001"))),
            address: Change::To(None),
            country: Change::Keep,
        },
        phone: PhonePatch {
            code_number: Change::To(Some(CountryCode::parse("+1").expect("valid").into())),
            phone_number: Change::Keep,
        },
        ..UserPatch::default()
    };
    let updated = repo
        .update_user(&by_oid(&u), patch, now)
        .await
        .expect("updated");
    assert_eq!(updated.address.city, Some(text("Cali")));
    assert_eq!(updated.address.country, Some(text("CO")));
    assert_eq!(updated.address.zip_code, Some(text("760001")));
    assert_eq!(updated.address.address, None);
    assert_eq!(updated.phone.code_number, Some(text("+1")));
    assert_eq!(updated.phone.phone_number, u.phone.phone_number);
    assert_eq!(
        (updated.name.clone(), updated.email.clone()),
        (u.name.clone(), u.email.clone())
    );
    assert_eq!(
        (updated.created_at, updated.updated_at),
        (u.created_at, now)
    );
    assert_eq!(find(&repo, &by_user_id(&u)).await, Some(updated.clone()));

    let later = t("2025-06-02");
    let patch = UserPatch {
        phone: PhonePatch {
            code_number: Change::Keep,
            phone_number: Change::To(None),
        },
        ..UserPatch::activation(false)
    };
    let again = repo
        .update_user(&by_user_id(&u), patch, later)
        .await
        .expect("updated");
    assert_eq!(again.phone.code_number, Some(text("+1")));
    assert_eq!(again.phone.phone_number, None);
    assert!(!again.is_active);
    assert_eq!(again.address, updated.address);
    assert_eq!(again.updated_at, later);
    assert_eq!(find(&repo, &by_oid(&u)).await, Some(again));
}

/// Updating a user that does not exist is `NotFound`, and creates nobody.
pub async fn updating_a_missing_user_is_not_found<R: Repository>(repo: R) {
    create_users(&repo, [user(1)]).await;
    for missing in [by_user_id(&user(2)), by_oid(&user(2))] {
        let result = repo
            .update_user(&missing, UserPatch::activation(false), t("2025-06-01"))
            .await;
        assert!(
            matches!(result, Err(UpdateUserError::NotFound)),
            "expected NotFound, got {result:?}"
        );
    }
    let all = repo
        .list_users(&UserQuery::default())
        .await
        .expect("listed");
    assert_eq!(all.items, [user(1)]);
}

/// A patch that echoes a server-set value (`_id`, `userId`, `createdAt`) with a different value
/// is refused with `Immutable` naming the field, and none of its other changes are stored; the
/// same values echoed unchanged are accepted.
pub async fn an_update_that_changes_a_server_set_user_value_is_refused_and_changes_nothing<
    R: Repository,
>(
    repo: R,
) {
    let u = user(1);
    create_users(&repo, [u.clone()]).await;
    let now = t("2025-06-01");
    let echo = |set: fn(&mut UserEcho)| {
        let mut e = UserEcho::default();
        set(&mut e);
        e
    };
    let echoes = [
        (echo(|e| e.id = Some(user_oid(9))), "_id"),
        (echo(|e| e.user_id = Some(uid("someone-else"))), "userId"),
        (echo(|e| e.created_at = Some(t("2024-01-01"))), "createdAt"),
    ];
    for (echo, field) in echoes {
        let patch = UserPatch {
            name: Change::To(None),
            echo,
            ..UserPatch::activation(false)
        };
        let result = repo.update_user(&by_user_id(&u), patch, now).await;
        assert!(
            matches!(&result, Err(UpdateUserError::Patch(PatchError::Immutable(ImmutableField { field: f }))) if *f == field),
            "expected Immutable({field}), got {result:?}"
        );
        assert_eq!(find(&repo, &by_user_id(&u)).await, Some(u.clone()));
    }

    let same = UserPatch {
        name: Change::To(None),
        echo: UserEcho {
            id: Some(u.id),
            user_id: Some(u.user_id.clone()),
            created_at: Some(u.created_at),
        },
        ..UserPatch::default()
    };
    let updated = repo
        .update_user(&by_user_id(&u), same, now)
        .await
        .expect("updated");
    assert_eq!(updated.name, None);
    assert_eq!(find(&repo, &by_user_id(&u)).await, Some(updated));
}

/// A patch whose values equal the stored ones changes nothing, not even `updated_at`.
pub async fn an_update_that_changes_nothing_keeps_updated_at<R: Repository>(repo: R) {
    let u = user(1);
    create_users(&repo, [u.clone()]).await;
    let patch = UserPatch {
        phone: PhonePatch {
            code_number: Change::To(u.phone.code_number.clone()),
            phone_number: Change::To(u.phone.phone_number.clone()),
        },
        address: AddressPatch {
            city: Change::To(u.address.city.clone()),
            ..AddressPatch::default()
        },
        ..UserPatch::activation(true)
    };
    let updated = repo
        .update_user(&by_oid(&u), patch, t("2025-06-01"))
        .await
        .expect("updated");
    assert_eq!(updated, u);
    let empty = repo
        .update_user(&by_user_id(&u), UserPatch::default(), t("2025-06-02"))
        .await
        .expect("updated");
    assert_eq!(empty, u);
    assert_eq!(find(&repo, &by_user_id(&u)).await, Some(u));
}

/// Deleting a user removes them and every billing of theirs, returns how many billings went,
/// and leaves other users and their billings alone; a user without billings counts zero.
pub async fn deleting_a_user_removes_them_and_all_their_billings_and_counts_those<R: Repository>(
    repo: R,
) {
    let (a, b, c) = (user(1), user(2), user(3));
    create_users(&repo, [a.clone(), b.clone(), c.clone()]).await;
    let owners = [&a, &b, &a, &a, &b];
    for (n, owner) in (1..).zip(owners) {
        repo.create_billing(draft(n, &owner.user_id, "2025-10-01", "2025-10-15"))
            .await
            .expect("billing created");
    }

    assert_eq!(
        repo.delete_user(&by_oid(&a), t("2025-11-01"))
            .await
            .expect("deleted"),
        3
    );
    assert_eq!(find(&repo, &by_oid(&a)).await, None);
    assert_eq!(find(&repo, &by_user_id(&a)).await, None);
    for gone in [1, 3, 4] {
        assert_eq!(repo.find_billing(&seq(gone)).await.expect("found"), None);
    }
    for kept in [2, 5] {
        let billing = repo.find_billing(&seq(kept)).await.expect("found");
        assert_eq!(billing.map(|x| x.user_id), Some(b.user_id.clone()));
    }
    let mut of_a = BillingQuery::new(t("2025-10-01"));
    of_a.user_id = Some(a.user_id.clone());
    let listing = repo.list_billings(&of_a).await.expect("listed");
    assert!(listing.items.is_empty());
    assert_eq!(listing.total, Some(0));

    assert_eq!(
        repo.delete_user(&by_user_id(&c), t("2025-11-01"))
            .await
            .expect("deleted"),
        0
    );
    assert_eq!(find(&repo, &by_user_id(&b)).await, Some(b));
    let all = repo
        .list_billings(&BillingQuery::new(t("2025-10-01")))
        .await
        .expect("listed");
    assert_eq!(all.total, Some(2));
}

/// Deleting a user that does not exist (or no longer does) is `NotFound`.
pub async fn deleting_a_missing_user_is_not_found<R: Repository>(repo: R) {
    let u = user(1);
    create_users(&repo, [u.clone()]).await;
    let result = repo.delete_user(&by_oid(&user(2)), t("2025-11-01")).await;
    assert!(
        matches!(result, Err(DeleteUserError::NotFound)),
        "expected NotFound, got {result:?}"
    );
    repo.delete_user(&by_user_id(&u), t("2025-11-01"))
        .await
        .expect("deleted");
    for again in [by_user_id(&u), by_oid(&u)] {
        let result = repo.delete_user(&again, t("2025-11-01")).await;
        assert!(
            matches!(result, Err(DeleteUserError::NotFound)),
            "expected NotFound, got {result:?}"
        );
    }
}

/// A user whose values only the system of record would write (a number for a name, any text
/// for an e-mail, a dialling code without `+`, a phone number of 0, a number for a zip code,
/// 4 KiB of street address) is stored and read back exactly, and its tombstone-free deletion
/// works as for any user.
pub async fn recorded_user_values_read_back_exactly_as_stored<R: Repository>(repo: R) {
    let long = "Calle ".repeat(682) + "1234";
    assert_eq!(long.chars().count(), MAX_TEXT_CHARS);
    let recorded = User {
        name: Some(Scalar::Number(Number::Int(42))),
        email: Some(Scalar::text("not an e-mail, ü").expect("text")),
        address: Address {
            city: None,
            country: Some(Scalar::text("").expect("text")),
            zip_code: Some(Scalar::Number(Number::Int(110_111))),
            address: Some(Scalar::text(&long).expect("text")),
        },
        phone: Phone {
            code_number: Some(Scalar::text("57").expect("text")),
            phone_number: Some(Scalar::Number(Number::Int(0))),
        },
        last_event_at: Some(t("2025-01-02T03:04:05.006Z")),
        ..user(1)
    };
    let odd_phone = User {
        name: None,
        email: None,
        phone: Phone {
            code_number: None,
            phone_number: Some(Scalar::text("+57 (310) 415-6262").expect("text")),
        },
        ..user(2)
    };
    let big = User {
        phone: Phone {
            code_number: Some(Scalar::Number(Number::Int(57))),
            phone_number: Some(Scalar::Number(Number::Int(9_007_199_254_740_993))),
        },
        name: Some(Scalar::Number(Number::Float(3.25))),
        ..user(3)
    };
    create_users(&repo, [recorded.clone(), odd_phone.clone(), big.clone()]).await;
    for u in [&recorded, &odd_phone, &big] {
        assert_eq!(find(&repo, &by_user_id(u)).await.as_ref(), Some(u));
    }
    let all = repo
        .list_users(&UserQuery::default())
        .await
        .expect("listed");
    assert_eq!(all.items, [recorded, odd_phone, big]);
}
