//! Indexes, made to coexist with the ones the previous service's Mongoose models created: an
//! index is wanted for its keys, so an existing one with the same keys is taken whatever its
//! name or options (`background`, for one, which some servers compare).

use anyhow::Context;
use futures_util::TryStreamExt;
use mongodb::bson::{Bson, Document};
use mongodb::{Collection, IndexModel};

use crate::errors;

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
