//! Staff accounts, invitations and login sessions. Tokens are stored as SHA-256 hashes only.

use super::{NewStaff, Pool, Result, Staff, StaffRow, Store, StoreError, now_ms};

macro_rules! staff_columns {
    () => {
        "id, email, display_name, role, capacity, disabled_at, created_at"
    };
}

impl Store {
    /// Adds a staff member. `Conflict`-like failures (the email exists) come back as
    /// [`StoreError::Duplicate`].
    pub async fn create_staff(&self, new: &NewStaff) -> Result<Staff> {
        let now = now_ms();
        let row: std::result::Result<StaffRow, sqlx::Error> = on_writer!(self, pool => {
            sqlx::query_as(concat!(
                "INSERT INTO staff (email, display_name, role, capacity, password_hash, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING ", staff_columns!()))
            .bind(&new.email)
            .bind(&new.display_name)
            .bind(new.role.as_str())
            .bind(new.capacity)
            .bind(&new.password_hash)
            .bind(now)
            .fetch_one(pool)
            .await
        });
        match row {
            Ok(row) => Ok(row.into()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Duplicate),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn staff(&self, id: i64) -> Result<Staff> {
        let row: Option<StaffRow> = on_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", staff_columns!(), " FROM staff WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(Staff::from).ok_or(StoreError::NotFound)
    }

    /// Everyone, owners first, then by name.
    pub async fn list_staff(&self) -> Result<Vec<Staff>> {
        let rows: Vec<StaffRow> = on_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", staff_columns!(),
                " FROM staff ORDER BY role DESC, display_name, id"))
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(Staff::from).collect())
    }

    /// The staff member with this (lowercased) email and their password hash, for login.
    pub async fn staff_credentials(&self, email: &str) -> Result<Option<(Staff, Option<String>)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            staff: StaffRow,
            password_hash: Option<String>,
        }
        let row: Option<Row> = on_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", staff_columns!(),
                ", password_hash FROM staff WHERE email = $1"))
                .bind(email)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|r| (r.staff.into(), r.password_hash)))
    }

    pub async fn set_staff_password(&self, id: i64, password_hash: &str) -> Result<()> {
        let done = on_writer!(self, pool => {
            sqlx::query("UPDATE staff SET password_hash = $1 WHERE id = $2")
                .bind(password_hash)
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Disables (or re-enables) an account. Disabling also ends all its sessions.
    pub async fn set_staff_disabled(&self, id: i64, disabled: bool) -> Result<()> {
        let at = disabled.then(now_ms);
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query("UPDATE staff SET disabled_at = $1 WHERE id = $2")
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if done == 0 {
                return Err(StoreError::NotFound);
            }
            if disabled {
                sqlx::query("DELETE FROM staff_sessions WHERE staff_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    // ---- invitations ------------------------------------------------------------------------

    pub async fn create_invite(
        &self,
        staff_id: i64,
        token_hash: &str,
        expires_at: i64,
    ) -> Result<()> {
        on_writer!(self, pool => {
            sqlx::query("INSERT INTO staff_invites (token_hash, staff_id, expires_at) VALUES ($1, $2, $3)")
                .bind(token_hash)
                .bind(staff_id)
                .bind(expires_at)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Uses an unexpired, unused invitation: sets the password and returns the staff member.
    /// `NotFound` for an unknown, used or expired token (nothing changes).
    pub async fn accept_invite(&self, token_hash: &str, password_hash: &str) -> Result<Staff> {
        let now = now_ms();
        let staff_id: i64 = on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let staff_id: Option<i64> = sqlx::query_scalar(
                "UPDATE staff_invites SET used_at = $1 \
                 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING staff_id",
            )
            .bind(now)
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(staff_id) = staff_id else {
                return Err(StoreError::NotFound);
            };
            sqlx::query("UPDATE staff SET password_hash = $1 WHERE id = $2 AND disabled_at IS NULL")
                .bind(password_hash)
                .bind(staff_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            staff_id
        });
        self.staff(staff_id).await
    }

    // ---- sessions ---------------------------------------------------------------------------

    pub async fn create_session(
        &self,
        staff_id: i64,
        token_hash: &str,
        csrf_token: &str,
        expires_at: i64,
    ) -> Result<()> {
        let now = now_ms();
        on_writer!(self, pool => {
            sqlx::query(
                "INSERT INTO staff_sessions (token_hash, staff_id, csrf_token, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(token_hash)
            .bind(staff_id)
            .bind(csrf_token)
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The staff member and CSRF token of a live session (unexpired, account enabled).
    pub async fn session(&self, token_hash: &str) -> Result<Option<(Staff, String)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            staff: StaffRow,
            csrf_token: String,
        }
        let row: Option<Row> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT s.id, s.email, s.display_name, s.role, s.capacity, s.disabled_at, s.created_at, \
                 x.csrf_token FROM staff_sessions x JOIN staff s ON s.id = x.staff_id \
                 WHERE x.token_hash = $1 AND x.expires_at > $2 AND s.disabled_at IS NULL",
            )
            .bind(token_hash)
            .bind(now_ms())
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|r| (r.staff.into(), r.csrf_token)))
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        on_writer!(self, pool => {
            sqlx::query("DELETE FROM staff_sessions WHERE token_hash = $1")
                .bind(token_hash)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Ends every session of one staff member ("log out everywhere").
    pub async fn delete_sessions_of(&self, staff_id: i64) -> Result<()> {
        on_writer!(self, pool => {
            sqlx::query("DELETE FROM staff_sessions WHERE staff_id = $1")
                .bind(staff_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
