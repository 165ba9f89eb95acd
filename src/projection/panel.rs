//! Every party's status on many days in one pass over an org's timeline (`accord panel`, `accord party`).
//!
//! [`super::readings`] reads one day by folding a party's whole list of
//! steps. A panel reads hundreds of days, so each party's steps are folded
//! once into a [`Track`] (its standing after each prefix of its steps, and
//! where each prefix's status began), and a [`Cursor`] walks sorted days
//! along it: the prefix that has certainly happened and the one that may
//! have only grow as the days advance, so each day costs O(1) amortized and
//! a panel costs the steps read plus the cells written. The answer on each
//! day is the one [`super::readings`] gives (SPEC §5, "How a status becomes
//! certain or not"); the domain tests check it day by day.

use super::{founded, party_steps};
use crate::model::date::Day;
use crate::model::event::Status;
use crate::model::id::PartyId;
use crate::timeline::{Action, Standing, Step};

/// How often a panel samples the years it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Every {
    /// Once a year, on the same month and day.
    Year { month: u32, day: u32 },
    /// On the last day of every month.
    Month,
}

/// The days a panel reads, in order: from year `from` to year `to`, both
/// included. A day that does not exist in a year (29 February) is skipped
/// that year, as is any year outside 1–9999.
pub fn sample_days(from: i32, to: i32, every: Every) -> Vec<Day> {
    let mut days = Vec::new();
    for year in from.max(1)..=to.min(9999) {
        match every {
            Every::Year { month, day } => days.extend(Day::from_ymd(year, month, day)),
            Every::Month => {
                for month in 1..=12 {
                    let next =
                        if month == 12 { Day::from_ymd(year + 1, 1, 1) } else { Day::from_ymd(year, month + 1, 1) };
                    days.extend(match next {
                        Some(next) => Some(next.pred()),
                        None => Day::from_ymd(year, 12, 31),
                    });
                }
            }
        }
    }
    days
}

/// The statuses a party may have on a day, as a set of status names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Possible(u8);

/// The status names in the order they are listed (none first, SPEC §5).
const NAMES: [&str; 5] = ["none", "full", "associate", "observer", "suspended"];

impl Possible {
    /// The status names, none first, then full, associate, observer, suspended.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        NAMES.into_iter().enumerate().filter(move |(rank, _)| self.0 & (1 << rank) != 0).map(|(_, name)| name)
    }
}

/// A party's status on one day; step indices are into the timeline's steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    /// Every way the imprecise dates can resolve gives this standing;
    /// `since` is the step that gave it (none before the party's first).
    Certain { standing: Standing, since: Option<usize> },
    /// It may have any of these statuses; `open` is the first step whose
    /// date leaves it open.
    Uncertain { possible: Possible, open: usize },
}

/// The COW IGO v3 code of a status: 1 full, 2 associate, 3 observer, 0 none.
/// A suspended party gets the code of the status a reinstatement gives back.
pub fn code_of(standing: Standing) -> i8 {
    match standing {
        Standing::None => 0,
        Standing::Member(status) | Standing::Suspended(status) => match status {
            Status::Full => 1,
            Status::Associate => 2,
            Status::Observer => 3,
        },
    }
}

/// The COW IGO v3 code for a status that is not known: missing.
pub const UNCERTAIN: i8 = -9;

impl Cell {
    /// The COW IGO v3 code: [`code_of`] the standing, or −9 when uncertain.
    pub fn code(&self) -> i8 {
        match self {
            Cell::Certain { standing, .. } => code_of(*standing),
            Cell::Uncertain { .. } => UNCERTAIN,
        }
    }

    /// The step that gave the status, or for an uncertain status the step
    /// whose date leaves it open.
    pub fn event(&self) -> Option<usize> {
        match self {
            Cell::Certain { since, .. } => *since,
            Cell::Uncertain { open, .. } => Some(*open),
        }
    }
}

/// One party's steps in an org, folded once: an entry for each prefix of
/// its steps, the empty one first, in one allocation (a server keeps the
/// tracks of many orgs).
pub struct Track {
    party: PartyId,
    /// `at[k]`, k from 0 to n, n being the party's steps and the org's
    /// dissolution: what holds once the first k have happened.
    at: Vec<Prefix>,
}

/// What holds once the first k of a party's steps have happened. Step
/// indices are into the timeline's steps, as `u32` (an org with more than
/// four billion steps would not fit in memory anyway).
#[derive(Clone, Copy)]
struct Prefix {
    /// The step after them, the (k+1)th (none at k = n).
    next: u32,
    /// The standing after them.
    standing: Standing,
    /// The step that gave the status of `standing` ([`NONE`] if none).
    since: u32,
    /// The first j ≥ k whose next step changes the status name (n if
    /// none): where a status read at k is left open.
    change: u32,
    /// The earliest last day of the steps from the (k+1)th on. On day D
    /// the steps that certainly happened are the first `#{p: settled[p] <= D}`.
    settled: Day,
    /// The earliest (clipped) first day of the steps from the (k+1)th on. On
    /// day D the steps that may have happened are the first `#{p: opened[p] <= D}`.
    opened: Day,
}

/// No step.
const NONE: u32 = u32::MAX;

/// About how many bytes the tracks of an org hold, given how many parties
/// its steps name in all (`named`, a party once per step) and how many
/// parties there are: for a cache's accounting, before they are made.
pub fn tracks_weight(named: usize, parties: usize) -> usize {
    use std::mem::size_of;
    // Each party's id on the heap, and the allocator's rounding of its prefixes.
    (named + parties) * size_of::<Prefix>() + parties * (size_of::<Track>() + 16 + 16)
}

/// A step index as a [`Prefix`] keeps it.
fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(NONE)
}

/// Every party the steps name, with its track, in party id order.
pub fn tracks(steps: &[Step]) -> Vec<Track> {
    let (per_party, org_wide) = party_steps(steps);
    let founded = founded(steps);
    per_party.into_iter().map(|(party, own)| Track::new(steps, party, own, &org_wide, founded)).collect()
}

/// The track of one party, if the steps name it.
pub fn track(steps: &[Step], party: &PartyId) -> Option<Track> {
    let mut own = Vec::new();
    let mut org_wide = Vec::new();
    let mut named = None;
    for (i, step) in steps.iter().enumerate() {
        if matches!(step.action, Action::Dissolve) {
            org_wide.push(i);
        }
        if let Some(p) = step.action.parties().iter().find(|p| *p == party) {
            named.get_or_insert(p);
            own.push(i);
        }
    }
    Some(Track::new(steps, named?, own, &org_wide, founded(steps)))
}

/// The days on which the org may exist: from the first day of its
/// founding's date to the last day of its dissolution's, if any. `None`
/// for steps with no founding.
pub fn span(steps: &[Step]) -> Option<(Day, Day)> {
    let first = steps.first().filter(|s| s.is_founding())?.first;
    let last = steps.iter().rev().find(|s| matches!(s.action, Action::Dissolve)).map_or(Day::MAX, |s| s.last);
    Some((first, last))
}

/// The part of sorted `days` on which the org may exist ([`span`]).
pub fn days_of<'d>(steps: &[Step], days: &'d [Day]) -> &'d [Day] {
    &days[range_of(steps, days)]
}

/// Where [`days_of`] lies in `days`.
fn range_of(steps: &[Step], days: &[Day]) -> std::ops::Range<usize> {
    let Some((first, last)) = span(steps) else { return 0..0 };
    let lo = days.partition_point(|d| *d < first);
    let hi = days.partition_point(|d| *d <= last).max(lo);
    lo..hi
}

impl Track {
    fn new(steps: &[Step], party: &PartyId, mut own: Vec<usize>, org_wide: &[usize], founded: Day) -> Track {
        own.extend(org_wide);
        own.sort_unstable();
        own.dedup();
        let n = own.len();
        let blank = Prefix {
            next: NONE,
            standing: Standing::None,
            since: NONE,
            change: index(n),
            settled: Day::MAX,
            opened: Day::MAX,
        };
        let mut at = vec![blank; n + 1];
        for (k, &i) in own.iter().enumerate() {
            let before = at[k];
            let after = before.standing.after(&steps[i].action).unwrap_or(before.standing);
            at[k].next = index(i);
            at[k + 1].standing = after;
            // Compared by status name: a status change while suspended does
            // not give the status `suspended`, the suspension did.
            at[k + 1].since = if after.as_str() != before.standing.as_str() { index(i) } else { before.since };
        }
        for k in (0..n).rev() {
            at[k].change =
                if at[k].standing.as_str() != at[k + 1].standing.as_str() { index(k) } else { at[k + 1].change };
        }
        let (mut last, mut first) = (Day::MAX, Day::MAX);
        for p in (0..n).rev() {
            let step = &steps[own[p]];
            last = last.min(step.last);
            first = first.min(step.start(founded));
            at[p].settled = last;
            at[p].opened = first;
        }
        Track { party: party.clone(), at }
    }

    pub fn party(&self) -> &PartyId {
        &self.party
    }

    /// The first day on which the party may have a status other than none:
    /// before it, it is none with certainty and no event gave it that.
    pub fn first_day(&self) -> Day {
        self.at[0].opened
    }

    /// A reader of the track on days given in ascending order.
    pub fn cursor(&self) -> Cursor<'_> {
        let mut counts = [0u32; 5];
        counts[usize::from(self.at[0].standing.rank())] = 1;
        Cursor { track: self, least: 0, opened: 0, lo: 0, hi: 0, counts, last: None }
    }

    /// The party's status on one day.
    pub fn on(&self, day: Day) -> Cell {
        self.cursor().on(day)
    }
}

/// Walks a [`Track`] along days in ascending order. A day earlier than the
/// one before starts the walk again (correct, only slower).
pub struct Cursor<'t> {
    track: &'t Track,
    /// How many of the party's steps have certainly happened.
    least: usize,
    /// How many may have happened, before taking `least` into account.
    opened: usize,
    /// The window `standings[lo..=hi]` counted in `counts`, by rank.
    lo: usize,
    hi: usize,
    counts: [u32; 5],
    last: Option<Day>,
}

impl Cursor<'_> {
    /// The party's status on `day`.
    pub fn on(&mut self, day: Day) -> Cell {
        if self.last.is_some_and(|last| day < last) {
            *self = self.track.cursor();
        }
        self.last = Some(day);
        let at = &self.track.at;
        let n = at.len() - 1;
        while self.least < n && at[self.least].settled <= day {
            self.least += 1;
        }
        while self.opened < n && at[self.opened].opened <= day {
            self.opened += 1;
        }
        let most = self.opened.max(self.least);
        // The possible statuses are those after each prefix from `least`
        // to `most` steps: the window only ever moves forward.
        while self.hi < most {
            self.hi += 1;
            self.counts[usize::from(at[self.hi].standing.rank())] += 1;
        }
        while self.lo < self.least {
            self.counts[usize::from(at[self.lo].standing.rank())] -= 1;
            self.lo += 1;
        }
        let possible = self.counts.iter().enumerate().filter(|(_, c)| **c > 0).fold(0u8, |set, (r, _)| set | 1 << r);
        let here = at[self.least];
        if possible.count_ones() == 1 {
            let since = (here.since != NONE).then_some(here.since as usize);
            Cell::Certain { standing: here.standing, since }
        } else {
            // Uncertain only once some step may have happened, so n ≥ 1.
            let open = at[(here.change as usize).min(n.saturating_sub(1))].next;
            Cell::Uncertain { possible: Possible(possible), open: open as usize }
        }
    }
}

/// Visits the status of every party of the org on each of `days` (sorted)
/// on which the org may exist ([`days_of`]), party by party in id order,
/// day by day, with the day's index in `days`; a party is left out on the
/// days before its [`Track::first_day`], when it is none with certainty and
/// no event made it so.
pub fn long(steps: &[Step], days: &[Day], mut each: impl FnMut(&PartyId, usize, Cell)) {
    let range = range_of(steps, days);
    for track in tracks(steps) {
        let from = range.start + days[range.clone()].partition_point(|d| *d < track.first_day());
        let mut cursor = track.cursor();
        for (i, &day) in days.iter().enumerate().take(range.end).skip(from) {
            each(track.party(), i, cursor.on(day));
        }
    }
}

/// The codes of every party of the org on each of [`days_of`] `days`: one
/// column per party, in id order.
pub fn wide(steps: &[Step], days: &[Day]) -> Vec<(PartyId, Vec<i8>)> {
    let days = days_of(steps, days);
    tracks(steps)
        .into_iter()
        .map(|track| {
            let from = days.partition_point(|d| *d < track.first_day());
            let mut cursor = track.cursor();
            let mut codes = vec![0; from];
            codes.extend(days[from..].iter().map(|&day| cursor.on(day).code()));
            (track.party, codes)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projection::testing::{party, step};
    fn day(d: &str) -> Day {
        Day::parse(d).unwrap()
    }

    #[test]
    fn sampled_days_are_the_chosen_day_of_each_year_or_the_last_of_each_month() {
        let text = |days: Vec<Day>| days.iter().map(Day::to_string).collect::<Vec<_>>();
        assert_eq!(text(sample_days(2019, 2020, Every::Year { month: 12, day: 31 })), ["2019-12-31", "2020-12-31"]);
        let months = text(sample_days(2020, 2020, Every::Month));
        assert_eq!((months.len(), months[1].as_str(), months[11].as_str()), (12, "2020-02-29", "2020-12-31"));
        assert_eq!(text(sample_days(2019, 2020, Every::Year { month: 2, day: 29 })), ["2020-02-29"]);
    }

    #[test]
    fn codes_follow_cow_and_a_suspended_party_keeps_the_code_it_gets_back() {
        let steps = vec![
            step(1, "2000-01-01", Action::Found(vec![party("A"), party("B")])),
            step(2, "2001-01-01", Action::ChangeStatus(vec![party("B")], Status::Observer)),
            step(3, "2002-01-01", Action::Suspend(vec![party("B")])),
            step(4, "2003-06", Action::Withdraw(vec![party("A")])),
        ];
        let days = [day("1999-12-31"), day("2000-12-31"), day("2001-12-31"), day("2002-12-31"), day("2003-06-15")];
        let wide = wide(&steps, &days);
        let columns: Vec<(&str, Vec<i8>)> = wide.iter().map(|(p, c)| (p.as_str(), c.clone())).collect();
        // The org does not exist before its founding: no column has that day.
        assert_eq!(columns, [("A", vec![1, 1, 1, -9]), ("B", vec![1, 3, 3, 3])]);
        let mut cells = Vec::new();
        long(&steps, &days, |p, d, c| cells.push((p.as_str().to_owned(), days[d], c)));
        assert_eq!(cells[7].2, Cell::Certain { standing: Standing::Suspended(Status::Observer), since: Some(2) });
        let Cell::Uncertain { possible, open } = cells[3].2 else { panic!("{:?}", cells[3]) };
        assert_eq!((possible.names().collect::<Vec<_>>(), open), (vec!["none", "full"], 3));
    }
}
