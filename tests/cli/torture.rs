//! Reliability ("torture") tests: many writers at once, an import killed with
//! SIGKILL again and again, a held ledger, and hostile input. (The property
//! tests of the parsers are in tests/domain/parsers.rs: they need no binary.)
//!
//! No assertion here is about speed: the delays only choose *when* things
//! happen, and every bound on elapsed time is a lower bound (it did wait) or a
//! generous upper one.

use std::collections::HashSet;
use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use accord::model::event::Event;

use crate::support::*;

// ---------------------------------------------------------------------------
// Helpers

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Checks an export: seq 1..=n with no gap, each `prev` the previous `hash`
/// (64 zeros first), each hash the SHA-256 of the rest, ids all distinct.
/// Returns the ids in log order.
#[track_caller]
fn check_export(export: &str) -> Vec<String> {
    let mut prev = GENESIS.to_owned();
    let mut ids = Vec::new();
    let mut seen = HashSet::new();
    for (i, line) in export.lines().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("export line {} is not JSON ({e})", i + 1));
        let Value::Object(mut map) = v else { panic!("export line {} is not an object", i + 1) };
        assert_eq!(
            map.get("seq").and_then(Value::as_u64),
            Some(i as u64 + 1),
            "gap or duplicate seq at line {}",
            i + 1
        );
        assert_eq!(map.get("prev").and_then(Value::as_str), Some(prev.as_str()), "broken chain at seq {}", i + 1);
        let Some(Value::String(hash)) = map.remove("hash") else { panic!("no hash at seq {}", i + 1) };
        assert_eq!(
            accord::model::canonical::sha256_hex(&Value::Object(map.clone())),
            hash,
            "wrong hash at seq {}",
            i + 1
        );
        let id = map.get("id").and_then(Value::as_str).expect("id").to_owned();
        assert!(seen.insert(id.clone()), "event {id} appears twice (second at seq {})", i + 1);
        ids.push(id);
        prev = hash;
    }
    ids
}

// ---------------------------------------------------------------------------
// 1. Eight processes appending at once

#[test]
fn eight_processes_appending_at_once_give_a_gapless_log() {
    const WRITERS: usize = 8;
    const EACH: usize = 25;
    let l = Ledger::new();
    l.append(r#"{"type":"founding","org":"conc","date":"2000-01-01","members":["F1","F2"]}"#);

    let results: Vec<Vec<(String, Run)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|w| {
                let l = &l;
                scope.spawn(move || {
                    (0..EACH)
                        .map(|i| {
                            let party = format!("W{w}-{i:02}");
                            let event = format!(
                                r#"{{"type":"accession","org":"conc","date":"2001-{:02}-{:02}","members":["{party}"]}}"#,
                                w + 1,
                                i + 1
                            );
                            let out = l
                                .command(&["--wait", "60", "append", &event])
                                .stdin(Stdio::null())
                                .output()
                                .expect("run accord");
                            (party, Run::from(out))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("writer thread")).collect()
    });

    // Every append succeeded and got its own log position.
    let mut seqs = Vec::new();
    for (party, r) in results.iter().flatten() {
        assert_eq!(r.code, 0, "append of {party} failed: {}{}", r.stderr, r.stdout);
        let seq: u64 = r
            .stdout
            .strip_prefix("recorded: seq ")
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("append of {party} said {:?}", r.stdout));
        seqs.push(seq);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (2..=(WRITERS * EACH) as u64 + 1).collect::<Vec<_>>());

    // The log is gapless and chained, with one event per append.
    let export = l.export();
    let ids = check_export(&export);
    assert_eq!(ids.len(), WRITERS * EACH + 1);
    assert_eq!(l.head().0, (WRITERS * EACH) as u64 + 1);

    // Every writer's party is a member, besides the founders.
    let members = l.run(&["members", "conc", "--json"]).json();
    assert_eq!(members["count"], WRITERS * EACH + 2, "{members}");
    let listed: HashSet<String> = crate::support::ids(&members, "members").into_iter().collect();
    for (party, _) in results.iter().flatten() {
        assert!(listed.contains(party), "{party} is not a member");
    }
    verifies(&l, "after the concurrent appends");
}

// ---------------------------------------------------------------------------
// 2. An import of 200 000 events killed with SIGKILL, five times

#[test]
fn an_import_of_200k_events_killed_five_times_then_completed() {
    let l = Ledger::new();
    let file = l.dir.path().join("big.ndjson");
    big_import_file(&file, None);

    // The first kill lands while the import writes, whether the machine
    // is fast or slow: once its data file holds a quarter of what a whole
    // import of this file writes (measured first, in a ledger of its own;
    // the import commits only at its end). A fixed delay did not: a fast
    // machine finished the import in under 2 s. The other kills come after
    // 0.25 to 5 s, while the import runs or after it ended. An import is
    // all or nothing: each kill must leave the ledger as it was, or, if the
    // import reached its commit point first, with all of it; and verifying
    // (crash.rs spreads kills over the whole import and compares exports).
    // The seed is fixed: the same delays every run.
    let whole = {
        let scratch = Ledger::new();
        scratch.run(&["import", s(&file)]).ok();
        data_size(&scratch)
    };
    assert!(whole > 0, "a whole import wrote no data file");
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut heads: Vec<(u64, String)> = Vec::new();
    let mut killed_running = 0;
    let mut undone = 0;
    for round in 1..=5 {
        let mut child = l
            .command(&["import", s(&file)])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn import");
        let started = Instant::now();
        if round == 1 {
            while data_size(&l) < whole / 4
                && child.try_wait().expect("try_wait").is_none()
                && started.elapsed() < Duration::from_secs(300)
            {
                std::thread::sleep(Duration::from_millis(2));
            }
        } else {
            std::thread::sleep(Duration::from_millis(rng.between(250, 5000)));
        }
        let delay = started.elapsed();
        let running = child.try_wait().expect("try_wait").is_none();
        killed_running += usize::from(running);
        child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
        child.wait().expect("wait");

        let when = format!("after kill {round} at {delay:?}");
        verifies(&l, &when);
        let head = l.head();
        eprintln!("{when}: head is seq {} (the import was {})", head.0, if running { "running" } else { "done" });
        let before = heads.last().map_or(0, |h| h.0);
        if running {
            assert!(
                head.0 == before || head.0 == BIG as u64,
                "{when}: a killed import left part of itself: seq {} (seq {before} before it)",
                head.0
            );
            undone += usize::from(head.0 == before && before == 0);
        } else {
            assert_eq!(head.0, BIG as u64, "{when}: an import that ended by itself recorded everything");
        }
        heads.push(head);
    }
    assert!(undone >= 1, "no kill landed while the import was writing ({killed_running} while it ran)");

    // Running the import again records it all.
    let r = l.run(&["--json", "import", s(&file)]).json();
    let before = heads.last().expect("a head").0;
    assert_eq!(r["already_recorded"], before, "{r}");
    assert_eq!(r["recorded"], BIG as u64 - before, "{r}");
    assert_eq!(r["head"]["seq"], BIG as u64, "{r}");
    assert_eq!(l.head().0, BIG as u64);

    // The export is gapless, without duplicates, in the file's order, and
    // every head seen after a kill is a prefix of it.
    let export = l.export();
    let ids = check_export(&export);
    assert_eq!(ids.len(), BIG);
    let text = std::fs::read_to_string(&file).expect("read the big file");
    for (n, (line, id)) in text.lines().zip(&ids).enumerate() {
        let event = Event::parse_str(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
        assert_eq!(event.id.to_string(), *id, "seq {} is not line {} of the file", n + 1, n + 1);
    }
    let hashes: Vec<&str> = export
        .lines()
        .map(|line| {
            let at = line.find("\"hash\":\"").expect("hash") + 8;
            &line[at..at + 64]
        })
        .collect();
    for (seq, hash) in heads.iter().filter(|(seq, _)| *seq > 0) {
        assert_eq!(hashes[*seq as usize - 1], hash, "the head seen at seq {seq} is not in the final log");
    }
    verifies(&l, "after the completed import");
}

// ---------------------------------------------------------------------------
// 3. A held ledger

#[test]
fn a_held_ledger_makes_others_wait_then_exit_4() {
    let l = Ledger::new();
    l.append(r#"{"type":"founding","org":"x","date":"2000","members":["F"]}"#);

    // `import -` holds the ledger for as long as its stdin is open.
    let mut holder = hold(&l);

    // Another process waits its second, then gives up with one sentence.
    let start = Instant::now();
    let r = l.run(&["--wait", "1", "head"]);
    let took = start.elapsed();
    let msg = r.fails(4);
    assert!(msg.contains("held by another accord process"), "{msg}");
    assert!(msg.contains("--wait"), "the message does not say how to wait longer: {msg}");
    assert!(msg.len() < 300, "{msg}");
    assert!(took >= Duration::from_millis(990), "exit 4 after {took:?}: it did not wait");
    assert!(took < Duration::from_secs(30), "exit 4 only after {took:?}");
    // A writer refused the same way records nothing.
    let r = l.run(&["--wait", "0.2", "append", r#"{"type":"accession","org":"x","date":"2001","members":["N"]}"#]);
    r.fails(4);

    // A writer that waits long enough gets the ledger once the holder is done.
    let writer = l
        .command(&["--wait", "60", "append", r#"{"type":"accession","org":"x","date":"2001","members":["W"]}"#])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the writer");
    {
        let mut stdin = holder.stdin.take().expect("stdin");
        stdin
            .write_all(b"{\"type\":\"accession\",\"org\":\"x\",\"date\":\"2001\",\"members\":[\"H\"]}\n")
            .expect("write");
    } // closes the holder's stdin: it records, commits and lets go
    let held = Run::from(holder.wait_with_output().expect("wait for the holder"));
    assert!(held.ok().contains("recorded 1 event "), "{}", held.stdout);
    let wrote = Run::from(writer.wait_with_output().expect("wait for the writer"));
    assert!(wrote.ok().starts_with("recorded: seq 3"), "{}", wrote.stdout);
    assert_eq!(check_export(&l.export()).len(), 3);
    assert_eq!(ids(&l.members("x", "2030-01-01", &[]), "members"), ["F", "H", "W"]);
    verifies(&l, "after the held ledger was released");
}

// ---------------------------------------------------------------------------
// 4. Hostile input

/// A valid accession to org `x` (not yet recorded), as an object to spoil.
fn good() -> Map<String, Value> {
    let v = json!({"type": "accession", "org": "x", "date": "2021-01-01", "members": ["D"]});
    v.as_object().expect("object").clone()
}

/// The good accession with `field` set to `value`.
fn with(field: &str, value: Value) -> String {
    let mut m = good();
    m.insert(field.to_owned(), value);
    Value::Object(m).to_string()
}

/// A valid retraction (of the recorded accession of C) with `field` set, or removed if null.
fn retraction_with(field: &str, value: Value) -> String {
    let mut v = json!({"type": "retraction", "org": "x", "retracts": C_ACCESSION, "reason": "typo"});
    if value.is_null() {
        v.as_object_mut().expect("object").remove(field);
    } else {
        v[field] = value;
    }
    v.to_string()
}

const C_ACCESSION: &str = "00000000-0000-4000-8000-00000000000c";
const UUID: &str = "123e4567-e89b-12d3-a456-426614174000";

/// How a hostile input reaches accord.
enum Via {
    /// `append EVENT_JSON`
    Arg(String),
    /// `append` with the bytes on stdin
    Stdin(Vec<u8>),
    /// `import -` with the bytes on stdin
    Import(Vec<u8>),
}

struct Case {
    what: &'static str,
    via: Via,
    /// A phrase the message must contain.
    phrase: &'static str,
}

fn arg(what: &'static str, text: String, phrase: &'static str) -> Case {
    Case { what, via: Via::Arg(text), phrase }
}

fn stdin(what: &'static str, bytes: impl Into<Vec<u8>>, phrase: &'static str) -> Case {
    Case { what, via: Via::Stdin(bytes.into()), phrase }
}

/// The good event's JSON text with `insert` spliced in before its closing brace.
fn spliced(insert: &[u8]) -> Vec<u8> {
    let text = Value::Object(good()).to_string();
    let mut bytes = text.as_bytes()[..text.len() - 1].to_vec();
    bytes.extend_from_slice(insert);
    bytes.push(b'}');
    bytes
}

fn hostile_cases() -> Vec<Case> {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_event = {
        let text = with("details", json!({}));
        text.replace(r#""details":{}"#, &format!(r#""details":{{"deep":{deep}}}"#))
    };
    assert!(deep_event.contains(&deep));
    let huge_note = with("note", Value::String("x".repeat(10 << 20)));
    // Two-byte characters, so that the cut at the size limit falls inside
    // one for one of the two notes.
    let huge_multibyte_note = with("note", Value::String("é".repeat(5 << 20)));
    let huge_multibyte_note_odd = with("note", Value::String(format!("x{}", "é".repeat(5 << 20))));
    let good_line = Value::Object(good()).to_string();
    vec![
        // Wrong JSON types, field by field.
        arg("type as number", with("type", json!(7)), "`type` must be a string"),
        arg("org as list", with("org", json!(["x"])), "`org`"),
        arg("date as number", with("date", json!(2021)), "`date`"),
        arg("members as string", with("members", json!("D")), "`members`"),
        arg("members with a number", with("members", json!(["D", 5])), "`members`"),
        arg("status as bool", with("status", json!(true)), "`status`"),
        arg("source as number", with("source", json!(12)), "`source`"),
        arg("source fields as numbers", with("source", json!({"title": 1, "url": 2})), "`source."),
        arg("source.published as number", with("source", json!({"published": 2021})), "`source.published`"),
        arg("details as string", with("details", json!("x")), "`details`"),
        arg("note as object", with("note", json!({"text": "n"})), "`note`"),
        arg("id as number", with("id", json!(123)), "`id`"),
        arg("supersedes as list", with("supersedes", json!([C_ACCESSION])), "`supersedes`"),
        arg("retracts missing", retraction_with("retracts", Value::Null), "no `retracts`"),
        arg("retracts as number", retraction_with("retracts", json!(12)), "`retracts`"),
        arg("reason as number", retraction_with("reason", json!(12)), "`reason`"),
        arg("type null", with("type", Value::Null), "`type`"),
        arg("date null", with("date", Value::Null), "`date`"),
        // Deep nesting, huge lines.
        arg("10 000 nested arrays in details", deep_event.clone(), "recursion limit"),
        stdin("10 000 nested arrays in details, on stdin", deep_event, "recursion limit"),
        stdin("a 10 MB line on stdin", huge_note.clone(), "longer than"),
        stdin("a 10 MB line of two-byte characters on stdin", huge_multibyte_note, "longer than"),
        stdin("a 10 MB line of two-byte characters on stdin, shifted", huge_multibyte_note_odd, "longer than"),
        Case { what: "a 10 MB line imported", via: Via::Import(huge_note.into_bytes()), phrase: "longer than" },
        Case {
            what: "a 10 MB line imported after a good one",
            via: Via::Import(format!("{good_line}\n{}\n", with("note", Value::String("y".repeat(10 << 20)))).into()),
            phrase: "line 2",
        },
        // Raw bytes that JSON text cannot hold.
        stdin("a NUL byte inside a string", spliced(b",\"note\":\"a\0b\""), "not valid JSON"),
        stdin("a NUL byte between tokens", spliced(b",\0\"note\":\"n\""), "not valid JSON"),
        stdin("a lone NUL byte", b"\0".to_vec(), "not valid JSON"),
        stdin("0xff bytes inside a string", spliced(b",\"note\":\"a\xff\xffb\""), "UTF-8"),
        stdin("a lone 0xff byte", b"\xff".to_vec(), "UTF-8"),
        stdin("a truncated UTF-8 sequence", spliced(b",\"note\":\"\xc3\""), "UTF-8"),
        stdin("a byte-order mark before the object", [b"\xef\xbb\xbf".as_slice(), &spliced(b"")].concat(), "JSON"),
        // Fields the ledger sets.
        arg("seq in an append", with("seq", json!(2)), "set by the ledger"),
        arg("hash in an append", with("hash", json!(GENESIS)), "set by the ledger"),
        arg("prev in an append", with("prev", json!(GENESIS)), "set by the ledger"),
        arg("recorded_at in an append", with("recorded_at", json!("2021-01-01T00:00:00.000000Z")), "set by the ledger"),
        arg("recorded_by in an append", with("recorded_by", json!("mallory")), "set by the ledger"),
        // Ids that are not UUIDs.
        arg("id 123", with("id", json!("123")), "not an event id"),
        arg("id with braces", with("id", json!(format!("{{{UUID}}}"))), "not an event id"),
        arg("id too short", with("id", json!(&UUID[..35])), "not an event id"),
        arg("id without hyphens", with("id", json!(UUID.replace('-', ""))), "not an event id"),
        arg("id as URN", with("id", json!(format!("urn:uuid:{UUID}"))), "not an event id"),
        arg("supersedes not a UUID", with("supersedes", json!("123")), "not an event id"),
        // Values the rules of the format refuse.
        arg("duplicate members", with("members", json!(["D", "E", "D"])), "twice"),
        arg("an interval that ends before it starts", with("date", json!("2021/2020")), "reversed interval"),
        arg("a date with a time", with("date", json!("2021-01-01T10:00:00Z")), "not an effective date"),
        arg("an impossible date", with("date", json!("2021-02-29")), "not a valid date"),
        arg("an unknown field", with("colour", json!("red")), "not a field"),
        // A key given twice: serde_json alone would keep the last silently.
        stdin("a key given twice", spliced(br#","members":["E"]"#), "given twice"),
        stdin("a key given twice inside details", spliced(br#","details":{"a":1,"a":2}"#), "given twice"),
        Case {
            what: "a key given twice in an imported line",
            via: Via::Import(
                format!("{good_line}\n{}\n", String::from_utf8_lossy(&spliced(br#","type":"withdrawal""#))).into(),
            ),
            phrase: "line 2",
        },
        // Not one object.
        arg("empty argument", String::new(), "empty"),
        stdin("empty stdin", b"".to_vec(), "empty"),
        stdin("whitespace only", b"  \n\t \r\n ".to_vec(), "empty"),
        arg("whitespace-only argument", " \t ".into(), "empty"),
        arg("a JSON array", format!("[{good_line}]"), "JSON object"),
        arg("a JSON string", r#""accession""#.into(), "JSON object"),
        arg("null", "null".into(), "JSON object"),
        arg("two objects on one line", format!("{good_line}{good_line}"), "not valid JSON"),
        stdin("two objects on two lines", format!("{good_line}\n{good_line}\n"), "not valid JSON"),
        arg("trailing garbage", format!("{good_line} garbage"), "not valid JSON"),
        arg("an unterminated object", good_line[..good_line.len() - 1].to_owned(), "ends too early"),
    ]
}

#[test]
fn hostile_inputs_are_refused_with_one_short_sentence_and_change_nothing() {
    let l = Ledger::new();
    l.append(r#"{"type":"founding","org":"x","date":"2000","members":["A","B"]}"#);
    l.append(&format!(r#"{{"type":"accession","org":"x","date":"2010","members":["C"],"id":"{C_ACCESSION}"}}"#));
    let head = l.head();
    let export = l.export();
    let cases = hostile_cases();
    assert!(cases.len() >= 30);
    for case in &cases {
        let r = match &case.via {
            Via::Arg(text) => l.run(&["append", text]),
            Via::Stdin(bytes) => l.run_stdin(&["append"], bytes),
            Via::Import(bytes) => l.run_stdin(&["import", "-"], bytes),
        };
        assert_eq!(r.code, 1, "{}: expected exit 1, got {}: {}{}", case.what, r.code, r.stderr, r.stdout);
        let msg = r.fails(1);
        eprintln!("{}: {msg}", case.what);
        assert!(msg.starts_with("accord: "), "{}: {msg}", case.what);
        assert!(msg.chars().count() < 300, "{}: a message of {} characters", case.what, msg.chars().count());
        assert!(!msg.to_lowercase().contains("backtrace"), "{}: {msg}", case.what);
        assert!(msg.contains(case.phrase), "{}: expected {:?} in: {msg}", case.what, case.phrase);
        assert_eq!(l.head(), head, "{}: the head changed", case.what);
        assert_eq!(l.export(), export, "{}: the log changed", case.what);
    }
    // The good event itself is accepted: the refusals came from the spoiled parts.
    l.append(&Value::Object(good()).to_string());
    verifies(&l, "after the hostile inputs");
}

#[test]
fn an_import_with_one_bad_line_records_nothing_and_names_the_line() {
    let l = Ledger::new();
    l.append(r#"{"type":"founding","org":"x","date":"2000","members":["A"]}"#);
    let head = l.head();
    let export = l.export();
    let line = |i: usize| format!(r#"{{"type":"accession","org":"x","date":"2001","members":["P{i}"]}}"#);
    let bad = r#"{"type":"accession","org":"x","date":"2001-02-30","members":["BAD"]}"#;

    // Few lines, and enough that whole batches were written before the bad one.
    for (good_before, good_after) in [(3, 2), (1300, 5)] {
        let mut text = String::new();
        for i in 0..good_before {
            text.push_str(&line(i));
            text.push('\n');
        }
        text.push_str(bad);
        text.push('\n');
        for i in 0..good_after {
            text.push_str(&line(good_before + 1 + i));
            text.push('\n');
        }
        let expected_place = format!("line {}", good_before + 1);
        // Through stdin, and as a file, whose name the message gives.
        let msg = l.import_text(&text).fails(1).to_owned();
        assert!(msg.contains(&format!("stdin {expected_place}:")), "{msg}");
        assert!(msg.contains("not a valid date"), "{msg}");
        let file = l.dir.path().join(format!("bad-{good_before}.ndjson"));
        std::fs::write(&file, &text).expect("write");
        let msg = l.run(&["import", s(&file)]).fails(1).to_owned();
        assert!(msg.contains(&format!("bad-{good_before}.ndjson {expected_place}:")), "{msg}");
        assert_eq!(l.head(), head, "an import with a bad line recorded something");
        assert_eq!(l.export(), export);
        verifies(&l, "after the refused import");
    }
    // A bad line in the second of two files undoes the first file too.
    let first = l.dir.path().join("a.ndjson");
    let second = l.dir.path().join("b.ndjson");
    std::fs::write(&first, format!("{}\n", line(1))).expect("write");
    std::fs::write(&second, format!("{}\n{{\"type\":\n", line(2))).expect("write");
    let msg = l.run(&["import", s(&first), s(&second)]).fails(1).to_owned();
    assert!(msg.contains("b.ndjson line 2"), "{msg}");
    assert_eq!(l.head(), head);
    assert_eq!(l.export(), export);
}

/// The size of a ledger's sled data file, 0 before there is one.
fn data_size(l: &Ledger) -> u64 {
    std::fs::metadata(l.path().join("db")).map_or(0, |m| m.len())
}
