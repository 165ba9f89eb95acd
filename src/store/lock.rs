//! One accord process per ledger: an exclusive lock on `accord.lock`, waited for up to `--wait`.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::time::{Duration, Instant};

use super::error::{Doing, Error};
use super::format::LOCK_FILE;

/// How often a busy ledger is tried again.
pub(super) const RETRY: Duration = Duration::from_millis(20);

/// Takes the ledger's lock file, waiting up to `wait` for another process
/// to release it; `on_wait` is called once if it waits.
pub(super) fn acquire(dir: &Path, wait: Duration, mut on_wait: Option<fn(Duration)>) -> Result<File, Error> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|error| Error::Io { doing: Doing::OpenLock(path), error })?;
    let deadline = Instant::now() + wait;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                if Instant::now() >= deadline {
                    return Err(Error::Busy { dir: dir.to_owned(), waited: wait });
                }
                if let Some(say) = on_wait.take() {
                    say(wait);
                }
                std::thread::sleep(RETRY);
            }
            Err(std::fs::TryLockError::Error(error)) => {
                return Err(Error::Io { doing: Doing::Lock(dir.to_owned()), error });
            }
        }
    }
}
