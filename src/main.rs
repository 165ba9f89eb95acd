//! The `accord` command: parses arguments, runs one command, renders, exits.
//! Everything else lives in the library.

mod cli;

#[global_allocator]
static ALLOCATOR: allocator::Chosen = allocator::Chosen;

fn main() -> std::process::ExitCode {
    cli::main()
}

/// The process's allocator: mimalloc for the commands that go through a
/// whole log or serve many requests, glibc's malloc for the rest, chosen
/// once from the command line before anything is allocated.
///
/// mimalloc makes an import of 1M events take 25 s instead of 35 s (a
/// quarter of it was malloc and free) and `audit verify` about 10% faster.
/// A one-shot query is the other way round: `members` on the 1M-event
/// ledger took 18.2 ms with mimalloc and 16.3 ms with glibc's malloc
/// (median of 81 runs each, interleaved), the difference being mimalloc's
/// fresh arena pages, each touched once in a process that ends a moment later.
mod allocator {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicBool, Ordering};

    use mimalloc::MiMalloc;

    /// The commands that read or write a whole log, or serve: any of these
    /// words among the arguments picks mimalloc. An org or a file that
    /// happens to be named so picks it too, which changes only the speed.
    const BULK: [&[u8]; 4] = [b"import", b"export", b"audit", b"serve"];

    /// Whether mimalloc allocates: set before the first allocation (see
    /// `choose`), never changed after, so each block is freed by the
    /// allocator that made it.
    static MIMALLOC: AtomicBool = AtomicBool::new(true);

    pub struct Chosen;

    // SAFETY: each call goes to the allocator that `MIMALLOC` names, the same
    // for the whole process, with the caller's layout and pointer as given.
    unsafe impl GlobalAlloc for Chosen {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: the caller's contract, passed on.
            unsafe { if mimalloc() { MiMalloc.alloc(layout) } else { System.alloc(layout) } }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: the caller's contract, passed on.
            unsafe { if mimalloc() { MiMalloc.alloc_zeroed(layout) } else { System.alloc_zeroed(layout) } }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: the caller's contract; `ptr` came from the same allocator.
            unsafe { if mimalloc() { MiMalloc.dealloc(ptr, layout) } else { System.dealloc(ptr, layout) } }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: the caller's contract; `ptr` came from the same allocator.
            unsafe {
                if mimalloc() { MiMalloc.realloc(ptr, layout, new_size) } else { System.realloc(ptr, layout, new_size) }
            }
        }
    }

    fn mimalloc() -> bool {
        MIMALLOC.load(Ordering::Relaxed)
    }

    /// The choice, made on Linux with glibc (elsewhere mimalloc allocates).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    mod choose {
        use std::ffi::{CStr, c_char, c_int, c_long};
        use std::sync::atomic::Ordering;

        use super::{BULK, MIMALLOC};

        // mimalloc's options, by their numbers in `mi_option_t` of the mimalloc v3
        // that libmimalloc-sys 0.1.49 builds (c_src/mimalloc/v3/include/mimalloc.h).
        const MI_OPTION_ARENA_EAGER_COMMIT: c_int = 4;
        const MI_OPTION_PURGE_DELAY: c_int = 15;

        unsafe extern "C" {
            fn mi_option_set(option: c_int, value: c_long);
            /// What mimalloc's own ELF constructor calls (src/prim/prim.c):
            /// starts mimalloc, and lets it read its environment and give
            /// memory back (until then it takes itself for preloading).
            fn _mi_auto_process_init();
        }

        /// Runs before anything of Rust's and before mimalloc starts: an ELF
        /// constructor of priority 100 runs before `main` and before
        /// mimalloc's own, where it has one (101 when built with clang, the
        /// default 65535 with gcc).
        ///
        /// .cargo/config.toml builds mimalloc without that constructor
        /// (`MI_PRIM_HAS_PROCESS_ATTACH`), and this one starts mimalloc for
        /// the commands that allocate with it. In every other process it
        /// started all the same (options read from the environment, the
        /// system's settings from /proc and /sys, a 2.3 MB map): `accord
        /// --version` took 2.93 and 2.89 ms with it, 2.43 and 2.35 without
        /// (two sets of 101 interleaved runs, medians), 3.03 against 2.67
        /// (201). `members` on a 1M-event ledger: 15.44 and 15.09 ms against
        /// 14.91 and 14.92 (101 runs each), but in a slower hour 18.54
        /// against 18.92 (301), within what two builds of the same code
        /// differed by there; 7 to 9 fewer page faults. Built
        /// without the define (a `CFLAGS_<target>` of one's own wins over
        /// the config's), mimalloc's constructor starts it in every process,
        /// as before, and in a bulk command a second time, which does nothing
        /// it did not do the first time.
        #[used]
        #[unsafe(link_section = ".init_array.00100")]
        static CHOOSE: extern "C" fn(c_int, *const *const c_char) = choose;

        /// Picks the allocator from the command line, which glibc hands to each
        /// constructor, and tunes mimalloc.
        ///
        /// Arenas are committed as they are used, and freed memory goes back to
        /// the system within 10 ms: an import's peak RSS at 1M events is then
        /// what it was with glibc's malloc, not 65 MB more. Within 100 ms, it
        /// was 250–258 MB against the 256 MB goal; within 10 ms, 245–247 MB,
        /// the import about 5% slower (two runs each of 1M, `/usr/bin/time`);
        /// at once, 242–244 MB and up to 8% slower. Arenas take the option
        /// when they are made, so it is set before mimalloc starts.
        ///
        /// `audit` (any argument so spelled, as for `BULK`) gives nothing
        /// back until it ends: its memory is what its checks keep (each
        /// org's parties, the stored rosters) and the blocks in flight
        /// between its threads, bounded by the ledger's orgs and members.
        /// Given back within 10 ms, 418 MiB went back in a verify of the
        /// bench's 1M-event ledger (2,825 `madvise` calls), to be faulted
        /// in and zeroed again: 108–113k page faults, system
        /// time 0.33–0.39 s, wall 1.85–1.89 s; kept, 90–91k, 0.29–0.34 s,
        /// 1.81–1.89 s (median 1.825 against 1.85), peak RSS 368–378 MB
        /// against 362–364 (eight interleaved runs each).
        extern "C" fn choose(argc: c_int, argv: *const *const c_char) {
            let count = if argv.is_null() { 0 } else { usize::try_from(argc).unwrap_or(0) };
            let args = (1..count).map(|i| {
                // SAFETY: glibc passes `main`'s argc and argv to the constructors
                // of an executable: `argc` pointers to C strings, none null.
                unsafe { CStr::from_ptr(*argv.add(i)) }.to_bytes()
            });
            let (mut bulk, mut audit) = (false, false);
            for arg in args {
                bulk |= BULK.contains(&arg);
                audit |= arg == b"audit";
            }
            MIMALLOC.store(bulk, Ordering::Relaxed);
            // SAFETY: sets two of mimalloc's options to valid values and, for
            // a command that allocates with it, starts mimalloc as its own
            // constructor would; nothing else runs yet.
            unsafe {
                mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
                // -1: never.
                mi_option_set(MI_OPTION_PURGE_DELAY, if audit { -1 } else { 10 });
                if bulk {
                    _mi_auto_process_init();
                }
            }
        }
    }
}
