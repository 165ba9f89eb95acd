//! Progress on stderr for long work, and the notice of a wait for a held ledger: only on a terminal.

use std::io::{IsTerminal, Read};
use std::time::Duration;

use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use accord::ledger::Progress;

use super::Context;

/// How often the bar is redrawn while nothing reports (the commit at the end
/// of an import, the index check at the end of a verification).
const TICK: Duration = Duration::from_millis(100);

/// A bar over the log's events: what, done/all, rate (`{rate}`: events a second), time left, the bar.
const EVENTS: &str = "{prefix} {human_pos}/{human_len} events, {rate}, ETA {eta} [{wide_bar}]";
/// A bar over the bytes of files, with the events read from them (`{msg}`).
const BYTES: &str = "{prefix} {bytes}/{total_bytes}{msg}, {bytes_per_sec}, ETA {eta} [{wide_bar}]";
/// Bytes when their total is unknown (stdin).
const BYTES_UNKNOWN: &str = "{spinner} {prefix} {bytes}{msg}, {bytes_per_sec}";

/// Whether the command may show progress and notices on stderr: stderr is
/// a terminal, and neither `--json` nor `--quiet` was given. Nothing extra
/// is written otherwise, so that a pipe or a file gets the same bytes.
/// (indicatif itself draws no bar on a terminal whose `TERM` is unset or
/// `dumb`, which cannot erase a line.)
fn shown(ctx: &Context) -> bool {
    !ctx.json && !ctx.quiet && std::io::stderr().is_terminal()
}

/// The hook the ledger calls once before it waits for a ledger held by
/// another process (`Options::on_wait`), when [`shown`].
pub fn on_wait(ctx: &Context) -> Option<fn(Duration)> {
    if shown(ctx) { Some(say_waiting) } else { None }
}

fn say_waiting(wait: Duration) {
    eprintln!("waiting for the ledger held by another accord process, up to {} s…", wait.as_secs_f64());
}

/// A progress bar on stderr, or nothing when progress is not [`shown`].
/// Dropped (the command done, failed or interrupted), it is cleared, so what
/// the command prints after it is as without it.
pub struct Bar(Option<ProgressBar>);

impl Bar {
    /// A bar over the events of a pass through the log (`what`: verifying…),
    /// drawn once its total comes ([`Progress::total`]).
    pub fn events(ctx: &Context, what: &'static str) -> Bar {
        Bar::new(ctx, what, None, EVENTS)
    }

    /// [`Bar::events`], for a command that writes its data to stdout: not
    /// drawn when stdout is the same terminal, where the data is the progress.
    pub fn events_beside_output(ctx: &Context, what: &'static str) -> Bar {
        if std::io::stdout().is_terminal() { Bar(None) } else { Bar::events(ctx, what) }
    }

    /// A bar over the bytes of files read, `total` of them if known. Not
    /// drawn when they are read from stdin and stdin is the terminal: the
    /// bar would be drawn over what is typed.
    pub fn bytes(ctx: &Context, what: &'static str, total: Option<u64>, reads_stdin: bool) -> Bar {
        if reads_stdin && std::io::stdin().is_terminal() {
            return Bar(None);
        }
        let bar = Bar::new(ctx, what, total, if total.is_some() { BYTES } else { BYTES_UNKNOWN });
        bar.start();
        bar
    }

    fn new(ctx: &Context, what: &'static str, total: Option<u64>, template: &str) -> Bar {
        if !shown(ctx) {
            return Bar(None);
        }
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}/s", HumanCount(state.per_sec() as u64));
            })
            .progress_chars("=> ");
        Bar(Some(
            ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr()).with_style(style).with_prefix(what),
        ))
    }

    /// Draws the bar at once, then on a steady tick, so that it shows and
    /// moves even while no batch is reported.
    fn start(&self) {
        if let Some(bar) = &self.0 {
            bar.force_draw();
            bar.enable_steady_tick(TICK);
        }
    }

    /// The text after the count (`, 12345 events` for an import), made only if the bar is drawn.
    pub fn message(&self, text: impl FnOnce() -> String) {
        if let Some(bar) = &self.0 {
            bar.set_message(text());
        }
    }

    /// A reader that counts what is read from `inner` on this bar.
    pub fn reader<R: Read>(&self, inner: R) -> Counted<R> {
        Counted { inner, bar: self.0.clone() }
    }
}

impl Progress for Bar {
    fn total(&self, total: u64) {
        if let Some(bar) = &self.0 {
            bar.set_length(total);
        }
        self.start();
    }

    fn done(&self, done: u64) {
        if let Some(bar) = &self.0 {
            bar.set_position(done);
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// A reader whose bytes are counted on a [`Bar`] as they are read.
pub struct Counted<R> {
    inner: R,
    bar: Option<ProgressBar>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(bar) = &self.bar {
            bar.inc(n as u64);
        }
        Ok(n)
    }
}
