//! `accord spells` and `accord timeline`: the bundled ISA log, generated logs
//! against a naive fold, and the SVG as a real renderer draws it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::support::*;

// ---------------------------------------------------------------------------
// Helpers

fn isa_ledger() -> Ledger {
    let l = Ledger::new();
    l.run(&["import", s(&Path::new(env!("CARGO_MANIFEST_DIR")).join("events"))]).ok();
    assert_eq!(l.head().0, 14, "the bundled ISA log has 14 events");
    l
}

/// The NDJSON lines of a command's stdout, parsed.
fn ndjson(out: &str) -> Vec<Value> {
    out.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).expect("NDJSON line")).collect()
}

/// Runs a Python program on `input`; its stdout.
fn python(program: &str, input: &[u8]) -> String {
    let mut child = Command::new("python3")
        .args(["-c", program])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    child.stdin.take().expect("stdin").write_all(input).expect("feed python3");
    let out = child.wait_with_output().expect("wait python3");
    assert!(out.status.success(), "python3 failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 from python3")
}

/// A CSV as Python's csv module reads it: the header, then each row as a
/// map of the header's fields.
fn python_csv(text: &str) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let program = "import csv, io, json, sys\n\
                   r = csv.reader(io.TextIOWrapper(sys.stdin.buffer, encoding='utf-8', newline=''))\n\
                   print(json.dumps(list(r)))";
    let rows: Vec<Vec<String>> = serde_json::from_str(&python(program, text.as_bytes())).expect("rows");
    let (header, rows) = rows.split_first().expect("a header");
    let maps = rows
        .iter()
        .map(|r| {
            assert_eq!(r.len(), header.len(), "a row with as many fields as the header: {r:?}");
            header.iter().cloned().zip(r.iter().cloned()).collect()
        })
        .collect();
    (header.clone(), maps)
}

const FIELDS: [&str; 8] = ["org", "party", "status", "from", "to", "from_event", "to_event", "source"];

/// An NDJSON row as its CSV row reads: absent values are empty fields.
fn as_csv_row(row: &Value) -> BTreeMap<String, String> {
    FIELDS.iter().map(|f| (f.to_string(), row[f].as_str().unwrap_or("").to_owned())).collect()
}

/// `spells ORG --format json` and `--format csv` (through Python's csv) say
/// the same; the rows, as NDJSON.
#[track_caller]
fn spells(l: &Ledger, org: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["spells", org, "--format", "json"];
    args.extend_from_slice(extra);
    let rows = ndjson(l.run(&args).ok());
    for row in &rows {
        let keys: Vec<&str> = row.as_object().expect("object").keys().map(String::as_str).collect();
        let mut fields = FIELDS.to_vec();
        fields.sort_unstable();
        assert_eq!(keys, fields, "the NDJSON row has the CSV's fields: {row}");
    }
    if tool_available("python3") {
        let mut args = vec!["spells", org];
        args.extend_from_slice(extra);
        let (header, csv_rows) = python_csv(l.run(&args).ok());
        assert_eq!(header, FIELDS, "the CSV header");
        assert_eq!(csv_rows, rows.iter().map(as_csv_row).collect::<Vec<_>>(), "the CSV and the NDJSON rows");
    }
    rows
}

// ---------------------------------------------------------------------------
// 1. The bundled ISA log (facts from shared/research/isa.md)

const SGP_ACCESSION: &str = "286cea12-c998-4365-90df-e26381d61aa1";
const ISR_ACCESSION: &str = "138d0897-10d0-4cdc-b2ae-955cf0ef38ce";
const THE_SEVEN_RANGE: &str = "4e9f146d-9348-4750-88eb-905572a6eb3e";

#[test]
fn isa_spells_keep_the_dates_as_the_sources_give_them() {
    let l = isa_ledger();
    let rows = spells(&l, "isa", &[]);
    let by_party: BTreeMap<&str, &Value> = rows.iter().map(|r| (r["party"].as_str().expect("party"), r)).collect();
    // Twelve members, each with one spell, all full; no withdrawal is known.
    let parties = ["ARE", "BHR", "BRA", "ESP", "FRA", "ISR", "ITA", "MAR", "NLD", "SEN", "SGP", "SVK"];
    assert_eq!(by_party.keys().copied().collect::<Vec<_>>(), parties, "one spell per party: {rows:?}");
    for row in &rows {
        assert_eq!(
            (&row["org"], &row["status"], &row["to"], &row["to_event"]),
            (&json!("isa"), &json!("full"), &Value::Null, &Value::Null)
        );
    }
    let spell = |p: &str| {
        let r = by_party[p];
        (r["from"].as_str().unwrap_or("?"), r["source"].as_str().unwrap_or("?"))
    };
    // Singapore joined some time between 2017-02 and 2018-03 (Sharjah24, 2018-03-05).
    assert_eq!(spell("SGP"), ("2017-02/2018-03", "Sharjah24, 2018-03-05"));
    assert_eq!(by_party["SGP"]["from_event"], SGP_ACCESSION);
    // Israel on Wednesday 2020-12-09, as the December 2020 news item (Pulse Media) says.
    assert_eq!(spell("ISR"), ("2020-12-09", "Pulse Media, 2020-12"));
    assert_eq!(by_party["ISR"]["from_event"], ISR_ACCESSION);
    // The founders in February 2017; five members announced with them (ME NewsWire, 2017-02-23).
    for p in ["ARE", "FRA"] {
        assert_eq!(spell(p).0, "2017-02", "{p}");
    }
    for p in ["BHR", "ITA", "SEN", "ESP", "MAR"] {
        assert_eq!(spell(p), ("2017-02", "ME NewsWire, 2017-02-23"), "{p}");
    }
    assert_eq!(spell("SVK").0, "2017-02/2019-07-02");
    assert_eq!(spell("NLD").0, "2022-04-03");
    assert_eq!(spell("BRA").0, "2025-11-04/2025-11-06");
    // The same with --json, and the default format is CSV with a header.
    assert_eq!(ndjson(l.run(&["--json", "spells", "isa"]).ok()), rows);
    assert!(l.run(&["spells", "isa"]).ok().starts_with("org,party,status,from,to,from_event,to_event,source\n"));
}

#[test]
fn isa_spells_as_the_article_alone_told_it() {
    let l = isa_ledger();
    // --seq 5: the founders, the seven with no join date, Israel.
    let rows = spells(&l, "isa", &["--seq", "5"]);
    let seven = ["BHR", "ESP", "ITA", "MAR", "SEN", "SGP", "SVK"];
    for row in &rows {
        let p = row["party"].as_str().expect("party");
        let expected = match p {
            "ARE" | "FRA" => "2017-02",
            "ISR" => "2020-12-09",
            _ => {
                assert!(seven.contains(&p), "{p} is not in the article");
                assert_eq!(row["from_event"], THE_SEVEN_RANGE);
                "2017-02/2020-12-09"
            }
        };
        assert_eq!(row["from"], expected, "{p}");
    }
    assert_eq!(rows.len(), 10);
    // --known-at before anything was recorded: the org did not exist yet.
    l.run(&["spells", "isa", "--known-at", "2000-01-01"]).fails(1);
}

#[test]
fn an_org_with_no_spell_left_still_gets_a_header() {
    let l = Ledger::new();
    let id = "00000000-0000-4000-8000-000000000001";
    l.append(&json!({"id": id, "type": "founding", "org": "gone", "date": "2000", "members": ["A"]}).to_string());
    l.append(&json!({"type": "retraction", "org": "gone", "retracts": id, "reason": "never happened"}).to_string());
    assert_eq!(l.run(&["spells", "gone"]).ok(), format!("{}\n", FIELDS.join(",")));
    assert_eq!(l.run(&["spells", "gone", "--format", "json"]).ok(), "");
    // As the log stood before the retraction, A was a founder.
    assert_eq!(spells(&l, "gone", &["--seq", "1"]).len(), 1);
}

#[test]
fn spells_refuses_what_it_cannot_answer() {
    let l = isa_ledger();
    l.run(&["spells", "nato"]).fails(1);
    l.run(&["spells", "isa", "--format", "xml"]).fails(2);
    l.run(&["spells", "isa", "--seq", "3", "--known-at", "2020-01-01"]).fails(2);
    // A malformed org id is a usage error, as for every command.
    l.run(&["spells", "Not An Org"]).fails(2);
}

// ---------------------------------------------------------------------------
// 2. Generated logs against a naive fold

/// A generated org's events in log order, each with its month on the
/// timeline (`None` for a retraction). Every event keeps the rules: a
/// party's actions follow its status, retractions take back a party's last
/// event. One party per event, months strictly increasing.
fn generated(seed: u64) -> Vec<Value> {
    let mut rng = XorShift::new(seed);
    let parties = ["P0", "P1", "P2", "P3", "P4", "P5"];
    // Per party: its status name, the status a suspension remembers, and
    // the (id, status, remembered) before each of its events still counting.
    type Standing<'a> = (&'a str, &'a str);
    let mut status: BTreeMap<&str, Standing<'_>> = parties.iter().map(|p| (*p, ("none", "none"))).collect();
    let mut undo: BTreeMap<&str, Vec<(String, Standing<'_>)>> = BTreeMap::new();
    let mut events = Vec::new();
    let id = |n: usize| format!("00000000-0000-4000-8000-{n:012}");
    let mut month = 0;
    let mut date = |rng: &mut XorShift| {
        month += 1 + rng.below(3) as i32;
        let (y, m) = (1990 + month / 12, month % 12 + 1);
        if rng.below(3) == 0 { format!("{y}-{m:02}") } else { format!("{y}-{m:02}-{:02}", 1 + rng.below(28)) }
    };
    let source = |n: usize| match n % 5 {
        0 => json!(format!("Report {n}, \"quoted\"\nsecond line")),
        _ => json!(format!("Report {n}")),
    };
    let d = date(&mut rng);
    events.push(
        json!({"id": id(0), "type": "founding", "org": "gen", "date": d, "members": ["P0", "P1"], "source": source(0)}),
    );
    for p in ["P0", "P1"] {
        status.insert(p, ("full", "none"));
    }
    let statuses = ["full", "associate", "observer"];
    for n in 1..70 {
        let with_undo: Vec<&str> = undo.iter().filter(|(_, v)| !v.is_empty()).map(|(p, _)| *p).collect();
        if rng.below(10) == 0 {
            events.push(json!({"id": id(n), "type": "exercise", "org": "gen", "date": date(&mut rng), "name": format!("EX {n}")}));
            continue;
        }
        if rng.below(8) == 0 && !with_undo.is_empty() {
            let p = with_undo[rng.below(with_undo.len() as u64) as usize];
            let (target, before) = undo.get_mut(p).and_then(Vec::pop).expect("an event to take back");
            status.insert(p, before);
            events.push(
                json!({"id": id(n), "type": "retraction", "org": "gen", "retracts": target, "reason": "generated"}),
            );
            continue;
        }
        let p = parties[rng.below(parties.len() as u64) as usize];
        let (now, kept) = status[p];
        let other = |rng: &mut XorShift, not: &str| {
            let choices: Vec<&str> = statuses.iter().copied().filter(|s| *s != not).collect();
            choices[rng.below(choices.len() as u64) as usize]
        };
        let (event, after) = match (now, rng.below(4)) {
            ("none", _) => {
                let s = statuses[rng.below(3) as usize];
                (json!({"type": "accession", "members": [p], "status": s}), (s, "none"))
            }
            ("suspended", 0 | 1) => (json!({"type": "reinstatement", "members": [p]}), (kept, "none")),
            ("suspended", 2) => {
                let s = other(&mut rng, kept);
                (json!({"type": "status_change", "members": [p], "status": s}), ("suspended", s))
            }
            ("suspended", _) => (json!({"type": "withdrawal", "members": [p]}), ("none", "none")),
            (_, 0) => (json!({"type": "withdrawal", "members": [p]}), ("none", "none")),
            (_, 1) => (json!({"type": "expulsion", "members": [p]}), ("none", "none")),
            (s, 2) => (json!({"type": "suspension", "members": [p]}), ("suspended", s)),
            (s, _) => {
                let to = other(&mut rng, s);
                (json!({"type": "status_change", "members": [p], "status": to}), (to, "none"))
            }
        };
        let mut event = event;
        let map = event.as_object_mut().expect("object");
        map.insert("id".into(), json!(id(n)));
        map.insert("org".into(), json!("gen"));
        map.insert("date".into(), json!(date(&mut rng)));
        map.insert("source".into(), source(n));
        undo.entry(p).or_default().push((id(n), (now, kept)));
        status.insert(p, after);
        events.push(event);
    }
    if seed.is_multiple_of(2) {
        events.push(
            json!({"id": id(99), "type": "dissolution", "org": "gen", "date": date(&mut rng), "source": "the end"}),
        );
    }
    events
}

/// The spells a naive fold finds in the first `upto` events of the log:
/// retractions applied, then the dated events in date order, one status
/// name per party; a change of name ends a spell and may begin one.
fn naive_spells(events: &[Value], upto: usize) -> Vec<Value> {
    let seen = &events[..upto.min(events.len())];
    let retracted: Vec<&Value> = seen.iter().filter_map(|e| e.get("retracts")).collect();
    let mut counting: Vec<&Value> =
        seen.iter().filter(|e| e.get("date").is_some() && !retracted.contains(&&e["id"])).collect();
    // Months are distinct and every date names one: the month orders them.
    counting.sort_by_key(|e| e["date"].as_str().map(|d| d[..7].to_owned()));
    let mut now: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut open: BTreeMap<String, usize> = BTreeMap::new();
    let mut rows: Vec<(String, usize, Value)> = Vec::new();
    for (k, e) in counting.iter().enumerate() {
        let members: Vec<String> = match e["type"].as_str() {
            Some("dissolution") => now.keys().cloned().collect(),
            _ => e["members"]
                .as_array()
                .map(|m| m.iter().filter_map(|p| p.as_str().map(str::to_owned)).collect())
                .unwrap_or_default(),
        };
        for p in members {
            let (cur, kept) = now.get(&p).cloned().unwrap_or(("none".into(), "none".into()));
            let given = e["status"].as_str().unwrap_or("full").to_owned();
            let (next, kept) = match e["type"].as_str().unwrap_or("") {
                "founding" | "accession" => (given, kept),
                "status_change" if cur == "suspended" => (cur.clone(), given),
                "status_change" => (given, kept),
                "suspension" => ("suspended".into(), cur.clone()),
                "reinstatement" => (kept.clone(), kept),
                _ => ("none".into(), "none".into()),
            };
            if next != cur {
                if let Some(i) = open.remove(&p) {
                    rows[i].2["to"] = e["date"].clone();
                    rows[i].2["to_event"] = e["id"].clone();
                }
                if next != "none" {
                    open.insert(p.clone(), rows.len());
                    rows.push((
                        p.clone(),
                        k,
                        json!({"org": "gen", "party": p, "status": next, "from": e["date"], "to": null,
                               "from_event": e["id"], "to_event": null, "source": e["source"]}),
                    ));
                }
            }
            now.insert(p, (next, kept));
        }
    }
    rows.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    rows.into_iter().map(|(_, _, row)| row).collect()
}

#[test]
fn generated_spells_match_a_naive_fold_in_every_view() {
    for seed in 0..6 {
        let events = generated(seed);
        let text: String = events.iter().map(|e| format!("{e}\n")).collect();
        let l = Ledger::new();
        l.import_text(&text).ok();
        let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
        for kind in ["suspension", "reinstatement", "withdrawal", "status_change", "retraction"] {
            assert!(seed > 0 || kinds.contains(&kind), "seed 0 has no {kind}: make the generator exercise it");
        }
        let all = spells(&l, "gen", &[]);
        assert_eq!(all, naive_spells(&events, events.len()), "seed {seed}: {text}");
        assert!(all.iter().any(|r| r["status"] == "suspended") || seed > 0, "seed 0 has a suspended spell");
        for upto in [1, 5, events.len() / 3, events.len() / 2, events.len() - 1] {
            let got = spells(&l, "gen", &["--seq", &upto.to_string()]);
            assert_eq!(got, naive_spells(&events, upto), "seed {seed}, --seq {upto}");
        }
    }
}

/// `party ID --history` over several generated orgs, their events
/// interleaved in the log, plus an org that names none of their parties:
/// each party's spells are the naive fold's, org by org, in every view (a
/// view past an org's last event names the party there, one before its
/// first does not). A party no org names in the view is not found.
#[test]
fn party_history_across_generated_orgs_matches_a_naive_fold_in_every_view() {
    let orgs = ["gen0", "gen1", "gen2"];
    // Each org's events, its own ids, then the log: round robin.
    let per_org: Vec<Vec<Value>> = (0..orgs.len())
        .map(|k| {
            let text = serde_json::to_string(&generated(k as u64 + 10)).expect("JSON");
            let text = text
                .replace("\"gen\"", &format!("\"{}\"", orgs[k]))
                .replace("00000000-0000-4000", &format!("0000000{k}-0000-4000"));
            serde_json::from_str::<Vec<Value>>(&text).expect("events")
        })
        .collect();
    let mut log: Vec<(usize, Value)> = Vec::new();
    for i in 0..per_org.iter().map(Vec::len).max().unwrap_or(0) {
        for (k, events) in per_org.iter().enumerate() {
            if let Some(e) = events.get(i) {
                log.push((k, e.clone()));
            }
            if i == 3 && k == 0 {
                log.push((usize::MAX, json!({"type": "founding", "org": "other", "date": "1990", "members": ["Q1"]})));
            }
        }
    }
    let text: String = log.iter().map(|(_, e)| format!("{e}\n")).collect();
    let l = Ledger::new();
    l.import_text(&text).ok();
    let n = log.len();
    let other = log.iter().position(|(o, _)| *o == usize::MAX).expect("the other org") + 1;
    for upto in [n, 2, 10, n / 3, n / 2, n - 5] {
        for party in ["P0", "P1", "P2", "P3", "P4", "P5", "Q1"] {
            let mut expected = Vec::new();
            for (k, events) in per_org.iter().enumerate() {
                let seen = log[..upto].iter().filter(|(o, _)| *o == k).count();
                for mut row in naive_spells(events, seen).into_iter().filter(|r| r["party"] == party) {
                    row["org"] = json!(orgs[k]);
                    expected.push(row);
                }
            }
            if party == "Q1" && upto >= other {
                expected.push(json!({"org": "other", "party": "Q1", "status": "full", "from": "1990", "to": null,
                                     "from_event": Value::Null, "to_event": null, "source": null}));
            }
            let args = ["party", party, "--history", "--json", "--seq", &upto.to_string()];
            if expected.is_empty() {
                assert!(l.run(&args).fails(1).contains(party), "{party} at seq {upto}");
                continue;
            }
            let mut got = ndjson(l.run(&args).ok());
            if party == "Q1" {
                got.iter_mut().for_each(|r| r["from_event"] = Value::Null);
            }
            assert_eq!(got, expected, "{party} at seq {upto}");
        }
    }
}

// ---------------------------------------------------------------------------
// 3. The timeline picture

/// What Python's XML parser finds in an SVG: its size, the document title,
/// each lane's party and band, each year line's x, each spell's tooltip.
fn svg_parts(svg: &str) -> Value {
    let program = r#"
import json, sys, xml.etree.ElementTree as ET
ns = '{http://www.w3.org/2000/svg}'
root = ET.fromstring(sys.stdin.buffer.read())
assert root.tag == ns + 'svg', root.tag
out = {'width': float(root.get('width')), 'height': float(root.get('height')),
       'title': root.find(ns + 'title').text, 'lanes': {}, 'years': {}, 'spells': [], 'texts': []}
for e in root.iter():
    cls = e.get('class')
    if cls == 'lane':
        out['lanes'][e.get('data-party')] = [float(e.get('y')), float(e.get('height'))]
    elif cls == 'year':
        out['years'][e.get('data-year')] = float(e.get('x1'))
    elif cls == 'spell':
        out['spells'].append({'party': e.get('data-party'), 'status': e.get('data-status'),
                              'title': e.find(ns + 'title').text})
    if e.tag == ns + 'text':
        out['texts'].append(''.join(e.itertext()))
print(json.dumps(out))
"#;
    serde_json::from_str(&python(program, svg.as_bytes())).expect("the parts as JSON")
}

impl Image {
    /// Renders an SVG with rsvg-convert and decodes the PNG.
    fn render(svg: &str) -> Image {
        let mut child = Command::new("rsvg-convert")
            .args(["--format", "png"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rsvg-convert");
        child.stdin.take().expect("stdin").write_all(svg.as_bytes()).expect("feed rsvg-convert");
        let out = child.wait_with_output().expect("wait rsvg-convert");
        assert!(out.status.success(), "rsvg-convert failed: {}", String::from_utf8_lossy(&out.stderr));
        Image::decode(&out.stdout)
    }

    fn at(&self, x: f64, y: f64) -> [u8; 3] {
        let (x, y) = (x.round() as usize, y.round() as usize);
        assert!(x < self.width && y < self.height, "({x}, {y}) is outside the image");
        self.rgb[y * self.width + x]
    }

    /// The pixels of a horizontal line from `x0` to `x1` at `y`.
    fn row(&self, x0: f64, x1: f64, y: f64) -> Vec<[u8; 3]> {
        let (a, b) = (x0.round() as i64, x1.round() as i64);
        (a..b).map(|x| self.at(x as f64, y)).collect()
    }
}

/// The fill of `full` bars is a saturated green; of `suspended`, a red.
fn green([r, g, b]: [u8; 3]) -> bool {
    g > r.saturating_add(50) && g > b.saturating_add(50)
}
fn red([r, g, b]: [u8; 3]) -> bool {
    r > g.saturating_add(80) && r > b.saturating_add(80)
}

/// Where a day falls in the picture: between the lines of its year and the next.
fn x_of(parts: &Value, year: i32, fraction: f64) -> f64 {
    let x = |y: i32| parts["years"][y.to_string()].as_f64().unwrap_or_else(|| panic!("no line for {y}"));
    x(year) + fraction * (x(year + 1) - x(year))
}

/// The middle of a party's lane, and the y of its bar's middle.
fn lane_mid(parts: &Value, party: &str) -> f64 {
    let lane = &parts["lanes"][party];
    let (y, h) = (lane[0].as_f64().unwrap_or_else(|| panic!("no lane for {party}")), lane[1].as_f64().unwrap_or(0.0));
    y + h / 2.0
}

fn isa_svg(l: &Ledger, extra: &[&str]) -> String {
    let mut args = vec!["timeline", "isa"];
    args.extend_from_slice(extra);
    l.run(&args).ok().to_owned()
}

#[test]
fn the_committed_isa_timeline_is_the_one_the_log_draws() {
    let l = isa_ledger();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/isa-timeline.svg");
    let committed = std::fs::read(&path).expect("docs/isa-timeline.svg");
    let out = l.dir.path().join("isa.svg");
    l.run(&["timeline", "isa", "-o", s(&out)]).ok();
    let drawn = std::fs::read(&out).expect("the drawn SVG");
    assert!(
        committed == drawn,
        "docs/isa-timeline.svg is stale: redraw it with `accord --ledger /tmp/isa import events/ && \
         accord --ledger /tmp/isa timeline isa -o docs/isa-timeline.svg`"
    );
    // Stdout has the same bytes; and a second drawing too.
    assert_eq!(isa_svg(&l, &[]).as_bytes(), &drawn[..]);
    assert_eq!(isa_svg(&l, &[]).as_bytes(), &drawn[..]);
}

#[test]
fn the_isa_timeline_parses_and_names_the_org_the_position_and_each_spell_s_event() {
    if !tool_available("python3") {
        return;
    }
    let l = isa_ledger();
    let parts = svg_parts(&isa_svg(&l, &[]));
    let title = parts["title"].as_str().expect("a title");
    assert!(title.contains("isa") && title.contains("International Security Alliance"), "{title}");
    assert!(title.contains("seq 14"), "{title}");
    let texts: Vec<&str> = parts["texts"].as_array().expect("texts").iter().filter_map(Value::as_str).collect();
    assert!(texts.iter().any(|t| t.contains("seq 14")), "the visible title names the log position: {texts:?}");
    // The markers: founding, launch, the three exercises (isa.md), each labelled.
    for label in ["founding", "launch", "ISALEX19", "ISALEX 2.0", "ISALEX 3.0"] {
        assert!(texts.contains(&label), "no marker labelled {label}: {texts:?}");
    }
    // A year axis over 2017..2025.
    for y in 2017..=2025 {
        assert!(texts.contains(&y.to_string().as_str()), "no label for {y}");
    }
    // One bar per spell, its tooltip naming the event, its date and its source.
    let spells = parts["spells"].as_array().expect("spells");
    assert_eq!(spells.len(), 12);
    let tip = |p: &str| {
        spells
            .iter()
            .find(|s| s["party"] == p)
            .and_then(|s| s["title"].as_str())
            .unwrap_or_else(|| panic!("no bar for {p}"))
    };
    let sgp = tip("SGP");
    for part in ["accession", "2017-02/2018-03", SGP_ACCESSION, "Sharjah24, 2018-03-05"] {
        assert!(sgp.contains(part), "SGP's tooltip lacks {part}: {sgp}");
    }
    let isr = tip("ISR");
    for part in ["2020-12-09", ISR_ACCESSION, "Pulse Media"] {
        assert!(isr.contains(part), "ISR's tooltip lacks {part}: {isr}");
    }
    // As the article told it, the title says so.
    let parts = svg_parts(&isa_svg(&l, &["--seq", "5"]));
    assert!(parts["title"].as_str().unwrap_or("").contains("seq 5"), "{}", parts["title"]);
}

#[test]
fn the_isa_timeline_as_rsvg_draws_it_shows_bars_where_members_are_and_hatches_uncertain_days() {
    if !tool_available("python3") || !tool_available("rsvg-convert") {
        return;
    }
    let l = isa_ledger();
    let svg = isa_svg(&l, &[]);
    let parts = svg_parts(&svg);
    let image = Image::render(&svg);
    assert_eq!(
        (image.width as f64, image.height as f64),
        (parts["width"].as_f64().unwrap_or(0.0), parts["height"].as_f64().unwrap_or(0.0))
    );
    assert!(image.width >= 600 && image.height >= 12 * 16, "{}x{}", image.width, image.height);
    let lanes = parts["lanes"].as_object().expect("lanes");
    assert_eq!(lanes.len(), 12, "a lane per member: {lanes:?}");
    // Every member but Brazil (2025-11-04/06) was one on 2024-07-01: green in their lanes.
    for party in lanes.keys().filter(|p| *p != "BRA") {
        assert!(green(image.at(x_of(&parts, 2024, 0.5), lane_mid(&parts, party))), "no bar for {party} in 2024");
    }
    let y = lane_mid(&parts, "BRA");
    assert!(!green(image.at(x_of(&parts, 2024, 0.5), y)), "a bar for BRA in 2024");
    assert!(image.row(x_of(&parts, 2025, 0.8), x_of(&parts, 2025, 1.0), y).iter().any(|p| green(*p)), "no bar for BRA");
    // Israel: not a member in mid-2019 (the lane's background), a member in mid-2021.
    let y = lane_mid(&parts, "ISR");
    assert!(!green(image.at(x_of(&parts, 2019, 0.5), y)), "a bar for ISR in 2019");
    assert!(green(image.at(x_of(&parts, 2021, 0.5), y)), "no bar for ISR in 2021");
    // The Netherlands from 2022-04-03: nothing in mid-2021.
    assert!(!green(image.at(x_of(&parts, 2021, 0.5), lane_mid(&parts, "NLD"))), "a bar for NLD in 2021");
    // Singapore may have joined on any day of 2017-02..2018-03: across
    // mid-2017 its bar is striped (green and light pixels), in 2019 solid.
    let y = lane_mid(&parts, "SGP");
    let hatched = image.row(x_of(&parts, 2017, 0.4), x_of(&parts, 2017, 0.9), y);
    let stripes = hatched.iter().filter(|p| green(**p)).count();
    assert!(
        stripes > 0 && stripes < hatched.len(),
        "SGP's uncertain days are not hatched: {stripes}/{}",
        hatched.len()
    );
    let solid = image.row(x_of(&parts, 2019, 0.1), x_of(&parts, 2019, 0.9), y);
    assert!(solid.iter().all(|p| green(*p)), "SGP's bar is not solid in 2019");
    // Slovakia's range runs to 2019-07-02: still striped in early 2019.
    let svk = image.row(x_of(&parts, 2018, 0.2), x_of(&parts, 2019, 0.3), lane_mid(&parts, "SVK"));
    assert!(svk.iter().any(|p| !green(*p)), "SVK's uncertain days are not hatched");
}

/// A small org with a suspension, a reinstatement known by a range, a
/// status change and a withdrawal; its name needs escaping.
fn awkward_org() -> String {
    [
        json!({"type": "founding", "org": "awk", "date": "1990-05", "members": ["AAA", "BBB", "CCC"], "name": "Awk <&> \"Org\" 'x'", "source": "a <b> & c"}),
        json!({"type": "accession", "org": "awk", "date": "1991", "members": ["DDD"], "status": "observer", "source": "x"}),
        json!({"type": "suspension", "org": "awk", "date": "1993-04-02", "members": ["BBB"], "source": "s"}),
        json!({"type": "status_change", "org": "awk", "date": "1994-06", "members": ["DDD"], "status": "associate", "source": "sc"}),
        json!({"type": "exercise", "org": "awk", "date": "1994-07", "name": "EX <1>", "source": "e"}),
        json!({"type": "exercise", "org": "awk", "date": "1994-08", "name": "Exercise number two", "source": "e"}),
        json!({"type": "reinstatement", "org": "awk", "date": "1995/1996", "members": ["BBB"], "source": "r"}),
        json!({"type": "withdrawal", "org": "awk", "date": "1998-02-01", "members": ["CCC"], "source": "w"}),
    ]
    .iter()
    .map(|e| format!("{e}\n"))
    .collect()
}

#[test]
fn a_suspension_is_drawn_red_and_text_is_escaped() {
    if !tool_available("python3") || !tool_available("rsvg-convert") {
        return;
    }
    let l = Ledger::new();
    l.import_text(&awkward_org()).ok();
    let svg = l.run(&["timeline", "awk"]).ok().to_owned();
    let parts = svg_parts(&svg);
    assert!(parts["title"].as_str().unwrap_or("").contains("Awk <&> \"Org\" 'x'"), "{}", parts["title"]);
    let texts: Vec<&str> = parts["texts"].as_array().expect("texts").iter().filter_map(Value::as_str).collect();
    assert!(texts.contains(&"EX <1>"), "{texts:?}");
    let statuses: Vec<(&str, &str)> = parts["spells"]
        .as_array()
        .expect("spells")
        .iter()
        .map(|s| (s["party"].as_str().unwrap_or("?"), s["status"].as_str().unwrap_or("?")))
        .collect();
    assert!(statuses.contains(&("BBB", "suspended")) && statuses.contains(&("DDD", "associate")), "{statuses:?}");
    let image = Image::render(&svg);
    let y = lane_mid(&parts, "BBB");
    assert!(red(image.at(x_of(&parts, 1994, 0.2), y)), "BBB is not drawn suspended in early 1994");
    assert!(green(image.at(x_of(&parts, 1992, 0.5), y)) && green(image.at(x_of(&parts, 1997, 0.5), y)));
    // CCC withdrew on 1998-02-01: nothing in mid-1998.
    assert!(!green(image.at(x_of(&parts, 1998, 0.5), lane_mid(&parts, "CCC"))));
    assert!(green(image.at(x_of(&parts, 1997, 0.5), lane_mid(&parts, "CCC"))));
    // A window: --from/--to show only those days, and the axis with them.
    let window = svg_parts(l.run(&["timeline", "awk", "--from", "1993-01-01", "--to", "1996-12-31"]).ok());
    let years: Vec<&String> = window["years"].as_object().expect("years").keys().collect();
    assert_eq!(years, ["1993", "1994", "1995", "1996", "1997"]);
}

#[test]
fn timeline_refuses_what_it_cannot_draw() {
    let l = isa_ledger();
    l.run(&["timeline", "isa", "--from", "2020-01-01", "--to", "2019-01-01"]).fails(2);
    l.run(&["timeline", "nato"]).fails(1);
    let msg = l
        .run(&["timeline", "isa", "--from", "2020-13-01"])
        .fails(l.run(&["members", "isa", "--at", "2020-13-01"]).code)
        .to_owned();
    assert!(msg.contains("--from"), "{msg}");
    let nowhere = l.dir.path().join("no/such/dir/x.svg");
    l.run(&["timeline", "isa", "-o", s(&nowhere)]).fails(1);
}
