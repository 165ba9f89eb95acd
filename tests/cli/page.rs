//! The web page `accord serve` serves at `/`, in a real browser: headless
//! Chromium loads it from a server on 127.0.0.1, with ISA and 2020-12-09
//! selected, and the test reads the DOM it built and the screenshot it drew.
//! Selected twice over: once through the URL (`?org=isa&at=2020-12-09`),
//! once by choosing them in the page's controls, driven through the Chrome
//! DevTools Protocol over a WebSocket client of the test's own.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::serve::Server;
use crate::support::{self, Image, XorShift};

/// Chromium as a test runs it: headless, no sandbox (CI runs as root), and
/// none of the background connections a closed network refuses.
const HEADLESS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
];

/// One run of Chromium on a URL (`--dump-dom`, `--screenshot`).
fn chromium(args: &[&str], profile: &Path) -> std::process::Output {
    Command::new("chromium")
        .args(HEADLESS)
        // The page fetches its data; virtual time runs until it is in.
        .arg("--virtual-time-budget=10000")
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run chromium")
}

/// The full members' green of the page's timeline and badges (#2f9e44).
const FULL_GREEN: [u8; 3] = [0x2f, 0x9e, 0x44];

#[test]
fn the_page_shows_isas_ten_members_on_2020_12_09_in_a_real_browser() {
    if !support::tool_available("chromium") {
        return;
    }
    let l = support::isa();
    let server = Server::start(&l, &[]);
    let url = format!("{}/?org=isa&at=2020-12-09", server.url);
    let profile = tempfile::tempdir().expect("profile dir");

    let dom = chromium(&["--dump-dom", &url], profile.path());
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    assert!(dom.contains("data-ready=\"1\""), "the page finished loading: {dom}");
    let rows: Vec<&str> =
        dom.split("<tr class=\"member\" data-party=\"").skip(1).filter_map(|rest| rest.split('"').next()).collect();
    assert_eq!(rows.len(), 10, "ten members on 2020-12-09: {rows:?}");
    assert!(rows.contains(&"ISR"), "Israel among them: {rows:?}");
    let count = dom.split("id=\"member-count\"").nth(1).and_then(|r| r.split_once('>')).map(|(_, r)| r);
    let count = count.and_then(|r| r.split('<').next()).unwrap_or_default();
    assert_eq!(count, "10", "the count says 10");
    assert!(dom.contains("<option value=\"isa\""), "isa is in the org list");
    // The timeline picture and the checkpoint are in the page.
    assert!(dom.contains("<svg"), "the timeline is drawn");
    let checkpoint = dom.split("id=\"checkpoint\"").nth(1).unwrap_or_default();
    assert!(checkpoint.contains("\n14\n"), "the checkpoint names the log's 14 events: {checkpoint:.300}");
    // No asset from elsewhere: the viewing machine may be offline.
    for external in ["src=\"http", "href=\"http://", "@import", "url(http"] {
        let page = super::serve::curl("GET", &format!("{}/", server.url), &[], None);
        assert!(!page.body.contains(external), "the page loads nothing from elsewhere ({external})");
    }

    // The picture as a person sees it: the screenshot shows the timeline's
    // green bars and the members' badges, not a blank or an error page.
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("page-isa-2020-12-09.png");
    let _ = std::fs::remove_file(&shot);
    let drawn =
        chromium(&["--window-size=1280,1600", &format!("--screenshot={}", shot.display()), &url], profile.path());
    assert!(shot.is_file(), "chromium saved no screenshot: {}", String::from_utf8_lossy(&drawn.stderr));
    let green = Image::decode(&std::fs::read(&shot).expect("read the PNG")).count_near(FULL_GREEN, 12);
    // ISA's twelve lanes are 12 bars of hundreds of pixels by 12: tens of thousands.
    assert!(green > 20_000, "the screenshot shows {green} pixels of the full members' green: {}", shot.display());
    eprintln!("screenshot: {}", shot.display());
}

/// How long Chromium may take over any one step (to start, to answer a
/// command, to show what was chosen) before the test calls it a hang: many
/// times the second or so each takes, so that a loaded CI machine passes.
const STEP: Duration = Duration::from_secs(30);

/// Headless Chromium with its DevTools port open on 127.0.0.1, started by a
/// test, in a process group of its own; the group (renderers, GPU and
/// network helpers) is killed when this is dropped, on a failed assertion too.
struct Browser {
    child: Child,
    /// `127.0.0.1:PORT` of its DevTools HTTP and WebSocket endpoint.
    devtools: String,
    /// What it wrote on stderr, for a failure's message.
    stderr: Arc<Mutex<String>>,
}

impl Browser {
    /// Starts it on about:blank and waits for the line that names its port.
    fn start(profile: &Path) -> Browser {
        let mut child = Command::new("chromium")
            .args(HEADLESS)
            .arg("--window-size=1280,1600")
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(["--remote-debugging-port=0", "about:blank"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("spawn chromium");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let kept = Arc::clone(&log);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Read to the end, past the line wanted: a full pipe would stall Chromium.
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(ws) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(ws.trim().to_owned());
                }
                let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
                if kept.len() < 64 * 1024 {
                    kept.push_str(&line);
                    kept.push('\n');
                }
            }
        });
        let mut browser = Browser { child, devtools: String::new(), stderr: log };
        // ws://127.0.0.1:PORT/devtools/browser/ID
        let ws = rx
            .recv_timeout(STEP)
            .unwrap_or_else(|e| panic!("chromium named no DevTools port within {STEP:?} ({e}): {}", browser.log()));
        let addr = ws.strip_prefix("ws://").and_then(|rest| rest.split('/').next()).unwrap_or_default();
        assert!(addr.starts_with("127.0.0.1:"), "DevTools on 127.0.0.1: {ws}");
        browser.devtools = addr.to_owned();
        browser
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // SAFETY: a signal to the process group of our own child, not yet
        // reaped, so that its id still names that group and no other.
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP connection to Chromium's DevTools endpoint, read through a buffer
/// with deadlines: no read waits past one, and none loses bytes to a timeout.
struct Wire {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Wire {
    fn connect(addr: &str) -> Wire {
        let to = addr.parse().unwrap_or_else(|e| panic!("an address, {addr}: {e}"));
        let stream = TcpStream::connect_timeout(&to, STEP).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        stream.set_nodelay(true).expect("nodelay");
        stream.set_write_timeout(Some(STEP)).expect("write timeout");
        Wire { stream, buf: Vec::new() }
    }

    /// Reads until the buffer holds `n` bytes.
    fn fill(&mut self, n: usize, deadline: Instant, what: &str) {
        let mut chunk = [0; 64 * 1024];
        while self.buf.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no answer from chromium within {STEP:?}: {what}");
            self.stream.set_read_timeout(Some(left.min(Duration::from_millis(500)))).expect("read timeout");
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!("chromium closed the connection: {what}"),
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => panic!("read from chromium: {e}: {what}"),
            }
        }
    }

    /// An HTTP head: the bytes up to the blank line, taken off the buffer.
    fn head(&mut self, deadline: Instant, what: &str) -> String {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..end + 4).collect();
                return String::from_utf8_lossy(&head).into_owned();
            }
            self.fill(self.buf.len() + 1, deadline, what);
        }
    }
}

/// `GET path` from the DevTools HTTP endpoint, as JSON. HTTP/1.1 (Chromium
/// does not answer HTTP/1.0), and the body is read by its Content-Length:
/// Chromium keeps the connection open after the answer, `Connection: close`
/// or not.
fn devtools_get(addr: &str, path: &str) -> Value {
    let mut wire = Wire::connect(addr);
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    wire.stream.write_all(request.as_bytes()).expect("send the request");
    let deadline = Instant::now() + STEP;
    let head = wire.head(deadline, path);
    assert!(head.starts_with("HTTP/1.1 200"), "GET {path}: {head}");
    let length = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.trim().eq_ignore_ascii_case("content-length")))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or_else(|| panic!("GET {path}: no Content-Length: {head}"));
    wire.fill(length, deadline, path);
    serde_json::from_slice(&wire.buf[..length]).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e})"))
}

/// A Chrome DevTools Protocol session with one page, over a WebSocket
/// (RFC 6455) client of a few lines: frames out masked, frames in of any
/// length, fragmented or not; pings answered.
struct Cdp {
    wire: Wire,
    next_id: u64,
    rng: XorShift,
}

impl Cdp {
    /// Opens `ws://HOST:PORT/PATH`.
    fn connect(ws: &str) -> Cdp {
        let rest = ws.strip_prefix("ws://").unwrap_or_else(|| panic!("a ws:// URL: {ws}"));
        let (addr, path) = rest.split_once('/').unwrap_or((rest, ""));
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let mut rng = XorShift::new(seed as u64 ^ u64::from(std::process::id()));
        let nonce: Vec<u8> = (0..16).map(|_| rng.next() as u8).collect();
        let key = base64_encode(&nonce);
        let mut wire = Wire::connect(addr);
        let request = format!(
            "GET /{path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        wire.stream.write_all(request.as_bytes()).expect("send the handshake");
        let head = wire.head(Instant::now() + STEP, "the WebSocket handshake");
        assert!(head.starts_with("HTTP/1.1 101"), "the WebSocket handshake: {head}");
        assert!(head.to_ascii_lowercase().contains("sec-websocket-accept:"), "the WebSocket handshake: {head}");
        Cdp { wire, next_id: 0, rng }
    }

    /// Sends one frame, masked as a client's must be.
    fn send(&mut self, opcode: u8, payload: &[u8]) {
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xffff => {
                frame.push(0x80 | 126);
                frame.extend((n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend((n as u64).to_be_bytes());
            }
        }
        let mask = (self.rng.next() as u32).to_be_bytes();
        frame.extend(mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.wire.stream.write_all(&frame).expect("write to chromium");
    }

    /// The next whole message, its fragments joined.
    fn message(&mut self, deadline: Instant, what: &str) -> String {
        let mut message = Vec::new();
        loop {
            self.wire.fill(2, deadline, what);
            let (b0, b1) = (self.wire.buf[0], self.wire.buf[1]);
            assert_eq!(b1 & 0x80, 0, "a frame from the server is not masked");
            let (length, at) = match b1 & 0x7f {
                126 => {
                    self.wire.fill(4, deadline, what);
                    (usize::from(u16::from_be_bytes([self.wire.buf[2], self.wire.buf[3]])), 4)
                }
                127 => {
                    self.wire.fill(10, deadline, what);
                    let bytes: [u8; 8] = self.wire.buf[2..10].try_into().expect("8 bytes");
                    (usize::try_from(u64::from_be_bytes(bytes)).expect("a length"), 10)
                }
                n => (usize::from(n), 2),
            };
            self.wire.fill(at + length, deadline, what);
            let payload: Vec<u8> = self.wire.buf.drain(..at + length).skip(at).collect();
            match b0 & 0x0f {
                // text, binary, continuation
                0x0..=0x2 => {
                    message.extend(payload);
                    if b0 & 0x80 != 0 {
                        return String::from_utf8(message).expect("a UTF-8 message");
                    }
                }
                0x8 => panic!("chromium closed the WebSocket: {what}"),
                0x9 => self.send(0xa, &payload),
                _ => {} // a pong
            }
        }
    }

    /// A command's result, or its error. Events, and answers to other ids,
    /// are passed over.
    fn try_call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(0x1, json!({"id": id, "method": method, "params": params}).to_string().as_bytes());
        let deadline = Instant::now() + STEP;
        loop {
            let text = self.message(deadline, method);
            let answer: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:.300}"));
            if answer["id"] != id {
                continue;
            }
            if let Some(error) = answer.get("error") {
                return Err(format!("{method}: {error}"));
            }
            return Ok(answer["result"].clone());
        }
    }

    #[track_caller]
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.try_call(method, params).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A JavaScript expression's value in the page, or what went wrong.
    fn evaluate(&mut self, expression: &str) -> Result<Value, String> {
        let r = self.try_call("Runtime.evaluate", json!({"expression": expression, "returnByValue": true}))?;
        match r.get("exceptionDetails") {
            Some(e) => Err(format!("{expression:.80}: {e}")),
            None => Ok(r["result"]["value"].clone()),
        }
    }

    /// Polls [`PAGE_STATE`] until `done` holds of it: its last reading.
    #[track_caller]
    fn wait_for(&mut self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + STEP;
        loop {
            // Errors are readings too: the page may still be about:blank, or between documents.
            let state = self.evaluate(PAGE_STATE);
            if let Ok(state) = &state
                && done(state)
            {
                return state.clone();
            }
            assert!(Instant::now() < deadline, "{what}: not within {STEP:?}; the page: {state:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// What the page shows, as the test reads it (null where an element is not
/// there, as on about:blank).
const PAGE_STATE: &str = r#"(() => {
  const $ = (id) => document.getElementById(id);
  const text = (id) => ($(id) ? $(id).textContent : null);
  return {
    ready: document.body ? document.body.dataset.ready || null : null,
    orgs: [...document.querySelectorAll("select#org option")].map((o) => o.value),
    org: $("org") ? $("org").value : null,
    day: $("day") ? $("day").value : null,
    title: text("org-title"),
    status: text("status"),
    membersDay: text("members-day"),
    count: text("member-count"),
    members: [...document.querySelectorAll("tr.member")].map((r) => r.dataset.party),
    uncertain: [...document.querySelectorAll("tr.uncertain")].map((r) => r.dataset.party),
    error: $("error") && !$("error").hidden ? $("error").textContent : null,
    href: location.href,
    search: location.search,
  };
})()"#;

/// JavaScript that chooses `value` in the control `id` as a person's
/// choice reaches the page: the control's value, then `input` and `change`
/// (the page acts on `change`). It returns the value the control took.
fn choose(id: &str, value: &str) -> String {
    format!(
        r#"(() => {{
  const control = document.getElementById({id:?});
  control.focus();
  control.value = {value:?};
  control.dispatchEvent(new Event("input", {{ bubbles: true }}));
  control.dispatchEvent(new Event("change", {{ bubbles: true }}));
  return control.value;
}})()"#
    )
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() { char::from(BASE64[(n >> (18 - 6 * i)) as usize & 63]) } else { '=' });
        }
    }
    out
}

fn base64_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|&c| c != b'=' && !c.is_ascii_whitespace()) {
        let v = BASE64.iter().position(|&b| b == c).unwrap_or_else(|| panic!("not base64: {:?}", char::from(c)));
        acc = (acc << 6 | v as u32) & 0xffff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

#[test]
fn choosing_isa_and_the_day_in_the_page_shows_its_ten_members() {
    if !support::tool_available("chromium") {
        return;
    }
    let l = support::isa();
    // A second org, first in the list: the page opens on it, so that
    // choosing isa is a change the page has to make.
    l.append(r#"{"type":"founding","org":"abc","date":"2000-01-01","members":["X","Y"],"name":"A first org","source":{"title":"a test source"}}"#);
    let server = Server::start(&l, &[]);
    let home = format!("{}/", server.url);
    let profile = tempfile::tempdir().expect("profile dir");
    // Dropped before the server and the profile: Chromium is killed first.
    let browser = Browser::start(profile.path());

    let targets = devtools_get(&browser.devtools, "/json/list");
    let ws = targets
        .as_array()
        .and_then(|t| t.iter().find(|t| t["type"] == "page"))
        .and_then(|t| t["webSocketDebuggerUrl"].as_str())
        .unwrap_or_else(|| panic!("no page among chromium's targets: {targets}"))
        .to_owned();
    let mut page = Cdp::connect(&ws);

    // The page with no query string: nothing chosen through the URL.
    let nav = page.call("Page.navigate", json!({ "url": home }));
    assert!(nav.get("errorText").is_none(), "navigate to {home}: {nav}");
    let opened = page.wait_for("the page loads with its org list", |s| {
        s["ready"] == "1" && s["orgs"].as_array().is_some_and(|o| o.iter().any(|v| v == "isa"))
    });
    assert_eq!(opened["href"], home.as_str(), "{opened}");
    assert_eq!(opened["orgs"], json!(["abc", "isa"]), "{opened}");
    assert_eq!(opened["org"], "abc", "the page opens on the first org: {opened}");
    let today = opened["day"].as_str().filter(|d| d.len() == 10).expect("a day in the picker").to_owned();

    // Choose isa in the org list.
    assert_eq!(page.evaluate(&choose("org", "isa")), Ok(json!("isa")), "isa is an option to choose");
    let on_isa = page.wait_for("the page shows isa", |s| {
        s["ready"] == "1" && s["status"] == format!("Showing isa on {today}.").as_str()
    });
    assert_eq!(on_isa["title"], "International Security Alliance", "{on_isa}");
    assert_eq!(on_isa["membersDay"], today.as_str(), "{on_isa}");

    // Then the day in the date picker.
    assert_eq!(page.evaluate(&choose("day", "2020-12-09")), Ok(json!("2020-12-09")), "the picker takes the day");
    let shown = page.wait_for("the page shows isa on 2020-12-09", |s| {
        s["ready"] == "1" && s["status"] == "Showing isa on 2020-12-09." && s["membersDay"] == "2020-12-09"
    });
    let members: Vec<&str> = shown["members"].as_array().expect("rows").iter().filter_map(Value::as_str).collect();
    assert_eq!(members.len(), 10, "ten members on 2020-12-09: {shown}");
    assert!(members.contains(&"ISR"), "Israel among them: {shown}");
    assert_eq!(shown["count"], "10", "the count says 10: {shown}");
    assert_eq!(shown["error"], Value::Null, "no error shown: {shown}");
    // The page keeps what was chosen in its URL, to be shared or reloaded.
    let mut query: Vec<&str> =
        shown["search"].as_str().unwrap_or_default().trim_start_matches('?').split('&').collect();
    query.sort_unstable();
    assert_eq!(query, ["at=2020-12-09", "org=isa"], "the URL names the choice: {shown}");

    // The picture as a person sees it after choosing.
    let shot = page.call("Page.captureScreenshot", json!({ "format": "png" }));
    let png_bytes = base64_decode(shot["data"].as_str().expect("the screenshot's data"));
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("page-chosen-isa-2020-12-09.png");
    std::fs::write(&path, &png_bytes).expect("write the screenshot");
    let image = Image::decode(&png_bytes);
    let green = image.count_near(FULL_GREEN, 12);
    eprintln!("screenshot: {} ({}x{}, {green} green pixels)", path.display(), image.width, image.height);
    assert!(green > 20_000, "the screenshot shows {green} pixels of the full members' green: {}", path.display());
}
