//! accord side by side with its peers, on one generated log, in one run.
//!
//! ```sh
//! cargo build --release --workspace && target/release/accord-bench [--events N] [--orgs N] [--dir PATH]
//! target/release/accord-bench generate FILE EVENTS ORGS   # the log alone
//! target/release/accord-bench scale DIR 100000 1000000 5000000   # import rate by size
//! target/release/accord-bench serve-load LEDGER_DIR [--clients 32] [--seconds 20] [--orgs N]
//! target/release/accord-bench probe   # the VM's speed now: SHA-256 (MB/s, two threads), a memory load (ns)
//! ```
//!
//! - **accord**: the real `accord` binary (next to this one in target/release),
//!   driven as a user would; the bench links no accord code.
//! - **SQLite peer** ([`peer`]): an independent compiled peer with its own
//!   parsing (serde_json) and hashing (sha2), stored through rusqlite
//!   (bundled SQLite). It checks no rules.
//! - **raw sled**: accord's exported envelopes, one key per event, batches of
//!   512, flushed: what sled itself costs. For a one-shot query, sled opening
//!   accord's ledger and leaving its close to the process's end, as accord's
//!   commands that write nothing do: the floor of any command.
//! - **`accord serve`** ([`serve_load`]): the one-shot `members` through the
//!   server, then the server under concurrent clients (reads with appends
//!   among them), its latencies, errors and memory.
//!
//! Every figure is a [`Measured`] child process (wall time, and peak RSS from
//! wait4), and stdout is the README table itself.

mod peer;
mod serve_load;

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BATCH: usize = 512;
const QUERY_DAY: &str = "2030-01-01";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("peer-import") => peer::import(Path::new(&args[2]), Path::new(&args[3])),
        Some("peer-members") => peer::members(Path::new(&args[2]), &args[3], &args[4]),
        Some("peer-verify") => peer::verify(Path::new(&args[2])),
        Some("peer-export") => peer::export(Path::new(&args[2]), Path::new(&args[3])),
        Some("sled-import") => raw_sled_import(Path::new(&args[2]), Path::new(&args[3])),
        Some("sled-open") => sled_open(Path::new(&args[2])),
        Some("generate") => generate_only(&args[2..]),
        // For profiling the tree's build: `remove-tree LEDGER`, then any open.
        Some("remove-tree") => args
            .get(2)
            .ok_or_else(|| "usage: accord-bench remove-tree LEDGER".to_owned())
            .and_then(|l| remove_tree(Path::new(l))),
        Some("scale") => scale(&args[2..]),
        Some("probe") => {
            println!("{} MB/s, {:.0} ns", grouped(probe()), probe_memory_here());
            Ok(())
        }
        Some("probe-memory") => {
            println!("{}", probe_memory_here());
            Ok(())
        }
        Some("serve-load") => serve_load::serve_load(&args[2..]),
        _ => compare(&args[1..]),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("accord-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

type Res<T = ()> = Result<T, String>;

fn io<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

struct Measured {
    wall: Duration,
    max_rss_kb: i64,
    stdout: String,
}

impl Measured {
    /// Several runs of one command: the median wall time, the highest peak RSS.
    fn median_of(runs: Vec<Measured>) -> Measured {
        let max_rss_kb = runs.iter().map(|m| m.max_rss_kb).max().unwrap_or(0);
        let wall = median(runs.iter().map(|m| m.wall).collect());
        Measured { wall, max_rss_kb, stdout: String::new() }
    }
}

/// Runs a command to its end, with its wall time and peak RSS (wait4).
///
/// A child's peak RSS is at least this process's peak so far: spawned by
/// vfork, the child runs in this process's memory until its `exec`, and
/// Linux keeps that memory's peak across the `exec`. The bench itself must
/// stay small.
fn measure(cmd: &mut Command) -> Res<Measured> {
    let start = Instant::now();
    let out_path = std::env::temp_dir().join(format!("accord-bench-{}.out", std::process::id()));
    let out = File::create(&out_path).map_err(io("temp file"))?;
    let child = cmd.stdout(out).stderr(Stdio::inherit()).spawn().map_err(io("spawn"))?;
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    if pid < 0 || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!("{cmd:?} failed (status {status})"));
    }
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    Ok(Measured { wall, max_rss_kb: usage.ru_maxrss, stdout })
}

fn dir_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// A small deterministic PRNG (xorshift64*), so every run sees the same log.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Writes `events` valid events in `orgs` orgs: foundings, accessions,
/// withdrawals and rejoinings, day-precision dates, a source on each. Orgs
/// are interleaved as in a real log.
fn generate(path: &Path, events: u64, orgs: u64) -> Res<u64> {
    struct Org {
        day: i64,
        members: Vec<u64>,
        former: Vec<u64>,
        next_party: u64,
    }
    let mut rng = Rng(0x5EED_ACC0_2D00_0001);
    let mut state: Vec<Org> =
        (0..orgs).map(|_| Org { day: 0, members: vec![], former: vec![], next_party: 0 }).collect();
    let base = chrono::NaiveDate::from_ymd_opt(1950, 1, 1).ok_or("base date")?;
    let mut out = BufWriter::new(File::create(path).map_err(io("create the log"))?);
    let mut bytes = 0u64;
    for i in 0..events {
        let o = (i % orgs) as usize;
        let org = format!("org-{o:04}");
        let s = &mut state[o];
        s.day += 1 + rng.below(20) as i64;
        let date = day_text(base, s.day);
        let source = json!({"title": format!("Generated record {i}"), "publisher": "accord-bench"});
        let event = if i < orgs {
            s.members = vec![0, 1, 2];
            s.next_party = 3;
            json!({"type":"founding","org":org,"date":date,"members":["P00000","P00001","P00002"],"name":format!("Organization {o}"),"source":source})
        } else {
            let roll = rng.below(10);
            if roll < 2 && s.members.len() > 3 {
                let at = rng.below(s.members.len() as u64) as usize;
                let p = s.members.swap_remove(at);
                s.former.push(p);
                json!({"type":"withdrawal","org":org,"date":date,"members":[format!("P{p:05}")],"source":source})
            } else if roll < 4 && !s.former.is_empty() {
                let at = rng.below(s.former.len() as u64) as usize;
                let p = s.former.swap_remove(at);
                s.members.push(p);
                json!({"type":"accession","org":org,"date":date,"members":[format!("P{p:05}")],"source":source,"note":"rejoins"})
            } else {
                let p = s.next_party;
                s.next_party += 1;
                s.members.push(p);
                json!({"type":"accession","org":org,"date":date,"members":[format!("P{p:05}")],"source":source})
            }
        };
        let line = event.to_string();
        bytes += line.len() as u64 + 1;
        writeln!(out, "{line}").map_err(io("write the log"))?;
    }
    out.flush().map_err(io("write the log"))?;
    // On disk before anything is timed: its writeback would otherwise fall
    // into the first command measured (accord's import) and nobody else's.
    out.get_ref().sync_all().map_err(io("sync the log"))?;
    Ok(bytes)
}

/// `scale DIR EVENTS…`: accord's import rate at each size (1000 orgs, a
/// fresh ledger for each import; the median of three imports for a size up
/// to [`SCALE_RUNS_UP_TO`]), as a table.
///
/// The imports go in rounds, each size once a round while it has imports
/// left (sizes above [`SCALE_RUNS_UP_TO`] in the first only): the VM's speed drifts
/// over minutes, and with each size's imports one after the other, two
/// runs a few minutes apart (2026-12-03) gave the same 100k rate (95,659
/// and 94,824 events/s) and 1M rates of 96,880 and 123,833.
fn scale(args: &[String]) -> Res {
    let [dir, sizes @ ..] = args else { return Err("usage: accord-bench scale DIR EVENTS…".into()) };
    let exe = std::env::current_exe().map_err(io("current exe"))?;
    let accord = exe.parent().ok_or("no bin dir")?.join("accord");
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).map_err(io("create the bench dir"))?;
    let sizes: Vec<u64> = sizes.iter().map(|s| s.parse().map_err(io("EVENTS"))).collect::<Res<_>>()?;
    let log = |events: u64| dir.join(format!("scale-{events}.ndjson"));
    for &events in &sizes {
        generate_apart(&exe, &log(events), events, 1000)?;
    }
    // A rate is a ratio of two runs' times: one run of a few seconds
    // moves by a fifth on this VM, so the sizes up to SCALE_RUNS_UP_TO
    // take the median of three imports, each into a new ledger.
    let runs = |events: u64| if events <= SCALE_RUNS_UP_TO { 3 } else { 1 };
    let ledger = dir.join("scale-ledger");
    let mut walls: Vec<Vec<Measured>> = sizes.iter().map(|_| Vec::new()).collect();
    let rounds = sizes.iter().map(|&events| runs(events)).max().unwrap_or(0);
    for round in 0..rounds {
        for (&events, walls) in sizes.iter().zip(&mut walls) {
            if round >= runs(events) {
                continue;
            }
            let _ = std::fs::remove_dir_all(&ledger);
            let mut import = Command::new(&accord);
            import.arg("--ledger").arg(&ledger).arg("import").arg(log(events)).env("ACCORD_ACTOR", "bench");
            walls.push(measure(&mut import)?);
        }
    }
    let _ = std::fs::remove_dir_all(&ledger);
    println!("| events | imports | import, s (median) | events/s | ÷ the first size's rate | peak RSS MB (highest) |");
    println!("|---|---|---|---|---|---|");
    let mut first = None;
    for (&events, walls) in sizes.iter().zip(walls) {
        let m = Measured::median_of(walls);
        let rate = events as f64 / m.wall.as_secs_f64();
        let base = *first.get_or_insert(rate);
        println!(
            "| {} | {} | {:.1} | {} | {:.2} | {} |",
            grouped(events as f64),
            runs(events),
            m.wall.as_secs_f64(),
            grouped(rate),
            rate / base,
            mb(&m)
        );
        let _ = std::fs::remove_file(log(events));
    }
    Ok(())
}

/// `scale` imports each size up to this three times (the median), larger
/// ones once.
const SCALE_RUNS_UP_TO: u64 = 1_000_000;

/// The `accord` binary next to this one (target/release).
fn accord_binary() -> Res<PathBuf> {
    let exe = std::env::current_exe().map_err(io("current exe"))?;
    let accord = exe.parent().ok_or("no bin dir")?.join("accord");
    if !accord.exists() {
        return Err(format!("{} is missing: run `cargo build --release --workspace` first", accord.display()));
    }
    Ok(accord)
}

/// Removes the Merkle tree's hashes and marker from accord's ledger at
/// `ledger`: its next open builds the tree from the log.
fn remove_tree(ledger: &Path) -> Res {
    let db = sled::Config::new().path(ledger).open().map_err(io("open accord's ledger with sled"))?;
    let keys: Vec<sled::IVec> = db.scan_prefix(b"H").keys().collect::<Result<_, _>>().map_err(io("scan"))?;
    for key in keys.iter().map(|k| k.as_ref()).chain([&b"Mtree"[..]]) {
        db.remove(key).map_err(io("remove"))?;
    }
    db.flush().map_err(io("flush"))?;
    Ok(())
}

/// [`generate`] in a child process: its bytes. The bench's own memory stays
/// small, as the children it measures need ([`measure`]): generating 1M
/// events in the bench took it to 10 MB, and the peer's import showed 10.
fn generate_apart(exe: &Path, path: &Path, events: u64, orgs: u64) -> Res<u64> {
    let status = Command::new(exe)
        .arg("generate")
        .arg(path)
        .args([events.to_string(), orgs.to_string()])
        .status()
        .map_err(io("spawn the generator"))?;
    if !status.success() {
        return Err(format!("generating the log failed ({status})"));
    }
    Ok(std::fs::metadata(path).map_err(io("the generated log"))?.len())
}

/// `generate FILE EVENTS ORGS`: the bench's log alone, for profiling.
fn generate_only(args: &[String]) -> Res {
    let [file, events, orgs] = args else { return Err("usage: accord-bench generate FILE EVENTS ORGS".into()) };
    let events = events.parse().map_err(io("EVENTS"))?;
    let orgs = orgs.parse().map_err(io("ORGS"))?;
    generate(Path::new(file), events, orgs).map(|_| ())
}

fn day_text(base: chrono::NaiveDate, days: i64) -> String {
    base.checked_add_signed(chrono::TimeDelta::days(days)).map(|d| d.to_string()).unwrap_or_default()
}

// ---------------------------------------------------------------- raw sled

/// Raw sled: the same envelope bytes, one key per event.
fn raw_sled_import(export: &Path, dir: &Path) -> Res {
    let db = sled::Config::new().path(dir).cache_capacity(64 * 1024 * 1024).open().map_err(io("open sled"))?;
    let reader = BufReader::new(File::open(export).map_err(io("open the export"))?);
    let mut batch = sled::Batch::default();
    let mut seq = 0u64;
    for line in reader.lines() {
        let line = line.map_err(io("read"))?;
        seq += 1;
        let mut key = vec![b'E'];
        key.extend_from_slice(&seq.to_be_bytes());
        batch.insert(key, line.as_bytes());
        if seq.is_multiple_of(BATCH as u64) {
            db.apply_batch(std::mem::take(&mut batch)).map_err(io("batch"))?;
        }
    }
    db.apply_batch(batch).map_err(io("batch"))?;
    db.flush().map_err(io("flush"))?;
    File::open(dir.join("db")).and_then(|f| f.sync_all()).map_err(io("fsync"))?;
    println!("{seq}");
    Ok(())
}

/// Opens a sled database as accord configures it, and leaves it to the
/// process's end, as an accord command that wrote nothing does (sled's
/// close zero-fills and syncs its next segments): the floor of any accord
/// command on that ledger.
fn sled_open(dir: &Path) -> Res {
    let db = sled::Config::new()
        .path(dir)
        .cache_capacity(16 * 1024 * 1024)
        .flush_every_ms(None)
        .open()
        .map_err(io("open sled"))?;
    std::mem::forget(db);
    Ok(())
}

// ---------------------------------------------------------------- the run

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// A rate rounded to a whole number, its digits in groups of three: `22 977`.
fn grouped(x: f64) -> String {
    let digits = format!("{x:.0}");
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// The VM's speed at a moment: SHA-256 of [`PROBE_BYTES`] on each of two
/// threads at once, in MB/s in all. The bench's goals for `audit verify`,
/// `export` and `members`' own part are fixed rates, and this VM's speed
/// moves between its hours by more than their margins: each run prints
/// the probe at its start, before the verifies and before the server.
/// It measures the cores' arithmetic on data in their caches, not the
/// memory: once (2026-12-03), verifies ran slow while `sha256sum` on one
/// core did not. [`probe_memory_here`] measures the memory; [`cpu_ticks`], what
/// the host took.
fn probe() -> f64 {
    use sha2::{Digest, Sha256};
    let block = vec![0x5au8; 1 << 20];
    let t = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                let mut h = Sha256::new();
                for _ in 0..PROBE_BYTES >> 20 {
                    h.update(&block);
                }
                std::hint::black_box(h.finalize());
            });
        }
    });
    (2 * PROBE_BYTES) as f64 / 1e6 / t.elapsed().as_secs_f64()
}

/// What [`probe`] hashes on each thread: 256 MiB, about 0.2 s.
const PROBE_BYTES: usize = 256 << 20;

/// The memory's speed at a moment, which [`probe`] leaves out: the time of
/// a load that waits for the one before, in ns, over [`MEMORY_PROBE_LOADS`]
/// loads that follow one cycle through [`MEMORY_PROBE_BYTES`] in a random
/// order (larger than the processor's caches, so nearly every load goes to
/// memory). `audit verify` looks up each event's org and parties in tables
/// of tens of MB, and the org copies and blocks it reads are as large.
///
/// Run in a child process of its own ([`probe_memory`]): a child's peak RSS
/// starts at the bench's ([`measure`]), and with the 256 MiB walked here in
/// the bench itself, every later child's was 261 MB (seen in one run:
/// accord's import, the peer's and raw sled's all 261–262 MB).
fn probe_memory_here() -> f64 {
    let n = MEMORY_PROBE_BYTES / 4;
    // One cycle through every slot (a linear congruential step modulo a
    // power of two, its multiplier 1 modulo 4 and its increment odd), in an
    // order the processor's prefetchers do not follow.
    let next: Vec<u32> =
        (0..n as u32).map(|i| i.wrapping_mul(2_891_336_453).wrapping_add(12_345) & (n as u32 - 1)).collect();
    let t = Instant::now();
    let mut at = 0usize;
    for _ in 0..MEMORY_PROBE_LOADS {
        at = next[at] as usize;
    }
    std::hint::black_box(at);
    t.elapsed().as_nanos() as f64 / MEMORY_PROBE_LOADS as f64
}

/// [`probe_memory_here`] in a child process: ns, or NaN if it failed.
fn probe_memory(exe: &Path) -> f64 {
    let out = Command::new(exe).arg("probe-memory").output();
    out.ok().and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok()).unwrap_or(f64::NAN)
}

/// What [`probe_memory_here`] walks: 256 MiB.
const MEMORY_PROBE_BYTES: usize = 256 << 20;
/// How many loads [`probe_memory_here`] times: 0.34–0.50 s at the 161–239 ns
/// seen (2026-12-03).
const MEMORY_PROBE_LOADS: usize = 2 << 20;

/// The processors' time so far, as Linux's /proc/stat counts it over all
/// of them: (stolen, all), in ticks. Stolen time is what the hypervisor
/// gave to others while this VM had work to run; `None` where there is no
/// /proc/stat, or it has no steal field.
fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> =
        stat.lines().next()?.strip_prefix("cpu ")?.split_whitespace().map(str::parse).collect::<Result<_, _>>().ok()?;
    // user nice system idle iowait irq softirq steal guest guest_nice: the
    // guest times are counted in user and nice already.
    let steal = *fields.get(7)?;
    Some((steal, fields.iter().take(8).sum()))
}

/// The share of the processors' time stolen between two [`cpu_ticks`], as
/// text: "3.1%", or "unknown".
fn stolen(from: Option<(u64, u64)>, to: Option<(u64, u64)>) -> String {
    match (from, to) {
        (Some((s0, t0)), Some((s1, t1))) if t1 > t0 => {
            format!("{:.1}%", 100.0 * s1.saturating_sub(s0) as f64 / (t1 - t0) as f64)
        }
        _ => "unknown".to_owned(),
    }
}

/// `runs` runs of each command, interleaved so that a noisy stretch of the
/// machine falls on all of them alike; the median wall time of each.
fn medians(runs: usize, cmds: &mut [&mut dyn FnMut() -> Command]) -> Res<Vec<Duration>> {
    let mut walls = vec![Vec::with_capacity(runs); cmds.len()];
    let mut names = vec![String::new(); cmds.len()];
    for _ in 0..runs {
        for ((cmd, walls), name) in cmds.iter_mut().zip(&mut walls).zip(&mut names) {
            let mut c = cmd();
            if name.is_empty() {
                *name = c.get_args().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ");
            }
            walls.push(measure(&mut c)?.wall);
        }
    }
    // Each run's time on stderr, to tell a slow stretch from a slow command.
    for (walls, name) in walls.iter().zip(&names) {
        let each: Vec<String> = walls.iter().map(|w| format!("{:.1}", w.as_secs_f64() * 1e3)).collect();
        eprintln!("{name}, ms: {}", each.join(" "));
    }
    Ok(walls.into_iter().map(median).collect())
}

/// The JSON object a child printed on stdout.
fn json_out(m: &Measured, what: &str) -> Res<Value> {
    serde_json::from_str(&m.stdout).map_err(|e| format!("{what}: {e}: {:?}", m.stdout))
}

fn mb(m: &Measured) -> String {
    format!("{:.0}", m.max_rss_kb as f64 / 1024.0)
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

fn met(ok: bool) -> &'static str {
    if ok { "yes" } else { "no" }
}

const IMPORT_RUNS: usize = 3;
/// Re-imports of the whole file into the filled ledger: one run of 2 to 3
/// s set the figure alone, and it was 2.10 in one run of nine
/// (2026-12-03, goal 2), 3.92 in another.
const REIMPORT_RUNS: usize = 3;
/// One-shot processes take 10 to 20 ms on the bench's VM and their medians of
/// 15 moved by half a millisecond from run to run, more than accord's own
/// part changed: 61 interleaved runs of each cost a few seconds.
const MEMBERS_RUNS: usize = 61;
const ORGS_RUNS: usize = 5;
/// `audit verify` and `export`, in turn: each takes 1 to 3 s, and in one
/// run (2026-12-03) the three verifies of a median of 3 all fell in a slow
/// minute (348,297 events/s; six verifies right after it 1.83–1.94 s, or
/// 515,000–546,000).
const SCAN_RUNS: usize = 5;
/// Builds of the Merkle tree from the log, each after its hashes are removed.
const TREE_RUNS: usize = 3;

fn compare(args: &[String]) -> Res {
    let mut events = 1_000_000u64;
    let mut orgs = 1000u64;
    let mut dir = PathBuf::from("target/bench-data");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--events" => events = value()?.parse().map_err(io("--events"))?,
            "--orgs" => orgs = value()?.parse().map_err(io("--orgs"))?,
            "--dir" => dir = PathBuf::from(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let exe = std::env::current_exe().map_err(io("current exe"))?;
    let accord = accord_binary()?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(io("create the bench dir"))?;
    let log = dir.join("events.ndjson");
    let t = Instant::now();
    let raw = generate_apart(&exe, &log, events, orgs)?;
    eprintln!("generated {events} events in {orgs} orgs ({raw} bytes) in {:.1?}", t.elapsed());
    let probe_start = (probe(), probe_memory(&exe));
    let ticks_start = cpu_ticks();

    let ledger = dir.join("accord-ledger");
    let acc = |args: &[&str]| {
        let mut c = Command::new(&accord);
        c.arg("--ledger").arg(&ledger).args(args).env("ACCORD_ACTOR", "bench");
        c
    };
    let bench = |args: &[&Path]| {
        let mut c = Command::new(&exe);
        c.args(args);
        c
    };

    // Import: accord, then the peer, each into a new store, IMPORT_RUNS
    // times; then accord again on the filled ledger of its last run.
    const PEER_FILES: [&str; 3] = ["peer.sqlite", "peer.sqlite-wal", "peer.sqlite-shm"];
    let sqlite_db = dir.join("peer.sqlite");
    let (mut acc_runs, mut peer_runs) = (Vec::new(), Vec::new());
    for run in 1..=IMPORT_RUNS {
        let _ = std::fs::remove_dir_all(&ledger);
        for f in PEER_FILES {
            let _ = std::fs::remove_file(dir.join(f));
        }
        let imp = measure(acc(&["--json", "import"]).arg(&log))?;
        if json_out(&imp, "accord import")?["recorded"] != events {
            return Err(format!("accord import did not record {events} events: {}", imp.stdout.trim()));
        }
        eprintln!("accord import {run}: {:.2?}", imp.wall);
        let peer_imp = measure(&mut bench(&[Path::new("peer-import"), &log, &sqlite_db]))?;
        if peer_imp.stdout.trim() != events.to_string() {
            return Err(format!("the peer imported {} events, not {events}", peer_imp.stdout.trim()));
        }
        eprintln!("peer import {run}: {:.2?}", peer_imp.wall);
        acc_runs.push(imp);
        peer_runs.push(peer_imp);
    }
    let (imp, peer_imp) = (Measured::median_of(acc_runs), Measured::median_of(peer_runs));
    let acc_disk = dir_bytes(&ledger);
    let peer_disk: u64 = PEER_FILES.iter().map(|f| std::fs::metadata(dir.join(f)).map_or(0, |m| m.len())).sum();
    // The re-import records nothing, so each run finds the ledger as the
    // first did.
    let mut reimports = Vec::with_capacity(REIMPORT_RUNS);
    for run in 1..=REIMPORT_RUNS {
        let reimp = measure(acc(&["--json", "import"]).arg(&log))?;
        let again = json_out(&reimp, "accord re-import")?;
        if again["recorded"] != 0 || again["already_recorded"] != events {
            return Err(format!(
                "accord's re-import was not {events} already recorded events: {}",
                reimp.stdout.trim()
            ));
        }
        eprintln!("accord re-import {run}: {:.2?}", reimp.wall);
        reimports.push(reimp);
    }
    let reimp = Measured::median_of(reimports);

    // One-shot queries, whole processes.
    let org = format!("org-{:04}", orgs / 2);
    let members = [org.as_str(), "--at", QUERY_DAY, "--json"];
    let peer_members = [Path::new("peer-members"), &sqlite_db, Path::new(&org), Path::new(QUERY_DAY)];
    let [am, pm, floor] = medians(
        MEMBERS_RUNS,
        &mut [&mut || acc(&[&["members"][..], &members].concat()), &mut || bench(&peer_members), &mut || {
            bench(&[Path::new("sled-open"), &ledger])
        }],
    )?[..] else {
        unreachable!()
    };
    let [orgs_wall] = medians(ORGS_RUNS, &mut [&mut || acc(&["orgs"])])?[..] else { unreachable!() };
    let export = dir.join("export.ndjson");
    let probe_scans = (probe(), probe_memory(&exe));
    let ticks_scans = cpu_ticks();
    // The peer's verify and export, in the same rounds, so that a slow
    // stretch of the VM falls on both alike.
    let peer_export = dir.join("peer-export.ndjson");
    let [verify, export_wall, peer_verify, peer_export_wall] = medians(
        SCAN_RUNS,
        &mut [
            &mut || acc(&["audit", "verify"]),
            &mut || {
                // Each export writes a new file, as the first did: replacing the
                // one before adds the filesystem's freeing of its 425 MB when
                // the export renames over it (0.32 s in `rename`, strace,
                // 2026-12-03), not what an export does.
                let _ = std::fs::remove_file(&export);
                let mut c = acc(&["export", "-o"]);
                c.arg(&export);
                c
            },
            &mut || bench(&[Path::new("peer-verify"), &sqlite_db]),
            &mut || {
                let _ = std::fs::remove_file(&peer_export);
                bench(&[Path::new("peer-export"), &sqlite_db, &peer_export])
            },
        ],
    )?[..] else {
        unreachable!()
    };
    let ticks_scanned = cpu_ticks();
    let accord_count =
        json_out(&measure(&mut acc(&[&["members"][..], &members].concat()))?, "accord members")?["count"].to_string();
    let peer_count = measure(&mut bench(&peer_members))?.stdout.trim().to_owned();

    // The Merkle tree's cost: with its hashes and marker removed, the next
    // open builds it from the log (read, hash, write); that open's time less
    // a plain open's, against the import's. An upper bound of what the
    // import pays for it, which hashes envelopes it already holds.
    // A median of three builds, each after its own removal: one build's
    // time moved by a third from run to run (0.51–0.69 s in four bench runs,
    // 2026-12-03).
    let mut rebuilds = Vec::with_capacity(TREE_RUNS);
    for _ in 0..TREE_RUNS {
        remove_tree(&ledger)?;
        rebuilds.push(measure(&mut acc(&["head"]))?.wall);
    }
    let rebuild = median(rebuilds);
    let [plain_open] = medians(3, &mut [&mut || acc(&["head"])])?[..] else { unreachable!() };
    let tree = rebuild.saturating_sub(plain_open);
    let tree_ratio = tree.as_secs_f64() / imp.wall.as_secs_f64();

    let sled_dir = dir.join("raw-sled");
    let sled_imp = measure(&mut bench(&[Path::new("sled-import"), &export, &sled_dir]))?;
    let sled_disk = dir_bytes(&sled_dir);

    let probe_serve = (probe(), probe_memory(&exe));
    // `accord serve` last: its appends change the ledger.
    let load = serve_load::Load { orgs: Some(orgs), ..Default::default() };
    let served = serve_load::run(&accord, &ledger, &load)?;
    let ticks_end = cpu_ticks();
    eprintln!("accord serve under load: {} requests, {} errors", served.requests(), served.errors());

    // stdout is exactly the table README.md shows between its `bench table`
    // comments, so that a run can be pasted there as it is.
    let rate = |d: Duration| events as f64 / d.as_secs_f64();
    let (a_rate, p_rate) = (rate(imp.wall), rate(peer_imp.wall));
    let import_ratio = a_rate / p_rate;
    let reimport_ratio = rate(reimp.wall) / a_rate;
    let members_ratio = am.as_secs_f64() / pm.as_secs_f64();
    let own = am.saturating_sub(floor);
    let acc_rss = imp.max_rss_kb as f64 / 1024.0;
    let acc_disk_ratio = acc_disk as f64 / raw as f64;
    let orgs_ms = orgs_wall.as_secs_f64() * 1e3;
    let (verify_rate, export_rate) = (rate(verify), rate(export_wall));
    let (peer_verify_rate, peer_export_rate) = (rate(peer_verify), rate(peer_export_wall));
    println!("| figure | accord | SQLite peer | raw sled | goal | against the goal | met |");
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| import, events/s, median of {IMPORT_RUNS} (raw sled: one run) | {} | {} | {} | accord ÷ peer ≥ 1.5 | {import_ratio:.2} | {} |",
        grouped(a_rate),
        grouped(p_rate),
        grouped(rate(sled_imp.wall)),
        met(import_ratio >= 1.5)
    );
    println!(
        "| import, peak RSS MB, highest of {IMPORT_RUNS} | {} | {} | {} | accord ≤ 256 | {acc_rss:.0} | {} |",
        mb(&imp),
        mb(&peer_imp),
        mb(&sled_imp),
        met(acc_rss <= 256.0)
    );
    println!(
        "| disk ÷ NDJSON | {acc_disk_ratio:.2} | {:.2} | {:.2} | accord ≤ 2.5 | {acc_disk_ratio:.2} | {} |",
        peer_disk as f64 / raw as f64,
        sled_disk as f64 / raw as f64,
        met(acc_disk_ratio <= 2.5)
    );
    println!(
        "| re-import of the same file into the filled ledger, events/s, median of {REIMPORT_RUNS} | {} | – | – | re-import ÷ first import ≥ 2 | {reimport_ratio:.2} | {} |",
        grouped(rate(reimp.wall)),
        met(reimport_ratio >= 2.0)
    );
    println!(
        "| `members` one-shot, whole process, ms, median of {MEMBERS_RUNS} (raw sled: open accord's ledger) | {} | {} | {} | accord ÷ peer ≤ 2 | {members_ratio:.2} | {} |",
        ms(am),
        ms(pm),
        ms(floor),
        met(members_ratio <= 2.0)
    );
    println!(
        "| `members`, accord's own part (whole process − sled open), ms | {} | – | – | ≤ 3 | {} | {} |",
        ms(own),
        ms(own),
        met(own <= Duration::from_millis(3))
    );
    println!(
        "| `orgs`, whole process, ms, median of {ORGS_RUNS} | {orgs_ms:.1} | – | – | ≤ 100 | {orgs_ms:.1} | {} |",
        met(orgs_ms <= 100.0)
    );
    println!(
        "| `audit verify`, events/s, median of {SCAN_RUNS} (peer: its hash chain only) | {} | {} | – | ≥ 500 000 | {} | {} |",
        grouped(verify_rate),
        grouped(peer_verify_rate),
        grouped(verify_rate),
        met(verify_rate >= 500_000.0)
    );
    println!(
        "| `export`, events/s, median of {SCAN_RUNS} | {} | {} | – | ≥ 500 000 | {} | {} |",
        grouped(export_rate),
        grouped(peer_export_rate),
        grouped(export_rate),
        met(export_rate >= 500_000.0)
    );
    println!(
        "| Merkle tree of the whole log, built from it on open, s, median of {TREE_RUNS} (÷ import) | {:.2} | – | – | ≤ 0.10 of import | {tree_ratio:.3} | {} |",
        tree.as_secs_f64(),
        met(tree_ratio <= 0.10)
    );
    for row in served.bench_rows(load.seconds, pm) {
        println!("{row}");
    }
    let agree = accord_count == peer_count;
    println!(
        "\n{events} events in {orgs} orgs, {raw} bytes of NDJSON. `members {org} --at {QUERY_DAY}`: accord counts {accord_count} members, the SQLite peer {peer_count} ({}).",
        if agree { "they agree" } else { "they DISAGREE" }
    );
    println!(
        "\n`audit verify` and `export` against the peer's, run in the same rounds (accord's rate ÷ the peer's): {:.2} and {:.2}. The peer's verify re-hashes each stored body and checks its `seq` and `prev`; accord's also reads each event as an event, checks the rules, the indexes, the Merkle tree, the summaries and rosters.",
        verify_rate / peer_verify_rate,
        export_rate / peer_export_rate
    );
    println!(
        "\nThe VM's speed during this run (the bench's probe: SHA-256 of {} MiB on each of two threads at once), MB/s in all, and its memory (a load that waits for the one before, at random over {} MiB), ns: {} and {} at the start, {} and {} before `audit verify`, {} and {} before `accord serve`. Time stolen from the VM by its host (steal in /proc/stat, of both processors' time): {} during the run, {} during the verifies and exports.",
        PROBE_BYTES >> 20,
        MEMORY_PROBE_BYTES >> 20,
        grouped(probe_start.0),
        probe_start.1.round(),
        grouped(probe_scans.0),
        probe_scans.1.round(),
        grouped(probe_serve.0),
        probe_serve.1.round(),
        stolen(ticks_start, ticks_end),
        stolen(ticks_scans, ticks_scanned)
    );
    let served_count = served.one_shot_query.2.to_string();
    println!(
        "\n`accord serve` under load, requests and p50 / p99 / max ms of each kind: {}; server RSS peak {:.0} MB in the load's first half, {:.0} MB in its second. Through the server, `members {org} --at {QUERY_DAY}` counts {served_count} members ({}).",
        served.per_kind(),
        served.rss.halves.0 as f64 / 1024.0,
        served.rss.halves.1 as f64 / 1024.0,
        if served_count == accord_count { "as accord alone" } else { "NOT as accord alone" }
    );
    for e in served.first_errors() {
        eprintln!("accord serve, first error of {e}");
    }
    if !agree {
        return Err(format!("accord counts {accord_count} members of {org} on {QUERY_DAY}, the peer {peer_count}"));
    }
    if served_count != accord_count {
        return Err(format!(
            "accord counts {accord_count} members of {org} on {QUERY_DAY}, through its server {served_count}"
        ));
    }
    served.stopped
}
