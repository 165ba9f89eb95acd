//! An org's summary and roster as the ledger stores them at each commit: what `accord orgs` shows, and `accord members` on a day after every event, without reading the org's events.

use serde::{Deserialize, Serialize};

use super::date::Day;
use super::id::PartyId;

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

/// Who the members of an org are once every one of its events has
/// happened: what `members` answers on any day after
/// [`Roster::settled`], as of the org's last event ([`Roster::last`]).
/// Stored beside the org's summary (under
/// [`crate::store::format::roster_key`]), by the command that recorded
/// that event, so that such a query reads neither the org's events nor its
/// timeline; checked by `accord audit verify`.
///
/// Each member's event is named by its seq: its id and source are read
/// from the org's copy of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roster {
    /// The seq of the org's last event: as for [`OrgSummary::last`].
    pub last: u64,
    /// As [`OrgSummary::settled`]: the roster answers only after it.
    pub settled: Option<Day>,
    /// Each party whose standing after every event is other than none, in
    /// the natural order of party ids.
    pub members: Vec<RosterEntry>,
}

/// A member on a [`Roster`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosterEntry {
    pub party: PartyId,
    /// Its status as SPEC §1 names it: one of [`ROSTER_STATUSES`].
    pub status: &'static str,
    /// Whether the founding named it.
    pub founder: bool,
    /// The seq of the event that gave it that status, and that event's date as written.
    pub since_seq: u64,
    pub since_date: String,
}

/// The statuses a member may have, in the order of their codes on disk.
pub const ROSTER_STATUSES: [&str; 4] = ["full", "associate", "observer", "suspended"];

/// The first byte of a roster's encoding: its version.
const ROSTER_VERSION: u8 = 1;

impl Roster {
    /// Whether it gives the members on `day`: every event had happened by then.
    pub fn answers(&self, day: Day) -> bool {
        self.settled.is_none_or(|settled| settled < day)
    }

    /// Its encoding, as the store keeps it (before compression): the
    /// version (1), `last` (u64 LE), `settled` (its length in a byte, 0 for
    /// none, and its text), the number of members (u32 LE), then for each
    /// the party id (its length in a byte, and its text), a byte (the
    /// status's index in [`ROSTER_STATUSES`], plus 128 for a founder), the
    /// seq (u64 LE) and the date (its length in a byte, and its text).
    /// `None` if a text is longer than 255 bytes or a status is unknown.
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(16 + self.members.len() * 24);
        out.push(ROSTER_VERSION);
        out.extend_from_slice(&self.last.to_le_bytes());
        put_text(&mut out, &self.settled.map(|d| d.to_string()).unwrap_or_default())?;
        out.extend_from_slice(&u32::try_from(self.members.len()).ok()?.to_le_bytes());
        for m in &self.members {
            put_text(&mut out, m.party.as_str())?;
            let status = ROSTER_STATUSES.iter().position(|s| *s == m.status)? as u8;
            out.push(status | if m.founder { 128 } else { 0 });
            out.extend_from_slice(&m.since_seq.to_le_bytes());
            put_text(&mut out, &m.since_date)?;
        }
        Some(out)
    }

    /// Reads [`Roster::to_bytes`]; `None` if the bytes are not one, whole.
    pub fn from_bytes(bytes: &[u8]) -> Option<Roster> {
        let mut r = Reader(bytes);
        if r.take(1)? != [ROSTER_VERSION] {
            return None;
        }
        let last = u64::from_le_bytes(r.take(8)?.try_into().ok()?);
        let settled = match r.text()? {
            "" => None,
            day => Some(Day::parse(day).ok()?),
        };
        let n = u32::from_le_bytes(r.take(4)?.try_into().ok()?) as usize;
        // Each member takes at least 11 bytes: no allocation past what the bytes can hold.
        let mut members = Vec::with_capacity(n.min(r.0.len() / 11));
        for _ in 0..n {
            let party = PartyId::parse(r.text()?).ok()?;
            let code = r.take(1)?[0];
            let status = *ROSTER_STATUSES.get(usize::from(code & 127))?;
            let since_seq = u64::from_le_bytes(r.take(8)?.try_into().ok()?);
            let since_date = r.text()?.to_owned();
            members.push(RosterEntry { party, status, founder: code & 128 != 0, since_seq, since_date });
        }
        r.0.is_empty().then_some(Roster { last, settled, members })
    }
}

/// Appends a text of at most 255 bytes, after its length.
fn put_text(out: &mut Vec<u8>, text: &str) -> Option<()> {
    out.push(u8::try_from(text.len()).ok()?);
    out.extend_from_slice(text.as_bytes());
    Some(())
}

/// What is left of an encoding to read.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    fn text(&mut self) -> Option<&'a str> {
        let n = usize::from(*self.take(1)?.first()?);
        std::str::from_utf8(self.take(n)?).ok()
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

    fn roster() -> Roster {
        let entry = |party: &str, status, founder, since_seq, date: &str| RosterEntry {
            party: PartyId::parse(party).unwrap(),
            status,
            founder,
            since_seq,
            since_date: date.into(),
        };
        Roster {
            last: 14,
            settled: Some(Day::parse("2025-11-06").unwrap()),
            members: vec![entry("ARE", "full", true, 1, "2017-02"), entry("ISR", "suspended", false, 9, "2020-12-09")],
        }
    }

    #[test]
    fn a_roster_reads_back_and_answers_only_after_it_settled() {
        let r = roster();
        let bytes = r.to_bytes().unwrap();
        assert_eq!(Roster::from_bytes(&bytes), Some(r.clone()));
        assert!(r.answers(Day::parse("2025-11-07").unwrap()));
        assert!(!r.answers(Day::parse("2025-11-06").unwrap()));
        let unsettled = Roster { settled: None, ..r.clone() };
        assert_eq!(Roster::from_bytes(&unsettled.to_bytes().unwrap()), Some(unsettled));
        // Cut anywhere, or with a byte more, it is not a roster.
        for n in 0..bytes.len() {
            assert_eq!(Roster::from_bytes(&bytes[..n]), None, "cut at {n}");
        }
        assert_eq!(Roster::from_bytes(&[bytes.as_slice(), &[0]].concat()), None);
        // An unknown status is not written, nor read.
        let mut odd = r.clone();
        odd.members[0].status = "none";
        assert_eq!(odd.to_bytes(), None);
        let at = bytes.iter().position(|&b| b == 128).unwrap();
        let mut bad = bytes.clone();
        bad[at] = 128 | 4;
        assert_eq!(Roster::from_bytes(&bad), None);
    }
}
