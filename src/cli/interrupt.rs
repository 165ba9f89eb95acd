//! Ctrl-C and `kill` (SIGINT, SIGTERM) during a command that records: the
//! first one is noted, and the command stops at its next event, undoes its
//! writes and says "interrupted: nothing recorded"; a second one ends the
//! process at once (the next open of the ledger then undoes the writes).

use std::sync::atomic::{AtomicBool, Ordering};

static RECEIVED: AtomicBool = AtomicBool::new(false);

extern "C" fn note(_signal: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    RECEIVED.store(true, Ordering::SeqCst);
}

/// Notes SIGINT and SIGTERM from now on, once each.
pub fn install() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `action` is zero-initialised (a valid `sigaction`), its mask
        // is emptied by `sigemptyset`, and the handler only stores to an
        // atomic. SA_RESETHAND restores the default action after the first
        // signal, so a second Ctrl-C ends the process.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = note as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESETHAND | libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Whether a noted signal asks the command to stop.
pub fn received() -> bool {
    RECEIVED.load(Ordering::SeqCst)
}
