//! Indexes, made to coexist with the ones the previous service's Mongoose models created: an
//! index is wanted for its keys, so an existing one with the same keys is taken whatever its
//! name or options (`background`, for one, which some servers compare).

use anyhow::Context;
use futures_util::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};

use crate::{Inner, errors};

fn index(keys: Document, options: Option<IndexOptions>) -> IndexModel {
    IndexModel::builder().keys(keys).options(options).build()
}

fn unique() -> Option<IndexOptions> {
    Some(IndexOptions::builder().unique(true).build())
}

/// Creates every index the store needs that is missing.
///
/// # Errors
/// When the indexes cannot be listed or one cannot be created.
pub(crate) async fn create(inner: &Inner) -> anyhow::Result<()> {
    ensure(&inner.users, vec![index(doc! { "userId": 1 }, unique())]).await?;
    ensure(
        &inner.billings,
        vec![
            index(doc! { "billingId": 1 }, unique()),
            // Each list's sort, with its `_id` tie-break, so a page is read off the index
            // in order: a user's billings, and all billings.
            index(doc! { "userId": 1, "generationDate": -1, "_id": -1 }, None),
            index(doc! { "dueDate": 1 }, None),
            index(doc! { "generationDate": -1, "_id": -1 }, None),
            index(
                doc! { "sourceEventId": 1 },
                Some(IndexOptions::builder().unique(true).sparse(true).build()),
            ),
            // The overdue sweep: billings not marked yet (`overdueFor` missing), oldest due
            // date first (`overdue.rs`).
            index(doc! { "overdueFor": 1, "dueDate": 1, "_id": 1 }, None),
        ],
    )
    .await?;
    ensure(
        &inner.billing_events,
        vec![
            // The relay's queue, in order; a billing's history, in order; pruning by date.
            index(doc! { "published": 1, "_id": 1 }, None),
            index(doc! { "billingId": 1, "_id": 1 }, None),
            index(doc! { "at": 1 }, None),
        ],
    )
    .await
}

/// The server says the collection does not exist yet.
const NAMESPACE_NOT_FOUND: i32 = 26;

/// Keys as comparable values: `{userId: 1}` equals `{userId: 1.0}` and `{userId: Int64(1)}`.
fn normalized(keys: &Document) -> Vec<(String, String)> {
    keys.iter()
        .map(|(field, direction)| {
            let direction = match direction {
                Bson::Int32(i) => i.to_string(),
                Bson::Int64(i) => i.to_string(),
                #[allow(clippy::cast_possible_truncation)]
                Bson::Double(f) if f.fract() == 0.0 => (*f as i64).to_string(),
                other => other.to_string(),
            };
            (field.clone(), direction)
        })
        .collect()
}

fn is_unique(index: &IndexModel) -> bool {
    index
        .options
        .as_ref()
        .and_then(|o| o.unique)
        .unwrap_or(false)
}

/// Creates those of `wanted` whose keys no existing index of `collection` has.
///
/// # Errors
/// When the indexes cannot be listed or one cannot be created.
pub(crate) async fn ensure(
    collection: &Collection<Document>,
    wanted: Vec<IndexModel>,
) -> anyhow::Result<()> {
    let name = collection.name();
    let existing: Vec<IndexModel> = match collection.list_indexes().await {
        Ok(cursor) => cursor
            .try_collect()
            .await
            .with_context(|| format!("cannot list the indexes of {name}"))?,
        Err(e) if errors::code(&e) == Some(NAMESPACE_NOT_FOUND) => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot list the indexes of {name}")),
    };
    let mut missing = Vec::new();
    for index in wanted {
        let keys = normalized(&index.keys);
        match existing.iter().find(|e| normalized(&e.keys) == keys) {
            Some(found) => {
                if is_unique(&index) && !is_unique(found) {
                    tracing::warn!(
                        collection = name,
                        keys = %index.keys,
                        "an existing index has these keys but is not unique: uniqueness is not enforced by the database"
                    );
                }
            }
            None => missing.push(index),
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = missing.iter().map(|i| i.keys.to_string()).collect();
    collection
        .create_indexes(missing)
        .await
        .with_context(|| format!("cannot create the indexes {} of {name}", keys.join(", ")))?;
    Ok(())
}
