//! How far long work has got, told to whoever asked: the library counts, the command line draws.

/// Told now and then how far a long pass over the log has got: a block of
/// events at a time, never for each event. Both methods do nothing unless
/// overridden; `&()` is the silent one.
pub trait Progress {
    /// The pass has `total` events in all: told before it starts.
    fn total(&self, _total: u64) {}

    /// The pass has gone through `done` events so far (a count, not a step:
    /// it goes back when a pass starts over, as `audit verify`'s exact pass
    /// does after the fast one).
    fn done(&self, _done: u64) {}
}

impl Progress for () {}

/// How many events pass between two reports of a pass that goes event by event.
pub const EVERY: u64 = 4096;
