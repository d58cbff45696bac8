//! Every event type, in each envelope, has its documented effect.

use adapter_memory::FixedClock;
use billing_domain::{Number, Payment, Scalar};
use serde_json::json;

use crate::support::{Msg, Producer, Running, Snapshot, Style, Topic, sqlite_service, ts, unique};

/// One of each event type (and the variants of their payloads), for users named after what
/// happens to them.
fn history(style: Style) -> Vec<Msg> {
    let e = |kind: &str, payload| Msg::event(style, kind, payload);
    vec![
        // Created with everything a producer may say, including the initial billing's fields.
        e(
            "Customer.Created",
            json!({
                "userId": "full",
                "name": "Ana Gómez",
                "email": "ana@example.com",
                "address": {
                    "city": "Cali", "country": "Colombia",
                    "zipCode": "760001", "address": "Calle 5 # 10-20"
                },
                "phone": { "codeNumber": "+57", "phoneNumber": 3_104_156_262_u64 },
                "isActive": true,
                "generationDate": "2025-08-01T00:00:00Z",
                "dueDate": "2025-08-20T00:00:00Z",
                "serviceId": "7",
                "totalInvoice": 125_000
            }),
        ),
        // Updated merges: address and phone field by field.
        e(
            "Customer.Updated",
            json!({
                "userId": "full",
                "name": "Ana María Gómez",
                "address": { "city": "Bogotá" },
                "phone": { "phoneNumber": 3_001_234_567_u64 }
            }),
        ),
        // Created with nothing but a name: the initial billing takes the defaults.
        e(
            "Customer.Created",
            json!({ "userId": "plain", "name": "Beto" }),
        ),
        // Created inactive: a user without a billing.
        e(
            "Customer.Created",
            json!({ "userId": "inactive", "name": "Caro", "isActive": false }),
        ),
        e(
            "Customer.Created",
            json!({ "userId": "suspended", "name": "Dani" }),
        ),
        e("Customer.Suspended", json!({ "userId": "suspended" })),
        e(
            "Customer.Created",
            json!({ "userId": "reactivated", "name": "Eva" }),
        ),
        e("Customer.Suspended", json!({ "userId": "reactivated" })),
        e("Customer.Reactivated", json!({ "userId": "reactivated" })),
        e(
            "Customer.Created",
            json!({ "userId": "deleted", "name": "Fede" }),
        ),
        e("Customer.Deleted", json!({ "userId": "deleted" })),
        // Updated for an unknown user creates them, without a billing.
        e(
            "Customer.Updated",
            json!({ "userId": "updated-unknown", "name": "Gabi" }),
        ),
        // A whole user document: extra fields ignored; `suspended` decides `isActive`.
        e(
            "Customer.Updated",
            json!({
                "_id": "65a1b2c3d4e5f60718293a4b", "userId": "document", "name": "Hugo",
                "suspended": true, "deleted": false, "createdAt": "2025-01-01T00:00:00Z", "__v": 0
            }),
        ),
    ]
}

async fn every_event_type_has_its_effect(style: Style) {
    let topic = Topic::create("effects").await;
    let (service, _dir) = sqlite_service();
    let messages = history(style);
    Producer::new().send(&topic.name, &messages).await;

    let consumer = Running::start(&service, topic.settings(&unique("effects")));
    consumer.wait_handled(messages.len() as u64).await;
    let status = consumer.stop().await;
    let counts = status.counts();
    assert!(
        counts.keys().all(|(_, outcome)| *outcome == "applied"),
        "every message applied: {counts:?}"
    );

    let s = Snapshot::of(&service).await;
    let user = |id: &str| {
        s.user(id)
            .unwrap_or_else(|| panic!("user {id} exists; {}", s.summary()))
    };

    // Created, then Updated.
    let full = user("full");
    assert_eq!(
        full.name.as_ref().and_then(Scalar::as_text),
        Some("Ana María Gómez")
    );
    assert_eq!(
        full.email.as_ref().and_then(Scalar::as_text),
        Some("ana@example.com")
    );
    let city = full.address.city.as_ref().and_then(Scalar::as_text);
    let country = full.address.country.as_ref().and_then(Scalar::as_text);
    let zip = full.address.zip_code.as_ref().and_then(Scalar::as_text);
    let street = full.address.address.as_ref().and_then(Scalar::as_text);
    assert_eq!(
        (city, country, zip, street),
        (
            Some("Bogotá"),
            Some("Colombia"),
            Some("760001"),
            Some("Calle 5 # 10-20")
        )
    );
    assert_eq!(
        full.phone.code_number.as_ref().and_then(Scalar::as_text),
        Some("+57")
    );
    assert_eq!(
        full.phone.phone_number.as_ref().and_then(Scalar::as_number),
        Some(Number::Int(3_001_234_567))
    );
    assert!(full.is_active);
    let [billing] = s.billings_of("full")[..] else {
        panic!("one billing for `full`: {:?}", s.billings_of("full"));
    };
    assert_eq!(billing.generation_date, ts("2025-08-01T00:00:00Z"));
    assert_eq!(billing.due_date, Some(ts("2025-08-20T00:00:00Z")));
    assert_eq!(billing.service_id, Some(Scalar::text("7").unwrap()));
    assert_eq!(billing.total_invoice, Some(Number::Int(125_000)));
    assert_eq!(billing.payment, Payment::UNPAID);
    // The phone as it was when the billing was made.
    assert_eq!(
        billing
            .phone
            .phone_number
            .as_ref()
            .and_then(Scalar::as_number),
        Some(Number::Int(3_104_156_262))
    );

    // Created with defaults: generated at the envelope's timestamp, else now; due 14 days on.
    let plain = user("plain");
    assert!(plain.is_active);
    let [billing] = s.billings_of("plain")[..] else {
        panic!("one billing for `plain`: {:?}", s.billings_of("plain"));
    };
    let (generated, due) = match style {
        Style::Documented => (FixedClock::DEFAULT_START, "2025-10-15T09:15:00Z"),
        Style::UserService => (Style::TIMESTAMP, "2025-09-15T08:00:00Z"),
    };
    assert_eq!(billing.generation_date, ts(generated));
    assert_eq!(billing.due_date, Some(ts(due)));
    assert_eq!(billing.service_id, Some(Scalar::text("1").unwrap()));
    assert_eq!(billing.total_invoice, Some(Number::Int(100_000)));
    assert_eq!(billing.payment, Payment::UNPAID);

    assert!(!user("inactive").is_active);
    assert!(s.billings_of("inactive").is_empty());

    assert!(!user("suspended").is_active);
    assert_eq!(s.billings_of("suspended").len(), 1);

    assert!(user("reactivated").is_active);
    assert_eq!(s.billings_of("reactivated").len(), 1);

    assert!(s.user("deleted").is_none(), "a deleted user is gone");
    assert!(
        s.billings_of("deleted").is_empty(),
        "and so are their billings"
    );

    let created_by_update = user("updated-unknown");
    assert_eq!(
        created_by_update.name.as_ref().and_then(Scalar::as_text),
        Some("Gabi")
    );
    assert!(created_by_update.is_active);
    assert!(s.billings_of("updated-unknown").is_empty());

    let document = user("document");
    assert_eq!(
        document.name.as_ref().and_then(Scalar::as_text),
        Some("Hugo")
    );
    assert!(
        !document.is_active,
        "`suspended: true` makes the user inactive"
    );

    assert_eq!(s.users.len(), 7, "{:?}", s.users);
    assert_eq!(s.billings.len(), 4, "{:?}", s.billings);
}

#[tokio::test]
async fn every_event_type_in_the_documented_envelope_has_its_effect() {
    every_event_type_has_its_effect(Style::Documented).await;
}

#[tokio::test]
async fn every_event_type_in_the_user_service_envelope_has_its_effect() {
    every_event_type_has_its_effect(Style::UserService).await;
}
