//! What "recorded" means on disk: before accord says an event is recorded,
//! the sled data file has been fsynced after its last write before the
//! commit point, the commit point (the rename of the new head into
//! `accord.head`) has happened, and the ledger directory has been fsynced
//! after it. Checked by tracing the real process with strace.

use std::process::Command;

use crate::support::*;

/// Runs accord under strace; returns the trace lines (with fd paths, `-y`).
fn traced(l: &Ledger, args: &[&str]) -> Vec<String> {
    let trace = l.dir.path().join("trace.txt");
    let status = Command::new("strace")
        .args([
            "-f",
            "-y",
            "-qq",
            "-e",
            "trace=pwrite64,write,fsync,fdatasync,sync_file_range,rename,renameat,renameat2,fallocate,ftruncate",
            "-o",
        ])
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
    let all = || lines.join("\n");
    let db = format!("{ledger}/db>");
    let reported = last(lines, |l| l.contains("write(1") && l.contains("recorded")).expect("the recorded line");
    // The commit point: the new head renamed into place.
    let committed = last(&lines[..reported], |l| l.contains("rename") && l.contains("accord.head.tmp"))
        .unwrap_or_else(|| panic!("no rename of accord.head.tmp before the report:\n{}", all()));
    let last_write = last(&lines[..committed], |l| l.contains("pwrite64(") && l.contains(&db)).expect("a write to db");
    let synced = lines[last_write..committed].iter().any(|l| l.contains("fsync(") && l.contains(&db));
    assert!(synced, "no fsync of {db} between its last write and the commit point:\n{}", all());
    let dir = format!("<{ledger}>");
    let dir_synced = lines[committed..reported].iter().any(|l| l.contains("fsync(") && l.contains(&dir));
    assert!(dir_synced, "no fsync of the ledger directory between the commit point and the report:\n{}", all());
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

/// A command that writes nothing leaves sled's close (zero-filling and
/// syncing its next segments) to the process's end: nothing is written to or
/// synced on the data file after its answer (ARCHITECTURE: `Options::exiting`).
#[test]
fn a_read_does_not_close_sled_after_answering() {
    let Some(l) = isa_ledger_to_trace() else { return };
    for args in [&["members", "isa", "--json"][..], &["orgs"], &["head"], &["audit", "verify"]] {
        let lines = traced(&l, args);
        let answered = last(&lines, |x| x.contains("write(1")).unwrap_or_else(|| panic!("{args:?}: no answer"));
        let after: Vec<&String> = lines[answered..]
            .iter()
            .filter(|x| (x.contains("pwrite64(") || x.contains("fsync(")) && x.contains("/db>"))
            .collect();
        assert!(after.is_empty(), "{args:?} wrote to sled's data file after answering: {after:?}");
    }
}

/// A command that only reads writes nothing to the data file, not even
/// the bytes sled's recovery zero-fills at every open when they are
/// already there (vendor/sled/PATCH.md): a read leaves the ledger's files
/// as it found them, whatever their backup or replication makes of a write.
#[test]
fn a_read_writes_nothing_to_the_data_file() {
    let Some(l) = isa_ledger_to_trace() else { return };
    // The first open after the import may still record sled's own progress.
    l.run(&["head"]).ok();
    for args in [&["members", "isa", "--json"][..], &["orgs"], &["head"], &["history", "isa"]] {
        let lines = traced(&l, args);
        let writes: Vec<&String> = (lines.iter())
            .filter(|x| ["pwrite64(", "fallocate(", "ftruncate("].iter().any(|c| x.contains(c)) && x.contains("/db>"))
            .collect();
        assert!(writes.is_empty(), "{args:?} wrote to sled's data file: {writes:?}");
    }
}

/// A ledger holding the ISA log, if strace is here to trace commands on it.
fn isa_ledger_to_trace() -> Option<Ledger> {
    if !tool_available("strace") {
        return None;
    }
    let l = Ledger::new();
    l.run(&["import", isa_log().to_str().unwrap()]).ok();
    Some(l)
}

/// `export -o FILE` is a backup: its bytes are written in large pieces and
/// handed to the disk as they are written (`sync_file_range`, every 4 MiB,
/// so that the `fsync` at the end has little left to do), the partial file
/// is fsynced after its last write, and only then renamed to FILE; FILE
/// holds what `export` prints.
#[test]
fn an_export_to_a_file_is_written_to_disk_as_it_goes_and_synced_before_it_appears() {
    if !tool_available("strace") {
        return;
    }
    let l = Ledger::new();
    // About 420 bytes an envelope: more than two hand-overs' worth.
    l.import_text(&synthetic(24_000, 10)).ok();
    let file = l.dir.path().join("backup.ndjson");
    let lines = traced(&l, &["export", "-o", s(&file)]);
    let all = || lines.join("\n");
    // The partial file, as a descriptor's path (`-y`) and as a name.
    let (partial, name) = (".backup.ndjson.accord-partial>", ".backup.ndjson.accord-partial\"");
    let renamed = last(&lines, |x| x.contains("rename") && x.contains(name)).unwrap_or_else(|| panic!("{}", all()));
    let last_write = last(&lines[..renamed], |x| x.contains("write(") && x.contains(partial)).expect("a write");
    let synced = lines[last_write..renamed].iter().any(|x| x.contains("fsync(") && x.contains(partial));
    assert!(synced, "no fsync of the partial export between its last write and its rename:\n{}", all());
    let handed = lines[..last_write].iter().filter(|x| x.contains("sync_file_range(") && x.contains(partial)).count();
    assert!(handed >= 2, "the export's bytes were not handed to the disk as it went ({handed} times):\n{}", all());
    let exported = std::fs::read_to_string(&file).expect("the export");
    // A `write` call costs the kernel more than its bytes: with 8 KiB
    // pieces, half an export's system time went to them.
    let writes = lines[..=last_write].iter().filter(|x| x.contains("write(") && x.contains(partial)).count();
    let most = exported.len() / (256 << 10) + 2;
    assert!(writes <= most, "{} bytes exported in {writes} writes, more than {most}:\n{}", exported.len(), all());
    assert_eq!(exported, l.export());
}
