//! Request bodies: one type per body, derived for both its parser (deserr, every field's
//! problem collected) and its schema (utoipa), and the conversion into the domain's terms.
//! A field's rule lives in its type (`values.rs`); what the bodies add is which fields there
//! are, which are required, and what absent and `null` mean.

use billing_domain::{
    Address, AddressPatch, BillingEcho, BillingPatch, Change, CountryCode, FieldProblem,
    NewBilling, NewUser, Number, Payment, PaymentChange, Phone, PhonePatch, Scalar, Timestamp,
    UserEcho, UserPatch,
};
use deserr::Deserr;
use utoipa::ToSchema;

use super::errors::Problems;
use super::values::{
    AmountValue, AnyBillingId, AnyUserId, Checked, CountryCodeText, Date, EmailText, NameText,
    NewUserId, ObjectId, PartText, Patch, PhoneNumberValue, Recorded, Rule, ServiceIdValue,
    Version,
};

/// A recorded field's change: absent keeps it, `null` clears it (or, for a field that cannot
/// be cleared, passes only as an echo of a missing value), a value sets it in the rule's form.
fn scalar_change<R: Rule<Out = Scalar>>(
    field: Patch<Checked<R>>,
    clearable: bool,
) -> Change<Scalar> {
    match field {
        Patch::Absent => Change::Keep,
        Patch::Null if clearable => Change::To(None),
        Patch::Null => Change::EchoOnly {
            value: None,
            problem: "must not be null".to_owned(),
        },
        Patch::Value(Checked::Valid { value, as_sent }) if value != as_sent => {
            Change::Normalized { value, as_sent }
        }
        Patch::Value(Checked::Valid { value, .. }) => Change::To(Some(value)),
        Patch::Value(Checked::Refused { as_sent, problem }) => Change::EchoOnly {
            value: Some(as_sent),
            problem,
        },
    }
}

/// An amount's change; `clearable` says whether `null` clears it (the previous service's
/// routes) or is refused unless the stored amount is missing too (this API's).
fn amount_change(
    field: Patch<Checked<AmountValue>>,
    clearable: bool,
    problems: &mut Vec<FieldProblem>,
) -> Change<Number> {
    match field {
        Patch::Absent => Change::Keep,
        Patch::Null if clearable => Change::To(None),
        Patch::Null => Change::EchoOnly {
            value: None,
            problem: "must not be null".to_owned(),
        },
        Patch::Value(Checked::Valid { value, as_sent }) => match as_sent {
            Scalar::Number(sent) if sent != value => Change::Normalized {
                value,
                as_sent: sent,
            },
            _ => Change::To(Some(value)),
        },
        Patch::Value(Checked::Refused {
            as_sent: Scalar::Number(n),
            problem,
        }) => Change::EchoOnly {
            value: Some(n),
            problem,
        },
        // Stored amounts are numbers: text that breaks the rule cannot be an echo.
        Patch::Value(Checked::Refused { problem, .. }) => {
            problems.push(FieldProblem::new("totalInvoice", problem));
            Change::Keep
        }
    }
}

fn date_change(field: Patch<Date>) -> Change<Timestamp> {
    match field {
        Patch::Absent => Change::Keep,
        Patch::Null => Change::EchoOnly {
            value: None,
            problem: "must not be null".to_owned(),
        },
        Patch::Value(d) => Change::To(Some(d.0)),
    }
}

fn payment(is_paid: Option<bool>, payment_date: Patch<Date>) -> PaymentChange {
    let date = match payment_date {
        Patch::Absent => None,
        Patch::Null => Some(None),
        Patch::Value(d) => Some(Some(d.0)),
    };
    PaymentChange::from_fields(is_paid, date).unwrap_or_else(|e| PaymentChange::EchoOnly {
        payment: Payment {
            is_paid: is_paid.unwrap_or(false),
            date: date.flatten(),
        },
        problem: e.to_string(),
    })
}

fn invalid(problems: Vec<FieldProblem>) -> Problems {
    Problems(
        problems
            .into_iter()
            .map(|p| crate::error::FieldError::new(p.field, p.message))
            .collect(),
    )
}

/// A user's address; every part is optional, `null` clears it.
#[derive(Debug, Default, Deserr, ToSchema)]
#[deserr(error = Problems, rename_all = camelCase, deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressBody {
    #[deserr(default)]
    #[schema(value_type = Option<PartText>)]
    pub city: Patch<Checked<PartText>>,
    #[deserr(default)]
    #[schema(value_type = Option<PartText>)]
    pub country: Patch<Checked<PartText>>,
    #[deserr(default)]
    #[schema(value_type = Option<PartText>)]
    pub zip_code: Patch<Checked<PartText>>,
    #[deserr(default)]
    #[schema(value_type = Option<PartText>)]
    pub address: Patch<Checked<PartText>>,
}

impl AddressBody {
    fn patch(self) -> AddressPatch {
        AddressPatch {
            city: scalar_change(self.city, true),
            country: scalar_change(self.country, true),
            zip_code: scalar_change(self.zip_code, true),
            address: scalar_change(self.address, true),
        }
    }
}

/// A user's phone: `codeNumber` (`+` and 1-4 digits; it cannot be cleared) and `phoneNumber`
/// (`null` clears it).
#[derive(Debug, Default, Deserr, ToSchema)]
#[deserr(error = Problems, rename_all = camelCase, deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PhoneBody {
    #[deserr(default)]
    #[schema(value_type = CountryCodeText, required = false)]
    pub code_number: Patch<Checked<CountryCodeText>>,
    #[deserr(default)]
    #[schema(value_type = Option<PhoneNumberValue>)]
    pub phone_number: Patch<Checked<PhoneNumberValue>>,
}

impl PhoneBody {
    fn patch(self) -> PhonePatch {
        PhonePatch {
            code_number: scalar_change(self.code_number, false),
            phone_number: scalar_change(self.phone_number, true),
        }
    }
}

/// The body of `POST /api/users`.
#[derive(Debug, Deserr, ToSchema)]
#[deserr(error = Problems, rename_all = camelCase, deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NewUser)]
pub struct CreateUserBody {
    /// A UUID v4 is generated when absent.
    #[deserr(default)]
    pub user_id: Option<NewUserId>,
    #[deserr(default)]
    #[schema(value_type = Option<NameText>)]
    pub name: Patch<Checked<NameText>>,
    #[deserr(default)]
    #[schema(value_type = Option<EmailText>)]
    pub email: Patch<Checked<EmailText>>,
    #[deserr(default)]
    pub address: Option<AddressBody>,
    #[deserr(default)]
    pub phone: Option<PhoneBody>,
    /// Default true.
    #[deserr(default)]
    pub is_active: Option<bool>,
}

impl CreateUserBody {
    /// # Errors
    /// A problem per value that breaks today's rules: a new user has nothing to echo.
    pub fn into_domain(self) -> Result<NewUser, Problems> {
        let mut problems = Vec::new();
        let new = NewUser {
            user_id: self.user_id.map(|u| u.0),
            name: scalar_change(self.name, true).apply("name", &None, &mut problems),
            email: scalar_change(self.email, true).apply("email", &None, &mut problems),
            address: self
                .address
                .unwrap_or_default()
                .patch()
                .apply(&Address::default(), &mut problems),
            phone: self.phone.unwrap_or_default().patch().apply(
                &Phone::checked(CountryCode::default_code(), None),
                &mut problems,
            ),
            is_active: self.is_active.unwrap_or(true),
        };
        if problems.is_empty() {
            Ok(new)
        } else {
            Err(invalid(problems))
        }
    }
}

/// The body of `PUT /api/users/:id`: any of a user's fields; the server-set ones (`_id`,
/// `userId`, `createdAt`) only as stored; `updatedAt` and `__v` are ignored.
#[derive(Debug, Deserr, ToSchema)]
#[deserr(error = Problems, rename_all = camelCase, deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = UserUpdate)]
pub struct UpdateUserBody {
    #[deserr(default, rename = "_id")]
    #[serde(rename = "_id")]
    pub id: Option<ObjectId>,
    #[deserr(default)]
    pub user_id: Option<AnyUserId>,
    #[deserr(default)]
    pub created_at: Option<Date>,
    /// Echoed from a fetched object: checked, then ignored (the server sets it anew).
    #[deserr(default)]
    #[allow(dead_code)]
    pub updated_at: Option<Date>,
    /// Echoed from a fetched object: checked, then ignored.
    #[deserr(default, rename = "__v")]
    #[serde(rename = "__v")]
    #[allow(dead_code)]
    pub version: Option<Version>,
    #[deserr(default)]
    #[schema(value_type = Option<NameText>)]
    pub name: Patch<Checked<NameText>>,
    #[deserr(default)]
    #[schema(value_type = Option<EmailText>)]
    pub email: Patch<Checked<EmailText>>,
    #[deserr(default)]
    pub address: Option<AddressBody>,
    #[deserr(default)]
    pub phone: Option<PhoneBody>,
    #[deserr(default)]
    pub is_active: Option<bool>,
}

impl UpdateUserBody {
    pub fn into_domain(self) -> UserPatch {
        UserPatch {
            name: scalar_change(self.name, true),
            email: scalar_change(self.email, true),
            address: self.address.map(AddressBody::patch).unwrap_or_default(),
            phone: self.phone.map(PhoneBody::patch).unwrap_or_default(),
            is_active: self.is_active,
            echo: UserEcho {
                id: self.id.map(|i| i.0),
                user_id: self.user_id.map(|u| u.0),
                created_at: self.created_at.map(|d| d.0),
            },
        }
    }
}

/// The body of `POST /api/billings`.
#[derive(Debug, Deserr, ToSchema)]
#[deserr(error = Problems, rename_all = camelCase, deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NewBilling)]
pub struct CreateBillingBody {
    pub user_id: AnyUserId,
    pub due_date: Date,
    #[schema(value_type = ServiceIdValue)]
    pub service_id: Checked<ServiceIdValue>,
    #[schema(value_type = AmountValue)]
    pub total_invoice: Checked<AmountValue>,
    /// Default false; `true` pays it now (or on `paymentDate`).
    #[deserr(default)]
    pub is_paid: Option<bool>,
    #[deserr(default)]
    #[schema(value_type = Option<Date>)]
    pub payment_date: Patch<Date>,
}

fn valid<R: Rule>(field: &str, c: Checked<R>, problems: &mut Vec<FieldProblem>) -> Option<R::Out> {
    match c {
        Checked::Valid { value, .. } => Some(value),
        Checked::Refused { problem, .. } => {
            problems.push(FieldProblem::new(field, problem));
            None
        }
    }
}

fn new_payment(
    is_paid: Option<bool>,
    payment_date: Patch<Date>,
    problems: &mut Vec<FieldProblem>,
) -> PaymentChange {
    match payment(is_paid, payment_date) {
        PaymentChange::EchoOnly { problem, .. } => {
            problems.push(FieldProblem::new("paymentDate", problem));
            PaymentChange::Keep
        }
        change => change,
    }
}

impl CreateBillingBody {
    /// # Errors
    /// A problem per value that breaks today's rules.
    pub fn into_domain(self) -> Result<NewBilling, Problems> {
        let mut problems = Vec::new();
        let service_id = valid("serviceId", self.service_id, &mut problems);
        let total_invoice = valid("totalInvoice", self.total_invoice, &mut problems);
        let payment = new_payment(self.is_paid, self.payment_date, &mut problems);
        if !problems.is_empty() {
            return Err(invalid(problems));
        }
        Ok(NewBilling {
            user_id: self.user_id.0,
            due_date: self.due_date.0,
            service_id,
            total_invoice,
            payment,
        })
    }
}

/// A billing's phone as a client echoes it back (it is the server's: it may only be sent
/// unchanged).
#[derive(Debug, Deserr, ToSchema)]
#[deserr(error = Problems, rename_all = camelCase, deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = PhoneEcho)]
pub struct PhoneEchoBody {
    #[deserr(default)]
    pub code_number: Option<Recorded>,
    #[deserr(default)]
    pub phone_number: Option<Recorded>,
}

/// The body of `PUT /api/billings/:billingId`: `dueDate`, `serviceId`, `totalInvoice`, `isPaid`,
/// `paymentDate`; the server-set fields only as stored; `updatedAt` and `__v` are ignored.
#[derive(Debug, Deserr, ToSchema)]
#[deserr(error = Problems, rename_all = camelCase, deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = BillingUpdate)]
pub struct UpdateBillingBody {
    #[deserr(default, rename = "_id")]
    #[serde(rename = "_id")]
    pub id: Option<ObjectId>,
    #[deserr(default)]
    pub billing_id: Option<AnyBillingId>,
    #[deserr(default)]
    pub user_id: Option<AnyUserId>,
    #[deserr(default)]
    pub generation_date: Option<Date>,
    #[deserr(default)]
    pub created_at: Option<Date>,
    #[deserr(default)]
    pub phone: Option<PhoneEchoBody>,
    /// Echoed from a fetched object: checked, then ignored (the server sets it anew).
    #[deserr(default)]
    #[allow(dead_code)]
    pub updated_at: Option<Date>,
    /// Echoed from a fetched object: checked, then ignored.
    #[deserr(default, rename = "__v")]
    #[serde(rename = "__v")]
    #[allow(dead_code)]
    pub version: Option<Version>,
    #[deserr(default)]
    #[schema(value_type = Date, required = false)]
    pub due_date: Patch<Date>,
    #[deserr(default)]
    #[schema(value_type = ServiceIdValue, required = false)]
    pub service_id: Patch<Checked<ServiceIdValue>>,
    #[deserr(default)]
    #[schema(value_type = AmountValue, required = false)]
    pub total_invoice: Patch<Checked<AmountValue>>,
    #[deserr(default)]
    pub is_paid: Option<bool>,
    #[deserr(default)]
    #[schema(value_type = Option<Date>)]
    pub payment_date: Patch<Date>,
}

/// A billing's changes; `clearable` says whether `null` clears `serviceId` and `totalInvoice`.
fn changes(
    clearable: bool,
    due_date: Patch<Date>,
    service_id: Patch<Checked<ServiceIdValue>>,
    total_invoice: Patch<Checked<AmountValue>>,
    is_paid: Option<bool>,
    payment_date: Patch<Date>,
    echo: BillingEcho,
) -> Result<BillingPatch, Problems> {
    let mut problems = Vec::new();
    let patch = BillingPatch {
        due_date: date_change(due_date),
        service_id: scalar_change(service_id, clearable),
        total_invoice: amount_change(total_invoice, clearable, &mut problems),
        payment: payment(is_paid, payment_date),
        echo,
    };
    if problems.is_empty() {
        Ok(patch)
    } else {
        Err(invalid(problems))
    }
}

impl UpdateBillingBody {
    /// # Errors
    /// When a value cannot be an echo of a stored one either (text for an amount).
    pub fn into_domain(self) -> Result<BillingPatch, Problems> {
        let echo = BillingEcho {
            id: self.id.map(|i| i.0),
            billing_id: self.billing_id.map(|b| b.0),
            user_id: self.user_id.map(|u| u.0),
            generation_date: self.generation_date.map(|d| d.0),
            created_at: self.created_at.map(|d| d.0),
            phone: self.phone.map(|p| Phone {
                code_number: p.code_number.map(|r| r.0),
                phone_number: p.phone_number.map(|r| r.0),
            }),
        };
        changes(
            false,
            self.due_date,
            self.service_id,
            self.total_invoice,
            self.is_paid,
            self.payment_date,
            echo,
        )
    }
}

/// The optional body of `POST /api/billings/:billingId/pay`.
#[derive(Debug, Default, Deserr, ToSchema)]
#[deserr(error = Problems, rename_all = camelCase, deny_unknown_fields)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = Payment)]
pub struct PayBody {
    /// When it was paid; now when absent or null.
    #[deserr(default)]
    pub payment_date: Option<Date>,
}

/// `POST /billings`, as the previous service took it: the fields the server sets (`billingId`,
/// `generationDate`, `_id`, `phone`, `createdAt`, `updatedAt`, `__v`) and unknown fields are
/// ignored; `serviceId` and `totalInvoice` are optional.
#[derive(Debug, Deserr, ToSchema)]
#[deserr(error = Problems, rename_all = camelCase)]
#[serde(rename_all = "camelCase")]
#[schema(as = NodeNewBilling)]
pub struct NodeCreateBillingBody {
    pub user_id: AnyUserId,
    pub due_date: Date,
    #[deserr(default)]
    #[schema(value_type = Option<ServiceIdValue>)]
    pub service_id: Patch<Checked<ServiceIdValue>>,
    #[deserr(default)]
    #[schema(value_type = Option<AmountValue>)]
    pub total_invoice: Patch<Checked<AmountValue>>,
    #[deserr(default)]
    pub is_paid: Option<bool>,
    #[deserr(default)]
    #[schema(value_type = Option<Date>)]
    pub payment_date: Patch<Date>,
}

impl NodeCreateBillingBody {
    /// # Errors
    /// A problem per value that breaks today's rules.
    pub fn into_domain(self) -> Result<NewBilling, Problems> {
        let mut problems = Vec::new();
        let service_id = self
            .service_id
            .value()
            .and_then(|c| valid("serviceId", c, &mut problems));
        let total_invoice = self
            .total_invoice
            .value()
            .and_then(|c| valid("totalInvoice", c, &mut problems));
        let payment = new_payment(self.is_paid, self.payment_date, &mut problems);
        if !problems.is_empty() {
            return Err(invalid(problems));
        }
        Ok(NewBilling {
            user_id: self.user_id.0,
            due_date: self.due_date.0,
            service_id,
            total_invoice,
            payment,
        })
    }
}

/// `PUT /billings/:billingId`, as the previous service took it (server-set and unknown fields
/// ignored; `null` clears the optional `serviceId` and `totalInvoice`), except that `billingId`
/// and `userId` cannot change.
#[derive(Debug, Deserr, ToSchema)]
#[deserr(error = Problems, rename_all = camelCase)]
#[serde(rename_all = "camelCase")]
#[schema(as = NodeBillingUpdate)]
pub struct NodeUpdateBillingBody {
    #[deserr(default)]
    pub billing_id: Option<AnyBillingId>,
    #[deserr(default)]
    pub user_id: Option<AnyUserId>,
    #[deserr(default)]
    #[schema(value_type = Date, required = false)]
    pub due_date: Patch<Date>,
    #[deserr(default)]
    #[schema(value_type = Option<ServiceIdValue>)]
    pub service_id: Patch<Checked<ServiceIdValue>>,
    #[deserr(default)]
    #[schema(value_type = Option<AmountValue>)]
    pub total_invoice: Patch<Checked<AmountValue>>,
    #[deserr(default)]
    pub is_paid: Option<bool>,
    #[deserr(default)]
    #[schema(value_type = Option<Date>)]
    pub payment_date: Patch<Date>,
}

impl NodeUpdateBillingBody {
    /// # Errors
    /// When a value cannot be an echo of a stored one either.
    pub fn into_domain(self) -> Result<BillingPatch, Problems> {
        let echo = BillingEcho {
            billing_id: self.billing_id.map(|b| b.0),
            user_id: self.user_id.map(|u| u.0),
            ..BillingEcho::default()
        };
        changes(
            true,
            self.due_date,
            self.service_id,
            self.total_invoice,
            self.is_paid,
            self.payment_date,
            echo,
        )
    }
}
