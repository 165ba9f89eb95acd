//! accord: an event-sourced, hash-chained ledger of membership decisions.
//!
//! # Layout
//!
//! Rooms with one job each; ARCHITECTURE.md (at the repository's root) has
//! the map, the entry points and each room's invariant, and docs/design.md
//! the on-disk format, the commit protocol and the audit.
//!
//! - [`model`]: dates, ids, events and their schema, canonical JSON, envelopes and their readers.
//! - [`timeline`]: an org's events in effective order, the rules, and which events count.
//! - [`projection`]: pure functions of a timeline: members on a day with uncertainty, diff, history.
//! - [`store`]: bytes on disk (sled): keys, packed blocks, indexes, lock, head marker, commit and recovery.
//! - [`ledger`]: the façade ([`ledger::Ledger`] and its `Recorder`): the only thing the command line uses.
//! - [`audit`]: verification of a ledger or an export, and replay.
//! - [`proof`]: the RFC 6962 Merkle tree and its proofs, C2SP signed notes and checkpoints (pure, no store).
//! - [`error`]: [`Error`], one enum per room inside, and the [`ErrorKind`] that decides the exit code.
//! - [`progress`]: the [`progress::Progress`] a long pass tells how far it has got (no terminal here).
//!
//! The library never prints, never reads the environment and knows nothing of
//! the command line; `src/main.rs` and `src/cli/` do that.

pub mod audit;
pub mod error;
mod halves;
pub mod ledger;
pub mod model;
pub mod progress;
pub mod projection;
pub mod proof;
mod sha_many;
pub mod store;
pub mod timeline;

pub use error::{Error, ErrorKind, Result};
