//! git-style `log` and `show`, `--json` errors, usage errors, plurals, aligned tables, natural id order.

use std::cmp::Ordering;

use serde_json::{Value, json};

use crate::support::*;

/// The NDJSON lines of a command's stdout, parsed.
fn ndjson(out: &str) -> Vec<Value> {
    out.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).expect("NDJSON line")).collect()
}

fn isa_ledger() -> Ledger {
    let l = Ledger::new();
    l.run(&["--actor", "Ada Lovelace", "import", s(&isa_log())]).ok();
    l
}

/// The first 8 hex digits of an event id.
fn id8(id: &Value) -> String {
    id.as_str().expect("id").chars().take(8).collect()
}

fn seqs(envelopes: &[Value]) -> Vec<u64> {
    envelopes.iter().map(|e| e["seq"].as_u64().expect("seq")).collect()
}

/// The seq at the start of each readable `log` line.
fn line_seqs(out: &str) -> Vec<u64> {
    out.lines().map(|l| l.split_whitespace().next().and_then(|w| w.parse().ok()).expect("a seq first")).collect()
}

/// The parties an event names, as the test reads its JSON.
fn named(e: &Value) -> Vec<String> {
    let list = e.get("members").or_else(|| e.get("participants"));
    list.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
}

#[test]
fn log_shows_one_event_per_line_with_its_short_id_date_type_parties_and_source() {
    let l = isa_ledger();
    let envelopes = ndjson(l.run(&["--json", "log"]).ok());
    let text = l.run(&["log"]).ok().to_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), envelopes.len());
    for (line, e) in lines.iter().zip(&envelopes) {
        let short = id8(&e["id"]);
        assert!(line.contains(&format!("  {short}  ")), "{line}");
        assert!(!line.contains(e["id"].as_str().unwrap()), "the short log does not spell the whole id: {line}");
        assert!(line.contains(e["date"].as_str().unwrap()) && line.contains(e["type"].as_str().unwrap()), "{line}");
        for party in named(e).iter().filter(|_| e["type"] != "exercise") {
            assert!(line.contains(party.as_str()), "{party} missing: {line}");
        }
        // Every ISA event has a source whose publisher the line names.
        let publisher = e["source"]["publisher"].as_str().or(e["source"].as_str()).unwrap_or("Primary reports");
        assert!(line.contains(&format!("source: {publisher}")), "{line}");
        assert!(!line.contains("Ada Lovelace"), "{line}");
    }
    // The corrections name what they correct by its short id.
    let sixth = lines[5];
    assert!(sixth.contains(&format!("supersedes {}", id8(&envelopes[5]["supersedes"]))), "{sixth}");

    // --long: the whole id, the record time and the recorder.
    let long = l.run(&["log", "--long"]).ok().to_owned();
    for (line, e) in long.lines().zip(&envelopes) {
        for field in ["id", "recorded_at"] {
            assert!(line.contains(e[field].as_str().unwrap()), "{field} missing: {line}");
        }
        assert!(line.contains("recorded by Ada Lovelace"), "{line}");
    }
    assert_eq!(long.lines().count(), envelopes.len());
}

#[test]
fn log_filters_by_count_type_member_and_effective_dates() {
    let l = isa_ledger();
    let all = ndjson(l.run(&["--json", "log"]).ok());
    let json = |args: &[&str]| {
        let mut a = vec!["--json", "log"];
        a.extend_from_slice(args);
        seqs(&ndjson(l.run(&a).ok()))
    };
    let readable = |args: &[&str]| {
        let mut a = vec!["log"];
        a.extend_from_slice(args);
        line_seqs(l.run(&a).ok())
    };

    // -n N: the last N (like tail), still in log order; -n past the length is all.
    assert_eq!(json(&["-n", "3"]), [12, 13, 14]);
    assert_eq!(readable(&["--max-count", "3"]), [12, 13, 14]);
    assert_eq!(json(&["-n", "100"]), seqs(&all));
    assert_eq!(json(&["-n", "0"]), Vec::<u64>::new());

    // --type: the test's own filter of the envelopes; repeatable.
    let of_type = |types: &[&str]| {
        seqs(&all.iter().filter(|e| types.contains(&e["type"].as_str().unwrap())).cloned().collect::<Vec<_>>())
    };
    assert_eq!(json(&["--type", "accession"]), of_type(&["accession"]));
    assert_eq!(readable(&["--type", "exercise", "--type", "launch"]), of_type(&["exercise", "launch"]));
    // The last 2 accessions, not the accessions among the last 2 events.
    let accessions = of_type(&["accession"]);
    assert_eq!(json(&["--type", "accession", "-n", "2"]), accessions[accessions.len() - 2..]);
    let r = l.run(&["log", "--type", "acession"]);
    let msg = r.fails(2);
    for t in ["founding", "accession", "status_change", "retraction"] {
        assert!(msg.contains(t), "the types are listed: {msg}");
    }

    // --member: the events that name the party, and the corrections of those.
    let mut kept: Vec<&Value> = Vec::new();
    for e in &all {
        let corrects_kept = ["supersedes", "retracts"].iter().any(|f| kept.iter().any(|k| k["id"] == e[*f]));
        if named(e).iter().any(|p| p == "SGP") || corrects_kept {
            kept.push(e);
        }
    }
    let expected: Vec<u64> = kept.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(json(&["--member", "SGP"]), expected);
    // isa.md: the article's range (4), the five announced that supersede it (6), Singapore's own range (7), the launch (9).
    assert_eq!(expected, [4, 6, 7, 9]);
    assert_eq!(json(&["--member", "NOBODY"]), Vec::<u64>::new());
    l.run(&["log", "--member", "not a party"]).fails(2);

    // --since/--until: an event counts when its range may fall in the days asked.
    // 2018-03-31 lies in the launch's month (2), the article's range (4),
    // Singapore's (7) and Slovakia's (8), not in the launch meeting of 2018-03-04/05 (9).
    assert_eq!(json(&["--since", "2018-03-31", "--until", "2018-03-31"]), [2, 4, 7, 8]);
    assert_eq!(json(&["--since", "2025-01-01"]), [13, 14]);
    assert_eq!(json(&["--until", "2017-02-01", "--type", "founding"]), [1]);
    l.run(&["log", "--since", "2020-01-01", "--until", "2019-01-01"]).fails(2);
    l.run(&["log", "--since", "March 2018"]).fails(2);
}

/// A ledger with ids chosen to share their first hex digits.
fn prefix_ledger() -> Ledger {
    let l = Ledger::new();
    l.append(
        r#"{"type":"founding","org":"p","date":"2000","members":["A"],"id":"abcd1111-0000-4000-8000-000000000001"}"#,
    );
    l.append(r#"{"type":"accession","org":"p","date":"2001","members":["B"],"status":"full","id":"abcd2222-0000-4000-8000-000000000002"}"#);
    l.append(r#"{"type":"accession","org":"p","date":"2002","members":["C"],"status":"full","id":"00010000-0000-4000-8000-000000000003","source":"Gazette"}"#);
    l
}

fn shown_id(l: &Ledger, arg: &str) -> String {
    l.run(&["--json", "show", arg]).json()["id"].as_str().expect("id").to_owned()
}

#[test]
fn show_takes_a_seq_an_id_or_a_unique_prefix() {
    let l = prefix_ledger();
    let (a, b, c) = (
        "abcd1111-0000-4000-8000-000000000001",
        "abcd2222-0000-4000-8000-000000000002",
        "00010000-0000-4000-8000-000000000003",
    );
    assert_eq!(shown_id(&l, "2"), b);
    assert_eq!(shown_id(&l, b), b);
    assert_eq!(shown_id(&l, &b.to_uppercase()), b);
    assert_eq!(shown_id(&l, "abcd1"), a);
    assert_eq!(shown_id(&l, "ABCD2222"), b);
    assert_eq!(shown_id(&l, "abcd2222-00"), b);
    // Digits only: a seq past the head, so the id prefix.
    assert_eq!(shown_id(&l, "00010"), c);
    assert!(l.run(&["show", "3"]).ok().contains(c));

    // An ambiguous prefix lists the candidates, exit 1.
    let msg = l.run(&["show", "abcd"]).fails(1).to_owned();
    assert!(msg.contains("ambiguous") && msg.contains("abcd1111") && msg.contains("abcd2222"), "{msg}");
    // `0001` is seq 1 and the start of seq 3's id.
    let msg = l.run(&["show", "0001"]).fails(1).to_owned();
    assert!(msg.contains("seq 1") && msg.contains("00010000"), "{msg}");

    // Not there: exit 1; malformed or fewer than 4 hex digits: usage, exit 2.
    assert!(l.run(&["show", "ffff"]).fails(1).contains("ffff"));
    assert!(l.run(&["show", "9"]).fails(1).contains("seq 9"));
    l.run(&["show", "0"]).fails(1);
    for bad in ["abc", "a", "xyz1", "not-an-id", "abcd1111-0000-4000-8000-00000000000g"] {
        l.run(&["show", bad]).fails(2);
    }
}

#[test]
fn show_says_what_superseded_or_retracted_the_event() {
    let l = prefix_ledger();
    let b = "abcd2222-0000-4000-8000-000000000002";
    let c = "00010000-0000-4000-8000-000000000003";
    assert!(!l.run(&["show", b]).ok().contains("superseded"));
    l.append(&json!({"type":"accession","org":"p","date":"2001-05","members":["B"],"status":"full","supersedes":b,"id":"5e5e0000-0000-4000-8000-000000000004"}).to_string());
    l.append(&json!({"type":"retraction","org":"p","retracts":c,"reason":"no such decision","id":"7e7e0000-0000-4000-8000-000000000005"}).to_string());
    let text = l.run(&["show", "abcd2"]).ok().to_owned();
    assert!(text.contains("superseded by 5e5e0000 at seq 4"), "{text}");
    let text = l.run(&["show", "3"]).ok().to_owned();
    assert!(text.contains("retracted by 7e7e0000 at seq 5: no such decision"), "{text}");
    // The correction itself names its target in full.
    assert!(l.run(&["show", "5"]).ok().contains(c));
    // --json stays the envelope as recorded.
    assert_eq!(l.run(&["--json", "show", "3"]).json(), ndjson(&l.export())[2]);
}

#[test]
fn history_of_a_party_never_named_is_not_found() {
    let l = prefix_ledger();
    let msg = l.run(&["history", "p", "--member", "ZZZ"]).fails(1).to_owned();
    assert!(msg.contains("ZZZ") && msg.contains("not found"), "{msg}");
    l.run(&["--json", "history", "p", "--member", "ZZZ"]).fails(1);
    // Named only by an event later retracted: named all the same.
    l.append(r#"{"type":"retraction","org":"p","retracts":"00010000-0000-4000-8000-000000000003","reason":"x"}"#);
    assert_eq!(ndjson(l.run(&["--json", "history", "p", "--member", "C"]).ok()).len(), 1, "the founding");
    // History lines: short ids, one per line; --long the whole ids and the recorder.
    let text = l.run(&["history", "p"]).ok().to_owned();
    assert!(text.starts_with("p: 2 events that count"), "{text}");
    assert!(text.contains("  abcd1111  ") && !text.contains("abcd1111-"), "{text}");
    assert!(l.run(&["history", "p", "--long"]).ok().contains("abcd2222-0000-4000-8000-000000000002"));
}

#[test]
fn json_errors_are_one_line_of_json_with_the_exit_code() {
    let l = isa_ledger();
    let cases: &[(&[&str], i32)] = &[
        (&["--json", "members", "isa", "--at", "2020-13-01"], 2),
        (&["members", "isa", "--json", "--known-at", "yesterday"], 2),
        (&["--json", "memebrs", "isa"], 2),
        (&["--json", "show", "ffff"], 1),
        (&["--json", "members", "nowhere"], 1),
        (&["--json", "--wait", "-1", "head"], 2),
    ];
    for (args, code) in cases {
        let r = l.run(args);
        let line = r.fails(*code);
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {line}"));
        assert_eq!(v["code"], *code, "{args:?}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty() && !e.starts_with("accord:")), "{args:?}: {line}");
        assert_eq!(v.as_object().map(|o| o.len()), Some(2), "{line}");
        // Without --json, the same failure is the plain sentence.
        let plain: Vec<&str> = args.iter().copied().filter(|a| *a != "--json").collect();
        assert_eq!(l.run(&plain).fails(*code), format!("accord: {}", v["error"].as_str().unwrap()));
    }
}

#[test]
fn members_json_carries_each_members_source() {
    let l = Ledger::new();
    l.append(r#"{"type":"founding","org":"s","date":"2000","members":["A"],"source":"Treaty text"}"#);
    l.append(r#"{"type":"accession","org":"s","date":"2001","members":["B"],"status":"observer","source":{"publisher":"Gazette","url":"https://example.org/b"}}"#);
    l.append(r#"{"type":"accession","org":"s","date":"2002","members":["C"],"status":"full"}"#);
    l.append(r#"{"type":"accession","org":"s","date":"2003","members":["D"],"status":"full","source":"Wire"}"#);
    let members = |at: &str| l.run(&["members", "s", "--at", at, "--json"]).json();
    let m = members("2003-06-01");
    let by_id = |id: &str| m["members"].as_array().unwrap().iter().find(|x| x["id"] == id).cloned().unwrap();
    assert_eq!(by_id("A"), json!({"id":"A","status":"full","since":"2000","founder":true,"source":"Treaty text"}));
    assert_eq!(by_id("B")["source"], json!({"publisher":"Gazette","url":"https://example.org/b"}));
    assert_eq!(by_id("B")["status"], "observer");
    assert_eq!(by_id("C")["source"], Value::Null);
    // An uncertain party: the source of the event whose date leaves it open.
    let m = members("2003-01-01");
    assert_eq!(m["uncertain"], json!([{"id":"D","possible":["none","full"],"date":"2003","source":"Wire"}]));
    assert_eq!(m["count"], 3);
}

#[test]
fn malformed_days_and_times_are_usage_errors() {
    let l = isa_ledger();
    let before = l.head();
    for args in [
        &["members", "isa", "--at", "2020-02-30"][..],
        &["members", "isa", "--at", "today"],
        &["members", "isa", "--known-at", "2020-13-01"],
        &["history", "isa", "--known-at", "soon"],
        &["orgs", "--known-at", "x"],
        &["diff", "isa", "--from", "2020", "--to", "2021-01-01"],
        &["members", "Not An Org"],
        &["log", "--org", "Not An Org"],
        &["history", "isa", "--member", "no such id"],
        &["members", "isa", "--seq", "x"],
    ] {
        l.run(args).fails(2);
    }
    assert_eq!(l.head(), before);
}

#[test]
fn counts_are_singular_for_one() {
    let l = Ledger::new();
    l.append(r#"{"type":"founding","org":"solo","date":"2000","members":["A"]}"#);
    let text = l.run(&["members", "solo", "--at", "2001-01-01"]).ok().to_owned();
    assert!(text.ends_with("1 member\n"), "{text}");
    let orgs = l.run(&["orgs"]).ok().to_owned();
    assert!(orgs.contains(" 1 member") && !orgs.contains("1 members"), "{orgs}");
    assert!(l.run(&["history", "solo"]).ok().starts_with("solo: 1 event that counts"));
    assert!(l.run(&["audit", "verify"]).ok().starts_with("ok: 1 event verified"));
    l.append(r#"{"type":"accession","org":"solo","date":"2001","members":["B"],"status":"full"}"#);
    assert!(l.run(&["members", "solo", "--at", "2002-01-01"]).ok().ends_with("2 members\n"));
}

/// The character offset of `needle` in `line`.
fn column(line: &str, needle: &str) -> usize {
    let at = line.find(needle).unwrap_or_else(|| panic!("no {needle:?} in {line:?}"));
    line[..at].chars().count()
}

#[test]
fn member_tables_stay_aligned_for_ids_up_to_64_characters() {
    let l = Ledger::new();
    let long = "L".repeat(64);
    let ids = ["A", "Bb", "C1234567890", long.as_str()];
    l.append(&json!({"type":"founding","org":"w","date":"2000","members":ids,"source":"S"}).to_string());
    // Two uncertain, with dates of different lengths.
    l.append(r#"{"type":"accession","org":"w","date":"2005","members":["U1"],"status":"associate","source":"S"}"#);
    l.append(
        r#"{"type":"accession","org":"w","date":"2005-03/2005-09","members":["U2"],"status":"observer","source":"S"}"#,
    );
    let text = l.run(&["members", "w", "--at", "2005-04-01"]).ok().to_owned();
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("  ")).collect();
    assert_eq!(rows.len(), 6, "{text}");
    let sources: Vec<usize> = rows.iter().map(|r| column(r, "source: S")).collect();
    assert!(sources.windows(2).all(|w| w[0] == w[1]), "sources not aligned:\n{text}");
    let certain: Vec<usize> = rows[..4].iter().map(|r| column(r, "since")).collect();
    assert!(certain.windows(2).all(|w| w[0] == w[1]), "since not aligned:\n{text}");
    let uncertain: Vec<usize> = rows[4..].iter().map(|r| column(r, "date")).collect();
    assert_eq!(uncertain[0], uncertain[1], "uncertain rows not aligned:\n{text}");
    assert_eq!(uncertain[0], certain[0], "the two parts share columns:\n{text}");
}

/// Natural order, as the test reads it: `P7x` and a number, by the number; `F` after them.
fn natural(a: &str, b: &str) -> Ordering {
    let num = |s: &str| s.strip_prefix("P7x").and_then(|n| n.parse::<u64>().ok());
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

#[test]
fn lists_of_ids_are_in_natural_order_and_diff_wraps_them() {
    let l = Ledger::new();
    let ids: Vec<String> = (1..=1600).rev().map(|n| format!("P7x{n}")).collect();
    l.append(&json!({"type":"founding","org":"big","date":"2000","members":["F"]}).to_string());
    l.append(&json!({"type":"accession","org":"big","date":"2001-06-01","members":ids,"status":"full"}).to_string());
    let mut expected = ids.clone();
    expected.push("F".into());
    expected.sort_by(|a, b| natural(a, b));
    let joined: Vec<String> = expected.iter().filter(|p| *p != "F").cloned().collect();

    let d = l.run(&["--json", "diff", "big", "--from", "2001-01-01", "--to", "2002-01-01"]).json();
    assert_eq!(d["joined"], json!(joined));
    let m = l.members("big", "2002-01-01", &[]);
    let listed: Vec<&str> = m["members"].as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap()).collect();
    assert_eq!(listed, expected);

    // Readable: wrapped to 80 columns, the same ids in the same order.
    let text = l.run(&["diff", "big", "--from", "2001-01-01", "--to", "2002-01-01"]).ok().to_owned();
    let mut lines = text.lines().skip(1);
    let mut shown: Vec<String> = Vec::new();
    let first = lines.next().expect("joined line");
    assert!(first.starts_with("  joined     P7x1 P7x2 P7x3 "), "{first}");
    shown.extend(first["  joined".len()..].split_whitespace().map(str::to_owned));
    for line in lines.by_ref() {
        if !line.starts_with("             ") {
            assert!(line.starts_with("  left"), "{line}");
            break;
        }
        shown.extend(line.split_whitespace().map(str::to_owned));
    }
    assert_eq!(shown, joined);
    assert!(text.lines().all(|l| l.chars().count() <= 80 || !l.starts_with("  ")), "{text}");
    // The party of each change, in the same order.
    let because: Vec<&str> =
        text.lines().filter(|l| l.starts_with("    P7x")).map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(because, joined);
}

/// Standard output that is a file or a pipe is written in blocks, not a
/// line at a time (`export > backup.ndjson` of a million events made a
/// million system calls), and holds every line: the bytes `export -o`
/// writes, and `log --json`'s.
#[test]
fn output_to_a_file_is_written_in_blocks_and_whole() {
    if !tool_available("strace") {
        return;
    }
    let l = Ledger::new();
    let events = 2000;
    l.import_text(&synthetic(events, 7)).ok();
    let backup = l.dir.path().join("backup.ndjson");
    l.run(&["export", "-o", s(&backup)]).ok();
    let backup = std::fs::read_to_string(&backup).expect("backup");
    assert_eq!(backup.lines().count(), events);
    for (args, whole) in [(&["export"][..], Some(&backup)), (&["log", "--json"][..], None)] {
        let (out, trace) = (l.dir.path().join("out"), l.dir.path().join("trace"));
        let file = std::fs::File::create(&out).expect("create out");
        let strace = ["-f", "-qq", "-e", "trace=write", "-o", s(&trace)];
        let status = l.command_under("strace", &strace, args).stdout(file).status().expect("run strace");
        assert!(status.success(), "{args:?} failed");
        let written = std::fs::read_to_string(&out).expect("out");
        assert_eq!(written.lines().count(), events, "{args:?}: a line went missing");
        if let Some(whole) = whole {
            assert!(written == *whole, "{args:?} to a file is not what export -o writes");
        }
        let trace = std::fs::read_to_string(&trace).expect("trace");
        let calls = trace.lines().filter(|line| line.contains("write(1,")).count();
        assert!(calls > 0, "{args:?}: no write to standard output was traced:\n{trace}");
        assert!(calls <= events / 50, "{args:?}: {calls} writes for {events} lines");
    }
}
