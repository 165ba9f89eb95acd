//! Help texts beyond the clap definitions (examples, event types, date forms), shell completions and the man page.

use std::fmt::Write as _;
use std::io::Write as _;

use clap::CommandFactory;

use accord::Error;
use accord::model::date::DATE_FORMS;
use accord::model::schema::{COMMON_FIELDS, EVENT_TYPES, Shape};

use super::{Cli, Out, output_failed};

/// Examples by command path (`""` is accord itself), each a command that
/// runs as it is on a ledger holding the bundled ISA log (events/isa.ndjson),
/// from the repository's root; `#` lines say what the next one does. A test
/// runs them all.
const EXAMPLES: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "# Import the bundled log of the International Security Alliance, then ask who were members",
            "accord import events/isa.ndjson",
            "accord members isa --at 2021-01-01",
            "accord history isa --member SGP",
        ],
    ),
    (
        "append",
        &[
            "# Found an org from flags, then admit a member from JSON (the date: some day in 2021, approximately)",
            "accord append --type founding --org demo --date 2020-01 --member AAA --member BBB --name \"Demo Union\"",
            "accord append '{\"type\":\"accession\",\"org\":\"demo\",\"date\":\"2021~\",\"members\":[\"CCC\"],\"source\":\"an example\"}'",
            "# The same event on stdin: already recorded, nothing changes",
            "echo '{\"type\":\"accession\",\"org\":\"demo\",\"date\":\"2021~\",\"members\":[\"CCC\"],\"source\":\"an example\"}' | accord append",
            "# Only if nobody recorded anything since seq 16 (else exit 1, nothing recorded)",
            "accord append --expect-head 16 '{\"type\":\"withdrawal\",\"org\":\"demo\",\"date\":\"2022\",\"members\":[\"CCC\"],\"source\":\"an example\"}'",
        ],
    ),
    (
        "import",
        &[
            "accord import events/isa.ndjson",
            "# A directory, or stdin; events already recorded are skipped",
            "accord import events/",
            "cat events/isa.ndjson | accord import -",
            "# No progress bar, even on a terminal",
            "accord import --quiet events/isa.ndjson",
            "# Only if the log's head is still seq 14 (events already recorded pass)",
            "accord import --expect-head 14 events/isa.ndjson",
        ],
    ),
    ("export", &["accord export -o isa-export.ndjson", "accord export --org isa"]),
    (
        "log",
        &[
            "accord log --org isa",
            "# The last 3 events; Singapore's events; accessions dated in 2020",
            "accord log -n 3",
            "accord log --member SGP --long",
            "accord log --type accession --since 2020-01-01 --until 2020-12-31",
            "accord log --from-seq 10 --json",
            "# A page of the log: the first 2 events from seq 11 on",
            "accord log --from-seq 11 --limit 2",
        ],
    ),
    (
        "show",
        &[
            "# Singapore's accession: by its id, a unique prefix of it, or its seq (all in `accord log`)",
            "accord show 286cea12-c998-4365-90df-e26381d61aa1",
            "accord show 286c",
            "accord show 4",
        ],
    ),
    ("head", &["accord head", "accord head --json"]),
    ("orgs", &["accord orgs", "# As the log stood after its fifth event", "accord orgs --seq 5"]),
    (
        "members",
        &[
            "accord members isa --at 2021-01-01",
            "# As the first news item told it: 2 certain members, 7 uncertain",
            "accord members isa --at 2018-06-01 --seq 5",
            "accord members isa --at 2018-06-01 --json",
        ],
    ),
    ("history", &["accord history isa", "accord history isa --member SVK --json"]),
    ("diff", &["accord diff isa --from 2020-01-01 --to 2023-01-01"]),
    ("spells", &["accord spells isa", "accord spells isa --format json --seq 5"]),
    (
        "panel",
        &[
            "# Every party's COW code on each 31 December, one row per org, party and year",
            "accord panel isa --from 2016 --to 2025",
            "# The IGO-year layout: one column per party; or monthly, as NDJSON",
            "accord panel isa --from 2016 --to 2025 --layout wide",
            "accord panel isa --from 2017 --to 2018 --every month --format json",
        ],
    ),
    ("party", &["accord party ISR --at 2021-01-01", "# Its spells in every org", "accord party SGP --history"]),
    (
        "timeline",
        &["accord timeline isa -o isa.svg", "accord timeline isa --from 2017-01-01 --to 2020-12-31 -o isa-early.svg"],
    ),
    ("audit", &["accord audit verify", "accord audit replay --org isa"]),
    (
        "audit verify",
        &[
            "accord audit verify",
            "# Check an export; check that the log still has the head's hash (keep SEQ:HASH to check later)",
            "accord export -o isa-export.ndjson && accord audit verify --file isa-export.ndjson",
            "accord audit verify --checkpoint \"$(accord head | cut -d' ' -f2 | paste -sd:)\"",
            "# A signed checkpoint: the log still holds the tree it names",
            "accord key generate example.org/isa-ledger -o isa.key > isa.vkey",
            "accord checkpoint --origin example.org/isa-ledger --sign isa.key > checkpoint.txt",
            "accord audit verify --checkpoint checkpoint.txt --key isa.vkey",
        ],
    ),
    ("audit replay", &["accord audit replay", "accord audit replay --org isa --json"]),
    (
        "completions",
        &[
            "mkdir -p ~/.local/share/bash-completion/completions",
            "accord completions bash > ~/.local/share/bash-completion/completions/accord",
            "mkdir -p ~/.config/fish/completions && accord completions fish > ~/.config/fish/completions/accord.fish",
            "# zsh: into a directory of $fpath, named _accord",
            "mkdir -p ~/.zfunc && accord completions zsh > ~/.zfunc/_accord",
        ],
    ),
    ("key", &["accord key generate example.org/isa-ledger -o isa.key", "accord checkpoint --sign isa.key"]),
    (
        "serve",
        &[
            "# Serve on 127.0.0.1:7878 until Ctrl-C; accord commands on this ledger then go through the server",
            "accord serve --listen 127.0.0.1:0 & sleep 1; accord members isa --at 2021-01-01; kill $!; wait $!",
            "# Read-only, or on every address with writes only for the token's holders",
            "accord serve --listen 127.0.0.1:0 --read-only & sleep 1; kill $!; wait $!",
            "echo 's3cret' > token.txt; accord serve --listen 0.0.0.0:0 --token-file token.txt & sleep 1; kill $!; wait $!",
        ],
    ),
    (
        "key generate",
        &[
            "# The private key goes to isa.key (mode 0600); the verifier key is printed, to publish",
            "accord key generate example.org/isa-ledger -o isa.key > isa.vkey",
        ],
    ),
    (
        "checkpoint",
        &[
            "accord checkpoint",
            "# Name the log once, then sign its checkpoint with a key named after it",
            "accord key generate example.org/isa-ledger -o isa.key > isa.vkey",
            "accord checkpoint --origin example.org/isa-ledger --sign isa.key > checkpoint.txt",
        ],
    ),
    ("prove", &["accord prove inclusion 14", "accord prove consistency --from 10"]),
    (
        "prove member",
        &[
            "accord key generate example.org/isa-ledger -o isa.key > isa.vkey",
            "accord checkpoint --origin example.org/isa-ledger > /dev/null",
            "accord prove member isa ISR --at 2021-01-01 --sign isa.key -o isr-2021.json",
            "accord verify-claim isr-2021.json --key isa.vkey",
        ],
    ),
    (
        "verify-claim",
        &[
            "accord key generate example.org/isa-ledger -o isa.key > isa.vkey",
            "accord prove member isa ISR --at 2021-01-01 --sign isa.key -o isr-2021.json",
            "accord verify-claim isr-2021.json --key isa.vkey",
        ],
    ),
    ("prove inclusion", &["accord prove inclusion 14", "accord prove inclusion 14 --size 14 --json > proof.json"]),
    ("prove consistency", &["accord prove consistency --from 10", "accord prove consistency --from 10 --to 14 --json"]),
    (
        "man",
        &["mkdir -p ~/.local/share/man/man1 && accord man > ~/.local/share/man/man1/accord.1", "accord man > accord.1"],
    ),
];

/// The clap command with everything the derive cannot say: each command's
/// examples, and for `append` the event types and date forms.
pub fn command() -> clap::Command {
    let mut cmd = Cli::command();
    for (path, lines) in EXAMPLES {
        let mut text = String::new();
        if *path == "append" {
            text.push_str(&event_types());
            text.push_str(&date_forms());
        }
        text.push_str("Examples:\n");
        for line in *lines {
            let _ = writeln!(text, "  {line}");
        }
        if path.is_empty() {
            text.push_str("\nEach command's help: accord COMMAND --help");
        }
        let path: Vec<&str> = path.split_whitespace().collect();
        set_after_help(&mut cmd, &path, text.trim_end().to_owned());
    }
    cmd
}

/// Sets the after-help text of the command at `path` under `cmd`, if there is one.
fn set_after_help(cmd: &mut clap::Command, path: &[&str], text: String) {
    match path.split_first() {
        None => *cmd = std::mem::take(cmd).after_help(text),
        Some((name, rest)) => {
            if let Some(sub) = cmd.find_subcommand_mut(name) {
                set_after_help(sub, rest, text);
            }
        }
    }
}

/// The event types and their own fields, from the schema's one table.
fn event_types() -> String {
    let common: Vec<&str> = COMMON_FIELDS.iter().copied().filter(|f| !["type", "org", "date"].contains(f)).collect();
    let mut text = String::from("Event types and their own fields (* required):\n");
    let width = EVENT_TYPES.iter().map(|t| t.name.len()).max().unwrap_or(0);
    for t in &EVENT_TYPES {
        let fields: Vec<String> = t
            .own
            .iter()
            .map(|f| match f.shape {
                Shape::Text | Shape::Parties { required: false } => f.name.to_owned(),
                Shape::RequiredText | Shape::Parties { required: true } | Shape::EventId => format!("{}*", f.name),
                Shape::Status { default: None } => format!("{}* (full, associate or observer)", f.name),
                Shape::Status { default: Some(s) } => format!("{} (default {s})", f.name),
            })
            .collect();
        let fields = if fields.is_empty() { "no fields of its own".to_owned() } else { fields.join(", ") };
        let undated = if t.dated { "" } else { "; no date" };
        let _ = writeln!(text, "  {:width$}  {fields}{undated}", t.name);
    }
    let _ = writeln!(
        text,
        "Every event also has `type` and `org`, a `date` unless it is a retraction, and may have {}.\n\
         With flags, --member and --participant give members and participants; details is JSON only.\n",
        common.join(", ")
    );
    text
}

/// The forms of an effective date, from the date module's list.
fn date_forms() -> String {
    let mut text = String::from("Date forms (EDTF, ISO 8601-2), for --date and `date`:\n");
    let form = DATE_FORMS.iter().map(|f| f.form.len()).max().unwrap_or(0);
    let example = DATE_FORMS.iter().map(|f| f.example.len()).max().unwrap_or(0);
    for f in &DATE_FORMS {
        let _ = writeln!(text, "  {:form$}  {:example$}  {}", f.form, f.example, f.meaning);
    }
    text.push('\n');
    text
}

/// `accord completions SHELL`.
pub fn completions(shell: clap_complete::Shell, out: Out<'_>) -> Result<(), Error> {
    // Into memory first: clap_complete panics when a write fails.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command(), "accord", &mut script);
    out.write_all(&script).map_err(output_failed)
}

/// `accord man`: clap_mangen's page of accord (synopsis, description,
/// options), then a section with every command: its synopsis, purpose,
/// options and examples.
pub fn man(out: Out<'_>) -> Result<(), Error> {
    let mut cmd = command().disable_help_subcommand(true);
    cmd.build();
    let mut page = Vec::new();
    let top = clap_mangen::Man::new(cmd.clone());
    top.render_title(&mut page).map_err(output_failed)?;
    top.render_name_section(&mut page).map_err(output_failed)?;
    top.render_synopsis_section(&mut page).map_err(output_failed)?;
    top.render_description_section(&mut page).map_err(output_failed)?;
    top.render_options_section(&mut page).map_err(output_failed)?;
    page.extend_from_slice(b".SH COMMANDS\n");
    for sub in cmd.get_subcommands() {
        command_section(&mut page, sub)?;
    }
    page.extend_from_slice(b".SH EXAMPLES\n");
    after_help(&mut page, &cmd, false);
    page.extend_from_slice(b".SH VERSION\n");
    let _ = writeln!(page, "{}", roff_text(&format!("v{}", env!("CARGO_PKG_VERSION"))));
    out.write_all(&page).map_err(output_failed)
}

/// One command's part of the man page (and its subcommands'): a subsection
/// named by its full name, its synopsis and purpose, its own options (the
/// global ones are in the page's GLOBAL OPTIONS), its examples.
fn command_section(page: &mut Vec<u8>, cmd: &clap::Command) -> Result<(), Error> {
    let name = cmd.get_bin_name().unwrap_or_else(|| cmd.get_name());
    let _ = writeln!(page, ".SS \"{}\"", roff_text(name).replace('"', "\"\""));
    let man = clap_mangen::Man::new(cmd.clone().disable_help_flag(true));
    let mut part = Vec::new();
    man.render_synopsis_section(&mut part).map_err(output_failed)?;
    man.render_description_section(&mut part).map_err(output_failed)?;
    let mut options = Vec::new();
    man.render_options_section(&mut options).map_err(output_failed)?;
    // Sections become paragraphs; the global options are left out.
    let part = String::from_utf8_lossy(&part);
    let options = String::from_utf8_lossy(&options);
    let global = super::GLOBAL.to_uppercase();
    let own = options.lines().take_while(|l| !(l.starts_with(".SH ") && l.contains(&global)));
    for line in part.lines().chain(own) {
        if line.starts_with(".SH ") {
            page.extend_from_slice(b".PP\n");
        } else {
            let _ = writeln!(page, "{line}");
        }
    }
    if cmd.get_after_help().is_some() {
        page.extend_from_slice(b".PP\n");
        after_help(page, cmd, true);
    }
    for sub in cmd.get_subcommands() {
        command_section(page, sub)?;
    }
    Ok(())
}

/// A command's after-help text (its examples), line for line as the help
/// shows it; `heading`: with its `Examples:` line.
fn after_help(page: &mut Vec<u8>, cmd: &clap::Command, heading: bool) {
    let Some(text) = cmd.get_after_help() else { return };
    page.extend_from_slice(b".nf\n");
    for line in text.to_string().lines().filter(|l| heading || *l != "Examples:") {
        let _ = writeln!(page, "{}", roff_text(line));
    }
    page.extend_from_slice(b".fi\n");
}

/// Text as a roff text line shows it: backslashes and minus signs escaped,
/// and a leading `.` or `'` kept from reading as a request.
fn roff_text(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) { format!("\\&{escaped}") } else { escaped }
}
