//! Audit: verify, checkpoints, exports, damage.

#[allow(unused_imports)]
use crate::support::*;
