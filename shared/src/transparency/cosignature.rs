//! C2SP tlog-cosignature v1 (Ed25519): a witness's timestamped signature of a checkpoint.
//!
//! A cosignature is a signed-note signature line whose bytes are `timestamp (u64, big endian)
//! || Ed25519 signature`, over the message `cosignature/v1\ntime <timestamp>\n` followed by the
//! checkpoint's whole note body. Its key ID is `SHA-256(<name> || "\n" || 0x04 || public key)[:4]`
//! and its verifier key (vkey) `<name>+<key ID, 8 hex digits>+base64(0x04 || public key)`.
//! Both sides implement `signed_note`'s traits, so a checkpoint carrying the log's signature
//! and any number of cosignatures is opened by one `Note::verify` with every key trusted.
//!
//! Hand-written because the `signed_note` crate knows only the plain Ed25519 type (0x01).

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use thiserror::Error;

/// The signature type byte of an Ed25519 cosignature (C2SP signed-note registry).
pub const COSIGNATURE_V1: u8 = 0x04;
const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CosignerKeyError {
    #[error("malformed witness key: expected {PRIVATE_PREFIX}<name>+<8 hex digits>+<base64>")]
    Malformed,
    #[error(
        "malformed witness verifier key: expected <name>+<8 hex digits>+<base64 of 0x04 and 32 bytes>"
    )]
    MalformedVerifier,
    #[error("the name {0:?} is not allowed: it must be non-empty, without spaces or '+'")]
    BadName(String),
}

/// The message a v1 cosignature signs.
fn signed_message(timestamp: u64, checkpoint_body: &[u8]) -> Vec<u8> {
    let mut message = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    message.extend_from_slice(checkpoint_body);
    message
}

fn key_id(name: &str, public: &VerifyingKey) -> u32 {
    let mut encoded = vec![COSIGNATURE_V1];
    encoded.extend_from_slice(public.as_bytes());
    signed_note::key_id(name, &encoded)
}

/// A witness's signing key.
pub struct CosignerKey {
    name: String,
    key: SigningKey,
    id: u32,
}

impl std::fmt::Debug for CosignerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CosignerKey")
            .field("verifier", &self.verifier_key())
            .finish_non_exhaustive()
    }
}

impl CosignerKey {
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, CosignerKeyError> {
        if !signed_note::is_key_name_valid(name) {
            return Err(CosignerKeyError::BadName(name.to_owned()));
        }
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(name, &key.verifying_key());
        Ok(Self {
            name: name.to_owned(),
            key,
            id,
        })
    }

    pub fn generate(name: &str) -> Result<Self, CosignerKeyError> {
        let mut seed = [0u8; 32];
        rand::Rng::fill(&mut rand::rng(), &mut seed);
        Self::from_seed(name, seed)
    }

    /// `PRIVATE+KEY+<name>+<id>+base64(0x04 || seed)`, as the witness keeps it.
    pub fn private_key(&self) -> String {
        let mut encoded = vec![COSIGNATURE_V1];
        encoded.extend_from_slice(self.key.as_bytes());
        format!(
            "{PRIVATE_PREFIX}{}+{:08x}+{}",
            self.name,
            self.id,
            BASE64_STANDARD.encode(encoded)
        )
    }

    pub fn parse(private: &str) -> Result<Self, CosignerKeyError> {
        let rest = private
            .trim()
            .strip_prefix(PRIVATE_PREFIX)
            .ok_or(CosignerKeyError::Malformed)?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(encoded)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(CosignerKeyError::Malformed);
        };
        let bytes = BASE64_STANDARD
            .decode(encoded)
            .map_err(|_| CosignerKeyError::Malformed)?;
        let seed: [u8; 32] = match bytes.split_first() {
            Some((&COSIGNATURE_V1, seed)) => {
                seed.try_into().map_err(|_| CosignerKeyError::Malformed)?
            }
            _ => return Err(CosignerKeyError::Malformed),
        };
        let key = Self::from_seed(name, seed)?;
        if format!("{:08x}", key.id) != id {
            return Err(CosignerKeyError::Malformed);
        }
        Ok(key)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `<name>+<id>+base64(0x04 || public key)`: what logs and readers are given.
    pub fn verifier_key(&self) -> String {
        let mut encoded = vec![COSIGNATURE_V1];
        encoded.extend_from_slice(self.key.verifying_key().as_bytes());
        format!(
            "{}+{:08x}+{}",
            self.name,
            self.id,
            BASE64_STANDARD.encode(encoded)
        )
    }

    /// The cosignature line (`— <name> <base64>\n`) of a checkpoint's note body, at
    /// `timestamp` (POSIX seconds, not zero).
    pub fn cosign(&self, checkpoint_body: &[u8], timestamp: u64) -> String {
        let signer = TimedSigner {
            key: self,
            timestamp,
        };
        let signature = signed_note::Signer::sign(&signer, checkpoint_body)
            .expect("Ed25519 signing does not fail");
        let mut encoded = self.id.to_be_bytes().to_vec();
        encoded.extend_from_slice(&signature);
        format!("— {} {}\n", self.name, BASE64_STANDARD.encode(encoded))
    }
}

/// A cosigner key at one timestamp, as `signed_note` signs.
struct TimedSigner<'a> {
    key: &'a CosignerKey,
    timestamp: u64,
}

impl signed_note::Signer for TimedSigner<'_> {
    fn name(&self) -> &str {
        &self.key.name
    }

    fn key_id(&self) -> u32 {
        self.key.id
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::SignatureError> {
        let signature = self.key.key.sign(&signed_message(self.timestamp, msg));
        let mut bytes = self.timestamp.to_be_bytes().to_vec();
        bytes.extend_from_slice(&signature.to_bytes());
        Ok(bytes)
    }
}

/// A witness's verifier key: checks its cosignatures (as a `signed_note::Verifier`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignatureVerifier {
    name: String,
    id: u32,
    public: VerifyingKey,
    vkey: String,
}

impl CosignatureVerifier {
    pub fn parse(vkey: &str) -> Result<Self, CosignerKeyError> {
        let vkey = vkey.trim();
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id), Some(encoded)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(CosignerKeyError::MalformedVerifier);
        };
        if !signed_note::is_key_name_valid(name) {
            return Err(CosignerKeyError::BadName(name.to_owned()));
        }
        let bytes = BASE64_STANDARD
            .decode(encoded)
            .map_err(|_| CosignerKeyError::MalformedVerifier)?;
        let public: [u8; 32] = match bytes.split_first() {
            Some((&COSIGNATURE_V1, public)) => public
                .try_into()
                .map_err(|_| CosignerKeyError::MalformedVerifier)?,
            _ => return Err(CosignerKeyError::MalformedVerifier),
        };
        let public =
            VerifyingKey::from_bytes(&public).map_err(|_| CosignerKeyError::MalformedVerifier)?;
        let expected = key_id(name, &public);
        if u32::from_str_radix(id, 16).ok() != Some(expected) || id.len() != 8 {
            return Err(CosignerKeyError::MalformedVerifier);
        }
        Ok(Self {
            name: name.to_owned(),
            id: expected,
            public,
            vkey: vkey.to_owned(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn as_str(&self) -> &str {
        &self.vkey
    }

    /// The timestamp of a valid cosignature (a signature's bytes, after the key ID) of
    /// `checkpoint_body`; `None` if it does not verify.
    pub fn timestamp_of(&self, checkpoint_body: &[u8], signature: &[u8]) -> Option<u64> {
        let (timestamp, signature) = signature.split_first_chunk::<8>()?;
        let signature = ed25519_dalek::Signature::from_slice(signature).ok()?;
        let timestamp = u64::from_be_bytes(*timestamp);
        if timestamp == 0 || timestamp > i64::MAX as u64 {
            return None;
        }
        self.public
            .verify(&signed_message(timestamp, checkpoint_body), &signature)
            .ok()
            .map(|()| timestamp)
    }
}

impl signed_note::Verifier for CosignatureVerifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.id
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        self.timestamp_of(msg, sig).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] =
        b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    #[test]
    fn keys_round_trip_and_cosignatures_verify() {
        let key = CosignerKey::generate("witness.example/w1").unwrap();
        let again = CosignerKey::parse(&key.private_key()).unwrap();
        assert_eq!(again.verifier_key(), key.verifier_key());
        let verifier = CosignatureVerifier::parse(&key.verifier_key()).unwrap();
        let line = key.cosign(BODY, 1_679_315_147);
        let encoded = line
            .strip_prefix("— witness.example/w1 ")
            .and_then(|l| l.strip_suffix('\n'))
            .unwrap();
        let bytes = BASE64_STANDARD.decode(encoded).unwrap();
        assert_eq!(
            bytes.len(),
            4 + 8 + 64,
            "key ID, timestamp, Ed25519 signature"
        );
        assert_eq!(&bytes[..4], &verifier.id.to_be_bytes());
        assert_eq!(
            verifier.timestamp_of(BODY, &bytes[4..]),
            Some(1_679_315_147)
        );
        // Another checkpoint, or a byte changed: refused.
        assert_eq!(
            verifier.timestamp_of(b"other\n1\nAA==\n", &bytes[4..]),
            None
        );
        let mut changed = bytes[4..].to_vec();
        changed[20] ^= 1;
        assert_eq!(verifier.timestamp_of(BODY, &changed), None);
    }

    /// The key ID is computed as tlog-cosignature says, independently of `signed_note`.
    #[test]
    fn the_key_id_is_the_specified_hash() {
        use sha2::{Digest, Sha256};
        let key = CosignerKey::from_seed("witness.example/w1", [7; 32]).unwrap();
        let public = SigningKey::from_bytes(&[7; 32]).verifying_key();
        let mut hasher = Sha256::new();
        hasher.update(b"witness.example/w1\n");
        hasher.update([0x04]);
        hasher.update(public.as_bytes());
        let expected = &hasher.finalize()[..4];
        assert_eq!(key.id.to_be_bytes(), expected);
        assert!(
            key.verifier_key()
                .starts_with(&format!("witness.example/w1+{}+", hex::encode(expected)))
        );
    }

    #[test]
    fn malformed_keys_are_refused() {
        assert!(CosignatureVerifier::parse("name+00000000+AAAA").is_err());
        let log_key = crate::transparency::LogKey::generate("log.example").unwrap();
        // A log's (type 0x01) verifier key is not a cosigner's.
        assert!(CosignatureVerifier::parse(log_key.verifier_key()).is_err());
        assert!(CosignerKey::parse("PRIVATE+KEY+x+00000000+AAAA").is_err());
    }
}
