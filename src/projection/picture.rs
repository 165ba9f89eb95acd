//! The timeline picture: an org's spells as a hand-written SVG, one lane per party, uncertain dates hatched.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::Datelike;
use uuid::Uuid;

use super::spells::{Spell, spells};
use crate::model::date::Day;
use crate::model::event::{Event, EventKind, Status};
use crate::model::id::{OrgId, PartyId};
use crate::timeline::{Action, Standing, Step, Timeline};

/// The days a picture shows; `None` for the default: from 1 January of the
/// founding's year to the end of the year of the latest date in the log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    pub from: Option<Day>,
    pub to: Option<Day>,
}

const WIDTH: f64 = 960.0;
const PAD: f64 = 16.0;
const LANE: f64 = 22.0;
const BAR: f64 = 14.0;
const ROW: f64 = 14.0;
const MAX_ROWS: usize = 8;
const SANS: &str = "DejaVu Sans, Verdana, Arial, sans-serif";
const MONO: &str = "DejaVu Sans Mono, Menlo, Consolas, monospace";
/// Upper bounds of a character's advance, in em, to keep labels apart.
const SANS_EM: f64 = 0.68;
const MONO_EM: f64 = 0.61;
const LABEL_PX: f64 = 12.0;
const MARK_PX: f64 = 11.0;
/// Party ids longer than this are cut (the lane's tooltip has the whole id).
const LABEL_CHARS: usize = 30;

/// The fill colour of a status.
fn colour(status: &str) -> &'static str {
    match status {
        "full" => "#2f9e44",
        "associate" => "#1c7ed6",
        "observer" => "#f08c00",
        "suspended" => "#e03131",
        _ => "#868e96",
    }
}

const STATUSES: [Standing; 4] = [
    Standing::Member(Status::Full),
    Standing::Member(Status::Associate),
    Standing::Member(Status::Observer),
    Standing::Suspended(Status::Full),
];

/// The SVG picture of `org`'s timeline as the log stood at `seq`: a lane per
/// party with a spell in the frame, a bar per spell coloured by status, the
/// days on which the event that began or ended it may have happened hatched,
/// the founding, launch, exercises and dissolution marked at the top, a year
/// axis. `event` gives an event's name and source for labels and tooltips.
///
/// The same input gives the same bytes: nothing depends on the clock. A
/// spell still going on is drawn to the frame's `to`, else to the latest
/// date in the log, and ends in an arrow.
pub fn timeline_svg<'e>(
    org: &OrgId,
    seq: u64,
    timeline: &Timeline,
    frame: Frame,
    event: impl Fn(&Uuid) -> Option<&'e Event>,
) -> String {
    let steps = timeline.steps();
    let founded = timeline.founded().unwrap_or(Day::MIN);
    let latest = steps.iter().map(|s| s.last).max().unwrap_or(founded);
    let as_of = frame.to.unwrap_or(latest);
    let start = frame.from.unwrap_or_else(|| jan1(year(founded).min(year(as_of))));
    let end = match frame.to {
        Some(to) => to.succ(),
        None => jan1(year(as_of.max(start)) + 1),
    };
    let end = if end > start { end } else { start.succ() };
    let last = frame.to.unwrap_or(end.pred()).max(start);
    let all = spells(timeline);
    let name = founding_name(steps, &event);
    Picture::new(org, seq, (start, end, last), as_of, founded).draw(name.as_deref(), &all, steps, &event)
}

fn year(d: Day) -> i32 {
    d.to_naive().year()
}

fn jan1(y: i32) -> Day {
    Day::from_ymd(y, 1, 1).unwrap_or(if y < 1 { Day::MIN } else { Day::MAX })
}

fn number(d: Day) -> i64 {
    i64::from(d.to_naive().num_days_from_ce())
}

fn founding_name<'e>(steps: &[Step], event: &impl Fn(&Uuid) -> Option<&'e Event>) -> Option<String> {
    let founding = steps.first().filter(|s| s.is_founding())?;
    match &event(&founding.id)?.kind {
        EventKind::Founding { name, .. } => name.clone(),
        _ => None,
    }
}

/// The geometry of one picture.
struct Picture<'o> {
    org: &'o OrgId,
    seq: u64,
    start: Day,
    end: Day,
    as_of: Day,
    founded: Day,
    /// The last day shown (`end` is the day after, but for the last day there is).
    last: Day,
    label_w: f64,
    width: f64,
    out: String,
}

/// A stretch of days `[from, to)` of a bar.
struct Piece {
    from: Day,
    to: Day,
    part: Part,
}

/// What the days of a piece are.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The event that began the spell may have happened on them.
    Began,
    /// The spell certainly held.
    Held,
    /// The event that ended the spell may have happened on them.
    Ended,
    /// Either event may have happened on them: the two ranges overlap.
    Either,
}

impl<'o> Picture<'o> {
    fn new(org: &'o OrgId, seq: u64, (start, end, last): (Day, Day, Day), as_of: Day, founded: Day) -> Picture<'o> {
        Picture { org, seq, start, end, last, as_of, founded, label_w: 0.0, width: WIDTH, out: String::new() }
    }

    fn x0(&self) -> f64 {
        PAD + self.label_w
    }

    fn x1(&self) -> f64 {
        self.width - PAD - 10.0
    }

    /// The x of the beginning of day `d` (clamped to the frame).
    fn x(&self, d: Day) -> f64 {
        let span = (number(self.end) - number(self.start)).max(1) as f64;
        let at = (number(d.clamp(self.start, self.end)) - number(self.start)) as f64;
        self.x0() + at / span * (self.x1() - self.x0())
    }

    /// The pieces of a spell within the frame: the days on which the
    /// beginning event may have happened (hatched), those on which the spell
    /// certainly held, those on which the ending event may have happened.
    fn pieces(&self, spell: &Spell<'_>) -> Vec<Piece> {
        let b0 = spell.began.start(self.founded);
        let b1 = spell.began.last.max(b0);
        let mut pieces = Vec::new();
        match spell.ended {
            Some(e) => {
                let e0 = e.start(self.founded).max(b0);
                let e1 = e.last.max(e0);
                if b1 <= e0 {
                    pieces.push(Piece { from: b0, to: b1, part: Part::Began });
                    pieces.push(Piece { from: b1, to: e0, part: Part::Held });
                    pieces.push(Piece { from: e0, to: e1, part: Part::Ended });
                } else {
                    // The two events' ranges overlap: no day is certain.
                    pieces.push(Piece { from: b0, to: e1.max(b0.succ()), part: Part::Either });
                }
            }
            None => {
                let stop = self.as_of.succ().max(b0);
                pieces.push(Piece { from: b0, to: b1.min(stop), part: Part::Began });
                pieces.push(Piece { from: b1.min(stop), to: stop, part: Part::Held });
            }
        }
        pieces
            .into_iter()
            .filter_map(|p| {
                let (from, to) = (p.from.max(self.start), p.to.min(self.end));
                (from < to).then_some(Piece { from, to, ..p })
            })
            .collect()
    }

    fn draw<'e>(
        mut self,
        name: Option<&str>,
        all: &[Spell<'_>],
        steps: &[Step],
        event: &impl Fn(&Uuid) -> Option<&'e Event>,
    ) -> String {
        // Lanes: parties with a spell in the frame, in the order the
        // timeline first names them (founders first).
        let visible: Vec<&Spell<'_>> = all.iter().filter(|s| !self.pieces(s).is_empty()).collect();
        let mut first_named: BTreeMap<&PartyId, (usize, usize)> = BTreeMap::new();
        for (i, step) in steps.iter().enumerate() {
            for (j, party) in step.action.parties().iter().enumerate() {
                first_named.entry(party).or_insert((i, j));
            }
        }
        let mut lanes: Vec<&PartyId> = visible.iter().map(|s| s.party).collect();
        lanes.sort_by_key(|p| (first_named.get(p).copied().unwrap_or((usize::MAX, 0)), *p));
        lanes.dedup();
        let longest = lanes.iter().map(|p| p.as_str().chars().count().min(LABEL_CHARS + 1)).max().unwrap_or(0);
        self.label_w = (longest as f64 * LABEL_PX * MONO_EM + 20.0).max(56.0);

        let title = match name {
            Some(name) => format!("{} — {name}: members over time, log at seq {}", self.org, self.seq),
            None => format!("{}: members over time, log at seq {}", self.org, self.seq),
        };
        let subtitle = format!(
            "{} to {} · each bar a spell; a spell still going on is drawn to {} and ends in an arrow",
            self.start, self.last, self.as_of
        );
        let text_w = |s: &str, px: f64, em: f64| s.chars().count() as f64 * px * em;
        self.width =
            WIDTH.max(text_w(&title, 16.0, SANS_EM) + 2.0 * PAD).max(text_w(&subtitle, MARK_PX, SANS_EM) + 2.0 * PAD);

        // The markers, placed in rows so that no label covers another or a tick.
        let marks: Vec<Mark> = steps.iter().filter_map(|s| self.mark(s, event)).collect();
        let (rows, placed) = self.place(&marks);
        let top = 94.0;
        let plot_top = top + rows as f64 * ROW + 8.0;
        let lanes_h = LANE * lanes.len().max(1) as f64;
        let axis_y = plot_top + lanes_h + 2.0;
        let height = axis_y + 34.0;

        let w = self.width;
        let _ = writeln!(
            self.out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{height:.0}\" \
             viewBox=\"0 0 {w:.0} {height:.0}\" font-family=\"{SANS}\">"
        );
        let _ = writeln!(self.out, "<title>{}</title>", esc(&title));
        self.defs();
        let _ = writeln!(self.out, "<rect width=\"{w:.0}\" height=\"{height:.0}\" fill=\"#ffffff\"/>");
        let _ = writeln!(
            self.out,
            "<text x=\"{PAD}\" y=\"26\" font-size=\"16\" font-weight=\"bold\" fill=\"#212529\">{}</text>",
            esc(&title)
        );
        let _ = writeln!(
            self.out,
            "<text x=\"{PAD}\" y=\"44\" font-size=\"{MARK_PX}\" fill=\"#495057\">{}</text>",
            esc(&subtitle)
        );
        self.legend(64.0);

        // Lane backgrounds and labels, then the year grid, then the bars.
        for (i, party) in lanes.iter().enumerate() {
            let y = plot_top + i as f64 * LANE;
            let fill = if i % 2 == 0 { "#f1f3f5" } else { "#ffffff" };
            let shown = cut(party.as_str());
            let _ = writeln!(
                self.out,
                "<rect class=\"lane\" data-party=\"{p}\" x=\"{PAD}\" y=\"{y:.1}\" width=\"{lw:.1}\" height=\"{LANE}\" fill=\"{fill}\"/>\n\
                 <text x=\"{lx:.1}\" y=\"{ty:.1}\" font-family=\"{MONO}\" font-size=\"{LABEL_PX}\" text-anchor=\"end\" fill=\"#212529\"><title>{p}</title>{shown}</text>",
                p = esc(party.as_str()),
                lw = self.x1() - PAD,
                lx = self.x0() - 8.0,
                ty = y + LANE / 2.0 + 4.0,
                shown = esc(&shown),
            );
        }
        if lanes.is_empty() {
            let _ = writeln!(
                self.out,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"{LABEL_PX}\" fill=\"#495057\">no party is a member in these days</text>",
                self.x0() + 8.0,
                plot_top + LANE / 2.0 + 4.0
            );
        }
        self.axis(plot_top, axis_y);
        for (mark, place) in marks.iter().zip(&placed) {
            self.draw_mark(mark, place, top, plot_top, axis_y - 2.0);
        }
        for (i, party) in lanes.iter().enumerate() {
            let y = plot_top + i as f64 * LANE + (LANE - BAR) / 2.0;
            let own: Vec<&&Spell<'_>> = visible.iter().filter(|s| s.party == *party).collect();
            for (k, spell) in own.iter().enumerate() {
                // Where one event ends a spell and begins the next, its days
                // are shared: the ending spell takes the bar's upper half,
                // the beginning one the lower.
                let same = |a: Option<&&&Spell<'_>>, b: Option<&&&Spell<'_>>| match (a, b) {
                    (Some(a), Some(b)) => a.ended.is_some_and(|e| e.id == b.began.id),
                    _ => false,
                };
                let shared =
                    (same(k.checked_sub(1).and_then(|j| own.get(j)), Some(spell)), same(Some(spell), own.get(k + 1)));
                self.bar(spell, y, shared, event);
            }
        }
        self.out.push_str("</svg>\n");
        self.out
    }

    fn defs(&mut self) {
        self.out.push_str("<defs>\n");
        let patterns = STATUSES.iter().map(|s| (s.as_str(), colour(s.as_str()))).chain([("none", "#495057")]);
        for (status, fill) in patterns {
            let _ = writeln!(
                self.out,
                "<pattern id=\"hatch-{status}\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">\
                 <rect width=\"6\" height=\"6\" fill=\"{fill}\" fill-opacity=\"0.15\"/><rect width=\"2.5\" height=\"6\" fill=\"{fill}\"/></pattern>"
            );
        }
        self.out.push_str("</defs>\n");
    }

    fn legend(&mut self, y: f64) {
        let mut x = PAD;
        let mut item = |out: &mut String, fill: String, stroke: &str, label: &str| {
            let _ = writeln!(
                out,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"18\" height=\"12\" fill=\"{fill}\" stroke=\"{stroke}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"{MARK_PX}\" fill=\"#212529\">{}</text>",
                y - 10.0,
                x + 24.0,
                y,
                esc(label)
            );
            x += 24.0 + label.chars().count() as f64 * MARK_PX * SANS_EM + 18.0;
        };
        for s in STATUSES {
            item(&mut self.out, colour(s.as_str()).to_owned(), "none", s.as_str());
        }
        item(
            &mut self.out,
            "url(#hatch-none)".to_owned(),
            "#495057",
            "the event may have happened on these days (imprecise date)",
        );
    }

    /// The year axis, and a grid line at each year's start.
    fn axis(&mut self, plot_top: f64, axis_y: f64) {
        let (first, last) = (year(self.start), year(self.last));
        let per_year = (self.x1() - self.x0()) / ((number(self.end) - number(self.start)) as f64 / 365.25);
        let every = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
            .into_iter()
            .find(|n| f64::from(*n) * per_year >= 40.0)
            .unwrap_or(2000);
        let _ = writeln!(
            self.out,
            "<line x1=\"{:.1}\" y1=\"{axis_y:.1}\" x2=\"{:.1}\" y2=\"{axis_y:.1}\" stroke=\"#495057\"/>",
            self.x0(),
            self.x1()
        );
        // A line at the start of each labelled year (every year, or every
        // `every` years over long frames).
        for y in (first..=last + 1).filter(|y| y.rem_euclid(every) == 0) {
            let day = jan1(y);
            if day < self.start || day > self.end {
                continue;
            }
            let x = self.x(day);
            let _ = writeln!(
                self.out,
                "<line class=\"year\" data-year=\"{y}\" x1=\"{x:.1}\" y1=\"{plot_top:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#dee2e6\"/>\
                 <line x1=\"{x:.1}\" y1=\"{axis_y:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#495057\"/>",
                axis_y,
                axis_y + 5.0
            );
        }
        for y in first..=last {
            if y.rem_euclid(every) != 0 && every > 1 {
                continue;
            }
            // A year's label sits in the middle of its span when each year
            // has room, else at its start.
            let (from, to) = (jan1(y).max(self.start), jan1(y + 1).min(self.end));
            let x = if every == 1 { (self.x(from) + self.x(to)) / 2.0 } else { self.x(jan1(y)) };
            if every == 1 && self.x(to) - self.x(from) < 30.0 || jan1(y) < self.start && every > 1 {
                continue;
            }
            let _ = writeln!(
                self.out,
                "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"{MARK_PX}\" text-anchor=\"middle\" fill=\"#212529\">{y}</text>",
                axis_y + 18.0
            );
        }
    }

    /// The marker of a founding, launch, exercise or dissolution in the frame.
    fn mark<'e>(&self, step: &Step, event: &impl Fn(&Uuid) -> Option<&'e Event>) -> Option<Mark> {
        let e = event(&step.id);
        let label = match (&step.action, e.map(|e| &e.kind)) {
            (Action::Found(_), _) => "founding".to_owned(),
            (Action::Launch(_), _) => "launch".to_owned(),
            (Action::Activity, Some(EventKind::Exercise { name, .. })) => name.clone(),
            (Action::Activity, _) => "exercise".to_owned(),
            (Action::Dissolve, _) => "dissolution".to_owned(),
            _ => return None,
        };
        let (from, to) = (step.start(self.founded), step.last.succ());
        if to <= self.start || from >= self.end {
            return None;
        }
        let (x0, x1) = (self.x(from), self.x(to));
        let tooltip = describe(step, e);
        Some(Mark { x: (x0 + x1) / 2.0, x0, x1, label, tooltip })
    }

    /// Where each marker's label goes: a row (0 at the top) and a side of
    /// its tick. A label covers no other label, no tick of a label above it
    /// passes through it, and its own tick crosses no label below it; among
    /// the places that keep this, the highest row, the right side first.
    fn place(&self, marks: &[Mark]) -> (usize, Vec<Place>) {
        let mut placed: Vec<Place> = Vec::new();
        for m in marks {
            let w = m.label.chars().count() as f64 * MARK_PX * SANS_EM;
            let right = (m.x + 3.0, m.x + 3.0 + w);
            let left = (m.x - 3.0 - w, m.x - 3.0);
            let sides = [(right, right.1 <= self.width - PAD), (left, left.0 >= PAD)];
            let free = |row: usize, span: (f64, f64)| {
                placed.iter().all(|p| {
                    let apart = span.1 + 6.0 <= p.span.0 || p.span.1 + 6.0 <= span.0;
                    let outside = |x: f64, (a, b): (f64, f64)| x + 2.0 <= a || b + 2.0 <= x;
                    match p.row.cmp(&row) {
                        std::cmp::Ordering::Equal => apart,
                        std::cmp::Ordering::Less => outside(p.x, span),
                        std::cmp::Ordering::Greater => outside(m.x, p.span),
                    }
                })
            };
            let best = (0..MAX_ROWS)
                .flat_map(|row| sides.iter().filter(|(_, fits)| *fits).map(move |(span, _)| (row, *span)))
                .find(|&(row, span)| free(row, span));
            // Too many markers too close: the last row, on the right.
            let (row, span) = best.unwrap_or((MAX_ROWS - 1, right));
            placed.push(Place { row, span, x: m.x });
        }
        (placed.iter().map(|p| p.row + 1).max().unwrap_or(0), placed)
    }

    fn draw_mark(&mut self, m: &Mark, place: &Place, top: f64, plot_top: f64, plot_bottom: f64) {
        let row_y = top + place.row as f64 * ROW;
        let _ = writeln!(
            self.out,
            "<g class=\"mark\"><title>{tip}</title>\
             <text x=\"{tx:.1}\" y=\"{ty:.1}\" font-size=\"{MARK_PX}\" fill=\"#343a40\">{label}</text>\
             <line x1=\"{x:.1}\" y1=\"{t0:.1}\" x2=\"{x:.1}\" y2=\"{plot_top:.1}\" stroke=\"#343a40\"/>\
             <line x1=\"{x:.1}\" y1=\"{plot_top:.1}\" x2=\"{x:.1}\" y2=\"{plot_bottom:.1}\" stroke=\"#868e96\" stroke-dasharray=\"2 3\"/>\
             <rect x=\"{x0:.1}\" y=\"{r0:.1}\" width=\"{rw:.1}\" height=\"4\" fill=\"url(#hatch-none)\"/></g>",
            tip = esc(&m.tooltip),
            tx = place.span.0,
            ty = row_y + 10.0,
            label = esc(&m.label),
            x = m.x,
            t0 = row_y + 1.0,
            x0 = m.x0,
            r0 = plot_top - 4.0,
            rw = (m.x1 - m.x0).max(1.0),
        );
    }

    /// A spell's bar in the lane at `y`; `shared`: whether the event that
    /// began it ended the party's spell before, and whether the event that
    /// ended it began the next.
    fn bar<'e>(
        &mut self,
        spell: &Spell<'_>,
        y: f64,
        shared: (bool, bool),
        event: &impl Fn(&Uuid) -> Option<&'e Event>,
    ) {
        let status = spell.status();
        let fill = colour(status);
        let mut tip = format!("{} {status} from the {}", spell.party, describe(spell.began, event(&spell.began.id)));
        match spell.ended {
            Some(e) => {
                let _ = write!(tip, "; until the {}", describe(e, event(&e.id)));
            }
            None => {
                let _ = write!(tip, "; still {status} as the log stood at seq {}", self.seq);
            }
        }
        let _ = write!(
            self.out,
            "<g class=\"spell\" data-party=\"{}\" data-status=\"{status}\"><title>{}</title>",
            esc(spell.party.as_str()),
            esc(&tip)
        );
        let pieces = self.pieces(spell);
        for p in &pieces {
            let (x0, x1) = (self.x(p.from), self.x(p.to));
            let w = (x1 - x0).max(1.0);
            let (top, h) = match p.part {
                Part::Began if shared.0 => (y + BAR / 2.0, BAR / 2.0),
                Part::Ended if shared.1 => (y, BAR / 2.0),
                _ => (y, BAR),
            };
            if p.part == Part::Held {
                let _ = write!(
                    self.out,
                    "<rect x=\"{x0:.1}\" y=\"{top:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"{fill}\"/>"
                );
            } else {
                let _ = write!(
                    self.out,
                    "<rect x=\"{x0:.1}\" y=\"{top:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"url(#hatch-{status})\" stroke=\"{fill}\"/>"
                );
            }
        }
        let stop = self.as_of.succ();
        if spell.ended.is_none() && stop <= self.end {
            let x = self.x(stop);
            let _ = write!(
                self.out,
                "<path d=\"M{x:.1},{:.1} l7,{:.1} l-7,{:.1} z\" fill=\"{fill}\"/>",
                y - 1.0,
                BAR / 2.0 + 1.0,
                BAR / 2.0 + 1.0
            );
        }
        self.out.push_str("</g>\n");
    }
}

/// Where a marker's label is drawn: its row, the span of its text, its tick's x.
struct Place {
    row: usize,
    span: (f64, f64),
    x: f64,
}

/// A marker at the top: a founding, launch, exercise or dissolution.
struct Mark {
    x: f64,
    x0: f64,
    x1: f64,
    label: String,
    tooltip: String,
}

/// `accession dated 2017-02/2018-03 (event …), source: Sharjah24, 2018-03-05`.
fn describe(step: &Step, event: Option<&Event>) -> String {
    let mut s = step.action.name().to_owned();
    if let Some(Event { kind: EventKind::Exercise { name, .. }, .. }) = event {
        let _ = write!(s, " {name}");
    }
    let _ = write!(s, " dated {} (event {})", step.date, step.id);
    if let Some(source) = event.and_then(Event::source_credit) {
        let _ = write!(s, ", source: {source}");
    }
    s
}

/// A party id as its lane shows it: cut to [`LABEL_CHARS`].
fn cut(id: &str) -> String {
    if id.chars().count() <= LABEL_CHARS {
        return id.to_owned();
    }
    let mut s: String = id.chars().take(LABEL_CHARS - 1).collect();
    s.push('…');
    s
}

/// Text escaped for XML content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot hold at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::projection::testing::step;

    #[test]
    fn text_is_escaped_and_the_same_input_gives_the_same_bytes() {
        assert_eq!(esc("a<b & \"c\" 'd'>\u{1}"), "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;\u{fffd}");
        let p = |s: &str| PartyId::parse(s).unwrap();
        let timeline = Timeline::build(vec![
            step(1, "2000", Action::Found(vec![p("A")])),
            step(2, "2001-03/2002", Action::Admit(vec![p("B")], Status::Observer)),
        ])
        .unwrap();
        let org = OrgId::parse("o").unwrap();
        let draw = || timeline_svg(&org, 2, &timeline, Frame::default(), |_| None);
        assert_eq!(draw(), draw());
        let svg = draw();
        // B's accession may have happened on any day of 2001-03 to 2002: hatched, then solid.
        assert!(svg.contains("fill=\"url(#hatch-observer)\""), "{svg}");
        assert_eq!(svg.matches("<g class=\"spell\"").count(), 2);
    }
}
