//! The numbers of the billing events ([`EventSeq`]), made in the process so that recording an
//! event costs no round trip of its own: a Snowflake-like id,
//! `millis << 21 | instance << 12 | counter`.
//!
//! - `millis` (42 bits, enough until 2109): the event's `at`, or the last millisecond this
//!   generator used when that is later. It never goes back, so one instance numbers its
//!   events exactly in the order it records them, even when their `at` go back (an event
//!   replayed, a clock stepped back).
//! - `instance` (9 bits): chosen at random when the store is made, so that instances recording
//!   in the same millisecond do not give the same numbers. Two instances may still draw the
//!   same bits; a number given twice is caught by the outbox's unique `_id`, and the event is
//!   written again with a new number (see `outbox.rs`), after [`SeqGenerator::collided`] has
//!   drawn new bits.
//! - `counter` (12 bits): 4,096 events per millisecond; the next one takes the next millisecond.
//!
//! The top bit stays clear: the number is a positive `i64`, as MongoDB stores it. Across
//! instances the order follows the events' `at`, so their clocks, to the millisecond. Within
//! one instance, numbers are given in the order events are recorded, not committed: a
//! transaction that commits after a later-numbered one shows up in the queue behind it, which
//! the relay's queue (everything unpublished, in number order) still gives, just later.

use std::sync::{Mutex, PoisonError};

use billing_domain::EventSeq;

const COUNTER_BITS: u32 = 12;
const INSTANCE_BITS: u32 = 9;
const MILLIS_BITS: u32 = 42;
const MAX_COUNTER: u64 = (1 << COUNTER_BITS) - 1;
const MAX_INSTANCE: u64 = (1 << INSTANCE_BITS) - 1;
const MAX_MILLIS: u64 = (1 << MILLIS_BITS) - 1;

/// An instant past what 42 bits of milliseconds hold (the year 2109).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutOfRange;

impl std::fmt::Display for OutOfRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an event dated past 2109 cannot be numbered")
    }
}

impl std::error::Error for OutOfRange {}

/// Gives increasing [`EventSeq`]s; one per store.
#[derive(Debug)]
pub(crate) struct SeqGenerator {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    instance: u64,
    /// The millisecond and counter of the last number given, if any.
    last: Option<(u64, u64)>,
}

impl SeqGenerator {
    /// A generator with random instance bits.
    pub(crate) fn new() -> Self {
        Self::with_instance(random_instance())
    }

    fn with_instance(instance: u64) -> Self {
        Self {
            state: Mutex::new(State {
                instance: instance & MAX_INSTANCE,
                last: None,
            }),
        }
    }

    /// The next number, for an event dated `at_millis` (Unix milliseconds).
    ///
    /// # Errors
    /// When the millisecond it would take is past 2109.
    pub(crate) fn next(&self, at_millis: i64) -> Result<EventSeq, OutOfRange> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let at = u64::try_from(at_millis).unwrap_or(0);
        let (millis, counter) = match state.last {
            Some((last, counter)) if at <= last => {
                if counter < MAX_COUNTER {
                    (last, counter + 1)
                } else {
                    (last + 1, 0)
                }
            }
            _ => (at, 0),
        };
        if millis > MAX_MILLIS {
            return Err(OutOfRange);
        }
        state.last = Some((millis, counter));
        Ok(EventSeq(
            (millis << (INSTANCE_BITS + COUNTER_BITS)) | (state.instance << COUNTER_BITS) | counter,
        ))
    }

    /// Another instance gave one of our numbers, so it may share our instance bits: draw new
    /// ones. The next number takes the next millisecond, so numbers keep increasing whatever
    /// the new bits are.
    pub(crate) fn collided(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.instance = random_instance();
        if let Some((millis, _)) = state.last {
            state.last = Some((millis, MAX_COUNTER));
        }
    }
}

fn random_instance() -> u64 {
    // A v4 UUID's low bits are random.
    (uuid::Uuid::new_v4().as_u128() as u64) & MAX_INSTANCE
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: i64 = 1_760_000_000_000; // 2025-10-09

    fn parts(seq: EventSeq) -> (u64, u64, u64) {
        (
            seq.0 >> 21,
            (seq.0 >> 12) & MAX_INSTANCE,
            seq.0 & MAX_COUNTER,
        )
    }

    fn strictly_increasing(seqs: &[EventSeq]) -> bool {
        seqs.windows(2).all(|w| w[0] < w[1])
    }

    #[test]
    fn a_number_is_the_millisecond_the_instance_and_the_counter() {
        let seqs = SeqGenerator::with_instance(0x1a5);
        let first = seqs.next(AT).expect("in range");
        assert_eq!(parts(first), (AT as u64, 0x1a5, 0));
        assert_eq!(
            parts(seqs.next(AT).expect("in range")),
            (AT as u64, 0x1a5, 1)
        );
        assert_eq!(
            parts(seqs.next(AT + 5).expect("in range")),
            (AT as u64 + 5, 0x1a5, 0)
        );
    }

    #[test]
    fn the_same_instant_many_times_gives_increasing_numbers_past_the_counter() {
        let seqs = SeqGenerator::with_instance(7);
        let given: Vec<EventSeq> = (0..10_000)
            .map(|_| seqs.next(AT).expect("in range"))
            .collect();
        assert!(strictly_increasing(&given));
        // 4,096 per millisecond, then the next one.
        assert_eq!(parts(given[4095]), (AT as u64, 7, 4095));
        assert_eq!(parts(given[4096]), (AT as u64 + 1, 7, 0));
        // A later event in a millisecond the overflow already took goes on from there.
        let next = seqs.next(AT + 2).expect("in range");
        assert!(next > given[9_999]);
    }

    #[test]
    fn an_instant_that_goes_back_still_gives_a_larger_number() {
        let seqs = SeqGenerator::with_instance(MAX_INSTANCE);
        let ats = [AT, AT - 86_400_000, AT + 3, 0, -5, AT + 1, AT + 3, AT + 4];
        let given: Vec<EventSeq> = ats
            .iter()
            .map(|at| seqs.next(*at).expect("in range"))
            .collect();
        assert!(strictly_increasing(&given), "{given:?}");
        assert_eq!(parts(given[7]).0, AT as u64 + 4);
    }

    #[test]
    fn new_instance_bits_after_a_collision_keep_the_numbers_increasing() {
        for _ in 0..50 {
            let seqs = SeqGenerator::with_instance(MAX_INSTANCE);
            let before = seqs.next(AT).expect("in range");
            seqs.collided();
            let after = seqs.next(AT).expect("in range");
            assert!(after > before, "{before} then {after}");
        }
    }

    #[test]
    fn every_number_is_a_positive_i64_until_2109_and_later_ones_are_refused() {
        let seqs = SeqGenerator::with_instance(MAX_INSTANCE);
        let last = seqs.next(MAX_MILLIS as i64).expect("in range");
        assert!(i64::try_from(last.0).is_ok_and(|n| n > 0), "{last}");
        assert_eq!(parts(last), (MAX_MILLIS, MAX_INSTANCE, 0));
        // 2^42 ms after 1970 is in 2109.
        let end = chrono::DateTime::from_timestamp_millis(MAX_MILLIS as i64).expect("a date");
        assert_eq!(chrono::Datelike::year(&end), 2109);
        assert_eq!(seqs.next(MAX_MILLIS as i64 + 1), Err(OutOfRange));
    }

    #[test]
    fn instance_bits_are_nine_bits() {
        for _ in 0..100 {
            assert!(random_instance() <= MAX_INSTANCE);
        }
    }
}
