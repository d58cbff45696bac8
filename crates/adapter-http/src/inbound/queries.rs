//! Query strings, one type per operation: parsed and documented from the same fields. Each
//! parameter appears once; unknown ones are refused.

use deserr::Deserr;
use utoipa::IntoParams;

use super::errors::Problems;
use super::values::{
    BillingAfter, Date, EventAfter, Expand, Flag, PageLimit, PageNumber, UserAfter, UserIdParam,
};

/// `GET /api/users`.
#[derive(Debug, Deserr, IntoParams)]
#[deserr(error = Problems, rename_all = camelCase, deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ListUsersQuery {
    /// Only active (`true`) or suspended (`false`) users.
    #[deserr(default)]
    #[param(inline)]
    pub is_active: Option<Flag>,
    /// Items per page (1-500, default 50).
    #[deserr(default)]
    #[param(inline)]
    pub limit: Option<PageLimit>,
    /// 1-based page number; adds `X-Total-Count`. With `after`: the page-th page after it.
    #[deserr(default)]
    #[param(inline)]
    pub page: Option<PageNumber>,
    /// The cursor of a `Link: rel="next"` header.
    #[deserr(default)]
    #[param(inline)]
    pub after: Option<UserAfter>,
}

/// `GET /api/billings`.
#[derive(Debug, Deserr, IntoParams)]
#[deserr(error = Problems, rename_all = camelCase, deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ListBillingsQuery {
    /// Only this user's billings.
    #[deserr(default)]
    #[param(inline)]
    pub user_id: Option<UserIdParam>,
    #[deserr(default)]
    #[param(inline)]
    pub is_paid: Option<Flag>,
    /// Unpaid and due before now (`true`), or the others (`false`); a billing without a due
    /// date is never overdue.
    #[deserr(default)]
    #[param(inline)]
    pub overdue: Option<Flag>,
    /// Due strictly before.
    #[deserr(default)]
    #[param(inline)]
    pub due_before: Option<Date>,
    /// Due at or after.
    #[deserr(default)]
    #[param(inline)]
    pub due_after: Option<Date>,
    /// Items per page (1-500, default 50).
    #[deserr(default)]
    #[param(inline)]
    pub limit: Option<PageLimit>,
    /// 1-based page number; adds `X-Total-Count`. With `after`: the page-th page after it.
    #[deserr(default)]
    #[param(inline)]
    pub page: Option<PageNumber>,
    /// The cursor of a `Link: rel="next"` header.
    #[deserr(default)]
    #[param(inline)]
    pub after: Option<BillingAfter>,
}

/// A user's billings (`GET /api/users/:id/billings`, `GET /api/billings/user/:userId`).
#[derive(Debug, Deserr, IntoParams)]
#[deserr(error = Problems, rename_all = camelCase, deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct UserBillingsQuery {
    #[deserr(default)]
    #[param(inline)]
    pub is_paid: Option<Flag>,
    /// Unpaid and due before now (`true`), or the others (`false`).
    #[deserr(default)]
    #[param(inline)]
    pub overdue: Option<Flag>,
    /// Due strictly before.
    #[deserr(default)]
    #[param(inline)]
    pub due_before: Option<Date>,
    /// Due at or after.
    #[deserr(default)]
    #[param(inline)]
    pub due_after: Option<Date>,
    /// Items per page (1-500, default 50).
    #[deserr(default)]
    #[param(inline)]
    pub limit: Option<PageLimit>,
    /// 1-based page number; adds `X-Total-Count`. With `after`: the page-th page after it.
    #[deserr(default)]
    #[param(inline)]
    pub page: Option<PageNumber>,
    /// The cursor of a `Link: rel="next"` header.
    #[deserr(default)]
    #[param(inline)]
    pub after: Option<BillingAfter>,
}

/// `GET /api/billings/:billingId/events`.
#[derive(Debug, Deserr, IntoParams)]
#[deserr(error = Problems, rename_all = camelCase, deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct BillingEventsQuery {
    /// Items per page (1-500, default 50).
    #[deserr(default)]
    #[param(inline)]
    pub limit: Option<PageLimit>,
    /// 1-based page number; adds `X-Total-Count`. With `after`: the page-th page after it.
    #[deserr(default)]
    #[param(inline)]
    pub page: Option<PageNumber>,
    /// The cursor of a `Link: rel="next"` header.
    #[deserr(default)]
    #[param(inline)]
    pub after: Option<EventAfter>,
}

/// `GET /api/billings/:billingId`.
#[derive(Debug, Deserr, IntoParams)]
#[deserr(error = Problems, rename_all = camelCase, deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct GetBillingQuery {
    /// `user` embeds the billing's user (null when the user is gone).
    #[deserr(default)]
    #[param(inline)]
    pub expand: Option<Expand>,
}

/// Routes that take no query parameters.
#[derive(Debug, Deserr, IntoParams)]
#[deserr(error = Problems, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NoQuery {}
