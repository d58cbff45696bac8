use super::change::{check_echo, no_problems};
use super::{
    BillingId, Change, DocumentId, FieldProblem, Number, PatchError, Phone, Scalar, Timestamp,
    UserId,
};

/// Whether an invoice is paid, as recorded. The two fields are kept as they are, in any
/// combination: the previous service wrote some that this one never would (paid without a
/// date, unpaid with one). This service's own changes keep them consistent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payment {
    pub is_paid: bool,
    pub date: Option<Timestamp>,
}

impl Payment {
    pub const UNPAID: Self = Self {
        is_paid: false,
        date: None,
    };

    pub const fn paid(date: Timestamp) -> Self {
        Self {
            is_paid: true,
            date: Some(date),
        }
    }
}

/// An invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Billing {
    pub id: DocumentId,
    pub billing_id: BillingId,
    pub user_id: UserId,
    pub generation_date: Timestamp,
    /// Missing on some documents of the previous service (cleared through its API).
    pub due_date: Option<Timestamp>,
    pub service_id: Option<Scalar>,
    pub total_invoice: Option<Number>,
    pub payment: Payment,
    /// The user's phone when the billing was created.
    pub phone: Phone,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Billing {
    /// Unpaid and due before `now`.
    pub fn is_overdue(&self, now: Timestamp) -> bool {
        !self.payment.is_paid && self.due_date.is_some_and(|d| d < now)
    }
}

/// What a client gives to create a billing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBilling {
    pub user_id: UserId,
    pub due_date: Timestamp,
    pub service_id: Option<Scalar>,
    pub total_invoice: Option<Number>,
    pub payment: PaymentChange,
}

/// A billing as the service hands it to a repository. The repository adds what only it can
/// decide atomically: the next `billingId` of the sequence and the user's current phone, and it
/// refuses the draft when the user is missing or inactive at that moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingDraft {
    pub id: DocumentId,
    pub user_id: UserId,
    pub generation_date: Timestamp,
    pub due_date: Timestamp,
    pub service_id: Option<Scalar>,
    pub total_invoice: Option<Number>,
    pub payment: Payment,
    pub created_at: Timestamp,
}

impl BillingDraft {
    pub fn into_billing(self, billing_id: BillingId, phone: Phone) -> Billing {
        Billing {
            id: self.id,
            billing_id,
            user_id: self.user_id,
            generation_date: self.generation_date,
            due_date: Some(self.due_date),
            service_id: self.service_id,
            total_invoice: self.total_invoice,
            payment: self.payment,
            phone,
            created_at: self.created_at,
            updated_at: self.created_at,
        }
    }
}

/// How a request changes the payment state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PaymentChange {
    #[default]
    Keep,
    /// `isPaid: false`: clears `paymentDate`.
    Unpay,
    /// `isPaid: true` and/or a `paymentDate`: paid on the date given, else on the stored date if
    /// already paid, else now.
    Pay { date: Option<Timestamp> },
    /// `POST .../pay`: pays an unpaid billing; a paid one stays exactly as it is.
    Settle { date: Option<Timestamp> },
    /// A combination today's rules refuse (`problem` says why): accepted only as an echo of the
    /// stored payment state, which then stays as it is.
    EchoOnly { payment: Payment, problem: String },
}

/// `isPaid: false` together with a `paymentDate`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a paymentDate cannot be given with isPaid false")]
pub struct PaymentConflict;

impl PaymentChange {
    /// Reads the two client fields together. `payment_date` is `None` when absent and
    /// `Some(None)` when null.
    ///
    /// # Errors
    /// When `isPaid` is false and a non-null `paymentDate` is given.
    pub fn from_fields(
        is_paid: Option<bool>,
        payment_date: Option<Option<Timestamp>>,
    ) -> Result<Self, PaymentConflict> {
        match (is_paid, payment_date) {
            (None, None) => Ok(Self::Keep),
            (Some(false), Some(Some(_))) => Err(PaymentConflict),
            (Some(false), _) | (None, Some(None)) => Ok(Self::Unpay),
            (Some(true), date) => Ok(Self::Pay {
                date: date.flatten(),
            }),
            (None, Some(Some(date))) => Ok(Self::Pay { date: Some(date) }),
        }
    }

    /// The payment state after this change; a refused echo is recorded in `problems`.
    pub fn apply(
        &self,
        current: Payment,
        now: Timestamp,
        problems: &mut Vec<FieldProblem>,
    ) -> Payment {
        match self {
            Self::Keep => current,
            Self::Unpay => Payment::UNPAID,
            Self::Settle { .. } if current.is_paid => current,
            Self::Pay { date: Some(date) } | Self::Settle { date: Some(date) } => {
                Payment::paid(*date)
            }
            // Already paid: it keeps its date, or its lack of one (nothing is invented).
            Self::Pay { date: None } if current.is_paid => current,
            Self::Pay { date: None } | Self::Settle { date: None } => Payment::paid(now),
            Self::EchoOnly { payment, problem } => {
                if *payment != current {
                    problems.push(FieldProblem::new("paymentDate", problem.clone()));
                }
                current
            }
        }
    }
}

/// Server-set values a client echoed back in a billing update; they must equal the stored ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BillingEcho {
    pub id: Option<DocumentId>,
    pub billing_id: Option<BillingId>,
    pub user_id: Option<UserId>,
    pub generation_date: Option<Timestamp>,
    pub created_at: Option<Timestamp>,
    pub phone: Option<Phone>,
}

/// A partial update of a billing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BillingPatch {
    pub due_date: Change<Timestamp>,
    pub service_id: Change<Scalar>,
    pub total_invoice: Change<Number>,
    pub payment: PaymentChange,
    pub echo: BillingEcho,
}

impl BillingPatch {
    pub fn settle(date: Option<Timestamp>) -> Self {
        Self {
            payment: PaymentChange::Settle { date },
            ..Self::default()
        }
    }

    /// The billing after this patch; `updated_at` moves only when something changed.
    ///
    /// # Errors
    /// When an echoed server-set value differs from the stored one, or a field is changed to a
    /// value today's rules refuse.
    pub fn apply(&self, b: &Billing, now: Timestamp) -> Result<Billing, PatchError> {
        let e = &self.echo;
        check_echo(e.id.as_ref(), &b.id, "_id")?;
        check_echo(e.billing_id.as_ref(), &b.billing_id, "billingId")?;
        check_echo(e.user_id.as_ref(), &b.user_id, "userId")?;
        check_echo(
            e.generation_date.as_ref(),
            &b.generation_date,
            "generationDate",
        )?;
        check_echo(e.created_at.as_ref(), &b.created_at, "createdAt")?;
        check_echo(e.phone.as_ref(), &b.phone, "phone")?;
        let mut problems = Vec::new();
        let mut next = Billing {
            due_date: self.due_date.apply("dueDate", &b.due_date, &mut problems),
            service_id: self
                .service_id
                .apply("serviceId", &b.service_id, &mut problems),
            total_invoice: self.total_invoice.apply(
                "totalInvoice",
                &b.total_invoice,
                &mut problems,
            ),
            payment: self.payment.apply(b.payment, now, &mut problems),
            ..b.clone()
        };
        no_problems(problems)?;
        if next != *b {
            next.updated_at = now;
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ImmutableField, parse_timestamp};

    fn t(s: &str) -> Timestamp {
        parse_timestamp(s).unwrap()
    }

    fn billing(payment: Payment) -> Billing {
        Billing {
            id: DocumentId::from_bytes([1; 12]),
            billing_id: BillingId::from_sequence(7),
            user_id: UserId::parse("u-1").unwrap(),
            generation_date: t("2025-10-01"),
            due_date: Some(t("2025-10-15")),
            service_id: Some(Scalar::text("1").unwrap()),
            total_invoice: Some(Number::Int(100)),
            payment,
            phone: Phone::default(),
            created_at: t("2025-10-01"),
            updated_at: t("2025-10-01"),
        }
    }

    fn apply(change: &PaymentChange, current: Payment, now: Timestamp) -> Payment {
        let mut problems = Vec::new();
        let next = change.apply(current, now, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        next
    }

    #[test]
    fn is_paid_and_payment_date_read_together() {
        assert_eq!(
            PaymentChange::from_fields(None, None),
            Ok(PaymentChange::Keep)
        );
        assert_eq!(
            PaymentChange::from_fields(Some(false), None),
            Ok(PaymentChange::Unpay)
        );
        assert_eq!(
            PaymentChange::from_fields(None, Some(None)),
            Ok(PaymentChange::Unpay)
        );
        assert_eq!(
            PaymentChange::from_fields(None, Some(Some(t("2025-10-02")))),
            Ok(PaymentChange::Pay {
                date: Some(t("2025-10-02"))
            })
        );
        assert_eq!(
            PaymentChange::from_fields(Some(false), Some(Some(t("2025-10-02")))),
            Err(PaymentConflict)
        );
    }

    #[test]
    fn paying_without_a_date_uses_now_and_unpaying_clears_the_date() {
        let now = t("2025-10-10");
        let paid = apply(&PaymentChange::Pay { date: None }, Payment::UNPAID, now);
        assert_eq!(paid, Payment::paid(now));
        assert_eq!(apply(&PaymentChange::Unpay, paid, now), Payment::UNPAID);
    }

    #[test]
    fn a_paid_billing_without_a_date_keeps_having_none() {
        let legacy = Payment {
            is_paid: true,
            date: None,
        };
        let now = t("2025-10-10");
        assert_eq!(
            apply(&PaymentChange::Pay { date: None }, legacy, now),
            legacy
        );
        assert_eq!(
            apply(&PaymentChange::Settle { date: None }, legacy, now),
            legacy
        );
    }

    #[test]
    fn a_refused_payment_combination_passes_only_as_an_echo() {
        let legacy = Payment {
            is_paid: false,
            date: Some(t("2025-10-05")),
        };
        let echo = PaymentChange::EchoOnly {
            payment: legacy,
            problem: PaymentConflict.to_string(),
        };
        assert_eq!(apply(&echo, legacy, t("2025-11-01")), legacy);
        let mut problems = Vec::new();
        echo.apply(Payment::UNPAID, t("2025-11-01"), &mut problems);
        assert_eq!(problems.len(), 1);
    }

    #[test]
    fn settling_a_paid_billing_changes_nothing() {
        let b = billing(Payment::paid(t("2025-10-05")));
        let next = BillingPatch::settle(Some(t("2025-11-01")))
            .apply(&b, t("2025-11-01"))
            .unwrap();
        assert_eq!(next, b);
    }

    #[test]
    fn a_billing_is_overdue_when_unpaid_and_past_due() {
        let b = billing(Payment::UNPAID);
        assert!(b.is_overdue(t("2025-10-16")));
        assert!(!b.is_overdue(t("2025-10-14")));
        assert!(!billing(Payment::paid(t("2025-10-02"))).is_overdue(t("2025-10-16")));
        let undated = Billing {
            due_date: None,
            ..billing(Payment::UNPAID)
        };
        assert!(!undated.is_overdue(t("2030-01-01")));
    }

    #[test]
    fn changing_the_billing_id_in_an_update_is_refused() {
        let patch = BillingPatch {
            echo: BillingEcho {
                billing_id: Some(BillingId::from_sequence(8)),
                ..BillingEcho::default()
            },
            ..BillingPatch::default()
        };
        let err = patch
            .apply(&billing(Payment::UNPAID), t("2025-10-02"))
            .unwrap_err();
        assert_eq!(
            err,
            PatchError::Immutable(ImmutableField { field: "billingId" })
        );
    }

    #[test]
    fn a_legacy_amount_may_be_echoed_unchanged_but_not_set() {
        let legacy = Billing {
            total_invoice: Some(Number::Float(-5.5)),
            ..billing(Payment::UNPAID)
        };
        let echo = |n: Number| BillingPatch {
            total_invoice: Change::EchoOnly {
                value: Some(n),
                problem: "must be a non-negative integer".to_owned(),
            },
            ..BillingPatch::default()
        };
        let now = t("2025-10-02");
        assert_eq!(
            echo(Number::Float(-5.5)).apply(&legacy, now).unwrap(),
            legacy
        );
        assert!(echo(Number::Float(-6.5)).apply(&legacy, now).is_err());
    }
}
