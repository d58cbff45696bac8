//! The storage operations each use case costs, for adapters whose every operation is a round
//! trip to a server (MongoDB). A machine's speed changes none of these counts, so a test can
//! hold an adapter to a budget where a timing could not.

use super::contract::{Feed, created, draft, seq, t, user};
use crate::model::{BillingPatch, BillingQuery, Position, UserKey};
use crate::ports::Repository;

/// Operations per use case, as counted by the adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundTrips {
    /// `POST /api/billings`: one billing for an active user.
    pub create_billing: u64,
    /// `GET /api/billings/:billingId`.
    pub find_billing: u64,
    /// `GET /api/users/:userId/billings`: the user, then the first page of their billings.
    pub user_billings: u64,
    /// `POST /api/billings/:billingId/pay`.
    pub pay_billing: u64,
    /// `DELETE /api/users/:userId` of a user with billings.
    pub delete_user: u64,
    /// [`EVENTS`] `Customer.Created` events for new users, in one batch.
    pub created_events: u64,
}

/// How many events [`RoundTrips::created_events`] counts.
pub const EVENTS: u32 = 500;

/// Measures each use case once on `repo`, a fresh store; `operations` says how many the store
/// has made so far. A first creation beforehand takes what happens once per store (indexes,
/// the counter) out of the counts.
///
/// # Panics
/// When a use case fails.
pub async fn measure<R: Repository>(repo: &R, operations: impl Fn() -> u64) -> RoundTrips {
    let owner = user(1);
    repo.create_user(owner.clone())
        .await
        .expect("create a user");
    let generated = "2025-10-01T10:00:00Z";
    let due = "2025-10-15T10:00:00Z";
    repo.create_billing(draft(1, &owner.user_id, generated, due))
        .await
        .expect("the first billing");
    let count = async |work: std::pin::Pin<Box<dyn Future<Output = ()> + '_>>| {
        let before = operations();
        work.await;
        operations() - before
    };
    let create_billing = count(Box::pin(async {
        repo.create_billing(draft(2, &owner.user_id, generated, due))
            .await
            .expect("a billing");
    }))
    .await;
    let find_billing = count(Box::pin(async {
        repo.find_billing(&seq(2))
            .await
            .expect("find")
            .expect("the billing is there");
    }))
    .await;
    let user_billings = count(Box::pin(async {
        let key = UserKey::from(owner.user_id.clone());
        let found = repo.find_user(&key).await.expect("find").expect("the user");
        let mut query = BillingQuery::new(t(generated));
        query.user_id = Some(found.user_id);
        // As the API asks for a first page: without a total.
        query.page.position = Position::First;
        let page = repo.list_billings(&query).await.expect("list");
        assert_eq!(page.items.len(), 2);
    }))
    .await;
    let pay_billing = count(Box::pin(async {
        repo.update_billing(&seq(2), BillingPatch::settle(None), t(due))
            .await
            .expect("pay");
    }))
    .await;
    let delete_user = count(Box::pin(async {
        let deleted = repo
            .delete_user(&UserKey::from(owner.user_id.clone()), t(due))
            .await
            .expect("delete");
        assert_eq!(deleted, 2);
    }))
    .await;
    let events = (0..EVENTS)
        .map(|n| created(&format!("evt-{n}"), 100 + n))
        .collect();
    let feed = Feed::default();
    let created_events = count(Box::pin(async {
        let outcomes = feed.apply(repo, events).await;
        assert!(outcomes.iter().all(|o| o == "applied"), "{outcomes:?}");
    }))
    .await;
    RoundTrips {
        create_billing,
        find_billing,
        user_billings,
        pay_billing,
        delete_user,
        created_events,
    }
}

/// Test user 1, active.
pub fn sample_user() -> crate::model::User {
    user(1)
}

/// An unpaid billing draft for [`sample_user`].
pub fn sample_draft() -> crate::model::BillingDraft {
    draft(
        1,
        &user(1).user_id,
        "2025-10-01T10:00:00Z",
        "2025-10-15T10:00:00Z",
    )
}
