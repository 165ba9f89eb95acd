//! What "recorded" means on disk: before accord says an event is recorded,
//! the sled data file has been fsynced after its last write, and so has the
//! ledger directory. Checked by tracing the real process with strace.

use std::process::Command;

use crate::support::*;

/// Runs accord under strace; returns the trace lines (with fd paths, `-y`).
fn traced(l: &Ledger, args: &[&str]) -> Vec<String> {
    let trace = l.dir.path().join("trace.txt");
    let status = Command::new("strace")
        .args(["-f", "-y", "-qq", "-e", "trace=pwrite64,write,fsync,fdatasync,sync_file_range", "-o"])
        .arg(&trace)
        .arg(BIN)
        .arg("--ledger")
        .arg(l.path())
        .args(args)
        .env("ACCORD_ACTOR", "tester")
        .output()
        .expect("run strace");
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    std::fs::read_to_string(&trace).expect("trace").lines().map(str::to_owned).collect()
}

/// Index of the last line matching `pred`, if any.
fn last(lines: &[String], pred: impl Fn(&str) -> bool) -> Option<usize> {
    lines.iter().rposition(|l| pred(l))
}

fn check_synced_before_reporting(lines: &[String], ledger: &str) {
    let db = format!("{ledger}/db>");
    let reported = last(lines, |l| l.contains("write(1") && l.contains("recorded")).expect("the recorded line");
    let last_write = last(&lines[..reported], |l| l.contains("pwrite64(") && l.contains(&db)).expect("a write to db");
    let synced = lines[last_write..reported].iter().any(|l| l.contains("fsync(") && l.contains(&db));
    assert!(synced, "no fsync of {db} between its last write and the report:\n{}", lines.join("\n"));
    let dir = format!("<{ledger}>");
    let dir_synced = lines[last_write..reported].iter().any(|l| l.contains("fsync(") && l.contains(&dir));
    assert!(dir_synced, "no fsync of the ledger directory before the report:\n{}", lines.join("\n"));
}

#[test]
fn append_and_import_fsync_the_data_file_and_directory_before_reporting() {
    if !tool_available("strace") {
        return;
    }
    let l = Ledger::new();
    let ledger = l.path().canonicalize().unwrap_or_else(|_| l.path()).display().to_string();
    let lines = traced(&l, &["import", isa_log().to_str().unwrap()]);
    let ledger = std::fs::canonicalize(&ledger).map(|p| p.display().to_string()).unwrap_or(ledger);
    check_synced_before_reporting(&lines, &ledger);

    let lines = traced(&l, &["append", r#"{"type":"accession","org":"isa","date":"2026-01-05","members":["AUS"]}"#]);
    check_synced_before_reporting(&lines, &ledger);
}
