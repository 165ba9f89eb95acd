//! The domain's values: dates, ids, events, canonical JSON and envelopes.

pub mod canonical;
pub mod date;
pub mod envelope;
pub mod event;
pub mod id;
