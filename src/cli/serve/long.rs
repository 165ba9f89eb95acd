//! The threads of `accord serve` that run long reads: the commands whose
//! answer grows with the log or with an org's whole history (history,
//! export, log, panel, spells, timeline).
//!
//! They have threads of their own, at the lowest CPU priority (Linux's
//! `SCHED_IDLE`, and nice [`NICE`] where that is refused), so that while
//! they take the cores a quick lookup (members, diff, orgs, head, an event)
//! is not slowed to their pace: a thread of the server's own priority that
//! wakes takes a core from them at once, and they share what the others
//! leave (under nice 10 alone, a lookup waited for a long read's turn on
//! the core: members' median under the bench's load was 1.7 ms, 0.8–0.9
//! ms with `SCHED_IDLE`). A thread's priority can be lowered but not raised
//! back without privilege, hence threads of their own rather than tokio's
//! blocking pool, which runs the quick ones too.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, mpsc};

/// Long reads running at once, at most; more wait their turn in a queue. A
/// client that stops reading holds its thread (its answer waits for it).
pub const LONG: usize = 8;

/// The nice value of the long reads' threads.
pub const NICE: i32 = 10;

type Work = Box<dyn FnOnce() + Send + 'static>;

/// The long reads' threads, fed through a queue.
pub struct LongReads {
    queue: mpsc::Sender<Work>,
}

impl LongReads {
    /// Starts `threads` threads, each lowering its own priority first.
    pub fn start(threads: usize) -> std::io::Result<LongReads> {
        let (queue, work) = mpsc::channel::<Work>();
        let work = Arc::new(Mutex::new(work));
        for i in 0..threads {
            let work = Arc::clone(&work);
            std::thread::Builder::new().name(format!("serve-long-{i}")).spawn(move || {
                lower_priority();
                loop {
                    // The queue's end (the server is gone) ends the thread.
                    let next = match work.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = next else { return };
                    // A command's panic is caught where it runs; a thread
                    // is not lost to one that escapes anyway.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                }
            })?;
        }
        Ok(LongReads { queue })
    }

    /// Queues `job` for the next free thread.
    pub fn run(&self, job: impl FnOnce() + Send + 'static) {
        // The threads hold the queue's receiving end as long as this sender
        // lives: sending cannot fail.
        let _ = self.queue.send(Box::new(job));
    }
}

/// Raises the calling thread's nice value to [`NICE`] and puts it under
/// `SCHED_IDLE` (on Linux a thread's own; elsewhere nothing). Allowed
/// without privilege; what fails leaves the thread as it was.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority take and return plain integers.
        let tid = unsafe { libc::gettid() };
        let Ok(tid) = libc::id_t::try_from(tid) else { return };
        // SAFETY: as above; PRIO_PROCESS with a thread id sets that thread's nice value on Linux.
        let _ = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, NICE) };
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `param` lives across the call, which only reads it.
        let _ = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    }
}
