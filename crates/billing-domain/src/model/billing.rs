use super::user::check_echo;
use super::{Amount, BillingId, DocumentId, ImmutableField, Phone, ServiceId, Timestamp, UserId};

/// Whether an invoice is paid. One enum, so `isPaid` and `paymentDate` cannot disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payment {
    Unpaid,
    Paid { date: Timestamp },
}

impl Payment {
    pub fn is_paid(self) -> bool {
        matches!(self, Self::Paid { .. })
    }

    pub fn date(self) -> Option<Timestamp> {
        match self {
            Self::Unpaid => None,
            Self::Paid { date } => Some(date),
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
    pub due_date: Timestamp,
    pub service_id: ServiceId,
    pub total_invoice: Amount,
    pub payment: Payment,
    /// The user's phone when the billing was created.
    pub phone: Phone,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Billing {
    /// Unpaid and due before `now`.
    pub fn is_overdue(&self, now: Timestamp) -> bool {
        !self.payment.is_paid() && self.due_date < now
    }
}

/// What a client gives to create a billing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBilling {
    pub user_id: UserId,
    pub due_date: Timestamp,
    pub service_id: ServiceId,
    pub total_invoice: Amount,
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
    pub service_id: ServiceId,
    pub total_invoice: Amount,
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
            due_date: self.due_date,
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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

    /// The payment state after this change.
    pub fn resolve(self, current: Payment, now: Timestamp) -> Payment {
        match (self, current) {
            (Self::Keep, p) => p,
            (Self::Unpay, _) => Payment::Unpaid,
            (Self::Settle { .. }, p @ Payment::Paid { .. }) => p,
            (Self::Pay { date: Some(date) } | Self::Settle { date: Some(date) }, _) => {
                Payment::Paid { date }
            }
            (Self::Pay { date: None }, p @ Payment::Paid { .. }) => p,
            (Self::Pay { date: None } | Self::Settle { date: None }, Payment::Unpaid) => {
                Payment::Paid { date: now }
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
    pub due_date: Option<Timestamp>,
    pub service_id: Option<ServiceId>,
    pub total_invoice: Option<Amount>,
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
    /// When an echoed server-set value differs from the stored one.
    pub fn apply(&self, b: &Billing, now: Timestamp) -> Result<Billing, ImmutableField> {
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
        let mut next = Billing {
            due_date: self.due_date.unwrap_or(b.due_date),
            service_id: self
                .service_id
                .clone()
                .unwrap_or_else(|| b.service_id.clone()),
            total_invoice: self.total_invoice.unwrap_or(b.total_invoice),
            payment: self.payment.resolve(b.payment, now),
            ..b.clone()
        };
        if next != *b {
            next.updated_at = now;
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_timestamp;

    fn t(s: &str) -> Timestamp {
        parse_timestamp(s).unwrap()
    }

    fn billing(payment: Payment) -> Billing {
        Billing {
            id: DocumentId::from_bytes([1; 12]),
            billing_id: BillingId::from_sequence(7),
            user_id: UserId::parse("u-1").unwrap(),
            generation_date: t("2025-10-01"),
            due_date: t("2025-10-15"),
            service_id: ServiceId::parse("1").unwrap(),
            total_invoice: Amount::new(100).unwrap(),
            payment,
            phone: Phone::default(),
            created_at: t("2025-10-01"),
            updated_at: t("2025-10-01"),
        }
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
        let paid = PaymentChange::Pay { date: None }.resolve(Payment::Unpaid, now);
        assert_eq!(paid, Payment::Paid { date: now });
        assert_eq!(PaymentChange::Unpay.resolve(paid, now), Payment::Unpaid);
    }

    #[test]
    fn settling_a_paid_billing_changes_nothing() {
        let b = billing(Payment::Paid {
            date: t("2025-10-05"),
        });
        let next = BillingPatch::settle(Some(t("2025-11-01")))
            .apply(&b, t("2025-11-01"))
            .unwrap();
        assert_eq!(next, b);
    }

    #[test]
    fn a_billing_is_overdue_when_unpaid_and_past_due() {
        let b = billing(Payment::Unpaid);
        assert!(b.is_overdue(t("2025-10-16")));
        assert!(!b.is_overdue(t("2025-10-14")));
        assert!(
            !billing(Payment::Paid {
                date: t("2025-10-02")
            })
            .is_overdue(t("2025-10-16"))
        );
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
            .apply(&billing(Payment::Unpaid), t("2025-10-02"))
            .unwrap_err();
        assert_eq!(err.field, "billingId");
    }
}
