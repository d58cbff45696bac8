//! The one-shot commands: `migrate` and `seed`.

use std::sync::Arc;

use adapter_system::{ObjectIdGenerator, SystemClock};
use anyhow::Context;
use billing_domain::{
    Address, Amount, BillingService, CountryCode, CreateUserError, Email, Name, NewBilling,
    NewUser, PaymentChange, Phone, PhoneNumber, ServiceId, ShortText, UserId, parse_timestamp,
};

use crate::{Settings, Store};

/// Creates the SQLite tables or the MongoDB indexes (and the counter), then returns.
///
/// # Errors
/// When the store cannot be opened, reached, or refuses.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let store = Store::open(settings).await?;
    store.migrate().await?;
    let (kind, location) = store.describe();
    tracing::info!(store = kind, at = location, "migrated");
    Ok(())
}

/// Loads example users and billings. Users that already exist are left as they are, so the
/// command can run twice.
///
/// # Errors
/// When the store cannot be opened, or fails.
pub async fn seed(settings: &Settings) -> anyhow::Result<()> {
    let store = Store::open(settings).await?;
    store.migrate().await?;
    seed_into(store).await
}

struct Example {
    user_id: &'static str,
    name: &'static str,
    email: &'static str,
    city: &'static str,
    phone: u64,
    active: bool,
    billings: &'static [(&'static str, &'static str, u64, bool)],
}

const EXAMPLES: &[Example] = &[
    Example {
        user_id: "cust-1001",
        name: "Ana Gómez",
        email: "ana.gomez@example.com",
        city: "Bogotá",
        phone: 3_104_156_262,
        active: true,
        billings: &[
            ("2025-10-15", "1", 125_000, true),
            ("2025-11-15", "1", 125_000, false),
        ],
    },
    Example {
        user_id: "cust-1002",
        name: "Carlos Pérez",
        email: "carlos.perez@example.com",
        city: "Medellín",
        phone: 3_157_894_561,
        active: true,
        billings: &[("2025-11-20", "2", 89_900, false)],
    },
    Example {
        user_id: "cust-1003",
        name: "Lucía Martínez",
        email: "lucia.martinez@example.com",
        city: "Cali",
        phone: 3_201_234_567,
        active: false,
        billings: &[],
    },
];

fn new_user(e: &Example) -> anyhow::Result<NewUser> {
    Ok(NewUser {
        user_id: Some(UserId::parse_new(e.user_id)?),
        name: Some(Name::parse(e.name)?.into()),
        email: Some(Email::parse(e.email)?.into()),
        address: Address {
            city: Some(ShortText::parse(e.city)?.into()),
            country: Some(ShortText::parse("CO")?.into()),
            ..Address::default()
        },
        phone: Phone::checked(
            CountryCode::default_code(),
            Some(PhoneNumber::new(e.phone)?),
        ),
        // Created active so that their billings can be; suspended afterwards if need be.
        is_active: true,
    })
}

async fn seed_into(store: Store) -> anyhow::Result<()> {
    let service = BillingService::new(
        store,
        Arc::new(SystemClock),
        Arc::new(ObjectIdGenerator::default()),
    );
    let (mut users, mut billings) = (0, 0);
    for example in EXAMPLES {
        match service.create_user(new_user(example)?).await {
            Ok(_) => users += 1,
            Err(CreateUserError::Duplicate(id)) => {
                tracing::info!(%id, "already there; left as it is");
                continue;
            }
            Err(e) => return Err(e).context("cannot create an example user"),
        }
        for (due, service_id, amount, paid) in example.billings {
            service
                .create_billing(NewBilling {
                    user_id: UserId::parse(example.user_id)?,
                    due_date: parse_timestamp(due)?,
                    service_id: Some(ServiceId::parse(service_id)?.into()),
                    total_invoice: Some(Amount::new(*amount)?.into()),
                    payment: if *paid {
                        PaymentChange::Pay { date: None }
                    } else {
                        PaymentChange::Keep
                    },
                })
                .await
                .context("cannot create an example billing")?;
            billings += 1;
        }
        if !example.active {
            service
                .update_user(
                    &UserId::parse(example.user_id)?.into(),
                    billing_domain::UserPatch::activation(false),
                )
                .await?;
        }
    }
    tracing::info!(users, billings, "seeded");
    println!("seeded {users} users and {billings} billings");
    Ok(())
}
