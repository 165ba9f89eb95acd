//! `accord serve`: one process holds the ledger and answers over HTTP/1.1.
//!
//! Every request runs the same command code as the CLI ([`exec`]) on the
//! ledger this process holds, so a body is exactly what the command prints
//! with `--json`. The server announces itself in the ledger directory
//! ([`ANNOUNCEMENT`]) so that `accord` commands on that ledger go through it
//! (`cli/remote.rs`) instead of waiting for its lock.

mod exec;
mod http;
mod long;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use serde::{Deserialize, Serialize};

use accord::Error;

use super::{Context, Held, Out, emit, file_failed, interrupt};

pub use exec::rebased;

/// The file in the ledger directory that names a running server: its
/// address, its process and the secret that lets local `accord` commands
/// through (mode 0600: whoever can read it can open the ledger anyway).
pub const ANNOUNCEMENT: &str = "accord.serve";

#[derive(Args)]
pub struct ServeArgs {
    /// The address and port to listen on (port 0: a free port, printed when serving starts)
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:7878")]
    listen: String,
    /// Refuse every write (POST /v1/events, accord append and import through the server)
    #[arg(long)]
    read_only: bool,
    /// Writes need `Authorization: Bearer TOKEN`, TOKEN being this file's first line (without it, writes are refused on an address that is not loopback)
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Sign the checkpoints the server gives (GET /v1/checkpoint) with this private key
    #[arg(long, value_name = "KEYFILE")]
    sign: Option<PathBuf>,
    /// The largest request body accepted, in MiB (an import sent over HTTP is one body)
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    max_body: usize,
    /// Keep orgs once read in memory, up to about this many MiB, so that a query on one is answered without reading its events again (0: keep none)
    #[arg(long, value_name = "MIB", default_value_t = 512)]
    cache: usize,
}

/// Commands running at once, at most.
const BLOCKING: usize = 16;

/// Quick reading commands running at once, at most: the other threads are
/// kept for writes, which take turns. Long reads run on threads of their
/// own ([`long`]).
const READERS: usize = BLOCKING - 2;

/// What [`ANNOUNCEMENT`] holds.
#[derive(Serialize, Deserialize)]
pub struct Announcement {
    /// Where local clients connect: ADDR:PORT.
    pub addr: String,
    pub pid: u32,
    pub secret: String,
}

pub fn run(ctx: &Context, args: ServeArgs, out: Out<'_>) -> Result<(), Error> {
    if ctx.served.is_some() {
        return Err(Error::usage("accord serve cannot run through a server"));
    }
    let addr = listen_addr(&args.listen)?;
    let token = args.token_file.as_deref().map(read_token).transpose()?;
    if let Some(key) = &args.sign
        && !key.is_file()
    {
        return Err(Error::usage(format!("--sign {}: there is no such file", key.display())));
    }
    if args.max_body == 0 || args.max_body > 1 << 20 {
        return Err(Error::usage("--max-body must be from 1 to 1048576 MiB"));
    }
    // SIGINT and SIGTERM end the server gracefully: noted here, acted on by
    // the runtime (and a write in progress stops and undoes itself).
    interrupt::install();
    if args.cache > 1 << 20 {
        return Err(Error::usage("--cache must be from 0 to 1048576 MiB"));
    }
    let ledger = match ctx.open_caching(true, Some(accord::store::Cache::Serve))? {
        Held::Own(mut ledger) => {
            ledger.cache_orgs(args.cache << 20);
            Arc::new(*ledger)
        }
        Held::Shared(ledger) => ledger,
    };
    let listener = TcpListener::bind(addr)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| file_failed(format_args!("cannot listen on {addr}"), e))?;
    let local = listener.local_addr().map_err(|e| file_failed(format_args!("cannot listen on {addr}"), e))?;
    let announcement = Announcement { addr: client_addr(local).to_string(), pid: std::process::id(), secret: secret() };
    let announced = ctx.ledger_dir.join(ANNOUNCEMENT);
    announce(&announced, &announcement)?;
    let app = Arc::new(exec::App {
        ledger,
        dir: ctx.ledger_dir.clone(),
        writer: std::sync::Mutex::new(()),
        actor: ctx.actor(),
        read_only: args.read_only,
        sign: args.sign.map(|p| rebased(&std::env::current_dir().unwrap_or_default(), &p)),
    });
    let long = long::LongReads::start(long::LONG).map_err(|e| file_failed("cannot start the server's threads", e))?;
    // The orgs are read into the cache, in id order, while the first
    // requests come: on a long read's thread, so at its priority. It holds
    // the ledger one org at a time, so that a server stopping closes it.
    let warming = Arc::downgrade(&app.ledger);
    long.run(move || {
        let Some(orgs) = warming.upgrade().and_then(|ledger| ledger.orgs().ok()) else { return };
        for org in orgs {
            let warmed = warming.upgrade().map(|ledger| ledger.warm_org(&org));
            if interrupt::received() || !matches!(warmed, Some(Ok(true))) {
                return;
            }
        }
    });
    let server = http::Server {
        app: app.clone(),
        token,
        secret: announcement.secret.clone(),
        open_writes: local.ip().is_loopback(),
        max_body: args.max_body << 20,
        readers: Arc::new(tokio::sync::Semaphore::new(READERS)),
        long,
    };
    let started = if ctx.json {
        serde_json::json!({"serving": ctx.ledger_dir.display().to_string(), "url": format!("http://{local}")})
            .to_string()
    } else {
        format!("serving {} on http://{local}", ctx.ledger_dir.display())
    };
    let served = emit(out, started).and_then(|()| out.flush().map_err(super::output_failed)).and_then(|()| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            // Commands run on the blocking pool; more of them at once than
            // this wait their turn, which bounds the memory they hold.
            .max_blocking_threads(BLOCKING)
            .thread_name("serve")
            .build()
            .map_err(|e| file_failed("cannot start the server's threads", e))?;
        let result = runtime.block_on(http::serve(listener, server));
        // Requests still running (a stream whose client went away) get a
        // moment; the ledger is closed below whatever they do.
        runtime.shutdown_timeout(Duration::from_secs(10));
        result
    });
    // The announcement goes first: a command typed now opens the ledger
    // itself, waiting for the lock this process still holds for a moment.
    let _ = std::fs::remove_file(&announced);
    // The last holder of the ledger closes it: sled flushes and syncs, and
    // the lock goes.
    drop(app);
    served
}

/// `--listen`: an address and port, or a name that resolves to one.
fn listen_addr(text: &str) -> Result<SocketAddr, Error> {
    let bad = || Error::usage(format!("--listen {text}: give an address and a port, like 127.0.0.1:7878 or [::1]:0"));
    text.to_socket_addrs().map_err(|_| bad())?.next().ok_or_else(bad)
}

/// Where a local client reaches a server listening on `local`: a server on
/// every address (0.0.0.0 or ::) is reached on loopback.
fn client_addr(local: SocketAddr) -> SocketAddr {
    match local {
        SocketAddr::V4(a) if a.ip().is_unspecified() => SocketAddr::from(([127, 0, 0, 1], a.port())),
        SocketAddr::V6(a) if a.ip().is_unspecified() => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, a.port())),
        other => other,
    }
}

/// The token of `--token-file`: its first line, not empty.
fn read_token(path: &Path) -> Result<String, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| file_failed(format_args!("cannot read the token file {}", path.display()), e))?;
    let token = text.lines().next().unwrap_or("").trim().to_owned();
    if token.is_empty() {
        return Err(Error::usage(format!(
            "--token-file {}: its first line is empty; put the token there",
            path.display()
        )));
    }
    Ok(token)
}

/// 256 random bits, as hex.
fn secret() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// Writes the announcement whole (a temporary file renamed), readable by
/// its owner only. One left by a server that was killed is replaced: this
/// process holds the ledger's lock, so no other server is running.
fn announce(path: &Path, announcement: &Announcement) -> Result<(), Error> {
    let tmp = path.with_extension("serve-partial");
    let what = || format!("cannot write {}", path.display());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let text = serde_json::to_string(announcement).map_err(|e| file_failed(what(), e.into()))?;
    let written =
        options.open(&tmp).and_then(|mut f| f.write_all(text.as_bytes())).and_then(|()| std::fs::rename(&tmp, path));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        file_failed(what(), e)
    })
}
