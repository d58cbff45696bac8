use billing_domain::{
    CreateUserError, DeleteUserError, Listing, Position, StorageError, Timestamp, UpdateUserError,
    User, UserCursor, UserKey, UserPatch, UserQuery, UserRepository,
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::rows::{self, USER_COLUMNS, int};
use crate::{SqliteStore, storage};

pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation
    )
}

pub(crate) fn find(conn: &Connection, key: &UserKey) -> rusqlite::Result<Option<User>> {
    // A text that is both a userId and an ObjectId matches by userId first.
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users WHERE user_id = ?1 OR id = ?2 \
         ORDER BY user_id = ?1 DESC LIMIT 1"
    );
    conn.prepare_cached(&sql)?
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
        format!(
            "INSERT INTO users ({USER_COLUMNS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)"
        )
    } else {
        "UPDATE users SET user_id=?2, name=?3, email=?4, city=?5, country=?6, zip_code=?7, \
         address=?8, code_number=?9, phone_number=?10, is_active=?11, created_at=?12, \
         updated_at=?13 WHERE id=?1"
            .to_owned()
    };
    let a = &u.address;
    conn.prepare_cached(&sql)?.execute(params![
        u.id.to_string(),
        u.user_id.as_str(),
        u.name.as_ref().map(|v| v.as_str()),
        u.email.as_ref().map(|v| v.as_str()),
        a.city.as_ref().map(|v| v.as_str()),
        a.country.as_ref().map(|v| v.as_str()),
        a.zip_code.as_ref().map(|v| v.as_str()),
        a.address.as_ref().map(|v| v.as_str()),
        u.phone.code_number.as_str(),
        u.phone.phone_number.map(|n| int(n.value())),
        u.is_active,
        u.created_at.timestamp_millis(),
        u.updated_at.timestamp_millis(),
    ])
}

fn list(conn: &Connection, q: &UserQuery) -> rusqlite::Result<Listing<User, UserCursor>> {
    let limit = q.page.limit.get();
    let after = match &q.page.position {
        Position::After(c) => Some(c.0.to_string()),
        Position::First | Position::Page(_) => None,
    };
    let filter = "(?1 IS NULL OR is_active = ?1)";
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users WHERE {filter} AND (?2 IS NULL OR id > ?2) \
         ORDER BY id LIMIT ?3 OFFSET ?4"
    );
    let offset = int(q.page.position.offset(q.page.limit));
    let mut items = conn
        .prepare_cached(&sql)?
        .query_map(params![q.is_active, after, limit + 1, offset], rows::user)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let total = match q.page.position {
        Position::Page(_) => Some(
            conn.prepare_cached(&format!("SELECT COUNT(*) FROM users WHERE {filter}"))?
                .query_row(params![q.is_active], |r| r.get::<_, i64>(0))?,
        ),
        Position::First | Position::After(_) => None,
    };
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    Ok(Listing {
        next: if more {
            items.last().map(UserCursor::of)
        } else {
            None
        },
        items,
        total: total.map(|t| u64::try_from(t).unwrap_or(0)),
    })
}

impl UserRepository for SqliteStore {
    async fn create_user(&self, user: User) -> Result<User, CreateUserError> {
        self.writer()
            .write(move |conn| match write(conn, &user, true) {
                Ok(_) => Ok(user),
                Err(e) if is_unique_violation(&e) => Err(CreateUserError::Duplicate(user.user_id)),
                Err(e) => Err(CreateUserError::Unknown(storage(e))),
            })
            .await
    }

    async fn find_user(&self, key: &UserKey) -> Result<Option<User>, StorageError> {
        let key = key.clone();
        self.read(move |conn| find(conn, &key)).await
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
                    .map_err(storage)?
                    .ok_or(UpdateUserError::NotFound)?;
                let next = patch.apply(&user, now)?;
                if next != user {
                    write(conn, &next, false).map_err(storage)?;
                }
                Ok(next)
            })
            .await
    }

    async fn delete_user(&self, key: &UserKey) -> Result<u64, DeleteUserError> {
        let key = key.clone();
        self.writer()
            .write(move |conn| {
                let user = find(conn, &key)
                    .map_err(storage)?
                    .ok_or(DeleteUserError::NotFound)?;
                let billings = conn
                    .prepare_cached("DELETE FROM billings WHERE user_id = ?1")
                    .and_then(|mut s| s.execute([user.user_id.as_str()]))
                    .map_err(storage)?;
                conn.prepare_cached("DELETE FROM users WHERE id = ?1")
                    .and_then(|mut s| s.execute([user.id.to_string()]))
                    .map_err(storage)?;
                Ok(billings as u64)
            })
            .await
    }
}
