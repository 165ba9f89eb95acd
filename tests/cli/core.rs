//! The ledger core: append, import, export, idempotency, rules, exit codes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::*;

#[test]
fn bundled_isa_log_imports_and_shows_twelve_members() {
    let l = Ledger::new();
    l.run(&["import", isa_log().to_str().unwrap()]).ok();
    let m = l.members("isa", "2026-11-29", &[]);
    assert_eq!(m["count"], 12, "{m}");
}

// ---------------------------------------------------------------------------
// Fixtures and helpers

/// Ids of the events of [`BASE`] that the rule cases name.
const X_FOUNDING: &str = "00000000-0000-4000-8000-000000000001";
const C_ACCESSION: &str = "00000000-0000-4000-8000-000000000002";
const E_ACCESSION: &str = "00000000-0000-4000-8000-000000000004";
const D_ACCESSION: &str = "00000000-0000-4000-8000-000000000005";
const Y_FOUNDING: &str = "00000000-0000-4000-8000-000000000007";
const E_RETRACTION: &str = "00000000-0000-4000-8000-00000000000a";
/// A UUID that is in no log.
const UNKNOWN: &str = "00000000-0000-4000-8000-0000000000ff";

/// Org `x`: A and B found it in 2000, C accedes 2005, B is suspended 2006, E's
/// accession (2007) is retracted, D accedes 2010-06-15 and withdraws 2012.
/// Org `y` is founded by A; org `z` is founded by A and dissolved in 2010.
const BASE: &str = r#"{"type":"founding","org":"x","date":"2000","members":["A","B"],"id":"00000000-0000-4000-8000-000000000001"}
{"type":"accession","org":"x","date":"2005","members":["C"],"id":"00000000-0000-4000-8000-000000000002"}
{"type":"suspension","org":"x","date":"2006","members":["B"],"id":"00000000-0000-4000-8000-000000000003"}
{"type":"accession","org":"x","date":"2007","members":["E"],"id":"00000000-0000-4000-8000-000000000004"}
{"type":"accession","org":"x","date":"2010-06-15","members":["D"],"id":"00000000-0000-4000-8000-000000000005"}
{"type":"withdrawal","org":"x","date":"2012","members":["D"],"id":"00000000-0000-4000-8000-000000000006"}
{"type":"founding","org":"y","date":"2000","members":["A"],"id":"00000000-0000-4000-8000-000000000007"}
{"type":"founding","org":"z","date":"2000","members":["A"],"id":"00000000-0000-4000-8000-000000000008"}
{"type":"dissolution","org":"z","date":"2010","id":"00000000-0000-4000-8000-000000000009"}
{"type":"retraction","org":"x","retracts":"00000000-0000-4000-8000-000000000004","reason":"recorded in error","id":"00000000-0000-4000-8000-00000000000a"}
"#;

/// A ledger holding [`BASE`].
fn base_ledger() -> Ledger {
    let l = Ledger::new();
    l.import_text(BASE).ok();
    assert_eq!(l.head().0, 10);
    l
}

/// What a refused command must leave as it was: the head and the export text.
/// (A missing ledger and an empty one both read as seq 0 and no text.)
#[derive(Debug, PartialEq)]
struct Snapshot {
    head: (u64, String),
    export: String,
}

fn snapshot(l: &Ledger) -> Snapshot {
    let r = l.run(&["export"]);
    let export = if r.code == 0 { r.stdout } else { String::new() };
    Snapshot { head: l.head(), export }
}

/// Runs `args`, asserts exit `code` with one sentence containing `phrase`,
/// and that the ledger is exactly as it was.
#[track_caller]
fn assert_refused_with(l: &Ledger, code: i32, run: impl FnOnce() -> Run, phrase: &str, label: &str) -> String {
    let before = snapshot(l);
    assert_refused_from(l, &before, code, run, phrase, label)
}

/// [`assert_refused_with`] given the state before (to spare runs in long tables).
#[track_caller]
fn assert_refused_from(
    l: &Ledger,
    before: &Snapshot,
    code: i32,
    run: impl FnOnce() -> Run,
    phrase: &str,
    label: &str,
) -> String {
    let r = run();
    assert_eq!(r.code, code, "{label}: expected exit {code}, got {}: {}{}", r.code, r.stderr, r.stdout);
    let msg = r.fails(code).to_owned();
    assert!(msg.contains(phrase), "{label}: expected {phrase:?} in the message: {msg}");
    assert_eq!(&snapshot(l), before, "{label}: the refused command changed the ledger");
    msg
}

/// `append EVENT_JSON` is refused with exit 1, and so is the same event as a
/// one-line import (whose error names `stdin line 1`).
#[track_caller]
fn assert_event_refused(l: &Ledger, before: &Snapshot, event: &str, phrase: &str) {
    assert_refused_from(l, before, 1, || l.run(&["append", event]), phrase, event);
    let msg = assert_refused_from(l, before, 1, || l.import_text(&format!("{event}\n")), phrase, event);
    assert!(msg.contains("stdin line 1"), "{event}: the import error does not name the line: {msg}");
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.trim().is_empty()).collect()
}

fn parse_lines(text: &str) -> Vec<Value> {
    lines(text).iter().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

fn ids_of(text: &str) -> Vec<String> {
    parse_lines(text).iter().map(|v| v["id"].as_str().expect("id").to_owned()).collect()
}

fn seqs_of(text: &str) -> Vec<u64> {
    parse_lines(text).iter().map(|v| v["seq"].as_u64().expect("seq")).collect()
}

fn write_file(path: &Path, text: &str) -> PathBuf {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("create dir");
    }
    std::fs::write(path, text).expect("write file");
    path.to_owned()
}

// ---------------------------------------------------------------------------
// 1. Refusals: malformed events and broken rules

#[test]
fn malformed_events_are_refused_and_change_nothing() {
    let l = base_ledger();
    let cases: &[(&str, &str)] = &[
        // Not an object, or not JSON.
        (r#"[1,2]"#, "must be a JSON object"),
        (r#""founding""#, "must be a JSON object"),
        (r#"42"#, "must be a JSON object"),
        (r#"null"#, "must be a JSON object"),
        (r#"{"type":"accession","org":"x""#, "ends too early"),
        (r#"{"type":"accession",}"#, "not valid JSON"),
        // Missing required fields.
        (r#"{"org":"x","date":"2020","members":["Q"]}"#, "no `type`"),
        (r#"{"type":"accession","date":"2020","members":["Q"]}"#, "no `org`"),
        (r#"{"type":"accession","org":"x","members":["Q"]}"#, "no `date`"),
        (r#"{"type":"accession","org":"x","date":"2020"}"#, "no `members`"),
        (r#"{"type":"accession","org":"x","date":"2020","members":[]}"#, "names no party"),
        (r#"{"type":"founding","org":"w","date":"2020"}"#, "no `members`"),
        (r#"{"type":"status_change","org":"x","date":"2020","members":["A"]}"#, "no `status`"),
        (r#"{"type":"exercise","org":"x","date":"2020"}"#, "no `name`"),
        (r#"{"type":"retraction","org":"x","retracts":"00000000-0000-4000-8000-000000000002"}"#, "no `reason`"),
        (r#"{"type":"retraction","org":"x","reason":"typo"}"#, "no `retracts`"),
        // Unknown type, unknown fields, a typo.
        (r#"{"type":"merger","org":"x","date":"2020"}"#, "not an event type"),
        (r#"{"type":"accession","org":"x","date":"2020","members":["Q"],"colour":"red"}"#, "not a field"),
        (r#"{"type":"accession","org":"x","date":"2020","member":["Q"]}"#, "not a field"),
        (r#"{"type":"dissolution","org":"x","date":"2020","members":["A"]}"#, "not a field"),
        (
            r#"{"type":"exercise","org":"x","date":"2020","name":"N","source":{"author":"me"}}"#,
            "not a field of `source`",
        ),
        // Envelope fields are the ledger's to set.
        (r#"{"type":"accession","org":"x","date":"2020","members":["Q"],"seq":11}"#, "set by the ledger"),
        (r#"{"type":"accession","org":"x","date":"2020","members":["Q"],"hash":"00"}"#, "set by the ledger"),
        (r#"{"type":"accession","org":"x","date":"2020","members":["Q"],"prev":"00"}"#, "set by the ledger"),
        (
            r#"{"type":"accession","org":"x","date":"2020","members":["Q"],"recorded_at":"2020-01-01T00:00:00.000000Z"}"#,
            "set by the ledger",
        ),
        (r#"{"type":"accession","org":"x","date":"2020","members":["Q"],"recorded_by":"me"}"#, "set by the ledger"),
        // Bad org and party ids.
        (r#"{"type":"accession","org":"X","date":"2020","members":["Q"]}"#, "not an org id"),
        (r#"{"type":"accession","org":"-x","date":"2020","members":["Q"]}"#, "not an org id"),
        (r#"{"type":"accession","org":"x y","date":"2020","members":["Q"]}"#, "not an org id"),
        (r#"{"type":"accession","org":"","date":"2020","members":["Q"]}"#, "`org`"),
        (r#"{"type":"accession","org":"x","date":"2020","members":["Q R"]}"#, "not a party id"),
        (r#"{"type":"accession","org":"x","date":"2020","members":["-Q"]}"#, "not a party id"),
        (r#"{"type":"accession","org":"x","date":"2020","members":["Q/R"]}"#, "not a party id"),
        // Ids that are not UUIDs.
        (r#"{"type":"accession","org":"x","date":"2020","members":["Q"],"id":"42"}"#, "not an event id"),
        (
            r#"{"type":"accession","org":"x","date":"2020","members":["Q"],"id":"00000000000040008000000000000002"}"#,
            "not an event id",
        ),
        (r#"{"type":"accession","org":"x","date":"2020","members":["Q"],"supersedes":"nope"}"#, "not an event id"),
        (r#"{"type":"retraction","org":"x","retracts":"nope","reason":"typo"}"#, "not an event id"),
        // A party named twice.
        (r#"{"type":"accession","org":"x","date":"2020","members":["Q","R","Q"]}"#, "twice"),
        // Dates: impossible, reversed, with a time, garbage.
        (r#"{"type":"accession","org":"x","date":"2021-02-30","members":["Q"]}"#, "not a valid date"),
        (r#"{"type":"accession","org":"x","date":"2019-02-29","members":["Q"]}"#, "not a valid date"),
        (r#"{"type":"accession","org":"x","date":"2020-13","members":["Q"]}"#, "not a valid date"),
        (r#"{"type":"accession","org":"x","date":"2019/2018","members":["Q"]}"#, "reversed interval"),
        (r#"{"type":"accession","org":"x","date":"2020-03/2020-02-28","members":["Q"]}"#, "reversed interval"),
        (r#"{"type":"accession","org":"x","date":"2020-01-01T10:00:00Z","members":["Q"]}"#, "`date`"),
        (r#"{"type":"accession","org":"x","date":"2020-01-01 10:00","members":["Q"]}"#, "`date`"),
        (r#"{"type":"accession","org":"x","date":"last year","members":["Q"]}"#, "`date`"),
        (r#"{"type":"accession","org":"x","date":"","members":["Q"]}"#, "`date`"),
        // Wrong JSON types.
        (r#"{"type":7,"org":"x","date":"2020","members":["Q"]}"#, "`type` must be a string"),
        (r#"{"type":"accession","org":7,"date":"2020","members":["Q"]}"#, "must be a string"),
        (r#"{"type":"accession","org":"x","date":2020,"members":["Q"]}"#, "must be a string"),
        (r#"{"type":"accession","org":"x","date":"2020","members":"Q"}"#, "list of party ids"),
        (r#"{"type":"accession","org":"x","date":"2020","members":[7]}"#, "as strings"),
        (r#"{"type":"accession","org":"x","date":"2020","members":["Q"],"status":1}"#, "must be a string"),
        (r#"{"type":"accession","org":"x","date":"2020","members":["Q"],"status":"member"}"#, "not a status"),
        (r#"{"type":"accession","org":"x","date":"2020","members":["Q"],"note":null}"#, "must be a string"),
        (r#"{"type":"accession","org":"x","date":"2020","members":["Q"],"details":[]}"#, "`details` must be"),
        (r#"{"type":"accession","org":"x","date":"2020","members":["Q"],"source":1}"#, "`source` must be"),
        (r#"{"type":"accession","org":"x","date":"2020","members":["Q"],"id":7}"#, "must be a string"),
        (r#"{"type":"exercise","org":"x","date":"2020","name":["N"]}"#, "must be a string"),
    ];
    let before = snapshot(&l);
    for (event, phrase) in cases {
        assert_event_refused(&l, &before, event, phrase);
    }
    // Built with flags, a malformed event is refused the same way.
    let flag_cases: &[(&[&str], &str)] = &[
        (&["append", "--type", "accession", "--org", "x", "--date", "2021-02-30", "--member", "Q"], "not a valid date"),
        (&["append", "--type", "accession", "--org", "x", "--date", "2020", "--member", "Q R"], "not a party id"),
        (&["append", "--type", "merger", "--org", "x", "--date", "2020"], "not an event type"),
        (&["append", "--type", "accession", "--org", "X", "--date", "2020", "--member", "Q"], "not an org id"),
        (&["append", "--type", "accession", "--org", "x", "--member", "Q"], "no `date`"),
        (&["append", "--type", "accession", "--org", "x", "--date", "2020", "--member", "Q", "--id", "1"], "event id"),
    ];
    for (args, phrase) in flag_cases {
        assert_refused_from(&l, &before, 1, || l.run(args), phrase, &args.join(" "));
    }
    // And on stdin.
    let lr = &l;
    let stdin = |input: &'static [u8]| move || lr.run_stdin(&["append"], input);
    assert_refused_from(&l, &before, 1, stdin(b"[]"), "must be a JSON object", "append on stdin");
    assert_refused_from(&l, &before, 1, stdin(b""), "empty", "empty append on stdin");
}

#[test]
fn events_that_break_a_rule_are_refused_and_change_nothing() {
    let l = base_ledger();
    let retract = |target: &str| format!(r#"{{"type":"retraction","org":"x","retracts":"{target}","reason":"r"}}"#);
    let cases: Vec<(String, &str)> = vec![
        // The org must be founded, once, and everything comes after its founding.
        (r#"{"type":"accession","org":"nowhere","date":"2020","members":["Q"]}"#.into(), "has no founding"),
        (r#"{"type":"exercise","org":"nowhere","date":"2020","name":"N"}"#.into(), "has no founding"),
        (r#"{"type":"accession","org":"x","date":"1999","members":["Q"]}"#.into(), "before the org's founding"),
        (r#"{"type":"exercise","org":"x","date":"1999-12-31","name":"N"}"#.into(), "before the org's founding"),
        (r#"{"type":"founding","org":"x","date":"2001","members":["Q"]}"#.into(), "already founded"),
        (r#"{"type":"founding","org":"x","date":"1990","members":["Q"]}"#.into(), "already founded"),
        // Who may be named.
        (r#"{"type":"accession","org":"x","date":"2020","members":["A"]}"#.into(), "A is already a member"),
        (r#"{"type":"accession","org":"x","date":"2020","members":["Q","B"]}"#.into(), "B is already a member"),
        (r#"{"type":"withdrawal","org":"x","date":"2020","members":["Q"]}"#.into(), "Q is not a member"),
        (r#"{"type":"withdrawal","org":"x","date":"2015","members":["D"]}"#.into(), "D is not a member"),
        (r#"{"type":"expulsion","org":"x","date":"2020","members":["Q"]}"#.into(), "Q is not a member"),
        (r#"{"type":"suspension","org":"x","date":"2020","members":["Q"]}"#.into(), "Q is not a member"),
        (r#"{"type":"suspension","org":"x","date":"2020","members":["B"]}"#.into(), "B is already suspended"),
        (
            r#"{"type":"status_change","org":"x","date":"2020","members":["Q"],"status":"observer"}"#.into(),
            "Q is not a member",
        ),
        (r#"{"type":"reinstatement","org":"x","date":"2020","members":["A"]}"#.into(), "A is not suspended"),
        (r#"{"type":"reinstatement","org":"x","date":"2020","members":["Q"]}"#.into(), "Q is not a member"),
        // Nothing follows a dissolution.
        (r#"{"type":"accession","org":"z","date":"2011","members":["Q"]}"#.into(), "dissolution"),
        (r#"{"type":"exercise","org":"z","date":"2011","name":"N"}"#.into(), "dissolution"),
        (r#"{"type":"withdrawal","org":"z","date":"2011","members":["A"]}"#.into(), "dissolution"),
        (r#"{"type":"dissolution","org":"z","date":"2012"}"#.into(), "dissolution"),
        // Back-dated events are checked in their place on the timeline.
        (r#"{"type":"accession","org":"x","date":"2003","members":["C"]}"#.into(), "C is already a member"),
        (r#"{"type":"withdrawal","org":"x","date":"2004","members":["C"]}"#.into(), "C is not a member"),
        (r#"{"type":"withdrawal","org":"x","date":"2010-06-14","members":["D"]}"#.into(), "D is not a member"),
        // Same id, other content: a conflict.
        (
            format!(
                r#"{{"type":"accession","org":"x","date":"2005","members":["C"],"id":"{C_ACCESSION}","note":"n"}}"#
            ),
            "other content",
        ),
        (
            format!(r#"{{"type":"accession","org":"x","date":"2006","members":["C"],"id":"{C_ACCESSION}"}}"#),
            "other content",
        ),
        // Corrections must name an event of the same org that still counts.
        (retract(UNKNOWN), "not in the log"),
        (
            format!(r#"{{"type":"accession","org":"x","date":"2020","members":["Q"],"supersedes":"{UNKNOWN}"}}"#),
            "not in the log",
        ),
        (retract(Y_FOUNDING), "an event of org `y`"),
        (
            format!(r#"{{"type":"accession","org":"x","date":"2020","members":["Q"],"supersedes":"{Y_FOUNDING}"}}"#),
            "an event of org `y`",
        ),
        (retract(E_ACCESSION), "no longer counts"),
        (
            format!(r#"{{"type":"accession","org":"x","date":"2008","members":["E"],"supersedes":"{E_ACCESSION}"}}"#),
            "no longer counts",
        ),
        (retract(E_RETRACTION), "cannot be corrected"),
        // Removing an event must leave a timeline that keeps the rules:
        // D's withdrawal (2012) needs D's accession.
        (retract(D_ACCESSION), "D is not a member"),
        (
            format!(r#"{{"type":"accession","org":"x","date":"2013","members":["D"],"supersedes":"{D_ACCESSION}"}}"#),
            "D is not a member",
        ),
        (retract(X_FOUNDING), "founding"),
    ];
    let before = snapshot(&l);
    for (event, phrase) in &cases {
        assert_event_refused(&l, &before, event, phrase);
    }
    // The conflict is refused also when the event is built with flags.
    let conflict =
        ["append", "--type", "accession", "--org", "x", "--date", "2005", "--member", "Q", "--id", C_ACCESSION];
    assert_refused_from(&l, &before, 1, || l.run(&conflict), "other content", "conflict with flags");
    // The same corrections that are refused above are accepted when they
    // keep the rules, so the refusals were for the rule, not the form.
    l.append(&format!(
        r#"{{"type":"accession","org":"x","date":"2010","members":["D"],"supersedes":"{D_ACCESSION}"}}"#
    ));
    l.append(r#"{"type":"withdrawal","org":"x","date":"2020","members":["C"]}"#);
    assert_eq!(l.head().0, 12);
}

/// The events a message names: `(seq, id)` for each `seq N (event ID)`, and
/// the ids named with no seq. Asserts that every seq it names is followed by
/// the id of the event there.
#[track_caller]
fn named_events(msg: &str) -> (Vec<(u64, String)>, Vec<String>) {
    let (mut with_seq, mut without) = (vec![], vec![]);
    for (at, _) in msg.match_indices("(event ") {
        let id = msg[at + "(event ".len()..].chars().take(36).collect::<String>();
        let before = msg[..at].trim_end();
        let digits = before.len() - before.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        match before[..before.len() - digits].strip_suffix("seq ") {
            Some(_) if digits > 0 => with_seq.push((before[before.len() - digits..].parse().expect("seq"), id)),
            _ => without.push(id),
        }
    }
    assert_eq!(msg.matches("seq ").count(), with_seq.len(), "a seq named without its event: {msg}");
    (with_seq, without)
}

#[test]
fn rule_breaks_name_only_recorded_events_with_their_real_seq() {
    const FOUNDING: &str = "e62225f2-242f-49eb-bf9b-127e1ab1a658";
    const ISR_ACCESSION: &str = "138d0897-10d0-4cdc-b2ae-955cf0ef38ce";
    const NLD_ACCESSION: &str = "0768b8bf-f1d9-4203-90c9-4fa0285f295e";
    let l = Ledger::new();
    l.run(&["import", s(&isa_log())]).ok();
    let log = parse_lines(&l.export());
    let event_at = |seq: u64| log.get(seq as usize - 1).map(|e| e["id"].as_str().expect("id").to_owned());
    let flags = |kind: &'static str, date: &'static str, member: &'static str| {
        vec!["append", "--type", kind, "--org", "isa", "--date", date, "--member", member]
    };
    let with = |mut args: Vec<&'static str>, more: &[&'static str]| {
        args.extend_from_slice(more);
        args
    };
    // The command, a phrase of its message, and the recorded events it must name.
    let cases = vec![
        // ARE is a founder: the founding made it a member, back-dated or not.
        (flags("accession", "2024-01-01", "ARE"), "ARE is already a member (full)", vec![(1, FOUNDING)]),
        (flags("accession", "2030-01-01", "ARE"), "ARE is already a member (full)", vec![(1, FOUNDING)]),
        // Israel's recorded accession (seq 5) is the step that breaks.
        (flags("accession", "2018-01-01", "ISR"), "ISR is already a member", vec![(5, ISR_ACCESSION)]),
        (flags("founding", "2016", "XYZ"), "already founded", vec![(1, FOUNDING)]),
        (flags("founding", "2020", "XYZ"), "already founded", vec![(1, FOUNDING)]),
        (flags("withdrawal", "2018", "NLD"), "NLD is not a member", vec![]),
        // A correction that would admit a founder again.
        (
            with(flags("accession", "2022-04-03", "ARE"), &["--supersedes", NLD_ACCESSION]),
            "ARE is already a member (full)",
            vec![(1, FOUNDING)],
        ),
    ];
    let before = snapshot(&l);
    for (args, phrase, expected) in &cases {
        let label = args.join(" ");
        let msg = assert_refused_from(&l, &before, 1, || l.run(args), phrase, &label);
        let (with_seq, without) = named_events(&msg);
        for (seq, id) in &with_seq {
            assert_eq!(event_at(*seq).as_deref(), Some(id.as_str()), "{label}: no event {id} at seq {seq}: {msg}");
        }
        for (seq, id) in expected {
            assert!(with_seq.contains(&(*seq, (*id).to_owned())), "{label}: seq {seq} (event {id}) unnamed: {msg}");
        }
        // An event named with no seq is the refused one, which is not in the log.
        for id in &without {
            l.run(&["show", id]).fails(1);
        }
    }
}

/// Back-dated events deep in a long import are checked against every
/// earlier event of their org, also those the import itself recorded: each
/// withdrawal below, back-dated before the org's exercises, of a party the
/// import's first line admitted, is recorded. Each reloads the org's
/// timeline, from its copies in the index and those handed over but not
/// indexed; the store reads the index only once its writing thread has
/// indexed what it was handed. It used to read it first: a reload right
/// after the batch that has the thread index the import's first 32,768
/// events found neither them in the index nor them handed over, and the
/// import was refused ("P9 is not a member", line 33,811 on the bench's
/// VM) — and a back-dated event that breaks a rule was recorded.
#[test]
fn back_dated_events_past_the_first_index_batch_see_the_whole_import() {
    let l = Ledger::new();
    l.append(r#"{"type":"founding","org":"a","date":"1990","members":["F"],"source":"s"}"#);
    let parties: Vec<String> = (0..60).map(|k| format!(r#""P{k}""#)).collect();
    let all = parties.join(",");
    let mut text = format!(r#"{{"type":"accession","org":"a","date":"2000-01-01","members":[{all}],"source":"s"}}"#);
    text.push('\n');
    let mut withdrawn = 0;
    for i in 0..44_000 {
        if i >= 32_000 && i % 200 == 0 && withdrawn < parties.len() {
            let party = &parties[withdrawn];
            text +=
                &format!(r#"{{"type":"withdrawal","org":"a","date":"2000-06-01","members":[{party}],"source":"s"}}"#);
            text.push('\n');
            withdrawn += 1;
        }
        text += &format!(r#"{{"type":"exercise","org":"a","date":"2001","name":"x{i}","source":"s"}}"#);
        text.push('\n');
    }
    assert_eq!(withdrawn, parties.len());
    let out = l.import_text(&text).ok().to_owned();
    assert!(out.contains("recorded 44061 events"), "{out}");
    let members = l.members("a", "2000-07-01", &[]);
    assert_eq!(members["members"].as_array().map(Vec::len), Some(1), "only the founder: {members}");
    verifies(&l, "after the import");
    // And the other way: a back-dated accession of a party the import
    // admitted, a line past that batch, is refused.
    let mut text = String::from(r#"{"type":"accession","org":"a","date":"2003-01-01","members":["Q"],"source":"s"}"#);
    text.push('\n');
    for i in 0..33_800 {
        text += &format!(r#"{{"type":"exercise","org":"a","date":"2004","name":"y{i}","source":"s"}}"#);
        text.push('\n');
    }
    text += r#"{"type":"accession","org":"a","date":"2002-01-01","members":["Q"],"source":"late"}"#;
    let err = l.import_text(&text).fails(1).to_owned();
    assert!(err.contains("line 33802") && err.contains("Q is already a member"), "{err}");
    verifies(&l, "after the refused import");
}

/// An import that breaks a rule against one of its own earlier lines: that
/// line is not in the log (the import is refused whole), so it is named by
/// its date and id, never by the seq it would have had.
#[test]
fn rule_breaks_in_an_import_name_its_earlier_lines_by_date_not_seq() {
    const FOUNDING: &str = "e62225f2-242f-49eb-bf9b-127e1ab1a658";
    const NLD_ACCESSION: &str = "0768b8bf-f1d9-4203-90c9-4fa0285f295e";
    let l = Ledger::new();
    l.run(&["import", s(&isa_log())]).ok();
    let head = l.head().0;
    assert_eq!(head, 14);
    let log = parse_lines(&l.export());
    let event_at = |seq: u64| log.get(seq as usize - 1).map(|e| e["id"].as_str().expect("id").to_owned());
    // Line `n` of a case's file has id ID(n).
    let id = |n: usize| format!("00000000-0000-4000-8000-{n:012}");
    let line = |n: usize, kind: &str, date: &str, members: &str| {
        let members = if members.is_empty() { String::new() } else { format!(r#","members":["{members}"]"#) };
        format!(r#"{{"type":"{kind}","org":"isa","date":"{date}"{members},"id":"{}"}}"#, id(n))
    };
    // A file's lines, the line refused, a phrase of its message, the earlier
    // lines it must name (line, date) and the recorded events (seq, id).
    type Case = (Vec<String>, usize, &'static str, Vec<(usize, &'static str)>, Vec<(u64, &'static str)>);
    let cases: Vec<(&str, Case)> = vec![
        (
            "an accession twice, the second last",
            (
                vec![line(1, "accession", "2024-01-01", "QQQ"), line(2, "accession", "2024-06-01", "QQQ")],
                2,
                "QQQ is already a member (full), since the accession dated 2024-01-01",
                vec![(1, "2024-01-01")],
                vec![],
            ),
        ),
        (
            "an accession twice, the second back-dated",
            (
                vec![line(1, "accession", "2024-01-01", "QQQ"), line(2, "accession", "2023-01-01", "QQQ")],
                2,
                "QQQ is already a member (full)",
                vec![(1, "2024-01-01")],
                vec![],
            ),
        ),
        (
            "a withdrawal of a party admitted in the file, then a back-dated second one",
            (
                vec![
                    line(1, "accession", "2024-01-01", "QQQ"),
                    line(2, "withdrawal", "2024-06-01", "QQQ"),
                    line(3, "withdrawal", "2024-03-01", "QQQ"),
                ],
                3,
                "QQQ is not a member",
                vec![(2, "2024-06-01")],
                vec![],
            ),
        ),
        (
            "a withdrawal of a party admitted in the file, then a second one",
            (
                vec![
                    line(1, "accession", "2024-01-01", "QQQ"),
                    line(2, "withdrawal", "2024-06-01", "QQQ"),
                    line(3, "withdrawal", "2024-09-01", "QQQ"),
                ],
                3,
                "QQQ is not a member",
                vec![],
                vec![],
            ),
        ),
        (
            "a suspension and reinstatement of a recorded member, then a second reinstatement",
            (
                vec![
                    line(1, "suspension", "2024-01-01", "NLD"),
                    line(2, "reinstatement", "2024-06-01", "NLD"),
                    line(3, "reinstatement", "2024-09-01", "NLD"),
                ],
                3,
                "NLD is not suspended: it has been full since the reinstatement dated 2024-06-01",
                vec![(2, "2024-06-01")],
                vec![],
            ),
        ),
        (
            "a suspension twice",
            (
                vec![line(1, "suspension", "2024-01-01", "NLD"), line(2, "suspension", "2024-02-01", "NLD")],
                2,
                "NLD is already suspended, since the suspension dated 2024-01-01",
                vec![(1, "2024-01-01")],
                vec![],
            ),
        ),
        (
            "a back-dated reinstatement before the file's suspension",
            (
                vec![
                    line(1, "suspension", "2024-01-01", "NLD"),
                    line(2, "reinstatement", "2024-06-01", "NLD"),
                    line(3, "reinstatement", "2023-06-01", "NLD"),
                ],
                3,
                "NLD is not suspended",
                vec![],
                vec![(12, NLD_ACCESSION)],
            ),
        ),
        (
            "a withdrawal after the file's dissolution",
            (
                vec![line(1, "dissolution", "2026-01-01", ""), line(2, "withdrawal", "2026-02-01", "ARE")],
                2,
                "it comes after the dissolution dated 2026-01-01",
                vec![(1, "2026-01-01")],
                vec![],
            ),
        ),
        (
            "an accession of a founder, after the file's own events",
            (
                vec![line(1, "suspension", "2024-01-01", "NLD"), line(2, "accession", "2024-02-01", "ARE")],
                2,
                "ARE is already a member (full)",
                vec![],
                vec![(1, FOUNDING)],
            ),
        ),
    ];
    let before = snapshot(&l);
    for (label, (lines, refused, phrase, earlier, recorded)) in &cases {
        let text = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
        let msg = assert_refused_from(&l, &before, 1, || l.import_text(&text), phrase, label);
        assert!(msg.contains(&format!("stdin line {refused}: ")), "{label}: {msg}");
        let (with_seq, without) = named_events(&msg);
        for (seq, id) in &with_seq {
            assert!(*seq <= head, "{label}: seq {seq} is not in the log, whose head is seq {head}: {msg}");
            assert_eq!(event_at(*seq).as_deref(), Some(id.as_str()), "{label}: no event {id} at seq {seq}: {msg}");
        }
        for (seq, id) in recorded {
            assert!(with_seq.contains(&(*seq, (*id).to_owned())), "{label}: seq {seq} (event {id}) unnamed: {msg}");
        }
        for (n, date) in earlier {
            let named = format!("dated {date} (event {}), earlier in this import", id(*n));
            assert!(msg.contains(&named), "{label}: line {n} is not named as {named:?}: {msg}");
        }
        // An event named with no seq is one of the file's, not in the log.
        for id in &without {
            l.run(&["show", id]).fails(1);
        }
    }

    // Lines written to the store in batches (of 64), but not committed, are
    // not in the log either: line 1 is named by date after a batch is written.
    let mut lines = vec![line(1, "accession", "2024-01-01", "QQQ")];
    lines.extend(
        (0..70).map(|i| format!(r#"{{"type":"exercise","org":"isa","date":"2024-02-01","name":"drill {i}"}}"#)),
    );
    lines.push(line(2, "accession", "2023-01-01", "QQQ"));
    let text = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
    let msg = assert_refused_from(&l, &before, 1, || l.import_text(&text), "QQQ is already a member", "batches");
    let (with_seq, _) = named_events(&msg);
    assert!(with_seq.iter().all(|(seq, _)| *seq <= head), "batches: {msg}");
    assert!(msg.contains(&format!("dated 2024-01-01 (event {}), earlier in this import", id(1))), "batches: {msg}");

    // Once an import is committed, its events are in the log: the next
    // command names them by their seq.
    l.import_text(&format!("{}\n", line(1, "accession", "2024-01-01", "QQQ"))).ok();
    let msg = assert_refused_with(
        &l,
        1,
        || l.import_text(&format!("{}\n", line(2, "accession", "2024-06-01", "QQQ"))),
        "QQQ is already a member (full)",
        "after a commit",
    );
    assert!(msg.contains(&format!("since the accession at seq 15 (event {})", id(1))), "after a commit: {msg}");
    assert!(!msg.contains("earlier in this import"), "after a commit: {msg}");
}

// ---------------------------------------------------------------------------
// 2. Idempotent appends and derived ids

fn append_json(l: &Ledger, args: &[&str]) -> Value {
    let mut all = vec!["--json", "append"];
    all.extend_from_slice(args);
    l.run(&all).json()
}

#[test]
fn appending_the_same_event_twice_is_a_no_op_that_says_so() {
    let l = Ledger::new();
    let founding = r#"{"type":"founding","org":"x","date":"2000","members":["F"]}"#;
    let out = l.append(founding);
    assert!(out.starts_with("recorded"), "{out}");
    let again = l.run(&["append", founding]);
    assert!(again.ok().contains("already recorded"), "{}", again.stdout);
    assert_eq!(l.head().0, 1);

    // Built with flags.
    let flags = ["--type", "accession", "--org", "x", "--date", "2020", "--member", "A"];
    let first = append_json(&l, &flags);
    assert_eq!(first["outcome"], "recorded", "{first}");
    assert_eq!(first["seq"], 2, "{first}");
    let id = first["id"].as_str().expect("id").to_owned();
    let before = snapshot(&l);
    let second = append_json(&l, &flags);
    assert_eq!(second["outcome"], "already recorded", "{second}");
    assert_eq!((second["seq"].as_u64(), second["id"].as_str()), (Some(2), Some(id.as_str())), "{second}");
    let mut text_args = vec!["append"];
    text_args.extend_from_slice(&flags);
    let text = l.run(&text_args);
    assert!(text.ok().contains("already recorded"), "{}", text.stdout);
    assert!(text.stdout.contains(&id), "{}", text.stdout);

    // The same content as JSON, keys in another order and spaced out, on the
    // command line, on stdin, with the derived id given explicitly.
    let reordered = r#"{ "members": ["A"],  "date": "2020", "org": "x", "type": "accession" }"#;
    let v = append_json(&l, &[reordered]);
    assert_eq!((v["outcome"].as_str(), v["id"].as_str()), (Some("already recorded"), Some(id.as_str())), "{v}");
    let r = l.run_stdin(&["--json", "append"], reordered.as_bytes());
    assert_eq!(r.json()["id"].as_str(), Some(id.as_str()), "{}", r.stdout);
    let with_id = format!(r#"{{"id":"{id}","type":"accession","org":"x","date":"2020","members":["A"]}}"#);
    assert_eq!(append_json(&l, &[&with_id])["outcome"], "already recorded");
    // Uppercase spelling of the id is the same id.
    let upper =
        format!(r#"{{"id":"{}","type":"accession","org":"x","date":"2020","members":["A"]}}"#, id.to_uppercase());
    assert_eq!(append_json(&l, &[&upper])["outcome"], "already recorded");
    assert_eq!(snapshot(&l), before, "a repeated event changed the ledger");

    // The derived id depends on the content only: another ledger, at another
    // time, by another actor, with keys in another order, gives the same id.
    let other = Ledger::new();
    other.append(r#"{"members":["F"],"date":"2000","type":"founding","org":"x"}"#);
    let v = other.run(&["--json", "--actor", "someone-else", "append", reordered]).json();
    assert_eq!((v["outcome"].as_str(), v["id"].as_str()), (Some("recorded"), Some(id.as_str())), "{v}");
    // Different content, different id.
    let v = append_json(&l, &["--type", "accession", "--org", "x", "--date", "2020", "--member", "B"]);
    assert_ne!(v["id"].as_str(), Some(id.as_str()), "{v}");
}

// ---------------------------------------------------------------------------
// 3. and 4. Import

#[test]
fn importing_the_same_file_twice_records_nothing_the_second_time() {
    let l = Ledger::new();
    let isa = isa_log();
    let first = l.run(&["import", s(&isa)]);
    assert!(first.ok().contains("recorded 14 events (0 already recorded)"), "{}", first.stdout);
    let before = snapshot(&l);
    let second = l.run(&["import", s(&isa)]);
    assert!(second.ok().contains("recorded 0 events (14 already recorded)"), "{}", second.stdout);
    assert_eq!(snapshot(&l), before);
    let v = l.run(&["--json", "import", s(&isa)]).json();
    assert_eq!((v["recorded"].as_u64(), v["already_recorded"].as_u64()), (Some(0), Some(14)), "{v}");
    assert_eq!(snapshot(&l), before);

    // A file holding those events and one more records just the new one.
    let text = std::fs::read_to_string(&isa).expect("read isa")
        + r#"{"type":"withdrawal","org":"isa","date":"2026-01","members":["BRA"]}"#;
    let r = l.import_text(&text);
    assert!(r.ok().contains("recorded 1 event (14 already recorded)"), "{}", r.stdout);
    assert_eq!(l.head().0, 15);
}

/// An import given again is checked line by line, each event looked for
/// after the last one found before its id is looked up: a line that
/// follows the log but differs (here, only in its id) is a new event, and
/// lines out of the log's order are still found.
#[test]
fn an_import_given_again_finds_each_event_whatever_the_order_and_records_what_differs() {
    let l = Ledger::new();
    let event = |n: u32, id: u32| match n {
        1 => format!(
            r#"{{"type":"founding","org":"x","date":"2000","members":["A"],"id":"00000000-0000-0000-0000-{id:012}"}}"#
        ),
        _ => format!(
            r#"{{"type":"exercise","org":"x","date":"200{n}","name":"E{n}","id":"00000000-0000-0000-0000-{id:012}"}}"#
        ),
    };
    let lines = |events: &[(u32, u32)]| events.iter().map(|&(n, id)| event(n, id) + "\n").collect::<String>();
    l.import_text(&lines(&[(1, 1), (2, 2), (3, 3), (4, 4)])).ok();
    // The second line follows the first found, but with another id.
    let r = l.import_text(&lines(&[(1, 1), (2, 9), (3, 3), (4, 4)]));
    assert!(r.ok().contains("recorded 1 event (3 already recorded)"), "{}", r.stdout);
    assert_eq!(l.head().0, 5);
    // Backwards, and with a gap: every one is found.
    let r = l.import_text(&lines(&[(4, 4), (3, 3), (1, 1), (2, 9), (2, 2)]));
    assert!(r.ok().contains("recorded 0 events (5 already recorded)"), "{}", r.stdout);
    verifies(&l, "after the imports given again");
}

#[test]
fn an_import_with_one_bad_line_records_nothing_and_names_file_and_line() {
    let l = base_ledger();
    let dir = tempfile::tempdir().expect("temp dir");
    let good = |i: usize| format!(r#"{{"type":"accession","org":"x","date":"2020","members":["N{i}"]}}"#);

    // A malformed line 4, with a blank line 3 (lines are counted as in the file).
    let text = format!("{}\n{}\n\n{{\"type\":\"accession\",\n{}\n", good(1), good(2), good(3));
    let file = write_file(&dir.path().join("bad-json.ndjson"), &text);
    let msg =
        assert_refused_with(&l, 1, || l.run(&["import", s(&file)]), &format!("{} line 4", file.display()), "json");
    assert!(msg.contains("not valid JSON") || msg.contains("ends too early"), "{msg}");

    // A line that breaks a rule (A is already a member of x).
    let text =
        format!("{}\n{}\n{}\n", good(1), r#"{"type":"accession","org":"x","date":"2020","members":["A"]}"#, good(3));
    let file = write_file(&dir.path().join("rule.ndjson"), &text);
    let msg =
        assert_refused_with(&l, 1, || l.run(&["import", s(&file)]), &format!("{} line 2", file.display()), "rule");
    assert!(msg.contains("already a member"), "{msg}");

    // A bad line after more good lines than one write batch holds: what was
    // already written is undone.
    let mut text: String = (1..=1500).map(|i| good(i) + "\n").collect();
    text.push_str(r#"{"type":"accession","org":"x","date":"2021","members":["N7"]}"#);
    text.push('\n');
    text.push_str(&good(1501));
    let file = write_file(&dir.path().join("long.ndjson"), &text);
    let msg =
        assert_refused_with(&l, 1, || l.run(&["import", s(&file)]), &format!("{} line 1501", file.display()), "long");
    assert!(msg.contains("N7 is already a member"), "{msg}");
    assert_eq!(l.members("x", "2030-01-01", &[])["count"], 3, "members A, B (suspended), C only");

    // Several files: a good first file is not recorded when the second is bad.
    let a = write_file(&dir.path().join("a.ndjson"), &format!("{}\n{}\n", good(1), good(2)));
    let b = write_file(&dir.path().join("b.ndjson"), &format!("{}\n{{\"type\":\"merger\"}}\n", good(3)));
    assert_refused_with(&l, 1, || l.run(&["import", s(&a), s(&b)]), &format!("{} line 2", b.display()), "two files");

    // stdin is named as such.
    let msg = assert_refused_with(&l, 1, || l.import_text(&format!("{}\n[]\n", good(1))), "stdin line 2", "stdin");
    assert!(msg.contains("must be a JSON object"), "{msg}");

    // A file that does not exist: named, nothing recorded.
    let missing = dir.path().join("missing.ndjson");
    assert_refused_with(&l, 1, || l.run(&["import", s(&a), s(&missing)]), "missing.ndjson", "missing file");

    // Into an empty ledger, the same: nothing recorded at all.
    let empty = Ledger::new();
    let isa = std::fs::read_to_string(isa_log()).expect("read isa");
    let broken = isa.replacen("\"date\": \"2019\"", "\"date\": \"2019-02-30\"", 1);
    assert_ne!(broken, isa, "the ISA log no longer has the line this test breaks");
    let msg = assert_refused_with(&empty, 1, || empty.import_text(&broken), "stdin line 3", "empty ledger");
    assert!(msg.contains("not a valid date"), "{msg}");
    assert_eq!(empty.head().0, 0);
}

#[test]
fn import_reads_stdin_several_files_and_directories() {
    let isa = std::fs::read_to_string(isa_log()).expect("read isa");
    let isa_lines = lines(&isa);
    let expected_ids = ids_of(&isa);
    assert_eq!(expected_ids.len(), 14);
    let first_half: String = isa_lines[..7].iter().map(|l| format!("{l}\n")).collect();
    let second_half: String = isa_lines[7..].iter().map(|l| format!("{l}\n")).collect();
    let dir = tempfile::tempdir().expect("temp dir");

    // stdin
    let l = Ledger::new();
    assert!(l.import_text(&isa).ok().contains("recorded 14 events"));
    assert_eq!(ids_of(&l.export()), expected_ids);

    // several files, in the order given
    let p1 = write_file(&dir.path().join("files/part1.ndjson"), &first_half);
    let p2 = write_file(&dir.path().join("files/part2.ndjson"), &second_half);
    let l = Ledger::new();
    assert!(l.run(&["import", s(&p1), s(&p2)]).ok().contains("recorded 14 events"));
    assert_eq!(ids_of(&l.export()), expected_ids);
    // in the wrong order the second half comes before the org's founding
    let l = Ledger::new();
    assert_refused_with(&l, 1, || l.run(&["import", s(&p2), s(&p1)]), "line 1", "wrong order");

    // a file and stdin
    let l = Ledger::new();
    let r = l.run_stdin(&["import", s(&p1), "-"], second_half.as_bytes());
    assert!(r.ok().contains("recorded 14 events"), "{}", r.stdout);
    assert_eq!(ids_of(&l.export()), expected_ids);

    // a directory: its NDJSON files by name, other files left alone
    let d = dir.path().join("dir");
    write_file(&d.join("02-second.ndjson"), &second_half);
    write_file(&d.join("01-first.ndjson"), &first_half);
    write_file(&d.join("README.md"), "# Not events\nThese notes are not NDJSON.\n");
    let l = Ledger::new();
    let r = l.run(&["import", s(&d)]);
    assert!(r.ok().contains("recorded 14 events"), "{}", r.stdout);
    assert_eq!(ids_of(&l.export()), expected_ids);
    assert_eq!(l.members("isa", "2026-11-29", &[])["count"], 12);
    // and a second import of the directory is a no-op
    let before = snapshot(&l);
    assert!(l.run(&["import", s(&d)]).ok().contains("14 already recorded"));
    assert_eq!(snapshot(&l), before);
}

// ---------------------------------------------------------------------------
// 5. Export and restore

/// A ledger with the ISA log, the base orgs and a few corrections.
fn rich_ledger() -> Ledger {
    let l = base_ledger();
    l.run(&["import", s(&isa_log())]).ok();
    l.append(&format!(
        r#"{{"type":"accession","org":"x","date":"2010","members":["D"],"supersedes":"{D_ACCESSION}"}}"#
    ));
    l.append(r#"{"type":"exercise","org":"y","date":"2021-05","name":"Drill","place":"Zürich","participants":["A"]}"#);
    l
}

#[test]
fn an_export_restores_the_identical_log() {
    let l = rich_ledger();
    let export = l.export();
    let head = l.head();
    assert_eq!(head.0, 26);

    // Into an empty ledger: the identical log.
    let copy = Ledger::new();
    let r = copy.import_text(&export);
    assert!(r.ok().contains("recorded 26 events"), "{}", r.stdout);
    assert_eq!(copy.head(), head);
    assert_eq!(copy.export(), export);
    copy.run(&["audit", "verify"]).ok();

    // A second import of the export is a no-op.
    let before = snapshot(&copy);
    let r = copy.import_text(&export);
    assert!(r.ok().contains("recorded 0 events (26 already recorded)"), "{}", r.stdout);
    assert_eq!(snapshot(&copy), before);

    // Into a ledger that holds a prefix of the log: it is completed.
    let prefix: String = lines(&export)[..9].iter().map(|l| format!("{l}\n")).collect();
    let partial = Ledger::new();
    partial.import_text(&prefix).ok();
    assert_eq!(partial.head().0, 9);
    let r = partial.import_text(&export);
    assert!(r.ok().contains("recorded 17 events (9 already recorded)"), "{}", r.stdout);
    assert_eq!(partial.export(), export);

    // Through a file written by `export -o`.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("log.ndjson");
    assert_eq!(l.run(&["export", "-o", s(&file)]).ok(), "");
    let from_file = Ledger::new();
    from_file.run(&["import", s(&file)]).ok();
    assert_eq!(from_file.head(), head);

    // Into a ledger that already has other events: refused, nothing changes.
    let other = Ledger::new();
    other.append(r#"{"type":"founding","org":"other","date":"1990","members":["O"]}"#);
    other.append(r#"{"type":"accession","org":"other","date":"1991","members":["P"]}"#);
    assert_refused_with(&other, 1, || other.import_text(&export), "stdin line 1", "export into another log");
    assert_refused_with(&other, 1, || other.run(&["import", s(&file)]), "line 1", "export file into another log");

    // An export that was tampered with is refused, and records nothing.
    let tampered = export.replacen("\"members\":[\"C\"]", "\"members\":[\"Q\"]", 1);
    assert_ne!(tampered, export);
    let fresh = Ledger::new();
    assert_refused_with(&fresh, 1, || fresh.import_text(&tampered), "hash", "tampered export");
    // An export with a line left out does not continue the log.
    let mut gappy: Vec<&str> = lines(&export);
    gappy.remove(4);
    let gappy = gappy.join("\n");
    let msg = assert_refused_with(&fresh, 1, || fresh.import_text(&gappy), "stdin line 5", "gap");
    assert!(msg.contains("seq 6"), "{msg}");
    assert_eq!(fresh.head().0, 0);
}

// ---------------------------------------------------------------------------
// 6. The hash chain, checked without accord's code

/// RFC 8785 canonical JSON of a value. serde_json's string escaping is the
/// JCS one for the strings used here; numbers must be integers that a double
/// holds exactly (the test data has no others).
fn jcs(v: &Value, out: &mut String) {
    match v {
        Value::Null | Value::Bool(_) | Value::String(_) => out.push_str(&v.to_string()),
        Value::Number(n) => {
            let exact =
                n.as_i64().is_some_and(|i| i.unsigned_abs() < (1 << 53)) || n.as_u64().is_some_and(|u| u < (1 << 53));
            assert!(exact, "the test canonicalizer only handles small integers, got {n}");
            out.push_str(&n.to_string());
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                jcs(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by_key(|k| k.encode_utf16().collect::<Vec<u16>>());
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                jcs(&map[k], out);
            }
            out.push('}');
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks an export as SPEC §4 says anyone can; returns the number of lines.
fn check_chain(export: &str) -> Result<u64, String> {
    let mut prev = "0".repeat(64);
    let mut last_time = String::new();
    let mut n = 0u64;
    for line in export.lines() {
        n += 1;
        let Value::Object(mut map) = serde_json::from_str(line).map_err(|e| format!("line {n}: {e}"))? else {
            return Err(format!("line {n} is not an object"));
        };
        let Some(Value::String(hash)) = map.remove("hash") else { return Err(format!("line {n} has no hash")) };
        if map.get("seq").and_then(Value::as_u64) != Some(n) {
            return Err(format!("line {n} has seq {:?}", map.get("seq")));
        }
        if map.get("prev").and_then(Value::as_str) != Some(prev.as_str()) {
            return Err(format!("line {n}: prev is not the hash of line {}", n - 1));
        }
        let mut canonical = String::new();
        jcs(&Value::Object(map.clone()), &mut canonical);
        if sha256_hex(canonical.as_bytes()) != hash {
            return Err(format!("line {n}: the hash does not match the content"));
        }
        let at = map.get("recorded_at").and_then(Value::as_str).ok_or(format!("line {n}: no recorded_at"))?;
        let parsed = chrono::DateTime::parse_from_rfc3339(at).map_err(|e| format!("line {n}: recorded_at: {e}"))?;
        // RFC 3339, UTC, microseconds: 2026-01-02T03:04:05.123456Z.
        if at.len() != 27 || !at.ends_with('Z') || at.as_bytes()[19] != b'.' {
            return Err(format!("line {n}: recorded_at {at} is not UTC with microseconds"));
        }
        if !last_time.is_empty() && parsed < chrono::DateTime::parse_from_rfc3339(&last_time).expect("checked") {
            return Err(format!("line {n}: recorded_at goes back in time"));
        }
        last_time = at.to_owned();
        prev = hash;
    }
    Ok(n)
}

#[test]
fn the_exported_hash_chain_verifies_by_an_independent_computation() {
    let l = rich_ledger();
    // Content that exercises key order, escaping and nesting.
    l.append(
        r#"{"type":"exercise","org":"y","date":"2022-01-05~","name":"Ünïcode “drill” – \"quoted\" back\\slash","note":"line one\nline two\ttabbed \u0001 and /slash/ and €","details":{"Zeta":1,"alpha":[true,false,null,-7,0,{}],"_x":{"b":[],"a":"é"},"é":"accent","\u00e9t\u00e9":2,"A":{"nested":{"deep":["x"]}}},"source":{"title":"T","url":"https://example.org/a?b=c&d=e"}}"#,
    );
    l.append(r#"{"type":"retraction","org":"x","retracts":"00000000-0000-4000-8000-000000000003","reason":"wrong: B was never suspended"}"#);
    let export = l.export();
    let n = check_chain(&export).unwrap_or_else(|e| panic!("the export does not verify: {e}"));
    assert_eq!(n, 28);
    assert_eq!(l.head().0, n);
    // The head is the hash of the last line.
    let last: Value = serde_json::from_str(export.lines().last().expect("a line")).expect("JSON");
    assert_eq!(last["hash"].as_str(), Some(l.head().1.as_str()));

    // The checker is not vacuous: it notices any change.
    let tampered = export.replacen("\"recorded_by\":\"tester\"", "\"recorded_by\":\"mallory\"", 1);
    assert!(check_chain(&tampered).unwrap_err().contains("hash does not match"));
    let mut swapped: Vec<&str> = export.lines().collect();
    swapped.swap(3, 4);
    assert!(check_chain(&swapped.join("\n")).is_err());
}

// ---------------------------------------------------------------------------
// 7. recorded_by

#[test]
fn recorded_by_is_the_actor_flag_else_accord_actor_else_the_os_user() {
    let l = Ledger::new();
    l.append(r#"{"type":"founding","org":"x","date":"2000","members":["F"]}"#);
    let recorded_by = |args: &[&str], actor_env: Option<&str>, user: &str| -> String {
        let mut c = l.command(args);
        match actor_env {
            Some(a) => c.env("ACCORD_ACTOR", a),
            None => c.env_remove("ACCORD_ACTOR"),
        };
        c.env("USER", user).env("LOGNAME", user);
        let r = Run::from(c.stdin(Stdio::null()).output().expect("run accord"));
        r.ok();
        let last = l.export();
        let v: Value = serde_json::from_str(last.lines().last().expect("a line")).expect("JSON");
        v["recorded_by"].as_str().expect("recorded_by").to_owned()
    };
    let acc = |m: &str| format!(r#"{{"type":"accession","org":"x","date":"2001","members":["{m}"]}}"#);
    let cases: &[(&str, Option<&str>, &str)] =
        &[("--actor", Some("env-actor"), "flag-actor"), ("", Some("env-actor"), "env-actor"), ("", None, "os-user")];
    for (i, (flag, env, expected)) in cases.iter().enumerate() {
        let event = acc(&format!("M{i}"));
        let mut args = vec![];
        if !flag.is_empty() {
            args.extend(["--actor", "flag-actor"]);
        }
        args.extend(["append", event.as_str()]);
        assert_eq!(recorded_by(&args, *env, "os-user"), *expected, "append with {args:?}, ACCORD_ACTOR={env:?}");
    }
    // Import records the same way.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_file(&dir.path().join("e.ndjson"), &(acc("I1") + "\n"));
    assert_eq!(recorded_by(&["--actor", "importer", "import", s(&file)], Some("env-actor"), "u"), "importer");
    let file = write_file(&dir.path().join("f.ndjson"), &(acc("I2") + "\n"));
    assert_eq!(recorded_by(&["import", s(&file)], None, "os-user"), "os-user");
}

#[test]
fn recorded_by_without_user_or_logname_is_the_name_of_the_uid() {
    let id = |flag: &str| {
        let out = std::process::Command::new("id").arg(flag).output().expect("run id");
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    // The passwd name of the uid, as `id -un` prints it; with none, `uid N`.
    let expected = id("-un").unwrap_or_else(|| format!("uid {}", id("-u").expect("id -u")));
    let l = Ledger::new();
    let mut c = l.command(&["append", r#"{"type":"founding","org":"x","date":"2000","members":["F"]}"#]);
    c.env_remove("ACCORD_ACTOR").env_remove("USER").env_remove("LOGNAME");
    Run::from(c.stdin(Stdio::null()).output().expect("run accord")).ok();
    let v: Value = serde_json::from_str(l.export().trim()).expect("one envelope");
    assert_eq!(v["recorded_by"], expected.as_str(), "{v}");
}

// ---------------------------------------------------------------------------
// 8. An import killed while writing

/// An NDJSON file of `n` events: org `big` founded, then accessions of
/// distinct parties on successive days. Returns the file and the ids, in order.
fn big_log(dir: &Path, n: usize) -> (PathBuf, Vec<String>) {
    let id = |i: usize| format!("00000000-0000-4000-8000-{i:012}");
    let mut text = format!(r#"{{"type":"founding","org":"big","date":"1900-01-01","members":["F"],"id":"{}"}}"#, id(0));
    text.push('\n');
    let start = chrono::NaiveDate::from_ymd_opt(1900, 1, 2).expect("date");
    for i in 1..n {
        let day = start + chrono::Days::new(i as u64);
        text.push_str(&format!(
            r#"{{"type":"accession","org":"big","date":"{day}","members":["P{i:05}"],"id":"{}"}}"#,
            id(i)
        ));
        text.push('\n');
    }
    let file = write_file(&dir.join("big.ndjson"), &text);
    (file, (0..n).map(id).collect())
}

#[test]
fn an_import_killed_while_writing_leaves_a_ledger_that_verifies_and_can_be_completed() {
    const N: usize = 20_000;
    let dir = tempfile::tempdir().expect("temp dir");
    let (file, ids) = big_log(dir.path(), N);
    for delay in [Duration::from_millis(300), Duration::from_millis(900), Duration::from_millis(2000)] {
        let l = Ledger::new();
        let mut child =
            l.command(&["import", s(&file)]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !l.path().exists() && child.try_wait().expect("try_wait").is_none() {
            assert!(Instant::now() < deadline, "the import never created the ledger");
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(delay);
        // SIGKILL; the import may also have finished already, which is fine.
        let _ = child.kill();
        child.wait().expect("wait");

        // The ledger opens and verifies, and holds a prefix of the file.
        let v = l.run(&["audit", "verify"]);
        assert_eq!(v.code, 0, "after a kill at {delay:?}, audit verify: {}{}", v.stderr, v.stdout);
        let (seq, _) = l.head();
        assert!(seq as usize <= N);
        let export = l.export();
        assert_eq!(ids_of(&export), ids[..seq as usize], "after a kill at {delay:?}, not a prefix of the file");
        assert!(check_chain(&export).is_ok());
        eprintln!("killed after {delay:?}: {seq} of {N} events recorded");

        // Running the import again completes it.
        let r = l.run(&["import", s(&file)]);
        let left = N - seq as usize;
        let expected =
            format!("recorded {left} {} ({seq} already recorded)", if left == 1 { "event" } else { "events" });
        assert!(r.ok().contains(&expected), "{}", r.stdout);
        assert_eq!(l.head().0, N as u64);
        let export = l.export();
        assert_eq!(seqs_of(&export), (1..=N as u64).collect::<Vec<_>>(), "gap or duplicate seq");
        assert_eq!(ids_of(&export), ids, "duplicate, missing or reordered events");
        l.run(&["audit", "verify"]).ok();
    }
}

// ---------------------------------------------------------------------------
// 9. Two processes at once

#[test]
fn a_ledger_held_by_another_process_waits_then_exits_4() {
    let l = Ledger::new();
    l.append(r#"{"type":"founding","org":"x","date":"2000","members":["F"]}"#);
    let mut holder = hold(&l);

    // A reader that waits only half a second gives up with exit 4.
    let r = l.run(&["--wait", "0.5", "head"]);
    let msg = r.fails(4);
    assert!(msg.contains("held by another"), "{msg}");
    let r = l.run(&["--wait", "0", "append", r#"{"type":"accession","org":"x","date":"2002","members":["W"]}"#]);
    assert!(r.fails(4).contains("held by another"));

    // A writer that waits long enough gets the ledger once the holder is done.
    let mut writer = l
        .command(&["--wait", "10", "append", r#"{"type":"accession","org":"x","date":"2001","members":["A"]}"#])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn writer");
    std::thread::sleep(Duration::from_millis(300));
    assert!(writer.try_wait().expect("try_wait").is_none(), "the writer did not wait for the held ledger");
    {
        let mut stdin = holder.stdin.take().expect("stdin");
        stdin.write_all(br#"{"type":"accession","org":"x","date":"2001","members":["H"]}"#).expect("write");
        stdin.write_all(b"\n").expect("write");
    } // closes the holder's stdin
    let held = Run::from(holder.wait_with_output().expect("wait holder"));
    assert!(held.ok().contains("recorded 1 event "), "{}", held.stdout);
    let wrote = Run::from(writer.wait_with_output().expect("wait writer"));
    assert!(wrote.ok().contains("recorded: seq 3"), "{}", wrote.stdout);
    let export = l.export();
    let members: Vec<Value> = parse_lines(&export).iter().map(|v| v["members"][0].clone()).collect();
    assert_eq!(members, ["F", "H", "A"]);
    l.run(&["audit", "verify"]).ok();
}

// ---------------------------------------------------------------------------
// 10. Usage errors

#[test]
fn usage_errors_exit_2_and_touch_nothing() {
    let l = Ledger::new();
    let cases: &[&[&str]] = &[
        &["head", "--bogus"],
        &["--bogus", "head"],
        &["frobnicate"],
        &[],
        &["append", "--type"],
        &["append", "--org", "x"],
        &["import"],
        &["show"],
        &["members"],
        &["diff", "x", "--from", "2020-01-01"],
        &["log", "--from-seq", "ten"],
        &["--wait", "soon", "head"],
        &["--wait", "-1", "head"],
        &["members", "x", "--seq", "1", "--known-at", "2020-01-01"],
        &["audit"],
    ];
    for args in cases {
        let r = l.run(args);
        assert_eq!(r.code, 2, "{args:?}: {}{}", r.stderr, r.stdout);
        r.fails(2);
        assert!(!l.path().exists(), "{args:?} created the ledger");
    }
    // Also on an existing ledger: nothing changes.
    l.append(r#"{"type":"founding","org":"x","date":"2000","members":["F"]}"#);
    assert_refused_with(&l, 2, || l.run(&["append", "--type", "accession", "--bogus"]), "bogus", "append --bogus");
}

// ---------------------------------------------------------------------------
// 11. show, log, export

#[test]
fn show_log_and_export_give_the_recorded_envelopes() {
    let l = rich_ledger();
    let export = l.export();
    let envelopes = parse_lines(&export);
    let n = envelopes.len();

    // show ID: the event, readable and as its envelope.
    let text = l.run(&["show", C_ACCESSION]);
    assert!(text.ok().contains(C_ACCESSION) && text.stdout.contains("accession"), "{}", text.stdout);
    let shown = l.run(&["--json", "show", C_ACCESSION]).json();
    assert_eq!(shown["id"], C_ACCESSION);
    assert_eq!(&shown, envelopes.iter().find(|e| e["id"] == C_ACCESSION).expect("in export"));
    // Ids are matched whatever their case.
    assert_eq!(l.run(&["--json", "show", &C_ACCESSION.to_uppercase()]).json()["id"], C_ACCESSION);
    // A retracted event is still shown: the log keeps it.
    assert_eq!(l.run(&["--json", "show", E_ACCESSION]).json()["id"], E_ACCESSION);
    assert!(l.run(&["show", UNKNOWN]).fails(1).contains(UNKNOWN));
    // A malformed argument is a usage error (exit 2); one that is well formed and not there, exit 1.
    assert!(l.run(&["show", "not-an-id"]).fails(2).contains("not an event id"));

    // log --json: the envelopes, from a seq, of an org.
    let log = l.run(&["--json", "log"]);
    assert_eq!(parse_lines(log.ok()), envelopes);
    let from = l.run(&["--json", "log", "--from-seq", "5"]);
    assert_eq!(parse_lines(from.ok()), envelopes[4..]);
    let past = l.run(&["--json", "log", "--from-seq", "1000"]);
    assert_eq!(lines(past.ok()).len(), 0);
    let of_y: Vec<Value> = envelopes.iter().filter(|e| e["org"] == "y").cloned().collect();
    assert_eq!(of_y.len(), 2);
    assert_eq!(parse_lines(l.run(&["--json", "log", "--org", "y"]).ok()), of_y);
    let of_x: Vec<Value> = envelopes.iter().filter(|e| e["org"] == "x").cloned().collect();
    let x_late: Vec<Value> = of_x.iter().filter(|e| e["seq"].as_u64() >= Some(6)).cloned().collect();
    assert_eq!(parse_lines(l.run(&["--json", "log", "--org", "x", "--from-seq", "6"]).ok()), x_late);
    // Readable: one line per event.
    let readable = l.run(&["log", "--org", "y"]);
    assert_eq!(lines(readable.ok()).len(), 2, "{}", readable.stdout);
    assert_eq!(lines(l.run(&["log"]).ok()).len(), n);
    assert!(l.run(&["log", "--org", "Not An Org"]).fails(2).contains("not an org id"));

    // export --org: the org's lines of the full export, byte for byte.
    let y_lines: Vec<&str> = lines(&export).into_iter().filter(|line| line.contains("\"org\":\"y\"")).collect();
    assert_eq!(lines(l.run(&["export", "--org", "y"]).ok()), y_lines);
    assert_eq!(lines(l.run(&["export", "--org", "nowhere"]).ok()).len(), 0);

    // export -o FILE: the same text in the file, nothing on stdout.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("out.ndjson");
    assert_eq!(l.run(&["export", "-o", s(&file)]).ok(), "");
    assert_eq!(std::fs::read_to_string(&file).expect("read"), export);
    let org_file = dir.path().join("y.ndjson");
    l.run(&["export", "--org", "y", "--output", s(&org_file)]).ok();
    assert_eq!(lines(&std::fs::read_to_string(&org_file).expect("read")), y_lines);

    // On a ledger that does not exist, these fail and create nothing.
    let none = Ledger::new();
    for args in [&["export"][..], &["log"], &["head"], &["show", C_ACCESSION]] {
        none.run(args).fails(1);
    }
    assert!(!none.path().exists());
}

#[test]
fn a_refused_first_command_leaves_no_ledger_behind() {
    let l = Ledger::new();
    l.run(&["append", r#"{"type":"accession","org":"x","date":"2020","members":["A"]}"#]).fails(1);
    assert!(!l.path().exists(), "a refused append created a ledger");
    l.import_text("{\"type\":\"founding\",\"org\":\"x\",\"date\":\"2020\",\"members\":[\"A\"]}\nnot json\n").fails(1);
    assert!(!l.path().exists(), "a refused import created a ledger");
    // A successful one does create it, and a later refusal keeps it.
    l.append(r#"{"type":"founding","org":"x","date":"2020","members":["A"]}"#);
    l.run(&["append", r#"{"type":"accession","org":"x","date":"2021","members":["A"]}"#]).fails(1);
    assert_eq!(l.head().0, 1);
}

#[test]
fn output_into_a_closed_pipe_is_no_error_and_a_full_disk_is_one() {
    let l = rich_ledger();
    // The reader went away before accord wrote (`accord log | head -0`):
    // nothing to say, and success, whatever the command.
    for args in [&["log"][..], &["--json", "log"], &["export"], &["head"], &["members", "x"], &["audit", "verify"]] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let run = Run::from(l.command(args).stdin(Stdio::null()).stdout(writer).output().expect("run accord"));
        assert_eq!((run.code, run.stderr.as_str()), (0, ""), "accord {args:?}");
    }
    // Any other failure to write the output is one sentence, and exit 1.
    if cfg!(target_os = "linux") {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("open /dev/full");
        let run = Run::from(l.command(&["log"]).stdin(Stdio::null()).stdout(full).output().expect("run accord"));
        let msg = run.fails(1);
        assert!(msg.contains("cannot write the output: No space left on device"), "{msg}");
    }
}
