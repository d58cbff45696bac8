//! The OpenAPI 3.1 document, generated: each operation's entry sits next to its handler in the
//! one list that also registers the routes (`lib.rs`, `operations`), and every schema in it
//! comes from the Rust type the handler parses or answers with (utoipa's derives and the
//! field types of `inbound::values`). Nothing in it is written by hand but words.

use std::collections::BTreeMap;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{
    AllOfBuilder, AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref,
    RefOr, Required,
};
use utoipa::{IntoParams, ToSchema};

use crate::error::ErrorBody;

/// One operation's entry: built by the methods below, from types.
pub struct Spec {
    operation: OperationBuilder,
    schemas: Vec<(String, RefOr<Schema>)>,
    secured: bool,
    ok: Option<(u16, Response)>,
    /// An example value per path parameter, for the explorer and the fuzzer.
    examples: Vec<(&'static str, &'static str)>,
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spec").finish_non_exhaustive()
    }
}

fn schema_ref<T: ToSchema>() -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(T::name()))
}

fn json_content(schema: impl Into<RefOr<Schema>>) -> utoipa::openapi::Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

fn status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Invalid request (`code`, `error`, and `details` naming the field)",
        401 => "Missing or invalid bearer token",
        403 => "The token's scope does not allow this",
        404 => "Not found",
        405 => "Another method on this path (`Allow` says which)",
        409 => "Conflict with the stored state",
        413 => "Body over 64 KiB",
        415 => "A body not sent as application/json",
        503 => "Storage unavailable or request timeout (`Retry-After` says when to retry)",
        _ => "",
    }
}

impl Spec {
    /// An operation with its id, tag and summary; secured (bearer token) unless made
    /// [`Spec::open`].
    pub fn new(id: &str, tag: &str, summary: &str) -> Self {
        Self {
            operation: OperationBuilder::new()
                .operation_id(Some(id))
                .tag(tag)
                .summary(Some(summary)),
            schemas: Vec::new(),
            secured: true,
            ok: None,
            examples: Vec::new(),
        }
    }

    /// Open to all, whatever `API_TOKENS` says (probes, the document itself).
    #[must_use]
    pub fn open(mut self) -> Self {
        self.secured = false;
        self
    }

    fn collect<T: ToSchema>(&mut self) {
        self.schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(&mut self.schemas);
    }

    /// An example value of the path parameter `name`.
    #[must_use]
    pub fn example(mut self, name: &'static str, value: &'static str) -> Self {
        self.examples.push((name, value));
        self
    }

    /// The query parameters, from the handler's query type.
    #[must_use]
    pub fn query<Q: IntoParams>(mut self) -> Self {
        for p in Q::into_params(|| Some(ParameterIn::Query)) {
            self.operation = self.operation.parameter(p);
        }
        self
    }

    /// The JSON body, from the handler's body type.
    #[must_use]
    pub fn body<B: ToSchema>(self, required: bool) -> Self {
        self.body_with::<B>(required, Vec::new())
    }

    /// Like [`Spec::body`], for a body with `isPaid` and `paymentDate`: `isPaid: false` with a
    /// `paymentDate` is refused (this API never makes the two disagree).
    #[must_use]
    pub fn paid_body<B: ToSchema>(self, required: bool) -> Self {
        self.body_with::<B>(required, vec![paid_rule()])
    }

    /// Like [`Spec::paid_body`], for the previous service's routes: they ignore unknown
    /// fields but refuse query operators (`$`-keys) anywhere in a body.
    #[must_use]
    pub fn node_body<B: ToSchema>(mut self) -> Self {
        self.schemas.push((NO_OPERATORS.to_owned(), no_operators()));
        self.body_with::<B>(true, vec![paid_rule(), object_without_operators().into()])
    }

    /// The body `B`, further bound by `rules` (each must hold).
    fn body_with<B: ToSchema>(mut self, required: bool, rules: Vec<RefOr<Schema>>) -> Self {
        self.collect::<B>();
        let schema: RefOr<Schema> = if rules.is_empty() {
            schema_ref::<B>()
        } else {
            rules
                .into_iter()
                .fold(
                    AllOfBuilder::new().item(schema_ref::<B>()),
                    AllOfBuilder::item,
                )
                .into()
        };
        let required = if required {
            Required::True
        } else {
            Required::False
        };
        self.operation = self.operation.request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(required))
                .content("application/json", json_content(schema))
                .build(),
        ));
        self
    }

    /// Answers `status` with a `T`.
    #[must_use]
    pub fn ok<T: ToSchema>(mut self, status: u16) -> Self {
        self.collect::<T>();
        self.ok = Some((
            status,
            ResponseBuilder::new()
                .description(status_text(status))
                .content("application/json", json_content(schema_ref::<T>()))
                .build(),
        ));
        self
    }

    /// Answers 200 with an array of `T`, a page at a time.
    #[must_use]
    pub fn list<T: ToSchema>(mut self) -> Self {
        self.collect::<T>();
        let header = |description: &str, ty: Type| {
            HeaderBuilder::new()
                .description(Some(description))
                .schema(ObjectBuilder::new().schema_type(ty))
                .build()
        };
        self.ok = Some((
            200,
            ResponseBuilder::new()
                .description("One page, as a plain JSON array")
                .content(
                    "application/json",
                    json_content(ArrayBuilder::new().items(schema_ref::<T>())),
                )
                .header(
                    "Link",
                    header(
                        "`<...&after=cursor>; rel=\"next\"` when there is a next page",
                        Type::String,
                    ),
                )
                .header(
                    "X-Total-Count",
                    header(
                        "On `page` requests: the items matching the filters",
                        Type::Integer,
                    ),
                )
                .header(
                    "X-Skipped-Count",
                    header(
                        "Stored documents in this page's range that are not items, left out",
                        Type::Integer,
                    ),
                )
                .build(),
        ));
        self
    }

    /// Answers 200 with a body (text or bytes) of one of `media_types`.
    #[must_use]
    pub fn raw(mut self, media_types: &[&str]) -> Self {
        let response = media_types.iter().fold(
            ResponseBuilder::new().description(status_text(200)),
            |r, media_type| {
                r.content(
                    *media_type,
                    json_content(ObjectBuilder::new().schema_type(Type::String)),
                )
            },
        );
        self.ok = Some((200, response.build()));
        self
    }

    /// Answers 200 with any JSON object (the document itself).
    #[must_use]
    pub fn any_object(mut self) -> Self {
        self.ok = Some((
            200,
            ResponseBuilder::new()
                .description(status_text(200))
                .content(
                    "application/json",
                    json_content(ObjectBuilder::new().schema_type(Type::Object)),
                )
                .build(),
        ));
        self
    }

    /// A link from the success answer to operation `to`, its parameters from the answer's
    /// body, for clients (and fuzzers) that follow a resource from its creation.
    #[must_use]
    pub fn link(mut self, name: &str, to: &str, parameters: &[(&str, &str)]) -> Self {
        if let Some((status, response)) = self.ok.take() {
            let mut link = LinkBuilder::new().operation_id(to);
            for (param, field) in parameters {
                link = link.parameter(*param, format!("$response.body#/{field}"));
            }
            let mut response = response;
            response
                .links
                .insert(name.to_owned(), RefOr::T(link.build()));
            self.ok = Some((status, response));
        }
        self
    }

    /// The error statuses it may answer with, all with the `Error` body.
    #[must_use]
    pub fn errors(mut self, statuses: &[u16]) -> Self {
        self.collect::<ErrorBody>();
        for status in statuses {
            let mut response = ResponseBuilder::new()
                .description(status_text(*status))
                .content("application/json", json_content(schema_ref::<ErrorBody>()));
            if *status == 503 {
                response = response.header(
                    "Retry-After",
                    HeaderBuilder::new()
                        .description(Some("Seconds to wait before retrying"))
                        .schema(ObjectBuilder::new().schema_type(Type::Integer))
                        .build(),
                );
            }
            if *status == 405 {
                response = response.header(
                    "Allow",
                    HeaderBuilder::new()
                        .description(Some("The methods this path takes"))
                        .schema(ObjectBuilder::new().schema_type(Type::String))
                        .build(),
                );
            }
            self.operation = self
                .operation
                .response(status.to_string(), response.build());
        }
        self
    }

    fn build(self, path: &str) -> (Operation, Vec<(String, RefOr<Schema>)>) {
        let mut operation = self.operation;
        for name in path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        {
            let example = self
                .examples
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| serde_json::Value::from(*v));
            operation = operation.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .min_length(Some(1))
                            .examples(example),
                    )),
            );
        }
        if let Some((status, response)) = self.ok {
            operation = operation.response(status.to_string(), response);
        }
        if self.secured {
            operation =
                operation.security(SecurityRequirement::new("bearer", Vec::<String>::new()));
        }
        (operation.build(), self.schemas)
    }
}

fn method(name: &str) -> HttpMethod {
    match name {
        "post" => HttpMethod::Post,
        "put" => HttpMethod::Put,
        "delete" => HttpMethod::Delete,
        "head" => HttpMethod::Head,
        _ => HttpMethod::Get,
    }
}

/// `isPaid: false` with a `paymentDate` is refused: either the date is `null` (or absent) or
/// `isPaid` is not `false`.
fn paid_rule() -> RefOr<Schema> {
    let null = || ObjectBuilder::new().schema_type(Type::Null);
    AnyOfBuilder::new()
        .item(ObjectBuilder::new().property("paymentDate", null()))
        .item(ObjectBuilder::new().property(
            "isPaid",
            ObjectBuilder::new().enum_values(Some([
                serde_json::Value::Bool(true),
                serde_json::Value::Null,
            ])),
        ))
        .description(Some("isPaid false with a paymentDate is refused"))
        .into()
}

/// The name of the schema of a value without query operators at any depth.
const NO_OPERATORS: &str = "NoQueryOperators";

/// An object none of whose keys, at any depth, starts with `$`.
fn object_without_operators() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^(?![$])")),
        ))
        .additional_properties(Some(Ref::from_schema_name(NO_OPERATORS)))
}

/// Any JSON value without query operators (`$`-keys) at any depth.
fn no_operators() -> RefOr<Schema> {
    AnyOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(SchemaType::Array(vec![
            Type::Null,
            Type::Boolean,
            Type::Number,
            Type::String,
        ])))
        .item(ArrayBuilder::new().items(Ref::from_schema_name(NO_OPERATORS)))
        .item(object_without_operators())
        .into()
}

/// utoipa writes a link's fields in snake case (`operation_id`); OpenAPI names them in camel
/// case.
fn fix_links(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::Object(links)) = map.get_mut("links") {
                for link in links.values_mut() {
                    if let serde_json::Value::Object(link) = link {
                        for (from, to) in [
                            ("operation_id", "operationId"),
                            ("operation_ref", "operationRef"),
                            ("request_body", "requestBody"),
                        ] {
                            if let Some(v) = link.remove(from)
                                && !v.as_str().is_some_and(str::is_empty)
                            {
                                link.insert(to.to_owned(), v);
                            }
                        }
                    }
                }
            }
            map.values_mut().for_each(fix_links);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(fix_links),
        _ => {}
    }
}

/// The document as JSON, as served.
pub fn to_json(doc: &OpenApi) -> serde_json::Value {
    let mut value = serde_json::to_value(doc).unwrap_or_default();
    fix_links(&mut value);
    value
}

/// The document for `operations` (method, path, spec).
pub fn document(operations: Vec<(&str, &str, Spec)>) -> OpenApi {
    let mut items: BTreeMap<String, Vec<(HttpMethod, Operation)>> = BTreeMap::new();
    let mut schemas: BTreeMap<String, RefOr<Schema>> = BTreeMap::new();
    for (m, path, spec) in operations {
        let (operation, found) = spec.build(path);
        items
            .entry(path.to_owned())
            .or_default()
            .push((method(m), operation));
        schemas.extend(found);
    }
    let mut paths = PathsBuilder::new();
    for (path, ops) in items {
        let mut ops = ops.into_iter();
        let Some((m, first)) = ops.next() else {
            continue;
        };
        let item = ops.fold(PathItem::new(m, first), |mut item, (m, op)| {
            item.merge_operations(PathItem::new(m, op));
            item
        });
        paths = paths.path(path, item);
    }
    let components = schemas
        .into_iter()
        .fold(ComponentsBuilder::new(), |c, (name, schema)| {
            c.schema(name, schema)
        })
        .security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("TelecomX billing service")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Users (customers) and their billings (invoices). Dates are RFC 3339 UTC with milliseconds. \
                     With API_TOKENS set, every operation but the probes, the metrics and this document needs a bearer token.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components))
        .build()
}
