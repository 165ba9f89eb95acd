//! The domain's values: dates, ids, events, canonical JSON and envelopes.

pub mod canonical;
pub mod date;
pub mod envelope;
mod error;
pub mod event;
pub(crate) mod exact;
pub mod id;
pub(crate) mod read;
pub mod schema;
pub mod step;
pub mod summary;
pub use error::{Damage, Error as ModelError, Inexact, InexactWhy, Json, JsonProblem};
