//! The exact pass over a ledger: every envelope by the [`Verifier`], every index entry by the [`IndexCheck`].

use foldhash::{HashMap, HashMapExt};
use std::hash::RandomState;

use super::error::Witness;
use super::index::IndexCheck;
use super::party::PartyCheck;
use super::summary::{WatermarkCheck, roster_problem, summary_problem};
use super::tally::copy_hash;
use super::tree::TreeCheck;
use super::verifier::Verifier;
use super::{AuditError, Report};
use crate::error::Result;
use crate::model::envelope::Head;
use crate::model::exact::read_envelope;
use crate::progress::Progress;
use crate::store::{Entry, Store};

/// The exact pass of [`verify_ledger`](super::verify_ledger): every id and
/// every org's whole timeline are kept, index entries are checked one by
/// one, and the first problem is named by its seq.
pub(super) fn verify_ledger_exactly(
    store: &Store,
    checkpoint: Option<Head>,
    progress: &dyn Progress,
) -> Result<Report> {
    let mut verifier = Verifier::new(checkpoint);
    if let Some(marker) = store.head_marker()?
        && marker.seq > 0
    {
        verifier.require(marker, Witness::HeadMarker);
    }
    let key = RandomState::new();
    let mut index = IndexCheck::default();
    let mut parties = PartyCheck::new(store.parties_indexed()?);
    let mut summaries = WatermarkCheck::new(store.summaries_current()?);
    let mut buf = Vec::with_capacity(4096);
    let mut tree = TreeCheck::default();
    let mut stored_tree = HashMap::new();
    for block in store.blocks(1) {
        let (first, events) = block?;
        let expected = verifier.head().seq + 1;
        if first != expected {
            return Err(
                if first == 0 { AuditError::SeqZero } else { AuditError::Gap { seq: expected, next: first } }.into()
            );
        }
        for (seq, bytes) in events {
            let env = verifier.follow(read_envelope(&bytes, seq, true, &mut buf)?)?;
            tree.envelope(&bytes);
            index.add_event(&env, copy_hash(&key, seq, env.record_json().as_bytes()));
            parties.event(seq, env.event.org.as_str(), env.event.kind.members());
            summaries.event(seq, env.event.org.as_str());
        }
        progress.done(verifier.head().seq);
    }
    let tails = verifier.tails();
    let (report, ids) = verifier.finish_with_ids()?;
    for entry in store.index_entries() {
        match entry? {
            Entry::Ids(bucket, entries) => {
                for (id, seq) in entries {
                    index.id_entry(&ids, bucket, id, seq);
                }
            }
            Entry::Org(org, _, chunk) => {
                for (seq, bytes) in chunk.iter() {
                    index.org_entry(&org, seq, copy_hash(&key, seq, bytes));
                }
            }
            Entry::Summary(org, summary) => {
                summaries.summary(&org, &summary);
                if let Some(problem) = summary_problem(store, &org, &summary, tails.get(org.as_str()))? {
                    index.problem(None, problem);
                }
            }
            Entry::Roster(org, roster) => {
                if let Some(problem) = roster_problem(store, &org, &roster, tails.get(org.as_str()))? {
                    index.problem(None, problem);
                }
            }
            Entry::Tree(level, index, hash) => {
                stored_tree.insert((level, index), hash);
            }
            Entry::Party(party, orgs) => parties.entry(&party, &orgs),
            Entry::Meta => {}
            Entry::Damaged(what) => index.problem(None, AuditError::DamagedIndex(what)),
            Entry::Block(first, _) => index.problem(None, AuditError::BlockAmongIndexes { first }),
        }
    }
    let indexed = store.indexed()?;
    if indexed != report.head.seq {
        index.problem(None, AuditError::IndexedUpTo { indexed, end: report.head.seq });
    }
    if let Some(problem) = summaries.finish(report.head.seq) {
        index.problem(None, problem);
    }
    if let Some(problem) = parties.finish(report.head.seq) {
        index.problem(None, problem);
    }
    if let Some(problem) = tree.problem(&stored_tree, store.tree_leaves()?, report.head.seq) {
        index.problem(None, problem);
    }
    index.finish()?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::error::Breach;
    use crate::audit::testing::raw_ledger;
    use crate::audit::verify_ledger;
    use crate::error::{Error, ErrorKind};
    use serde_json::json;

    fn audit_error(e: &Error) -> &AuditError {
        match e.innermost() {
            Error::Audit(e) => e,
            e => panic!("not an audit error: {e:?}"),
        }
    }

    fn ledger_of_isa() -> (tempfile::TempDir, Store) {
        raw_ledger(&[
            json!({"type": "founding", "org": "isa", "date": "2000", "members": ["A"]}),
            json!({"type": "accession", "org": "isa", "date": "2001", "members": ["B"]}),
        ])
    }

    #[test]
    fn an_event_that_breaks_a_rule_is_named_by_its_seq() {
        let (_dir, store) = raw_ledger(&[
            json!({"type": "founding", "org": "isa", "date": "2000", "members": ["A"]}),
            json!({"type": "withdrawal", "org": "isa", "date": "2001", "members": ["B"]}),
        ]);
        let err = verify_ledger(&store, None, &()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Integrity);
        let AuditError::BreaksRule { seq: 2, event, why: Breach::Rule(_) } = audit_error(&err) else {
            panic!("{err:?}")
        };
        assert_eq!(event.org.as_str(), "isa");
        assert!(err.to_string().starts_with("seq 2: withdrawal of B dated 2001 (event "), "{err}");
    }

    #[test]
    fn a_correction_of_an_event_that_does_not_count_breaks_a_rule() {
        let other = "00000000-0000-0000-0000-0000000000aa";
        let (_dir, store) = raw_ledger(&[
            json!({"type": "founding", "org": "isa", "date": "2000", "members": ["A"]}),
            json!({"type": "accession", "org": "isa", "date": "2001", "members": ["B"], "supersedes": other}),
        ]);
        let err = verify_ledger(&store, None, &()).unwrap_err();
        assert!(
            matches!(audit_error(&err), AuditError::BreaksRule { seq: 2, why: Breach::NotCounting(id), .. }
                if id.to_string() == other),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .ends_with(&format!(": it corrects event {other}, which is not an event of the org that still counts")),
            "{err}"
        );
    }

    #[test]
    fn a_checkpoint_with_another_hash_or_past_the_end_is_refused() {
        let (_dir, store) = ledger_of_isa();
        let head = verify_ledger(&store, None, &()).unwrap().head;
        let wrong = Head { seq: 2, hash: "0".repeat(64) };
        let err = verify_ledger(&store, Some(wrong), &()).unwrap_err();
        assert!(
            matches!(audit_error(&err), AuditError::Rewritten { seq: 2, by: Witness::Checkpoint, found, .. }
                if *found == head.hash),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "seq 2: the checkpoint says hash {}, the log has {}: history up to seq 2 was rewritten",
                "0".repeat(64),
                head.hash
            )
        );
        let err = verify_ledger(&store, Some(Head { seq: 5, hash: head.hash.clone() }), &()).unwrap_err();
        assert!(
            matches!(audit_error(&err), AuditError::NotReached { by: Witness::Checkpoint, seq: 5, end: 2 }),
            "{err:?}"
        );
        assert_eq!(err.kind(), ErrorKind::Integrity);
        assert_eq!(
            err.to_string(),
            "the checkpoint names seq 5, but the log ends at seq 2: it lost events, or the checkpoint is of another log"
        );
        assert_eq!(verify_ledger(&store, Some(head.clone()), &()).unwrap().head, head);
    }
}
