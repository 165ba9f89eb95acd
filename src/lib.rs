//! accord: an event-sourced, hash-chained ledger of membership decisions.
//!
//! # Layout
//!
//! - [`date`], [`id`], [`event`]: the domain's values, which can only be valid.
//! - [`canonical`]: RFC 8785 canonical JSON and SHA-256, for ids and hashes.
//! - [`envelope`]: a recorded event with its place in the hash chain.
//! - [`timeline`]: an org's events in effective order, and the rules.
//! - [`projection`]: members on a day (with uncertainty), history, diff.
//! - [`store`]: the sled database: keys, values, batches, durability, locking.
//! - [`ledger`]: recording under the rules, and reading views of the log.
//! - [`audit`]: verification of a ledger or an export.
//!
//! The library never prints, never reads the environment and knows nothing of
//! the command line; `src/main.rs` and `src/cli/` do that. See ARCHITECTURE.md.

pub mod audit;
pub mod error;
pub mod ledger;
pub mod model;
pub mod projection;
pub mod store;
pub mod timeline;

pub use error::{Error, ErrorKind, Result};
