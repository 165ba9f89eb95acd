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
