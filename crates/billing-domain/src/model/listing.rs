//! Filters and pagination of lists.
//!
//! Two ways to page: `page` (offset; simple, cost grows with depth) and `after` (keyset: the
//! cursor names the sort key of the last item seen, so the next page starts right after it
//! whatever happened to that item since, and its cost does not grow with depth).

use std::num::NonZeroU32;

use super::{Billing, DocumentId, InvalidValue, Timestamp, User, UserId};

/// Items per page: 1 to 500, 50 by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u32);

impl Limit {
    pub const MAX: u32 = 500;

    /// # Errors
    /// When `value` is 0 or above 500.
    pub fn new(value: u32) -> Result<Self, InvalidValue> {
        if value == 0 || value > Self::MAX {
            return Err(InvalidValue::new("must be an integer from 1 to 500"));
        }
        Ok(Self(value))
    }

    pub const fn get(self) -> u32 {
        self.0
    }

    /// How many rows a store asks for: one more than a page holds, so that the extra row says
    /// whether there is a next page without counting the list.
    pub const fn fetch(self) -> u32 {
        self.0 + 1
    }
}

impl Default for Limit {
    fn default() -> Self {
        Self(50)
    }
}

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position<C> {
    /// The first page of a request that named no position: no total is counted, so that a
    /// plain list costs the same however long the list is.
    First,
    /// 1-based page number; the total is counted too.
    Page(NonZeroU32),
    /// Right after the item this cursor was taken from.
    After(C),
    /// The n-th page after the cursor's item (`page=1` is [`Position::After`]'s page); the
    /// total is counted too, of the whole list as on `page` requests.
    PageAfter(C, NonZeroU32),
}

impl<C> Position<C> {
    /// How many items to skip before the page, past the cursor when there is one.
    pub fn offset(&self, limit: Limit) -> u64 {
        match self {
            Self::Page(p) | Self::PageAfter(_, p) => {
                u64::from(p.get() - 1) * u64::from(limit.get())
            }
            Self::First | Self::After(_) => 0,
        }
    }

    /// The cursor the page starts after.
    pub fn cursor(&self) -> Option<&C> {
        match self {
            Self::After(c) | Self::PageAfter(c, _) => Some(c),
            Self::First | Self::Page(_) => None,
        }
    }

    /// Whether the answer counts every item that matches the filters (the page-numbered
    /// requests).
    pub fn counts_total(&self) -> bool {
        matches!(self, Self::Page(_) | Self::PageAfter(..))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest<C> {
    pub limit: Limit,
    pub position: Position<C>,
}

impl<C> Default for PageRequest<C> {
    fn default() -> Self {
        Self {
            limit: Limit::default(),
            position: Position::Page(NonZeroU32::MIN),
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing<T, C> {
    pub items: Vec<T>,
    /// The cursor of the next page, when there is one.
    pub next: Option<C>,
    /// How many items match the filters, on `page` requests.
    pub total: Option<u64>,
    /// Stored items in this page's range that could not be read (a document that is not an
    /// item at all): left out, and counted so that the reader knows.
    pub skipped: u64,
}

impl<T, C> Listing<T, C> {
    /// The page in `rows`: what a store found from the page's start on, in list order, at most
    /// [`Limit::fetch`] of them. The row past the limit, when there is one, only says that a next
    /// page exists; the next cursor is then that of the page's last row, readable or not, so a
    /// row that is not an item never ends a list early. `read` makes an item of a row; rows it
    /// cannot read are left out and counted in `skipped`.
    pub fn from_rows<R>(
        mut rows: Vec<R>,
        limit: Limit,
        total: Option<u64>,
        cursor_of: impl Fn(&R) -> Option<C>,
        mut read: impl FnMut(R) -> Option<T>,
    ) -> Self {
        let limit = limit.get() as usize;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more {
            rows.last().and_then(cursor_of)
        } else {
            None
        };
        let fetched = rows.len();
        let items: Vec<T> = rows.into_iter().filter_map(&mut read).collect();
        Self {
            skipped: (fetched - items.len()) as u64,
            items,
            next,
            total,
        }
    }
}

/// Users are listed in creation order, by `_id` (ObjectIds grow with time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UserCursor(pub DocumentId);

impl UserCursor {
    pub fn of(user: &User) -> Self {
        Self(user.id)
    }

    /// # Errors
    /// When `raw` was not made by [`UserCursor::encode`].
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        DocumentId::parse(raw)
            .map(Self)
            .map_err(|_| InvalidValue::new("is not a cursor this service issued"))
    }

    pub fn encode(&self) -> String {
        self.0.to_string()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    pub is_active: Option<bool>,
    pub page: PageRequest<UserCursor>,
}

impl UserQuery {
    pub fn matches(&self, u: &User) -> bool {
        self.is_active.is_none_or(|a| u.is_active == a)
    }
}

/// Billings are listed newest first: `generationDate` descending, then `_id` descending so that
/// billings generated in the same millisecond still have one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BillingCursor {
    pub generation_date: Timestamp,
    pub id: DocumentId,
}

impl BillingCursor {
    /// What [`BillingCursor::parse`] takes: milliseconds since the epoch (at most 15 digits),
    /// `_`, and the billing's `_id`.
    pub const PATTERN: &'static str = "^-?[0-9]{1,15}_[0-9a-fA-F]{24}$";

    pub fn of(b: &Billing) -> Self {
        Self {
            generation_date: b.generation_date,
            id: b.id,
        }
    }

    /// # Errors
    /// When `raw` was not made by [`BillingCursor::encode`].
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let invalid = || InvalidValue::new("is not a cursor this service issued");
        let (millis, id) = raw.split_once('_').ok_or_else(invalid)?;
        let digits = millis.strip_prefix('-').unwrap_or(millis);
        if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let millis: i64 = millis.parse().map_err(|_| invalid())?;
        Ok(Self {
            // Any stored instant, in range or not: a cursor names a row that exists.
            generation_date: chrono::DateTime::from_timestamp_millis(millis).ok_or_else(invalid)?,
            id: DocumentId::parse(id).map_err(|_| invalid())?,
        })
    }

    pub fn encode(&self) -> String {
        format!("{}_{}", self.generation_date.timestamp_millis(), self.id)
    }

    /// Whether `b` comes after this cursor in list order.
    pub fn precedes(&self, b: &Billing) -> bool {
        (b.generation_date, b.id) < (self.generation_date, self.id)
    }
}

/// Which billings to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingQuery {
    pub user_id: Option<UserId>,
    pub is_paid: Option<bool>,
    /// `Some(true)`: unpaid and due before `now`; `Some(false)`: the others.
    pub overdue: Option<bool>,
    /// Due strictly before this instant.
    pub due_before: Option<Timestamp>,
    /// Due at or after this instant.
    pub due_after: Option<Timestamp>,
    /// The instant `overdue` is judged at.
    pub now: Timestamp,
    pub page: PageRequest<BillingCursor>,
}

impl BillingQuery {
    pub fn new(now: Timestamp) -> Self {
        Self {
            user_id: None,
            is_paid: None,
            overdue: None,
            due_before: None,
            due_after: None,
            now,
            page: PageRequest::default(),
        }
    }

    pub fn matches(&self, b: &Billing) -> bool {
        self.user_id.as_ref().is_none_or(|u| &b.user_id == u)
            && self.is_paid.is_none_or(|p| b.payment.is_paid == p)
            && self.overdue.is_none_or(|o| b.is_overdue(self.now) == o)
            && self
                .due_before
                .is_none_or(|t| b.due_date.is_some_and(|d| d < t))
            && self
                .due_after
                .is_none_or(|t| b.due_date.is_some_and(|d| d >= t))
    }
}

/// Pages an already filtered list that is sorted in list order, for stores that filter in
/// memory. `after` says whether an item lies past a cursor.
pub fn paginate<T, C>(
    sorted: Vec<T>,
    page: &PageRequest<C>,
    after: impl Fn(&C, &T) -> bool,
    cursor_of: impl Fn(&T) -> C,
) -> Listing<T, C> {
    let total = page.position.counts_total().then_some(sorted.len() as u64);
    let fetch = page.limit.fetch() as usize;
    let skip = usize::try_from(page.position.offset(page.limit)).unwrap_or(usize::MAX);
    let cursor = page.position.cursor();
    let rows: Vec<T> = sorted
        .into_iter()
        .filter(|t| cursor.is_none_or(|c| after(c, t)))
        .skip(skip)
        .take(fetch)
        .collect();
    Listing::from_rows(rows, page.limit, total, |t| Some(cursor_of(t)), Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::timestamp_from_millis;

    #[test]
    fn the_limit_is_between_one_and_five_hundred() {
        assert!(Limit::new(0).is_err());
        assert!(Limit::new(1).is_ok());
        assert!(Limit::new(500).is_ok());
        assert!(Limit::new(501).is_err());
        assert_eq!(Limit::default().get(), 50);
    }

    #[test]
    fn a_billing_cursor_round_trips_and_rejects_foreign_text() {
        let c = BillingCursor {
            generation_date: timestamp_from_millis(1_700_000_000_123).unwrap(),
            id: DocumentId::from_bytes([7; 12]),
        };
        assert_eq!(BillingCursor::parse(&c.encode()).unwrap(), c);
        assert!(BillingCursor::parse("abc").is_err());
        assert!(BillingCursor::parse("12_nothex").is_err());
    }

    #[test]
    fn paginate_reports_a_next_cursor_only_when_more_items_remain() {
        let page = PageRequest::<u32> {
            limit: Limit::new(2).unwrap(),
            position: Position::Page(NonZeroU32::MIN),
        };
        let listing = paginate(vec![1, 2, 3], &page, |c, t| t > c, |t| *t);
        assert_eq!(listing.items, vec![1, 2]);
        assert_eq!(listing.next, Some(2));
        assert_eq!(listing.total, Some(3));
        let page = PageRequest {
            limit: Limit::new(2).unwrap(),
            position: Position::After(2),
        };
        let listing = paginate(vec![1, 2, 3], &page, |c, t| t > c, |t| *t);
        assert_eq!(listing.items, vec![3]);
        assert_eq!(listing.next, None);
        assert_eq!(listing.total, None);
    }

    #[test]
    fn a_page_of_rows_counts_the_unreadable_and_takes_its_cursor_from_the_last_row_read_or_not() {
        let limit = Limit::new(3).unwrap();
        // Odd rows are items, even rows are not.
        let read = |r: u32| (r % 2 == 1).then_some(r);
        let listing = Listing::from_rows(vec![1, 2, 3, 4], limit, None, |r| Some(*r), read);
        assert_eq!(listing.items, vec![1, 3]);
        assert_eq!(listing.skipped, 1);
        assert_eq!(
            listing.next,
            Some(3),
            "the row past the limit only says there is more"
        );
        let listing = Listing::from_rows(vec![5, 7, 8, 9], limit, Some(9), |r| Some(*r), read);
        assert_eq!(listing.items, vec![5, 7]);
        assert_eq!(listing.skipped, 1);
        assert_eq!(
            listing.next,
            Some(8),
            "an unreadable last row still moves the cursor"
        );
        assert_eq!(listing.total, Some(9));
        let listing = Listing::from_rows(vec![1, 2, 3], limit, None, |r| Some(*r), read);
        assert_eq!(listing.next, None, "no row past the limit: the last page");
    }

    #[test]
    fn a_cursor_still_works_when_its_item_is_gone() {
        let page = PageRequest {
            limit: Limit::new(10).unwrap(),
            position: Position::After(2),
        };
        let listing = paginate(vec![1, 3, 4], &page, |c, t| t > c, |t| *t);
        assert_eq!(listing.items, vec![3, 4]);
    }
}
