//! The log's Ed25519 key, in the signed-note key formats (c2sp.org/signed-note, the same
//! strings as Go's `golang.org/x/mod/sumdb/note`): a private key `PRIVATE+KEY+<name>+<id>+<key>`
//! kept secret, and a verifier key `<name>+<id>+<key>` published for anyone to check
//! checkpoints and receipts with.
//!
//! The key's name is the log's identity: every consultation's log origin starts with it.

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use signed_note::{Signer, StandardSigner, StandardVerifier};
use thiserror::Error;

/// The signed-note algorithm byte of Ed25519.
const ALG_ED25519: u8 = 1;

/// The name of a key made on one machine that has no public host name of its own.
pub const LOCAL_KEY_NAME: &str = "verbatim.localhost";

#[derive(Debug, Error)]
pub enum KeyError {
    #[error(
        "malformed signing key: expected PRIVATE+KEY+<name>+<8 hex digits>+<base64> (make one with `verbatim keygen`)"
    )]
    Malformed,
    #[error("malformed verifier key: expected <name>+<8 hex digits>+<base64>")]
    MalformedVerifier,
    #[error("the key name {0:?} is not allowed: it must be non-empty, without spaces or '+'")]
    BadName(String),
}

/// A signing key with its name; signs checkpoints and receipts.
pub struct LogKey {
    name: String,
    private: String,
    verifier: String,
    signer: StandardSigner,
}

impl std::fmt::Debug for LogKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key, even in a debug log.
        f.debug_struct("LogKey")
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

impl LogKey {
    /// A key from a 32-byte Ed25519 seed (fresh randomness for a new key).
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, KeyError> {
        if !signed_note::is_key_name_valid(name) {
            return Err(KeyError::BadName(name.to_owned()));
        }
        let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
        let mut encoded_public = vec![ALG_ED25519];
        encoded_public.extend_from_slice(public.as_bytes());
        let id = signed_note::key_id(name, &encoded_public);
        let mut encoded_private = vec![ALG_ED25519];
        encoded_private.extend_from_slice(&seed);
        let private = format!(
            "PRIVATE+KEY+{name}+{id:08x}+{}",
            BASE64_STANDARD.encode(&encoded_private)
        );
        let verifier = format!(
            "{name}+{id:08x}+{}",
            BASE64_STANDARD.encode(&encoded_public)
        );
        Self::parse(&private).inspect(|key| debug_assert_eq!(key.verifier, verifier))
    }

    /// A new random key.
    pub fn generate(name: &str) -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        rand::Rng::fill(&mut rand::rng(), &mut seed);
        Self::from_seed(name, seed)
    }

    /// Parses a private key string (surrounding whitespace ignored).
    pub fn parse(private: &str) -> Result<Self, KeyError> {
        let private = private.trim();
        let signer = StandardSigner::new(private).map_err(|_| KeyError::Malformed)?;
        let seed = private
            .splitn(5, '+')
            .nth(4)
            .and_then(|b| BASE64_STANDARD.decode(b).ok())
            .filter(|k| k.len() == 33 && k[0] == ALG_ED25519)
            .ok_or(KeyError::Malformed)?;
        let seed: [u8; 32] = seed[1..].try_into().map_err(|_| KeyError::Malformed)?;
        let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
        let verifier = signed_note::new_ed25519_verifier_key(signer.name(), &public);
        Ok(Self {
            name: signer.name().to_owned(),
            private: private.to_owned(),
            verifier,
            signer,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The private key string, to store (a file of mode 0600, or an SSM SecureString).
    pub fn private_key(&self) -> &str {
        &self.private
    }

    /// The verifier key string, to publish.
    pub fn verifier_key(&self) -> &str {
        &self.verifier
    }

    pub(crate) fn signer(&self) -> &StandardSigner {
        &self.signer
    }

    pub fn verifier(&self) -> LogVerifier {
        LogVerifier::parse(&self.verifier).expect("a key's own verifier key parses")
    }
}

/// A verifier key: checks checkpoints and receipts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogVerifier {
    key: String,
    name: String,
}

impl LogVerifier {
    pub fn parse(key: &str) -> Result<Self, KeyError> {
        let key = key.trim();
        let verifier = StandardVerifier::new(key).map_err(|_| KeyError::MalformedVerifier)?;
        Ok(Self {
            name: signed_note::Verifier::name(&verifier).to_owned(),
            key: key.to_owned(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn as_str(&self) -> &str {
        &self.key
    }

    pub(crate) fn verifiers(&self) -> signed_note::VerifierList {
        let verifier = StandardVerifier::new(&self.key).expect("parsed when built");
        signed_note::VerifierList::new(vec![Box::new(verifier)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_their_strings() {
        let key = LogKey::generate("consultations.example.org").unwrap();
        assert!(
            key.private_key()
                .starts_with("PRIVATE+KEY+consultations.example.org+")
        );
        let again = LogKey::parse(&format!("  {}\n", key.private_key())).unwrap();
        assert_eq!(again.verifier_key(), key.verifier_key());
        assert_eq!(again.name(), "consultations.example.org");
        assert!(!format!("{key:?}").contains(key.private_key()));
    }

    #[test]
    fn go_note_keys_give_the_same_verifier_key() {
        // From golang.org/x/mod/sumdb/note's documentation and tests (note_test.go).
        let key = LogKey::parse(
            "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        )
        .unwrap();
        assert_eq!(
            key.verifier_key(),
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        );
    }

    #[test]
    fn malformed_keys_are_refused_with_a_hint() {
        for bad in ["", "PRIVATE+KEY+a+00000000+AAAA", "nonsense"] {
            let e = LogKey::parse(bad).unwrap_err().to_string();
            assert!(e.contains("verbatim keygen"), "{e}");
        }
        assert!(LogKey::from_seed("has space", [0; 32]).is_err());
        assert!(LogVerifier::parse("x+00000000+AAAA").is_err());
    }
}
