//! Progress bars and the notice of a wait for a held ledger: drawn on a real
//! pseudo-terminal (util-linux `script`), and nothing extra on a pipe, with
//! `--quiet` or `--json`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// Events in the generated log: enough for a few blocks and orgs.
const EVENTS: usize = 3000;
/// How [`EVENTS`] shows on a bar.
const EVENTS_SHOWN: &str = "/3,000 events, ";

/// What erases a line of the terminal: a bar is cleared with it.
const CLEAR_LINE: &str = "\x1b[2K";

const WAITING: &str = "waiting for the ledger held by another accord process, up to";

/// `text` quoted for sh.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// `script` running `accord --ledger DIR ARGS` and then `tail` (`> FILE`)
/// in a pseudo-terminal 100 columns wide: stdin, stdout and stderr are the
/// terminal, and `script` prints what it showed.
fn script_command(dir: &Path, args: &[&str], tail: &str, term: &str) -> Command {
    let mut line = format!("stty cols 100 rows 30; exec {} --ledger {}", quoted(BIN), quoted(s(dir)));
    for arg in args {
        line.push(' ');
        line.push_str(&quoted(arg));
    }
    line.push_str(tail);
    let mut c = Command::new("script");
    c.args(["-qec", &line, "/dev/null"]).env("TERM", term).env_remove("ACCORD_LEDGER").env("ACCORD_ACTOR", "tester");
    c
}

/// What a terminal showed of one command, and its exit code.
struct Screen {
    code: i32,
    text: String,
}

impl Screen {
    /// What the terminal shows once the bar is cleared: the text after the
    /// last line erase, lines ending as a program wrote them.
    fn after_bar(&self) -> String {
        self.text.rsplit(CLEAR_LINE).next().unwrap_or_default().replace("\r\n", "\n")
    }

    /// The text with `\r\n` read as `\n`: what the command wrote, if it
    /// wrote nothing that moves the cursor.
    fn plain(&self) -> String {
        self.text.replace("\r\n", "\n")
    }

    #[track_caller]
    fn ok(&self) -> &Screen {
        assert_eq!(self.code, 0, "expected success on the terminal, got {}: {:?}", self.code, self.text);
        self
    }
}

/// Runs `accord --ledger DIR ARGS` (then `tail`) on a terminal whose `TERM` is `term`.
fn on_terminal_as(term: &str, dir: &Path, args: &[&str], tail: &str) -> Screen {
    let what = format!("accord {} on a terminal", args.join(" "));
    let r = run_timeout(script_command(dir, args, tail, term), &what);
    Screen { code: r.code, text: r.stdout }
}

fn on_terminal(dir: &Path, args: &[&str], tail: &str) -> Screen {
    on_terminal_as("xterm", dir, args, tail)
}

/// Runs `accord --ledger DIR ARGS` with stdout and stderr piped.
fn piped(dir: &Path, args: &[&str]) -> Run {
    accord_at(dir, args, &format!("accord {}", args.join(" ")))
}

/// No byte that a terminal would read as a cursor move or a control.
#[track_caller]
fn no_control_bytes(what: &str, text: &str) {
    let control = text.chars().find(|c| c.is_control() && *c != '\n');
    assert!(control.is_none(), "{what}: {control:?} written: {text:?}");
}

/// A ledger dir holding the generated log, and the log's file.
fn generated(work: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let file = work.join("events.ndjson");
    std::fs::write(&file, synthetic(EVENTS, 10)).expect("write the log");
    let dir = work.join("ledger");
    piped(&dir, &["import", s(&file)]).ok();
    (dir, file)
}

/// On a terminal, import, export -o, audit verify (of the ledger and of a
/// file) and audit replay to a file draw their bar (what, done/all, rate,
/// time left), then clear it: what the command prints after is as on a pipe.
#[test]
fn long_commands_draw_a_bar_on_a_terminal_then_clear_it() {
    if !tool_available("script") {
        return;
    }
    let work = tempfile::tempdir().expect("temp dir");
    let (dir, file) = generated(work.path());

    // import: bytes of the file, then the events read from it.
    let fresh = work.path().join("fresh");
    let screen = on_terminal(&fresh, &["import", s(&file)], "");
    screen.ok();
    let size = std::fs::metadata(&file).expect("size").len();
    assert!(size > 100_000, "the log is too small to say much: {size} bytes");
    assert!(screen.text.contains("importing 0 B/"), "no import bar: {:?}", screen.text);
    assert!(screen.text.contains(" B/s, ETA "), "no rate and time left: {:?}", screen.text);
    assert!(screen.text.contains(CLEAR_LINE), "the bar was not cleared: {:?}", screen.text);
    let head = piped(&fresh, &["head", "--json"]).json();
    assert_eq!(head["seq"], EVENTS);
    let hash = head["hash"].as_str().expect("hash");
    assert_eq!(
        screen.after_bar(),
        format!("recorded {EVENTS} events (0 already recorded); head is seq {EVENTS} {hash}\n")
    );

    // audit verify: the log's events.
    let screen = on_terminal(&dir, &["audit", "verify"], "");
    screen.ok();
    assert!(screen.text.contains(&format!("verifying 0{EVENTS_SHOWN}0/s, ETA ")), "no verify bar: {:?}", screen.text);
    assert_eq!(screen.after_bar(), piped(&dir, &["audit", "verify"]).ok());

    // export -o: the same events, and the same file as on a pipe.
    let (on_tty, on_pipe) = (work.path().join("tty.ndjson"), work.path().join("pipe.ndjson"));
    let screen = on_terminal(&dir, &["export", "-o", s(&on_tty)], "");
    screen.ok();
    assert!(screen.text.contains(&format!("exporting 0{EVENTS_SHOWN}")), "no export bar: {:?}", screen.text);
    assert_eq!(screen.after_bar(), "", "export -o printed more than its bar");
    assert_eq!(piped(&dir, &["export", "-o", s(&on_pipe)]).ok(), "");
    assert_eq!(std::fs::read(&on_tty).expect("tty export"), std::fs::read(&on_pipe).expect("pipe export"));

    // audit verify --file: the bytes of the export.
    let screen = on_terminal(&dir, &["audit", "verify", "--file", s(&on_tty)], "");
    screen.ok();
    assert!(screen.text.contains("verifying 0 B/"), "no bar for --file: {:?}", screen.text);
    assert_eq!(screen.after_bar(), piped(&dir, &["audit", "verify", "--file", s(&on_tty)]).ok());

    // audit replay with its output in a file: the bar on the terminal, the
    // file as on a pipe.
    let replayed = work.path().join("replay.txt");
    let screen = on_terminal(&dir, &["audit", "replay"], &format!(" > {}", quoted(s(&replayed))));
    screen.ok();
    assert!(screen.text.contains(&format!("replaying 0{EVENTS_SHOWN}")), "no replay bar: {:?}", screen.text);
    assert_eq!(screen.after_bar(), "");
    let replay = piped(&dir, &["audit", "replay"]);
    assert_eq!(std::fs::read_to_string(&replayed).expect("replay file"), replay.ok());

    // audit replay on the terminal: its lines are the progress; no bar among them.
    let screen = on_terminal(&dir, &["audit", "replay", "--org", "syn-3"], "");
    screen.ok();
    assert_eq!(screen.plain(), piped(&dir, &["audit", "replay", "--org", "syn-3"]).ok());
}

/// On a pipe, these commands write on stderr what they wrote before there
/// were bars: nothing, for a success; and no control byte anywhere.
#[test]
fn on_a_pipe_nothing_extra_is_written() {
    let work = tempfile::tempdir().expect("temp dir");
    let (dir, file) = generated(work.path());
    let export = work.path().join("x.ndjson");
    let commands: Vec<Vec<&str>> = vec![
        vec!["import", s(&file)],
        vec!["audit", "verify"],
        vec!["export", "-o", s(&export)],
        vec!["audit", "verify", "--file", s(&export)],
        vec!["audit", "replay"],
        vec!["--json", "audit", "verify"],
    ];
    for args in &commands {
        let r = piped(&dir, args);
        r.ok();
        assert_eq!(r.stderr, "", "accord {args:?} wrote on stderr");
        no_control_bytes(&format!("stdout of accord {args:?}"), &r.stdout);
    }
    // A refusal is one line, as before.
    let r = piped(&work.path().join("none"), &["audit", "verify"]);
    assert_eq!(r.stderr.lines().count(), 1, "{:?}", r.stderr);
    no_control_bytes("a refusal", &r.stderr);
}

/// With `--quiet` or `--json`, or on a terminal that cannot move its cursor
/// (`TERM=dumb`), a terminal shows exactly what a pipe gets.
#[test]
fn quiet_json_or_a_dumb_terminal_show_no_bar() {
    if !tool_available("script") {
        return;
    }
    let work = tempfile::tempdir().expect("temp dir");
    let (dir, file) = generated(work.path());
    let export = work.path().join("x.ndjson");
    let commands: Vec<Vec<&str>> = vec![
        vec!["import", s(&file)],
        vec!["audit", "verify"],
        vec!["export", "-o", s(&export)],
        vec!["audit", "verify", "--file", s(&export)],
    ];
    for args in &commands {
        let on_pipe = piped(&dir, args);
        for extra in [&["--quiet"][..], &["-q"], &["--json"]] {
            let all: Vec<&str> = extra.iter().chain(args.iter()).copied().collect();
            let screen = on_terminal(&dir, &all, "");
            screen.ok();
            let expected =
                if extra == ["--json"] { piped(&dir, &all).ok().to_owned() } else { on_pipe.ok().to_owned() };
            assert_eq!(screen.plain(), expected, "accord {all:?} on a terminal");
        }
        let screen = on_terminal_as("dumb", &dir, args, "");
        screen.ok();
        assert_eq!(screen.plain(), on_pipe.ok(), "accord {args:?} on a dumb terminal");
    }
    // replay, its output in a file, with --quiet: the terminal shows nothing.
    let replayed = work.path().join("replay.txt");
    let screen = on_terminal(&dir, &["--quiet", "audit", "replay"], &format!(" > {}", quoted(s(&replayed))));
    assert_eq!(screen.ok().text, "");
}

/// A command that finds the ledger held says once, on a terminal, that it
/// waits and for how long; then answers, or gives up with exit 4. On a pipe,
/// with `--quiet` or `--json`, or with `--wait 0`, it does not say so.
#[test]
fn a_command_waiting_for_a_held_ledger_says_so_once_on_a_terminal() {
    if !tool_available("script") {
        return;
    }
    let l = Ledger::new();
    l.append(r#"{"type":"founding","org":"x","date":"2000","members":["F"]}"#);
    let mut holder = hold(&l);
    let dir = l.path();

    let screen = on_terminal(&dir, &["--wait", "1", "head"], "");
    assert_eq!(screen.code, 4, "{:?}", screen.text);
    let lines: Vec<&str> = screen.text.lines().collect();
    assert_eq!(lines.len(), 2, "{:?}", screen.text);
    assert_eq!(lines[0], format!("{WAITING} 1 s…"));
    assert!(lines[1].starts_with("accord: the ledger at ") && lines[1].contains("held by another"), "{lines:?}");
    assert_eq!(screen.text.matches(WAITING).count(), 1);

    let quiet = |args: &[&str]| {
        let screen = on_terminal(&dir, args, "");
        assert_eq!(screen.code, 4, "{:?}", screen.text);
        assert!(!screen.text.contains(WAITING), "accord {args:?}: {:?}", screen.text);
        assert_eq!(screen.text.lines().count(), 1, "accord {args:?}: {:?}", screen.text);
    };
    quiet(&["--wait", "0.5", "--quiet", "head"]);
    quiet(&["--wait", "0.5", "--json", "head"]);
    quiet(&["--wait", "0", "head"]);
    let r = l.run(&["--wait", "0.5", "head"]);
    assert!(!r.fails(4).contains(WAITING));

    // A command that gets the ledger once it is released: the notice, then its answer.
    let shown = tempfile::NamedTempFile::new().expect("temp file");
    let mut waiter = script_command(&dir, &["--wait", "60", "orgs"], "", "xterm")
        .stdin(Stdio::null())
        .stdout(shown.reopen().expect("reopen"))
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn script");
    let deadline = Instant::now() + TIMEOUT;
    while !std::fs::read_to_string(shown.path()).expect("read").contains(WAITING) {
        assert!(Instant::now() < deadline, "no waiting notice: {:?}", std::fs::read_to_string(shown.path()));
        assert!(waiter.try_wait().expect("try_wait").is_none(), "the waiter did not wait");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(holder.stdin.take());
    let held = Run::from(holder.wait_with_output().expect("wait for the holder"));
    held.ok();
    let status = waiter.wait().expect("wait for script");
    let text = std::fs::read_to_string(shown.path()).expect("read");
    assert_eq!(status.code(), Some(0), "{text:?}");
    assert_eq!(text.matches(WAITING).count(), 1, "{text:?}");
    let (notice, answer) = text.split_once('\n').expect("two parts");
    assert_eq!(notice, format!("{WAITING} 60 s…\r"));
    assert_eq!(answer.replace("\r\n", "\n"), l.run(&["orgs"]).ok());
}
