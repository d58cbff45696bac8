//! The production clock and id generator: the wall clock, the operating system's randomness
//! and MongoDB's ObjectId layout, behind the domain's `Clock` and `IdGenerator` ports.

use std::sync::atomic::{AtomicU32, Ordering};

use billing_domain::{Clock, DocumentId, IdGenerator, Timestamp, UserId, to_millis_precision};
use chrono::Utc;

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        to_millis_precision(Utc::now())
    }
}

/// ObjectIds as MongoDB's drivers make them: 4 bytes of seconds since the epoch, 5 random bytes
/// chosen once per process, and a 3-byte counter that starts at a random value.
#[derive(Debug)]
pub struct ObjectIdGenerator {
    process: [u8; 5],
    counter: AtomicU32,
}

impl Default for ObjectIdGenerator {
    fn default() -> Self {
        let random = uuid::Uuid::new_v4().into_bytes();
        let mut process = [0u8; 5];
        process.copy_from_slice(&random[..5]);
        let counter = u32::from_be_bytes([0, random[5], random[6], random[7]]);
        Self {
            process,
            counter: AtomicU32::new(counter),
        }
    }
}

impl IdGenerator for ObjectIdGenerator {
    fn document_id(&self) -> DocumentId {
        // The seconds field is 32 bits by definition; it wraps in 2106 as MongoDB's does.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let secs = Utc::now().timestamp() as u32;
        let count = self.counter.fetch_add(1, Ordering::Relaxed) & 0x00ff_ffff;
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&secs.to_be_bytes());
        b[4..9].copy_from_slice(&self.process);
        b[9..].copy_from_slice(&count.to_be_bytes()[1..]);
        DocumentId::from_bytes(b)
    }

    fn user_id(&self) -> UserId {
        // A hyphenated UUID always fits the userId alphabet.
        UserId::parse_new(&uuid::Uuid::new_v4().to_string()).unwrap_or_else(|_| unreachable!())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_from_one_generator_are_distinct_and_increasing_within_a_second() {
        let g = ObjectIdGenerator::default();
        let a = g.document_id();
        let b = g.document_id();
        assert_ne!(a, b);
        assert_eq!(a.bytes()[4..9], b.bytes()[4..9]);
    }

    #[test]
    fn generated_user_ids_are_uuids() {
        let id = ObjectIdGenerator::default().user_id();
        assert_eq!(id.as_str().len(), 36);
        assert!(uuid::Uuid::parse_str(id.as_str()).is_ok());
    }
}
