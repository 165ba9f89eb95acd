//! Proofs anyone can check: the RFC 6962 Merkle tree, C2SP signed notes (Ed25519) and tlog checkpoints.
//!
//! Pure functions and values: this room knows nothing of sled, the store,
//! the ledger or the command line. The store keeps the tree's hashes through
//! a [`merkle::HashReader`] of its own and writes what [`merkle::TreeBuilder`]
//! or [`merkle::stored_hashes_for_record`] give; the commands sign and check
//! with [`note`] and [`checkpoint`].

pub mod base64;
pub mod checkpoint;
pub mod error;
pub mod merkle;
pub mod note;

pub use checkpoint::Checkpoint;
pub use error::{Error as ProofError, ProofKind};
pub use merkle::{Hash, HashReader, TreeBuilder};
pub use note::{Signer, Verifier};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    /// A proof or signature that does not check is an integrity failure
    /// (exit 3); text that does not parse is invalid input (exit 1).
    #[test]
    fn proof_errors_have_the_exit_codes_of_spec_6() {
        let kind = |e: ProofError| crate::Error::from(e).kind();
        assert_eq!(kind(ProofError::RootMismatch { what: ProofKind::Inclusion }), ErrorKind::Integrity);
        assert_eq!(
            kind(ProofError::ProofLength { what: ProofKind::Consistency, got: 1, want: 2 }),
            ErrorKind::Integrity
        );
        assert_eq!(kind(ProofError::BadSignature { name: "k".into(), key_id: 1 }), ErrorKind::Integrity);
        assert_eq!(kind(ProofError::NotSigned), ErrorKind::Integrity);
        assert_eq!(kind(ProofError::MissingHash { index: 3 }), ErrorKind::Integrity);
        assert_eq!(kind(ProofError::MalformedNote { why: "x" }), ErrorKind::Invalid);
        assert_eq!(kind(ProofError::MalformedCheckpoint { why: "x" }), ErrorKind::Invalid);
        assert_eq!(kind(ProofError::BadKey { why: "x" }), ErrorKind::Invalid);
        assert_eq!(kind(ProofError::IndexBeyondSize { index: 3, size: 3 }), ErrorKind::Invalid);
        let message = crate::Error::from(ProofError::RootMismatch { what: ProofKind::Inclusion }).to_string();
        assert_eq!(
            message,
            "the inclusion proof does not lead to the root hash it is checked against: it does not verify"
        );
    }
}
