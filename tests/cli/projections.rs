//! Projections: members on a day, uncertainty, corrections, bitemporal views.

#[allow(unused_imports)]
use crate::support::*;
