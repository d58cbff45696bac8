//! The OpenAPI 3.1 document. Each operation's description sits next to its handler in the one
//! list that also registers the routes (`lib.rs`, `operations`), so a route cannot exist without
//! its entry here.

use serde_json::{Map, Value, json};

/// How an operation is described.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub id: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    /// Path parameters are taken from the path; these are the query parameters.
    pub query: &'static [&'static str],
    /// The request body's schema, if any, and whether it is required.
    pub body: Option<(&'static str, bool)>,
    /// Success status and response schema (`[Name]` for an array of `Name`).
    pub ok: (u16, &'static str),
    /// Error statuses it may answer with (all with the `Error` schema).
    pub errors: &'static [u16],
}

const BILLING_FILTERS: &[&str] = &[
    "userId",
    "isPaid",
    "overdue",
    "dueBefore",
    "dueAfter",
    "limit",
    "page",
    "after",
];
const USER_BILLING_FILTERS: &[&str] = &[
    "isPaid",
    "overdue",
    "dueBefore",
    "dueAfter",
    "limit",
    "page",
    "after",
];

macro_rules! spec {
    ($name:ident, $id:literal, $tag:literal, $summary:literal, query: $q:expr, body: $b:expr, ok: $ok:expr, errors: $e:expr) => {
        pub const $name: Spec = Spec {
            id: $id,
            summary: $summary,
            tag: $tag,
            query: $q,
            body: $b,
            ok: $ok,
            errors: $e,
        };
    };
}

spec!(PROBE, "probe", "operations", "Liveness probe kept for the previous service's clients", query: &[], body: None, ok: (200, "Ok"), errors: &[]);
spec!(HEALTHZ, "healthz", "operations", "Alive", query: &[], body: None, ok: (200, "Health"), errors: &[]);
spec!(READYZ, "readyz", "operations", "Ready: storage reachable; the consumer's state", query: &[], body: None, ok: (200, "Readiness"), errors: &[503]);
spec!(METRICS, "metrics", "operations", "Prometheus metrics (text format)", query: &[], body: None, ok: (200, "text"), errors: &[]);
spec!(OPENAPI, "openapi", "operations", "This document", query: &[], body: None, ok: (200, "object"), errors: &[]);
spec!(DOCS, "docs", "operations", "A page that renders this document", query: &[], body: None, ok: (200, "html"), errors: &[]);
spec!(LIST_USERS, "listUsers", "users", "List users in creation order", query: &["isActive", "limit", "page", "after"], body: None, ok: (200, "[User]"), errors: &[400, 401, 403, 503]);
spec!(CREATE_USER, "createUser", "users", "Create a user (userId generated when absent)", query: &[], body: Some(("NewUser", true)), ok: (201, "User"), errors: &[400, 401, 403, 409, 413, 503]);
spec!(GET_USER, "getUser", "users", "A user, by userId or _id", query: &[], body: None, ok: (200, "User"), errors: &[401, 403, 404, 503]);
spec!(UPDATE_USER, "updateUser", "users", "Partial update; address and phone merge field by field", query: &[], body: Some(("UserUpdate", true)), ok: (200, "User"), errors: &[400, 401, 403, 404, 413, 503]);
spec!(DELETE_USER, "deleteUser", "users", "Delete a user and all their billings", query: &[], body: None, ok: (200, "UserDeleted"), errors: &[401, 403, 404, 503]);
spec!(USER_BILLINGS, "listUserBillings", "users", "A user's billings, newest first", query: USER_BILLING_FILTERS, body: None, ok: (200, "[Billing]"), errors: &[400, 401, 403, 404, 503]);
spec!(LIST_BILLINGS, "listBillings", "billings", "List billings, newest first", query: BILLING_FILTERS, body: None, ok: (200, "[Billing]"), errors: &[400, 401, 403, 503]);
spec!(CREATE_BILLING, "createBilling", "billings", "Create a billing for an existing, active user", query: &[], body: Some(("NewBilling", true)), ok: (201, "Billing"), errors: &[400, 401, 403, 404, 409, 413, 503]);
spec!(LEGACY_USER_BILLINGS, "listUserBillingsLegacy", "billings", "A user's billings (the previous service's path)", query: USER_BILLING_FILTERS, body: None, ok: (200, "[Billing]"), errors: &[400, 401, 403, 404, 503]);
spec!(GET_BILLING, "getBilling", "billings", "A billing; ?expand=user embeds its user", query: &["expand"], body: None, ok: (200, "Billing"), errors: &[400, 401, 403, 404, 503]);
spec!(UPDATE_BILLING, "updateBilling", "billings", "Partial update", query: &[], body: Some(("BillingUpdate", true)), ok: (200, "Billing"), errors: &[400, 401, 403, 404, 413, 503]);
spec!(DELETE_BILLING, "deleteBilling", "billings", "Delete a billing", query: &[], body: None, ok: (200, "Deleted"), errors: &[401, 403, 404, 503]);
spec!(PAY_BILLING, "payBilling", "billings", "Mark paid (a paid billing is returned unchanged)", query: &[], body: Some(("Payment", false)), ok: (200, "Billing"), errors: &[400, 401, 403, 404, 413, 503]);
spec!(POST_EVENT, "postEvent", "events", "Apply one customer event, as the Kafka consumer does", query: &[], body: Some(("Event", true)), ok: (200, "EventResult"), errors: &[400, 401, 403, 409, 413, 503]);

spec!(NODE_LIST_BILLINGS, "nodeListBillings", "node", "Every billing in insertion order (the previous service's route; streamed)", query: &[], body: None, ok: (200, "[Billing]"), errors: &[401, 403, 503]);
spec!(NODE_CREATE_BILLING, "nodeCreateBilling", "node", "Create a billing as the previous service did (server-set and unknown fields ignored)", query: &[], body: Some(("NodeNewBilling", true)), ok: (201, "Billing"), errors: &[400, 401, 403, 404, 409, 413, 503]);
spec!(NODE_USER_BILLINGS, "nodeUserBillings", "node", "Every billing of a userId, newest first; [] when none", query: &[], body: None, ok: (200, "[Billing]"), errors: &[401, 403, 503]);
spec!(NODE_GET_BILLING, "nodeGetBilling", "node", "A billing and its user now, in the previous service's shape", query: &[], body: None, ok: (200, "NodeBillingWithUser"), errors: &[401, 403, 404, 503]);
spec!(NODE_UPDATE_BILLING, "nodeUpdateBilling", "node", "Partial update (server-set and unknown fields ignored; billingId and userId cannot change)", query: &[], body: Some(("BillingUpdate", true)), ok: (200, "Billing"), errors: &[400, 401, 403, 404, 413, 503]);
spec!(NODE_DELETE_BILLING, "nodeDeleteBilling", "node", "Delete a billing", query: &[], body: None, ok: (200, "Deleted"), errors: &[401, 403, 404, 503]);

fn query_schema(name: &str) -> Value {
    match name {
        "limit" => json!({ "type": "integer", "minimum": 1, "maximum": 500, "default": 50 }),
        "page" => json!({ "type": "integer", "minimum": 1 }),
        "isActive" | "isPaid" | "overdue" => json!({ "type": "boolean" }),
        "dueBefore" | "dueAfter" => json!({ "type": "string", "format": "date-time" }),
        "expand" => json!({ "type": "string", "enum": ["user"] }),
        _ => json!({ "type": "string" }),
    }
}

fn query_description(name: &str) -> &'static str {
    match name {
        "limit" => "Items per page",
        "page" => "1-based page number; adds X-Total-Count",
        "after" => "Cursor from the Link rel=\"next\" header",
        "dueBefore" => "Due strictly before (RFC 3339 or YYYY-MM-DD)",
        "dueAfter" => "Due at or after (RFC 3339 or YYYY-MM-DD)",
        "overdue" => "Unpaid and due before now (true), or the others (false)",
        _ => "Filter",
    }
}

fn schema_ref(name: &str) -> Value {
    match name {
        "text" => json!({ "type": "string" }),
        "object" => json!({ "type": "object" }),
        "html" => json!({ "type": "string" }),
        _ => match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
            Some(item) => {
                json!({ "type": "array", "items": { "$ref": format!("#/components/schemas/{item}") } })
            }
            None => json!({ "$ref": format!("#/components/schemas/{name}") }),
        },
    }
}

fn media_type(schema: &str) -> &'static str {
    match schema {
        "text" => "text/plain",
        "html" => "text/html",
        _ => "application/json",
    }
}

fn status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Invalid request (code, error, details naming the field)",
        401 => "Missing or invalid bearer token",
        403 => "The token's scope does not allow this",
        404 => "Not found",
        409 => "Conflict",
        413 => "Body over 64 KiB",
        503 => "Storage unavailable or request timeout",
        _ => "",
    }
}

fn operation(path: &str, spec: &Spec) -> Value {
    let mut params: Vec<Value> = path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect();
    params.extend(spec.query.iter().map(|q| {
        json!({ "name": q, "in": "query", "required": false, "description": query_description(q), "schema": query_schema(q) })
    }));
    let mut responses = Map::new();
    let (status, schema) = spec.ok;
    let mut ok = json!({
        "description": status_text(status),
        "content": { media_type(schema): { "schema": schema_ref(schema) } },
    });
    if schema.starts_with('[') {
        ok["headers"] = json!({
            "Link": { "description": "<...&after=cursor>; rel=\"next\" when there is a next page", "schema": { "type": "string" } },
            "X-Total-Count": { "description": "On page requests: items matching the filters", "schema": { "type": "integer" } },
        });
    }
    responses.insert(status.to_string(), ok);
    for e in spec.errors {
        responses.insert(
            e.to_string(),
            json!({ "description": status_text(*e), "content": { "application/json": { "schema": schema_ref("Error") } } }),
        );
    }
    let mut op = json!({
        "operationId": spec.id,
        "summary": spec.summary,
        "tags": [spec.tag],
        "parameters": params,
        "responses": responses,
    });
    if let Some((body, required)) = spec.body {
        op["requestBody"] = json!({
            "required": required,
            "content": { "application/json": { "schema": schema_ref(body) } },
        });
    }
    if path.starts_with("/api/") || path.starts_with("/billings") {
        op["security"] = json!([{ "bearer": [] }, {}]);
    }
    op
}

/// The document for `operations` (method, path, spec).
pub fn document(operations: &[(&str, &str, Spec)]) -> Value {
    let mut paths = Map::new();
    for (method, path, spec) in operations {
        let entry = paths.entry((*path).to_owned()).or_insert_with(|| json!({}));
        entry[method.to_lowercase()] = operation(path, spec);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "TelecomX billing service",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Users (customers) and their billings (invoices). Dates are RFC 3339 UTC with milliseconds.",
        },
        "paths": paths,
        "components": { "schemas": schemas(), "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } } },
    })
}

fn schemas() -> Value {
    let date = json!({ "type": "string", "format": "date-time" });
    let address = json!({
        "type": "object", "additionalProperties": false,
        "properties": {
            "city": { "type": ["string", "null"], "maxLength": 200 },
            "country": { "type": ["string", "null"], "maxLength": 200 },
            "zipCode": { "type": ["string", "null"], "maxLength": 200 },
            "address": { "type": ["string", "null"], "maxLength": 200 },
        },
    });
    // What a stored user or billing holds: values the system of record wrote, as it wrote them.
    let recorded = json!({ "type": ["string", "number"] });
    let recorded_address = json!({
        "type": "object",
        "properties": { "city": recorded, "country": recorded, "zipCode": recorded, "address": recorded },
    });
    let recorded_phone = json!({
        "type": "object",
        "properties": { "codeNumber": recorded, "phoneNumber": recorded },
    });
    let phone = json!({
        "type": "object", "additionalProperties": false,
        "properties": {
            "codeNumber": { "type": "string", "pattern": "^\\+[0-9]{1,4}$", "default": "+57" },
            "phoneNumber": { "type": ["integer", "null"], "minimum": 1, "maximum": 999_999_999_999_999_u64 },
        },
    });
    let user_id = json!({ "type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$" });
    let amount = json!({ "oneOf": [
        { "type": "integer", "minimum": 0, "maximum": 1_000_000_000_000_000_u64 },
        { "type": "string", "pattern": "^[0-9]+$" },
    ] });
    let service_id = json!({ "oneOf": [{ "type": "string", "minLength": 1, "maxLength": 64 }, { "type": "number" }] });
    json!({
        "User": {
            "type": "object",
            "required": ["_id", "userId", "address", "phone", "isActive", "createdAt", "updatedAt"],
            "properties": {
                "_id": { "type": "string", "pattern": "^[0-9a-f]{24}$" }, "userId": { "type": "string" },
                "name": recorded, "email": recorded,
                "address": recorded_address, "phone": recorded_phone, "isActive": { "type": "boolean" },
                "createdAt": date, "updatedAt": date, "__v": { "type": "integer" },
            },
        },
        "NewUser": {
            "type": "object", "additionalProperties": false,
            "properties": {
                "userId": user_id, "name": { "type": ["string", "null"], "maxLength": 200 },
                "email": { "type": ["string", "null"] }, "address": address, "phone": phone,
                "isActive": { "type": "boolean", "default": true },
            },
        },
        "UserUpdate": {
            "type": "object",
            "description": "Any User field; server-set ones (_id, userId, createdAt) only unchanged; updatedAt and __v are ignored.",
            "properties": {
                "name": { "type": ["string", "null"] }, "email": { "type": ["string", "null"] },
                "address": address, "phone": phone, "isActive": { "type": "boolean" },
            },
        },
        "Billing": {
            "type": "object",
            "required": ["_id", "userId", "billingId", "generationDate", "dueDate", "serviceId", "totalInvoice", "isPaid", "paymentDate", "phone", "createdAt", "updatedAt"],
            "properties": {
                "_id": { "type": "string" }, "userId": { "type": "string" },
                "billingId": { "type": "string", "examples": ["000000001"] },
                "generationDate": date, "dueDate": { "type": ["string", "null"], "format": "date-time" },
                "serviceId": { "type": ["string", "number", "null"] },
                "totalInvoice": { "type": ["number", "null"] }, "isPaid": { "type": "boolean" },
                "paymentDate": { "type": ["string", "null"], "format": "date-time" }, "phone": recorded_phone,
                "createdAt": date, "updatedAt": date, "__v": { "type": "integer" },
                "user": { "oneOf": [{ "$ref": "#/components/schemas/User" }, { "type": "null" }], "description": "With ?expand=user" },
            },
        },
        "NewBilling": {
            "type": "object", "additionalProperties": false,
            "required": ["userId", "dueDate", "serviceId", "totalInvoice"],
            "properties": {
                "userId": user_id, "dueDate": date, "serviceId": service_id, "totalInvoice": amount,
                "isPaid": { "type": "boolean", "default": false }, "paymentDate": { "type": ["string", "null"], "format": "date-time" },
            },
        },
        "BillingUpdate": {
            "type": "object",
            "description": "Any Billing field; server-set ones only unchanged.",
            "properties": {
                "dueDate": date, "serviceId": service_id, "totalInvoice": amount,
                "isPaid": { "type": "boolean" }, "paymentDate": { "type": ["string", "null"], "format": "date-time" },
            },
        },
        "NodeNewBilling": {
            "type": "object",
            "description": "As the previous service took it: _id, billingId, generationDate, phone, createdAt, updatedAt, __v and unknown fields are ignored.",
            "required": ["userId", "dueDate"],
            "properties": {
                "userId": { "type": "string" }, "dueDate": date, "serviceId": service_id, "totalInvoice": amount,
                "isPaid": { "type": "boolean", "default": false }, "paymentDate": { "type": ["string", "null"], "format": "date-time" },
            },
        },
        "NodeBillingWithUser": {
            "type": "object",
            "properties": {
                "billing": { "type": "object" },
                "user": { "type": "object", "description": "userId, address, currentPhone, isActive; {} when the user is gone" },
            },
        },
        "Payment": { "type": "object", "additionalProperties": false, "properties": { "paymentDate": date } },
        "Event": {
            "type": "object",
            "description": "{type, payload} or {event, data, timestamp}; payload.userId is required.",
            "properties": {
                "id": { "type": "string" }, "eventId": { "type": "string" },
                "type": { "type": "string", "enum": ["Customer.Created", "Customer.Updated", "Customer.Suspended", "Customer.Reactivated", "Customer.Deleted"] },
                "event": { "type": "string" }, "payload": { "type": "object" }, "data": { "type": "object" },
                "timestamp": date,
            },
        },
        "EventResult": {
            "type": "object",
            "properties": {
                "outcome": { "type": "string", "enum": ["applied", "duplicate", "skipped"] },
                "eventId": { "type": "string" }, "type": { "type": "string" }, "userId": { "type": "string" },
                "reason": { "type": "string" },
            },
        },
        "UserDeleted": { "type": "object", "properties": { "message": { "const": "Deleted" }, "deletedBillings": { "type": "integer" } } },
        "Deleted": { "type": "object", "properties": { "message": { "const": "Deleted" } } },
        "Ok": { "type": "object", "properties": { "ok": { "const": true } } },
        "Health": { "type": "object", "properties": { "status": { "const": "ok" } } },
        "Readiness": {
            "type": "object",
            "properties": {
                "status": { "enum": ["ready", "not ready"] }, "storage": { "enum": ["ok", "unreachable"] },
                "consumer": { "enum": ["disabled", "connecting", "running", "degraded", "stopped"] },
            },
        },
        "Error": {
            "type": "object", "required": ["error", "code"],
            "properties": {
                "error": { "type": "string" }, "code": { "type": "string", "examples": ["VALIDATION_ERROR"] },
                "details": { "type": "array", "items": { "type": "object", "properties": { "field": { "type": "string" }, "message": { "type": "string" } } } },
            },
        },
    })
}

/// A self-contained page (no external scripts) that lists the operations of `/openapi.json`.
pub const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>TelecomX billing API</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
.op{border:1px solid #ccc;border-radius:6px;margin:.5rem 0;padding:.5rem 1rem}
.m{display:inline-block;min-width:4.5rem;font-weight:bold}.get{color:#0a6}.post{color:#06c}
.put{color:#a60}.delete{color:#c00}code{background:#f4f4f4;padding:0 .2rem}pre{background:#f8f8f8;padding:.5rem;overflow:auto}</style>
</head><body><h1>TelecomX billing API</h1><p>Rendered from <a href="/openapi.json">/openapi.json</a>.</p>
<div id="ops">Loading…</div>
<script>
fetch('/openapi.json').then(r => r.json()).then(doc => {
  const root = document.getElementById('ops'); root.textContent = '';
  for (const [path, ops] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(ops)) {
    const div = document.createElement('div'); div.className = 'op';
    const params = (op.parameters || []).map(p => p.name + ' (' + p.in + ')').join(', ');
    const body = op.requestBody ? JSON.stringify(op.requestBody.content['application/json'].schema) : '';
    div.innerHTML = '<span class="m ' + method + '">' + method.toUpperCase() + '</span><code></code> <span class="s"></span>' +
      (params ? '<div>Parameters: <span class="p"></span></div>' : '') + (body ? '<div>Body: <code class="b"></code></div>' : '') +
      '<div>Responses: ' + Object.keys(op.responses).join(', ') + '</div>';
    div.querySelector('code').textContent = path; div.querySelector('.s').textContent = op.summary;
    if (params) div.querySelector('.p').textContent = params;
    if (body) div.querySelector('.b').textContent = body;
    root.appendChild(div);
  }
  const h = document.createElement('h2'); h.textContent = 'Schemas'; root.appendChild(h);
  const pre = document.createElement('pre'); pre.textContent = JSON.stringify(doc.components.schemas, null, 2); root.appendChild(pre);
});
</script></body></html>
"#;
