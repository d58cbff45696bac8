//! How an update treats one field, and the problems it can find with it.
//!
//! A client may send back the whole object it fetched. A stored value can break today's rules
//! (the system of record wrote it), and echoing it back unchanged must never be refused; only a
//! *change* to a value that breaks the rules is. So the edge does not refuse such a value
//! outright: it hands it over as [`Change::EchoOnly`], and the update compares it with what is
//! stored.

/// A problem with one field of an update, found against the stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field's path in the body, like `address.city`.
    pub field: String,
    pub message: String,
}

impl FieldProblem {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A client tried to change a value the server owns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` cannot be changed")]
pub struct ImmutableField {
    pub field: &'static str,
}

/// Why an update cannot be applied to the stored object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error(transparent)]
    Immutable(#[from] ImmutableField),
    /// Changes that break today's rules, one problem per field.
    #[error("invalid update: {}", describe(.0))]
    Invalid(Vec<FieldProblem>),
}

fn describe(problems: &[FieldProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("`{}` {}", p.field, p.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `Err` with every problem found, if there is one.
pub(crate) fn no_problems(problems: Vec<FieldProblem>) -> Result<(), PatchError> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(PatchError::Invalid(problems))
    }
}

pub(crate) fn check_echo<T: PartialEq>(
    echoed: Option<&T>,
    stored: &T,
    field: &'static str,
) -> Result<(), ImmutableField> {
    match echoed {
        Some(v) if v != stored => Err(ImmutableField { field }),
        _ => Ok(()),
    }
}

/// An update of one optional field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Change<T> {
    #[default]
    Keep,
    /// Set to this value; `None` clears the field.
    To(Option<T>),
    /// A value today's rules refuse (`problem` says why): accepted only when it equals the
    /// stored value, which then stays as it is.
    EchoOnly { value: Option<T>, problem: String },
    /// Set to `value`, today's rules' form of what was sent (`"42"` for `42`), unless the
    /// stored value is what was sent (`as_sent`): an echo keeps the stored form.
    Normalized { value: T, as_sent: T },
}

impl<T: Clone + PartialEq> Change<T> {
    /// `None` keeps, `Some(None)` clears, `Some(Some(v))` sets: the shape of a JSON field that
    /// may be absent or null.
    pub fn from_patch(patch: Option<Option<T>>) -> Self {
        patch.map_or(Self::Keep, Self::To)
    }

    /// The field's value after this change; a refused echo is recorded in `problems` (and the
    /// stored value kept).
    pub fn apply(
        &self,
        field: &str,
        current: &Option<T>,
        problems: &mut Vec<FieldProblem>,
    ) -> Option<T> {
        match self {
            Self::Keep => current.clone(),
            Self::To(value) => value.clone(),
            Self::EchoOnly { value, problem } => {
                if value != current {
                    problems.push(FieldProblem::new(field, problem.clone()));
                }
                current.clone()
            }
            Self::Normalized { value, as_sent } => {
                if current.as_ref() == Some(as_sent) {
                    current.clone()
                } else {
                    Some(value.clone())
                }
            }
        }
    }

    pub fn map<U>(self, f: impl Fn(T) -> U) -> Change<U> {
        match self {
            Self::Keep => Change::Keep,
            Self::To(v) => Change::To(v.map(f)),
            Self::EchoOnly { value, problem } => Change::EchoOnly {
                value: value.map(&f),
                problem,
            },
            Self::Normalized { value, as_sent } => Change::Normalized {
                value: f(value),
                as_sent: f(as_sent),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_value_passes_as_an_echo_of_the_stored_one_only() {
        let echo = Change::EchoOnly {
            value: Some(-5),
            problem: "must not be negative".to_owned(),
        };
        let mut problems = Vec::new();
        assert_eq!(echo.apply("n", &Some(-5), &mut problems), Some(-5));
        assert!(problems.is_empty());
        assert_eq!(echo.apply("n", &Some(7), &mut problems), Some(7));
        assert_eq!(
            problems,
            vec![FieldProblem::new("n", "must not be negative")]
        );
    }

    #[test]
    fn a_normalized_value_keeps_an_echo_in_its_stored_form() {
        let change = Change::Normalized {
            value: "42".to_owned(),
            as_sent: "n42".to_owned(),
        };
        let mut problems = Vec::new();
        let stored = Some("n42".to_owned());
        assert_eq!(change.apply("n", &stored, &mut problems), stored);
        assert_eq!(
            change.apply("n", &Some("7".to_owned()), &mut problems),
            Some("42".to_owned())
        );
        assert!(problems.is_empty());
    }

    #[test]
    fn keep_to_and_clear_do_what_they_say() {
        let mut problems = Vec::new();
        assert_eq!(Change::Keep.apply("n", &Some(1), &mut problems), Some(1));
        assert_eq!(
            Change::To(Some(2)).apply("n", &Some(1), &mut problems),
            Some(2)
        );
        assert_eq!(Change::To(None).apply("n", &Some(1), &mut problems), None);
        assert!(problems.is_empty());
    }
}
