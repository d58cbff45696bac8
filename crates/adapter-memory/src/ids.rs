use std::sync::atomic::{AtomicU64, Ordering};

use billing_domain::{DocumentId, IdGenerator, UserId};

/// A deterministic [`IdGenerator`]: ObjectIds `650000000000000000000001`, `...02`, ... (each
/// greater than the one before, as real ObjectIds grow with time) and `userId`s `user-1`,
/// `user-2`, ...
#[derive(Debug)]
pub struct SequentialIds {
    documents: AtomicU64,
    users: AtomicU64,
}

impl SequentialIds {
    /// The first four bytes of every ObjectId made, like a seconds field of late 2023.
    const PREFIX: [u8; 4] = [0x65, 0x00, 0x00, 0x00];

    /// A generator whose first ObjectId ends in 1 and whose first `userId` is `user-1`.
    pub const fn new() -> Self {
        Self {
            documents: AtomicU64::new(0),
            users: AtomicU64::new(0),
        }
    }
}

impl Default for SequentialIds {
    fn default() -> Self {
        Self::new()
    }
}

impl IdGenerator for SequentialIds {
    fn document_id(&self) -> DocumentId {
        let n = self.documents.fetch_add(1, Ordering::Relaxed) + 1;
        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&Self::PREFIX);
        bytes[4..].copy_from_slice(&n.to_be_bytes());
        DocumentId::from_bytes(bytes)
    }

    fn user_id(&self) -> UserId {
        let n = self.users.fetch_add(1, Ordering::Relaxed) + 1;
        UserId::parse(&format!("user-{n}")).expect("`user-<n>` is a valid userId")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_and_increasing() {
        let ids = SequentialIds::new();
        let (a, b) = (ids.document_id(), ids.document_id());
        assert_eq!(a.to_string(), "650000000000000000000001");
        assert!(a < b);
        assert_eq!(ids.user_id().as_str(), "user-1");
        assert_eq!(ids.user_id().as_str(), "user-2");
    }
}
