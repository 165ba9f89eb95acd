//! The `accord` command: parses arguments, runs one command, renders, exits.
//! Everything else lives in the library.

mod cli;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}

/// mimalloc's options, set before it starts (ELF, so Linux only).
#[cfg(target_os = "linux")]
mod allocator {
    // mimalloc's options, by their numbers in `mi_option_t` of the mimalloc v3
    // that libmimalloc-sys 0.1.49 builds (c_src/mimalloc/v3/include/mimalloc.h).
    const MI_OPTION_ARENA_EAGER_COMMIT: std::ffi::c_int = 4;
    const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

    unsafe extern "C" {
        fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    }

    /// Arenas are committed as they are used, and freed memory goes back to
    /// the system within 10 ms: an import's peak RSS at 1M events is then
    /// what it was with glibc's malloc, not 65 MB more. Within 100 ms, it
    /// was 250–258 MB against the 256 MB goal; within 10 ms, 245–247 MB,
    /// the import about 5% slower (two runs each of 1M, `/usr/bin/time`);
    /// at once, 242–244 MB and up to 8% slower. Arenas take the
    /// option when they are made, so it is set before mimalloc starts: an ELF
    /// constructor of priority 100 runs before mimalloc's own (101).
    #[used]
    #[unsafe(link_section = ".init_array.00100")]
    static TUNE_ALLOCATOR: extern "C" fn() = tune_allocator;

    extern "C" fn tune_allocator() {
        // SAFETY: sets two of mimalloc's options to valid values; nothing else
        // runs yet.
        unsafe {
            mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
            mi_option_set(MI_OPTION_PURGE_DELAY, 10);
        }
    }
}
