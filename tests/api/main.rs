//! Black-box system tests: the whole service, built by `app::Application` on a free port over a
//! fresh SQLite file, driven over real sockets with an HTTP client.

mod billing_events;
mod billings;
mod concurrency;
mod durability;
mod errors;
mod findings;
mod helpers;
mod kafka;
mod mongo_compat;
mod node_documents;
mod node_routes;
mod pagination;
mod user_service;
mod users;
mod wire;
