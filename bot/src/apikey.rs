//! API keys for server-to-server calls (a shop's backend posting purchases, reading scores).
//!
//! A key is 32 random bytes, shown once as `hark_<hex>`; the database keeps only its SHA-256,
//! so a leaked database does not leak usable keys.

use sha2::{Digest, Sha256};

/// A new key and the hash to store.
pub fn generate() -> (String, String) {
    let key = format!("hark_{}", hex::encode(rand::random::<[u8; 32]>()));
    let hash = hash(&key);
    (key, hash)
}

/// The stored form of a key.
pub fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Checks a key name: 1 to 64 characters of letters, digits, `-`, `_` and `.`.
pub fn check_name(name: &str) -> Result<&str, String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(name)
    } else {
        Err("a key name is 1 to 64 letters, digits, '-', '_' or '.'".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_only_their_hash_is_kept() {
        let (a, ha) = generate();
        let (b, hb) = generate();
        assert_ne!(a, b);
        assert!(a.starts_with("hark_") && a.len() == 5 + 64);
        assert_eq!(ha, hash(&a));
        assert_ne!(ha, hb);
        assert!(!ha.contains(&a[5..]));
        assert!(check_name("shop-backend").is_ok());
        assert!(check_name("").is_err() && check_name("a b").is_err());
    }
}
