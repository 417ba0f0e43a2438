//! Staff accounts: adding users, passwords (argon2id), invitations, login sessions with their
//! CSRF token, logout everywhere. Transport-free: the HTTP layer sets cookies and checks headers.
//!
//! Tokens (sessions, invitations) are 32 random bytes shown once; only their SHA-256 is stored.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use sha2::{Digest, Sha256};

use crate::store::{NewStaff, Role, Staff, Store, StoreError, now_ms};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error("a user with this email exists")]
    EmailTaken,
    #[error("the invitation is unknown, used or expired")]
    InvalidInvite,
    #[error("user not found")]
    NotFound,
    #[error(transparent)]
    Store(StoreError),
    #[error("password hashing failed")]
    Hash,
    #[error("background task failed")]
    Task(#[from] tokio::task::JoinError),
}

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Duplicate => AccountError::EmailTaken,
            StoreError::NotFound => AccountError::NotFound,
            other => AccountError::Store(other),
        }
    }
}

pub type Result<T, E = AccountError> = std::result::Result<T, E>;

pub const MIN_PASSWORD_CHARS: usize = 10;
const MAX_PASSWORD_BYTES: usize = 1024;
/// How long a login lasts.
pub const SESSION_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
/// How long an invitation link can be used.
pub const INVITE_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

/// A logged-in session: the cookie token (shown once) and the CSRF token the page sends back.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    pub csrf_token: String,
    pub staff: Staff,
}

/// What a new user looks like before validation.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub capacity: i64,
    /// `None`: the user gets an invitation link and sets a password themselves.
    pub password: Option<String>,
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

pub fn normalise_email(raw: &str) -> Result<String> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(user, domain)| {
            !user.is_empty() && domain.contains('.') && !domain.starts_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(AccountError::Invalid("email is not a valid address".into()))
    }
}

fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::Invalid(format!(
            "password must have at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AccountError::Invalid("password is too long".into()));
    }
    Ok(())
}

/// Hashes a password with argon2id (the crate's defaults follow OWASP's recommendation) off the
/// async workers: it takes tens of milliseconds on purpose.
pub async fn hash_password(password: &str) -> Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|_| AccountError::Hash)
    })
    .await?
}

async fn verify_password(password: &str, hash: Option<String>) -> Result<bool> {
    // Unknown users and users without a password still pay for one verification (against a
    // hash made once per process), so response time does not tell which emails exist.
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let dummy = DUMMY.get_or_init(|| {
            Argon2::default()
                .hash_password(new_token().as_bytes())
                .map(|h| h.to_string())
                .unwrap_or_default()
        });
        let (hash, real) = match &hash {
            Some(h) => (h.as_str(), true),
            None => (dummy.as_str(), false),
        };
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), hash)
            .is_ok();
        Ok(ok && real)
    })
    .await?
}

/// Staff accounts over the store. Cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
}

impl Accounts {
    pub fn new(store: Store) -> Self {
        Accounts { store }
    }

    /// Adds a user; with no password, also returns a one-time invitation token.
    pub async fn add_user(&self, user: NewUser) -> Result<(Staff, Option<String>)> {
        let email = normalise_email(&user.email)?;
        let display_name = user.display_name.trim().to_owned();
        if display_name.is_empty() || display_name.chars().count() > 80 {
            return Err(AccountError::Invalid(
                "name must have 1 to 80 characters".into(),
            ));
        }
        if !(1..=100).contains(&user.capacity) {
            return Err(AccountError::Invalid("capacity must be 1 to 100".into()));
        }
        let password_hash = match &user.password {
            Some(p) => {
                check_password(p)?;
                Some(hash_password(p).await?)
            }
            None => None,
        };
        let staff = self
            .store
            .create_staff(&NewStaff {
                email,
                display_name,
                role: user.role,
                capacity: user.capacity,
                password_hash,
            })
            .await?;
        let invite = if user.password.is_none() {
            Some(self.invite(staff.id).await?)
        } else {
            None
        };
        Ok((staff, invite))
    }

    /// A new one-time invitation token for an existing user (to set or reset their password).
    pub async fn invite(&self, staff_id: i64) -> Result<String> {
        let token = new_token();
        self.store
            .create_invite(staff_id, &token_hash(&token), now_ms() + INVITE_TTL_MS)
            .await?;
        Ok(token)
    }

    pub async fn accept_invite(&self, token: &str, password: &str) -> Result<Session> {
        check_password(password)?;
        let hash = hash_password(password).await?;
        let staff = match self.store.accept_invite(&token_hash(token), &hash).await {
            Ok(staff) => staff,
            Err(StoreError::NotFound) => return Err(AccountError::InvalidInvite),
            Err(e) => return Err(e.into()),
        };
        if staff.disabled {
            return Err(AccountError::InvalidInvite);
        }
        self.start_session(staff).await
    }

    /// Checks the password and starts a session. The same error for an unknown email, a wrong
    /// password, a disabled account and an account without a password.
    pub async fn login(&self, email: &str, password: &str) -> Result<Session> {
        let email = normalise_email(email).map_err(|_| AccountError::InvalidCredentials)?;
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(AccountError::InvalidCredentials);
        }
        let found = self.store.staff_credentials(&email).await?;
        let (staff, hash) = match found {
            Some((staff, hash)) if !staff.disabled => (Some(staff), hash),
            _ => (None, None),
        };
        let ok = verify_password(password, hash).await?;
        match staff {
            Some(staff) if ok => self.start_session(staff).await,
            _ => Err(AccountError::InvalidCredentials),
        }
    }

    async fn start_session(&self, staff: Staff) -> Result<Session> {
        let token = new_token();
        let csrf_token = new_token();
        self.store
            .create_session(
                staff.id,
                &token_hash(&token),
                &csrf_token,
                now_ms() + SESSION_TTL_MS,
            )
            .await?;
        Ok(Session {
            token,
            csrf_token,
            staff,
        })
    }

    /// The staff member and CSRF token behind a session cookie, if it is live.
    pub async fn session(&self, token: &str) -> Result<Option<(Staff, String)>> {
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        Ok(self.store.session(&token_hash(token)).await?)
    }

    pub async fn logout(&self, token: &str) -> Result<()> {
        Ok(self.store.delete_session(&token_hash(token)).await?)
    }

    pub async fn logout_everywhere(&self, staff_id: i64) -> Result<()> {
        Ok(self.store.delete_sessions_of(staff_id).await?)
    }

    /// Disables or re-enables a user; disabling ends their sessions at once.
    pub async fn set_disabled(&self, staff_id: i64, disabled: bool) -> Result<()> {
        Ok(self.store.set_staff_disabled(staff_id, disabled).await?)
    }

    /// Sets a new password directly (the `hark user password` command).
    pub async fn set_password(&self, staff_id: i64, password: &str) -> Result<()> {
        check_password(password)?;
        let hash = hash_password(password).await?;
        self.store.set_staff_password(staff_id, &hash).await?;
        Ok(self.store.delete_sessions_of(staff_id).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalise_email(" Ann@Example.COM ").ok().as_deref(),
            Some("ann@example.com")
        );
        for bad in [
            "",
            "ann",
            "@example.com",
            "ann@example",
            "ann@.com",
            "a n@example.com",
        ] {
            assert!(normalise_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_have_a_minimum_length() {
        assert!(check_password("short").is_err());
        assert!(check_password("long enough pass").is_ok());
        assert!(check_password(&"x".repeat(2000)).is_err());
    }

    #[tokio::test]
    async fn hashes_verify_only_the_right_password() -> Result<()> {
        let hash = hash_password("correct horse battery").await?;
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", Some(hash.clone())).await?);
        assert!(!verify_password("wrong horse battery", Some(hash)).await?);
        assert!(!verify_password("anything at all", None).await?);
        Ok(())
    }
}
