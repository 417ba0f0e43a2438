//! Staff sessions over HTTP: the session cookie, the CSRF check on every state-changing
//! request, the owner-only guard, the same-origin check for the console socket, and the login
//! rate limit.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};

use super::AppState;
use super::error::ApiError;
use crate::accounts::{SESSION_TTL_MS, Session};
use crate::store::{Role, Staff};

pub const SESSION_COOKIE: &str = "hark_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session token from the request's cookies, if any.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// Whether the request reached us over TLS (directly or through a proxy that says so).
fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// The `Set-Cookie` value that starts a session: HttpOnly, SameSite=Strict, Secure behind TLS.
pub fn session_cookie(session: &Session, headers: &HeaderMap) -> HeaderValue {
    let secure = if is_https(headers) { "; Secure" } else { "" };
    let value = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        session.token,
        SESSION_TTL_MS / 1000
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `Set-Cookie` value that ends a session in the browser.
pub fn cleared_cookie() -> HeaderValue {
    HeaderValue::from_static("hark_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Compares two tokens in time independent of where they first differ.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Whether the browser says the request comes from a page of this same server. Requests
/// without an `Origin` header (curl, older browsers on same-origin GETs) pass; a foreign one
/// does not.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .unwrap_or("");
    origin_host.eq_ignore_ascii_case(host)
}

/// A logged-in staff member. As an extractor it also enforces the CSRF token on every method
/// that is not GET or HEAD.
#[derive(Debug, Clone)]
pub struct StaffSession {
    pub staff: Staff,
    pub csrf_token: String,
    pub token: String,
}

impl FromRequestParts<AppState> for StaffSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = session_token(&parts.headers).ok_or(ApiError::Unauthenticated)?;
        let (staff, csrf_token) = state
            .accounts
            .session(&token)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        if !matches!(parts.method, Method::GET | Method::HEAD) {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !same_token(sent, &csrf_token) || !same_origin(&parts.headers) {
                return Err(ApiError::Csrf);
            }
        }
        Ok(StaffSession {
            staff,
            csrf_token,
            token,
        })
    }
}

/// A logged-in owner.
#[derive(Debug, Clone)]
pub struct OwnerSession(pub StaffSession);

impl FromRequestParts<AppState> for OwnerSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let session = StaffSession::from_request_parts(parts, state).await?;
        if session.staff.role != Role::Owner {
            return Err(ApiError::Forbidden);
        }
        Ok(OwnerSession(session))
    }
}

/// Login attempts per client address and per email, in a sliding window.
pub struct LoginLimiter {
    per_ip: usize,
    per_email: usize,
    window: Duration,
    attempts: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter::new(20, 5, Duration::from_secs(15 * 60))
    }
}

impl LoginLimiter {
    pub fn new(per_ip: usize, per_email: usize, window: Duration) -> Self {
        LoginLimiter {
            per_ip,
            per_email,
            window,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one attempt; `Err(seconds)` to wait when the address or the email is over its
    /// limit (the attempt is then not made, so an attacker cannot keep a victim locked out
    /// longer than the window).
    pub fn check(&self, ip: IpAddr, email: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        if attempts.len() > 100_000 {
            // Bound memory under a flood of distinct keys: forget windows that have passed.
            let window = self.window;
            attempts.retain(|_, times| times.back().is_some_and(|t| now - *t < window));
        }
        let mut wait = 0;
        for (key, limit) in [
            (format!("ip:{ip}"), self.per_ip),
            (
                format!("email:{}", email.trim().to_lowercase()),
                self.per_email,
            ),
        ] {
            let times = attempts.entry(key).or_default();
            while times.front().is_some_and(|t| now - *t >= self.window) {
                times.pop_front();
            }
            if times.len() >= limit
                && let Some(oldest) = times.front()
            {
                wait = wait.max((self.window - (now - *oldest)).as_secs().max(1));
            }
        }
        if wait > 0 {
            return Err(wait);
        }
        for key in [
            format!("ip:{ip}"),
            format!("email:{}", email.trim().to_lowercase()),
        ] {
            attempts.entry(key).or_default().push_back(now);
        }
        Ok(())
    }

    /// A successful login clears the email's failures.
    pub fn succeeded(&self, email: &str) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        attempts.remove(&format!("email:{}", email.trim().to_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_session_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; hark_session=abc; b=2"),
        );
        assert_eq!(session_token(&headers).as_deref(), Some("abc"));
        assert_eq!(session_token(&HeaderMap::new()), None);
    }

    #[test]
    fn origin_must_match_host() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("shop.example:8080"));
        assert!(same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://shop.example:8080"),
        );
        assert!(same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&headers));
    }

    #[test]
    fn login_limit_per_email_and_per_address() {
        let limiter = LoginLimiter::new(3, 2, Duration::from_secs(60));
        let ip: IpAddr = [127, 0, 0, 1].into();
        assert!(limiter.check(ip, "a@x.io").is_ok());
        assert!(limiter.check(ip, "A@x.io ").is_ok());
        assert!(
            limiter.check(ip, "a@x.io").is_err(),
            "third try for one email"
        );
        assert!(limiter.check(ip, "b@x.io").is_ok());
        assert!(
            limiter.check(ip, "c@x.io").is_err(),
            "fourth try from one address"
        );
        limiter.succeeded("a@x.io");
        let other: IpAddr = [10, 0, 0, 1].into();
        assert!(limiter.check(other, "a@x.io").is_ok());
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "abcd"));
        assert!(!same_token("", "a"));
    }
}
