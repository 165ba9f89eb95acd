//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use accord::model::date::Day;

pub const BIN: &str = env!("CARGO_BIN_EXE_accord");

/// The bundled ISA log.
pub fn isa_log() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("events/isa.ndjson")
}

/// A ledger holding the bundled ISA log (14 events, one org).
pub fn isa() -> Ledger {
    let l = Ledger::new();
    l.run(&["import", s(&isa_log())]).ok();
    l
}

/// A temporary ledger; removed when dropped.
pub struct Ledger {
    pub dir: tempfile::TempDir,
}

/// What one run of `accord` did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "expected success, got {}: {}{}", self.code, self.stderr, self.stdout);
        &self.stdout
    }

    /// Asserts the exit code and one clear sentence on stderr; returns it.
    #[track_caller]
    pub fn fails(&self, code: i32) -> &str {
        self.check_fails(code).unwrap_or_else(|problem| panic!("{problem}"))
    }

    /// [`Run::fails`] without the panic: the sentence, or what is wrong.
    pub fn check_fails(&self, code: i32) -> Result<&str, String> {
        if self.code != code {
            return Err(format!(
                "expected exit {code}, got {}: stderr={} stdout={}",
                self.code, self.stderr, self.stdout
            ));
        }
        let msg = self.stderr.trim_end();
        if msg.is_empty() {
            return Err("no message on stderr".to_owned());
        }
        if msg.lines().count() != 1 {
            return Err(format!("expected one line on stderr, got: {msg}"));
        }
        if msg.contains("panicked") || msg.contains("RUST_BACKTRACE") {
            return Err(format!("panic: {msg}"));
        }
        Ok(msg)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger { dir: tempfile::tempdir().expect("temp dir") }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("ledger")
    }

    /// A `Command` for accord on this ledger, with a fixed actor.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--ledger").arg(self.path()).args(args);
        c.env_remove("ACCORD_LEDGER").env("ACCORD_ACTOR", "tester");
        c
    }

    /// A `Command` that runs accord on this ledger under another program
    /// (`strace …`): `program program_args… accord --ledger PATH args…`.
    pub fn command_under<S: AsRef<OsStr>>(&self, program: &str, program_args: &[S], args: &[&str]) -> Command {
        let mut c = Command::new(program);
        c.args(program_args).arg(BIN).arg("--ledger").arg(self.path()).args(args);
        c.env_remove("ACCORD_LEDGER").env("ACCORD_ACTOR", "tester");
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).stdin(Stdio::null()).output().expect("run accord"))
    }

    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn accord");
        // A refused input may close stdin early; that is not a test failure.
        let _ = child.stdin.take().expect("stdin").write_all(input);
        Run::from(child.wait_with_output().expect("wait accord"))
    }

    /// Appends one event given as JSON; asserts success.
    #[track_caller]
    pub fn append(&self, event: &str) -> String {
        self.run(&["append", event]).ok().to_owned()
    }

    /// Imports NDJSON text through stdin.
    pub fn import_text(&self, ndjson: &str) -> Run {
        self.run_stdin(&["import", "-"], ndjson.as_bytes())
    }

    /// (seq, hash) of the head; (0, zeros) for an empty or missing ledger.
    pub fn head(&self) -> (u64, String) {
        let r = self.run(&["head", "--json"]);
        if r.code != 0 {
            return (0, "0".repeat(64));
        }
        let v = r.json();
        (v["seq"].as_u64().expect("seq"), v["hash"].as_str().expect("hash").to_owned())
    }

    /// The full export as text.
    pub fn export(&self) -> String {
        self.run(&["export"]).ok().to_owned()
    }

    /// `members ORG --at DAY --json` plus extra args: SPEC §5's object.
    /// Each entry also carries the source of its event (issue 13, additive),
    /// checked here to be there and then taken off; tests/cli/logshow.rs
    /// checks its value.
    pub fn members(&self, org: &str, at: &str, extra: &[&str]) -> serde_json::Value {
        let mut args = vec!["members", org, "--at", at, "--json"];
        args.extend_from_slice(extra);
        spec_members(self.run(&args).json())
    }
}

/// A `members --json` object with SPEC §5's fields only: each entry's
/// `source` (there, if null) taken off.
pub fn spec_members(mut m: serde_json::Value) -> serde_json::Value {
    for list in ["members", "uncertain"] {
        for entry in m[list].as_array_mut().into_iter().flatten() {
            let source = entry.as_object_mut().and_then(|o| o.remove("source"));
            assert!(source.is_some(), "no source in {entry}");
        }
    }
    m
}

/// A path as the `&str` an argument list takes.
pub fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// `audit verify` succeeds.
#[track_caller]
pub fn verifies(l: &Ledger, when: &str) {
    let r = l.run(&["audit", "verify"]);
    assert_eq!(r.code, 0, "{when}: audit verify failed: {}{}", r.stderr, r.stdout);
}

/// Whether an outside program the tests drive (`strace`, `python3`) runs
/// here. If it does not, the test says so loudly and skips what needs it;
/// but under `CI=true` (or `CI=1`) a missing tool fails the test, so that CI
/// never passes by skipping.
///
/// The notice is written to the process's stderr, not through `eprintln!`,
/// which the test harness captures and shows only for a failing test: a
/// skip must be seen when the test passes.
pub fn tool_available(program: &str) -> bool {
    tool_answers(program, "--version")
}

/// [`tool_available`] for a program that answers `arg` (`openssl version`).
pub fn tool_answers(program: &str, arg: &str) -> bool {
    let runs = Command::new(program)
        .arg(arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if runs {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(!ci, "{program} is not installed, and CI=true: install it (apt-get install {program})");
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let notice = format!(
        "\n*** SKIPPED in {test}: {program} is not installed (apt-get install {program}); what needs it is not checked ***\n"
    );
    let _ = std::io::stderr().write_all(notice.as_bytes());
    false
}

/// Events in the big generated import file.
pub const BIG: usize = 200_000;
/// Organizations in it.
pub const BIG_ORGS: usize = 100;

/// 200 000 valid events: 100 orgs founded on 2000-01-01, then, day after day,
/// each org sees an accession, a withdrawal of that party, its rejoining, and
/// the accession of another party; the orgs are interleaved line by line.
/// Every event has its own content, so every derived id is distinct. With
/// `source`, every event carries it. The same text every run.
pub fn big_import_text(source: Option<&str>) -> String {
    let tail = match source {
        Some(source) => format!(r#","source":{}}}"#, serde_json::Value::from(source)),
        None => "}".to_owned(),
    };
    let mut text = String::with_capacity(BIG * (80 + tail.len()));
    let mut day = Day::from_ymd(2000, 1, 1).expect("day");
    for j in 0..BIG / BIG_ORGS {
        for o in 0..BIG_ORGS {
            let event = match j % 4 {
                _ if j == 0 => format!(r#"{{"type":"founding","org":"o{o:03}","date":"{day}","members":["F"]"#),
                1 => format!(r#"{{"type":"accession","org":"o{o:03}","date":"{day}","members":["P{j}"]"#),
                2 => format!(r#"{{"type":"withdrawal","org":"o{o:03}","date":"{day}","members":["P{}"]"#, j - 1),
                3 => format!(r#"{{"type":"accession","org":"o{o:03}","date":"{day}","members":["P{}"]"#, j - 2),
                _ => format!(r#"{{"type":"accession","org":"o{o:03}","date":"{day}","members":["Q{j}"]"#),
            };
            text.push_str(&event);
            text.push_str(&tail);
            text.push('\n');
        }
        day = day.succ();
    }
    text
}

/// Writes [`big_import_text`] to `path`.
pub fn big_import_file(path: &Path, source: Option<&str>) {
    std::fs::write(path, big_import_text(source)).expect("write the big file");
}

/// Member ids of a `members --json` answer, in order.
pub fn ids(members: &serde_json::Value, field: &str) -> Vec<String> {
    members[field]
        .as_array()
        .map(|a| a.iter().map(|m| m["id"].as_str().unwrap_or("?").to_owned()).collect())
        .unwrap_or_default()
}

/// How long any one accord run may take before [`run_timeout`] calls it a hang.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Runs a command with a time limit: output goes to files (so a full pipe
/// cannot block it), the child is polled and killed once `limit` has passed.
/// `None`: it was still running then, and was killed.
pub fn run_within(mut cmd: Command, limit: Duration) -> Option<Run> {
    let dir = tempfile::tempdir().expect("temp dir");
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"))
        .spawn()
        .expect("spawn accord");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait accord") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).expect("output file")).into_owned();
    Some(Run { code: status.code().unwrap_or(-1), stdout: read(&out), stderr: read(&err) })
}

/// [`run_within`] [`TIMEOUT`]; a hang fails the test.
#[track_caller]
pub fn run_timeout(cmd: Command, what: &str) -> Run {
    run_within(cmd, TIMEOUT).unwrap_or_else(|| panic!("accord hung (killed after {TIMEOUT:?}): {what}"))
}

/// A `Command` for `accord --ledger DIR ARGS`, with a fixed actor.
pub fn accord_command(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--ledger").arg(dir).args(args).env_remove("ACCORD_LEDGER").env("ACCORD_ACTOR", "tester");
    c
}

/// `accord --ledger DIR ARGS` with a timeout.
#[track_caller]
pub fn accord_at(dir: &Path, args: &[&str], what: &str) -> Run {
    run_timeout(accord_command(dir, args), what)
}

/// Copies a ledger directory (sled's files, the head marker, blobs).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create copy");
    for entry in std::fs::read_dir(from).expect("read ledger dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// `n` valid events in `orgs` orgs (`syn-0`, …), interleaved: a founding,
/// then accessions, exercises and withdrawals on later and later days.
pub fn synthetic(n: usize, orgs: usize) -> String {
    let mut out = String::new();
    for i in 0..n {
        let (org, k) = (i % orgs, i / orgs);
        let date = format!("{}-{:02}-{:02}", 1950 + k / 336, 1 + (k / 28) % 12, 1 + k % 28);
        let mut event = match k {
            0 => json!({"type": "founding", "members": ["P0", "P1"], "name": format!("Synthetic {org}")}),
            _ if k % 4 == 1 => json!({"type": "exercise", "name": format!("EX-{k}"), "place": "Somewhere"}),
            _ if k % 4 == 3 => json!({"type": "withdrawal", "members": [format!("P{}", k - 1)]}),
            _ => json!({"type": "accession", "members": [format!("P{k}")]}),
        };
        let map = event.as_object_mut().expect("object");
        map.insert("org".into(), json!(format!("syn-{org}")));
        map.insert("date".into(), json!(date));
        map.insert("source".into(), json!({"title": format!("Synthetic report {i}"), "publisher": "Test"}));
        map.insert("note".into(), json!("A synthetic event, to give the store a few hundred entries."));
        out.push_str(&event.to_string());
        out.push('\n');
    }
    out
}

/// A small deterministic generator (xorshift64), so that every run of the
/// suite makes the same choices.
pub struct XorShift(pub u64);

impl XorShift {
    /// A generator from any seed (0 included).
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A number in `lo..hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo)
    }
}

/// Starts `accord import -` with stdin left open: it holds the ledger until
/// its stdin closes. Returns once another process finds the ledger held.
pub fn hold(l: &Ledger) -> std::process::Child {
    let child = l
        .command(&["import", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the holder");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let r = l.run(&["--wait", "0", "head"]);
        if r.code == 4 {
            break;
        }
        assert_eq!(r.code, 0, "head: {}", r.stderr);
        assert!(std::time::Instant::now() < deadline, "the holder never took the ledger");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child
}

/// Opens a ledger's sled tree directly, as an inspector or a forger would.
///
/// sled's lock on its `db` file goes with the last thread of the previous
/// opener (its flusher, or a test's own earlier `sled::open`), a moment
/// after that handle is dropped; so the lock is retried for a while instead
/// of failing a test on the race. No background flusher is started: callers
/// flush before they drop.
#[track_caller]
pub fn sled_at(path: &Path) -> sled::Db {
    let config = sled::Config::new().path(path).flush_every_ms(None);
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match config.open() {
            Ok(db) => return db,
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock") && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("open the ledger at {} with sled: {e}", path.display()),
        }
    }
}

/// An image decoded from PNG: width, height, RGB pixels.
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<[u8; 3]>,
}

impl Image {
    /// Decodes a PNG (any bit depth, palette or alpha) to RGB pixels.
    pub fn decode(png: &[u8]) -> Image {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().expect("a PNG");
        let mut buf = vec![0; reader.output_buffer_size().expect("a size")];
        let info = reader.next_frame(&mut buf).expect("a frame");
        let samples = info.color_type.samples();
        assert!(samples >= 3, "an RGB image, got {:?}", info.color_type);
        let rgb = buf[..info.buffer_size()].chunks(samples).map(|p| [p[0], p[1], p[2]]).collect();
        Image { width: info.width as usize, height: info.height as usize, rgb }
    }

    /// How many pixels are within `tolerance` of `colour` in each channel.
    pub fn count_near(&self, colour: [u8; 3], tolerance: u8) -> usize {
        self.rgb.iter().filter(|p| p.iter().zip(colour).all(|(&a, b)| a.abs_diff(b) < tolerance)).count()
    }
}
