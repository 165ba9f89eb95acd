//! An org's summary as the ledger stores it at each commit: what `accord orgs` shows, without reading the org's events.

use serde::{Deserialize, Serialize};

use super::date::Day;

/// What `accord orgs` shows of an org, as of its last event; stored as JSON
/// under [`crate::store::format::summary_key`] by the command that recorded
/// that event, after its commit, and checked by `accord audit verify`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgSummary {
    /// The seq of the org's last event when the summary was written: the
    /// summary holds while that is still the org's last event (a command
    /// that died after its commit leaves an older one, which is not used).
    pub last: u64,
    /// The founding's date as written, if the org's timeline starts with one.
    pub founded: Option<String>,
    /// The founding's `name`.
    pub name: Option<String>,
    /// Parties whose standing is other than none after every event.
    pub members: u64,
    /// The last day of the event that may have happened latest: from the
    /// day after, every event has happened, and `members` is certain.
    pub settled: Option<String>,
}

impl OrgSummary {
    /// The summary's JSON, as stored.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a stored summary; `None` if it is not one.
    pub fn from_bytes(bytes: &[u8]) -> Option<OrgSummary> {
        let summary: OrgSummary = serde_json::from_slice(bytes).ok()?;
        match &summary.settled {
            Some(day) if Day::parse(day).is_err() => None,
            _ => Some(summary),
        }
    }

    /// The member count on `day` if the summary answers it: every event
    /// had happened by then.
    pub fn members_on(&self, day: Day) -> Option<u64> {
        match &self.settled {
            None => Some(self.members),
            Some(settled) => (Day::parse(settled).ok()? < day).then_some(self.members),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_reads_back_and_answers_only_after_it_settled() {
        let s = OrgSummary {
            last: 14,
            founded: Some("2017-02".into()),
            name: Some("International Security Alliance".into()),
            members: 12,
            settled: Some("2025-11-06".into()),
        };
        assert_eq!(OrgSummary::from_bytes(&s.to_bytes()), Some(s.clone()));
        assert_eq!(s.members_on(Day::parse("2025-11-07").unwrap()), Some(12));
        assert_eq!(s.members_on(Day::parse("2025-11-06").unwrap()), None);
        assert_eq!(OrgSummary::from_bytes(br#"{"last":1}"#), None);
        let bad_day = br#"{"last":1,"founded":null,"name":null,"members":0,"settled":"2025-13-01"}"#;
        assert_eq!(OrgSummary::from_bytes(bad_day), None);
    }
}
