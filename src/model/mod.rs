//! The domain's values: dates, ids, events, canonical JSON and envelopes.

pub mod canonical;
pub mod date;
pub mod envelope;
mod error;
pub mod event;
pub mod id;
pub use error::Error as ModelError;
