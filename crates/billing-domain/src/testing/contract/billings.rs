//! The contract of [`BillingRepository`](crate::BillingRepository).

use std::collections::BTreeSet;
use std::num::NonZeroU32;

use super::{billing_oid, draft, inactive_user, join_all, phone, seq, t, text, uid, user};
use crate::error::{CreateBillingError, DeleteBillingError, UpdateBillingError};
use crate::model::{
    Billing, BillingCursor, BillingDraft, BillingEcho, BillingId, BillingPatch, BillingQuery,
    Change, ImmutableField, Limit, Number, PageRequest, PatchError, Payment, PaymentChange, Phone,
    PhonePatch, Position, Scalar, Timestamp, User, UserId, UserKey, UserPatch,
};
use crate::ports::Repository;

/// The test number `n` of each billing, read back from its `_id` (see `billing_oid`).
fn ns(items: &[Billing]) -> Vec<u32> {
    items
        .iter()
        .map(|b| {
            let bytes = b.id.bytes();
            u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]])
        })
        .collect()
}

fn paid(d: BillingDraft, on: &str) -> BillingDraft {
    BillingDraft {
        payment: Payment::paid(t(on)),
        ..d
    }
}

fn query(now: &str) -> BillingQuery {
    BillingQuery::new(t(now))
}

fn with_page(mut q: BillingQuery, limit: u32, position: Position<BillingCursor>) -> BillingQuery {
    q.page = PageRequest {
        limit: Limit::new(limit).expect("a valid test limit"),
        position,
    };
    q
}

fn page_number(n: u32) -> Position<BillingCursor> {
    Position::Page(NonZeroU32::new(n).expect("a page number from 1"))
}

async fn create_users<R: Repository>(repo: &R, users: impl IntoIterator<Item = User>) {
    for u in users {
        repo.create_user(u).await.expect("the test user is created");
    }
}

async fn create<R: Repository>(repo: &R, d: BillingDraft) -> Billing {
    repo.create_billing(d)
        .await
        .expect("the test billing is created")
}

async fn find<R: Repository>(repo: &R, id: &BillingId) -> Option<Billing> {
    repo.find_billing(id).await.expect("find_billing works")
}

async fn list<R: Repository>(repo: &R, q: &BillingQuery) -> Vec<u32> {
    ns(&repo
        .list_billings(q)
        .await
        .expect("list_billings works")
        .items)
}

/// Creates billing `n` for `user_id` and returns the number it got.
async fn number<R: Repository>(repo: &R, n: u32, user_id: &UserId) -> BillingId {
    create(repo, draft(n, user_id, "2025-10-01", "2025-10-15"))
        .await
        .billing_id
}

/// Asserts that billing `n` for `user_id` is refused as `UserInactive` or `UserNotFound`.
async fn assert_refused<R: Repository>(repo: &R, n: u32, user_id: &UserId, inactive: bool) {
    let result = repo
        .create_billing(draft(n, user_id, "2025-10-01", "2025-10-15"))
        .await;
    let ok = match &result {
        Err(CreateBillingError::UserNotFound(id)) => !inactive && id == user_id,
        Err(CreateBillingError::UserInactive(id)) => inactive && id == user_id,
        _ => false,
    };
    let expected = ["UserNotFound", "UserInactive"][usize::from(inactive)];
    assert!(ok, "expected {expected}({user_id}), got {result:?}");
}

fn key(u: &User) -> UserKey {
    u.user_id.clone().into()
}

/// The sequence numbers billings `000000001`, `000000002`, ... across all users; the stored
/// billing is the draft with that number, the user's phone, and `updated_at == created_at`.
pub async fn billings_get_consecutive_zero_padded_numbers_starting_at_one<R: Repository>(repo: R) {
    let (a, b) = (user(1), user(2));
    create_users(&repo, [a.clone(), b.clone()]).await;
    let drafts = [
        draft(1, &a.user_id, "2025-10-01T09:15:00.123Z", "2025-10-15"),
        paid(
            draft(2, &a.user_id, "2025-10-02", "2025-10-16"),
            "2025-10-03",
        ),
        draft(3, &b.user_id, "2025-10-02", "2025-10-16"),
    ];
    for (n, (d, owner)) in (1..).zip(drafts.into_iter().zip([&a, &a, &b])) {
        let expected = d.clone().into_billing(seq(n), owner.phone.clone());
        let created = create(&repo, d).await;
        assert_eq!(created, expected);
        assert_eq!(created.updated_at, created.created_at);
        assert_eq!(find(&repo, &seq(n)).await, Some(expected));
    }
    let ids: Vec<String> = (1..=3).map(|n| seq(n).to_string()).collect();
    assert_eq!(ids, ["000000001", "000000002", "000000003"]);
}

/// A billing keeps a copy of its user's phone as it was at creation: a later change of the
/// user's phone shows in later billings only.
pub async fn a_billing_copies_the_phone_its_user_has_at_that_moment<R: Repository>(repo: R) {
    let u = user(1);
    create_users(&repo, [u.clone()]).await;
    let first = create(&repo, draft(1, &u.user_id, "2025-10-01", "2025-10-15")).await;
    assert_eq!(first.phone, u.phone);

    let new_phone = phone("+1", 5_551_234);
    let patch = UserPatch {
        phone: PhonePatch {
            code_number: Change::To(new_phone.code_number.clone()),
            phone_number: Change::To(new_phone.phone_number.clone()),
        },
        ..UserPatch::default()
    };
    repo.update_user(&key(&u), patch, t("2025-10-02"))
        .await
        .expect("updated");
    let second = create(&repo, draft(2, &u.user_id, "2025-10-03", "2025-10-15")).await;
    assert_eq!(second.phone, new_phone);
    assert_eq!(
        find(&repo, &first.billing_id).await.map(|b| b.phone),
        Some(u.phone)
    );
}

/// A draft for a user who does not exist, never did or was deleted, is refused with
/// `UserNotFound`; nothing is stored and the next billing gets the number it would have had.
pub async fn a_billing_for_a_missing_user_is_refused_and_consumes_no_number<R: Repository>(
    repo: R,
) {
    let ghost = uid("ghost");
    assert_refused(&repo, 1, &ghost, false).await;
    let (a, b) = (user(1), user(2));
    create_users(&repo, [a.clone(), b.clone()]).await;
    assert_eq!(number(&repo, 2, &a.user_id).await, seq(1));
    assert_refused(&repo, 3, &ghost, false).await;
    assert_eq!(number(&repo, 4, &b.user_id).await, seq(2));
    repo.delete_user(&key(&a), t("2025-11-01"))
        .await
        .expect("deleted");
    assert_refused(&repo, 5, &a.user_id, false).await;
    assert_eq!(number(&repo, 6, &b.user_id).await, seq(3));
    assert_eq!(list(&repo, &query("2025-10-01")).await, [6, 4]);
}

/// A draft for a suspended user is refused with `UserInactive`, judged when the billing is
/// created; nothing is stored and no number is consumed. Reactivating the user lets it through.
pub async fn a_billing_for_an_inactive_user_is_refused_and_consumes_no_number<R: Repository>(
    repo: R,
) {
    let (sleeper, worker) = (inactive_user(1), user(2));
    create_users(&repo, [sleeper.clone(), worker.clone()]).await;
    assert_refused(&repo, 1, &sleeper.user_id, true).await;
    assert_eq!(number(&repo, 2, &worker.user_id).await, seq(1));
    let (off, on) = (UserPatch::activation(false), UserPatch::activation(true));
    let now = t("2025-10-03");
    repo.update_user(&key(&worker), off, now)
        .await
        .expect("off");
    assert_refused(&repo, 3, &worker.user_id, true).await;
    repo.update_user(&key(&sleeper), on, now).await.expect("on");
    assert_eq!(number(&repo, 4, &sleeper.user_id).await, seq(2));
    assert_eq!(find(&repo, &seq(3)).await, None);
    assert_eq!(list(&repo, &query("2025-10-01")).await, [4, 2]);
}

/// The sequence never steps back: deleting the newest billing, or a user with all theirs, does
/// not make their numbers available again.
pub async fn deleted_billings_do_not_give_their_numbers_back<R: Repository>(repo: R) {
    let (a, b) = (user(1), user(2));
    create_users(&repo, [a.clone(), b.clone()]).await;
    for n in 1..=3 {
        number(&repo, n, &a.user_id).await;
    }
    repo.delete_billing(&seq(3), t("2025-10-20"))
        .await
        .expect("deleted");
    assert_eq!(number(&repo, 4, &a.user_id).await, seq(4));
    assert_eq!(
        repo.delete_user(&key(&a), t("2025-11-01"))
            .await
            .expect("deleted"),
        3
    );
    assert_eq!(number(&repo, 5, &b.user_id).await, seq(5));
}

/// `find_billing` finds a billing by its `billingId` and nothing for an unknown one.
pub async fn a_billing_is_found_by_its_billing_id<R: Repository>(repo: R) {
    let u = user(1);
    create_users(&repo, [u.clone()]).await;
    let first = create(&repo, draft(1, &u.user_id, "2025-10-01", "2025-10-15")).await;
    let second = create(&repo, draft(2, &u.user_id, "2025-10-02", "2025-10-16")).await;
    assert_eq!(find(&repo, &seq(1)).await, Some(first));
    assert_eq!(find(&repo, &seq(2)).await, Some(second));
    assert_eq!(find(&repo, &seq(3)).await, None);
    let legacy = BillingId::parse("bill-1696150000000").expect("a valid legacy id");
    assert_eq!(find(&repo, &legacy).await, None);
}

/// Billings come newest `generationDate` first; within one millisecond, higher `_id` first.
/// Cursors keep that order across pages, ties included.
pub async fn billings_are_listed_newest_first_with_ties_broken_by_descending_object_id<
    R: Repository,
>(
    repo: R,
) {
    let (a, b) = (user(1), user(2));
    create_users(&repo, [a.clone(), b.clone()]).await;
    let tie = "2025-10-03T12:00:00.500Z";
    for (n, generated, owner) in [
        (3, "2025-10-02T00:00:00Z", &a),
        (1, "2025-10-01T00:00:00Z", &b),
        (4, tie, &a),
        (2, tie, &b),
        (5, "2025-10-03T12:00:00.501Z", &a),
    ] {
        create(&repo, draft(n, &owner.user_id, generated, "2025-11-01")).await;
    }
    assert_eq!(list(&repo, &query("2025-10-10")).await, [5, 4, 2, 3, 1]);

    let first = repo
        .list_billings(&with_page(query("2025-10-10"), 2, page_number(1)))
        .await
        .expect("listed");
    assert_eq!(ns(&first.items), [5, 4]);
    let cursor = first.next.expect("more billings remain");
    assert_eq!(Some(cursor), first.items.last().map(BillingCursor::of));
    let rest = with_page(query("2025-10-10"), 2, Position::After(cursor));
    let second = repo.list_billings(&rest).await.expect("listed");
    assert_eq!(ns(&second.items), [2, 3]);
    assert_eq!(second.total, None);
}

/// `userId` and `isPaid` filter billings, alone and together, and see payments made since.
pub async fn billings_are_filtered_by_user_and_by_payment_state<R: Repository>(repo: R) {
    let (a, b) = (user(1), user(2));
    create_users(&repo, [a.clone(), b.clone()]).await;
    create(&repo, draft(1, &a.user_id, "2025-10-01", "2025-10-15")).await;
    create(
        &repo,
        paid(
            draft(2, &a.user_id, "2025-10-02", "2025-10-15"),
            "2025-10-05",
        ),
    )
    .await;
    create(&repo, draft(3, &b.user_id, "2025-10-03", "2025-10-15")).await;
    create(
        &repo,
        paid(
            draft(4, &b.user_id, "2025-10-04", "2025-10-15"),
            "2025-10-05",
        ),
    )
    .await;

    let filtered = |user_id: Option<&UserId>, is_paid: Option<bool>| {
        let mut q = query("2025-10-10");
        q.user_id = user_id.cloned();
        q.is_paid = is_paid;
        q
    };
    let of_a = repo
        .list_billings(&filtered(Some(&a.user_id), None))
        .await
        .expect("listed");
    assert_eq!((ns(&of_a.items), of_a.total), (vec![2, 1], Some(2)));
    assert_eq!(list(&repo, &filtered(None, Some(true))).await, [4, 2]);
    assert_eq!(list(&repo, &filtered(None, Some(false))).await, [3, 1]);
    assert_eq!(
        list(&repo, &filtered(Some(&b.user_id), Some(true))).await,
        [4]
    );
    assert_eq!(
        list(&repo, &filtered(Some(&uid("ghost")), None)).await,
        Vec::<u32>::new()
    );

    let pay = BillingPatch::settle(Some(t("2025-10-06")));
    repo.update_billing(&seq(1), pay, t("2025-10-06"))
        .await
        .expect("paid");
    assert_eq!(
        list(&repo, &filtered(Some(&a.user_id), Some(true))).await,
        [2, 1]
    );
    assert_eq!(list(&repo, &filtered(None, Some(false))).await, [3]);
}

/// `overdue: true` lists the unpaid billings due strictly before the query's `now`,
/// `overdue: false` all the others.
pub async fn billings_are_filtered_by_overdue_as_judged_at_the_query_instant<R: Repository>(
    repo: R,
) {
    let u = user(1);
    create_users(&repo, [u.clone()]).await;
    let id = &u.user_id;
    create(&repo, draft(1, id, "2025-10-01", "2025-10-10")).await;
    create(
        &repo,
        paid(draft(2, id, "2025-10-02", "2025-10-10"), "2025-10-09"),
    )
    .await;
    create(&repo, draft(3, id, "2025-10-03", "2025-10-15T00:00:00Z")).await;
    create(&repo, draft(4, id, "2025-10-04", "2025-10-20")).await;
    create(
        &repo,
        draft(5, id, "2025-10-05", "2025-10-14T23:59:59.999Z"),
    )
    .await;

    let overdue = |now: &str, overdue: bool, is_paid: Option<bool>| {
        let mut q = query(now);
        q.overdue = Some(overdue);
        q.is_paid = is_paid;
        q
    };
    assert_eq!(
        list(&repo, &overdue("2025-10-15", true, None)).await,
        [5, 1]
    );
    assert_eq!(
        list(&repo, &overdue("2025-10-15", false, None)).await,
        [4, 3, 2]
    );
    assert_eq!(
        list(&repo, &overdue("2025-10-15", false, Some(false))).await,
        [4, 3]
    );
    assert_eq!(
        list(&repo, &overdue("2025-10-21", true, None)).await,
        [5, 4, 3, 1]
    );
    assert_eq!(
        list(&repo, &overdue("2025-10-01", true, None)).await,
        Vec::<u32>::new()
    );
}

/// `dueBefore` keeps billings due strictly before it; `dueAfter` those due at or after it.
pub async fn billings_are_filtered_by_due_date_before_exclusive_and_after_inclusive<
    R: Repository,
>(
    repo: R,
) {
    let u = user(1);
    create_users(&repo, [u.clone()]).await;
    let dues = [
        "2025-10-01",
        "2025-10-10",
        "2025-10-15",
        "2025-10-20",
        "2025-10-10T00:00:00.001Z",
    ];
    for (n, due) in (1..).zip(dues) {
        create(&repo, draft(n, &u.user_id, &format!("2025-09-0{n}"), due)).await;
    }
    let due = |before: Option<&str>, after: Option<&str>| {
        let mut q = query("2025-10-01");
        q.due_before = before.map(t);
        q.due_after = after.map(t);
        q
    };
    assert_eq!(list(&repo, &due(Some("2025-10-10"), None)).await, [1]);
    assert_eq!(
        list(&repo, &due(None, Some("2025-10-10"))).await,
        [5, 4, 3, 2]
    );
    assert_eq!(
        list(&repo, &due(Some("2025-10-15"), Some("2025-10-10"))).await,
        [5, 2]
    );
    assert_eq!(
        list(&repo, &due(Some("2025-10-10"), Some("2025-10-10"))).await,
        Vec::<u32>::new()
    );
    let one_ms_later = "2025-10-10T00:00:00.001Z";
    assert_eq!(list(&repo, &due(Some(one_ms_later), None)).await, [2, 1]);
    assert_eq!(list(&repo, &due(None, Some(one_ms_later))).await, [5, 4, 3]);
}

/// `page` pages the matching billings in list order with their total; past the end is empty.
pub async fn billings_are_paged_by_page_number_with_the_total_of_matching_billings<
    R: Repository,
>(
    repo: R,
) {
    let (a, b) = (user(1), user(2));
    create_users(&repo, [a.clone(), b.clone()]).await;
    for n in 1..=9 {
        let owner = if n == 2 || n == 5 { &b } else { &a };
        create(
            &repo,
            draft(n, &owner.user_id, &format!("2025-10-0{n}"), "2025-11-01"),
        )
        .await;
    }
    let mut of_a = query("2025-10-10");
    of_a.user_id = Some(a.user_id.clone());
    let expected: [(u32, &[u32], bool); 4] = [
        (1, &[9, 8, 7], true),
        (2, &[6, 4, 3], true),
        (3, &[1], false),
        (4, &[], false),
    ];
    for (number, items, more) in expected {
        let q = with_page(of_a.clone(), 3, page_number(number));
        let listing = repo.list_billings(&q).await.expect("listed");
        assert_eq!(ns(&listing.items), items, "page {number}");
        assert_eq!(listing.total, Some(7), "page {number}");
        let next = more
            .then(|| listing.items.last().map(BillingCursor::of))
            .flatten();
        assert_eq!(listing.next, next, "page {number}");
    }
    let all = repo
        .list_billings(&with_page(query("2025-10-10"), Limit::MAX, page_number(1)))
        .await
        .expect("listed");
    assert_eq!((all.items.len(), all.total, all.next), (9, Some(9), None));
}

/// Following `next` cursors walks every billing once; a cursor whose billing has been deleted
/// since still starts right after where that billing was.
pub async fn billings_are_paged_by_cursor_even_when_the_cursor_billing_was_deleted<
    R: Repository,
>(
    repo: R,
) {
    let u = user(1);
    create_users(&repo, [u.clone()]).await;
    for n in 1..=5 {
        create(
            &repo,
            draft(n, &u.user_id, &format!("2025-10-0{n}"), "2025-11-01"),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut position = page_number(1);
    loop {
        let listing = repo
            .list_billings(&with_page(query("2025-10-10"), 2, position))
            .await
            .expect("listed");
        seen.extend(ns(&listing.items));
        match listing.next {
            Some(cursor) => position = Position::After(cursor),
            None => break,
        }
    }
    assert_eq!(seen, [5, 4, 3, 2, 1]);

    let fourth = find(&repo, &seq(4)).await.expect("billing 4 exists");
    let cursor = BillingCursor::of(&fourth);
    repo.delete_billing(&seq(4), t("2025-10-20"))
        .await
        .expect("deleted");
    let listing = repo
        .list_billings(&with_page(query("2025-10-10"), 2, Position::After(cursor)))
        .await
        .expect("listed");
    assert_eq!(ns(&listing.items), [3, 2]);
    assert_eq!(listing.total, None);
    assert_eq!(listing.next, listing.items.last().map(BillingCursor::of));
}

/// A page number with a cursor is the n-th page after the cursor's billing, filtered as any
/// page is, and counts the total of every matching billing, as page-numbered requests do.
pub async fn a_page_number_after_a_billing_cursor_skips_whole_pages_past_it<R: Repository>(
    repo: R,
) {
    let (a, b) = (user(1), user(2));
    create_users(&repo, [a.clone(), b.clone()]).await;
    for n in 1..=7 {
        create(
            &repo,
            draft(n, &a.user_id, &format!("2025-10-0{n}"), "2025-11-01"),
        )
        .await;
    }
    create(&repo, draft(8, &b.user_id, "2025-10-08", "2025-11-01")).await;
    let mut q = query("2025-10-10");
    q.user_id = Some(a.user_id.clone());
    let cursor = BillingCursor::of(&find(&repo, &seq(6)).await.expect("billing 6 exists"));
    let at = |n| Position::PageAfter(cursor, NonZeroU32::new(n).expect("from 1"));
    let first = repo
        .list_billings(&with_page(q.clone(), 2, at(1)))
        .await
        .expect("listed");
    assert_eq!((ns(&first.items), first.total), (vec![5, 4], Some(7)));
    let second = repo
        .list_billings(&with_page(q.clone(), 2, at(2)))
        .await
        .expect("listed");
    assert_eq!(ns(&second.items), [3, 2]);
    assert_eq!(second.next, second.items.last().map(BillingCursor::of));
    let third = repo
        .list_billings(&with_page(q.clone(), 2, at(3)))
        .await
        .expect("listed");
    assert_eq!((ns(&third.items), third.next), (vec![1], None));
    let past = repo
        .list_billings(&with_page(q, 2, at(4)))
        .await
        .expect("listed");
    assert_eq!((past.items.len(), past.total), (0, Some(7)));
}

/// Payment changes keep `isPaid` and `paymentDate` together: paying sets a date, unpaying clears
/// it, settling a paid billing changes nothing; `updated_at` moves only when something changed.
pub async fn a_billing_update_keeps_is_paid_and_the_payment_date_consistent<R: Repository>(
    repo: R,
) {
    let u = user(1);
    create_users(&repo, [u.clone()]).await;
    let original = create(&repo, draft(1, &u.user_id, "2025-10-01", "2025-10-15")).await;
    let id = &original.billing_id;
    let update = async |payment: PaymentChange, now: Timestamp| {
        let patch = BillingPatch {
            payment,
            ..BillingPatch::default()
        };
        let updated = repo.update_billing(id, patch, now).await.expect("updated");
        assert_eq!(find(&repo, id).await.as_ref(), Some(&updated));
        updated
    };

    let (n1, d1) = (t("2025-10-05T10:00:00Z"), t("2025-10-04"));
    let b = update(PaymentChange::Pay { date: Some(d1) }, n1).await;
    assert_eq!((b.payment, b.updated_at), (Payment::paid(d1), n1));
    let b = update(PaymentChange::Pay { date: None }, t("2025-10-06")).await;
    assert_eq!((b.payment, b.updated_at), (Payment::paid(d1), n1));
    let b = update(
        PaymentChange::Settle {
            date: Some(t("2025-10-07")),
        },
        t("2025-10-07"),
    )
    .await;
    assert_eq!((b.payment, b.updated_at), (Payment::paid(d1), n1));

    let n3 = t("2025-10-08");
    let b = update(PaymentChange::Unpay, n3).await;
    assert_eq!((b.payment, b.updated_at), (Payment::UNPAID, n3));
    let n4 = t("2025-10-09T11:22:33.444Z");
    let b = update(PaymentChange::Settle { date: None }, n4).await;
    assert_eq!((b.payment, b.updated_at), (Payment::paid(n4), n4));

    let n5 = t("2025-10-10");
    let patch = BillingPatch {
        due_date: Change::To(Some(t("2025-10-31"))),
        total_invoice: Change::To(Some(Number::Int(7))),
        service_id: Change::To(Some(text("svc-new"))),
        ..BillingPatch::default()
    };
    let b = repo.update_billing(id, patch, n5).await.expect("updated");
    assert_eq!(b.payment, Payment::paid(n4));
    assert_eq!(
        (b.due_date, b.total_invoice, b.service_id.clone()),
        (
            Some(t("2025-10-31")),
            Some(Number::Int(7)),
            Some(text("svc-new"))
        )
    );
    assert_eq!(
        (b.created_at, b.updated_at, &b.phone),
        (original.created_at, n5, &original.phone)
    );
    assert_eq!(find(&repo, id).await, Some(b));
}

/// Updating a billing that does not exist is `NotFound` and stores nothing.
pub async fn updating_a_missing_billing_is_not_found<R: Repository>(repo: R) {
    let u = user(1);
    create_users(&repo, [u.clone()]).await;
    create(&repo, draft(1, &u.user_id, "2025-10-01", "2025-10-15")).await;
    for missing in [seq(2), BillingId::parse("bill-1").expect("valid")] {
        let result = repo
            .update_billing(&missing, BillingPatch::settle(None), t("2025-10-02"))
            .await;
        assert!(
            matches!(result, Err(UpdateBillingError::NotFound)),
            "expected NotFound, got {result:?}"
        );
        assert_eq!(find(&repo, &missing).await, None);
    }
}

/// A patch echoing a changed server-set value is refused with `Immutable` naming the field, and
/// none of its other changes are stored; the same values echoed unchanged are accepted.
pub async fn an_update_that_changes_a_server_set_billing_value_is_refused_and_changes_nothing<
    R: Repository,
>(
    repo: R,
) {
    let u = user(1);
    create_users(&repo, [u.clone()]).await;
    let stored = create(&repo, draft(1, &u.user_id, "2025-10-01", "2025-10-15")).await;
    let echo = |set: fn(&mut BillingEcho)| {
        let mut e = BillingEcho::default();
        set(&mut e);
        e
    };
    let echoes = [
        (echo(|e| e.id = Some(billing_oid(99))), "_id"),
        (echo(|e| e.billing_id = Some(seq(42))), "billingId"),
        (echo(|e| e.user_id = Some(uid("other"))), "userId"),
        (
            echo(|e| e.generation_date = Some(t("2025-01-01"))),
            "generationDate",
        ),
        (echo(|e| e.created_at = Some(t("2025-01-01"))), "createdAt"),
        (echo(|e| e.phone = Some(phone("+1", 5_550_000))), "phone"),
    ];
    for (echo, field) in echoes {
        let patch = BillingPatch {
            due_date: Change::To(Some(t("2025-12-01"))),
            payment: PaymentChange::Pay { date: None },
            echo,
            ..BillingPatch::default()
        };
        let result = repo
            .update_billing(&stored.billing_id, patch, t("2025-10-02"))
            .await;
        assert!(
            matches!(&result, Err(UpdateBillingError::Patch(PatchError::Immutable(ImmutableField { field: f }))) if *f == field),
            "expected Immutable({field}), got {result:?}"
        );
        assert_eq!(
            find(&repo, &stored.billing_id).await.as_ref(),
            Some(&stored)
        );
    }
    let same = BillingPatch {
        due_date: Change::To(Some(t("2025-12-01"))),
        echo: BillingEcho {
            id: Some(stored.id),
            billing_id: Some(stored.billing_id.clone()),
            user_id: Some(stored.user_id.clone()),
            generation_date: Some(stored.generation_date),
            created_at: Some(stored.created_at),
            phone: Some(stored.phone.clone()),
        },
        ..BillingPatch::default()
    };
    let updated = repo
        .update_billing(&stored.billing_id, same, t("2025-10-02"))
        .await
        .expect("updated");
    assert_eq!(updated.due_date, Some(t("2025-12-01")));
}

/// A deleted billing is no longer found nor listed; deleting it again, or deleting a billing
/// that never existed, is `NotFound`. Its user stays.
pub async fn a_deleted_billing_is_gone_and_deleting_it_again_is_not_found<R: Repository>(repo: R) {
    let u = user(1);
    create_users(&repo, [u.clone()]).await;
    create(&repo, draft(1, &u.user_id, "2025-10-01", "2025-10-15")).await;
    create(&repo, draft(2, &u.user_id, "2025-10-02", "2025-10-15")).await;
    repo.delete_billing(&seq(1), t("2025-10-20"))
        .await
        .expect("deleted");
    assert_eq!(find(&repo, &seq(1)).await, None);
    assert_eq!(list(&repo, &query("2025-10-10")).await, [2]);
    for missing in [seq(1), seq(99)] {
        let result = repo.delete_billing(&missing, t("2025-10-20")).await;
        assert!(
            matches!(result, Err(DeleteBillingError::NotFound)),
            "expected NotFound, got {result:?}"
        );
    }
    assert_eq!(repo.find_user(&key(&u)).await.expect("found"), Some(u));
}

/// 200 billings created concurrently, interleaved with refused ones for a suspended user, get
/// the 200 numbers `000000001` to `000000200`, each once; the refused ones consume none.
pub async fn two_hundred_concurrent_billings_get_two_hundred_consecutive_numbers<R: Repository>(
    repo: R,
) {
    let (active, suspended) = (user(1), inactive_user(2));
    create_users(&repo, [active.clone(), suspended.clone()]).await;
    let drafts = (1..=240).map(|n| {
        let owner = if n % 6 == 0 { &suspended } else { &active };
        draft(n, &owner.user_id, "2025-10-01T00:00:00Z", "2025-10-15")
    });
    let results = join_all(drafts.map(|d| repo.create_billing(d)).collect()).await;

    let mut numbers = BTreeSet::new();
    let mut refused = 0;
    for result in results {
        match result {
            Ok(b) => assert!(
                numbers.insert(b.billing_id.clone()),
                "{} given twice",
                b.billing_id
            ),
            Err(CreateBillingError::UserInactive(_)) => refused += 1,
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!(refused, 40);
    let expected: BTreeSet<BillingId> = (1..=200).map(seq).collect();
    assert_eq!(numbers, expected);
    let all = repo
        .list_billings(&with_page(query("2025-10-10"), Limit::MAX, page_number(1)))
        .await
        .expect("listed");
    assert_eq!(all.total, Some(200));
    assert_eq!(
        create(
            &repo,
            draft(241, &active.user_id, "2025-10-02", "2025-10-15")
        )
        .await
        .billing_id,
        seq(201)
    );
}

/// What the system of record stored is kept as it is: a billing without `serviceId` or
/// `totalInvoice`, a fractional negative amount, a numeric `serviceId`, and payment states this
/// service would not make (paid without a date, unpaid with one) read back exactly, from
/// `find_billing` and from lists, and filter by what they say (`isPaid`).
pub async fn recorded_billing_values_read_back_exactly_as_stored<R: Repository>(repo: R) {
    let u = User {
        phone: Phone {
            code_number: Some(text("57")),
            phone_number: Some(Scalar::Number(Number::Int(0))),
        },
        ..user(1)
    };
    create_users(&repo, [u.clone()]).await;
    let bare = BillingDraft {
        service_id: None,
        total_invoice: None,
        ..draft(1, &u.user_id, "2025-10-01", "2025-10-15")
    };
    let odd = BillingDraft {
        service_id: Some(Scalar::Number(Number::Int(7))),
        total_invoice: Some(Number::Float(-1250.75)),
        payment: Payment {
            is_paid: true,
            date: None,
        },
        ..draft(2, &u.user_id, "2025-10-02", "2025-10-15")
    };
    let dated = BillingDraft {
        payment: Payment {
            is_paid: false,
            date: Some(t("2025-10-03T04:05:06.007Z")),
        },
        ..draft(3, &u.user_id, "2025-10-03", "2025-10-15")
    };
    let mut stored = Vec::new();
    for d in [bare, odd, dated] {
        let b = create(&repo, d.clone()).await;
        assert_eq!(
            (&b.service_id, b.total_invoice, b.payment, &b.phone),
            (&d.service_id, d.total_invoice, d.payment, &u.phone)
        );
        assert_eq!(find(&repo, &b.billing_id).await.as_ref(), Some(&b));
        stored.push(b);
    }
    let listed = repo
        .list_billings(&query("2025-10-20"))
        .await
        .expect("listed");
    assert_eq!(
        listed.items,
        stored.iter().rev().cloned().collect::<Vec<_>>()
    );
    assert_eq!(listed.skipped, 0);
    let mut paid = query("2025-10-20");
    paid.is_paid = Some(true);
    assert_eq!(list(&repo, &paid).await, [2]);
    paid.is_paid = Some(false);
    assert_eq!(list(&repo, &paid).await, [3, 1]);
}

/// An update of a billing whose stored values break today's rules changes only what it names,
/// and a refused value echoed back unchanged passes: the rest stays exactly as stored.
pub async fn an_update_of_a_recorded_billing_changes_only_what_it_names<R: Repository>(repo: R) {
    let u = user(1);
    create_users(&repo, [u.clone()]).await;
    let odd = create(
        &repo,
        BillingDraft {
            service_id: None,
            total_invoice: Some(Number::Float(-0.5)),
            payment: Payment {
                is_paid: false,
                date: Some(t("2025-10-03")),
            },
            ..draft(1, &u.user_id, "2025-10-01", "2025-10-15")
        },
    )
    .await;
    let echo = BillingPatch {
        total_invoice: Change::EchoOnly {
            value: Some(Number::Float(-0.5)),
            problem: "must be a non-negative integer".to_owned(),
        },
        payment: PaymentChange::EchoOnly {
            payment: odd.payment,
            problem: "a paymentDate cannot be given with isPaid false".to_owned(),
        },
        due_date: Change::To(Some(t("2025-11-15"))),
        ..BillingPatch::default()
    };
    let updated = repo
        .update_billing(&odd.billing_id, echo, t("2025-10-05"))
        .await
        .expect("an echo of stored values passes");
    assert_eq!(
        updated,
        Billing {
            due_date: Some(t("2025-11-15")),
            updated_at: t("2025-10-05"),
            ..odd.clone()
        }
    );
    let change = BillingPatch {
        total_invoice: Change::EchoOnly {
            value: Some(Number::Float(-1.5)),
            problem: "must be a non-negative integer".to_owned(),
        },
        due_date: Change::To(Some(t("2025-12-15"))),
        ..BillingPatch::default()
    };
    let result = repo
        .update_billing(&odd.billing_id, change, t("2025-10-06"))
        .await;
    assert!(
        matches!(&result, Err(UpdateBillingError::Patch(PatchError::Invalid(p))) if p[0].field == "totalInvoice"),
        "expected an invalid totalInvoice, got {result:?}"
    );
    assert_eq!(find(&repo, &odd.billing_id).await, Some(updated));
}

/// `scan_billings` walks every billing in `_id` (insertion) order, a page at a time, whatever
/// their generation dates, and ends with no cursor.
pub async fn every_billing_is_scanned_in_insertion_order_a_page_at_a_time<R: Repository>(repo: R) {
    let (a, b) = (user(1), user(2));
    create_users(&repo, [a.clone(), b.clone()]).await;
    let dates = [
        "2025-10-05",
        "2025-10-01",
        "2025-10-09",
        "2025-10-01",
        "2025-10-03",
    ];
    for (i, generated) in dates.iter().enumerate() {
        let n = u32::try_from(i).expect("few") + 1;
        let owner = if n % 2 == 0 { &b } else { &a };
        create(&repo, draft(n, &owner.user_id, generated, "2025-10-20")).await;
    }
    let limit = Limit::new(2).expect("a valid limit");
    let mut after = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = repo.scan_billings(after, limit).await.expect("scanned");
        assert!(
            page.items.len() <= 2,
            "at most a page: {:?}",
            ns(&page.items)
        );
        seen.extend(ns(&page.items));
        pages += 1;
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, [1, 2, 3, 4, 5]);
    assert_eq!(pages, 3);
    let none = repo
        .scan_billings(Some(billing_oid(5)), limit)
        .await
        .expect("scanned");
    assert!(none.items.is_empty() && none.next.is_none());
}
