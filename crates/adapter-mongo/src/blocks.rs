//! `BILLING_ID_BLOCK`: the billing numbers an instance has taken from the shared counter and
//! not given yet. With a block of N, one `$inc` serves N creations of this instance, so
//! several instances stop queueing on the one counter document for every creation; the price
//! is that numbers are increasing per instance, not across instances, and a stopped instance's
//! unused numbers are gaps.

use std::ops::Range;
use std::sync::{Mutex, PoisonError};

#[derive(Debug)]
pub(crate) struct NumberBlock {
    size: u32,
    left: Mutex<Range<u64>>,
}

impl NumberBlock {
    pub(crate) fn new(size: u32) -> Self {
        Self {
            size: size.max(1),
            left: Mutex::new(0..0),
        }
    }

    /// How many numbers one `$inc` reserves, at least.
    pub(crate) fn size(&self) -> u32 {
        self.size
    }

    /// Up to `count` of the numbers left, smallest first.
    pub(crate) fn take(&self, count: u64) -> Vec<u64> {
        let mut left = self.left.lock().unwrap_or_else(PoisonError::into_inner);
        let end = left.start + count.min(left.end - left.start);
        let taken = (left.start..end).collect();
        left.start = end;
        taken
    }

    /// Keeps `rest` for the next creations. When another creation has refilled the block
    /// meanwhile, its numbers are kept and `rest` becomes a gap: a lock held across the
    /// `$inc` would serialise this instance's creations on it.
    pub(crate) fn keep(&self, rest: Range<u64>) {
        let mut left = self.left.lock().unwrap_or_else(PoisonError::into_inner);
        if left.is_empty() {
            *left = rest;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_kept_are_taken_smallest_first_until_none_are_left() {
        let block = NumberBlock::new(5);
        assert!(block.take(3).is_empty());
        block.keep(11..15);
        assert_eq!(block.take(3), vec![11, 12, 13]);
        assert_eq!(block.take(3), vec![14]);
        assert!(block.take(1).is_empty());
    }

    #[test]
    fn a_block_still_holding_numbers_is_not_replaced() {
        let block = NumberBlock::new(5);
        block.keep(1..3);
        block.keep(20..25);
        assert_eq!(block.take(10), vec![1, 2]);
    }

    #[test]
    fn a_block_is_never_smaller_than_one() {
        assert_eq!(NumberBlock::new(0).size(), 1);
    }
}
