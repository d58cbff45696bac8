use billing_domain::{
    CreateUserError, DeleteUserError, Listing, StorageError, Timestamp, UpdateUserError, User,
    UserCursor, UserId, UserKey, UserPatch, UserQuery, UserRepository, timestamp_from_millis,
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::errors::{is_unique_violation, op};
use crate::rows::{self, Sql, USER_COLUMNS, int, millis, user_columns};
use crate::{SqliteStore, billings};

pub(crate) fn find(conn: &Connection, key: &UserKey) -> rusqlite::Result<Option<User>> {
    // A text that is both a userId and an ObjectId matches by userId first.
    let sql = concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE user_id = ?1 OR id = ?2 ORDER BY user_id = ?1 DESC LIMIT 1"
    );
    conn.prepare_cached(sql)?
        .query_row(
            params![
                key.user_id().map(|u| u.as_str()),
                key.object_id().map(|o| o.to_string())
            ],
            rows::user,
        )
        .optional()
}

pub(crate) fn write(conn: &Connection, u: &User, insert: bool) -> rusqlite::Result<usize> {
    let sql = if insert {
        concat!(
            "INSERT INTO users (",
            user_columns!(),
            ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)"
        )
    } else {
        "UPDATE users SET user_id=?2, name=?3, email=?4, city=?5, country=?6, zip_code=?7, \
         address=?8, code_number=?9, phone_number=?10, is_active=?11, created_at=?12, \
         updated_at=?13, last_event_at=?14 WHERE id=?1"
    };
    let a = &u.address;
    conn.prepare_cached(sql)?.execute(params![
        u.id.to_string(),
        u.user_id.as_str(),
        Sql(u.name.as_ref()),
        Sql(u.email.as_ref()),
        Sql(a.city.as_ref()),
        Sql(a.country.as_ref()),
        Sql(a.zip_code.as_ref()),
        Sql(a.address.as_ref()),
        Sql(u.phone.code_number.as_ref()),
        Sql(u.phone.phone_number.as_ref()),
        u.is_active,
        u.created_at.timestamp_millis(),
        u.updated_at.timestamp_millis(),
        millis(u.last_event_at),
    ])
}

/// Removes the user (by `_id`) and their billings, and dates the `userId`'s tombstone; returns
/// how many billings went.
pub(crate) fn delete(conn: &Connection, user: &User, at: Timestamp) -> rusqlite::Result<u64> {
    let billings = billings::delete_returning(conn, "user_id", user.user_id.as_str(), at)?.len();
    conn.prepare_cached("DELETE FROM users WHERE id = ?1")?
        .execute([user.id.to_string()])?;
    conn.prepare_cached(
        "INSERT INTO deleted_users (user_id, deleted_at) VALUES (?1, ?2) \
         ON CONFLICT (user_id) DO UPDATE SET deleted_at = excluded.deleted_at",
    )?
    .execute(params![user.user_id.as_str(), at.timestamp_millis()])?;
    Ok(billings as u64)
}

/// When a user with this `userId` was deleted last, if ever.
pub(crate) fn tombstone(
    conn: &Connection,
    user_id: &UserId,
) -> rusqlite::Result<Option<Timestamp>> {
    let millis: Option<i64> = conn
        .prepare_cached("SELECT deleted_at FROM deleted_users WHERE user_id = ?1")?
        .query_row([user_id.as_str()], |r| r.get(0))
        .optional()?;
    Ok(millis.and_then(|ms| timestamp_from_millis(ms).ok()))
}

/// Whether any billing names this `userId`.
pub(crate) fn has_billings(conn: &Connection, user_id: &UserId) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM billings WHERE user_id = ?1)")?
        .query_row([user_id.as_str()], |r| r.get(0))
}

fn list(conn: &Connection, q: &UserQuery) -> rusqlite::Result<Listing<User, UserCursor>> {
    let after = q.page.position.cursor().map(|c| c.0.to_string());
    let filter = "(?1 IS NULL OR is_active = ?1)";
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users WHERE {filter} AND (?2 IS NULL OR id > ?2) \
         ORDER BY id LIMIT ?3 OFFSET ?4"
    );
    let offset = int(q.page.position.offset(q.page.limit));
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(
            params![q.is_active, after, q.page.limit.fetch(), offset],
            rows::user,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let total = if q.page.position.counts_total() {
        Some(
            conn.prepare_cached(&format!("SELECT COUNT(*) FROM users WHERE {filter}"))?
                .query_row(params![q.is_active], |r| r.get::<_, i64>(0))?,
        )
    } else {
        None
    };
    Ok(Listing::from_rows(
        rows,
        q.page.limit,
        total.map(|t| u64::try_from(t).unwrap_or(0)),
        |u| Some(UserCursor::of(u)),
        Some,
    ))
}

impl UserRepository for SqliteStore {
    async fn create_user(&self, user: User) -> Result<User, CreateUserError> {
        self.writer()
            .write(move |conn| match write(conn, &user, true) {
                Ok(_) => Ok(user),
                Err(e) if is_unique_violation(&e) => Err(CreateUserError::Duplicate(user.user_id)),
                Err(e) => Err(op(e)),
            })
            .await
    }

    async fn find_user(&self, key: &UserKey) -> Result<Option<User>, StorageError> {
        self.lookup(key, find).await
    }

    async fn list_users(
        &self,
        query: &UserQuery,
    ) -> Result<Listing<User, UserCursor>, StorageError> {
        let query = query.clone();
        self.read(move |conn| list(conn, &query)).await
    }

    async fn update_user(
        &self,
        key: &UserKey,
        patch: UserPatch,
        now: Timestamp,
    ) -> Result<User, UpdateUserError> {
        let key = key.clone();
        self.writer()
            .write(move |conn| {
                let user = find(conn, &key)
                    .map_err(op::<UpdateUserError>)?
                    .ok_or(UpdateUserError::NotFound)?;
                let next = patch.apply(&user, now)?;
                if next != user {
                    write(conn, &next, false).map_err(op::<UpdateUserError>)?;
                }
                Ok(next)
            })
            .await
    }

    async fn delete_user(&self, key: &UserKey, at: Timestamp) -> Result<u64, DeleteUserError> {
        let key = key.clone();
        self.writer()
            .write(move |conn| {
                let user = find(conn, &key)
                    .map_err(op::<DeleteUserError>)?
                    .ok_or(DeleteUserError::NotFound)?;
                delete(conn, &user, at).map_err(op::<DeleteUserError>)
            })
            .await
    }
}
