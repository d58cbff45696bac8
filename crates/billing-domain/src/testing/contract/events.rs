//! The contract of [`EventRepository`](crate::EventRepository): customer events take the effect
//! [`decide`] gives them, in order, each exactly once.
//!
//! Every batch goes through `apply_events` with the decision the service makes
//! (`BillingService::apply_events`): [`decide`] with a fixed `now`, the default
//! [`EventDefaults`] and `SeqIds`, so that a failing contract fails the same way every time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use super::{draft, phone, seq, t, text, uid, user};
use crate::decide::{DecisionContext, EventDefaults, decide};
use crate::model::{
    Address, AddressPatch, Amount, Billing, BillingId, BillingQuery, Change, CustomerEvent,
    DocumentId, EventType, InitialBilling, MessageId, Name, Number, Payment, Phone, PhonePatch,
    Scalar, ServiceId, User, UserEcho, UserId, UserKey, UserPatch, UserQuery,
};
use crate::ports::{IdGenerator, Repository};

/// When a batch is decided, unless a test says otherwise.
const NOW: &str = "2025-10-01T10:00:00.250Z";
/// [`NOW`] plus the default 14 days: the default `dueDate` of an initial billing.
const DUE: &str = "2025-10-15T10:00:00.250Z";
/// Later instants, for batches that come after the first one.
const LATER: &str = "2025-10-02T09:30:00.500Z";
const LATEST: &str = "2025-10-03T18:45:00.750Z";

/// A deterministic [`IdGenerator`]: ObjectIds `67 00.. n` for n = 1, 2, ... (they grow, like
/// real ones, and differ from the test data's), and `userId`s `gen-1`, `gen-2`, ...
#[derive(Debug, Default)]
struct SeqIds {
    documents: AtomicU32,
    users: AtomicU32,
}

impl IdGenerator for SeqIds {
    fn document_id(&self) -> DocumentId {
        let n = self.documents.fetch_add(1, Ordering::Relaxed) + 1;
        let mut bytes = [0u8; 12];
        bytes[0] = 0x67;
        bytes[8..].copy_from_slice(&n.to_be_bytes());
        DocumentId::from_bytes(bytes)
    }

    fn user_id(&self) -> UserId {
        let n = self.users.fetch_add(1, Ordering::Relaxed) + 1;
        uid(&format!("gen-{n}"))
    }
}

/// Feeds batches to a store as the service does; the ids keep growing across batches.
#[derive(Debug, Default)]
pub(crate) struct Feed {
    ids: Arc<SeqIds>,
}

impl Feed {
    pub(crate) async fn apply<R: Repository>(
        &self,
        repo: &R,
        events: Vec<CustomerEvent>,
    ) -> Vec<String> {
        self.apply_at(repo, NOW, events).await
    }

    /// Applies `events`, decided at `now`, and returns the outcomes' names (`applied`, ...).
    async fn apply_at<R: Repository>(
        &self,
        repo: &R,
        now: &str,
        events: Vec<CustomerEvent>,
    ) -> Vec<String> {
        let count = events.len();
        let ids = Arc::clone(&self.ids);
        let now = t(now);
        let outcomes = repo
            .apply_events(events, move |event, subject| {
                let ctx = DecisionContext {
                    now,
                    ids: &*ids,
                    defaults: EventDefaults::default(),
                };
                decide(event, subject, &ctx)
            })
            .await
            .expect("apply_events works");
        assert_eq!(
            outcomes.len(),
            count,
            "one outcome per event, got {outcomes:?}"
        );
        outcomes.iter().map(|o| o.as_str().to_owned()).collect()
    }
}

fn event(id: &str, kind: EventType, user_id: &str) -> CustomerEvent {
    CustomerEvent {
        id: MessageId::parse(id).expect("a valid test message id"),
        kind,
        user_id: uid(user_id),
        profile: UserPatch::default(),
        initial_billing: InitialBilling::default(),
        timestamp: None,
    }
}

/// Every field of test user `n`, as an event payload gives them.
fn profile(n: u32) -> UserPatch {
    let u = user(n);
    UserPatch {
        name: Change::To(u.name),
        email: Change::To(u.email),
        address: AddressPatch {
            city: Change::To(u.address.city),
            country: Change::To(u.address.country),
            zip_code: Change::To(u.address.zip_code),
            address: Change::To(u.address.address),
        },
        phone: PhonePatch {
            code_number: Change::To(u.phone.code_number),
            phone_number: Change::To(u.phone.phone_number),
        },
        is_active: None,
        echo: UserEcho::default(),
    }
}

/// `Customer.Created` for test user `n` (`userId` `user-n`) with all their fields.
pub(crate) fn created(id: &str, n: u32) -> CustomerEvent {
    CustomerEvent {
        profile: profile(n),
        ..event(id, EventType::Created, &format!("user-{n}"))
    }
}

fn with(kind: EventType, id: &str, n: u32) -> CustomerEvent {
    event(id, kind, &format!("user-{n}"))
}

/// Test user `n` as an event made them at `at`, with the `_id` the store gave them.
fn as_created(n: u32, id: DocumentId, at: &str) -> User {
    User {
        id,
        created_at: t(at),
        updated_at: t(at),
        ..user(n)
    }
}

fn name(raw: &str) -> Scalar {
    Name::parse(raw).expect("a valid test name").into()
}

fn amount(value: u64) -> Number {
    Amount::new(value).expect("a valid test amount").into()
}

fn service(raw: &str) -> Scalar {
    ServiceId::parse(raw)
        .expect("a valid test serviceId")
        .into()
}

/// Initial billing `number` of `owner` with the default `serviceId` and amount, generated at
/// `generated`, due at `due`, created when its owner was, with the `_id` the store gave it.
fn initial(id: DocumentId, number: u64, owner: &User, generated: &str, due: &str) -> Billing {
    Billing {
        id,
        billing_id: seq(number),
        user_id: owner.user_id.clone(),
        generation_date: t(generated),
        due_date: Some(t(due)),
        service_id: Some(service("1")),
        total_invoice: Some(amount(100_000)),
        payment: Payment::UNPAID,
        phone: owner.phone.clone(),
        created_at: owner.created_at,
        updated_at: owner.created_at,
    }
}

async fn find_user<R: Repository>(repo: &R, n: u32) -> Option<User> {
    let key = UserKey::from(uid(&format!("user-{n}")));
    repo.find_user(&key).await.expect("find_user works")
}

async fn find_billing<R: Repository>(repo: &R, id: &BillingId) -> Option<Billing> {
    repo.find_billing(id).await.expect("find_billing works")
}

/// All users, in `_id` order (the tests store far fewer than a page).
async fn all_users<R: Repository>(repo: &R) -> Vec<User> {
    let listing = repo
        .list_users(&UserQuery::default())
        .await
        .expect("list_users works");
    assert_eq!(listing.next, None, "the test users fit in one page");
    listing.items
}

/// All billings, newest first.
async fn all_billings<R: Repository>(repo: &R) -> Vec<Billing> {
    let listing = repo
        .list_billings(&BillingQuery::new(t(NOW)))
        .await
        .expect("list_billings works");
    assert_eq!(listing.next, None, "the test billings fit in one page");
    listing.items
}

async fn billings_of<R: Repository>(repo: &R, user_id: &UserId) -> Vec<Billing> {
    let mut query = BillingQuery::new(t(NOW));
    query.user_id = Some(user_id.clone());
    repo.list_billings(&query)
        .await
        .expect("list_billings works")
        .items
}

/// `Customer.Created` for a new customer stores the user from the payload (active, created and
/// updated at the decision's `now`) and one initial billing: `billingId` `000000001`, generated
/// now (or at the envelope's timestamp, when there is one), due 14 days later, `serviceId` "1",
/// 100000, unpaid, with the user's phone.
pub async fn a_created_event_makes_the_user_and_one_initial_billing_with_the_defaults<
    R: Repository,
>(
    repo: R,
) {
    let feed = Feed::default();
    let mut stamped = created("evt-2", 2);
    stamped.timestamp = Some(t("2025-09-30T08:00:00.125Z"));
    let outcomes = feed.apply(&repo, vec![created("evt-1", 1), stamped]).await;
    assert_eq!(outcomes, ["applied", "applied"]);

    let a = find_user(&repo, 1).await.expect("user-1 is stored");
    assert_eq!(a, as_created(1, a.id, NOW));
    let b = find_user(&repo, 2).await.expect("user-2 is stored");
    assert_eq!(
        b,
        User {
            last_event_at: Some(t("2025-09-30T08:00:00.125Z")),
            ..as_created(2, b.id, NOW)
        }
    );
    assert_eq!(all_users(&repo).await, [a.clone(), b.clone()]);

    let billings = all_billings(&repo).await;
    assert_eq!(billings.len(), 2, "one initial billing each: {billings:?}");
    let expected = [
        initial(billings[0].id, 1, &a, NOW, DUE),
        initial(
            billings[1].id,
            2,
            &b,
            "2025-09-30T08:00:00.125Z",
            "2025-10-14T08:00:00.125Z",
        ),
    ];
    assert_eq!(billings, expected);
    assert_eq!(billings[0].billing_id.as_str(), "000000001");
    assert_ne!(billings[0].id, a.id);
    assert_eq!(
        find_billing(&repo, &seq(1)).await.as_ref(),
        Some(&expected[0])
    );
    assert_eq!(
        find_billing(&repo, &seq(2)).await.as_ref(),
        Some(&expected[1])
    );
}

/// The payload's `generationDate`, `dueDate`, `serviceId` and `totalInvoice` win over the
/// envelope's timestamp and the defaults; the ones it leaves out take the defaults.
pub async fn a_created_event_takes_the_initial_billing_values_its_payload_gives<R: Repository>(
    repo: R,
) {
    let feed = Feed::default();
    let mut full = created("evt-1", 1);
    full.timestamp = Some(t("2025-09-30T00:00:00Z"));
    full.initial_billing = InitialBilling {
        generation_date: Some(t("2025-09-15T12:00:00.001Z")),
        due_date: Some(t("2025-09-20")),
        service_id: Some(service("fiber-300")),
        total_invoice: Some(amount(89_900)),
    };
    let mut partial = created("evt-2", 2);
    partial.initial_billing = InitialBilling {
        service_id: Some(service("mobile-10")),
        total_invoice: Some(amount(0)),
        ..InitialBilling::default()
    };
    let outcomes = feed.apply(&repo, vec![full, partial]).await;
    assert_eq!(outcomes, ["applied", "applied"]);

    let a = find_user(&repo, 1).await.expect("user-1 is stored");
    let b = find_user(&repo, 2).await.expect("user-2 is stored");
    let first = find_billing(&repo, &seq(1)).await.expect("billing 1");
    let second = find_billing(&repo, &seq(2)).await.expect("billing 2");
    assert_eq!(
        first,
        Billing {
            service_id: Some(service("fiber-300")),
            total_invoice: Some(amount(89_900)),
            ..initial(first.id, 1, &a, "2025-09-15T12:00:00.001Z", "2025-09-20")
        }
    );
    assert_eq!(
        second,
        Billing {
            service_id: Some(service("mobile-10")),
            total_invoice: Some(amount(0)),
            ..initial(second.id, 2, &b, NOW, DUE)
        }
    );
    assert_eq!(all_billings(&repo).await, [second, first]);
}

/// A message delivered again (same id), even much later, is a `Duplicate` and changes nothing:
/// still one user as first stored and exactly one billing.
pub async fn the_same_message_twice_is_a_duplicate_the_second_time_and_bills_once<R: Repository>(
    repo: R,
) {
    let feed = Feed::default();
    let message = created("evt-1", 1);
    assert_eq!(feed.apply(&repo, vec![message.clone()]).await, ["applied"]);
    let (users, billings) = (all_users(&repo).await, all_billings(&repo).await);
    assert_eq!((users.len(), billings.len()), (1, 1));

    assert_eq!(
        feed.apply_at(&repo, LATER, vec![message]).await,
        ["duplicate"]
    );
    assert_eq!(all_users(&repo).await, users);
    assert_eq!(all_billings(&repo).await, billings);
    assert_eq!(find_billing(&repo, &seq(2)).await, None);
}

/// A batch of every kind of event, replayed whole a day later (a replay of the topic), gives a
/// `Duplicate` for every event and leaves users and billings exactly as the first pass did.
pub async fn a_batch_replayed_twice_ends_in_the_same_users_and_billings<R: Repository>(repo: R) {
    let feed = Feed::default();
    let mut billed = created("evt-b1", 2);
    billed.initial_billing.total_invoice = Some(amount(55_000));
    let mut renamed = with(EventType::Updated, "evt-a2", 1);
    renamed.profile.name = Change::To(Some(name("Customer One Renamed")));
    renamed.profile.address.city = Change::To(Some(text("Cali")));
    let mut newcomer = with(EventType::Updated, "evt-d1", 4);
    newcomer.profile = profile(4);
    let batch = vec![
        created("evt-a1", 1),
        billed,
        renamed,
        with(EventType::Suspended, "evt-b2", 2),
        created("evt-c1", 3),
        with(EventType::Deleted, "evt-c2", 3),
        newcomer,
        with(EventType::Reactivated, "evt-b3", 2),
        event("evt-x1", EventType::Suspended, "ghost"),
        created("evt-e1", 5),
    ];
    let first = feed.apply(&repo, batch.clone()).await;
    let mut expected = vec!["applied"; batch.len()];
    expected[8] = "skipped";
    assert_eq!(first, expected);
    let users = all_users(&repo).await;
    let billings = all_billings(&repo).await;
    let user_ids: Vec<&str> = users.iter().map(|u| u.user_id.as_str()).collect();
    assert_eq!(user_ids, ["user-1", "user-2", "user-4", "user-5"]);
    let mut billed: Vec<&str> = billings.iter().map(|b| b.user_id.as_str()).collect();
    billed.sort_unstable();
    assert_eq!(billed, ["user-1", "user-2", "user-5"]);

    let second = feed.apply_at(&repo, LATER, batch.clone()).await;
    assert_eq!(second, vec!["duplicate"; batch.len()]);
    assert_eq!(all_users(&repo).await, users);
    assert_eq!(all_billings(&repo).await, billings);
}

/// A user created, deleted and created again by a new message gets a new initial billing with
/// the next number (`000000002`); the first one went with the deletion. Replaying the three
/// messages afterwards changes nothing.
pub async fn a_user_created_deleted_and_created_again_gets_a_new_initial_billing<R: Repository>(
    repo: R,
) {
    let feed = Feed::default();
    assert_eq!(
        feed.apply(&repo, vec![created("evt-1", 1)]).await,
        ["applied"]
    );
    assert!(find_billing(&repo, &seq(1)).await.is_some());
    let deleted = with(EventType::Deleted, "evt-2", 1);
    assert_eq!(feed.apply(&repo, vec![deleted.clone()]).await, ["applied"]);
    assert_eq!(find_user(&repo, 1).await, None);
    assert_eq!(all_billings(&repo).await, []);

    let again = created("evt-3", 1);
    assert_eq!(
        feed.apply_at(&repo, LATER, vec![again.clone()]).await,
        ["applied"]
    );
    let u = find_user(&repo, 1).await.expect("user-1 is back");
    assert_eq!(u, as_created(1, u.id, LATER));
    let billings = all_billings(&repo).await;
    assert_eq!(billings.len(), 1, "one billing: {billings:?}");
    let expected = initial(billings[0].id, 2, &u, LATER, "2025-10-16T09:30:00.500Z");
    assert_eq!(billings, std::slice::from_ref(&expected));
    assert_eq!(billings[0].billing_id.as_str(), "000000002");
    assert_eq!(find_billing(&repo, &seq(1)).await, None);

    let replay = vec![created("evt-1", 1), deleted, again];
    assert_eq!(
        feed.apply_at(&repo, LATEST, replay).await,
        ["duplicate", "duplicate", "duplicate"]
    );
    assert_eq!(all_users(&repo).await, [u]);
    assert_eq!(all_billings(&repo).await, [expected]);
}

/// `Customer.Updated` merges what it gives into the stored user like a `PUT`: the address and
/// the phone field by field (`Some(None)` removes one), the rest kept; `updatedAt` moves,
/// `_id` and `createdAt` stay, and no billing is made.
pub async fn an_updated_event_merges_its_fields_and_the_address_field_by_field<R: Repository>(
    repo: R,
) {
    let feed = Feed::default();
    assert_eq!(
        feed.apply(&repo, vec![created("evt-1", 1)]).await,
        ["applied"]
    );
    let before = find_user(&repo, 1).await.expect("user-1 is stored");
    let billings = all_billings(&repo).await;

    let mut update = with(EventType::Updated, "evt-2", 1);
    update.profile = UserPatch {
        name: Change::To(Some(name("Ana María"))),
        email: Change::To(None),
        address: AddressPatch {
            city: Change::To(Some(text("Medellín"))),
            zip_code: Change::To(None),
            ..AddressPatch::default()
        },
        phone: PhonePatch {
            phone_number: Change::To(phone("+57", 3_209_999_999).phone_number),
            ..PhonePatch::default()
        },
        ..UserPatch::default()
    };
    assert_eq!(feed.apply_at(&repo, LATER, vec![update]).await, ["applied"]);
    let expected = User {
        name: Some(name("Ana María")),
        email: None,
        address: Address {
            city: Some(text("Medellín")),
            zip_code: None,
            ..before.address.clone()
        },
        phone: Phone {
            code_number: before.phone.code_number.clone(),
            phone_number: phone("+57", 3_209_999_999).phone_number,
        },
        updated_at: t(LATER),
        ..before.clone()
    };
    assert_eq!(find_user(&repo, 1).await, Some(expected.clone()));
    assert_eq!(all_users(&repo).await, [expected]);
    assert_eq!(all_billings(&repo).await, billings);
    assert_eq!(billings[0].phone, before.phone);
}

/// `Customer.Updated` for a user the store does not have creates them from the payload (as
/// active as it says, active when it says nothing), without a billing.
pub async fn an_updated_event_for_an_unknown_user_creates_them_without_a_billing<R: Repository>(
    repo: R,
) {
    let feed = Feed::default();
    let mut active = with(EventType::Updated, "evt-1", 1);
    active.profile = profile(1);
    let mut inactive = with(EventType::Updated, "evt-2", 2);
    inactive.profile = UserPatch {
        is_active: Some(false),
        ..profile(2)
    };
    assert_eq!(
        feed.apply(&repo, vec![active, inactive]).await,
        ["applied", "applied"]
    );
    let a = find_user(&repo, 1).await.expect("user-1 is created");
    assert_eq!(a, as_created(1, a.id, NOW));
    let b = find_user(&repo, 2).await.expect("user-2 is created");
    assert_eq!(
        b,
        User {
            is_active: false,
            ..as_created(2, b.id, NOW)
        }
    );
    assert_eq!(all_billings(&repo).await, []);
    // No sequence number went either.
    assert_eq!(
        feed.apply(&repo, vec![created("evt-3", 3)]).await,
        ["applied"]
    );
    let billings = all_billings(&repo).await;
    assert_eq!(
        billings
            .iter()
            .map(|b| b.billing_id.clone())
            .collect::<Vec<_>>(),
        [seq(1)]
    );
}

/// `Customer.Created` for a user already stored (through the API, say) merges the payload into
/// them, keeping `_id` and `createdAt`, and still makes this event's initial billing.
pub async fn a_created_event_for_an_existing_user_merges_its_payload_and_still_bills<
    R: Repository,
>(
    repo: R,
) {
    let feed = Feed::default();
    let existing = user(1);
    repo.create_user(existing.clone())
        .await
        .expect("the test user is created");
    let mut event = created("evt-1", 1);
    event.profile.name = Change::To(Some(name("Customer One, Ltd.")));
    assert_eq!(feed.apply(&repo, vec![event]).await, ["applied"]);
    let expected = User {
        name: Some(name("Customer One, Ltd.")),
        updated_at: t(NOW),
        ..existing
    };
    assert_eq!(all_users(&repo).await, std::slice::from_ref(&expected));
    let billings = all_billings(&repo).await;
    assert_eq!(billings.len(), 1, "one initial billing: {billings:?}");
    assert_eq!(
        billings[0],
        Billing {
            created_at: t(NOW),
            updated_at: t(NOW),
            ..initial(billings[0].id, 1, &expected, NOW, DUE)
        }
    );
}

/// `Customer.Suspended` sets `isActive` false and `Customer.Reactivated` true again, moving
/// `updatedAt`; neither touches the user's billings nor makes one.
pub async fn suspended_and_reactivated_events_flip_is_active<R: Repository>(repo: R) {
    let feed = Feed::default();
    assert_eq!(
        feed.apply(&repo, vec![created("evt-1", 1)]).await,
        ["applied"]
    );
    let created_user = find_user(&repo, 1).await.expect("user-1 is stored");
    let billings = all_billings(&repo).await;

    let suspended = with(EventType::Suspended, "evt-2", 1);
    assert_eq!(
        feed.apply_at(&repo, LATER, vec![suspended]).await,
        ["applied"]
    );
    let off = User {
        is_active: false,
        updated_at: t(LATER),
        ..created_user.clone()
    };
    assert_eq!(find_user(&repo, 1).await, Some(off));
    assert_eq!(all_billings(&repo).await, billings);

    let reactivated = with(EventType::Reactivated, "evt-3", 1);
    assert_eq!(
        feed.apply_at(&repo, LATEST, vec![reactivated]).await,
        ["applied"]
    );
    let on = User {
        updated_at: t(LATEST),
        ..created_user
    };
    assert_eq!(find_user(&repo, 1).await, Some(on));
    assert_eq!(all_billings(&repo).await, billings);
}

/// `Customer.Created` for a customer the payload says is suspended stores them inactive and
/// makes no billing (billings are for active users) and consumes no number.
pub async fn a_created_event_for_a_customer_suspended_in_its_payload_makes_no_billing<
    R: Repository,
>(
    repo: R,
) {
    let feed = Feed::default();
    let mut suspended = created("evt-1", 1);
    suspended.profile.is_active = Some(false);
    assert_eq!(feed.apply(&repo, vec![suspended]).await, ["applied"]);
    let u = find_user(&repo, 1).await.expect("user-1 is stored");
    assert_eq!(
        u,
        User {
            is_active: false,
            ..as_created(1, u.id, NOW)
        }
    );
    assert_eq!(all_billings(&repo).await, []);

    assert_eq!(
        feed.apply(&repo, vec![created("evt-2", 2)]).await,
        ["applied"]
    );
    let billings = all_billings(&repo).await;
    assert_eq!(billings.len(), 1, "user-2's billing only: {billings:?}");
    assert_eq!(billings[0].billing_id, seq(1));
    assert_eq!(billings[0].user_id, uid("user-2"));
}

/// `Customer.Suspended`, `.Reactivated` and `.Deleted` for a user the store does not have are
/// `Skipped` and store nothing; they are in the inbox all the same, so a redelivery is a
/// `Duplicate`.
pub async fn events_for_an_unknown_user_are_skipped_and_store_nothing<R: Repository>(repo: R) {
    let feed = Feed::default();
    let batch = vec![
        event("evt-1", EventType::Suspended, "ghost"),
        event("evt-2", EventType::Reactivated, "ghost"),
        event("evt-3", EventType::Deleted, "ghost"),
    ];
    assert_eq!(
        feed.apply(&repo, batch.clone()).await,
        ["skipped", "skipped", "skipped"]
    );
    assert_eq!(all_users(&repo).await, []);
    assert_eq!(all_billings(&repo).await, []);
    assert_eq!(
        feed.apply(&repo, batch).await,
        ["duplicate", "duplicate", "duplicate"]
    );
    assert_eq!(all_users(&repo).await, []);
}

/// `Customer.Deleted` removes the user and every billing of theirs, the initial one and those
/// made through `create_billing`, also for a user made through `create_user`; other users and
/// their billings stay.
pub async fn a_deleted_event_removes_the_user_and_all_their_billings<R: Repository>(repo: R) {
    let feed = Feed::default();
    let outcomes = feed
        .apply(&repo, vec![created("evt-1", 1), created("evt-2", 2)])
        .await;
    assert_eq!(outcomes, ["applied", "applied"]);
    let (one, two, three) = (uid("user-1"), uid("user-2"), uid("user-3"));
    repo.create_user(user(3))
        .await
        .expect("the test user is created");
    for (n, owner) in [(1, &one), (2, &one), (3, &three)] {
        repo.create_billing(draft(n, owner, "2025-10-01T11:00:00Z", "2025-10-20"))
            .await
            .expect("the test billing is created");
    }
    assert_eq!(billings_of(&repo, &one).await.len(), 3);
    let kept_user = find_user(&repo, 2).await.expect("user-2 is stored");
    let kept_billings = billings_of(&repo, &two).await;

    let deletions = vec![
        with(EventType::Deleted, "evt-3", 1),
        with(EventType::Deleted, "evt-4", 3),
    ];
    assert_eq!(
        feed.apply_at(&repo, LATER, deletions).await,
        ["applied", "applied"]
    );
    assert_eq!(find_user(&repo, 1).await, None);
    assert_eq!(find_user(&repo, 3).await, None);
    assert_eq!(billings_of(&repo, &one).await, []);
    assert_eq!(billings_of(&repo, &three).await, []);
    for n in [1, 3, 4, 5] {
        assert_eq!(find_billing(&repo, &seq(n)).await, None, "billing {n}");
    }
    assert_eq!(all_users(&repo).await, [kept_user]);
    assert_eq!(all_billings(&repo).await, kept_billings);
    assert_eq!(kept_billings.len(), 1);
}

/// A batch gives one outcome per event, in the events' order, and applies them in that order:
/// each event is decided on what the ones before it did.
pub async fn outcomes_come_back_in_order_one_per_event<R: Repository>(repo: R) {
    let feed = Feed::default();
    let mut update = with(EventType::Updated, "evt-4", 1);
    update.profile.name = Change::To(Some(name("Back Again")));
    let batch = vec![
        created("evt-1", 1),
        event("evt-2", EventType::Suspended, "ghost"),
        with(EventType::Deleted, "evt-3", 1),
        update,
        with(EventType::Suspended, "evt-5", 1),
        event("evt-6", EventType::Deleted, "ghost"),
        created("evt-7", 2),
    ];
    assert_eq!(
        feed.apply(&repo, batch).await,
        [
            "applied", "skipped", "applied", "applied", "applied", "skipped", "applied"
        ]
    );
    // Deleted, then re-created by the update without a billing, then suspended.
    let u = find_user(&repo, 1).await.expect("user-1 is stored again");
    assert_eq!(u.name, Some(name("Back Again")));
    assert_eq!((u.email, u.is_active), (None, false));
    let billings = all_billings(&repo).await;
    assert_eq!(
        billings
            .iter()
            .map(|b| (b.billing_id.clone(), b.user_id.clone()))
            .collect::<Vec<_>>(),
        [(seq(2), uid("user-2"))]
    );
}

/// A message twice in the same batch takes effect once: the second is a `Duplicate`, even when
/// an event between them changed what it would do.
pub async fn a_message_twice_in_one_batch_takes_effect_once<R: Repository>(repo: R) {
    let feed = Feed::default();
    let message = created("evt-1", 1);
    assert_eq!(
        feed.apply(&repo, vec![message.clone(), message]).await,
        ["applied", "duplicate"]
    );
    assert_eq!(all_users(&repo).await.len(), 1);
    let billings = all_billings(&repo).await;
    assert_eq!(billings.len(), 1, "one billing: {billings:?}");

    let message = created("evt-2", 2);
    let batch = vec![
        message.clone(),
        with(EventType::Deleted, "evt-3", 2),
        message,
    ];
    assert_eq!(
        feed.apply(&repo, batch).await,
        ["applied", "applied", "duplicate"]
    );
    assert_eq!(find_user(&repo, 2).await, None);
    assert_eq!(all_billings(&repo).await, billings);
}

fn at(mut e: CustomerEvent, timestamp: &str) -> CustomerEvent {
    e.timestamp = Some(t(timestamp));
    e
}

/// Events are ordered by their envelope timestamps: one older than the last one applied for its
/// user is `Skipped` and changes nothing (a late `Reactivated` cannot undo a newer suspension),
/// while events without a timestamp are taken in the order they arrive.
pub async fn an_event_older_than_the_last_applied_for_its_user_has_no_effect<R: Repository>(
    repo: R,
) {
    let feed = Feed::default();
    let batch = vec![
        at(created("evt-1", 1), "2025-09-01T00:00:00Z"),
        at(
            with(EventType::Suspended, "evt-3", 1),
            "2025-09-03T00:00:00Z",
        ),
    ];
    assert_eq!(feed.apply(&repo, batch).await, ["applied", "applied"]);
    let suspended = find_user(&repo, 1).await.expect("user-1 is stored");
    assert!(!suspended.is_active);
    assert_eq!(suspended.last_event_at, Some(t("2025-09-03T00:00:00Z")));

    let mut renamed = at(
        with(EventType::Updated, "evt-2b", 1),
        "2025-09-02T00:00:00Z",
    );
    renamed.profile.name = Change::To(Some(name("Too Late")));
    let late = vec![
        at(
            with(EventType::Reactivated, "evt-2", 1),
            "2025-09-02T00:00:00Z",
        ),
        renamed,
    ];
    assert_eq!(
        feed.apply_at(&repo, LATER, late).await,
        ["skipped", "skipped"]
    );
    assert_eq!(find_user(&repo, 1).await, Some(suspended.clone()));

    let untimed = with(EventType::Reactivated, "evt-4", 1);
    assert_eq!(
        feed.apply_at(&repo, LATEST, vec![untimed]).await,
        ["applied"]
    );
    let back = find_user(&repo, 1).await.expect("user-1 is stored");
    assert!(back.is_active);
    assert_eq!(back.last_event_at, suspended.last_event_at);
}

/// A deleted user leaves a tombstone dated by its `Customer.Deleted`: an older `Created` or
/// `Updated` (a replay, a late message) is `Skipped` and brings nobody back; a newer one
/// creates the user again, with a new initial billing.
pub async fn a_deleted_user_is_not_brought_back_by_an_older_created_or_updated<R: Repository>(
    repo: R,
) {
    let feed = Feed::default();
    let batch = vec![
        at(created("evt-1", 1), "2025-09-01T00:00:00Z"),
        at(with(EventType::Deleted, "evt-9", 1), "2025-09-09T00:00:00Z"),
    ];
    assert_eq!(feed.apply(&repo, batch).await, ["applied", "applied"]);
    assert_eq!(find_user(&repo, 1).await, None);

    let mut updated = at(with(EventType::Updated, "evt-5", 1), "2025-09-05T00:00:00Z");
    updated.profile = profile(1);
    let replay = vec![at(created("evt-1b", 1), "2025-09-01T00:00:00Z"), updated];
    assert_eq!(
        feed.apply_at(&repo, LATER, replay).await,
        ["skipped", "skipped"]
    );
    assert_eq!(find_user(&repo, 1).await, None);
    assert_eq!(all_billings(&repo).await, []);

    let again = at(created("evt-10", 1), "2025-09-10T00:00:00Z");
    assert_eq!(feed.apply_at(&repo, LATEST, vec![again]).await, ["applied"]);
    let u = find_user(&repo, 1).await.expect("user-1 is back");
    assert_eq!(u.last_event_at, Some(t("2025-09-10T00:00:00Z")));
    let billings = all_billings(&repo).await;
    assert_eq!(billings.len(), 1, "one new initial billing: {billings:?}");
    assert_eq!(billings[0].billing_id, seq(2));
}

/// A deletion through the API leaves a tombstone dated by its `at` too: an event older than
/// it cannot bring the user back.
pub async fn a_deletion_through_the_api_leaves_a_tombstone_too<R: Repository>(repo: R) {
    let feed = Feed::default();
    repo.create_user(user(1))
        .await
        .expect("the test user is created");
    repo.delete_user(&uid("user-1").into(), t("2025-09-09T00:00:00Z"))
        .await
        .expect("deleted");
    let late = at(created("evt-1", 1), "2025-09-08T23:59:59.999Z");
    assert_eq!(feed.apply(&repo, vec![late]).await, ["skipped"]);
    assert_eq!(find_user(&repo, 1).await, None);
    let newer = at(created("evt-2", 1), "2025-09-09T00:00:00.001Z");
    assert_eq!(feed.apply(&repo, vec![newer]).await, ["applied"]);
    assert!(find_user(&repo, 1).await.is_some());
}

/// `Customer.Created` bills only a user who has no billing yet: for a user who already has one
/// (made through the API, or by the previous service), a `Created` under another message id
/// (a replay by a new consumer group, say) updates the user and makes no second billing.
pub async fn a_created_event_bills_only_a_user_without_billings<R: Repository>(repo: R) {
    let feed = Feed::default();
    repo.create_user(user(1))
        .await
        .expect("the test user is created");
    repo.create_billing(draft(1, &uid("user-1"), "2025-09-01", "2025-09-15"))
        .await
        .expect("the test billing is created");
    let before = all_billings(&repo).await;
    assert_eq!(
        feed.apply(&repo, vec![created("evt-1", 1)]).await,
        ["applied"]
    );
    assert_eq!(all_billings(&repo).await, before);

    assert_eq!(
        feed.apply(&repo, vec![created("evt-2", 2)]).await,
        ["applied"]
    );
    assert_eq!(billings_of(&repo, &uid("user-2")).await.len(), 1);
    assert_eq!(
        feed.apply_at(&repo, LATER, vec![created("evt-2-replayed", 2)])
            .await,
        ["applied"]
    );
    assert_eq!(billings_of(&repo, &uid("user-2")).await.len(), 1);
}

/// Event values are kept as the producer sent them (a number for a name, a zip code as a
/// number, a dialling code without `+`, a phone number of 0, an initial billing's fractional
/// amount and numeric `serviceId`), and `null` in a `Customer.Updated` clears a field.
pub async fn event_values_are_kept_as_sent_and_null_clears_them<R: Repository>(repo: R) {
    let feed = Feed::default();
    let mut odd = with(EventType::Created, "evt-1", 1);
    odd.profile = UserPatch {
        name: Change::To(Some(Scalar::Number(Number::Int(1001)))),
        email: Change::To(Some(Scalar::text("ana at example dot com").expect("text"))),
        address: AddressPatch {
            zip_code: Change::To(Some(Scalar::Number(Number::Int(110_111)))),
            address: Change::To(Some(Scalar::text(&"Cra 7 ".repeat(600)).expect("text"))),
            ..AddressPatch::default()
        },
        phone: PhonePatch {
            code_number: Change::To(Some(Scalar::text("57").expect("text"))),
            phone_number: Change::To(Some(Scalar::Number(Number::Int(0)))),
        },
        ..UserPatch::default()
    };
    odd.initial_billing = InitialBilling {
        service_id: Some(Scalar::Number(Number::Int(7))),
        total_invoice: Some(Number::Float(99.5)),
        ..InitialBilling::default()
    };
    assert_eq!(feed.apply(&repo, vec![odd.clone()]).await, ["applied"]);
    let u = find_user(&repo, 1).await.expect("user-1 is stored");
    let p = &odd.profile;
    let sent = |c: &Change<Scalar>| match c {
        Change::To(v) => v.clone(),
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(
        (&u.name, &u.email, &u.address.zip_code, &u.address.address),
        (
            &sent(&p.name),
            &sent(&p.email),
            &sent(&p.address.zip_code),
            &sent(&p.address.address)
        )
    );
    assert_eq!(
        u.phone,
        Phone {
            code_number: sent(&p.phone.code_number),
            phone_number: sent(&p.phone.phone_number),
        }
    );
    let b = find_billing(&repo, &seq(1)).await.expect("billing 1");
    assert_eq!(
        (b.service_id, b.total_invoice, b.phone),
        (
            Some(Scalar::Number(Number::Int(7))),
            Some(Number::Float(99.5)),
            u.phone.clone()
        )
    );

    let mut cleared = with(EventType::Updated, "evt-2", 1);
    cleared.profile = UserPatch {
        name: Change::To(None),
        address: AddressPatch::clear(),
        phone: PhonePatch {
            phone_number: Change::To(None),
            ..PhonePatch::default()
        },
        ..UserPatch::default()
    };
    assert_eq!(
        feed.apply_at(&repo, LATER, vec![cleared]).await,
        ["applied"]
    );
    let after = find_user(&repo, 1).await.expect("user-1 is stored");
    assert_eq!(
        after,
        User {
            name: None,
            address: Address::default(),
            phone: Phone {
                phone_number: None,
                ..u.phone.clone()
            },
            updated_at: t(LATER),
            ..u
        }
    );
}

/// A poll batch of 500 `Customer.Created` events for new customers (what the user service
/// mostly sends) makes 500 users, each with one initial billing numbered in event order;
/// replayed, it changes nothing.
pub async fn five_hundred_created_events_in_one_batch_bill_each_new_user_once_in_order<
    R: Repository,
>(
    repo: R,
) {
    let feed = Feed::default();
    let batch: Vec<CustomerEvent> = (1..=500).map(|n| created(&format!("evt-{n}"), n)).collect();
    assert_eq!(feed.apply(&repo, batch.clone()).await, vec!["applied"; 500]);
    let limit = crate::model::Limit::new(500).expect("a valid limit");
    let mut query = UserQuery::default();
    query.page.limit = limit;
    let users = repo.list_users(&query).await.expect("list_users works");
    assert_eq!(users.items.len(), 500);
    let billings = repo
        .scan_billings(None, limit)
        .await
        .expect("scan_billings works");
    let numbered: Vec<(String, BillingId)> = billings
        .items
        .iter()
        .map(|b| (b.user_id.as_str().to_owned(), b.billing_id.clone()))
        .collect();
    let expected: Vec<(String, BillingId)> =
        (1..=500).map(|n| (format!("user-{n}"), seq(n))).collect();
    assert_eq!(numbered, expected);
    for b in &billings.items {
        let n: u32 = b.user_id.as_str()["user-".len()..]
            .parse()
            .expect("a test user");
        assert_eq!(
            b.phone,
            user(n).phone,
            "the billing copies its user's phone"
        );
    }

    assert_eq!(
        feed.apply_at(&repo, LATER, batch).await,
        vec!["duplicate"; 500]
    );
    let again = repo
        .scan_billings(None, limit)
        .await
        .expect("scan_billings works");
    assert_eq!(again.items, billings.items);
}
