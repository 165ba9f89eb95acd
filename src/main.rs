//! The `accord` command: parses arguments, runs one command, renders, exits.
//! Everything else lives in the library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
