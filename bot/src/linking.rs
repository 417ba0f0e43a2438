//! Linking channels: a customer known in one channel (the widget) gets a one-time code and
//! sends it from another (Telegram); both identities then belong to one customer, who has one
//! history and one value record.
//!
//! Codes are random (8 characters from a 32-letter alphabet without look-alikes: 40 bits),
//! valid for [`CODE_TTL`], single use, and stored only as their SHA-256. Transport-free.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::store::{Channel, LinkOutcome, Store, StoreError, now_ms};

/// How long a link code stays valid.
pub const CODE_TTL: Duration = Duration::from_secs(600);
const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const CODE_LEN: usize = 8;

/// A code to show the customer once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkCode {
    pub code: String,
    pub expires_in: Duration,
}

/// Issues a new code for `customer_id`.
pub async fn issue(store: &Store, customer_id: i64) -> Result<LinkCode, StoreError> {
    let code: String = rand::random::<[u8; CODE_LEN]>()
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b % 32)]))
        .collect();
    let ttl_ms = i64::try_from(CODE_TTL.as_millis()).unwrap_or(i64::MAX);
    store
        .create_link_code(&code_hash(&code), customer_id, now_ms() + ttl_ms)
        .await?;
    Ok(LinkCode {
        code,
        expires_in: CODE_TTL,
    })
}

/// Redeems a code typed or deep-linked in `channel` by the identity `key`.
pub async fn redeem(
    store: &Store,
    code: &str,
    channel: Channel,
    key: &str,
) -> Result<LinkOutcome, StoreError> {
    let Some(code) = normalise(code) else {
        return Ok(LinkOutcome::InvalidCode);
    };
    store
        .redeem_link_code(&code_hash(&code), channel, key)
        .await
}

/// Upper-cases and checks a typed code; `None` when it cannot be one of ours.
fn normalise(raw: &str) -> Option<String> {
    let code = raw.trim().to_ascii_uppercase();
    (code.len() == CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

fn code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(code.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_normalised_and_checked() {
        assert_eq!(normalise(" abcd2345 ").as_deref(), Some("ABCD2345"));
        assert_eq!(normalise("ABCD234"), None);
        assert_eq!(normalise("ABCD2340"), None, "0 is not in the alphabet");
        assert_eq!(normalise("ABCD234I"), None, "I is not in the alphabet");
        assert_eq!(normalise("ABCD2345X"), None);
    }
}
