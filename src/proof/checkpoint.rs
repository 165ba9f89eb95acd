//! C2SP tlog-checkpoint: a log's origin, tree size and root hash as three lines of text, signed as a note.
//!
//! ```text
//! example.org/isa-ledger
//! 1234
//! XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=
//! ```
//!
//! Extension lines after the root are tolerated when parsing and never
//! written.

use super::error::Error;
use super::merkle::{Hash, hash_from_base64, hash_to_base64};
use super::note::{self, Signer, Verifier, is_valid_name};

/// A log's tree head: which log (`origin`), how many leaves, and the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

/// Whether `origin` can name a log: non-empty, no white space, no '+', no
/// control character (a key name too, as the log's key should be named
/// after it).
pub fn is_valid_origin(origin: &str) -> bool {
    is_valid_name(origin) && !origin.chars().any(char::is_control)
}

impl Checkpoint {
    /// The checkpoint of the tree of `size` leaves with root `root` of the log `origin`.
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Checkpoint, Error> {
        if !is_valid_origin(origin) {
            return Err(Error::MalformedCheckpoint { why: "the origin is empty or holds white space or a '+'" });
        }
        Ok(Checkpoint { origin: origin.to_owned(), size, root })
    }

    /// `origin\nsize\nbase64(root)\n`.
    pub fn to_text(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, hash_to_base64(&self.root))
    }

    /// Reads a checkpoint's text (a signed note's text, once opened):
    /// strictly its three lines, then any non-empty extension lines.
    pub fn parse(text: &str) -> Result<Checkpoint, Error> {
        let malformed = |why| Error::MalformedCheckpoint { why };
        let body = text.strip_suffix('\n').ok_or(malformed("it does not end in a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or("");
        if !is_valid_origin(origin) {
            return Err(malformed("the origin (first line) is empty or holds white space or a '+'"));
        }
        let size = lines.next().ok_or(malformed("it has no tree size (second line)"))?;
        if size.is_empty() || !size.bytes().all(|b| b.is_ascii_digit()) || (size.len() > 1 && size.starts_with('0')) {
            return Err(malformed("the tree size (second line) is not a decimal number without leading zeros"));
        }
        let size = size.parse().map_err(|_| malformed("the tree size (second line) is too large"))?;
        let root = lines.next().ok_or(malformed("it has no root hash (third line)"))?;
        let root = hash_from_base64(root)
            .map_err(|_| malformed("the root hash (third line) is not the base64 of a 32-byte hash"))?;
        if lines.any(|line| line.is_empty() || line.chars().any(char::is_control)) {
            return Err(malformed("an extension line is empty or holds a control character"));
        }
        Ok(Checkpoint { origin: origin.to_owned(), size, root })
    }

    /// The checkpoint as a note signed by `signer`.
    pub fn sign(&self, signer: &Signer) -> Result<String, Error> {
        signer.sign(&self.to_text())
    }

    /// The checkpoint a signed note holds, once a signature by one of
    /// `known` verifies ([`note::open`]).
    pub fn open(signed: &str, known: &[Verifier]) -> Result<Checkpoint, Error> {
        Checkpoint::parse(note::open(signed, known)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proof::merkle::empty_root;

    const ROOT8: &str = "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=";

    fn root8() -> Hash {
        hash_from_base64(ROOT8).unwrap()
    }

    #[test]
    fn a_checkpoint_is_three_lines() {
        let c = Checkpoint::new("example.org/isa-ledger", 8, root8()).unwrap();
        let text = c.to_text();
        assert_eq!(text, format!("example.org/isa-ledger\n8\n{ROOT8}\n"));
        assert_eq!(Checkpoint::parse(&text).unwrap(), c);
        let empty = Checkpoint::new("o", 0, empty_root()).unwrap();
        assert_eq!(empty.to_text(), "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
        assert_eq!(Checkpoint::parse(&empty.to_text()).unwrap(), empty);
    }

    /// The example of C2SP tlog-checkpoint.
    #[test]
    fn the_c2sp_example_parses() {
        let text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let c = Checkpoint::parse(text).unwrap();
        assert_eq!((c.origin.as_str(), c.size), ("example.com/behind-the-sofa", 20852163));
        assert_eq!(c.to_text(), text);
    }

    #[test]
    fn extension_lines_are_tolerated_and_not_kept() {
        let c = Checkpoint::parse(&format!("o\n8\n{ROOT8}\nTimestamp: 1700000000\nanother\n")).unwrap();
        assert_eq!(c, Checkpoint::new("o", 8, root8()).unwrap());
    }

    #[test]
    fn malformed_checkpoints_are_refused() {
        let good = format!("o\n8\n{ROOT8}\n");
        Checkpoint::parse(&good).unwrap();
        for bad in [
            String::new(),
            "\n".to_owned(),
            format!("o\n8\n{ROOT8}"),
            format!("\n8\n{ROOT8}\n"),
            format!("a b\n8\n{ROOT8}\n"),
            format!("a+b\n8\n{ROOT8}\n"),
            format!("a\tb\n8\n{ROOT8}\n"),
            format!("o\n08\n{ROOT8}\n"),
            format!("o\n00\n{ROOT8}\n"),
            format!("o\n+8\n{ROOT8}\n"),
            format!("o\n-8\n{ROOT8}\n"),
            format!("o\n 8\n{ROOT8}\n"),
            format!("o\n8 \n{ROOT8}\n"),
            format!("o\n\n{ROOT8}\n"),
            format!("o\n0x8\n{ROOT8}\n"),
            format!("o\n18446744073709551616\n{ROOT8}\n"),
            "o\n8\n".to_owned(),
            "o\n8\nZG9uJ3QgY2FyZSAy\n".to_owned(),
            format!("o\n8\n{}\n", &ROOT8[..43]),
            format!("o\n8\n{ROOT8}=\n"),
            format!("o\n8\n {ROOT8}\n"),
            format!("o\n8\n{ROOT8}\n\n"),
            format!("o\n8\n{ROOT8}\next\n\nmore\n"),
            format!("o\r\n8\n{ROOT8}\n"),
            format!("o\n8\n{ROOT8}\r\n"),
        ] {
            assert!(matches!(Checkpoint::parse(&bad), Err(Error::MalformedCheckpoint { .. })), "{bad:?}");
        }
        assert!(Checkpoint::parse(&format!("o\n18446744073709551615\n{ROOT8}\n")).is_ok());
        for origin in ["", "a b", "a+b", "a\nb", "\u{1}"] {
            assert!(Checkpoint::new(origin, 1, root8()).is_err(), "{origin:?}");
        }
    }

    #[test]
    fn a_signed_checkpoint_opens_with_its_key_only() {
        let signer = Signer::from_seed("example.org/isa-ledger", [3; 32]).unwrap();
        let c = Checkpoint::new("example.org/isa-ledger", 8, root8()).unwrap();
        let signed = c.sign(&signer).unwrap();
        assert!(signed.starts_with(&c.to_text()));
        assert_eq!(Checkpoint::open(&signed, &[signer.verifier()]).unwrap(), c);
        let other = Signer::from_seed("example.org/isa-ledger", [4; 32]).unwrap();
        assert!(matches!(Checkpoint::open(&signed, &[other.verifier()]), Err(Error::NotSigned)));
        // Another size or root under the same signature.
        let grown = signed.replacen("\n8\n", "\n9\n", 1);
        assert!(matches!(Checkpoint::open(&grown, &[signer.verifier()]), Err(Error::BadSignature { .. })));
        let rerooted = signed.replacen("Xcna", "Ycna", 1);
        assert!(matches!(Checkpoint::open(&rerooted, &[signer.verifier()]), Err(Error::BadSignature { .. })));
    }
}
