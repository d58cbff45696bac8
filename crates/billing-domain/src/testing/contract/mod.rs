//! The port contract suite: what every implementation of [`crate::Repository`] must do.
//!
//! Each public async function takes a freshly made, empty store, exercises one documented
//! behaviour of the ports and panics (through `assert!`) when the store departs from it. An
//! adapter runs the whole suite with [`repository_contract_tests!`](crate::repository_contract_tests)
//! in one of its test files:
//!
//! ```text
//! billing_domain::repository_contract_tests!(async || MemoryStore::default());
//! ```

mod billing_events;
mod billings;
mod events;
mod users;

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

pub use billing_events::*;
pub use billings::*;
pub use events::*;
pub(crate) use events::{Feed, created};
pub use users::*;

use crate::model::{
    Address, Amount, BillingDraft, BillingId, CountryCode, DocumentId, Email, Name, Payment, Phone,
    PhoneNumber, Scalar, ServiceId, ShortText, Timestamp, User, UserId, parse_timestamp,
};

/// Expands, in an adapter's test file, to one `#[tokio::test]` per contract function.
///
/// `$make` is called once per test and must return a future of a fresh, empty store: an async
/// closure (`async || MemoryStore::default()`) or the path of an `async fn`. With
/// `guarded: $make`, the future yields `(store, guard)` instead, and the guard (a temporary
/// directory, a database to drop) lives until the test ends. With `events: $make`, only the
/// [`EventRepository`](crate::EventRepository) contract runs. The calling crate needs `tokio`
/// with the `macros` and `rt-multi-thread` features.
#[macro_export]
macro_rules! repository_contract_tests {
    (@each $make:expr; $($name:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (repo, _guard) = ($make)().await;
                $crate::testing::contract::$name(repo).await;
            }
        )+
    };
    ($make:expr $(,)?) => {
        $crate::repository_contract_tests!(guarded: async || (($make)().await, ()));
    };
    (guarded: $make:expr $(,)?) => {
        $crate::repository_contract_tests!(@each $make;
            // Users.
            a_created_user_is_found_by_user_id_and_by_object_id,
            a_key_that_could_be_both_is_looked_up_as_a_user_id_first,
            a_second_user_with_the_same_user_id_is_refused_as_a_duplicate,
            users_are_listed_in_object_id_order_and_filtered_by_is_active,
            users_are_paged_by_page_number_with_the_total_of_matching_users,
            a_first_page_asked_without_a_page_number_counts_no_total,
            users_are_paged_by_cursor_even_when_the_cursor_user_was_deleted,
            a_next_user_cursor_is_given_only_when_more_users_remain,
            a_page_number_after_a_user_cursor_skips_whole_pages_past_it,
            an_empty_store_lists_nothing,
            an_update_merges_the_address_and_the_phone_field_by_field,
            updating_a_missing_user_is_not_found,
            an_update_that_changes_a_server_set_user_value_is_refused_and_changes_nothing,
            an_update_that_changes_nothing_keeps_updated_at,
            deleting_a_user_removes_them_and_all_their_billings_and_counts_those,
            deleting_a_missing_user_is_not_found,
            recorded_user_values_read_back_exactly_as_stored,
            // Billings.
            billings_get_consecutive_zero_padded_numbers_starting_at_one,
            a_billing_copies_the_phone_its_user_has_at_that_moment,
            a_billing_for_a_missing_user_is_refused_and_consumes_no_number,
            a_billing_for_an_inactive_user_is_refused_and_consumes_no_number,
            deleted_billings_do_not_give_their_numbers_back,
            a_billing_is_found_by_its_billing_id,
            billings_are_listed_newest_first_with_ties_broken_by_descending_object_id,
            billings_are_filtered_by_user_and_by_payment_state,
            billings_are_filtered_by_overdue_as_judged_at_the_query_instant,
            billings_are_filtered_by_due_date_before_exclusive_and_after_inclusive,
            billings_are_paged_by_page_number_with_the_total_of_matching_billings,
            billings_are_paged_by_cursor_even_when_the_cursor_billing_was_deleted,
            a_page_number_after_a_billing_cursor_skips_whole_pages_past_it,
            a_billing_update_keeps_is_paid_and_the_payment_date_consistent,
            updating_a_missing_billing_is_not_found,
            an_update_that_changes_a_server_set_billing_value_is_refused_and_changes_nothing,
            a_deleted_billing_is_gone_and_deleting_it_again_is_not_found,
            two_hundred_concurrent_billings_get_two_hundred_consecutive_numbers,
            recorded_billing_values_read_back_exactly_as_stored,
            an_update_of_a_recorded_billing_changes_only_what_it_names,
            every_billing_is_scanned_in_insertion_order_a_page_at_a_time,
            // Billing events.
            every_change_of_a_billing_records_its_event_with_the_billing_as_it_stood,
            a_refused_or_failed_change_records_no_event,
            deleting_a_user_records_one_deleted_event_per_billing,
            customer_events_record_the_initial_billing_and_the_deletions,
            the_queue_gives_unpublished_events_in_order_until_they_are_marked,
            a_history_is_paged_like_every_list_and_outlives_its_billing,
            overdue_is_recorded_once_per_due_date_and_again_when_it_moves,
            overdue_takes_at_most_the_limit_oldest_due_date_first,
            racing_overdue_sweeps_record_each_billing_once,
            pruning_removes_old_published_events_and_keeps_the_unpublished,
            a_lease_is_held_by_one_holder_until_it_expires,
        );
        $crate::repository_contract_tests!(@events $make);
    };
    (events: $make:expr $(,)?) => {
        $crate::repository_contract_tests!(@events async || (($make)().await, ()));
    };
    (@events $make:expr) => {
        $crate::repository_contract_tests!(@each $make;
            a_created_event_makes_the_user_and_one_initial_billing_with_the_defaults,
            a_created_event_takes_the_initial_billing_values_its_payload_gives,
            the_same_message_twice_is_a_duplicate_the_second_time_and_bills_once,
            a_batch_replayed_twice_ends_in_the_same_users_and_billings,
            a_user_created_deleted_and_created_again_gets_a_new_initial_billing,
            an_updated_event_merges_its_fields_and_the_address_field_by_field,
            an_updated_event_for_an_unknown_user_creates_them_without_a_billing,
            a_created_event_for_an_existing_user_merges_its_payload_and_still_bills,
            suspended_and_reactivated_events_flip_is_active,
            a_created_event_for_a_customer_suspended_in_its_payload_makes_no_billing,
            events_for_an_unknown_user_are_skipped_and_store_nothing,
            a_deleted_event_removes_the_user_and_all_their_billings,
            outcomes_come_back_in_order_one_per_event,
            a_message_twice_in_one_batch_takes_effect_once,
            an_event_older_than_the_last_applied_for_its_user_has_no_effect,
            a_deleted_user_is_not_brought_back_by_an_older_created_or_updated,
            a_deletion_through_the_api_leaves_a_tombstone_too,
            a_created_event_bills_only_a_user_without_billings,
            event_values_are_kept_as_sent_and_null_clears_them,
            five_hundred_created_events_in_one_batch_bill_each_new_user_once_in_order,
        );
    };
}

/// Runs `futures` concurrently in the calling task and returns their outputs in order.
///
/// Every pending future is polled again whenever any of them wakes the task, which is all a
/// contract needs; the domain crate has no async runtime to lean on.
pub async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pending: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let mut all_ready = true;
        for (future, output) in pending.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => all_ready = false,
                }
            }
        }
        if all_ready {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("every future completed"))
        .collect()
}

// Test data. Fixed values only, so that a failing contract fails the same way every time.

/// A fixed instant: RFC 3339 or a plain date (midnight UTC).
pub(crate) fn t(raw: &str) -> Timestamp {
    parse_timestamp(raw).expect("a valid test timestamp")
}

/// The `_id` of test user `n`; grows with `n`.
pub(crate) fn user_oid(n: u32) -> DocumentId {
    oid(0x65, n)
}

/// The `_id` of test billing `n`; grows with `n`.
pub(crate) fn billing_oid(n: u32) -> DocumentId {
    oid(0x66, n)
}

fn oid(prefix: u8, n: u32) -> DocumentId {
    let mut bytes = [0u8; 12];
    bytes[0] = prefix;
    bytes[8..].copy_from_slice(&n.to_be_bytes());
    DocumentId::from_bytes(bytes)
}

pub(crate) fn uid(raw: &str) -> UserId {
    UserId::parse(raw).expect("a valid test userId")
}

pub(crate) fn text(raw: &str) -> Scalar {
    ShortText::parse(raw).expect("a valid test text").into()
}

pub(crate) fn phone(code: &str, number: u64) -> Phone {
    Phone::checked(
        CountryCode::parse(code).expect("a valid test country code"),
        Some(PhoneNumber::new(number).expect("a valid test phone number")),
    )
}

/// Test user `n`: `_id` [`user_oid`]`(n)`, `userId` `user-n`, active, created 2025-01-01.
pub(crate) fn user(n: u32) -> User {
    let created = t("2025-01-01T08:00:00.123Z");
    User {
        id: user_oid(n),
        user_id: uid(&format!("user-{n}")),
        name: Some(
            Name::parse(&format!("Customer {n}"))
                .expect("a valid test name")
                .into(),
        ),
        email: Some(
            Email::parse(&format!("customer{n}@telecomx.co"))
                .expect("a valid e-mail")
                .into(),
        ),
        address: Address {
            city: Some(text("Bogotá")),
            country: Some(text("CO")),
            zip_code: Some(text("110111")),
            address: Some(text("Calle 1 # 2-3")),
        },
        phone: phone("+57", 3_100_000_000 + u64::from(n)),
        is_active: true,
        created_at: created,
        updated_at: created,
        last_event_at: None,
    }
}

/// Test user `n`, suspended.
pub(crate) fn inactive_user(n: u32) -> User {
    User {
        is_active: false,
        ..user(n)
    }
}

/// An unpaid draft for `user_id` with `_id` [`billing_oid`]`(n)`, generated at `generated` and
/// due at `due`.
pub(crate) fn draft(n: u32, user_id: &UserId, generated: &str, due: &str) -> BillingDraft {
    BillingDraft {
        id: billing_oid(n),
        user_id: user_id.clone(),
        generation_date: t(generated),
        due_date: t(due),
        service_id: Some(
            ServiceId::parse(&format!("svc-{n}"))
                .expect("a valid test serviceId")
                .into(),
        ),
        total_invoice: Some(
            Amount::new(100_000 + u64::from(n))
                .expect("a valid test amount")
                .into(),
        ),
        payment: Payment::UNPAID,
        created_at: t(generated),
    }
}

/// The `billingId` the sequence gives its `n`th billing.
pub(crate) fn seq(n: u64) -> BillingId {
    BillingId::from_sequence(n)
}
