//! C2SP signed notes with Ed25519, as Go's `golang.org/x/mod/sumdb/note` writes and opens them: keys, signing, opening.
//!
//! A note is its text (lines ending in `\n`), a blank line, and one line per
//! signature: `— <key name> <base64(4-byte key ID || 64-byte signature)>`.
//! A key's ID is the first 4 bytes of `SHA-256(name || "\n" || 0x01 ||
//! public key)`. A verifier key is written `name+hex(key ID)+base64(0x01 ||
//! public key)`, a private key `PRIVATE+KEY+name+hex(key ID)+base64(0x01 ||
//! seed)`: Go's strings, so keys and notes go between accord and Go's tools.

use std::fmt;
use std::io::Read;

use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::base64;
use super::error::Error;

/// The algorithm byte of Ed25519 keys.
const ED25519: u8 = 0x01;
/// What begins a signature line: an em dash and a space.
const SIG_PREFIX: &str = "\u{2014} ";
/// Signatures a note may have; more and it is refused, as Go does.
pub const MAX_SIGNATURES: usize = 100;

/// Whether `name` can name a key: non-empty, no white space, no '+'.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(char::is_whitespace) && !name.contains('+')
}

fn key_id(name: &str, public: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ED25519]);
    h.update(public);
    let sum = h.finalize();
    u32::from_be_bytes([sum[0], sum[1], sum[2], sum[3]])
}

/// `name+keyid+base64key` after its prefix: the name, the key ID and the
/// key's bytes (algorithm byte first), checked for form but not for the ID.
fn split_key(text: &str) -> Result<(&str, u32, Vec<u8>), Error> {
    let (name, rest) = text.split_once('+').ok_or(Error::BadKey { why: "it has no '+' after the name" })?;
    let (id, key) = rest.split_once('+').ok_or(Error::BadKey { why: "it has no '+' after the key ID" })?;
    if !is_valid_name(name) {
        return Err(Error::BadKeyName(name.to_owned()));
    }
    if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::BadKey { why: "the key ID is not 8 hexadecimal digits" });
    }
    let id = u32::from_str_radix(id, 16).map_err(|_| Error::BadKey { why: "the key ID is not hexadecimal" })?;
    let key = base64::decode(key).ok_or(Error::BadKey { why: "the key is not base64" })?;
    Ok((name, id, key))
}

/// The algorithm byte and the 32 bytes of an Ed25519 key.
fn ed25519_bytes(key: &[u8]) -> Result<[u8; 32], Error> {
    match key.split_first() {
        None => Err(Error::BadKey { why: "the key is empty" }),
        Some((&ED25519, rest)) => {
            rest.try_into().map_err(|_| Error::BadKey { why: "an Ed25519 key is 32 bytes after its algorithm byte" })
        }
        Some((&algorithm, _)) => Err(Error::UnknownAlgorithm { algorithm }),
    }
}

/// A key that checks signatures: its name, its ID and an Ed25519 public key.
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl Verifier {
    /// Reads a verifier key string, `name+hex(key ID)+base64(0x01 || key)`.
    pub fn from_verifier_key_str(text: &str) -> Result<Verifier, Error> {
        let (name, id, bytes) = split_key(text)?;
        let public = ed25519_bytes(&bytes)?;
        if key_id(name, &public) != id {
            return Err(Error::KeyIdMismatch { name: name.to_owned() });
        }
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| Error::BadKey { why: "the key is not a point of Ed25519's curve" })?;
        Ok(Verifier { name: name.to_owned(), key_id: id, key })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The verifier key string, `name+hex(key ID)+base64(0x01 || key)`.
    pub fn to_key_string(&self) -> String {
        let mut key = vec![ED25519];
        key.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id, base64::encode(&key))
    }

    /// Whether `signature` (64 bytes) is this key's over `message`. As Go's
    /// `crypto/ed25519` (and so `note.Open`): cofactorless, canonical `S`.
    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        use ed25519_dalek::Verifier as _;
        let Ok(signature) = Signature::from_slice(signature) else { return false };
        self.key.verify(message, &signature).is_ok()
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_key_string())
    }
}

/// A key that signs: its name, its ID and an Ed25519 private key. Its
/// `Debug` shows the name and key ID only; the private key string is made
/// only by [`Signer::private_key_string`].
#[derive(Clone)]
pub struct Signer {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl Signer {
    /// The signer of the Ed25519 key whose seed (private key) is `seed`.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Signer, Error> {
        if !is_valid_name(name) {
            return Err(Error::BadKeyName(name.to_owned()));
        }
        let key = SigningKey::from_bytes(&seed);
        let key_id = key_id(name, key.verifying_key().as_bytes());
        Ok(Signer { name: name.to_owned(), key_id, key })
    }

    /// A new key named `name`, its seed read from the system's random
    /// source (`/dev/urandom`).
    pub fn generate(name: &str) -> Result<Signer, Error> {
        if !is_valid_name(name) {
            return Err(Error::BadKeyName(name.to_owned()));
        }
        let mut seed = [0u8; 32];
        std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut seed)).map_err(Error::Random)?;
        Signer::from_seed(name, seed)
    }

    /// Reads a private key string, `PRIVATE+KEY+name+hex(key ID)+base64(0x01 || seed)`.
    pub fn from_private_key_str(text: &str) -> Result<Signer, Error> {
        let rest = text.strip_prefix("PRIVATE+KEY+").ok_or(Error::BadKey { why: "it does not begin PRIVATE+KEY+" })?;
        let (name, id, bytes) = split_key(rest)?;
        let seed = ed25519_bytes(&bytes)?;
        let signer = Signer::from_seed(name, seed)?;
        if signer.key_id != id {
            return Err(Error::KeyIdMismatch { name: name.to_owned() });
        }
        Ok(signer)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The private key string, to be written to a file only the owner can read.
    pub fn private_key_string(&self) -> String {
        let mut key = vec![ED25519];
        key.extend_from_slice(self.key.as_bytes());
        format!("PRIVATE+KEY+{}+{:08x}+{}", self.name, self.key_id, base64::encode(&key))
    }

    /// The verifier of this key.
    pub fn verifier(&self) -> Verifier {
        Verifier { name: self.name.clone(), key_id: self.key_id, key: self.key.verifying_key() }
    }

    /// The signed note of `text` (which must end in a newline and hold no
    /// control character but newlines), signed by this key alone.
    pub fn sign(&self, text: &str) -> Result<String, Error> {
        check_text(text)?;
        use ed25519_dalek::Signer as _;
        let signature = self.key.sign(text.as_bytes());
        let mut sig = self.key_id.to_be_bytes().to_vec();
        sig.extend_from_slice(&signature.to_bytes());
        Ok(format!("{text}\n{SIG_PREFIX}{} {}\n", self.name, base64::encode(&sig)))
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signer({}+{:08x})", self.name, self.key_id)
    }
}

fn check_text(text: &str) -> Result<(), Error> {
    if !text.ends_with('\n') {
        return Err(Error::BadText { why: "it does not end in a newline" });
    }
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(Error::BadText { why: "it holds a control character" });
    }
    Ok(())
}

/// Whether `text` is a signed note: a blank line, then a signature line.
pub fn is_signed(text: &str) -> bool {
    text.contains(&format!("\n\n{SIG_PREFIX}"))
}

/// Opens a signed note: checks it is well formed and that a signature by
/// one of `known` verifies, and returns its text (with its final newline).
///
/// Signatures by keys not in `known` are ignored; a signature by a known
/// key that does not verify fails the note. As Go's `note.Open`.
pub fn open<'a>(note: &'a str, known: &[Verifier]) -> Result<&'a str, Error> {
    let malformed = |why| Error::MalformedNote { why };
    if note.chars().any(|c| c < ' ' && c != '\n') {
        return Err(malformed("it holds a control character"));
    }
    let split = note.rfind("\n\n").ok_or(malformed("it has no blank line before its signatures"))?;
    let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
    if !sigs.ends_with('\n') {
        return Err(malformed("its signatures do not end in a newline"));
    }
    let mut verified = false;
    let mut seen: Vec<(&str, u32)> = Vec::new();
    for (count, line) in sigs[..sigs.len() - 1].split('\n').enumerate() {
        if count == MAX_SIGNATURES {
            return Err(malformed("it has more than 100 signatures"));
        }
        let line = line.strip_prefix(SIG_PREFIX).ok_or(malformed("a line after the blank line is not a signature"))?;
        let (name, encoded) = line.split_once(' ').unwrap_or((line, ""));
        let sig = base64::decode(encoded).ok_or(malformed("a signature is not base64"))?;
        if !is_valid_name(name) || encoded.is_empty() || sig.len() < 5 {
            return Err(malformed("a signature line is not a key name and a signature"));
        }
        let id = u32::from_be_bytes([sig[0], sig[1], sig[2], sig[3]]);
        let mut keys = known.iter().filter(|v| v.name == name && v.key_id == id);
        let Some(key) = keys.next() else { continue };
        if keys.any(|other| other != key) {
            return Err(Error::AmbiguousKey { name: name.to_owned(), key_id: id });
        }
        if seen.contains(&(name, id)) {
            continue;
        }
        seen.push((name, id));
        if !key.verify(text.as_bytes(), &sig[4..]) {
            return Err(Error::BadSignature { name: name.to_owned(), key_id: id });
        }
        verified = true;
    }
    if !verified {
        return Err(Error::NotSigned);
    }
    Ok(text)
}

#[cfg(test)]
mod tests;
