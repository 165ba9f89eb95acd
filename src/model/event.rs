//! Events: the decisions recorded in the log, parsed from JSON values (SPEC §3).

use std::fmt;

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::quote;
use crate::model::ModelError;
use crate::model::canonical;
use crate::model::date::EffectiveDate;
use crate::model::envelope::EnvelopeTemplate;
use crate::model::error::{Inexact, InexactWhy, Json, JsonProblem};
use crate::model::id::{OrgId, PartyId, parse_event_id};
pub use crate::model::schema::TYPES;
use crate::model::schema::{COMMON_FIELDS, ENVELOPE_FIELDS, EventType, SOURCE_FIELDS, Shape, event_type};

type Result<T, E = ModelError> = std::result::Result<T, E>;

/// The namespace of derived event ids: UUID v5 of the URL `urn:accord:event`
/// (`a48a5cf1-a28b-5589-9823-ba5494f69421`, computed once here; a test
/// checks it). Changing it would change every derived id, so it is fixed
/// forever.
pub(crate) const ID_NAMESPACE: Uuid = Uuid::from_u128(0xa48a_5cf1_a28b_5589_9823_ba54_94f6_9421);

/// The derived id of an event whose canonical body without `id` is `name`:
/// UUID v5 (RFC 9562 §5.5) in [`ID_NAMESPACE`], what `Uuid::new_v5` gives,
/// with SHA-1 from the `sha1` crate, which uses the processor's SHA
/// instructions where it has them (uuid's own SHA-1 does not: it was a
/// tenth of an import's reading thread).
pub(crate) fn derived_id(name: &[u8]) -> Uuid {
    use sha1::{Digest, Sha1};
    let mut sha = Sha1::new();
    sha.update(ID_NAMESPACE.as_bytes());
    sha.update(name);
    let digest = sha.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

/// The UUID v5 id of an event without one whose body (no `id`, no member
/// recording adds) is `body`, and the template of its envelope: the body's
/// canonical JSON with `id` (that id) and [`EnvelopeTemplate::EMPTY`]'s
/// members (`None` if the id could not be put in its place, which the
/// writer never leaves).
fn derive_id_with_envelope(body: &Map<String, Value>) -> (Uuid, Option<EnvelopeTemplate>) {
    // The id's place is kept with a placeholder of its length.
    const PLACEHOLDER: &str = "00000000-0000-0000-0000-000000000000";
    let [e0, e1, e2, e3, e4] = EnvelopeTemplate::EMPTY;
    let mut json = Vec::with_capacity(384);
    let spans = canonical::write_canonical_map_members(
        body,
        [("id", canonical::Member::Str(PLACEHOLDER)), e0, e1, e2, e3, e4],
        &mut json,
    );
    let mut cuts = spans;
    cuts.sort_unstable();
    let mut name = Vec::with_capacity(json.len());
    canonical::cut_members(&json, &cuts, |piece| name.extend_from_slice(piece));
    let id = derived_id(&name);
    // The member ends with the 36 characters of the id and a quote.
    let end = spans[0].1.saturating_sub(1);
    let template = match json.get_mut(end.saturating_sub(PLACEHOLDER.len())..end) {
        Some(digits) if digits == PLACEHOLDER.as_bytes() => {
            digits.copy_from_slice(id.hyphenated().encode_lower(&mut Uuid::encode_buffer()).as_bytes());
            let [_, s0, s1, s2, s3, s4] = spans;
            let id_at = end.saturating_sub(PLACEHOLDER.len())..end;
            Some(EnvelopeTemplate::from_written(json, [s0, s1, s2, s3, s4], id_at))
        }
        _ => None,
    };
    (id, template)
}

/// The status a member holds (suspension is tracked separately).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Full,
    Associate,
    Observer,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Full => "full",
            Status::Associate => "associate",
            Status::Observer => "observer",
        }
    }
    pub fn parse(s: &str) -> Result<Status> {
        match s {
            "full" => Ok(Status::Full),
            "associate" => Ok(Status::Associate),
            "observer" => Ok(Status::Observer),
            _ => Err(ModelError::NotStatus(s.to_owned())),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The type of an event and its own fields ([`crate::model::schema`]).
///
/// `T` is how a text field is kept: a `String` in an [`Event`]; `()` for the
/// fast reader of canonical bytes, which checks text fields without keeping them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind<T = String> {
    Founding { members: Vec<PartyId>, name: Option<T>, seat: Option<T> },
    Launch { members: Vec<PartyId>, by: Option<T> },
    Exercise { name: T, place: Option<T>, participants: Vec<PartyId> },
    Accession { members: Vec<PartyId>, status: Status },
    StatusChange { members: Vec<PartyId>, status: Status },
    Suspension { members: Vec<PartyId> },
    Reinstatement { members: Vec<PartyId> },
    Withdrawal { members: Vec<PartyId> },
    Expulsion { members: Vec<PartyId> },
    Dissolution,
    Retraction { retracts: Uuid, reason: T },
}

impl<T> EventKind<T> {
    pub fn type_name(&self) -> &'static str {
        match self {
            EventKind::Founding { .. } => "founding",
            EventKind::Launch { .. } => "launch",
            EventKind::Exercise { .. } => "exercise",
            EventKind::Accession { .. } => "accession",
            EventKind::StatusChange { .. } => "status_change",
            EventKind::Suspension { .. } => "suspension",
            EventKind::Reinstatement { .. } => "reinstatement",
            EventKind::Withdrawal { .. } => "withdrawal",
            EventKind::Expulsion { .. } => "expulsion",
            EventKind::Dissolution => "dissolution",
            EventKind::Retraction { .. } => "retraction",
        }
    }

    /// The parties whose membership this event changes (empty for
    /// exercises, dissolution and retraction).
    pub fn members(&self) -> &[PartyId] {
        match self {
            EventKind::Founding { members, .. }
            | EventKind::Launch { members, .. }
            | EventKind::Accession { members, .. }
            | EventKind::StatusChange { members, .. }
            | EventKind::Suspension { members }
            | EventKind::Reinstatement { members }
            | EventKind::Withdrawal { members }
            | EventKind::Expulsion { members } => members,
            EventKind::Exercise { .. } | EventKind::Dissolution | EventKind::Retraction { .. } => &[],
        }
    }

    /// [`EventKind::members`], taken out (the kind keeps an empty list).
    pub(crate) fn take_members(&mut self) -> Vec<PartyId> {
        match self {
            EventKind::Founding { members, .. }
            | EventKind::Launch { members, .. }
            | EventKind::Accession { members, .. }
            | EventKind::StatusChange { members, .. }
            | EventKind::Suspension { members }
            | EventKind::Reinstatement { members }
            | EventKind::Withdrawal { members }
            | EventKind::Expulsion { members } => std::mem::take(members),
            EventKind::Exercise { .. } | EventKind::Dissolution | EventKind::Retraction { .. } => Vec::new(),
        }
    }

    /// The event this one corrects: the one it retracts, else the one it
    /// supersedes (`supersedes`, the event's).
    pub fn target(&self, supersedes: Option<Uuid>) -> Option<Uuid> {
        match self {
            EventKind::Retraction { retracts, .. } => Some(*retracts),
            _ => supersedes,
        }
    }

    /// Reads the own fields of an event of type `ty` with `f`, and checks
    /// the rules that tie them to the event's `id` and `supersedes`: the one
    /// place that builds a kind, for both readers.
    pub(crate) fn read<F: OwnFields<Text = T>>(
        ty: &'static EventType,
        f: &mut F,
        id: Option<Uuid>,
        supersedes: Option<Uuid>,
    ) -> Result<EventKind<T>, F::Error> {
        let kind = match ty.name {
            "founding" => EventKind::Founding {
                members: f.parties(ty, "members")?,
                name: f.text(ty, "name")?,
                seat: f.text(ty, "seat")?,
            },
            "launch" => EventKind::Launch { members: f.parties(ty, "members")?, by: f.text(ty, "by")? },
            "exercise" => EventKind::Exercise {
                name: f.required_text(ty, "name")?,
                place: f.text(ty, "place")?,
                participants: f.parties(ty, "participants")?,
            },
            "accession" => EventKind::Accession { members: f.parties(ty, "members")?, status: f.status(ty, "status")? },
            "status_change" => {
                EventKind::StatusChange { members: f.parties(ty, "members")?, status: f.status(ty, "status")? }
            }
            "suspension" => EventKind::Suspension { members: f.parties(ty, "members")? },
            "reinstatement" => EventKind::Reinstatement { members: f.parties(ty, "members")? },
            "withdrawal" => EventKind::Withdrawal { members: f.parties(ty, "members")? },
            "expulsion" => EventKind::Expulsion { members: f.parties(ty, "members")? },
            "dissolution" => EventKind::Dissolution,
            "retraction" => {
                if supersedes.is_some() {
                    return Err(ModelError::RetractionSupersedes.into());
                }
                EventKind::Retraction { retracts: f.event_id(ty, "retracts")?, reason: f.required_text(ty, "reason")? }
            }
            // A row of the schema without its arm here: every event of it is refused (tests catch it).
            other => return Err(ModelError::UnknownType(other.to_owned()).into()),
        };
        if supersedes.is_some() && supersedes == id {
            return Err(ModelError::SupersedesItself.into());
        }
        Ok(kind)
    }
}

/// How a reader gets an event's own fields, by name: [`EventKind::read`]
/// says which and where they go, the [`Shape`] in the schema says what
/// each must hold, the reader reads it (and says what is wrong, or gives up).
pub(crate) trait OwnFields {
    type Text;
    type Error: From<ModelError>;
    /// A [`Shape::Text`].
    fn text(&mut self, ty: &'static EventType, field: &'static str) -> Result<Option<Self::Text>, Self::Error>;
    /// A [`Shape::RequiredText`].
    fn required_text(&mut self, ty: &'static EventType, field: &'static str) -> Result<Self::Text, Self::Error>;
    /// A [`Shape::Parties`].
    fn parties(&mut self, ty: &'static EventType, field: &'static str) -> Result<Vec<PartyId>, Self::Error>;
    /// A [`Shape::Status`].
    fn status(&mut self, ty: &'static EventType, field: &'static str) -> Result<Status, Self::Error>;
    /// A [`Shape::EventId`].
    fn event_id(&mut self, ty: &'static EventType, field: &'static str) -> Result<Uuid, Self::Error>;
}

/// The shape the schema gives `field` of `ty`; `None` if it has no such field.
pub(crate) fn shape(ty: &EventType, field: &str) -> Option<Shape> {
    ty.field(field).map(|f| f.shape)
}

/// One event, as given, with its id.
///
/// An [`Event`] keeps the JSON object exactly as given (its `body`, with `id`
/// filled in) next to a typed view of it. The body is what gets hashed and
/// exported; the typed view is what the rules and projections read. Parsing is
/// hand-written rather than derived so that every refusal names the field and
/// says why, and so that unknown fields are refused for every type. Which
/// fields each type has is in [`crate::model::schema`].
#[derive(Clone, Debug)]
pub struct Event {
    pub id: Uuid,
    pub org: OrgId,
    /// Absent only for a retraction that gives none.
    pub date: Option<EffectiveDate>,
    pub supersedes: Option<Uuid>,
    pub kind: EventKind,
    /// The JSON object as given, `id` included, ids in lowercase.
    body: Body,
}

/// An event's JSON object: built as a map, or kept as its canonical text
/// (what the fast reader of an import's lines reads, [`Event::from_canonical`])
/// and built from it only when something asks for it. Rules, sealing and
/// storing never do.
#[derive(Clone, Debug)]
struct Body {
    /// The canonical JSON of the object, when it was read from it.
    text: Option<Box<str>>,
    map: std::sync::OnceLock<Map<String, Value>>,
}

impl Body {
    fn of_map(map: Map<String, Value>) -> Body {
        Body { text: None, map: std::sync::OnceLock::from(map) }
    }

    fn map(&self) -> &Map<String, Value> {
        self.map.get_or_init(|| match self.text.as_deref().map(serde_json::from_str) {
            Some(Ok(Value::Object(map))) => map,
            // Never: the text is the canonical writing of an object read
            // and checked whole (`Event::from_canonical`'s caller).
            _ => Map::new(),
        })
    }
}

/// Equal events have equal content, however their bodies are held.
impl PartialEq for Event {
    fn eq(&self, other: &Event) -> bool {
        let bodies = match (&self.body.text, &other.body.text) {
            (Some(a), Some(b)) => a == b,
            _ => self.body.map() == other.body.map(),
        };
        self.id == other.id
            && self.org == other.org
            && self.date == other.date
            && self.supersedes == other.supersedes
            && self.kind == other.kind
            && bodies
    }
}

impl Event {
    /// Parses an event from JSON text.
    pub fn parse_str(text: &str) -> Result<Event> {
        Event::from_value(parse_json(text)?)
    }

    /// Parses and validates an event. Without an `id`, one is derived from the
    /// event's canonical JSON (UUID v5), so the same event always gets the same id.
    pub fn from_value(value: Value) -> Result<Event> {
        Ok(Event::from_value_templated(value)?.0)
    }

    /// [`Event::from_value`], and the template of its envelope
    /// ([`EnvelopeTemplate`]) when deriving its id wrote its body anyway:
    /// both are cut from one writing.
    pub(crate) fn from_value_templated(value: Value) -> Result<(Event, Option<EnvelopeTemplate>)> {
        let Value::Object(mut body) = value else {
            return Err(ModelError::NotObject { what: "an event", found: kind_of(&value) });
        };
        let typed = read_body(&body)?;
        // Ids are stored in one spelling so that equal ids compare equal as text.
        let spelled =
            |key: &str, id: &Uuid| body.get(key).and_then(Value::as_str) == Some(&*id.hyphenated().to_string());
        let respelled = typed.supersedes.is_some_and(|s| !spelled("supersedes", &s))
            || matches!(&typed.kind, EventKind::Retraction { retracts, .. } if !spelled("retracts", retracts));
        let mut template = None;
        let id = match typed.id {
            Some(id) => id,
            // The body is written as its envelope will be, `id` and the
            // members recording adds left for later; cut out, they leave
            // the canonical body the id is derived from. The body holds
            // none of them: `read_body` refuses the members recording adds,
            // and an `id` given is `typed.id`.
            None if !respelled => {
                let (id, written) = derive_id_with_envelope(&body);
                template = written;
                id
            }
            None => {
                let mut bytes = Vec::with_capacity(256);
                canonical::write_canonical_map(&body, &mut bytes);
                derived_id(&bytes)
            }
        };
        body.insert("id".into(), Value::String(id.hyphenated().to_string()));
        if let Some(s) = typed.supersedes {
            body.insert("supersedes".into(), Value::String(s.hyphenated().to_string()));
        }
        if let EventKind::Retraction { retracts, .. } = &typed.kind {
            body.insert("retracts".into(), Value::String(retracts.hyphenated().to_string()));
        }
        let event = Event {
            id,
            org: typed.org,
            date: typed.date,
            supersedes: typed.supersedes,
            kind: typed.kind,
            body: Body::of_map(body),
        };
        Ok((event, template))
    }

    /// An event read by the fast reader from its canonical JSON: `text`,
    /// the canonical JSON of its body with its `id`, and the typed view
    /// read from it (`crate::model::read::event_line`).
    pub(crate) fn from_canonical(
        id: Uuid,
        org: OrgId,
        date: Option<EffectiveDate>,
        supersedes: Option<Uuid>,
        kind: EventKind,
        text: Box<str>,
    ) -> Event {
        Event { id, org, date, supersedes, kind, body: Body { text: Some(text), map: std::sync::OnceLock::new() } }
    }

    /// The event as JSON, `id` included.
    pub fn body(&self) -> &Map<String, Value> {
        self.body.map()
    }

    pub fn type_name(&self) -> &'static str {
        self.kind.type_name()
    }

    /// The event this one corrects: the one it retracts or supersedes.
    pub fn target(&self) -> Option<Uuid> {
        self.kind.target(self.supersedes)
    }

    /// Canonical JSON of the body: equal for events with equal content.
    pub fn canonical(&self) -> String {
        if let Some(text) = &self.body.text {
            return text.to_string();
        }
        let mut out = Vec::new();
        canonical::write_canonical_map(self.body(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    pub fn note(&self) -> Option<&str> {
        self.body().get("note").and_then(Value::as_str)
    }

    pub fn source(&self) -> Option<&Value> {
        self.body().get("source")
    }

    /// The whole source, if any: its text, or the publisher, "title",
    /// publication date and url of a source object, those it gives.
    pub fn source_text(&self) -> Option<String> {
        match self.source()? {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => {
                let part = |k: &str| o.get(k).and_then(Value::as_str);
                let mut parts = Vec::new();
                if let Some(p) = part("publisher") {
                    parts.push(p.to_owned());
                }
                if let Some(t) = part("title") {
                    parts.push(format!("\"{t}\""));
                }
                if let Some(d) = part("published") {
                    parts.push(d.to_owned());
                }
                if let Some(u) = part("url") {
                    parts.push(u.to_owned());
                }
                if parts.is_empty() { None } else { Some(parts.join(", ")) }
            }
            _ => None,
        }
    }

    /// A short credit for the source, if any: its text, or the publisher
    /// (else the title, else the url) of a source object and its publication
    /// date. [`Event::source_text`] gives the whole source.
    pub fn source_credit(&self) -> Option<String> {
        credit_of(self.source()?)
    }

    /// `accession of ISR dated 2020-12-09 (event 1b2c…)`: how messages name an event.
    pub fn describe(&self) -> String {
        let mut s = self.type_name().replace('_', " ");
        let members = self.kind.members();
        if !members.is_empty() {
            let names: Vec<&str> = members.iter().map(PartyId::as_str).collect();
            s.push_str(" of ");
            s.push_str(&names.join(", "));
        }
        if let Some(d) = &self.date {
            s.push_str(&format!(" dated {d}"));
        }
        s.push_str(&format!(" (event {})", self.id));
        s
    }
}

/// A short credit for a `source` value ([`Event::source_credit`]).
pub fn credit_of(source: &Value) -> Option<String> {
    match source {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => {
            let part = |k: &str| o.get(k).and_then(Value::as_str);
            let who = part("publisher").or(part("title")).or(part("url"))?;
            Some(match part("published") {
                Some(when) => format!("{who}, {when}"),
                None => who.to_owned(),
            })
        }
        _ => None,
    }
}

/// The typed view of an event's body, before its id is settled.
struct Typed {
    org: OrgId,
    date: Option<EffectiveDate>,
    id: Option<Uuid>,
    supersedes: Option<Uuid>,
    kind: EventKind,
}

/// Reads and checks the fields of an event's JSON object.
fn read_body(body: &Map<String, Value>) -> Result<Typed> {
    let ty = match body.get("type") {
        None => return Err(ModelError::NoType),
        Some(Value::String(t)) => event_type(t).ok_or_else(|| ModelError::UnknownType(t.clone()))?,
        Some(other) => return Err(ModelError::TypeNotString { found: kind_of(other) }),
    };
    let type_name = ty.name;
    for key in body.keys() {
        if let Some(field) = ENVELOPE_FIELDS.iter().find(|f| **f == key) {
            return Err(ModelError::SetByLedger { type_name, field });
        }
        if !COMMON_FIELDS.contains(&key.as_str()) && ty.field(key).is_none() {
            return Err(ModelError::UnknownField { type_name, field: key.clone() });
        }
    }
    let mut f = ValueFields { body };
    let org = f.required_str(ty, "org")?;
    let org = OrgId::parse(org).map_err(|e| e.in_field("org", Some(type_name)))?;
    let date = match f.optional_str(ty, "date")? {
        Some(d) => Some(EffectiveDate::parse(d).map_err(|e| ModelError::from(e).in_field("date", Some(type_name)))?),
        None if !ty.dated => None,
        None => return Err(ModelError::Missing { type_name, field: "date" }),
    };
    let id = f.optional_str(ty, "id")?.map(parse_event_id).transpose().map_err(|e| e.in_field("id", None))?;
    let supersedes = f
        .optional_str(ty, "supersedes")?
        .map(parse_event_id)
        .transpose()
        .map_err(|e| e.in_field("supersedes", None))?;
    f.optional_str(ty, "note")?;
    match body.get("details") {
        None | Some(Value::Object(_)) => {}
        Some(other) => return Err(ModelError::DetailsNotObject { found: kind_of(other) }),
    }
    match body.get("source") {
        None | Some(Value::String(_)) => {}
        Some(Value::Object(o)) => {
            for (k, v) in o {
                let Some(field) = SOURCE_FIELDS.iter().find(|f| **f == k) else {
                    return Err(ModelError::UnknownSourceField(k.clone()));
                };
                if !v.is_string() {
                    return Err(ModelError::SourceFieldNotString { field, found: kind_of(v) });
                }
            }
        }
        Some(other) => return Err(ModelError::SourceNotStringOrObject { found: kind_of(other) }),
    }
    let kind = EventKind::read(ty, &mut f, id, supersedes)?;
    Ok(Typed { org, date, id, supersedes, kind })
}

/// The fields of an event's JSON object, read with a sentence for each refusal.
struct ValueFields<'a> {
    body: &'a Map<String, Value>,
}

impl<'a> ValueFields<'a> {
    fn optional_str(&self, ty: &EventType, field: &'static str) -> Result<Option<&'a str>> {
        match self.body.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(ModelError::NotString { type_name: ty.name, field, found: kind_of(other) }),
        }
    }

    fn required_str(&self, ty: &EventType, field: &'static str) -> Result<&'a str> {
        match self.optional_str(ty, field)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(_) => Err(ModelError::Empty { type_name: ty.name, field }),
            None => Err(ModelError::Missing { type_name: ty.name, field }),
        }
    }
}

impl OwnFields for ValueFields<'_> {
    type Text = String;
    type Error = ModelError;

    fn text(&mut self, ty: &'static EventType, field: &'static str) -> Result<Option<String>> {
        Ok(self.optional_str(ty, field)?.map(str::to_owned))
    }

    fn required_text(&mut self, ty: &'static EventType, field: &'static str) -> Result<String> {
        self.required_str(ty, field).map(str::to_owned)
    }

    /// A list of distinct party ids; a required one present and not empty.
    fn parties(&mut self, ty: &'static EventType, field: &'static str) -> Result<Vec<PartyId>> {
        let type_name = ty.name;
        let required = shape(ty, field) != Some(Shape::Parties { required: false });
        let items = match self.body.get(field) {
            None if required => return Err(ModelError::Missing { type_name, field }),
            None => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(other) => return Err(ModelError::NotPartyList { type_name, field, found: kind_of(other) }),
        };
        if required && items.is_empty() {
            return Err(ModelError::NoParty { type_name, field });
        }
        let mut out: Vec<PartyId> = Vec::with_capacity(items.len());
        for item in items {
            let Value::String(s) = item else {
                return Err(ModelError::PartyNotString { type_name, field, found: kind_of(item) });
            };
            let party = PartyId::parse(s).map_err(|e| e.in_field(field, Some(type_name)))?;
            if out.contains(&party) {
                return Err(ModelError::PartyTwice { type_name, field, party });
            }
            out.push(party);
        }
        Ok(out)
    }

    fn status(&mut self, ty: &'static EventType, field: &'static str) -> Result<Status> {
        match shape(ty, field) {
            Some(Shape::Status { default: Some(default) }) => {
                Ok(self.optional_str(ty, field)?.map(Status::parse).transpose()?.unwrap_or(default))
            }
            _ => Status::parse(self.required_str(ty, field)?),
        }
    }

    fn event_id(&mut self, ty: &'static EventType, field: &'static str) -> Result<Uuid> {
        parse_event_id(self.required_str(ty, field)?).map_err(|e| e.in_field(field, None))
    }
}

/// `a number`, `a list`, …: how messages name a JSON value's type.
pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// One sentence for a JSON syntax error, with the column but without echoing input.
fn json_error(e: &serde_json::Error) -> ModelError {
    let problem = match e.classify() {
        serde_json::error::Category::Eof => JsonProblem::EndsEarly,
        // Only [`parse_json`]'s own refusal: a key given twice.
        serde_json::error::Category::Data => JsonProblem::Ambiguous,
        _ => JsonProblem::NotJson,
    };
    let detail = e.to_string();
    // serde_json's text ends with " at line L column C"; keep its first clause only.
    let reason = detail.split(" at line ").next().unwrap_or("").trim().to_owned();
    ModelError::Json(Json { problem, reason, column: e.column() })
}

/// Parses the JSON text of an event. Besides what `serde_json::from_str`
/// refuses, it refuses
///
/// * an object that gives a key twice: serde_json would keep the last value
///   and silently drop the others (`"members":["ISR"],"members":["FRA"]`
///   would record only FRA);
/// * a number that the canonical form would not keep exactly (SPEC §5): see
///   `canonical::number_kept`. `18446744073709551616` would be hashed,
///   stored and exported as `18446744073709552000`, `1e-400` and `-0` as `0`.
///
/// Every JSON text that becomes an event goes through here: `append` with
/// JSON, and every `import` line, bare event or envelope.
pub fn parse_json(text: &str) -> Result<Value> {
    match parse_strict(text) {
        Ok(value) => match inexact_number(text) {
            None => Ok(value),
            Some(what) => Err(ModelError::Inexact(what)),
        },
        // serde_json refuses a number beyond the largest double itself; say
        // which, and what to do, as for the others.
        Err(e) if e.to_string().starts_with("number out of range") => match inexact_number(text) {
            Some(what) => Err(ModelError::Inexact(what)),
            None => Err(json_error(&e)),
        },
        Err(e) => Err(json_error(&e)),
    }
}

/// [`parse_json`] without the check of numbers: for reading an export, whose
/// numbers [`inexact_number`] judges separately.
pub(crate) fn parse_json_keys(text: &str) -> Result<Value> {
    parse_strict(text).map_err(|e| json_error(&e))
}

/// The first number of the JSON `text` that the canonical form would not
/// keep exactly: which, where and why. None if every number is kept.
///
/// One pass over the bytes that skips strings; a number allocates nothing
/// unless it is more than a plain integer of 15 digits, and then the first
/// such number allocates the one buffer all share. `text` should be valid
/// JSON: in other text, whatever looks like a number outside strings is
/// judged, up to the first one not kept.
pub(crate) fn inexact_number(text: &str) -> Option<Inexact> {
    use canonical::Kept;
    let bytes = text.as_bytes();
    let mut canonical_text = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => i = after_string(bytes, i + 1),
            b'-' | b'0'..=b'9' => {
                let start = i;
                i += bytes
                    .get(i..)
                    .unwrap_or_default()
                    .iter()
                    .take_while(|b| matches!(b, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'))
                    .count();
                let literal = text.get(start..i).unwrap_or_default();
                let why = match canonical::number_kept(literal, &mut canonical_text) {
                    Kept::Exactly | Kept::NotANumber => continue,
                    Kept::NegativeZero => InexactWhy::NegativeZero,
                    Kept::OutOfRange => InexactWhy::OutOfRange,
                    Kept::Rounded => InexactWhy::Rounded(String::from_utf8_lossy(&canonical_text).into_owned()),
                };
                return Some(Inexact { literal: literal.to_owned(), place: path_at(text, start), why });
            }
            _ => i += 1,
        }
    }
    None
}

/// The index just after the string whose contents start at `i`.
fn after_string(bytes: &[u8], mut i: usize) -> usize {
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => return i + 1,
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Where in the valid JSON `text` the value starting at byte `offset` is, as
/// `details.list[2].n`; empty for the whole text. Only for messages.
fn path_at(text: &str, offset: usize) -> String {
    use std::fmt::Write as _;
    enum Step {
        Key(String),
        Index(usize),
    }
    let bytes = text.as_bytes();
    let mut steps: Vec<Step> = Vec::new();
    let mut expect_key = false;
    let mut i = 0;
    while i < offset {
        let Some(&b) = bytes.get(i) else { break };
        match b {
            b'"' => {
                let end = after_string(bytes, i + 1);
                if expect_key {
                    let raw = text.get(i..end).unwrap_or_default();
                    let key = serde_json::from_str::<String>(raw).unwrap_or_else(|_| raw.to_owned());
                    if let Some(top) = steps.last_mut() {
                        *top = Step::Key(key);
                    }
                    expect_key = false;
                }
                i = end;
                continue;
            }
            b'{' => {
                steps.push(Step::Key(String::new()));
                expect_key = true;
            }
            b'[' => steps.push(Step::Index(0)),
            b'}' | b']' => {
                steps.pop();
            }
            b',' => match steps.last_mut() {
                Some(Step::Index(n)) => *n += 1,
                Some(Step::Key(_)) => expect_key = true,
                None => {}
            },
            _ => {}
        }
        i += 1;
    }
    let mut path = String::new();
    for step in steps {
        match step {
            Step::Key(key) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key);
            }
            Step::Index(n) => {
                let _ = write!(path, "[{n}]");
            }
        }
    }
    path
}

/// Parses JSON text like `serde_json::from_str`, but refuses an object that
/// gives a key twice.
fn parse_strict(text: &str) -> std::result::Result<Value, serde_json::Error> {
    use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};

    struct Strict(Value);
    struct StrictVisitor;

    impl<'de> Deserialize<'de> for Strict {
        fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Strict, D::Error> {
            d.deserialize_any(StrictVisitor)
        }
    }

    impl<'de> Visitor<'de> for StrictVisitor {
        type Value = Strict;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_bool<E>(self, v: bool) -> std::result::Result<Strict, E> {
            Ok(Strict(Value::Bool(v)))
        }
        fn visit_i64<E>(self, v: i64) -> std::result::Result<Strict, E> {
            Ok(Strict(Value::from(v)))
        }
        fn visit_u64<E>(self, v: u64) -> std::result::Result<Strict, E> {
            Ok(Strict(Value::from(v)))
        }
        fn visit_f64<E>(self, v: f64) -> std::result::Result<Strict, E> {
            Ok(Strict(Value::from(v)))
        }
        fn visit_str<E>(self, v: &str) -> std::result::Result<Strict, E> {
            Ok(Strict(Value::String(v.to_owned())))
        }
        fn visit_string<E>(self, v: String) -> std::result::Result<Strict, E> {
            Ok(Strict(Value::String(v)))
        }
        fn visit_unit<E>(self) -> std::result::Result<Strict, E> {
            Ok(Strict(Value::Null))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Strict, A::Error> {
            let mut items = Vec::new();
            while let Some(Strict(item)) = seq.next_element()? {
                items.push(item);
            }
            Ok(Strict(Value::Array(items)))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Strict, A::Error> {
            let mut out = Map::new();
            while let Some(key) = map.next_key::<String>()? {
                let Strict(value) = map.next_value()?;
                if out.contains_key(&key) {
                    return Err(A::Error::custom(format!("the key {} is given twice in one object", quote(&key))));
                }
                out.insert(key, value);
            }
            Ok(Strict(Value::Object(out)))
        }
    }

    serde_json::from_str::<Strict>(text).map(|s| s.0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Event> {
        Event::parse_str(text)
    }

    proptest::proptest! {
        /// The SHA-1 behind derived ids is UUID v5's, for names of every
        /// length around SHA-1's 64-byte blocks.
        #[test]
        fn a_derived_id_is_uuid_v5_in_the_namespace(name in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            proptest::prop_assert_eq!(derived_id(&name), Uuid::new_v5(&ID_NAMESPACE, &name));
        }
    }

    #[test]
    fn derived_ids_depend_on_content_only() {
        let a = parse(r#"{"type":"accession","org":"isa","date":"2020-12-09","members":["ISR"]}"#).unwrap();
        let b = parse(r#"{ "members": ["ISR"], "date":"2020-12-09", "org":"isa", "type":"accession" }"#).unwrap();
        let c = parse(r#"{"type":"accession","org":"isa","date":"2020-12-10","members":["ISR"]}"#).unwrap();
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert_eq!(a.id.get_version_num(), 5);
        // Giving the derived id explicitly is the same event.
        let with_id = parse(&format!(
            r#"{{"type":"accession","org":"isa","date":"2020-12-09","members":["ISR"],"id":"{}"}}"#,
            a.id
        ))
        .unwrap();
        assert_eq!(with_id.canonical(), a.canonical());
    }

    #[test]
    fn ids_are_stored_lowercase() {
        let e = parse(r#"{"type":"dissolution","org":"x","date":"2020","id":"123E4567-E89B-12D3-A456-426614174000"}"#)
            .unwrap();
        assert_eq!(e.body()["id"], "123e4567-e89b-12d3-a456-426614174000");
    }

    #[test]
    fn refusals_name_the_problem() {
        let cases = [
            (r#"[]"#, "must be a JSON object"),
            (r#"{"org":"isa","date":"2020"}"#, "no `type`"),
            (r#"{"type":"merger","org":"isa","date":"2020"}"#, "not an event type"),
            (r#"{"type":7,"org":"isa","date":"2020"}"#, "`type` must be a string"),
            (r#"{"type":"dissolution","org":"isa","date":"2020","colour":"red"}"#, "not a field"),
            (r#"{"type":"dissolution","org":"isa","date":"2020","seq":3}"#, "set by the ledger"),
            (r#"{"type":"dissolution","date":"2020"}"#, "no `org`"),
            (r#"{"type":"dissolution","org":"ISA","date":"2020"}"#, "not an org id"),
            (r#"{"type":"dissolution","org":"isa"}"#, "no `date`"),
            (r#"{"type":"dissolution","org":"isa","date":"2021-02-30"}"#, "`date`"),
            (r#"{"type":"dissolution","org":"isa","date":2020}"#, "must be a string"),
            (r#"{"type":"accession","org":"isa","date":"2020"}"#, "no `members`"),
            (r#"{"type":"accession","org":"isa","date":"2020","members":[]}"#, "names no party"),
            (r#"{"type":"accession","org":"isa","date":"2020","members":"ISR"}"#, "list of party ids"),
            (r#"{"type":"accession","org":"isa","date":"2020","members":[1]}"#, "as strings"),
            (r#"{"type":"accession","org":"isa","date":"2020","members":["IS R"]}"#, "not a party id"),
            (r#"{"type":"accession","org":"isa","date":"2020","members":["ISR","ISR"]}"#, "twice"),
            (r#"{"type":"accession","org":"isa","date":"2020","members":["ISR"],"status":"member"}"#, "not a status"),
            (r#"{"type":"status_change","org":"isa","date":"2020","members":["ISR"]}"#, "no `status`"),
            (r#"{"type":"exercise","org":"isa","date":"2020"}"#, "no `name`"),
            (r#"{"type":"exercise","org":"isa","date":"2020","name":""}"#, "empty"),
            (r#"{"type":"retraction","org":"isa","retracts":"123e4567-e89b-12d3-a456-426614174000"}"#, "no `reason`"),
            (r#"{"type":"retraction","org":"isa","retracts":"x","reason":"y"}"#, "not an event id"),
            (r#"{"type":"dissolution","org":"isa","date":"2020","id":"42"}"#, "not an event id"),
            (r#"{"type":"dissolution","org":"isa","date":"2020","details":[]}"#, "`details` must be a JSON object"),
            (r#"{"type":"dissolution","org":"isa","date":"2020","source":1}"#, "`source` must be"),
            (r#"{"type":"dissolution","org":"isa","date":"2020","source":{"author":"x"}}"#, "not a field of `source`"),
            (r#"{"type":"dissolution","org":"isa","date":"2020","source":{"url":5}}"#, "`source.url` must be a string"),
            (r#"{"type":"dissolution","org":"isa","date":"2020","note":null}"#, "must be a string"),
            (r#"{"type":"dissolution","org":"isa","date":"2020""#, "ends too early"),
            (r#"{"type":"dissolution",}"#, "not valid JSON"),
            (r#"{"type":"dissolution","org":"isa","org":"nato","date":"2020"}"#, "`org` is given twice"),
            (r#"{"type":"dissolution","org":"isa","date":"2020","details":{"a":{"b":1,"b":1}}}"#, "`b` is given twice"),
        ];
        for (text, expected) in cases {
            let err = parse(text).expect_err(text);
            assert!(err.to_string().contains(expected), "{text}: {err}");
            assert!(!err.to_string().contains('\n'), "{text}: {err}");
        }
    }

    #[test]
    fn every_type_parses() {
        let cases = [
            r#"{"type":"founding","org":"isa","date":"2017-02","members":["ARE","FRA"],"name":"ISA","seat":"Abu Dhabi"}"#,
            r#"{"type":"launch","org":"isa","date":"2018-03","by":"Saif"}"#,
            r#"{"type":"exercise","org":"isa","date":"2019","name":"ISALEX19","place":"Abu Dhabi","participants":["ARE"]}"#,
            r#"{"type":"accession","org":"isa","date":"2020-12-09","members":["ISR"],"status":"observer"}"#,
            r#"{"type":"status_change","org":"isa","date":"2021","members":["ISR"],"status":"full"}"#,
            r#"{"type":"suspension","org":"isa","date":"2021","members":["ISR"]}"#,
            r#"{"type":"reinstatement","org":"isa","date":"2021","members":["ISR"]}"#,
            r#"{"type":"withdrawal","org":"isa","date":"2021","members":["ISR"]}"#,
            r#"{"type":"expulsion","org":"isa","date":"2021","members":["ISR"]}"#,
            r#"{"type":"dissolution","org":"isa","date":"2030?","note":"n","details":{"a":[1,{"b":null}]},"source":"s"}"#,
            r#"{"type":"retraction","org":"isa","retracts":"123e4567-e89b-12d3-a456-426614174000","reason":"typo"}"#,
        ];
        for (text, name) in cases.iter().zip(TYPES) {
            let e = parse(text).unwrap_or_else(|err| panic!("{text}: {err}"));
            assert_eq!(e.type_name(), name);
        }
    }

    #[test]
    fn numbers_not_kept_exactly_are_refused_with_where_and_what_to_do() {
        let event =
            |details: &str| format!(r#"{{"type":"dissolution","org":"isa","date":"2020","details":{details}}}"#);
        let cases = [
            (
                r#"{"count":18446744073709551616}"#,
                "the number `18446744073709551616` in `details.count` cannot be kept exactly (an RFC 8785 number is an IEEE-754 double, which would make it 18446744073709552000): quote it as a string",
            ),
            (r#"{"n":123456789012345678901234567890}"#, "which would make it 1.2345678901234568e+29"),
            (r#"{"n":9007199254740993}"#, "which would make it 9007199254740992"),
            (
                r#"{"n":1e-400}"#,
                "`1e-400` in `details.n` cannot be kept exactly (an RFC 8785 number is an IEEE-754 double, which would make it 0)",
            ),
            // serde_json refuses this one itself; the message is the same kind.
            (
                r#"{"n":1e400}"#,
                "`1e400` in `details.n` cannot be kept exactly (an RFC 8785 number is an IEEE-754 double, and it is beyond the largest one)",
            ),
            (r#"{"n":-1E+400,"m":[1}"#, "`-1E+400` in `details.n`"),
            (r#"{"n":-0}"#, "`-0` in `details.n` cannot be kept exactly (RFC 8785 writes a negative zero as 0)"),
            (r#"{"n":-0.0}"#, "`-0.0`"),
            (r#"{"n":-0e5}"#, "`-0e5`"),
            (r#"{"a":[1,2,{"b":[0.5,9007199254740993]}]}"#, "in `details.a[2].b[1]`"),
            (r#"{"a\"b":{"c,d":[[],{},0.10000000000000001]}}"#, "in `details.a\"b.c,d[2]`"),
            (r#"{"x":"1e400","y":1e-400}"#, "`1e-400` in `details.y`"),
            (
                r#"{"n":0.1000000000000000055511151231257827021181583404541015625}"#,
                "`0.10000000000000000555111512312578270211…` in `details.n`",
            ),
        ];
        for (details, expected) in cases {
            let text = event(details);
            let err = parse(&text).expect_err(&text);
            assert!(err.to_string().contains(expected), "{text}: {err}");
            assert!(err.to_string().ends_with(": quote it as a string"), "{text}: {err}");
            assert_eq!(err.kind(), crate::ErrorKind::Invalid);
            assert!(matches!(err, ModelError::Inexact(_)), "{err:?}");
        }
        // Where there is no field to name.
        assert_eq!(
            parse_json("-0").unwrap_err().to_string(),
            "the number `-0` cannot be kept exactly (RFC 8785 writes a negative zero as 0): quote it as a string"
        );
        assert!(parse_json("[1e-400]").unwrap_err().to_string().contains("`1e-400` in `[0]`"));
        // Other syntax errors are still reported as such.
        assert!(parse_json(r#"{"n":1e400"#).unwrap_err().to_string().contains("`1e400`"));
        assert!(parse_json(r#"{"n":1,}"#).unwrap_err().to_string().contains("not valid JSON"));
        assert!(parse_json(r#"{"n":01}"#).unwrap_err().to_string().contains("not valid JSON"));
    }

    #[test]
    fn numbers_kept_exactly_are_accepted_and_stored_canonically() {
        let text = r#"{"type":"dissolution","org":"isa","date":"2020","details":{"a":1.50,"b":1e300,"c":1.5e-7,"d":9007199254740992,"e":-3,"f":0e0,"g":1E2,"h":0.1,"i":-0.5e-0,"j":0,"k":[1.0,100000000000000000000]}}"#;
        let e = parse(text).unwrap();
        let canonical = e.canonical();
        assert!(
            canonical.contains(r#""details":{"a":1.5,"b":1e+300,"c":1.5e-7,"d":9007199254740992,"e":-3,"f":0,"g":100,"h":0.1,"i":-0.5,"j":0,"k":[1,100000000000000000000]}"#),
            "{canonical}"
        );
    }

    #[test]
    fn the_scan_skips_strings_keys_and_escapes() {
        let kept = [
            r#"{"1e400":"-0","9007199254740993":["1e-400"]}"#,
            r#"{"a":"\"-0\\","b":"\\\"1e400\"","c":"\u0022-0"}"#,
            r#"{"a":"tab\t-0","b":true,"c":null,"d":false,"e":[-1,0,1,-1.5,2e-2]}"#,
            r#"  [ 1 , -2 , 3.25 ]  "#,
            "0",
            "\"-0\"",
        ];
        for text in kept {
            assert_eq!(inexact_number(text), None, "{text}");
            parse_json(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
        let refused = [
            (r#"{"a":"\\",  "b" : -0 }"#, "`-0` in `b`"),
            (r#"{"a\\":"x","b\"":[1e-400]}"#, "`1e-400` in `b\"[0]`"),
            (r#"{"a":{"b":1},"c":{"d":[{}, 9007199254740993]}}"#, "in `c.d[1]`"),
        ];
        for (text, expected) in refused {
            let what = inexact_number(text).unwrap_or_else(|| panic!("{text}")).to_string();
            assert!(what.contains(expected), "{text}: {what}");
        }
    }

    /// Which accessor [`EventKind::read`] calls for each field, in order.
    struct Recording(Vec<(&'static str, &'static str)>);

    impl OwnFields for Recording {
        type Text = ();
        type Error = ModelError;
        fn text(&mut self, _: &'static EventType, field: &'static str) -> Result<Option<()>> {
            self.0.push((field, "text"));
            Ok(Some(()))
        }
        fn required_text(&mut self, _: &'static EventType, field: &'static str) -> Result<()> {
            self.0.push((field, "required text"));
            Ok(())
        }
        fn parties(&mut self, _: &'static EventType, field: &'static str) -> Result<Vec<PartyId>> {
            self.0.push((field, "parties"));
            Ok(Vec::new())
        }
        fn status(&mut self, _: &'static EventType, field: &'static str) -> Result<Status> {
            self.0.push((field, "status"));
            Ok(Status::Full)
        }
        fn event_id(&mut self, _: &'static EventType, field: &'static str) -> Result<Uuid> {
            self.0.push((field, "event id"));
            Ok(Uuid::nil())
        }
    }

    /// `EventKind::read` reads exactly the fields the schema gives each
    /// type, in its order and with its shapes, and builds a kind of that type.
    #[test]
    fn the_kind_of_each_type_is_built_from_the_fields_of_the_schema() {
        use crate::model::schema::EVENT_TYPES;
        for ty in &EVENT_TYPES {
            let mut recording = Recording(Vec::new());
            let kind = EventKind::read(ty, &mut recording, None, None).unwrap_or_else(|e| panic!("{}: {e}", ty.name));
            assert_eq!(kind.type_name(), ty.name);
            let expected: Vec<(&str, &str)> = (ty.own.iter())
                .map(|f| {
                    let accessor = match f.shape {
                        Shape::Text => "text",
                        Shape::RequiredText => "required text",
                        Shape::Parties { .. } => "parties",
                        Shape::Status { .. } => "status",
                        Shape::EventId => "event id",
                    };
                    (f.name, accessor)
                })
                .collect();
            assert_eq!(recording.0, expected, "{}", ty.name);
        }
    }

    /// A minimal valid event of each type, made from the schema alone.
    pub(crate) fn minimal_events() -> Vec<Value> {
        use crate::model::schema::EVENT_TYPES;
        let mut events = Vec::new();
        for ty in &EVENT_TYPES {
            let mut map = Map::new();
            map.insert("type".into(), ty.name.into());
            map.insert("org".into(), "isa".into());
            map.insert("date".into(), "2020-01".into());
            for f in ty.own {
                let value = match f.shape {
                    Shape::Text | Shape::RequiredText => Value::from("x"),
                    Shape::Parties { .. } => serde_json::json!(["ISR", "FRA"]),
                    Shape::Status { .. } => Value::from("observer"),
                    Shape::EventId => Value::from("123e4567-e89b-12d3-a456-426614174000"),
                };
                map.insert(f.name.into(), value);
            }
            events.push(Value::Object(map));
        }
        events
    }

    #[test]
    fn every_type_of_the_schema_parses_with_its_fields() {
        for (value, name) in minimal_events().into_iter().zip(TYPES) {
            let e = Event::from_value(value.clone()).unwrap_or_else(|err| panic!("{value}: {err}"));
            assert_eq!(e.type_name(), name);
            for (key, v) in value.as_object().unwrap() {
                assert_eq!(e.body().get(key), Some(v), "{name}.{key}");
            }
        }
    }

    #[test]
    fn refusals_are_typed() {
        let refused = |text: &str| parse(text).expect_err(text);
        assert!(matches!(refused(r#"{"org":"isa","date":"2020"}"#), ModelError::NoType));
        assert!(matches!(
            refused(r#"{"type":"dissolution","org":"isa","date":"2020","seq":3}"#),
            ModelError::SetByLedger { type_name: "dissolution", field: "seq" }
        ));
        assert!(matches!(
            refused(r#"{"type":"accession","org":"isa","date":"2020","members":["ISR","ISR"]}"#),
            ModelError::PartyTwice { type_name: "accession", field: "members", .. }
        ));
        assert!(matches!(
            refused(r#"{"type":"status_change","org":"isa","date":"2020","members":["ISR"]}"#),
            ModelError::Missing { type_name: "status_change", field: "status" }
        ));
        assert!(matches!(
            refused(r#"{"type":"dissolution","org":"isa","date":"2021-02-30"}"#).innermost(),
            ModelError::Date(_)
        ));
        assert!(matches!(
            refused(r#"{"type":"dissolution","org":"ISA","date":"2020"}"#).innermost(),
            ModelError::NotOrgId(id) if id == "ISA"
        ));
        let retraction = r#"{"type":"retraction","org":"isa","retracts":"123e4567-e89b-12d3-a456-426614174000","reason":"r","supersedes":"223e4567-e89b-12d3-a456-426614174000"}"#;
        assert!(matches!(refused(retraction), ModelError::RetractionSupersedes));
        let itself = r#"{"type":"dissolution","org":"isa","date":"2020","id":"123e4567-e89b-12d3-a456-426614174000","supersedes":"123e4567-e89b-12d3-a456-426614174000"}"#;
        assert!(matches!(refused(itself), ModelError::SupersedesItself));
        assert!(matches!(
            refused(r#"{"type":"dissolution""#),
            ModelError::Json(Json { problem: JsonProblem::EndsEarly, .. })
        ));
        assert_eq!(refused("[]").kind(), crate::ErrorKind::Invalid);
    }

    /// The exact sentences users see, for a few refusals.
    #[test]
    fn golden_sentences() {
        let cases = [
            (
                r#"{"type":"merger","org":"isa","date":"2020"}"#,
                "`merger` is not an event type: expected one of founding, launch, exercise, accession, status_change, suspension, reinstatement, withdrawal, expulsion, dissolution, retraction",
            ),
            (
                r#"{"type":"accession","org":"isa","date":"2020","colour":"red"}"#,
                "`colour` is not a field of an accession event",
            ),
            (
                r#"{"type":"accession","org":"isa","date":"2020","members":["ISR"],"sorce":"x"}"#,
                "`sorce` is not a field of an accession event: did you mean `source`?",
            ),
            (
                r#"{"type":"dissolution","org":"isa","date":"2020","hash":"x"}"#,
                "a dissolution event cannot carry `hash`: it is set by the ledger when the event is recorded",
            ),
            (
                r#"{"type":"accession","org":"isa","date":"2020","members":["IS R"]}"#,
                "`members` of the accession event: `IS R` is not a party id: expected 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-', starting with a letter or digit",
            ),
            (
                r#"{"type":"dissolution","org":"isa","date":"2021-02-30"}"#,
                "`date` of the dissolution event: `2021-02-30` is not a valid date: February 2021 has 28 days",
            ),
            (
                r#"{"type":"dissolution","org":"isa","date":"2020","id":"42"}"#,
                "`id`: `42` is not an event id: expected a UUID like 123e4567-e89b-12d3-a456-426614174000",
            ),
            (r#"{"type":"exercise","org":"isa","date":"2020","name":" "}"#, "`name` of the exercise event is empty"),
            (
                r#"{"type":"dissolution","org":"isa","date":"2020","source":{"url":5}}"#,
                "`source.url` must be a string, not a number",
            ),
            (r#"{"type":"dissolution",}"#, "it is not valid JSON (trailing comma, column 23)"),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text).expect_err(text).to_string(), expected, "{text}");
        }
    }

    mod numbers {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Numbers among strings that look like numbers: the first number
            /// not kept is the one reported, wherever it is.
            #[test]
            fn the_first_number_not_kept_is_reported(
                items in prop::collection::vec(
                    (
                        prop_oneof![
                            Just("1".to_owned()), Just("-0".to_owned()), Just("1e400".to_owned()),
                            Just("1.50".to_owned()), Just("9007199254740993".to_owned()),
                            "-?(0|[1-9][0-9]{0,20})(\\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?",
                        ],
                        0u8..4,
                    ),
                    0..8,
                )
            ) {
                let mut text = String::from("{");
                let mut first = None;
                for (i, (literal, how)) in items.iter().enumerate() {
                    if i > 0 {
                        text.push(',');
                    }
                    match how {
                        0 => text.push_str(&format!("\"k{i}\":{literal}")),
                        1 => text.push_str(&format!("\"k{i}\":[\"\\\"{literal}\",{literal}]")),
                        2 => text.push_str(&format!("\"{literal}\\\\{i}\":\"{literal}\"")),
                        _ => text.push_str(&format!("\"k{i}\":{{\"x\":{literal}}}")),
                    }
                    let counts = *how != 2;
                    let not_kept = canonical::number_kept(literal, &mut Vec::new()) != canonical::Kept::Exactly;
                    if counts && not_kept && first.is_none() {
                        let place = match how {
                            0 => format!("k{i}"),
                            1 => format!("k{i}[1]"),
                            _ => format!("k{i}.x"),
                        };
                        first = Some(format!("the number {} in `{place}` cannot", quote(literal)));
                    }
                }
                text.push('}');
                let found = inexact_number(&text).map(|w| w.to_string());
                match (&first, &found) {
                    (None, None) => {}
                    (Some(expected), Some(what)) => prop_assert!(what.starts_with(expected.as_str()), "{}: {}", text, what),
                    _ => prop_assert!(false, "{}: expected {:?}, found {:?}", text, first, found),
                }
                prop_assert_eq!(parse_json(&text).is_ok(), first.is_none(), "{}", text);
            }
        }
    }
}
