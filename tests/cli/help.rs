//! Help, suggestions, shell completions and the man page, through the real binary.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::*;

/// Runs accord with no ledger (help, completions and man need none).
fn accord(args: &[&str]) -> Run {
    let mut c = Command::new(BIN);
    c.args(args).env_remove("ACCORD_LEDGER").stdin(Stdio::null());
    Run::from(c.output().expect("run accord"))
}

/// The lines of the section of a help text under `heading` (`Options:`).
fn section<'a>(help: &'a str, heading: &str) -> Vec<&'a str> {
    help.lines().skip_while(|l| *l != heading).skip(1).take_while(|l| !l.is_empty() && l.starts_with(' ')).collect()
}

/// Every command path (`members`, `audit verify`), as the help lists them.
fn commands() -> Vec<String> {
    fn under(path: &str, found: &mut Vec<String>) {
        let mut args: Vec<&str> = path.split_whitespace().collect();
        args.push("--help");
        let help = accord(&args).ok().to_owned();
        for line in section(&help, "Commands:") {
            let name = line.split_whitespace().next().unwrap_or_default();
            if name.is_empty() || name == "help" {
                continue;
            }
            let sub = format!("{path} {name}").trim().to_owned();
            found.push(sub.clone());
            under(&sub, found);
        }
    }
    let mut found = Vec::new();
    under("", &mut found);
    found
}

/// The commands of the Examples section of a help text (comments left out).
fn examples(help: &str) -> Vec<String> {
    section(help, "Examples:").iter().map(|l| l.trim().to_owned()).filter(|l| !l.starts_with('#')).collect()
}

fn help_of(path: &str, flag: &str) -> String {
    let mut args: Vec<&str> = path.split_whitespace().collect();
    args.push(flag);
    accord(&args).ok().to_owned()
}

#[test]
fn the_commands_are_the_ones_people_use() {
    let all = commands();
    for expected in ["append", "import", "members", "audit", "audit verify", "audit replay", "completions", "man"] {
        assert!(all.iter().any(|c| c == expected), "{expected} is not in {all:?}");
    }
}

/// Every command says what it is for, describes each argument and option,
/// keeps the global options under their own heading and shows examples.
#[test]
fn every_command_help_describes_everything_and_has_examples() {
    for path in std::iter::once(String::new()).chain(commands()) {
        // -h: one line per argument, so an undescribed one is a bare name.
        let help = help_of(&path, "-h");
        let purpose = help.lines().next().unwrap_or_default();
        assert!(purpose.split_whitespace().count() >= 3, "`accord {path} -h` has no purpose line: {help}");
        for heading in ["Arguments:", "Options:", "Global options:"] {
            for line in section(&help, heading) {
                let described = line.trim().split_once("  ").is_some_and(|(_, text)| !text.trim().is_empty());
                assert!(described, "`accord {path} -h`: {:?} has no description", line.trim());
            }
        }
        // The long name each entry of a section is for.
        let names = |heading: &str| -> Vec<String> {
            section(&help, heading)
                .iter()
                .filter_map(|l| {
                    l.split_whitespace().find(|w| w.starts_with("--")).map(|w| w.trim_end_matches(',').to_owned())
                })
                .collect()
        };
        let (global, own) = (names("Global options:"), names("Options:"));
        for option in ["--ledger", "--actor", "--wait", "--json", "--quiet"] {
            assert!(
                global.iter().any(|g| g == option),
                "`accord {path} -h`: {option} is not under Global options:\n{help}"
            );
            assert!(
                !own.iter().any(|o| o == option),
                "`accord {path} -h`: {option} is among the command's own options"
            );
        }
        let shown = examples(&help);
        let name = format!("accord {path}").trim().to_owned();
        assert!(shown.iter().any(|e| e.contains(&name)), "`accord {path} -h` has no example of `{name}`: {shown:?}");
    }
}

/// Every example of every command runs, as printed, on a ledger holding the
/// bundled ISA log, from a copy of the repository's events/.
#[test]
fn every_example_runs_on_the_isa_log() {
    let bin_dir = Path::new(BIN).parent().expect("bin dir");
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    for command in std::iter::once(String::new()).chain(commands()) {
        let work = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(work.path().join("events")).expect("events dir");
        std::fs::copy(isa_log(), work.path().join("events/isa.ndjson")).expect("copy the ISA log");
        let ledger = work.path().join("ledger");
        let imported = accord(&["--ledger", s(&ledger), "import", s(&isa_log())]);
        imported.ok();
        for example in examples(&help_of(&command, "--help")) {
            let run = Command::new("bash")
                .args(["-e", "-o", "pipefail", "-c", &example])
                .current_dir(work.path())
                .env("PATH", &path)
                .env("HOME", work.path())
                .env("ACCORD_LEDGER", &ledger)
                .env("ACCORD_ACTOR", "tester")
                .stdin(Stdio::null())
                .output()
                .expect("run bash");
            let run = Run::from(run);
            assert_eq!(run.code, 0, "`accord {command} --help` example `{example}` failed: {}", run.stderr);
        }
    }
}

/// `append --help` lists the event types (each one accord accepts) and the
/// date forms (each example one accord accepts as a date).
/// Every way of asking for help gets the examples: `-h` among other short
/// flags, `--help` after the arguments, the `help` command.
#[test]
fn every_way_of_asking_for_help_shows_the_examples() {
    for args in [
        &["-qh"][..],
        &["members", "-qh"],
        &["members", "isa", "--at", "2021-01-01", "--help"],
        &["help", "members"],
        &["audit", "help", "verify"],
    ] {
        let help = accord(args).ok().to_owned();
        assert!(!examples(&help).is_empty(), "`accord {}` shows no examples:\n{help}", args.join(" "));
    }
    // And a command that does not ask for it still runs.
    let dir = tempfile::tempdir().expect("temp dir");
    let ledger = dir.path().join("ledger");
    accord(&["--ledger", s(&ledger), "import", s(&isa_log())]).ok();
    let members = accord(&["--ledger", s(&ledger), "members", "isa", "--at", "2021-01-01", "--json"]).ok().to_owned();
    assert!(members.contains("\"count\":10"), "{members}");
}

#[test]
fn append_help_lists_the_event_types_and_the_date_forms() {
    let help = help_of("append", "--help");
    let types: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Event types"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    // SPEC §3's types, written here independently of the schema table.
    let spec = [
        "founding",
        "launch",
        "exercise",
        "accession",
        "status_change",
        "suspension",
        "reinstatement",
        "withdrawal",
        "expulsion",
        "dissolution",
        "retraction",
    ];
    assert_eq!(types, spec, "{help}");
    let dates: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Date forms"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_owned))
        .collect();
    for must in ["2019", "2017-02", "2020-12-09"] {
        assert!(dates.iter().any(|d| d == must), "{must} is not among the date examples {dates:?}");
    }
    for qualifier in ['?', '~', '%', '/'] {
        assert!(dates.iter().any(|d| d.contains(qualifier)), "no date form with {qualifier}: {dates:?}");
    }
    let l = Ledger::new();
    for (i, date) in dates.iter().enumerate() {
        let org = format!("d{i}");
        let run = l.run(&["append", "--type", "founding", "--org", &org, "--date", date, "--member", "A"]);
        assert_eq!(run.code, 0, "the listed date {date} is refused: {}", run.stderr);
    }
}

#[test]
fn a_mistyped_command_or_option_gets_a_suggestion_and_the_commands_help() {
    let typo = accord(&["memebrs", "isa"]);
    let msg = typo.fails(2);
    assert!(msg.contains("did you mean 'members'"), "{msg}");
    assert!(msg.contains("see `accord --help`"), "{msg}");

    let l = Ledger::new();
    let msg = l.run(&["members", "isa", "--att", "2021-01-01"]).fails(2).to_owned();
    assert!(msg.contains("did you mean '--at'"), "{msg}");
    assert!(msg.ends_with("see `accord members --help`"), "{msg}");

    let msg = l.run(&["audit", "verify", "--chekpoint", "1:ab"]).fails(2).to_owned();
    assert!(msg.contains("did you mean '--checkpoint'"), "{msg}");
    assert!(msg.ends_with("see `accord audit verify --help`"), "{msg}");

    // Nothing similar: no suggestion, and still the command's help.
    let msg = l.run(&["diff", "isa", "--zzz"]).fails(2).to_owned();
    assert!(!msg.contains("did you mean"), "{msg}");
    assert!(msg.ends_with("see `accord diff --help`"), "{msg}");
}

#[test]
fn a_mistyped_event_field_gets_a_suggestion() {
    let l = Ledger::new();
    let event = r#"{"type":"founding","org":"isa","date":"2017-02","members":["ARE"],"sorce":"x"}"#;
    let msg = l.run(&["append", event]).fails(1).to_owned();
    assert!(msg.ends_with("is not a field of a founding event: did you mean `source`?"), "{msg}");
    let msg = l.import_text(&format!("{event}\n")).fails(1).to_owned();
    assert!(msg.ends_with("did you mean `source`?"), "{msg}");
    // A field near none: the refusal as it was.
    let far = r#"{"type":"founding","org":"isa","date":"2017-02","members":["ARE"],"colour":"x"}"#;
    let msg = l.run(&["append", far]).fails(1).to_owned();
    assert!(msg.ends_with("`colour` is not a field of a founding event"), "{msg}");
}

/// A tool the tests use when it is there: a loud notice when it is not,
/// never a failure (only bash must be on CI's machine).
fn optional_tool(program: &str, version_flag: &str, what: &str) -> bool {
    let runs = Command::new(program)
        .arg(version_flag)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !runs {
        let notice = format!("\n*** SKIPPED: {program} is not installed; {what} is not checked ***\n");
        let _ = std::io::stderr().write_all(notice.as_bytes());
    }
    runs
}

fn script(shell: &str, dir: &Path) -> std::path::PathBuf {
    let run = accord(&["completions", shell]);
    let text = run.ok();
    assert!(text.contains("accord"), "the {shell} script does not name accord");
    let file = dir.join(format!("accord.{shell}"));
    std::fs::write(&file, text).expect("write script");
    file
}

#[test]
fn the_bash_completion_script_completes_commands_and_options() {
    assert!(tool_available("bash"));
    let dir = tempfile::tempdir().expect("temp dir");
    let file = script("bash", dir.path());
    let check = Command::new("bash").arg("-n").arg(&file).output().expect("bash -n");
    assert!(check.status.success(), "bash -n: {}", String::from_utf8_lossy(&check.stderr));
    // Sourced, it registers a completion for accord, which completes
    // `accord memb` to members and `accord members isa --a` to --at and --actor.
    let probe = r#"source "$1" && complete -p accord
COMP_WORDS=(accord memb); COMP_CWORD=1; COMP_LINE="accord memb"; COMP_POINT=${#COMP_LINE}
_accord accord memb accord; echo "words: ${COMPREPLY[*]}"
COMP_WORDS=(accord members isa --a); COMP_CWORD=3; COMP_LINE="accord members isa --a"; COMP_POINT=${#COMP_LINE}
_accord accord --a isa; echo "options: ${COMPREPLY[*]}""#;
    let run = Run::from(Command::new("bash").args(["-c", probe, "probe"]).arg(&file).output().expect("bash"));
    let out = run.ok();
    assert!(out.lines().next().is_some_and(|l| l.starts_with("complete ") && l.ends_with(" accord")), "{out}");
    let words = out.lines().find_map(|l| l.strip_prefix("words: ")).unwrap_or_default();
    assert_eq!(words.split_whitespace().collect::<Vec<_>>(), ["members"], "{out}");
    let options: Vec<&str> =
        out.lines().find_map(|l| l.strip_prefix("options: ")).unwrap_or_default().split_whitespace().collect();
    assert!(options.contains(&"--at") && options.contains(&"--actor"), "{out}");
}

#[test]
fn the_other_completion_scripts_are_accepted_by_their_shells() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Each script is made, whatever is installed.
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        script(shell, dir.path());
    }
    // zsh and fish are Debian packages that CI installs: required there.
    // PowerShell is not packaged by Debian: checked where it is installed.
    if tool_available("zsh") {
        let file = script("zsh", dir.path());
        let run = Run::from(Command::new("zsh").arg("-n").arg(&file).output().expect("zsh"));
        assert_eq!(run.code, 0, "zsh -n: {}", run.stderr);
    }
    if tool_available("fish") {
        let file = script("fish", dir.path());
        let run = Run::from(Command::new("fish").arg("--no-execute").arg(&file).output().expect("fish"));
        assert_eq!(run.code, 0, "fish --no-execute: {}", run.stderr);
        // Sourced, it completes `accord memb` to members.
        let probe = format!("source '{}'; complete -C 'accord memb'", file.display());
        let run = Run::from(Command::new("fish").args(["--no-config", "-c", &probe]).output().expect("fish"));
        let first = run.ok().lines().next().unwrap_or_default();
        assert_eq!(first.split('\t').next(), Some("members"), "{}", run.stdout);
    }
    if optional_tool("pwsh", "--version", "the PowerShell completion script") {
        let file = script("powershell", dir.path());
        let parse = format!(
            "$e = $null; [void][System.Management.Automation.Language.Parser]::ParseFile('{}', [ref]$null, [ref]$e); exit $e.Count",
            file.display()
        );
        let run = Run::from(Command::new("pwsh").args(["-NoProfile", "-Command", &parse]).output().expect("pwsh"));
        assert_eq!(run.code, 0, "pwsh parse errors: {}", run.stderr);
    }
}

/// The man page renders without a warning and has a part for every command.
#[test]
fn the_man_page_renders_and_names_every_command() {
    let page = accord(&["man"]).ok().to_owned();
    assert!(page.lines().any(|l| l.starts_with(".TH accord 1")), "not a roff man page: {page}");
    if !tool_available("groff") {
        return;
    }
    let render = |args: &[&str]| {
        let mut child = Command::new("groff")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("groff");
        child.stdin.take().expect("stdin").write_all(page.as_bytes()).expect("write page");
        Run::from(child.wait_with_output().expect("groff"))
    };
    let run = render(&["-man", "-Tutf8", "-ww", "-P", "-cbou"]);
    assert_eq!(run.code, 0, "groff failed: {}", run.stderr);
    assert_eq!(run.stderr, "", "groff warns");
    let text = run.stdout;
    for heading in ["NAME", "SYNOPSIS", "GLOBAL OPTIONS", "COMMANDS", "EXAMPLES"] {
        assert!(text.lines().any(|l| l == heading), "no {heading} section:\n{text}");
    }
    for command in commands() {
        let name = format!("accord {command}");
        assert!(text.lines().any(|l| l.trim() == name), "no part for `{name}`:\n{text}");
    }
    // Every option of a command is in its part, with its description
    // (words as groff spaces them to justify a line: how depends on the
    // lines before).
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("--supersedes <ID>"), "{text}");
    assert!(words.contains("The id of the event this one corrects"), "{text}");

    if optional_tool("man", "--version", "the man page through `man -l`") {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("accord.1");
        std::fs::write(&file, &page).expect("write page");
        let run = Command::new("man")
            .args(["--warnings", "-l"])
            .arg(&file)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .output()
            .expect("man");
        let run = Run::from(run);
        assert_eq!(run.code, 0, "man -l failed: {}", run.stderr);
        assert_eq!(run.stderr, "", "man -l warns");
        assert!(run.stdout.contains("accord members"), "{}", run.stdout);
    }
}
