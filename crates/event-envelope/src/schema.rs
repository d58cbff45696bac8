//! The parts of the document the derives cannot say: which event types are handled, and that
//! a message of any other type is skipped whatever else it holds.

use std::borrow::Cow;

use billing_domain::EventType;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};

fn handled_names() -> Vec<&'static str> {
    EventType::ALL.iter().map(|t| t.as_str()).collect()
}

/// An event type this service handles.
#[derive(Debug)]
pub struct HandledType;

impl PartialSchema for HandledType {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(handled_names()))
            .into()
    }
}

impl ToSchema for HandledType {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("HandledEventType")
    }
}

/// A message whose type (`type`, else `event`) is text naming no handled type: answered
/// `skipped`, whatever else it holds.
#[derive(Debug)]
pub struct SkippedEvent;

impl PartialSchema for SkippedEvent {
    fn schema() -> RefOr<Schema> {
        let escaped: Vec<String> = handled_names()
            .iter()
            .map(|n| n.replace('.', "\\."))
            .collect();
        let unhandled = || {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(format!("^(?!({})$)", escaped.join("|"))))
        };
        let not_text = ObjectBuilder::new().schema_type(SchemaType::Array(vec![
            Type::Null,
            Type::Boolean,
            Type::Number,
            Type::Integer,
            Type::Object,
            Type::Array,
        ]));
        AnyOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property("type", unhandled())
                    .required("type"),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property("event", unhandled())
                    .required("event")
                    .property("type", not_text),
            )
            .description(Some(
                "A type this service does not handle: skipped (`outcome: skipped`), whatever else the message holds",
            ))
            .into()
    }
}

impl ToSchema for SkippedEvent {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("SkippedEvent")
    }
}

/// `anyOf` the object schema `T` and every other kind of value: an object is read as a `T`;
/// `null` clears; anything else is left out.
fn object_or_left_out<T: ToSchema>() -> RefOr<Schema> {
    AnyOfBuilder::new()
        .item(utoipa::openapi::Ref::from_schema_name(T::name()))
        .item(ObjectBuilder::new().schema_type(SchemaType::Array(vec![
            Type::Null,
            Type::Boolean,
            Type::Number,
            Type::String,
            Type::Array,
        ])))
        .description(Some(
            "An object is read; null clears; a value of another kind is left out",
        ))
        .into()
}

/// Schemas for payload fields that hold an object.
macro_rules! object_field {
    ($name:ident, $object:ty, $label:literal) => {
        #[derive(Debug)]
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                object_or_left_out::<$object>()
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($label)
            }

            fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
                schemas.push((<$object>::name().into_owned(), <$object>::schema()));
                <$object>::schemas(schemas);
            }
        }
    };
}

object_field!(AddressField, crate::SentAddress, "SentAddressField");
object_field!(PhoneField, crate::SentPhone, "SentPhoneField");
