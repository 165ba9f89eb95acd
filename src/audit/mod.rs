//! Verification: the hash chain, the indexes and the rules, re-checked from
//! the bytes, for a ledger or for an export with no ledger; and replay.
//!
//! A ledger is verified by a fast pass (`scan`: threads, the end of each
//! timeline, the indexes compared as a keyed fingerprint), built for a ledger
//! that verifies; if anything at all is off, the exact pass (`exact`) names
//! the first problem by its seq. Both accept the same ledgers; docs/design.md
//! describes the algorithm.

mod error;
mod exact;
mod export;
mod index;
mod party;
mod replay;
mod scan;
mod summary;
mod tally;
#[cfg(test)]
mod testing;
mod tree;
mod verifier;

pub use error::{Breach, Error as AuditError, OrgFact, Witness};
pub use export::verify_export;
pub use replay::{Joined, Replayed, StatusChange, Target, replay};

use crate::error::Result;
use crate::model::envelope::Head;
use crate::progress::Progress;
use crate::store::Store;
use verifier::Checkpoint;

/// What a successful verification saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub head: Head,
    pub events: u64,
}

/// Verifies a whole ledger: the log, its indexes, the rules, a checkpoint
/// and the head recorded at the last commit.
///
/// First the fast pass; if it finds anything wrong (or unusual), the exact
/// pass, which names the first problem. Each pass tells `progress` how far
/// it has got, a block at a time.
pub fn verify_ledger(store: &Store, checkpoint: Option<Head>, progress: &dyn Progress) -> Result<Report> {
    let mut checkpoints = Vec::new();
    if let Some(head) = &checkpoint {
        checkpoints.push(Checkpoint::new(head.clone(), Witness::Checkpoint));
    }
    if let Some(marker) = store.head_marker()?
        && marker.seq > 0
    {
        checkpoints.push(Checkpoint::new(marker, Witness::HeadMarker));
    }
    if let Some(report) = scan::LedgerScan::run(store, checkpoints, progress) {
        return Ok(report);
    }
    exact::verify_ledger_exactly(store, checkpoint, progress)
}
