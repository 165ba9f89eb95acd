//! A command on a ledger that `accord serve` holds runs in the server: the
//! command line (and stdin, if the command reads it) goes to the address in
//! the ledger's announcement, and what comes back is printed as the command
//! would have printed it, with its exit code.
//!
//! The client is a few lines of HTTP/1.1 over a TCP stream: one request to
//! a server of our own on this machine needs no HTTP library.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use super::serve::{ANNOUNCEMENT, Announcement};
use super::{Command, Context, fail};

/// The server announced in `dir`, if one is there and its process alive.
fn announced(dir: &Path) -> Option<(Announcement, SocketAddr)> {
    let text = std::fs::read_to_string(dir.join(ANNOUNCEMENT)).ok()?;
    let announcement: Announcement = serde_json::from_str(&text).ok()?;
    let addr: SocketAddr = announcement.addr.parse().ok()?;
    alive(announcement.pid).then_some((announcement, addr))
}

/// Whether a process of that id is running (a server killed with -9 left
/// its announcement behind).
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
    let sent = unsafe { libc::kill(pid, 0) };
    sent == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Runs the command in the server that holds the ledger, if one is
/// announced and answers; `None` when there is none (or it is gone), and
/// the command runs here.
pub fn forward(ctx: &Context, command: &Command) -> Option<ExitCode> {
    let (announcement, addr) = announced(&ctx.ledger_dir)?;
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    Some(match exchange(ctx, command, &announcement, stream) {
        Ok(code) => code,
        Err(message) => fail(ctx.json, &format!("the server at {addr} that holds the ledger: {message}"), 1),
    })
}

/// The request, and the answer printed; `Err` when the exchange itself failed.
fn exchange(
    ctx: &Context,
    command: &Command,
    announcement: &Announcement,
    stream: TcpStream,
) -> Result<ExitCode, String> {
    let mut argv = Vec::new();
    for arg in std::env::args_os() {
        argv.push(arg.into_string().map_err(|_| "an argument is not UTF-8, which the server cannot take".to_owned())?);
    }
    let cwd = std::env::current_dir().ok();
    let head = serde_json::json!({"argv": argv, "actor": ctx.actor(), "cwd": cwd});
    let mut body = head.to_string().into_bytes();
    body.push(b'\n');
    if command.reads_stdin() {
        std::io::stdin().read_to_end(&mut body).map_err(|e| format!("cannot read stdin: {e}"))?;
    }
    let mut writer = &stream;
    let request = format!(
        "POST /v1/cli HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        announcement.addr,
        announcement.secret,
        body.len()
    );
    writer
        .write_all(request.as_bytes())
        .and_then(|()| writer.write_all(&body))
        .map_err(|e| format!("cannot send the command: {e}"))?;
    let mut reader = BufReader::new(&stream);
    let (status, chunked, length) = response_head(&mut reader)?;
    let mut body: Box<dyn Read> =
        if chunked { Box::new(Chunked { inner: reader, left: 0, done: false }) } else { Box::new(reader.take(length)) };
    if status != 200 {
        let mut text = String::new();
        body.read_to_string(&mut text).map_err(|e| format!("cannot read its answer: {e}"))?;
        let error: serde_json::Value = serde_json::from_str(&text).map_err(|_| format!("it answered {status}"))?;
        let message = error["error"].as_str().unwrap_or("no message");
        let code = error["code"].as_u64().and_then(|c| u8::try_from(c).ok()).unwrap_or(1);
        return Ok(fail(ctx.json, message, code));
    }
    let mut out = std::io::stdout().lock();
    loop {
        let mut tag = [0u8; 5];
        body.read_exact(&mut tag).map_err(|e| format!("its answer stopped short: {e}"))?;
        let len = u32::from_be_bytes([tag[1], tag[2], tag[3], tag[4]]) as usize;
        let mut bytes = vec![0; len];
        body.read_exact(&mut bytes).map_err(|e| format!("its answer stopped short: {e}"))?;
        match tag[0] {
            b'o' => {
                if out.write_all(&bytes).and_then(|()| out.flush()).is_err() {
                    // The reader went away (`| head`): as the command itself would.
                    return Ok(ExitCode::SUCCESS);
                }
            }
            b'x' => {
                let code = bytes.first().copied().unwrap_or(1);
                if code == 0 {
                    return Ok(ExitCode::SUCCESS);
                }
                return Ok(fail(ctx.json, &String::from_utf8_lossy(&bytes[1..]), code));
            }
            other => return Err(format!("its answer has an unknown part ({other})")),
        }
    }
}

/// The status, whether the body is chunked, and its length if not.
fn response_head(reader: &mut impl BufRead) -> Result<(u16, bool, u64), String> {
    let mut line = String::new();
    let bad = |e: std::io::Error| format!("cannot read its answer: {e}");
    reader.read_line(&mut line).map_err(bad)?;
    let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or("it did not answer in HTTP")?;
    let (mut chunked, mut length) = (false, u64::MAX);
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(bad)? == 0 || line.trim().is_empty() {
            return Ok((status, chunked, length));
        }
        let Some((name, value)) = line.split_once(':') else { continue };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        if name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked") {
            chunked = true;
        } else if name == "content-length" {
            length = value.parse().map_err(|_| "its answer has a bad Content-Length")?;
        }
    }
}

/// A chunked HTTP/1.1 body (RFC 9112 §7.1), read as its bytes.
struct Chunked<R> {
    inner: R,
    /// Bytes left in the current chunk.
    left: u64,
    done: bool,
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "a malformed chunk");
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let mut line = String::new();
            self.inner.read_line(&mut line)?;
            let size = line.trim().split(';').next().unwrap_or("");
            self.left = u64::from_str_radix(size, 16).map_err(|_| bad())?;
            if self.left == 0 {
                self.done = true;
                return Ok(0);
            }
        }
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.left -= n as u64;
        if self.left == 0 {
            let mut crlf = String::new();
            self.inner.read_line(&mut crlf)?;
        }
        Ok(n)
    }
}
