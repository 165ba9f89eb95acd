//! Numbers in events are kept exactly or refused (SPEC §5): RFC 8785 numbers
//! are IEEE-754 doubles, so a number no double holds exactly is refused.

use std::path::Path;

use crate::support::*;

/// Numbers the canonical form would not keep, with what the message shows
/// of them.
const REFUSED: [(&str, &str); 9] = [
    ("9007199254740993", "`9007199254740993`"),
    ("18446744073709551616", "`18446744073709551616`"),
    ("123456789012345678901234567890", "`123456789012345678901234567890`"),
    ("1e-400", "`1e-400`"),
    ("1e400", "`1e400`"),
    ("-0", "`-0`"),
    ("-0.0", "`-0.0`"),
    ("-0e5", "`-0e5`"),
    // The exact value of the double 0.1, which is written `0.1`.
    ("0.1000000000000000055511151231257827021181583404541015625", "`0.10000000000000000555111512312578270211…`"),
];

const FOUNDING: &str = r#"{"type":"founding","org":"x","date":"2000","members":["A","B"]}"#;

/// An accession carrying `number` in its details.
fn accession(member: &str, number: &str) -> String {
    format!(r#"{{"type":"accession","org":"x","date":"2005","members":["{member}"],"details":{{"count":{number}}}}}"#)
}

/// The head and the export: what a refused command must leave as it was.
fn snapshot(l: &Ledger) -> ((u64, String), String) {
    (l.head(), l.export())
}

#[track_caller]
fn assert_refused(l: &Ledger, r: Run, shown: &str, label: &str, before: &((u64, String), String)) -> String {
    let msg = r.fails(1).to_owned();
    assert!(msg.contains(shown), "{label}: the message does not name the number: {msg}");
    assert!(msg.contains("cannot be kept exactly"), "{label}: the message does not say why: {msg}");
    assert!(msg.ends_with("quote it as a string"), "{label}: the message does not say what to do: {msg}");
    assert_eq!(&snapshot(l), before, "{label}: the refused command changed the ledger");
    msg
}

#[test]
fn numbers_a_double_cannot_hold_exactly_are_refused_and_change_nothing() {
    let l = Ledger::new();
    l.append(FOUNDING);
    let before = snapshot(&l);
    assert_eq!(before.0.0, 1);
    let dir = tempfile::tempdir().expect("temp dir");
    for (i, (number, shown)) in REFUSED.iter().enumerate() {
        let event = accession(&format!("N{i}"), number);

        let msg = assert_refused(&l, l.run(&["append", &event]), shown, &event, &before);
        assert!(msg.contains("in `details.count`"), "{event}: the message does not say where: {msg}");
        assert_refused(&l, l.run_stdin(&["append"], event.as_bytes()), shown, &event, &before);

        // In a file, after a good line: nothing of the file is recorded.
        let file = dir.path().join(format!("numbers-{i}.ndjson"));
        std::fs::write(&file, format!("{}\n{event}\n", accession("OK", "1"))).expect("write file");
        let msg = assert_refused(&l, l.run(&["import", path(&file)]), shown, &event, &before);
        assert!(msg.contains(&format!("{} line 2", file.display())), "{event}: no file and line: {msg}");
        assert_refused(&l, l.import_text(&format!("{event}\n")), shown, &event, &before);
    }
    // The message, in full.
    let r = l.run(&["append", &accession("N", "18446744073709551616")]);
    assert_eq!(
        r.fails(1),
        "accord: the EVENT_JSON argument: the number `18446744073709551616` in `details.count` cannot be kept \
         exactly (an RFC 8785 number is an IEEE-754 double, which would make it 18446744073709552000): quote it \
         as a string"
    );
    // Quoted as a string, it is kept as given.
    l.append(&accession("N", "\"18446744073709551616\""));
    assert!(l.export().contains(r#""details":{"count":"18446744073709551616"}"#), "{}", l.export());
}

#[test]
fn numbers_kept_exactly_are_recorded_and_exported_in_canonical_spelling() {
    let cases = [
        ("1.50", "1.5"),
        ("1e300", "1e+300"),
        ("1.5e-7", "1.5e-7"),
        ("1E2", "100"),
        ("0e0", "0"),
        ("1.0", "1"),
        ("0.1", "0.1"),
        ("-3", "-3"),
        ("-2.50E-0", "-2.5"),
        ("9007199254740992", "9007199254740992"),
        ("18446744073709552000", "18446744073709552000"),
        ("1e21", "1e+21"),
        ("100000000000000000000", "100000000000000000000"),
    ];
    let appended = Ledger::new();
    appended.append(FOUNDING);
    let mut file = format!("{FOUNDING}\n");
    for (i, (number, _)) in cases.iter().enumerate() {
        let event = accession(&format!("N{i}"), number);
        appended.append(&event);
        file.push_str(&event);
        file.push('\n');
    }
    let imported = Ledger::new();
    imported.import_text(&file).ok();
    for l in [&appended, &imported] {
        let export = l.export();
        let lines: Vec<&str> = export.lines().collect();
        assert_eq!(lines.len(), cases.len() + 1, "{export}");
        for ((number, canonical), line) in cases.iter().zip(&lines[1..]) {
            assert!(line.contains(&format!(r#""details":{{"count":{canonical}}}"#)), "{number}: {line}");
        }
    }
}

/// An export whose number was respelled to one that has the same canonical
/// form (so the hash still matches) but another value: accord never writes
/// one, so import refuses it and audit finds it altered.
#[test]
fn an_export_holding_a_number_not_kept_exactly_is_refused_and_does_not_verify() {
    let l = Ledger::new();
    l.append(FOUNDING);
    l.append(&accession("C", "9007199254740992"));
    let export = l.export();
    let dir = tempfile::tempdir().expect("temp dir");
    let good = dir.path().join("good.ndjson");
    std::fs::write(&good, &export).expect("write export");
    l.run(&["audit", "verify", "--file", path(&good)]).ok();

    // Another spelling of the same value verifies and restores the same log.
    let respelled = dir.path().join("respelled.ndjson");
    std::fs::write(&respelled, export.replace(":9007199254740992}", ":9.007199254740992E15}")).expect("write");
    l.run(&["audit", "verify", "--file", path(&respelled)]).ok();
    let restored = Ledger::new();
    restored.run(&["import", path(&respelled)]).ok();
    assert_eq!(restored.export(), export);

    let altered_text = export.replace(":9007199254740992}", ":9007199254740993}");
    assert_ne!(altered_text, export);
    let altered = dir.path().join("altered.ndjson");
    std::fs::write(&altered, &altered_text).expect("write altered export");
    let msg = l.run(&["audit", "verify", "--file", path(&altered)]).fails(3).to_owned();
    assert!(msg.contains("seq 2") && msg.contains("`9007199254740993`") && msg.contains("altered"), "{msg}");

    let fresh = Ledger::new();
    let msg = fresh.run(&["import", path(&altered)]).fails(1).to_owned();
    assert!(msg.contains("line 2") && msg.contains("`9007199254740993`"), "{msg}");
    assert!(msg.ends_with("quote it as a string"), "{msg}");
    assert_eq!(fresh.head().0, 0, "nothing of the refused import is recorded");
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}
