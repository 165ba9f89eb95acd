//! What a refused or failed command leaves: nothing. Reading never creates
//! a ledger; every way in obeys the same size limit, so that every export
//! imports again; an import refused by its own duplicate says so without
//! naming a seq it never recorded.

use crate::support::*;

/// Every command that only reads, on a ledger that is not there.
const READERS: &[&[&str]] = &[
    &["head"],
    &["log"],
    &["export"],
    &["orgs"],
    &["show", "6f1d3c1e-4d59-4c47-9d8f-0d6f0a0f9e01"],
    &["members", "isa"],
    &["history", "isa"],
    &["diff", "isa", "--from", "2020-01-01", "--to", "2021-01-01"],
    &["audit", "verify"],
    &["audit", "replay"],
];

#[test]
fn reading_never_creates_a_ledger() {
    let dir = tempfile::tempdir().expect("temp dir");
    let absent = dir.path().join("absent");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    for path in [&absent, &empty] {
        for args in READERS {
            let r = run_at(path, args);
            let msg = r.fails(1);
            assert!(msg.contains(&format!("there is no ledger at {}", path.display())), "{args:?}: {msg}");
        }
    }
    assert!(!absent.exists(), "a reader created {}", absent.display());
    let left: Vec<_> = std::fs::read_dir(&empty).expect("read dir").collect();
    assert!(left.is_empty(), "a reader created files in an empty directory: {left:?}");
}

#[test]
fn a_refused_first_append_leaves_an_existing_directory_as_it_was() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("notes.txt"), "mine").expect("write");
    let r = run_at(dir.path(), &["append", r#"{"type":"accession","org":"isa","date":"2020","members":["X"]}"#]);
    r.fails(1);
    let left: Vec<_> =
        std::fs::read_dir(dir.path()).expect("read dir").map(|e| e.expect("entry").file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("notes.txt")]);
}

fn run_at(path: &std::path::Path, args: &[&str]) -> Run {
    let output = std::process::Command::new(BIN)
        .arg("--ledger")
        .arg(path)
        .args(args)
        .env_remove("ACCORD_LEDGER")
        .env("ACCORD_ACTOR", "tester")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run accord");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The size the refusal says the event would take as recorded.
fn recorded_size(msg: &str) -> usize {
    let after = msg.split("recorded as ").nth(1).unwrap_or_else(|| panic!("no size in: {msg}"));
    after.split(' ').next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("no size in: {msg}"))
}

const LIMIT: usize = 64 * 1024;

/// A note that makes an event whose JSON is under the limit (so it is read)
/// but whose recorded envelope (seq, time, recorder, id, hashes) is over.
const PROBE: usize = LIMIT - 150;

/// Appends, by `way`, an exercise of `org` whose note has `n` bytes.
fn append_with_note(l: &Ledger, way: &str, org: &str, n: usize) -> Run {
    let note = "n".repeat(n);
    let json = format!(r#"{{"type":"exercise","org":"{org}","date":"2021","name":"big","note":"{note}"}}"#);
    match way {
        "flags" => {
            l.run(&["append", "--type", "exercise", "--org", org, "--date", "2021", "--name", "big", "--note", &note])
        }
        "argument" => l.run(&["append", &json]),
        "stdin" => l.run_stdin(&["append"], json.as_bytes()),
        _ => l.run_stdin(&["import", "-"], format!("{json}\n").as_bytes()),
    }
}

/// Events whose recorded envelope is exactly 64 KiB are taken, one byte
/// more is refused, whatever way they come in (flags, a JSON argument,
/// stdin, an import line); and the export of such a ledger imports into an
/// empty ledger as the identical log.
#[test]
fn the_size_limit_is_on_the_recorded_bytes_and_every_export_imports_again() {
    let l = Ledger::new();
    l.run(&["import", isa_log().to_str().expect("path")]).ok();
    let mut rng = XorShift::new(7);
    for (i, way) in ["flags", "argument", "stdin", "import"].iter().enumerate() {
        // Orgs of other lengths make envelopes of other shapes.
        let org = if i % 2 == 0 { "isa".to_owned() } else { format!("o{}", rng.between(10, 99_999)) };
        if org != "isa" {
            l.append(&format!(r#"{{"type":"founding","org":"{org}","date":"2001","members":["A"],"name":"x"}}"#));
        }
        let before = l.head();
        // Too big: the refusal says how big it would be, which finds the largest that fits.
        let probe = append_with_note(&l, way, &org, PROBE);
        let msg = probe.fails(1).to_owned();
        let fits = PROBE - (recorded_size(&msg) - LIMIT);
        assert_eq!(l.head(), before, "{way}: a refused event changed the ledger");
        let over = append_with_note(&l, way, &org, fits + 1);
        assert_eq!(recorded_size(over.fails(1)), LIMIT + 1, "{way}");
        assert_eq!(l.head(), before, "{way}");
        append_with_note(&l, way, &org, fits).ok();
        let last = l.export().lines().last().map(str::len);
        assert_eq!(last, Some(LIMIT), "{way}: the recorded line is exactly the limit");
    }
    let export = l.export();
    let copy = Ledger::new();
    copy.run_stdin(&["import", "-"], export.as_bytes()).ok();
    assert_eq!(copy.export(), export, "the export restores the identical log");
    copy.run(&["audit", "verify"]).ok();
}

#[test]
fn an_id_given_twice_in_one_import_names_no_seq_it_never_recorded() {
    let l = Ledger::new();
    l.run(&["import", isa_log().to_str().expect("path")]).ok();
    let before = (l.head(), l.export());
    let id = "2b6c3f0e-9a41-4c5e-8d3a-5f1e2d7c9b10";
    let file = format!(
        "{}\n{}\n",
        format_args!(r#"{{"id":"{id}","type":"exercise","org":"isa","date":"2021","name":"one"}}"#),
        format_args!(r#"{{"id":"{id}","type":"exercise","org":"isa","date":"2021","name":"two"}}"#),
    );
    let msg = l.import_text(&file).fails(1).to_owned();
    assert!(msg.starts_with("accord: stdin line 2:") && msg.contains("given twice in this import"), "{msg}");
    assert!(!msg.contains("seq"), "names a seq that was never recorded: {msg}");
    assert_eq!((l.head(), l.export()), before);
}
