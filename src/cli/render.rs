//! Human-readable renderings. JSON renderings come from the library's
//! Serialize types; these are for people reading a terminal.

use std::fmt::Write;

use accord::model::envelope::Envelope;
use accord::model::event::{Event, EventKind};
use accord::model::id::{PartyId, natural_cmp};
use accord::projection::{Diff, Members};

fn parties(members: &[PartyId]) -> String {
    members.iter().map(PartyId::as_str).collect::<Vec<_>>().join(" ")
}

/// The first 8 hex digits of an event id: how `log` and `history` name events.
pub fn short(id: &uuid::Uuid) -> String {
    let mut s = id.simple().to_string();
    s.truncate(8);
    s
}

/// An event id, whole (`long`) or [`short`].
fn event_id(id: &uuid::Uuid, long: bool) -> String {
    if long { id.to_string() } else { short(id) }
}

/// "1 member", "2 members".
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The widest of `texts`, in characters.
fn widest<'a>(texts: impl IntoIterator<Item = &'a str>) -> usize {
    texts.into_iter().map(|t| t.chars().count()).max().unwrap_or(0)
}

/// What the event says, in a few words: `accession: ISR (full)`; the event
/// it corrects by [`short`] id, or whole with `long`.
pub fn summary(e: &Event, long: bool) -> String {
    let mut s = e.type_name().to_owned();
    match &e.kind {
        EventKind::Founding { members, name, .. } => {
            if let Some(n) = name {
                let _ = write!(s, " of {n}");
            }
            let _ = write!(s, ": {}", parties(members));
        }
        EventKind::Launch { members, by } => {
            if let Some(b) = by {
                let _ = write!(s, " by {b}");
            }
            if !members.is_empty() {
                let _ = write!(s, ": {}", parties(members));
            }
        }
        EventKind::Exercise { name, place, .. } => {
            let _ = write!(s, " {name}");
            if let Some(p) = place {
                let _ = write!(s, " at {p}");
            }
        }
        EventKind::Accession { members, status } | EventKind::StatusChange { members, status } => {
            let _ = write!(s, ": {} ({status})", parties(members));
        }
        EventKind::Retraction { retracts, reason } => {
            let _ = write!(s, " of {}: {reason}", event_id(retracts, long));
        }
        other => {
            let m = other.members();
            if !m.is_empty() {
                let _ = write!(s, ": {}", parties(m));
            }
        }
    }
    if let Some(t) = e.supersedes {
        let _ = write!(s, " [supersedes {}]", event_id(&t, long));
    }
    s
}

fn date_text(e: &Event) -> String {
    e.date.map(|d| d.to_string()).unwrap_or_else(|| "-".to_owned())
}

/// The longest effective date's text (`YYYY-MM-DD%/YYYY-MM-DD%`).
pub const DATE_WIDTH: usize = 23;

/// The columns of a listing of events, one event per line: `log` (seq
/// first, with the org) and `history` (date first, one org).
pub struct Columns {
    /// Digits of the largest seq listed.
    pub seq: usize,
    /// Width of the org column; `None` leaves the org out.
    pub org: Option<usize>,
    pub date: usize,
    /// The effective date first (history), else the seq.
    pub date_first: bool,
    /// The whole id, the record time, the whole source and the recorder.
    pub long: bool,
}

impl Columns {
    /// `log`'s columns for a log whose head is `head` and whose org ids are
    /// at most `org` characters long.
    pub fn log(head: u64, org: usize, long: bool) -> Columns {
        Columns { seq: head.max(1).to_string().len(), org: Some(org), date: DATE_WIDTH, date_first: false, long }
    }

    /// One line: seq, id, [org,] effective date, what, source; with `long`
    /// the id whole, the record time after it, the whole source and who recorded it.
    pub fn line(&self, seq: u64, recorded_at: &str, recorded_by: &str, e: &Event) -> String {
        let mut s = String::new();
        let seq_text = format!("{seq:>w$}", w = self.seq);
        let date = format!("{:<w$}", date_text(e), w = self.date);
        if self.date_first {
            let _ = write!(s, "{date}  {seq_text}");
        } else {
            s.push_str(&seq_text);
        }
        let _ = write!(s, "  {}", event_id(&e.id, self.long));
        if self.long {
            let _ = write!(s, "  {recorded_at:<27}");
        }
        if let Some(w) = self.org {
            let _ = write!(s, "  {:<w$}", e.org.as_str());
        }
        if !self.date_first {
            let _ = write!(s, "  {date}");
        }
        let _ = write!(s, "  {}", summary(e, self.long));
        let source = if self.long { e.source_text() } else { e.source_credit() };
        if let Some(src) = source {
            let _ = write!(s, "  source: {src}");
        }
        if self.long {
            let _ = write!(s, "  (recorded by {recorded_by})");
        }
        s
    }
}

/// One line of `accord audit replay`, as `log` shows it.
pub fn log_line(env: &Envelope) -> String {
    Columns::log(999_999, 10, false).line(env.seq, &env.recorded_at, &env.recorded_by, &env.event)
}

/// `history`'s columns for these events, each (seq, event).
pub fn history_columns<'a>(events: impl Iterator<Item = (u64, &'a Event)> + Clone, long: bool) -> Columns {
    let seq = events.clone().map(|(seq, _)| seq).max().unwrap_or(1).to_string().len();
    let dates: Vec<String> = events.map(|(_, e)| date_text(e)).collect();
    Columns { seq, org: None, date: widest(dates.iter().map(String::as_str)), date_first: true, long }
}

/// What corrected an event: `superseded by 0d6a1b2c at seq 6`, `retracted
/// by 5e6f7a8b at seq 12: no such decision`.
pub fn correction(by: &Event, seq: u64) -> String {
    match &by.kind {
        EventKind::Retraction { reason, .. } => format!("retracted by {} at seq {seq}: {reason}", short(&by.id)),
        _ => format!("superseded by {} at seq {seq}", short(&by.id)),
    }
}

/// `accord show`: every field, one per line; `corrected` says what
/// retracted or superseded the event, if anything did.
pub fn envelope(env: &Envelope, corrected: &[String]) -> String {
    let e = &env.event;
    let mut s = String::new();
    let _ = writeln!(s, "event     {}", e.id);
    let _ = writeln!(s, "what      {}", summary(&env.event, true));
    for c in corrected {
        let _ = writeln!(s, "status    {c}");
    }
    let _ = writeln!(s, "org       {}", e.org);
    let _ = writeln!(s, "date      {}", date_text(&env.event));
    if let Some(src) = e.source_text() {
        let _ = writeln!(s, "source    {src}");
    }
    if let Some(n) = e.note() {
        let _ = writeln!(s, "note      {n}");
    }
    if let Some(d) = e.body().get("details") {
        let _ = writeln!(s, "details   {d}");
    }
    let _ = writeln!(s, "seq       {}", env.seq);
    let _ = writeln!(s, "recorded  {} by {}", env.recorded_at, env.recorded_by);
    let _ = writeln!(s, "prev      {}", env.prev);
    let _ = write!(s, "hash      {}", env.hash);
    s
}

/// `accord members`: one table, certain members then the uncertain, its
/// columns as wide as their widest entry (party ids up to 64 characters).
pub fn members(m: &Members, source_of: impl Fn(&uuid::Uuid) -> Option<String>) -> String {
    let ids = m.members.iter().map(|x| x.id.as_str()).chain(m.uncertain.iter().map(|u| u.id.as_str()));
    let id_w = widest(ids);
    let possible: Vec<String> = m.uncertain.iter().map(|u| u.possible.join(" or ")).collect();
    let status_w = widest(m.members.iter().map(|x| x.status).chain(possible.iter().map(String::as_str)));
    let date_w = widest(m.members.iter().map(|x| x.since.as_str()).chain(m.uncertain.iter().map(|u| u.date.as_str())));
    let founder_w = if m.members.iter().any(|x| x.founder) { "founder".len() } else { 0 };
    let row = |id: &str, status: &str, word: &str, date: &str, founder: &str, source: Option<String>| {
        let mut line = format!("  {id:<id_w$}  {status:<status_w$}  {word:<5} {date:<date_w$}  {founder:<founder_w$}");
        if let Some(src) = source {
            let _ = write!(line, "  source: {src}");
        }
        let mut line = line.trim_end().to_owned();
        line.push('\n');
        line
    };
    let mut s = String::new();
    let _ = writeln!(s, "{}: members on {} (log at seq {})", m.org, m.at, m.seq);
    for x in &m.members {
        let founder = if x.founder { "founder" } else { "" };
        s.push_str(&row(x.id.as_str(), x.status, "since", &x.since, founder, source_of(&x.since_event)));
    }
    if !m.uncertain.is_empty() {
        let _ = writeln!(s, "uncertain on {} (the dates allow either):", m.at);
        for (u, possible) in m.uncertain.iter().zip(&possible) {
            s.push_str(&row(u.id.as_str(), possible, "date", &u.date, "", source_of(&u.event)));
        }
    }
    s.push_str(&count(m.count, "member", "members"));
    if !m.uncertain.is_empty() {
        let _ = write!(s, ", {} uncertain", m.uncertain.len());
    }
    s
}

/// The width `diff` wraps its lists of ids to.
const WRAP: usize = 80;

/// `items` after `label`, separated by `sep`, wrapped to [`WRAP`] columns
/// with the continuation lines indented under the first item.
fn wrapped(label: &str, items: &[String], sep: &str) -> String {
    if items.is_empty() {
        return format!("{label}-");
    }
    let indent = " ".repeat(label.chars().count());
    let mut s = label.to_owned();
    let mut width = label.chars().count();
    for (i, item) in items.iter().enumerate() {
        let len = item.chars().count();
        if i > 0 {
            if width + sep.len() + len > WRAP {
                s.push_str(sep.trim_end());
                s.push('\n');
                s.push_str(&indent);
                width = indent.len();
            } else {
                s.push_str(sep);
                width += sep.len();
            }
        }
        s.push_str(item);
        width += len;
    }
    s
}

/// `accord diff`; `why` gives the date and source of the event behind a
/// change. Ids in natural order, wrapped.
pub fn diff(d: &Diff, why: impl Fn(&uuid::Uuid) -> Option<String>) -> String {
    let ids = |list: &[PartyId]| list.iter().map(|p| p.as_str().to_owned()).collect::<Vec<_>>();
    let mut s = format!("{}: changes from {} to {}\n", d.org, d.from, d.to);
    let _ = writeln!(s, "{}", wrapped("  joined     ", &ids(&d.joined), " "));
    let _ = writeln!(s, "{}", wrapped("  left       ", &ids(&d.left), " "));
    let changed: Vec<String> = d.changed.iter().map(|c| format!("{} {}→{}", c.id, c.from, c.to)).collect();
    let _ = write!(s, "{}", wrapped("  changed    ", &changed, ", "));
    let mut because: Vec<(&PartyId, &uuid::Uuid)> = d.because.iter().collect();
    because.sort_by(|a, b| natural_cmp(a.0.as_str(), b.0.as_str()));
    let party_w = widest(because.iter().map(|(p, _)| p.as_str()));
    for (party, event) in because {
        if let Some(text) = why(event) {
            let _ = write!(s, "\n    {:<party_w$}  {text}", party.as_str());
        }
    }
    if !d.uncertain.is_empty() {
        let _ = write!(s, "\n{}", wrapped("  uncertain  ", &ids(&d.uncertain), " "));
        s.push_str("\n             (their status on one of the days depends on imprecise dates)");
    }
    s
}
