//! The contract of [`BillingEventRepository`](crate::BillingEventRepository): every change of a
//! billing records its event in the same write, the relay's queue gives them in order, each
//! billing keeps its history, and overdue is recorded once per due date.

use std::collections::BTreeSet;
use std::num::NonZeroU32;

use super::{draft, inactive_user, join_all, seq, t, uid, user};
use crate::error::{CreateBillingError, UpdateBillingError};
use crate::model::{
    Billing, BillingEvent, BillingEventType, BillingId, BillingPatch, Change, EventSeq, Limit,
    PageRequest, PaymentChange, Position, Timestamp,
};
use crate::ports::Repository;
use crate::testing::contract::{Feed, created};

use BillingEventType::{Created, Deleted, Overdue, Paid, Unpaid, Updated};

fn limit(n: u32) -> Limit {
    Limit::new(n).expect("a valid test limit")
}

fn first(n: u32) -> PageRequest<EventSeq> {
    PageRequest {
        limit: limit(n),
        position: Position::First,
    }
}

async fn history<R: Repository>(repo: &R, id: &BillingId) -> Vec<BillingEvent> {
    repo.billing_events(id, &first(500))
        .await
        .expect("billing_events works")
        .items
}

fn kinds(events: &[BillingEvent]) -> Vec<BillingEventType> {
    events.iter().map(|e| e.kind).collect()
}

async fn queue<R: Repository>(repo: &R) -> Vec<BillingEvent> {
    repo.unpublished_events(limit(500))
        .await
        .expect("unpublished_events works")
}

/// A store with test user 1 and their billing 1 (`000000001`), unpaid, due 2025-10-15.
async fn one_billing<R: Repository>(repo: &R) -> Billing {
    repo.create_user(user(1)).await.expect("user created");
    repo.create_billing(draft(1, &uid("user-1"), "2025-10-01", "2025-10-15"))
        .await
        .expect("billing created")
}

fn due(on: &str) -> BillingPatch {
    BillingPatch {
        due_date: Change::To(Some(t(on))),
        ..BillingPatch::default()
    }
}

fn payment(change: PaymentChange) -> BillingPatch {
    BillingPatch {
        payment: change,
        ..BillingPatch::default()
    }
}

async fn update<R: Repository>(repo: &R, patch: BillingPatch, now: &str) -> Billing {
    repo.update_billing(&seq(1), patch, t(now))
        .await
        .expect("billing updated")
}

pub async fn every_change_of_a_billing_records_its_event_with_the_billing_as_it_stood<
    R: Repository,
>(
    repo: R,
) {
    let created = one_billing(&repo).await;
    let moved = update(&repo, due("2025-11-15"), "2025-10-02T00:00:00Z").await;
    let paid = update(
        &repo,
        payment(PaymentChange::Pay {
            date: Some(t("2025-10-03")),
        }),
        "2025-10-03T00:00:00Z",
    )
    .await;
    let unpaid = update(&repo, payment(PaymentChange::Unpay), "2025-10-04T00:00:00Z").await;
    let mut both = due("2025-12-15");
    both.payment = PaymentChange::Pay { date: None };
    let moved_and_paid = update(&repo, both, "2025-10-05T00:00:00Z").await;
    // Paying a paid billing, and a due date it already has, change nothing: no event.
    update(
        &repo,
        BillingPatch::settle(Some(t("2025-10-06"))),
        "2025-10-06T00:00:00Z",
    )
    .await;
    update(&repo, due("2025-12-15"), "2025-10-06T00:00:00Z").await;
    repo.delete_billing(&seq(1), t("2025-10-07T00:00:00Z"))
        .await
        .expect("deleted");

    let events = history(&repo, &seq(1)).await;
    assert_eq!(
        kinds(&events),
        [Created, Updated, Paid, Unpaid, Updated, Paid, Deleted]
    );
    let bodies: Vec<&Billing> = events.iter().map(|e| &e.billing).collect();
    assert_eq!(
        bodies,
        [
            &created,
            &moved,
            &paid,
            &unpaid,
            &moved_and_paid,
            &moved_and_paid,
            &moved_and_paid
        ],
        "each event carries the billing as the change left it (as it was, when deleted)"
    );
    let at: Vec<Timestamp> = events.iter().map(|e| e.at).collect();
    assert_eq!(
        at,
        [
            t("2025-10-01"),
            t("2025-10-02"),
            t("2025-10-03"),
            t("2025-10-04"),
            t("2025-10-05"),
            t("2025-10-05"),
            t("2025-10-07")
        ]
    );
    let seqs: Vec<EventSeq> = events.iter().map(|e| e.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let ids: BTreeSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), events.len(), "every event has its own id");
    assert!(events.iter().all(|e| e.published_at.is_none()));
    assert_eq!(queue(&repo).await, events, "all of them wait for the relay");
}

pub async fn a_refused_or_failed_change_records_no_event<R: Repository>(repo: R) {
    one_billing(&repo).await;
    repo.create_user(inactive_user(2))
        .await
        .expect("user created");
    let refused = repo
        .create_billing(draft(2, &uid("user-2"), "2025-10-01", "2025-10-15"))
        .await;
    assert!(
        matches!(refused, Err(CreateBillingError::UserInactive(_))),
        "{refused:?}"
    );
    let mut patch = due("2025-11-01");
    patch.echo.billing_id = Some(seq(9));
    let refused = repo.update_billing(&seq(1), patch, t("2025-10-02")).await;
    assert!(
        matches!(refused, Err(UpdateBillingError::Patch(_))),
        "{refused:?}"
    );
    assert!(repo.delete_billing(&seq(5), t("2025-10-02")).await.is_err());
    assert_eq!(kinds(&queue(&repo).await), [Created]);
    assert!(history(&repo, &seq(2)).await.is_empty());
}

pub async fn deleting_a_user_records_one_deleted_event_per_billing<R: Repository>(repo: R) {
    one_billing(&repo).await;
    let second = repo
        .create_billing(draft(2, &uid("user-1"), "2025-10-02", "2025-10-16"))
        .await
        .expect("billing created");
    repo.delete_user(&uid("user-1").into(), t("2025-10-05"))
        .await
        .expect("user deleted");
    let events = queue(&repo).await;
    assert_eq!(kinds(&events), [Created, Created, Deleted, Deleted]);
    let deleted: BTreeSet<&str> = events[2..]
        .iter()
        .map(|e| e.billing.billing_id.as_str())
        .collect();
    assert_eq!(deleted, BTreeSet::from(["000000001", "000000002"]));
    assert!(events[2..].iter().all(|e| e.at == t("2025-10-05")));
    assert_eq!(history(&repo, &seq(2)).await[1].billing, second);
}

pub async fn customer_events_record_the_initial_billing_and_the_deletions<R: Repository>(repo: R) {
    let feed = Feed::default();
    feed.apply(&repo, vec![created("evt-1", 1), created("evt-2", 2)])
        .await;
    let events = queue(&repo).await;
    assert_eq!(kinds(&events), [Created, Created]);
    assert_eq!(events[0].billing.billing_id, seq(1));
    assert_eq!(events[1].billing.billing_id, seq(2));
    let stored = repo.find_billing(&seq(1)).await.expect("find works");
    assert_eq!(Some(&events[0].billing), stored.as_ref());

    let mut deleted = created("evt-3", 1);
    deleted.kind = crate::model::EventType::Deleted;
    feed.apply(&repo, vec![deleted.clone()]).await;
    // A redelivery changes nothing, and records nothing either.
    feed.apply(&repo, vec![deleted, created("evt-1", 1)]).await;
    let events = queue(&repo).await;
    assert_eq!(kinds(&events), [Created, Created, Deleted]);
    assert_eq!(events[2].billing.billing_id, seq(1));
}

pub async fn the_queue_gives_unpublished_events_in_order_until_they_are_marked<R: Repository>(
    repo: R,
) {
    one_billing(&repo).await;
    for day in 2..=5 {
        update(
            &repo,
            due(&format!("2025-11-0{day}")),
            &format!("2025-10-0{day}T00:00:00Z"),
        )
        .await;
    }
    let all = queue(&repo).await;
    assert_eq!(all.len(), 5);
    let two = repo
        .unpublished_events(limit(2))
        .await
        .expect("unpublished_events works");
    assert_eq!(two, all[..2]);
    repo.mark_published(&[all[0].seq, all[1].seq, all[3].seq], t("2025-10-09"))
        .await
        .expect("marked");
    let left: Vec<EventSeq> = queue(&repo).await.iter().map(|e| e.seq).collect();
    assert_eq!(left, [all[2].seq, all[4].seq]);
    // Marking again, or an unknown event, changes nothing.
    repo.mark_published(&[all[0].seq, EventSeq(u64::MAX)], t("2025-10-10"))
        .await
        .expect("marked");
    let events = history(&repo, &seq(1)).await;
    assert_eq!(events.len(), 5, "published events stay in the history");
    assert_eq!(events[0].published_at, Some(t("2025-10-09")));
    assert_eq!(events[2].published_at, None);
}

pub async fn a_history_is_paged_like_every_list_and_outlives_its_billing<R: Repository>(repo: R) {
    one_billing(&repo).await;
    for day in 2..=6 {
        update(
            &repo,
            due(&format!("2025-11-0{day}")),
            &format!("2025-10-0{day}T00:00:00Z"),
        )
        .await;
    }
    repo.delete_billing(&seq(1), t("2025-10-07"))
        .await
        .expect("deleted");
    let all = history(&repo, &seq(1)).await;
    assert_eq!(all.len(), 7);
    let page = |position| PageRequest {
        limit: limit(3),
        position,
    };
    let one = repo.billing_events(&seq(1), &first(3)).await.expect("page");
    assert_eq!(one.items, all[..3]);
    assert_eq!(one.total, None);
    let next = one.next.expect("a next page");
    let two = repo
        .billing_events(&seq(1), &page(Position::After(next)))
        .await
        .expect("page");
    assert_eq!(two.items, all[3..6]);
    let three = repo
        .billing_events(&seq(1), &page(Position::Page(NonZeroU32::new(3).unwrap())))
        .await
        .expect("page");
    assert_eq!(three.items, all[6..]);
    assert_eq!(three.total, Some(7));
    assert_eq!(three.next, None);
    assert!(history(&repo, &seq(2)).await.is_empty());
}

pub async fn overdue_is_recorded_once_per_due_date_and_again_when_it_moves<R: Repository>(repo: R) {
    one_billing(&repo).await;
    repo.create_billing(draft(2, &uid("user-1"), "2025-10-01", "2025-10-30"))
        .await
        .expect("billing created");
    let paid = repo
        .create_billing(draft(3, &uid("user-1"), "2025-10-01", "2025-10-10"))
        .await
        .expect("billing created");
    repo.update_billing(
        &paid.billing_id,
        BillingPatch::settle(None),
        t("2025-10-02"),
    )
    .await
    .expect("paid");
    assert_eq!(
        overdue(&repo, limit(100), "2025-10-15").await,
        0,
        "due is not yet past"
    );
    assert_eq!(overdue(&repo, limit(100), "2025-10-16").await, 1);
    assert_eq!(
        overdue(&repo, limit(100), "2025-10-17").await,
        0,
        "once per due date"
    );
    let events = history(&repo, &seq(1)).await;
    assert_eq!(kinds(&events), [Created, Overdue]);
    assert_eq!(events[1].at, t("2025-10-16"));
    assert_eq!(events[1].billing.due_date, Some(t("2025-10-15")));

    update(&repo, due("2025-10-20"), "2025-10-17T00:00:00Z").await;
    assert_eq!(overdue(&repo, limit(100), "2025-10-18").await, 0);
    assert_eq!(
        overdue(&repo, limit(100), "2025-10-21").await,
        1,
        "the new due date passed"
    );
    assert_eq!(
        overdue(&repo, limit(100), "2025-10-31").await,
        1,
        "billing 2's turn"
    );
    assert_eq!(overdue(&repo, limit(100), "2025-11-30").await, 0);
    assert_eq!(
        kinds(&history(&repo, &seq(1)).await),
        [Created, Overdue, Updated, Overdue]
    );
    assert_eq!(kinds(&history(&repo, &seq(2)).await), [Created, Overdue]);
    assert_eq!(kinds(&history(&repo, &seq(3)).await), [Created, Paid]);
}

async fn overdue<R: Repository>(repo: &R, limit: Limit, now: &str) -> u64 {
    repo.record_overdue(t(now), limit)
        .await
        .expect("record_overdue works")
}

pub async fn overdue_takes_at_most_the_limit_oldest_due_date_first<R: Repository>(repo: R) {
    repo.create_user(user(1)).await.expect("user created");
    for (n, due) in [(1, "2025-10-13"), (2, "2025-10-11"), (3, "2025-10-12")] {
        repo.create_billing(draft(n, &uid("user-1"), "2025-10-01", due))
            .await
            .expect("billing created");
    }
    let now = t("2025-10-20");
    assert_eq!(repo.record_overdue(now, limit(2)).await.expect("works"), 2);
    assert_eq!(repo.record_overdue(now, limit(2)).await.expect("works"), 1);
    let overdue: Vec<BillingId> = queue(&repo)
        .await
        .into_iter()
        .filter(|e| e.kind == Overdue)
        .map(|e| e.billing.billing_id)
        .collect();
    assert_eq!(overdue, [seq(2), seq(3), seq(1)]);
}

pub async fn racing_overdue_sweeps_record_each_billing_once<R: Repository>(repo: R) {
    repo.create_user(user(1)).await.expect("user created");
    for n in 1..=20 {
        repo.create_billing(draft(n, &uid("user-1"), "2025-10-01", "2025-10-15"))
            .await
            .expect("billing created");
    }
    let now = t("2025-10-20");
    let sweeps = (0..8).map(|_| repo.record_overdue(now, limit(7))).collect();
    let mut total: u64 = join_all(sweeps)
        .await
        .into_iter()
        .map(|r| r.expect("record_overdue works"))
        .sum();
    // A sweep that lost races may have left some for the next one.
    loop {
        let more = repo.record_overdue(now, limit(7)).await.expect("works");
        if more == 0 {
            break;
        }
        total += more;
    }
    let overdue: Vec<BillingId> = queue(&repo)
        .await
        .into_iter()
        .filter(|e| e.kind == Overdue)
        .map(|e| e.billing.billing_id)
        .collect();
    let unique: BTreeSet<&BillingId> = overdue.iter().collect();
    assert_eq!(overdue.len(), 20, "{overdue:?}");
    assert_eq!(unique.len(), 20);
    assert_eq!(total, 20, "the sweeps count what they recorded");
}

pub async fn pruning_removes_old_published_events_and_keeps_the_unpublished<R: Repository>(
    repo: R,
) {
    one_billing(&repo).await;
    update(&repo, due("2025-11-01"), "2025-10-05T00:00:00Z").await;
    update(&repo, due("2025-11-02"), "2025-10-10T00:00:00Z").await;
    let all = queue(&repo).await;
    repo.mark_published(&[all[0].seq, all[2].seq], t("2025-10-11"))
        .await
        .expect("marked");
    let pruned = repo
        .prune_events(t("2025-10-10T00:00:00Z"), false)
        .await
        .expect("pruned");
    assert_eq!(pruned, 1, "only the published event before the cutoff");
    let left: Vec<EventSeq> = history(&repo, &seq(1))
        .await
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(left, [all[1].seq, all[2].seq]);
    let pruned = repo
        .prune_events(t("2025-10-10T00:00:00Z"), true)
        .await
        .expect("pruned");
    assert_eq!(
        pruned, 1,
        "with nothing to publish them, the unpublished too"
    );
    assert_eq!(kinds(&history(&repo, &seq(1)).await), [Updated]);
}

pub async fn a_lease_is_held_by_one_holder_until_it_expires<R: Repository>(repo: R) {
    let lease = |holder: &'static str, now: &'static str, until: &'static str| {
        let repo = &repo;
        async move {
            repo.acquire_lease("relay", holder, t(now), t(until))
                .await
                .expect("acquire_lease works")
        }
    };
    assert!(lease("a", "2025-10-01T00:00:00Z", "2025-10-01T00:00:10Z").await);
    assert!(!lease("b", "2025-10-01T00:00:05Z", "2025-10-01T00:00:15Z").await);
    assert!(
        lease("a", "2025-10-01T00:00:08Z", "2025-10-01T00:00:18Z").await,
        "renewed"
    );
    assert!(!lease("b", "2025-10-01T00:00:17Z", "2025-10-01T00:00:27Z").await);
    assert!(
        lease("b", "2025-10-01T00:00:19Z", "2025-10-01T00:00:29Z").await,
        "taken over"
    );
    assert!(!lease("a", "2025-10-01T00:00:20Z", "2025-10-01T00:00:30Z").await);
    // Other leases are independent.
    assert!(
        repo.acquire_lease(
            "sweep",
            "a",
            t("2025-10-01T00:00:20Z"),
            t("2025-10-01T00:00:30Z")
        )
        .await
        .expect("acquire_lease works")
    );
    // Racing holders: exactly one wins a free lease.
    let won = join_all(
        ["c", "d", "e", "f"]
            .into_iter()
            .map(|h| repo.acquire_lease("race", h, t("2025-10-02"), t("2025-10-03")))
            .collect(),
    )
    .await;
    let winners = won
        .into_iter()
        .filter(|w| *w.as_ref().expect("works"))
        .count();
    assert_eq!(winners, 1);
}
