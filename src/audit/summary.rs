//! The org summaries checked against the log: each one that is still current must be what the org's events give.

use super::AuditError;
use crate::error::Result;
use crate::model::id::OrgId;
use crate::model::summary::OrgSummary;
use crate::store::Store;
use crate::timeline::Tail;

/// What is wrong with the stored summary of `org`, given the end of the
/// org's timeline as the log gives it (`None`: the log has no event of the
/// org). A summary older than the org's last event is not used, and not
/// wrong (a command that died after its commit leaves one).
pub(super) fn summary_problem(
    store: &Store,
    org: &OrgId,
    summary: &OrgSummary,
    tail: Option<&Tail>,
) -> Result<Option<AuditError>> {
    let (Some(tail), Some(last)) = (tail, store.org_last(org)?) else {
        return Ok(Some(AuditError::SummaryWithoutOrg { org: org.clone() }));
    };
    if summary.last > last {
        return Ok(Some(AuditError::SummaryAhead { org: org.clone(), says: summary.last, last }));
    }
    if summary.last < last {
        return Ok(None);
    }
    let founding = match tail.founding() {
        Some(id) => match store.seq_of(&id)? {
            Some(seq) => store.get(seq)?.map(|env| env.event),
            None => None,
        },
        None => None,
    };
    if tail.summary(last, founding.as_ref()) != *summary {
        return Ok(Some(AuditError::SummaryDiffers { org: org.clone() }));
    }
    Ok(None)
}
