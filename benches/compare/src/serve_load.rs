//! `accord serve` under load: the real binary holds a ledger; a one-shot
//! `members` goes through it as a whole process (median of
//! [`MEMBERS_RUNS`]); then client threads, each with its own keep-alive
//! connection ([`Conn`]), send reads of random orgs on random days (members,
//! history, diff) for a set time, one request in [`APPEND_EVERY`] an
//! accession of a party new to the org, while the server's RSS is sampled
//! every [`RSS_EVERY`]. SIGTERM ends it: it must exit 0 and take its
//! `accord.serve` away.
//!
//! ```sh
//! target/release/accord-bench serve-load LEDGER_DIR [--clients 32] [--seconds 20] [--orgs N]
//! ```
//!
//! The ledger is one of [`generate`](crate::generate)'s logs: orgs `org-0000`…,
//! day dates. Every append is recorded in it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use serde_json::{Value, json};

use crate::{MEMBERS_RUNS, QUERY_DAY, Res, Rng, day_text, io, json_out, measure, medians, met, ms};

/// One request in this many is an append.
const APPEND_EVERY: u64 = 50;
const RSS_EVERY: Duration = Duration::from_millis(100);
/// A request that takes longer is an error (and the server may be stuck).
const TIMEOUT: Duration = Duration::from_secs(30);
/// How long SIGTERM may take to end the server.
const STOP_WAIT: Duration = Duration::from_secs(30);

/// How hard to load the server.
pub struct Load {
    pub clients: usize,
    pub seconds: u64,
    /// The orgs asked about, `org-0000`…: all the ledger's orgs if `None`.
    pub orgs: Option<u64>,
}

impl Default for Load {
    fn default() -> Load {
        Load { clients: 32, seconds: 20, orgs: None }
    }
}

/// `serve-load LEDGER_DIR [--clients N] [--seconds N] [--orgs N]`: the load
/// on an existing ledger, as a table of its own.
pub fn serve_load(args: &[String]) -> Res {
    let usage = "usage: accord-bench serve-load LEDGER_DIR [--clients 32] [--seconds 20] [--orgs N]";
    let [ledger, options @ ..] = args else { return Err(usage.into()) };
    let mut load = Load::default();
    let mut it = options.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--clients" => load.clients = value()?.parse().map_err(io("--clients"))?,
            "--seconds" => load.seconds = value()?.parse().map_err(io("--seconds"))?,
            "--orgs" => load.orgs = Some(value()?.parse().map_err(io("--orgs"))?),
            other => return Err(format!("unknown argument {other}\n{usage}")),
        }
    }
    if load.clients == 0 || load.seconds == 0 {
        return Err("--clients and --seconds must be at least 1".into());
    }
    let ledger = PathBuf::from(ledger);
    if !ledger.is_dir() {
        return Err(format!("{} is not a ledger directory", ledger.display()));
    }
    let report = run(&crate::accord_binary()?, &ledger, &load)?;
    report.print_table();
    report.stopped.clone()
}

/// The kinds of request, in the order of [`Report::kinds`].
#[derive(Clone, Copy)]
enum Kind {
    Members,
    History,
    Diff,
    Append,
}

const KINDS: [Kind; 4] = [Kind::Members, Kind::History, Kind::Diff, Kind::Append];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Members => "members",
            Kind::History => "history",
            Kind::Diff => "diff",
            Kind::Append => "append",
        }
    }
}

/// What the requests of one kind saw.
#[derive(Default)]
pub struct Tally {
    /// Every request's latency, errors included; sorted once merged.
    latencies: Vec<Duration>,
    /// Answers that were not 2xx, appends not `recorded`, I/O errors.
    errors: u64,
    /// The first error, as the server answered it.
    first_error: Option<String>,
}

impl Tally {
    fn error(&mut self, what: String) {
        self.errors += 1;
        self.first_error.get_or_insert(what);
    }

    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    /// The `p`-quantile latency (nearest rank); zero without requests.
    fn quantile(&self, p: f64) -> Duration {
        let n = self.latencies.len();
        if n == 0 {
            return Duration::ZERO;
        }
        let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
        self.latencies[rank - 1]
    }

    fn max(&self) -> Duration {
        self.latencies.last().copied().unwrap_or_default()
    }

    /// p50, p99 and max, in ms as the tables print them.
    fn spread(&self) -> [String; 3] {
        [ms(self.quantile(0.50)), ms(self.quantile(0.99)), ms(self.max())]
    }
}

/// The server's VmRSS in kB during the load, sampled every [`RSS_EVERY`].
#[derive(Clone, Copy)]
pub struct Rss {
    /// Before the first request.
    pub start: u64,
    pub peak: u64,
    /// The last sample.
    pub end: u64,
    /// The peak of the load's first half, and of its second: memory that
    /// keeps growing has the second well above the first.
    pub halves: (u64, u64),
}

impl Rss {
    fn of(start: u64, samples: &[(Duration, u64)], length: Duration) -> Rss {
        let peak_of = |first: bool| {
            samples.iter().filter(|(at, _)| (*at < length / 2) == first).map(|&(_, kb)| kb).max().unwrap_or(start)
        };
        Rss {
            start,
            peak: samples.iter().map(|&(_, kb)| kb).fold(start, u64::max),
            end: samples.last().map_or(start, |&(_, kb)| kb),
            halves: (peak_of(true), peak_of(false)),
        }
    }
}

/// One run's figures.
pub struct Report {
    pub clients: usize,
    /// The load's length, as it ran.
    pub elapsed: Duration,
    kinds: [Tally; 4],
    pub rss: Rss,
    /// `members ORG --at DAY --json` through the server, whole process, median.
    pub one_shot: Duration,
    /// The org and day of [`Report::one_shot`], and the `count` it printed.
    pub one_shot_query: (String, String, Value),
    /// Whether SIGTERM ended the server with exit 0 and no `accord.serve` left.
    pub stopped: Res,
}

impl Report {
    pub fn requests(&self) -> usize {
        self.kinds.iter().map(|t| t.latencies.len()).sum()
    }

    pub fn errors(&self) -> u64 {
        self.kinds.iter().map(|t| t.errors).sum()
    }

    pub fn throughput(&self) -> f64 {
        self.requests() as f64 / self.elapsed.as_secs_f64()
    }

    pub fn members_p50(&self) -> Duration {
        self.kinds[Kind::Members as usize].quantile(0.50)
    }

    pub fn members_p99(&self) -> Duration {
        self.kinds[Kind::Members as usize].quantile(0.99)
    }

    /// Each kind's first error, as the server answered it.
    pub fn first_errors(&self) -> impl Iterator<Item = String> + '_ {
        KINDS.iter().zip(&self.kinds).filter_map(|(k, t)| Some(format!("{}: {}", k.name(), t.first_error.as_ref()?)))
    }

    /// Each kind's requests and p50 / p99 / max, in a sentence.
    pub fn per_kind(&self) -> String {
        let each: Vec<String> = KINDS
            .iter()
            .zip(&self.kinds)
            .map(|(k, t)| {
                let [p50, p99, max] = t.spread();
                format!("{} {} ({p50} / {p99} / {max})", k.name(), t.latencies.len())
            })
            .collect();
        each.join(", ")
    }

    /// The table of `serve-load`, on stdout.
    fn print_table(&self) {
        println!("| request | requests | p50 ms | p99 ms | max ms | errors |");
        println!("|---|---|---|---|---|---|");
        for (kind, t) in KINDS.iter().zip(&self.kinds) {
            let [p50, p99, max] = t.spread();
            println!("| {} | {} | {p50} | {p99} | {max} | {} |", kind.name(), t.latencies.len(), t.errors);
        }
        let rss = self.rss;
        let (org, day, count) = &self.one_shot_query;
        println!();
        println!("| figure | value |");
        println!("|---|---|");
        println!(
            "| load | {} clients, {:.1} s, one request in {APPEND_EVERY} an append |",
            self.clients,
            self.elapsed.as_secs_f64()
        );
        println!("| throughput, requests/s | {} |", crate::grouped(self.throughput()));
        println!("| errors (not 2xx, append not recorded, I/O) | {} |", self.errors());
        println!(
            "| server RSS MB: load's start / peak / end | {} / {} / {} |",
            mb(rss.start),
            mb(rss.peak),
            mb(rss.end)
        );
        println!(
            "| server RSS MB: peak of the load's first half / second half | {} / {} |",
            mb(rss.halves.0),
            mb(rss.halves.1)
        );
        println!(
            "| `members {org} --at {day} --json` through the server, whole process, ms, median of {MEMBERS_RUNS} | {} (count {count}) |",
            ms(self.one_shot)
        );
        println!(
            "| stopped by SIGTERM: exit 0, accord.serve removed | {} |",
            match &self.stopped {
                Ok(()) => "yes".to_owned(),
                Err(e) => format!("no: {e}"),
            }
        );
        for e in self.first_errors() {
            println!("\nfirst error of {e}");
        }
    }

    /// The rows of the bench table (README's), `peer_members` being the
    /// SQLite peer's one-shot `members`.
    pub fn bench_rows(&self, seconds: u64, peer_members: Duration) -> Vec<String> {
        let ratio = self.one_shot.as_secs_f64() / peer_members.as_secs_f64();
        let load = format!("`accord serve` under load, {} clients, {seconds} s", self.clients);
        let (p50, p99) = (self.members_p50(), self.members_p99());
        let rss = self.rss;
        vec![
            format!(
                "| `members` through `accord serve`, one-shot, whole process, ms, median of {MEMBERS_RUNS} | {} | {} | – | accord ÷ peer ≤ 1.0 | {ratio:.2} | {} |",
                ms(self.one_shot),
                ms(peer_members),
                met(ratio <= 1.0)
            ),
            format!(
                "| {load}: `members` p50, ms | {} | – | – | ≤ 1 | {} | {} |",
                ms(p50),
                ms(p50),
                met(p50 <= Duration::from_millis(1))
            ),
            format!("| {load}: `members` p99, ms | {} | – | – | – | – | – |", ms(p99)),
            format!(
                "| {load}: requests/s (one in {APPEND_EVERY} an append) | {} | – | – | – | – | – |",
                crate::grouped(self.throughput())
            ),
            format!(
                "| {load}: errors | {} | – | – | 0 | {} | {} |",
                self.errors(),
                self.errors(),
                met(self.errors() == 0)
            ),
            format!(
                "| {load}: server RSS MB, start / peak / end | {} / {} / {} | – | – | – | – | – |",
                mb(rss.start),
                mb(rss.peak),
                mb(rss.end)
            ),
        ]
    }
}

fn mb(kb: u64) -> String {
    format!("{:.0}", kb as f64 / 1024.0)
}

/// Starts `accord serve` on `ledger`, measures the one-shot `members`
/// through it, loads it, and stops it.
pub fn run(accord: &Path, ledger: &Path, load: &Load) -> Res<Report> {
    let mut server = Server::start(accord, ledger)?;
    eprintln!("accord serve: {} on {}", ledger.display(), server.addr);
    let plan = Plan::of(&mut Conn::new(server.addr), load.orgs)?;

    // The CLI through the server: a whole process, as a user types it.
    let org = org_name(plan.orgs / 2);
    let members = || {
        let mut c = Command::new(accord);
        c.arg("--ledger").arg(ledger).args(["members", &org, "--at", QUERY_DAY, "--json"]).env("ACCORD_ACTOR", "bench");
        c
    };
    let [one_shot] = medians(MEMBERS_RUNS, &mut [&mut || members()])?[..] else {
        return Err("no median".into());
    };
    let count = json_out(&measure(&mut members())?, "accord members through the server")?["count"].clone();
    eprintln!("members through the server: {}", ms(one_shot));

    let pid = server.child.id();
    let rss_start = rss_kb(pid).ok_or("the server's VmRSS is not in /proc")?;
    let deadline = Instant::now() + Duration::from_secs(load.seconds);
    let started = Instant::now();
    let done = AtomicBool::new(false);
    let (mut kinds, samples) = std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut samples = Vec::new();
            while !done.load(Ordering::Relaxed) {
                samples.extend(rss_kb(pid).map(|kb| (started.elapsed(), kb)));
                std::thread::sleep(RSS_EVERY);
            }
            samples
        });
        let clients: Vec<_> = (0..load.clients)
            .map(|i| {
                s.spawn({
                    let plan = &plan;
                    move || client(plan, i, deadline)
                })
            })
            .collect();
        let mut kinds: [Tally; 4] = Default::default();
        for handle in clients {
            // A client that panicked counts as one error of its own.
            match handle.join() {
                Ok(tallies) => kinds.iter_mut().zip(tallies).for_each(|(k, t)| k.merge(t)),
                Err(_) => kinds[Kind::Members as usize].error("a client thread panicked".into()),
            }
        }
        done.store(true, Ordering::Relaxed);
        (kinds, sampler.join().unwrap_or_default())
    });
    let elapsed = started.elapsed();
    kinds.iter_mut().for_each(|t| t.latencies.sort());
    let stopped = server.stop();
    Ok(Report {
        clients: load.clients,
        elapsed,
        kinds,
        rss: Rss::of(rss_start, &samples, elapsed),
        one_shot,
        one_shot_query: (org, QUERY_DAY.to_owned(), count),
        stopped,
    })
}

/// One client: requests on one connection until `deadline`.
fn client(plan: &Plan, index: usize, deadline: Instant) -> [Tally; 4] {
    let mut rng = Rng((0x5EED_10AD_0000_0001u64 ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1);
    let mut conn = Conn::new(plan.addr);
    let mut tallies: [Tally; 4] = Default::default();
    let mut appended = 0u64;
    while Instant::now() < deadline {
        let org = org_name(rng.below(plan.orgs));
        let roll = rng.below(APPEND_EVERY);
        let (kind, method, target, body) = if roll == 0 {
            // A party no org has had: the run's tag, the client, a count.
            let (party, n) = (format!("L{}-{index}-{appended}", plan.run), appended);
            appended += 1;
            let event = json!({
                "type": "accession",
                "org": org,
                "date": plan.day(&mut rng),
                "members": [party],
                "source": {"title": format!("Load record {}-{index}-{n}", plan.run), "publisher": "accord-bench"},
            });
            (Kind::Append, "POST", "/v1/events".to_owned(), event.to_string())
        } else {
            let kind = [Kind::Members, Kind::History, Kind::Diff][(roll % 3) as usize];
            let target = match kind {
                Kind::Members => format!("/v1/orgs/{org}/members?at={}", plan.day(&mut rng)),
                Kind::History => format!("/v1/orgs/{org}/history"),
                Kind::Diff | Kind::Append => {
                    let (a, b) = (plan.day(&mut rng), plan.day(&mut rng));
                    let (from, to) = if a <= b { (a, b) } else { (b, a) };
                    format!("/v1/orgs/{org}/diff?from={from}&to={to}")
                }
            };
            (kind, "GET", target, String::new())
        };
        let start = Instant::now();
        let answer = conn.request(method, &target, body.as_bytes());
        let tally = &mut tallies[kind as usize];
        tally.latencies.push(start.elapsed());
        match answer {
            Ok((200..=299, body)) if matches!(kind, Kind::Append) => {
                let outcome = serde_json::from_slice::<Value>(&body).ok().map(|v| v["outcome"].clone());
                if outcome != Some(json!("recorded")) {
                    tally.error(format!("POST {target}: not recorded: {}", String::from_utf8_lossy(&body).trim()));
                }
            }
            Ok((200..=299, _)) => {}
            Ok((status, body)) => {
                tally.error(format!("{method} {target}: {status} {}", String::from_utf8_lossy(&body).trim()))
            }
            Err(e) => tally.error(format!("{method} {target}: {e}")),
        }
    }
    tallies
}

/// What the clients ask about: the orgs `org-0000`… as [`generate`](crate::generate)
/// names them, and the days from the last of their foundings (each org is
/// founded by then) to the log's last day.
struct Plan {
    addr: SocketAddr,
    orgs: u64,
    first: NaiveDate,
    days: u64,
    /// Tags the parties this run appends, so that no run repeats another's.
    run: String,
}

impl Plan {
    fn of(conn: &mut Conn, orgs: Option<u64>) -> Res<Plan> {
        let listed = get_json(conn, "/v1/orgs")?;
        let listed: HashMap<&str, &str> = listed
            .as_array()
            .ok_or("GET /v1/orgs: not an array")?
            .iter()
            .filter_map(|o| Some((o["org"].as_str()?, o["founded"].as_str()?)))
            .collect();
        let orgs = orgs.unwrap_or(listed.len() as u64);
        if orgs == 0 {
            return Err("the ledger has no orgs".into());
        }
        let mut first = None;
        for i in 0..orgs {
            let org = org_name(i);
            let founded = listed.get(org.as_str()).ok_or_else(|| {
                format!("the ledger has no org {org}: serve-load takes a ledger of accord-bench's generated log")
            })?;
            first = first.max(Some(day(founded)?));
        }
        let first = first.ok_or("no founding")?;
        // The log's last day: the latest of its last `orgs` events (the
        // generator's last event of each org, in a log it wrote).
        let head = get_json(conn, "/v1/head")?["seq"].as_u64().ok_or("GET /v1/head: no seq")?;
        let from = head.saturating_sub(orgs).max(1);
        let path = format!("/v1/log?from_seq={from}");
        let (status, body) = conn.request("GET", &path, &[]).map_err(io("GET /v1/log"))?;
        if status != 200 {
            return Err(format!("GET {path}: {status} {}", String::from_utf8_lossy(&body).trim()));
        }
        let mut last = first;
        for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let event: Value = serde_json::from_slice(line).map_err(io("GET /v1/log"))?;
            if let Some(date) = event["date"].as_str() {
                last = last.max(day(date)?);
            }
        }
        let days = (last - first).num_days() as u64 + 1;
        let run = format!(
            "{:x}",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis()
        );
        Ok(Plan { addr: conn.addr, orgs, first, days, run })
    }

    /// A random day of the range, as text.
    fn day(&self, rng: &mut Rng) -> String {
        day_text(self.first, rng.below(self.days) as i64)
    }
}

fn org_name(i: u64) -> String {
    format!("org-{i:04}")
}

fn day(text: &str) -> Res<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("{text} is not a day: serve-load takes a ledger of accord-bench's generated log"))
}

/// A GET that must answer 200 with JSON.
fn get_json(conn: &mut Conn, path: &str) -> Res<Value> {
    let (status, body) = conn.request("GET", path, &[]).map_err(io(path))?;
    if status != 200 {
        return Err(format!("GET {path}: {status} {}", String::from_utf8_lossy(&body).trim()));
    }
    serde_json::from_slice(&body).map_err(io(path))
}

/// The VmRSS of a process, in kB.
fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    line.trim().strip_suffix("kB")?.trim().parse().ok()
}

// ---------------------------------------------------------------- the server

/// A running `accord serve`; dropped while it runs, it is stopped.
struct Server {
    child: Child,
    addr: SocketAddr,
    announcement: PathBuf,
    /// Held open: the server's stdout is a pipe it may write to again.
    stdout: BufReader<ChildStdout>,
}

impl Server {
    /// Starts it on a free port of loopback, read from the line it prints
    /// first: `serving DIR on http://ADDR`.
    fn start(accord: &Path, ledger: &Path) -> Res<Server> {
        let mut child = Command::new(accord)
            .arg("--ledger")
            .arg(ledger)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("ACCORD_ACTOR", "bench")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(io("spawn accord serve"))?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("accord serve: no stdout".into());
        };
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            announcement: ledger.join("accord.serve"),
            stdout: BufReader::new(stdout),
        };
        let mut line = String::new();
        server.stdout.read_line(&mut line).map_err(io("read accord serve's first line"))?;
        server.addr = line
            .trim()
            .rsplit_once(" on http://")
            .and_then(|(_, addr)| addr.parse().ok())
            .ok_or_else(|| format!("accord serve printed {line:?}, not `serving DIR on http://ADDR`"))?;
        Ok(server)
    }

    /// SIGTERM, then its end: `Err` unless it exits 0 within [`STOP_WAIT`]
    /// and took `accord.serve` away.
    fn stop(&mut self) -> Res {
        let pid = libc::pid_t::try_from(self.child.id()).map_err(io("pid"))?;
        // SAFETY: a signal to our own child, which has not been reaped.
        if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
            return Err(format!("SIGTERM: {}", std::io::Error::last_os_error()));
        }
        let until = Instant::now() + STOP_WAIT;
        let status = loop {
            match self.child.try_wait().map_err(io("wait for accord serve"))? {
                Some(status) => break status,
                None if Instant::now() > until => {
                    return Err(format!("accord serve still runs {STOP_WAIT:?} after SIGTERM"));
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        match (status.success(), self.announcement.exists()) {
            (true, false) => Ok(()),
            (true, true) => Err(format!("accord serve exited 0 but left {}", self.announcement.display())),
            (false, left) => Err(format!(
                "accord serve ended with {status} after SIGTERM{}",
                if left { format!(", leaving {}", self.announcement.display()) } else { String::new() }
            )),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) && self.stop().is_err() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------- the client

/// A keep-alive HTTP/1.1 connection, opened again when the server closes it.
struct Conn {
    addr: SocketAddr,
    stream: Option<BufReader<TcpStream>>,
}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        Conn { addr, stream: None }
    }

    /// One request; its status and body (Content-Length or chunked). A kept
    /// connection that the server closed before answering is opened again
    /// and the request sent once more.
    fn request(&mut self, method: &str, target: &str, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
        let kept = self.stream.is_some();
        let closed = |e: &std::io::Error| {
            matches!(
                e.kind(),
                ErrorKind::UnexpectedEof
                    | ErrorKind::BrokenPipe
                    | ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
            )
        };
        let status_line = match self.send(method, target, body) {
            Err(e) if kept && closed(&e) => self.send(method, target, body)?,
            sent => sent?,
        };
        let answer = self.answer(&status_line);
        if answer.is_err() {
            self.stream = None;
        }
        answer
    }

    /// Sends the request; the answer's status line.
    fn send(&mut self, method: &str, target: &str, body: &[u8]) -> std::io::Result<String> {
        let sent = (|| {
            let stream = match &mut self.stream {
                Some(stream) => stream,
                None => {
                    let stream = TcpStream::connect_timeout(&self.addr, TIMEOUT)?;
                    stream.set_nodelay(true)?;
                    stream.set_read_timeout(Some(TIMEOUT))?;
                    self.stream.insert(BufReader::new(stream))
                }
            };
            let mut request =
                format!("{method} {target} HTTP/1.1\r\nHost: {}\r\nConnection: keep-alive\r\n", self.addr);
            if !body.is_empty() {
                request += &format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len());
            }
            request += "\r\n";
            let mut bytes = request.into_bytes();
            bytes.extend_from_slice(body);
            stream.get_mut().write_all(&bytes)?;
            line(stream)
        })();
        if sent.is_err() {
            self.stream = None;
        }
        sent
    }

    /// The rest of the answer after its status line.
    fn answer(&mut self, status_line: &str) -> std::io::Result<(u16, Vec<u8>)> {
        let bad = |what: &str| std::io::Error::new(ErrorKind::InvalidData, format!("{what}: {status_line:?}"));
        let status =
            status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| bad("no status"))?;
        let stream = self.stream.as_mut().ok_or_else(|| bad("no connection"))?;
        let (mut length, mut chunked, mut close) = (None, false, status_line.starts_with("HTTP/1.0"));
        loop {
            let header = line(stream)?;
            if header.trim().is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else { continue };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = Some(value.parse().map_err(|_| bad("a bad Content-Length"))?),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "connection" => close = value.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let size = line(stream)?;
                let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("").trim(), 16)
                    .map_err(|_| bad("a bad chunk size"))?;
                if size == 0 {
                    while !line(stream)?.trim().is_empty() {}
                    break;
                }
                let at = body.len();
                body.resize(at + size, 0);
                stream.read_exact(&mut body[at..])?;
                line(stream)?;
            }
        } else if let Some(length) = length {
            body.resize(length, 0);
            stream.read_exact(&mut body)?;
        } else {
            // Neither: the body runs to the connection's end.
            stream.read_to_end(&mut body)?;
            close = true;
        }
        if close {
            self.stream = None;
        }
        Ok((status, body))
    }
}

/// One line (CRLF included); the connection's end before it is an error.
fn line(stream: &mut BufReader<TcpStream>) -> std::io::Result<String> {
    let mut line = String::new();
    if stream.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(ErrorKind::UnexpectedEof, "the server closed the connection"));
    }
    Ok(line)
}
