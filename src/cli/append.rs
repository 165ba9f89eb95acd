//! `accord append`: record one event.

use std::io::Read;

use clap::Args;
use serde_json::{Map, Value, json};

use accord::Error;
use accord::ledger::{Ledger, LedgerError, MAX_EVENT_BYTES, Outcome};
use accord::model::envelope::Head;
use accord::model::event::Event;

use super::{Context, Out, emit, file_failed_verbatim, interrupt};

#[derive(Args)]
pub struct AppendArgs {
    /// The event as JSON; without it and without --type, read from stdin
    #[arg(value_name = "EVENT_JSON", conflicts_with = "kind")]
    event: Option<String>,
    /// Record only if the log's head is still seq N (else exit 1, nothing recorded); an event already recorded is reported as such
    #[arg(long, value_name = "N")]
    expect_head: Option<u64>,
    /// The event's type (listed below), to build the event from flags
    #[arg(long = "type", value_name = "TYPE")]
    kind: Option<String>,
    /// The org's id: 1 to 63 of a-z, 0-9 and -, like isa
    #[arg(long, requires = "kind")]
    org: Option<String>,
    /// The effective date: when it happened, as precisely as known (the forms are below)
    #[arg(long, requires = "kind")]
    date: Option<String>,
    /// A party; repeat for several
    #[arg(long = "member", value_name = "ID", requires = "kind")]
    members: Vec<String>,
    /// full, associate or observer (accession: default full; status_change: required)
    #[arg(long, requires = "kind")]
    status: Option<String>,
    /// The org's name (founding), or the exercise's name (exercise: required)
    #[arg(long, requires = "kind")]
    name: Option<String>,
    /// The org's seat (founding)
    #[arg(long, requires = "kind")]
    seat: Option<String>,
    /// Who launched the org (launch)
    #[arg(long, requires = "kind")]
    by: Option<String>,
    /// Where the exercise took place (exercise)
    #[arg(long, requires = "kind")]
    place: Option<String>,
    /// A participant of an exercise; repeat for several
    #[arg(long = "participant", value_name = "ID", requires = "kind")]
    participants: Vec<String>,
    /// Where this is known from, as one line of text (JSON events may give an object)
    #[arg(long, requires = "kind")]
    source: Option<String>,
    /// A free note
    #[arg(long, requires = "kind")]
    note: Option<String>,
    /// The id of the event this one corrects: it replaces that event from now on
    #[arg(long, value_name = "ID", requires = "kind")]
    supersedes: Option<String>,
    /// The id of the event to withdraw (retraction: required)
    #[arg(long, value_name = "ID", requires = "kind")]
    retracts: Option<String>,
    /// Why the event is withdrawn (retraction: required)
    #[arg(long, requires = "kind")]
    reason: Option<String>,
    /// The event's id [default: a UUID v5 of its content, so the same event is recorded once]
    #[arg(long, value_name = "UUID", requires = "kind")]
    id: Option<String>,
}

impl AppendArgs {
    /// The event as a JSON object built from the flags that were given.
    fn to_json(&self, kind: &str) -> Value {
        let mut map = Map::new();
        map.insert("type".into(), kind.into());
        let strings = [
            ("org", &self.org),
            ("date", &self.date),
            ("status", &self.status),
            ("name", &self.name),
            ("seat", &self.seat),
            ("by", &self.by),
            ("place", &self.place),
            ("source", &self.source),
            ("note", &self.note),
            ("supersedes", &self.supersedes),
            ("retracts", &self.retracts),
            ("reason", &self.reason),
            ("id", &self.id),
        ];
        for (key, value) in strings {
            if let Some(v) = value {
                map.insert(key.into(), v.clone().into());
            }
        }
        if !self.members.is_empty() {
            map.insert("members".into(), self.members.clone().into());
        }
        if !self.participants.is_empty() {
            map.insert("participants".into(), self.participants.clone().into());
        }
        Value::Object(map)
    }
}

impl AppendArgs {
    /// Without the event as an argument or as flags, it is read from stdin.
    pub fn reads_stdin(&self) -> bool {
        self.kind.is_none() && self.event.is_none()
    }
}

pub fn run(ctx: &Context, args: AppendArgs, out: Out<'_>) -> Result<(), Error> {
    let event = match (&args.kind, &args.event) {
        (Some(kind), _) => Event::from_value(args.to_json(kind))?,
        (None, Some(text)) => parse_text(text, "the EVENT_JSON argument")?,
        (None, None) => {
            let mut bytes = Vec::new();
            ctx.stdin()
                .take(MAX_EVENT_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| file_failed_verbatim("cannot read the event from stdin", e))?;
            // The length first: the cut at the limit may fall inside a character.
            if bytes.len() > MAX_EVENT_BYTES {
                return Err(LedgerError::TooLong { what: STDIN }.into());
            }
            let text = String::from_utf8(bytes).map_err(|_| LedgerError::NotUtf8 { what: STDIN })?;
            parse_text(&text, STDIN)?
        }
    };
    let id = event.id;
    interrupt::install();
    let ledger = ctx.open(true).map_err(|e| super::nothing_recorded(e, Ok(())))?;
    let (outcome, head) = match record(ctx, &ledger, event, args.expect_head) {
        Ok(done) => done,
        Err(e) => {
            ledger.close_discarding_if_new()?;
            return Err(e);
        }
    };
    let (word, seq) = match outcome {
        Outcome::Recorded(seq) => ("recorded", seq),
        Outcome::AlreadyRecorded(seq) => ("already recorded", seq),
    };
    if ctx.json {
        let hash = if seq == head.seq { head.hash } else { String::new() };
        let mut v = json!({"outcome": word, "seq": seq, "id": id.to_string()});
        if !hash.is_empty() {
            v["hash"] = hash.into();
        }
        emit(out, v)
    } else {
        emit(out, format!("{word}: seq {seq}, event {id}"))
    }
}

/// Records the event and commits; on any failure, undoes what was written.
fn record(ctx: &Context, ledger: &Ledger, event: Event, expect_head: Option<u64>) -> Result<(Outcome, Head), Error> {
    let mut recorder = ledger.recorder(&ctx.actor())?;
    let done = recorder.record(event).and_then(|outcome| {
        super::expect_head(expect_head, outcome)?;
        if interrupt::received() {
            return Err(Error::Interrupted);
        }
        Ok((outcome, recorder.commit()?))
    });
    match done {
        Ok(done) => Ok(done),
        Err(e) => {
            let undone = recorder.abort();
            Err(super::nothing_recorded(e, undone))
        }
    }
}

/// How messages name an event read from stdin.
const STDIN: &str = "the event on stdin";

fn parse_text(text: &str, what: &'static str) -> Result<Event, Error> {
    if text.len() > MAX_EVENT_BYTES {
        return Err(LedgerError::TooLong { what }.into());
    }
    if text.trim().is_empty() {
        return Err(LedgerError::Empty { what }.into());
    }
    Event::parse_str(text).map_err(|e| Error::from(e).at(what))
}
