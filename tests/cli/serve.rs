//! `accord serve`: real servers on 127.0.0.1 (port 0, read back from what
//! the server prints), driven with curl and with raw TCP, then stopped. No
//! test reaches any other address.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{self, Ledger, Run, TIMEOUT, XorShift, isa};

/// A server started by a test; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`
    pub url: String,
}

impl Server {
    /// Starts `accord serve --listen 127.0.0.1:0 ARGS` on the ledger and
    /// waits for the line that names its address.
    pub fn start(l: &Ledger, args: &[&str]) -> Server {
        Server::start_at(&l.path(), "127.0.0.1:0", args)
    }

    pub fn start_at(dir: &Path, listen: &str, args: &[&str]) -> Server {
        let mut child = support::accord_command(dir, &["serve", "--listen", listen])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn accord serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(TIMEOUT).unwrap_or_default();
        let Some(url) = line.trim().rsplit(" on ").next().filter(|u| u.starts_with("http://")) else {
            let _ = child.kill();
            let out = child.wait_with_output().expect("wait accord serve");
            panic!("accord serve did not start: {line:?} {}", String::from_utf8_lossy(&out.stderr));
        };
        Server { url: url.to_owned(), child: Some(child) }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("a running server").id()
    }

    /// `host:port`, for raw TCP.
    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// Sends `signal` and waits for the process to end: its exit code and stderr.
    pub fn stop_with(&mut self, signal: i32) -> Run {
        let mut child = self.child.take().expect("a running server");
        // SAFETY: a signal to our own child process.
        unsafe { libc::kill(child.id() as i32, signal) };
        let deadline = Instant::now() + TIMEOUT;
        while child.try_wait().expect("wait").is_none() {
            assert!(Instant::now() < deadline, "the server did not stop within {TIMEOUT:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
        Run::from(child.wait_with_output().expect("wait accord serve"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: a signal to our own child process.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + TIMEOUT;
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What curl got: the status and the body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub content_type: String,
}

impl Answer {
    /// The body as an error: `{"error":"…","code":N}`, one line.
    #[track_caller]
    pub fn error(&self, status: u16, code: u64) -> String {
        assert_eq!(self.status, status, "status of {self:?}");
        assert_eq!(self.body.trim_end().lines().count(), 1, "one line: {self:?}");
        let v: serde_json::Value =
            serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"));
        assert_eq!(v["code"], code, "code of {self:?}");
        let keys: Vec<&String> = v.as_object().expect("an object").keys().collect();
        assert_eq!(keys, ["code", "error"], "only error and code: {self:?}");
        v["error"].as_str().expect("error").to_owned()
    }

    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.status, 200, "{self:?}");
        &self.body
    }
}

/// Whether curl is here (CI installs it; elsewhere a missing curl skips loudly).
fn have_curl() -> bool {
    support::tool_available("curl")
}

/// A request with curl: `method url`, extra curl arguments, and a body.
pub fn curl(method: &str, url: &str, extra: &[&str], body: Option<&[u8]>) -> Answer {
    let mut c = Command::new("curl");
    c.args(["-sS", "--max-time", "60", "-X", method, "-o", "-", "-w", "\n%{http_code} %{content_type}"]);
    c.args(extra);
    if body.is_some() {
        c.args(["--data-binary", "@-"]);
    }
    c.arg(url).stdin(if body.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn curl");
    if let Some(body) = body {
        let mut stdin = child.stdin.take().expect("stdin");
        let body = body.to_vec();
        std::thread::spawn(move || stdin.write_all(&body));
    }
    let out = child.wait_with_output().expect("wait curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, tail) =
        text.rsplit_once('\n').unwrap_or_else(|| panic!("curl: {text} {}", String::from_utf8_lossy(&out.stderr)));
    let (status, content_type) = tail.split_once(' ').unwrap_or((tail, ""));
    Answer { status: status.parse().unwrap_or(0), body: body.to_owned(), content_type: content_type.to_owned() }
}

fn get(server: &Server, path: &str) -> Answer {
    curl("GET", &format!("{}{path}", server.url), &[], None)
}

const EVENT: &str =
    r#"{"type":"accession","org":"isa","date":"2026-01-05","members":["GRC"],"source":{"title":"a test source"}}"#;
const EVENT2: &str =
    r#"{"type":"accession","org":"isa","date":"2026-02-05","members":["CYP"],"source":{"title":"a test source"}}"#;

#[test]
fn every_read_route_answers_exactly_what_the_cli_prints_with_json() {
    if !have_curl() {
        return;
    }
    let l = isa();
    let first = l.run(&["show", "1", "--json"]).json()["id"].as_str().expect("id").to_owned();
    // (route, the command line it stands for, its content type), the CLI
    // run before the server starts.
    let routes: Vec<(String, Vec<String>, &str)> = [
        ("/v1/head", "--json head", "application/json"),
        ("/v1/orgs", "--json orgs", "application/json"),
        ("/v1/orgs?seq=3", "--json orgs --seq 3", "application/json"),
        ("/v1/orgs/isa/members?at=2020-12-09", "--json members isa --at 2020-12-09", "application/json"),
        ("/v1/orgs/isa/members?at=2020-12-09&seq=8", "--json members isa --at 2020-12-09 --seq 8", "application/json"),
        ("/v1/orgs/isa/history", "--json history isa", "application/x-ndjson"),
        ("/v1/orgs/isa/history?member=ISR&long=true", "--json history isa --member ISR --long", "application/x-ndjson"),
        (
            "/v1/orgs/isa/diff?from=2019-01-01&to=2021-01-01",
            "--json diff isa --from 2019-01-01 --to 2021-01-01",
            "application/json",
        ),
        ("/v1/orgs/isa/panel?from=2017&to=2021", "--json panel isa --from 2017 --to 2021", "application/x-ndjson"),
        ("/v1/orgs/isa/panel?from=2017&to=2021&format=csv", "panel isa --from 2017 --to 2021 --format csv", "text/csv"),
        ("/v1/orgs/isa/spells", "--json spells isa", "application/x-ndjson"),
        ("/v1/orgs/isa/timeline.svg", "timeline isa", "image/svg+xml"),
        ("/v1/parties/ISR?at=2021-01-01", "--json party ISR --at 2021-01-01", "application/json"),
        ("/v1/parties/ISR?history=true", "--json party ISR --history", "application/json"),
        ("/v1/events/3", "--json show 3", "application/json"),
        (&format!("/v1/events/{first}"), &format!("--json show {first}"), "application/json"),
        ("/v1/log?from_seq=3&limit=4", "--json log --from-seq 3 --limit 4", "application/x-ndjson"),
        ("/v1/log?type=accession", "--json log --type accession", "application/x-ndjson"),
        ("/v1/export", "--json export", "application/x-ndjson"),
        ("/v1/checkpoint", "checkpoint", "text/plain"),
        ("/v1/proofs/inclusion/5", "--json prove inclusion 5", "application/json"),
        ("/v1/proofs/consistency?from=4&to=10", "--json prove consistency --from 4 --to 10", "application/json"),
        ("/v1/proofs/member/isa/ISR?at=2021-01-01", "--json prove member isa ISR --at 2021-01-01", "application/json"),
    ]
    .into_iter()
    .map(|(route, cli, ct)| (route.to_owned(), cli.split(' ').map(String::from).collect(), ct))
    .collect();
    let expected: Vec<String> = routes
        .iter()
        .map(|(_, argv, _)| {
            let args: Vec<&str> = argv.iter().map(String::as_str).collect();
            l.run(&args).ok().to_owned()
        })
        .collect();
    // A log of 4 is 4 lines: --limit is the first N from --from-seq.
    assert_eq!(expected[16].lines().count(), 4);
    assert!(expected[16].starts_with("{") && expected[16].contains("\"seq\":3"), "{}", expected[16]);
    let server = Server::start(&l, &[]);
    for ((route, argv, content_type), want) in routes.iter().zip(&expected) {
        let got = get(&server, route);
        assert_eq!(got.status, 200, "{route}: {got:?}");
        assert!(got.content_type.starts_with(content_type), "{route}: {} is not {content_type}", got.content_type);
        // A proof of membership carries the time it was made; all else is the same bytes.
        if route.starts_with("/v1/proofs/member") {
            let (mut a, mut b): (serde_json::Value, serde_json::Value) =
                (serde_json::from_str(&got.body).expect("json"), serde_json::from_str(want).expect("json"));
            for v in [&mut a, &mut b] {
                v.as_object_mut().expect("object").remove("made_at");
            }
            assert_eq!(a, b, "{route} and accord {}", argv.join(" "));
            continue;
        }
        assert_eq!(&got.body, want, "{route} and accord {}", argv.join(" "));
    }
}

#[test]
fn errors_are_one_json_sentence_with_the_status_that_fits() {
    if !have_curl() {
        return;
    }
    let l = isa();
    let server = Server::start(&l, &[]);
    let cases: &[(&str, u16, u64, &str)] = &[
        ("/v1/orgs/nope/members?at=2020-01-01", 404, 1, "no org `nope`"),
        ("/v1/orgs/isa/members?at=2020-13-01", 400, 2, "2020-13-01"),
        ("/v1/orgs/isa/members?bogus=1", 400, 2, "no query parameter `bogus`: it takes at, seq, known_at"),
        ("/v1/orgs/isa/members?seq=99", 404, 1, "no seq 99"),
        ("/v1/orgs/isa/history?long=maybe", 400, 2, "long=true or long=false"),
        ("/v1/events/999", 404, 1, "999"),
        ("/v1/nothing/here", 404, 1, "nothing at /v1/nothing/here"),
        ("/v1/orgs/isa/members?at=%ff", 400, 2, "percent-encoded"),
        ("/v1/orgs/isa/diff?from=2021-01-01&to=2019-01-01", 400, 2, "--from"),
    ];
    for (route, status, code, says) in cases {
        let sentence = get(&server, route).error(*status, *code);
        assert!(sentence.contains(says), "{route}: {sentence:?} does not say {says:?}");
    }
    let put = curl("PUT", &format!("{}/v1/head", server.url), &[], None);
    assert!(put.error(405, 2).contains("only GET"));
}

#[test]
fn the_cli_goes_through_a_running_server_with_the_same_output_and_exit_codes() {
    let l = isa();
    let commands: &[&[&str]] = &[
        &["members", "isa", "--at", "2020-12-09"],
        &["--json", "members", "isa", "--at", "2020-12-09"],
        &["history", "isa", "--member", "ISR"],
        &["log", "-n", "3"],
        &["orgs"],
        &["members", "nope"],
        &["--json", "members", "nope"],
        &["members", "isa", "--at", "2020-13-01"],
        &["show", "999"],
        &["audit", "verify"],
        &["timeline", "isa"],
        &["export"],
    ];
    let before: Vec<Run> = commands.iter().map(|args| l.run(args)).collect();
    let server = Server::start(&l, &[]);
    assert!(l.path().join("accord.serve").is_file(), "the server announces itself in the ledger");
    for (args, want) in commands.iter().zip(&before) {
        // --wait 0: were it not through the server, the held ledger would be exit 4.
        let mut with_wait = vec!["--wait", "0"];
        with_wait.extend_from_slice(args);
        let got = l.run(&with_wait);
        assert_eq!((got.code, &got.stdout, &got.stderr), (want.code, &want.stdout, &want.stderr), "accord {args:?}");
    }
    // Writes go through it too: an event on stdin, and a file named relative to where accord runs.
    let appended = l.run_stdin(&["--wait", "0", "append"], EVENT.as_bytes());
    assert!(appended.ok().starts_with("recorded: seq 15"), "{appended:?}");
    let again = l.run_stdin(&["--wait", "0", "append"], EVENT.as_bytes());
    assert!(again.ok().starts_with("already recorded: seq 15"), "{again:?}");
    let work = tempfile::tempdir().expect("dir");
    std::fs::write(work.path().join("more.ndjson"), format!("{EVENT}\n{EVENT2}\n")).expect("write");
    let imported =
        Run::from(l.command(&["--wait", "0", "import", "more.ndjson"]).current_dir(work.path()).output().expect("run"));
    assert!(imported.ok().starts_with("recorded 1 event (1 already recorded); head is seq 16"), "{imported:?}");
    // recorded_by is who ran the command, not the server's user.
    let last = l.run(&["--wait", "0", "show", "16", "--json"]).json();
    assert_eq!(last["recorded_by"], "tester");
    // --expect-head through the server: refused, nothing recorded.
    let late = r#"{"type":"accession","org":"isa","date":"2026-03-01","members":["MLT"],"source":{"title":"t"}}"#;
    let moved = l.run(&["--wait", "0", "append", "--expect-head", "15", late]);
    assert!(moved.fails(1).contains("head is seq 16, not seq 15"), "{moved:?}");
    drop(server);
    assert!(!l.path().join("accord.serve").exists(), "the announcement goes with the server");
    assert_eq!(l.head().0, 16);
}

#[test]
fn expect_head_refuses_a_write_when_the_log_moved_and_passes_a_retry() {
    let l = isa();
    let moved = l.run(&["append", "--expect-head", "13", EVENT]);
    assert!(moved.fails(1).contains("the log's head is seq 14, not seq 13"), "{moved:?}");
    assert_eq!(l.head().0, 14);
    l.run(&["append", "--expect-head", "14", EVENT]).ok();
    // The same event again: already recorded, whatever the head.
    let retry = l.run(&["append", "--expect-head", "14", EVENT]);
    assert!(retry.ok().starts_with("already recorded"), "{retry:?}");
    let import = l.run_stdin(&["import", "--expect-head", "14", "-"], format!("{EVENT}\n{EVENT2}\n").as_bytes());
    assert!(import.fails(1).contains("head is seq 15, not seq 14"), "{import:?}");
    assert_eq!(l.head().0, 15, "nothing of a refused import is recorded");
    l.run_stdin(&["import", "--expect-head", "15", "-"], format!("{EVENT}\n{EVENT2}\n").as_bytes()).ok();
    assert_eq!(l.head().0, 16);
}

#[test]
fn post_events_checks_the_expected_head_and_records_all_or_nothing() {
    if !have_curl() {
        return;
    }
    let l = isa();
    let server = Server::start(&l, &[]);
    let events = format!("{}/v1/events", server.url);
    let json = ["-H", "Content-Type: application/json"];
    let ndjson = ["-H", "Content-Type: application/x-ndjson"];
    let moved = curl("POST", &format!("{events}?expected_head=3"), &json, Some(EVENT.as_bytes()));
    assert!(moved.error(409, 1).contains("head is seq 14, not seq 3"));
    let recorded = curl("POST", &format!("{events}?expected_head=14&actor=secretariat"), &json, Some(EVENT.as_bytes()));
    let v: serde_json::Value = serde_json::from_str(recorded.ok()).expect("json");
    assert_eq!((v["outcome"].as_str(), v["seq"].as_u64()), (Some("recorded"), Some(15)), "{recorded:?}");
    // Retried (the answer was lost): idempotent.
    let retried = curl("POST", &format!("{events}?expected_head=14"), &json, Some(EVENT.as_bytes()));
    assert!(retried.ok().contains("\"already recorded\""), "{retried:?}");
    // NDJSON is an import: a bad third line and nothing is recorded.
    let bad = format!("{EVENT2}\n{EVENT}\n{{\"type\":\"accession\"}}\n");
    let refused = curl("POST", &events, &ndjson, Some(bad.as_bytes()));
    assert!(refused.error(422, 1).contains("stdin line 3"), "{refused:?}");
    let head: serde_json::Value = serde_json::from_str(get(&server, "/v1/head").ok()).expect("json");
    assert_eq!(head["seq"], 15);
    let good =
        curl("POST", &format!("{events}?expected_head=15"), &ndjson, Some(format!("{EVENT}\n{EVENT2}\n").as_bytes()));
    let v: serde_json::Value = serde_json::from_str(good.ok()).expect("json");
    assert_eq!((v["recorded"].as_u64(), v["already_recorded"].as_u64()), (Some(1), Some(1)));
    let bad_event = curl("POST", &events, &json, Some(b"{\"type\":\"nonsense\"}"));
    bad_event.error(422, 1);
    let unknown = curl("POST", &format!("{events}?expect=1"), &json, Some(EVENT.as_bytes()));
    assert!(unknown.error(400, 2).contains("expected_head, actor"));
    let shown = get(&server, "/v1/events/15");
    assert!(shown.ok().contains("\"recorded_by\":\"secretariat\""), "{shown:?}");
}

/// The server keeps orgs it has read (and reads them all at start): an
/// answer follows every write at once, and an earlier position still
/// answers as the log stood then.
#[test]
fn members_follow_each_write_and_earlier_positions_stay_as_they_were() {
    if !have_curl() {
        return;
    }
    let l = isa();
    let server = Server::start(&l, &[]);
    let members = |query: &str| -> serde_json::Value {
        serde_json::from_str(get(&server, &format!("/v1/orgs/isa/members?at=2026-12-31{query}")).ok()).expect("json")
    };
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["members"].as_array().expect("members").iter().map(|m| m["id"].as_str().unwrap_or("").to_owned()).collect()
    };
    let before = members("");
    let count = before["count"].as_u64().expect("a count");
    assert!(!ids(&before).contains(&"GRC".to_owned()), "{before}");
    let events = format!("{}/v1/events", server.url);
    let json = ["-H", "Content-Type: application/json"];
    let recorded = curl("POST", &format!("{events}?expected_head=14"), &json, Some(EVENT.as_bytes()));
    assert!(recorded.ok().contains("\"recorded\""), "{recorded:?}");
    let after = members("");
    assert_eq!(after["count"].as_u64(), Some(count + 1), "{after}");
    let grc = after["members"].as_array().expect("members").iter().find(|m| m["id"] == "GRC").cloned();
    assert_eq!(grc.map(|m| m["source"].clone()), Some(serde_json::json!({"title": "a test source"})), "{after}");
    assert_eq!(members("&seq=14"), before, "the log at seq 14 answers as it did");
    let ndjson = ["-H", "Content-Type: application/x-ndjson"];
    let imported = curl("POST", &events, &ndjson, Some(format!("{EVENT2}\n").as_bytes()));
    assert!(imported.ok().contains("\"recorded\":1"), "{imported:?}");
    assert!(ids(&members("")).contains(&"CYP".to_owned()));
    assert_eq!(members("&seq=15"), after, "the log at seq 15 answers as it did");
    // Through the server as on its own: the same answer at each position.
    drop(server);
    for (seq, expected) in [("14", &before), ("15", &after)] {
        let alone = l.run(&["--json", "members", "isa", "--at", "2026-12-31", "--seq", seq]);
        assert_eq!(&alone.json(), expected, "seq {seq}");
    }
}

#[test]
fn writes_need_the_token_when_one_is_set_and_read_only_refuses_them() {
    if !have_curl() {
        return;
    }
    let l = isa();
    let dir = tempfile::tempdir().expect("dir");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "s3cret-token\n").expect("write");
    let json = "Content-Type: application/json";
    {
        let server = Server::start(&l, &["--token-file", support::s(&token_file)]);
        let events = format!("{}/v1/events", server.url);
        let none = curl("POST", &events, &["-H", json], Some(EVENT.as_bytes()));
        assert!(none.error(401, 1).contains("token"));
        let wrong = curl("POST", &events, &["-H", json, "-H", "Authorization: Bearer nope"], Some(EVENT.as_bytes()));
        wrong.error(401, 1);
        // Reads need no token.
        get(&server, "/v1/head").ok();
        let right =
            curl("POST", &events, &["-H", json, "-H", "Authorization: Bearer s3cret-token"], Some(EVENT.as_bytes()));
        assert!(right.ok().contains("\"recorded\""));
        // The local CLI shows the announcement's secret instead.
        let appended = l.run(&["--wait", "0", "append", EVENT2]);
        assert!(appended.ok().starts_with("recorded: seq 16"), "{appended:?}");
        // /v1/cli is for the local CLI only.
        let cli = curl(
            "POST",
            &format!("{}/v1/cli", server.url),
            &["-H", "Authorization: Bearer s3cret-token"],
            Some(b"{\"argv\":[\"accord\",\"head\"]}\n"),
        );
        cli.error(401, 1);
    }
    {
        let server = Server::start(&l, &["--read-only"]);
        let refused = curl("POST", &format!("{}/v1/events", server.url), &["-H", json], Some(EVENT.as_bytes()));
        assert!(refused.error(403, 1).contains("read-only"));
        let cli = l.run(&[
            "--wait",
            "0",
            "append",
            r#"{"type":"accession","org":"isa","date":"2026-03-01","members":["MLT"],"source":{"title":"t"}}"#,
        ]);
        assert!(cli.fails(1).contains("read-only"), "{cli:?}");
        let members = l.run(&["--wait", "0", "members", "isa", "--at", "2026-03-01", "--json"]);
        assert_eq!(members.json()["count"], 14, "reads go on");
    }
    {
        // On every address (not only loopback) with no token: writes are refused.
        let server = Server::start_at(&l.path(), "0.0.0.0:0", &[]);
        let port = server.addr().rsplit(':').next().expect("port").to_owned();
        let refused =
            curl("POST", &format!("http://127.0.0.1:{port}/v1/events"), &["-H", json], Some(EVENT.as_bytes()));
        refused.error(401, 1);
        get(&server, "/v1/head").ok();
    }
    assert_eq!(l.head().0, 16);
}

#[test]
fn request_bodies_are_limited() {
    if !have_curl() {
        return;
    }
    let l = isa();
    let server = Server::start(&l, &["--max-body", "1"]);
    let big = support::big_import_text(None);
    assert!(big.len() > 2 << 20);
    let answer = curl(
        "POST",
        &format!("{}/v1/events", server.url),
        &["-H", "Content-Type: application/x-ndjson"],
        Some(big.as_bytes()),
    );
    assert!(answer.error(413, 2).contains("larger than 1 MiB"), "{answer:?}");
    assert!(get(&server, "/v1/head").ok().contains("\"seq\":14"), "nothing recorded");
}

#[test]
fn sigterm_finishes_gracefully_and_a_killed_server_leaves_a_ledger_that_opens() {
    let l = isa();
    let mut server = Server::start(&l, &[]);
    let stopped = server.stop_with(libc::SIGTERM);
    assert_eq!(stopped.code, 0, "{stopped:?}");
    assert!(!l.path().join("accord.serve").exists(), "announcement removed");
    // The lock went with it: a command opens the ledger at once.
    l.run(&["--wait", "0", "audit", "verify"]).ok();

    let mut server = Server::start(&l, &[]);
    let appended = l.run(&["--wait", "0", "append", EVENT]);
    assert!(appended.ok().starts_with("recorded: seq 15"));
    let killed = server.stop_with(libc::SIGKILL);
    assert_eq!(killed.code, -1, "killed by the signal");
    // Its announcement is left behind, stale: ignored, the command runs here.
    assert!(l.path().join("accord.serve").exists());
    let verified = l.run(&["--wait", "5", "audit", "verify"]);
    assert!(verified.ok().starts_with("ok: 15 events verified"), "{verified:?}");
    // And a new server starts on it.
    let server = Server::start(&l, &[]);
    let head = l.run(&["--wait", "0", "head", "--json"]).json();
    assert_eq!(head["seq"], 15);
    drop(server);
}

#[test]
fn sigterm_during_an_import_over_http_commits_or_undoes_it_whole() {
    if !have_curl() {
        return;
    }
    let l = Ledger::new();
    l.run(&["import", support::s(&support::isa_log())]).ok();
    let mut server = Server::start(&l, &[]);
    let big = support::big_import_text(Some("a test source"));
    let url = format!("{}/v1/events", server.url);
    let posting = std::thread::spawn(move || {
        curl("POST", &url, &["-H", "Content-Type: application/x-ndjson"], Some(big.as_bytes()))
    });
    // Stop it while the import runs: once the log is seen to move past the ISA events.
    std::thread::sleep(Duration::from_millis(700));
    let stopped = server.stop_with(libc::SIGTERM);
    let answer = posting.join().expect("curl");
    assert_eq!(stopped.code, 0, "{stopped:?}");
    let head = l.head().0;
    match answer.status {
        200 => assert_eq!(head, 14 + support::BIG as u64, "{answer:?}"),
        503 => {
            assert!(answer.error(503, 130).contains("nothing recorded"), "{answer:?}");
            assert_eq!(head, 14);
        }
        other => panic!("answered {other}: {answer:?}"),
    }
    l.run(&["audit", "verify"]).ok();
}

/// Sends raw bytes on a new connection and reads until the server closes
/// it or the time is up; returns the status line, if any.
///
/// With `half_close`, the sending side is closed after the request (for
/// bytes that are not HTTP, which would otherwise wait for more); a server
/// may then drop a request it has not answered yet, as a client gone.
fn raw(addr: &str, request: &[u8], half_close: bool) -> Option<String> {
    let mut stream = TcpStream::connect(addr).expect("connect to the server");
    stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let _ = stream.write_all(request);
    if half_close {
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    text.lines().next().map(str::to_owned).filter(|l| l.starts_with("HTTP/1.1 "))
}

#[test]
fn hostile_paths_queries_and_bodies_get_answers_and_never_stop_the_server() {
    let l = isa();
    let server = Server::start(&l, &[]);
    let mut rng = XorShift::new(7);
    let pieces: &[&str] = &[
        "/v1/orgs/isa/members",
        "/v1/orgs/",
        "/v1/parties/",
        "/v1/events/",
        "/v1/log",
        "/v1/export",
        "/v1/proofs/inclusion/",
        "/v1/orgs/isa/diff",
        "/v1/orgs/isa/panel",
        "/v1/proofs/consistency",
        "/v1/proofs/member/isa/",
        "%",
        "%ff",
        "%00",
        "..",
        "?",
        "&",
        "=",
        "at=",
        "seq=",
        "known_at=",
        "from=",
        "to=",
        "limit=",
        "-",
        "--",
        "--ledger",
        "/etc/passwd",
        "18446744073709551616",
        "-1",
        "99999-99-99",
        "2020-12-09",
        "ISR",
        "\u{1F600}",
        "+",
        "type=",
        "long=",
        "format=",
    ];
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..400 {
        let mut target = String::from(pieces[rng.below(pieces.len() as u64) as usize]);
        for _ in 0..rng.below(6) {
            target.push_str(pieces[rng.below(pieces.len() as u64) as usize]);
        }
        let target: String = target.chars().filter(|c| !c.is_whitespace()).collect();
        let target = if target.starts_with('/') { target } else { format!("/{target}") };
        // Now and then a valid one among them: the server still answers those.
        let target = if i % 10 == 0 { "/v1/orgs/isa/members?at=2020-12-09".to_owned() } else { target };
        let request = match i % 4 {
            0 | 1 => format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").into_bytes(),
            2 => {
                let mut body = vec![0u8; rng.below(300) as usize];
                body.iter_mut().for_each(|b| *b = rng.below(256) as u8);
                let ct = ["application/json", "application/x-ndjson"][rng.below(2) as usize];
                let mut r = format!(
                    "POST /v1/events?{} HTTP/1.1\r\nHost: x\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    &target[1..],
                    body.len()
                )
                .into_bytes();
                r.extend(body);
                r
            }
            _ => {
                // Not HTTP at all.
                let mut junk = vec![0u8; 1 + rng.below(200) as usize];
                junk.iter_mut().for_each(|b| *b = rng.below(256) as u8);
                junk
            }
        };
        if let Some(status) = raw(server.addr(), &request, i % 4 == 3) {
            let code = status.split_whitespace().nth(1).unwrap_or("").to_owned();
            *statuses.entry(code).or_insert(0) += 1;
        }
    }
    assert!(!statuses.contains_key("500"), "no internal error: {statuses:?}");
    assert!(statuses.contains_key("200") && statuses.contains_key("400"), "valid and invalid requests: {statuses:?}");
    // Still serving, and the ledger untouched but for events that were valid.
    let head = get_raw_json(server.addr(), "/v1/head");
    assert_eq!(head["seq"], 14, "random bodies recorded nothing");
    l.run(&["--wait", "0", "audit", "verify"]).ok();
}

fn get_raw_json(addr: &str, path: &str) -> serde_json::Value {
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("send");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("read");
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(body.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A named pipe at `path` (mkfifo), for a command that reads a file as its
/// writer gives it.
fn fifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("a path without NUL");
    // SAFETY: a valid C string; mkfifo only creates the file.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo {}", path.display());
}

/// Opens the pipe's writing end once its reader has opened it (within
/// [`TIMEOUT`]: a reader that never comes fails the test, not hangs it).
fn pipe_writer(path: &Path, reader: &mut Child) -> std::fs::File {
    let (tx, rx) = std::sync::mpsc::channel();
    let path = path.to_owned();
    std::thread::spawn(move || {
        let _ = tx.send(std::fs::OpenOptions::new().write(true).open(&path));
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(Ok(file)) => file,
        other => {
            let _ = reader.kill();
            panic!("the import never opened its pipe: {other:?}");
        }
    }
}

/// `accord import PIPE` on `l`, which a running server runs, as a child.
fn import_from_pipe(l: &Ledger, pipe: &Path) -> Child {
    l.command(&["--wait", "0", "import", support::s(pipe)])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn accord import")
}

/// The answers a reader gets, route by route; when `want` is given, each
/// is checked against it as it comes (a reader held up fails at its first
/// read, when curl gives up after 20 s, rather than after all of them).
fn read_all(server: &Server, routes: &[&str], want: Option<&[(String, u16, String)]>) -> Vec<(String, u16, String)> {
    let mut out = Vec::new();
    for (i, route) in routes.iter().enumerate() {
        let a = curl("GET", &format!("{}{route}", server.url), &["--max-time", "20"], None);
        let got = ((*route).to_owned(), a.status, a.body);
        if let Some(want) = want {
            assert_eq!(got, want[i], "GET {route}");
        }
        out.push(got);
    }
    out
}

/// Readers do not wait for an import in progress: while `accord import
/// PIPE`, run by the server, has recorded part of its events (written to
/// the log, some indexed) and waits for the rest, every read route and the
/// CLI through the server answer, with the log as of the last commit. Once
/// the import commits, readers see it; an import that is then undone
/// leaves what they saw.
#[test]
fn readers_see_the_last_commit_while_an_import_is_in_progress() {
    if !have_curl() {
        return;
    }
    let l = isa();
    let server = Server::start(&l, &[]);
    let routes = [
        "/v1/head",
        "/v1/orgs",
        "/v1/orgs/isa/members?at=2020-12-09",
        "/v1/orgs/isa/history",
        "/v1/parties/ISR",
        "/v1/events/15",
        "/v1/orgs/o000/members",
        "/v1/orgs/syn-1/members",
        "/v1/checkpoint",
        "/v1/proofs/inclusion?seq=3",
    ];
    let cli = |l: &Ledger| {
        let members = l.run(&["--wait", "0", "members", "isa", "--at", "2020-12-09"]);
        let head = l.run(&["--wait", "0", "head"]);
        (members.code, members.stdout, head.code, head.stdout)
    };
    let before = read_all(&server, &routes, None);
    let (cli_before, log_before) = (cli(&l), get(&server, "/v1/export").body);
    let work = tempfile::tempdir().expect("dir");

    // An import that commits: 70 000 of its 200 000 events given, then a pause.
    let big = support::big_import_text(Some("a test source"));
    let lines: Vec<&str> = big.lines().collect();
    let pipe = work.path().join("big.fifo");
    fifo(&pipe);
    let mut importing = import_from_pipe(&l, &pipe);
    let mut writer = pipe_writer(&pipe, &mut importing);
    let part = |lines: &[&str]| lines.iter().flat_map(|line| [line.as_bytes(), b"\n"]).flatten().copied().collect();
    let first: Vec<u8> = part(&lines[..70_000]);
    writer.write_all(&first).expect("write the first part");
    read_all(&server, &routes, Some(&before));
    assert_eq!(cli(&l), cli_before, "the CLI through the server during the import");
    assert_eq!(get(&server, "/v1/export").body, log_before, "export during the import");
    assert!(importing.try_wait().expect("try_wait").is_none(), "the import was still in progress");
    let rest: Vec<u8> = part(&lines[70_000..]);
    writer.write_all(&rest).expect("write the rest");
    drop(writer);
    let done = Run::from(importing.wait_with_output().expect("wait accord import"));
    assert!(done.ok().starts_with("recorded 200000 events"), "{done:?}");
    let head: serde_json::Value = serde_json::from_str(get(&server, "/v1/head").ok()).expect("JSON");
    assert_eq!(head["seq"], 14 + support::BIG as u64, "the commit is seen at once");
    let committed = read_all(&server, &routes, None);
    assert_ne!(committed, before);

    // An import that is undone: 40 000 events of new orgs, then a line that is not an event.
    let pipe = work.path().join("undone.fifo");
    fifo(&pipe);
    let mut importing = import_from_pipe(&l, &pipe);
    let mut writer = pipe_writer(&pipe, &mut importing);
    writer.write_all(support::synthetic(40_000, 10).as_bytes()).expect("write the events");
    read_all(&server, &routes, Some(&committed));
    assert!(importing.try_wait().expect("try_wait").is_none(), "the import was still in progress");
    writer.write_all(b"not an event\n").expect("write the bad line");
    drop(writer);
    let refused = Run::from(importing.wait_with_output().expect("wait accord import"));
    assert!(refused.fails(1).contains("line 40001"), "{refused:?}");
    read_all(&server, &routes, Some(&committed));
    drop(server);
    l.run(&["audit", "verify"]).ok();
}

/// The body of a chunked HTTP/1.1 response (`Transfer-Encoding: chunked`)
/// whose bytes after the headers are `raw`.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n").expect("a chunk size line");
        let size = std::str::from_utf8(&raw[..line_end]).ok().and_then(|s| usize::from_str_radix(s.trim(), 16).ok());
        let size = size.expect("a hex chunk size");
        raw = &raw[line_end + 2..];
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

/// Long reads (export, history, log, …) have threads of their own (8),
/// at a lower CPU priority: with 16 exports whose clients do not read on,
/// 8 of them holding those threads and the others waiting for one, a
/// quick lookup (`members`) still answers at once, and an event is still
/// recorded at once. Each export that had begun, read to its end
/// afterwards, is the log as it stood when it began.
#[test]
fn slow_exports_hold_up_no_lookup_and_no_write_and_read_the_log_as_it_began() {
    if !have_curl() {
        return;
    }
    let l = isa();
    // Tens of megabytes of export each: more than a socket's buffers and
    // the server's pieces in flight hold, so each export waits for its client.
    l.import_text(&support::synthetic(60_000, 20)).ok();
    let head = l.head().0;
    let server = Server::start(&l, &[]);
    let mut streams: Vec<TcpStream> = (0..16)
        .map(|_| {
            let mut stream = TcpStream::connect(server.addr()).expect("connect to the server");
            stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
            stream.write_all(b"GET /v1/export HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").expect("send");
            stream
        })
        .collect();
    // Eight of them begin (the other eight wait for a thread): read each
    // one's first bytes as they come.
    let mut starts: Vec<Vec<u8>> = vec![Vec::new(); streams.len()];
    let deadline = Instant::now() + TIMEOUT;
    while starts.iter().filter(|start| !start.is_empty()).count() < 8 {
        assert!(Instant::now() < deadline, "8 exports did not begin within {TIMEOUT:?}");
        for (stream, start) in streams.iter_mut().zip(&mut starts) {
            if start.is_empty() {
                stream.set_nonblocking(true).expect("nonblocking");
                let mut first = vec![0; 64 * 1024];
                if let Ok(got) = stream.read(&mut first) {
                    first.truncate(got);
                    *start = first;
                }
                stream.set_nonblocking(false).expect("blocking");
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    for start in starts.iter().filter(|start| !start.is_empty()) {
        assert!(start.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(start));
    }
    // The long reads' threads (and the threads an export starts, which
    // take their name) run as SCHED_IDLE (and nice 10), the server's
    // others as it does.
    let threads = threads_nice(&server);
    let long: Vec<_> = threads.iter().filter(|(name, ..)| name.starts_with("serve-long-")).collect();
    let mut names: Vec<&String> = long.iter().map(|(name, ..)| name).collect();
    names.dedup();
    assert_eq!(names.len(), 8, "the long reads' threads: {long:?}");
    assert!(long.iter().all(|(_, nice, policy)| (*nice, *policy) == (10, 5)), "{long:?}");
    assert!(threads.iter().any(|(name, nice, policy)| name == "serve" && (*nice, *policy) == (0, 0)), "{threads:?}");
    // Not reading on: the exports wait, and a lookup and a write go through.
    let url = format!("{}/v1/orgs/isa/members?at=2020-12-09", server.url);
    let members: serde_json::Value =
        serde_json::from_str(curl("GET", &url, &["--max-time", "20"], None).ok()).expect("JSON");
    assert_eq!(members["count"], 10, "{members}");
    let url = format!("{}/v1/events", server.url);
    let posted =
        curl("POST", &url, &["--max-time", "20", "-H", "Content-Type: application/json"], Some(EVENT.as_bytes()));
    let recorded: serde_json::Value = serde_json::from_str(posted.ok()).expect("JSON");
    assert_eq!(recorded["seq"], head + 1, "{posted:?}");
    // Those that began first: each one read to its end frees a thread for
    // one that waits.
    let mut order: Vec<usize> = (0..streams.len()).collect();
    order.sort_by_key(|&i| starts[i].is_empty());
    for i in order {
        let stream = &mut streams[i];
        let begun = !starts[i].is_empty();
        let mut raw = std::mem::take(&mut starts[i]);
        stream.read_to_end(&mut raw).expect("the rest of the export");
        let body_at = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("the end of the headers") + 4;
        let body = dechunk(&raw[body_at..]);
        let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').filter(|line| !line.is_empty()).collect();
        let last: serde_json::Value = serde_json::from_slice(lines[lines.len() - 1]).expect("an envelope");
        assert_eq!(last["seq"], lines.len() as u64, "export {i} ends at its last line's seq");
        if begun {
            assert_eq!(lines.len() as u64, head, "export {i}, begun before the write, is the log as it began");
        } else {
            assert!([head, head + 1].contains(&(lines.len() as u64)), "export {i}: {} lines", lines.len());
        }
    }
    drop(server);
    assert_eq!(l.head().0, head + 1);
}

/// The server's threads, by name, with their nice values
/// (`/proc/PID/task/TID/stat`, field 19), sorted.
/// Each thread of the server: its name, nice value and scheduling policy
/// (0 normal, 5 idle).
fn threads_nice(server: &Server) -> Vec<(String, i64, i64)> {
    let tasks = std::fs::read_dir(format!("/proc/{}/task", server.pid())).expect("the server's threads");
    let mut out = Vec::new();
    for task in tasks {
        let task = task.expect("a thread").path();
        let name = std::fs::read_to_string(task.join("comm")).unwrap_or_default().trim().to_owned();
        let stat = std::fs::read_to_string(task.join("stat")).expect("stat");
        // The fields after the name, which is in parentheses: nice is the
        // 19th field, the 17th of these; the policy the 41st, the 39th.
        let after: Vec<&str> = stat[stat.rfind(')').expect("the name's end") + 2..].split(' ').collect();
        let field = |n: usize| after.get(n).and_then(|n| n.parse().ok()).expect("a field of stat");
        out.push((name, field(16), field(38)));
    }
    out.sort();
    out
}
