//! `accord import`: record every event of NDJSON files, all or nothing.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde_json::json;

use accord::ledger::{LedgerError, Line, LineReader, MAX_EVENT_BYTES, Outcome, Recorder};
use accord::{Error, ErrorKind};

use super::progress::Bar;
use super::{Context, Out, emit, file_failed, file_failed_verbatim, interrupt};

#[derive(Default)]
struct Counts {
    recorded: u64,
    already: u64,
    /// `--expect-head`: checked at the first event recorded.
    expect_head: Option<u64>,
}

pub fn run(ctx: &Context, paths: &[PathBuf], expect_head: Option<u64>, out: Out<'_>) -> Result<(), Error> {
    let files = expand(paths)?;
    interrupt::install();
    let ledger = ctx.open(true).map_err(|e| super::nothing_recorded(e, Ok(())))?;
    let mut recorder = match ledger.recorder(&ctx.actor()) {
        Ok(recorder) => recorder,
        Err(e) => {
            ledger.close_discarding_if_new()?;
            return Err(e);
        }
    };
    let mut counts = Counts { expect_head, ..Counts::default() };
    let bar = Bar::bytes(ctx, "importing", total_size(&files), files.iter().any(|p| p.as_os_str() == "-"));
    let recorded = import_all(ctx, &mut recorder, &files, &mut counts, &bar).and_then(|()| {
        bar.message(|| format!("{}; committing", events(&counts)));
        recorder.commit()
    });
    drop(bar);
    let head = match recorded {
        Ok(head) => head,
        Err(e) => {
            // All or nothing: undo what this import wrote, then report the first error.
            let undone = recorder.abort();
            ledger.close_discarding_if_new()?;
            return Err(super::nothing_recorded(e, undone));
        }
    };
    if ctx.json {
        emit(out, json!({"recorded": counts.recorded, "already_recorded": counts.already, "head": head}))
    } else {
        emit(
            out,
            format!(
                "recorded {} ({} already recorded); head is seq {} {}",
                super::render::count(counts.recorded as usize, "event", "events"),
                counts.already,
                head.seq,
                head.hash
            ),
        )
    }
}

/// The bytes of all the files, for the progress bar; `None` if one of them
/// is stdin or its size is not known.
fn total_size(files: &[PathBuf]) -> Option<u64> {
    files.iter().map(|p| std::fs::metadata(p).ok().filter(|m| m.is_file()).map(|m| m.len())).sum()
}

/// `, 12,345 events`, after the bytes on the progress bar.
fn events(counts: &Counts) -> String {
    let n = counts.recorded + counts.already;
    format!(", {}", super::render::count(n as usize, "event", "events"))
}

fn import_all(
    ctx: &Context,
    recorder: &mut Recorder<'_>,
    files: &[PathBuf],
    counts: &mut Counts,
    bar: &Bar,
) -> Result<(), Error> {
    for path in files {
        if path.as_os_str() == "-" {
            import_reader(recorder, "stdin", BufReader::new(bar.reader(ctx.stdin())), counts, bar)?;
        } else {
            let file = File::open(path).map_err(|e| file_failed(format_args!("cannot open {}", path.display()), e))?;
            import_reader(recorder, &path.display().to_string(), BufReader::new(bar.reader(file)), counts, bar)?;
        }
    }
    interrupted()
}

/// Stops the command if the user asked (Ctrl-C).
fn interrupted() -> Result<(), Error> {
    if interrupt::received() { Err(Error::Interrupted) } else { Ok(()) }
}

/// Files in the order given; a directory gives its `.ndjson`/`.jsonl` files
/// (recursively), sorted by name.
fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            collect_dir(path, &mut files)?;
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn collect_dir(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), Error> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| file_failed_verbatim(format_args!("cannot read the directory {}", dir.display()), e))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            collect_dir(&path, files)?;
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("ndjson" | "jsonl")) {
            files.push(path);
        }
    }
    Ok(())
}

/// Lines handed from the reading thread to the recorder at a time.
const BATCH: usize = 256;
/// Batches read ahead of the recorder at most: bounds the memory.
const AHEAD: usize = 4;

/// What the reading thread hands over at a time: lines read (each an event
/// or its refusal, with its line number), then perhaps the reason it
/// stopped early.
#[derive(Default)]
struct Handed {
    lines: Vec<(u64, Result<Line, Error>)>,
    failed: Option<Error>,
}

/// Records the lines of `reader` in order. Reading and parsing a line need
/// no ledger, so a thread does them while this one records the lines before.
fn import_reader(
    recorder: &mut Recorder<'_>,
    label: &str,
    reader: impl BufRead + Send + 'static,
    counts: &mut Counts,
    bar: &Bar,
) -> Result<(), Error> {
    let (tx, rx) = std::sync::mpsc::sync_channel(AHEAD);
    // The events recorded come back to be freed where they were made,
    // a log block's worth at a time: room for those of the lines read ahead.
    let (back_tx, back_rx) = std::sync::mpsc::sync_channel(AHEAD * BATCH / accord::store::format::BLOCK);
    recorder.hand_back_written(back_tx);
    // The log blocks and indexes are written on a thread of their own.
    recorder.write_behind();
    let owned_label = label.to_owned();
    // Not joined on a refusal: the thread may be waiting for input (stdin)
    // and ends with the process; it stops once nobody receives.
    std::thread::Builder::new()
        .name("read".into())
        .spawn(move || read_lines(&owned_label, reader, &tx, &back_rx))
        .map_err(|e| file_failed(format_args!("cannot start reading {label}"), e))?;
    for Handed { lines, failed } in rx {
        for (line_no, line) in lines {
            interrupted()?;
            // Input is refused with its place; a failure of the system is not the line's.
            let outcome = recorder
                .record_parsed(line?)
                .map_err(|e| if e.kind() == ErrorKind::Io { e } else { e.at(format!("{label} line {line_no}")) });
            let outcome = outcome?;
            if counts.recorded == 0 {
                super::expect_head(counts.expect_head, outcome)?;
            }
            match outcome {
                Outcome::Recorded(_) => counts.recorded += 1,
                Outcome::AlreadyRecorded(_) => counts.already += 1,
            }
        }
        bar.message(|| events(counts));
        if let Some(e) = failed {
            return Err(e);
        }
    }
    Ok(())
}

/// Reads and parses the lines of `reader`, handing them over in batches
/// until the end, a line that cannot be read, or nobody receives; between
/// batches, drops the events the recorder handed back.
fn read_lines(
    label: &str,
    mut reader: impl BufRead,
    tx: &std::sync::mpsc::SyncSender<Handed>,
    back: &std::sync::mpsc::Receiver<Vec<accord::model::event::Event>>,
) {
    let mut buf = Vec::new();
    let mut lines = LineReader::default();
    let mut line_no = 0u64;
    let mut batch = Handed { lines: Vec::with_capacity(BATCH), failed: None };
    let stopped = loop {
        buf.clear();
        line_no += 1;
        let place = || format!("{label} line {line_no}");
        // Read at most one byte past the limit, so a huge line costs little memory.
        let n = match (&mut reader).take(MAX_EVENT_BYTES as u64 + 2).read_until(b'\n', &mut buf) {
            Ok(n) => n,
            Err(e) => break Some(file_failed(format_args!("cannot read {label}"), e)),
        };
        if n == 0 {
            break None;
        }
        if buf.last() != Some(&b'\n') && buf.len() > MAX_EVENT_BYTES {
            break Some(Error::from(LedgerError::TooLong { what: "the line" }).at(place()));
        }
        let Ok(text) = std::str::from_utf8(&buf) else {
            break Some(Error::from(LedgerError::NotUtf8 { what: "the line" }).at(place()));
        };
        let text = text.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            continue;
        }
        let line = lines.parse(text).map_err(|e| e.at(place()));
        let refused = line.is_err();
        batch.lines.push((line_no, line));
        if refused {
            // The recorder stops at the first refusal: nothing after it counts.
            break None;
        }
        if batch.lines.len() == BATCH {
            if tx.send(std::mem::take(&mut batch)).is_err() {
                return;
            }
            back.try_iter().for_each(drop);
        }
    };
    batch.failed = stopped;
    let _ = tx.send(batch);
}
