//! Work on two cores for a one-shot read: a slice cut in two, the second
//! half on a thread of its own.

/// `f` of the two halves of `items`, in order: the second half on a thread
/// of its own when `items` holds at least `min` (and the thread can be
/// made), else `f` of the whole, alone. A panic in that thread goes on in
/// the caller's, as if `f` had run there.
pub(crate) fn halves<T: Sync, R: Send>(items: &[T], min: usize, f: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    if items.len() < min.max(2) {
        return vec![f(items)];
    }
    let (first, second) = items.split_at(items.len() / 2);
    std::thread::scope(|scope| {
        let Ok(later) = std::thread::Builder::new().spawn_scoped(scope, || f(second)) else {
            return vec![f(items)];
        };
        let first = f(first);
        match later.join() {
            Ok(second) => vec![first, second],
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::halves;

    #[test]
    fn the_halves_cover_the_items_in_order() {
        let items: Vec<u32> = (0..101).collect();
        let parts = halves(&items, 10, <[u32]>::to_vec);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts.concat(), items);
        // Below `min`: the whole, on the caller's thread.
        let parts = halves(&items[..9], 10, |part| (part.to_vec(), std::thread::current().id()));
        assert_eq!(parts, vec![(items[..9].to_vec(), std::thread::current().id())]);
    }

    #[test]
    fn a_panic_in_the_second_half_reaches_the_caller() {
        let items: Vec<u32> = (0..10).collect();
        let caught = std::panic::catch_unwind(|| halves(&items, 2, |part| assert!(!part.contains(&9))));
        assert!(caught.is_err());
    }
}
