//! Human-readable renderings. JSON renderings come from the library's
//! Serialize types; these are for people reading a terminal.

use std::fmt::Write;

use accord::model::envelope::Envelope;
use accord::model::event::{Event, EventKind};
use accord::model::id::PartyId;
use accord::projection::{Diff, Members};

fn parties(members: &[PartyId]) -> String {
    members.iter().map(PartyId::as_str).collect::<Vec<_>>().join(" ")
}

/// What the event says, in a few words: `accession ISR (full)`.
pub fn summary(e: &Event) -> String {
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
            let _ = write!(s, " of {retracts}: {reason}");
        }
        other => {
            let m = other.members();
            if !m.is_empty() {
                let _ = write!(s, ": {}", parties(m));
            }
        }
    }
    if let Some(t) = e.supersedes {
        let _ = write!(s, " [supersedes {t}]");
    }
    s
}

fn date_text(e: &Event) -> String {
    e.date.map(|d| d.to_string()).unwrap_or_else(|| "-".to_owned())
}

/// One line of `accord log`.
pub fn log_line(env: &Envelope) -> String {
    format!("{:>6}  {:<10}  {:<21}  {}", env.seq, env.event.org, date_text(&env.event), summary(&env.event))
}

/// `accord show`: every field, one per line.
pub fn envelope(env: &Envelope) -> String {
    let e = &env.event;
    let mut s = String::new();
    let _ = writeln!(s, "event     {}", e.id);
    let _ = writeln!(s, "what      {}", summary(&env.event));
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

pub fn members(m: &Members, source_of: impl Fn(&uuid::Uuid) -> Option<String>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}: members on {} (log at seq {})", m.org, m.at, m.seq);
    for member in &m.members {
        let founder = if member.founder { "founder" } else { "" };
        let _ = write!(s, "  {:<8} {:<10} since {:<21} {:<8}", member.id, member.status, member.since, founder);
        if let Some(src) = source_of(&member.since_event) {
            let _ = write!(s, " source: {src}");
        }
        s = s.trim_end().to_owned();
        s.push('\n');
    }
    if !m.uncertain.is_empty() {
        let _ = writeln!(s, "uncertain on {} (the dates allow either):", m.at);
        for u in &m.uncertain {
            let _ = write!(s, "  {:<8} {:<19} date {}", u.id, u.possible.join(" or "), u.date);
            if let Some(src) = source_of(&u.event) {
                let _ = write!(s, "  source: {src}");
            }
            s.push('\n');
        }
    }
    let _ = write!(s, "{} members", m.count);
    if !m.uncertain.is_empty() {
        let _ = write!(s, ", {} uncertain", m.uncertain.len());
    }
    s
}

/// `accord diff`; `why` gives the date and source of the event behind a change.
pub fn diff(d: &Diff, why: impl Fn(&uuid::Uuid) -> Option<String>) -> String {
    let mut s = format!("{}: changes from {} to {}\n", d.org, d.from, d.to);
    let list = |ids: &[PartyId]| if ids.is_empty() { "-".to_owned() } else { parties(ids) };
    let _ = writeln!(s, "  joined     {}", list(&d.joined));
    let _ = writeln!(s, "  left       {}", list(&d.left));
    let changed: Vec<String> = d.changed.iter().map(|c| format!("{} {}→{}", c.id, c.from, c.to)).collect();
    let _ = write!(s, "  changed    {}", if changed.is_empty() { "-".to_owned() } else { changed.join(", ") });
    for (party, event) in &d.because {
        if let Some(text) = why(event) {
            let _ = write!(s, "\n    {party:<8} {text}");
        }
    }
    if !d.uncertain.is_empty() {
        let _ =
            write!(s, "\n  uncertain  {} (status on one of the days depends on imprecise dates)", list(&d.uncertain));
    }
    s
}
