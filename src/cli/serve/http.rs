//! The HTTP side of `accord serve`: routes, query parameters turned into
//! the command line they stand for, access, streamed bodies, shutdown.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use accord::Error;

use super::exec::{Access, App, Failure, Job, Parsed, execute};
use crate::cli::interrupt;

/// What every request can reach.
pub struct Server {
    pub app: Arc<App>,
    /// `--token-file`: writes need it.
    pub token: Option<String>,
    /// The announcement's secret: local `accord` commands show it.
    pub secret: String,
    /// Writes need no token (loopback, and no token set).
    pub open_writes: bool,
    /// The largest request body, in bytes.
    pub max_body: usize,
    /// Places for quick readers: fewer than the pool's threads, so that a
    /// write finds a thread at once instead of queueing behind reads.
    pub readers: Arc<tokio::sync::Semaphore>,
    /// The long reads' threads.
    pub long: super::long::LongReads,
}

/// Serves until SIGINT or SIGTERM, then lets the requests in flight finish.
pub async fn serve(listener: std::net::TcpListener, server: Server) -> Result<(), Error> {
    let listener =
        tokio::net::TcpListener::from_std(listener).map_err(|e| crate::cli::file_failed("cannot listen", e))?;
    let router = Router::new()
        .route("/", get(page))
        .route("/v1/cli", post(cli))
        .route("/v1/events", post(events))
        .fallback(read)
        .with_state(Arc::new(server));
    // No Nagle: an answer written in two pieces would wait for the client's
    // delayed ACK (40 ms) before its second.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(stopped())
        .await
        .map_err(|e| crate::cli::file_failed("the server failed", e))
}

/// Resolves once SIGINT or SIGTERM was noted.
async fn stopped() {
    while !interrupt::received() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn page() -> Response {
    let html = include_str!("page.html");
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

/// What a request may do: write with the token or the local secret, or
/// with nothing on a loopback server that has no token.
fn access(server: &Server, headers: &HeaderMap) -> Access {
    let shown = |expected: &str| shows(headers, expected);
    let writes = shown(&server.secret)
        || match &server.token {
            Some(token) => shown(token),
            None => server.open_writes,
        };
    if writes { Access::Write } else { Access::Read }
}

/// Whether the request's `Authorization: Bearer …` is `expected`.
fn shows(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|b| same(b.trim().as_bytes(), expected.as_bytes()))
}

/// Compares secrets in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn failure(f: &Failure) -> Response {
    let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, "application/json")], format!("{}\n", f.json())).into_response()
}

/// The body of a request, up to `--max-body`. A body said to be larger
/// (`Content-Length`) is refused before any of it is read: a client that
/// waits for `100 Continue` (curl, for a large body) then reads the refusal
/// rather than sending the body into a connection being closed.
async fn body(server: &Server, request: Request) -> Result<Bytes, Response> {
    let too_large = || {
        failure(&Failure::new(
            413,
            2,
            format!(
                "the request body is larger than {} MiB, the server's limit (accord serve --max-body): nothing recorded",
                server.max_body >> 20
            ),
        ))
    };
    let said = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if said.is_some_and(|len| len > server.max_body as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(request.into_body(), server.max_body).await.map_err(|_| too_large())
}

/// `POST /v1/events`: one event as JSON (`accord append`), or NDJSON
/// (`Content-Type: application/x-ndjson`, `accord import`, all or nothing);
/// `?expected_head=N` and `?actor=NAME`.
async fn events(State(server): State<Arc<Server>>, request: Request) -> Response {
    let access = access(&server, request.headers());
    let ndjson = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("ndjson") || t.contains("jsonl"));
    let params = match query(request.uri().query()) {
        Ok(params) => params,
        Err(f) => return failure(&f),
    };
    let mut argv: Vec<String> = ["accord", "--json", if ndjson { "import" } else { "append" }].map(String::from).into();
    let mut actor = None;
    for (name, value) in params {
        match name.as_str() {
            "expected_head" => argv.push(format!("--expect-head={value}")),
            "actor" => actor = Some(value),
            _ => return failure(&unknown(&name, "/v1/events", &["expected_head", "actor"])),
        }
    }
    if ndjson {
        argv.extend(["--".into(), "-".into()]);
    }
    let stdin = match body(&server, request).await {
        Ok(body) => body.to_vec(),
        Err(response) => return response,
    };
    respond(server, Job { argv, actor, cwd: None, stdin, access }, "application/json").await
}

/// What a client of `POST /v1/cli` sends on the body's first line; the rest
/// of the body is the command's standard input.
#[derive(serde::Deserialize)]
struct CliRequest {
    argv: Vec<String>,
    actor: Option<String>,
    cwd: Option<std::path::PathBuf>,
}

/// `POST /v1/cli`: a command line of a local `accord` (cli/remote.rs), which
/// shows the announcement's secret. The answer is a stream of frames: a
/// tag byte, a 4-byte big-endian length, the bytes; `o` is stdout, and the
/// last, `x`, is the exit code (one byte) and the error's sentence.
async fn cli(State(server): State<Arc<Server>>, request: Request) -> Response {
    if !shows(request.headers(), &server.secret) {
        return failure(&Failure::new(
            401,
            1,
            "POST /v1/cli is for accord commands on the machine that holds the ledger (they show the secret of accord.serve)",
        ));
    }
    let bytes = match body(&server, request).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let split = bytes.iter().position(|&b| b == b'\n').unwrap_or(bytes.len());
    let Ok(head) = serde_json::from_slice::<CliRequest>(&bytes[..split]) else {
        return failure(&Failure::new(400, 2, "the body's first line must be {\"argv\":[…],\"actor\":…,\"cwd\":…}"));
    };
    let stdin = bytes.get(split + 1..).unwrap_or_default().to_vec();
    let job = Job { argv: head.argv, actor: head.actor, cwd: head.cwd, stdin, access: Access::Write };
    let frames = receiver_stream(start(server, job).await).map(|message| {
        Ok::<_, std::io::Error>(Bytes::from(match message {
            Message::Out(bytes) => frame(b'o', &bytes),
            Message::End(rest, result) => {
                let mut frames = if rest.is_empty() { Vec::new() } else { frame(b'o', &rest) };
                let (code, text) = match result {
                    Ok(()) => (0, String::new()),
                    Err(f) => (f.code, f.message),
                };
                let mut end = vec![code];
                end.extend_from_slice(text.as_bytes());
                frames.extend(frame(b'x', &end));
                frames
            }
        }))
    });
    ([(header::CONTENT_TYPE, "application/octet-stream")], Body::from_stream(frames)).into_response()
}

fn frame(tag: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 5);
    out.push(tag);
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
    out
}

/// What a running command hands its request: output as it comes (in
/// pieces of [`PIECE`] bytes), then the rest and how it ended.
enum Message {
    Out(Vec<u8>),
    End(Vec<u8>, Result<(), Failure>),
}

/// Output is handed over in pieces this large: most answers are whole
/// before their status is chosen, a large one (an export) streams.
const PIECE: usize = 1 << 20;

/// The output of a command, handed to its request in pieces. A request
/// that went away (the client closed) is a closed pipe to the command,
/// which stops.
struct Pieces {
    buf: Vec<u8>,
    tx: mpsc::Sender<Message>,
}

impl std::io::Write for Pieces {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= PIECE {
            let piece = std::mem::take(&mut self.buf);
            self.tx.blocking_send(Message::Out(piece)).map_err(|_| std::io::ErrorKind::BrokenPipe)?;
        }
        Ok(bytes.len())
    }

    /// Nothing: what is held goes with the next piece or the end, so that
    /// a small answer's status is known before its body is sent.
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs the job: a long read on the long reads' threads, in turn; a quick
/// read on a thread of the runtime's blocking pool once it has a reader's
/// place; a write there at once.
async fn start(server: Arc<Server>, job: Job) -> mpsc::Receiver<Message> {
    let job = job.parse();
    let (tx, rx) = mpsc::channel(4);
    if job.is_long() {
        let app = Arc::clone(&server.app);
        server.long.run(move || run(&app, job, &tx));
        return rx;
    }
    // The semaphore is never closed: no place only if it were.
    let place = if job.takes_turns() { None } else { server.readers.clone().acquire_owned().await.ok() };
    tokio::task::spawn_blocking(move || {
        let _place = place;
        run(&server.app, job, &tx);
    });
    rx
}

/// Runs a job on the calling thread, sending what it writes to `tx`.
fn run(app: &App, job: Parsed, tx: &mpsc::Sender<Message>) {
    let mut out = Pieces { buf: Vec::new(), tx: tx.clone() };
    let result = execute(app, job, &mut out);
    let _ = tx.blocking_send(Message::End(out.buf, result));
}

fn receiver_stream<T: Send + 'static>(rx: mpsc::Receiver<T>) -> impl futures_util::Stream<Item = T> + Send {
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })
}

/// Runs a job and answers with its output: whole, with the status its end
/// calls for, or streamed (200) once it is larger than a piece; a command
/// that fails after that cuts the stream short, which the client sees as
/// an error of the connection.
async fn respond(server: Arc<Server>, job: Job, content_type: &'static str) -> Response {
    let mut rx = start(server, job).await;
    match rx.recv().await {
        None => failure(&Failure::new(500, 1, "the command ended without an answer")),
        Some(Message::End(body, Ok(()))) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Some(Message::End(_, Err(f))) => failure(&f),
        Some(Message::Out(first)) => {
            let rest = receiver_stream(rx).map(|message| match message {
                Message::Out(bytes) | Message::End(bytes, Ok(())) => Ok(Bytes::from(bytes)),
                Message::End(_, Err(f)) => Err(std::io::Error::other(f.message)),
            });
            let body = futures_util::stream::once(async move { Ok(Bytes::from(first)) }).chain(rest);
            ([(header::CONTENT_TYPE, content_type)], Body::from_stream(body)).into_response()
        }
    }
}

/// A GET route: the command it runs and the query parameters it takes.
struct Route {
    /// The command's words (`prove inclusion`).
    words: &'static [&'static str],
    /// Query parameters that are options with a value (`known_at` is `--known-at`).
    values: &'static [&'static str],
    /// Query parameters that are switches (`long=true`).
    switches: &'static [&'static str],
    content_type: &'static str,
    /// Whether the command runs with `--json`.
    json: bool,
}

const VIEW: &[&str] = &["seq", "known_at"];
const JSON: &str = "application/json";
const NDJSON: &str = "application/x-ndjson";

/// The route of a GET path, and its positional arguments (org, party, event).
fn route(path: &[String]) -> Option<(Route, Vec<String>)> {
    let r = |words, values, switches, content_type, json| Route { words, values, switches, content_type, json };
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    Some(match segments.as_slice() {
        ["v1", "head"] => (r(&["head"], &[], &[], JSON, true), vec![]),
        ["v1", "orgs"] => (r(&["orgs"], VIEW, &[], JSON, true), vec![]),
        ["v1", "orgs", org, what] => {
            let org = vec![(*org).to_owned()];
            let route = match *what {
                "members" => r(&["members"], &["at", "seq", "known_at"], &[], JSON, true),
                "history" => r(&["history"], &["member", "seq", "known_at"], &["long"], NDJSON, true),
                "diff" => r(&["diff"], &["from", "to", "seq", "known_at"], &[], JSON, true),
                "panel" => r(
                    &["panel"],
                    &["from", "to", "every", "on", "layout", "format", "seq", "known_at"],
                    &[],
                    NDJSON,
                    true,
                ),
                "spells" => r(&["spells"], &["format", "seq", "known_at"], &[], NDJSON, true),
                "timeline.svg" => r(&["timeline"], &["from", "to", "seq", "known_at"], &[], "image/svg+xml", false),
                _ => return None,
            };
            (route, org)
        }
        ["v1", "parties", party] => {
            (r(&["party"], &["at", "seq", "known_at"], &["history"], JSON, true), vec![(*party).to_owned()])
        }
        ["v1", "events", event] => (r(&["show"], &[], &[], JSON, true), vec![(*event).to_owned()]),
        ["v1", "log"] => (
            r(&["log"], &["org", "from_seq", "limit", "type", "member", "since", "until"], &["long"], NDJSON, true),
            vec![],
        ),
        ["v1", "export"] => (r(&["export"], &["org"], &[], NDJSON, true), vec![]),
        ["v1", "checkpoint"] => (r(&["checkpoint"], &[], &[], "text/plain; charset=utf-8", false), vec![]),
        ["v1", "proofs", "inclusion", event] => {
            (r(&["prove", "inclusion"], &["size"], &[], JSON, true), vec![(*event).to_owned()])
        }
        ["v1", "proofs", "consistency"] => (r(&["prove", "consistency"], &["from", "to"], &[], JSON, true), vec![]),
        ["v1", "proofs", "member", org, party] => {
            (r(&["prove", "member"], &["at"], &[], JSON, true), vec![(*org).to_owned(), (*party).to_owned()])
        }
        _ => return None,
    })
}

/// Every GET but the page: the command the path and the query stand for.
async fn read(State(server): State<Arc<Server>>, request: Request) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let f =
            Failure::new(405, 2, format!("{} {}: only GET is served there", request.method(), request.uri().path()));
        return failure(&f);
    }
    let access = access(&server, request.headers());
    let uri = request.uri().clone();
    let path: Option<Vec<String>> = uri.path().split('/').filter(|s| !s.is_empty()).map(decode).collect();
    let Some(path) = path else {
        return failure(&Failure::new(400, 2, format!("{}: the path is not valid percent-encoded UTF-8", uri.path())));
    };
    let Some((route, positional)) = route(&path) else {
        return failure(&Failure::new(404, 1, format!("there is nothing at {}: see README, HTTP API", uri.path())));
    };
    let params = match query(uri.query()) {
        Ok(params) => params,
        Err(f) => return failure(&f),
    };
    let mut argv: Vec<String> = vec!["accord".into()];
    let mut content_type = route.content_type;
    // CSV is not JSON: a panel or spells asked as CSV runs without --json.
    let csv = params.iter().any(|(name, value)| name == "format" && value == "csv");
    if csv {
        content_type = "text/csv; charset=utf-8";
    }
    if route.json && !csv {
        argv.push("--json".into());
    }
    argv.extend(route.words.iter().map(|w| (*w).to_owned()));
    for (name, value) in params {
        let flag = format!("--{}", name.replace('_', "-"));
        if route.values.contains(&name.as_str()) {
            argv.push(format!("{flag}={value}"));
        } else if route.switches.contains(&name.as_str()) {
            match value.as_str() {
                "" | "true" | "1" => argv.push(flag),
                "false" | "0" => {}
                _ => {
                    return failure(&Failure::new(400, 2, format!("{name}={value}: give {name}=true or {name}=false")));
                }
            }
        } else {
            let known: Vec<&str> = route.values.iter().chain(route.switches).copied().collect();
            return failure(&unknown(&name, uri.path(), &known));
        }
    }
    argv.push("--".into());
    argv.extend(positional);
    respond(server, Job { argv, actor: None, cwd: None, stdin: Vec::new(), access }, content_type).await
}

fn unknown(name: &str, path: &str, known: &[&str]) -> Failure {
    let takes = if known.is_empty() { "it takes none".to_owned() } else { format!("it takes {}", known.join(", ")) };
    Failure::new(400, 2, format!("{path} has no query parameter `{name}`: {takes}"))
}

/// The query's parameters, in order, decoded (`+` is a space).
fn query(query: Option<&str>) -> Result<Vec<(String, String)>, Failure> {
    let mut out = Vec::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded = |s: &str| decode(&s.replace('+', " "));
        match (decoded(name), decoded(value)) {
            (Some(name), Some(value)) => out.push((name, value)),
            _ => return Err(Failure::new(400, 2, format!("`{pair}`: the query is not valid percent-encoded UTF-8"))),
        }
    }
    Ok(out)
}

/// Percent-decoding; `None` for a bad escape or bytes that are not UTF-8.
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            // Two hex digits: from_str_radix alone would take "+1".
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_refuses_bad_escapes_and_bytes_that_are_not_utf8() {
        assert_eq!(decode("a%20b%2Fc").as_deref(), Some("a b/c"));
        assert_eq!(decode("%e2%9c%93").as_deref(), Some("\u{2713}"));
        assert_eq!(decode("%"), None);
        assert_eq!(decode("%4"), None);
        assert_eq!(decode("%zz"), None);
        assert_eq!(decode("%ff"), None);
        assert_eq!(decode("%+1"), None);
    }

    #[test]
    fn query_parameters_decode_plus_as_space_and_keep_their_order() {
        let got = query(Some("at=2020-12-09&known_at=2021-01-01+00:00&long")).unwrap();
        let want = [("at", "2020-12-09"), ("known_at", "2021-01-01 00:00"), ("long", "")];
        assert_eq!(got, want.map(|(a, b)| (a.to_owned(), b.to_owned())));
        assert!(query(Some("at=%ff")).is_err());
    }
}
