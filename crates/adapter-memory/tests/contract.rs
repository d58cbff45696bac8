//! The port contract suite of `billing-domain`, run against the in-memory store.

use adapter_memory::MemoryStore;

billing_domain::repository_contract_tests!(async || MemoryStore::default());
