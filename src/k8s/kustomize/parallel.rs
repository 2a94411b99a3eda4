//! A bounded parallel map that keeps the input order: a generator lists many files, and each
//! decryption may wait on a KMS round trip, so they run side by side (KSOPS 4.5 does the same
//! with `KSOPS_CONCURRENCY_LIMIT`), while the output stays the order the config lists them in.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// KSOPS's default bound.
pub const DEFAULT_CONCURRENCY: usize = 20;

/// `f` over `items` on at most `limit` threads; the results in `items`' order.
pub fn bounded_map<T: Sync, R: Send>(
    items: &[T],
    limit: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let workers = limit.clamp(1, items.len().max(1));
    if workers == 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let result = f(item);
                *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
            });
        }
    });
    slots
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every item ran: a worker's panic ends the scope before this")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Condvar;
    use std::time::Duration;

    /// Counts jobs in flight; each job waits until `limit` are in flight at once (or a generous
    /// deadline passes, so a broken map fails instead of hanging).
    struct Gate {
        state: Mutex<(usize, usize)>,
        changed: Condvar,
    }

    #[test]
    fn runs_up_to_the_limit_at_once_and_keeps_the_order() {
        let limit = 4;
        let gate = Gate {
            state: Mutex::new((0, 0)),
            changed: Condvar::new(),
        };
        let items: Vec<usize> = (0..12).collect();
        let out = bounded_map(&items, limit, |&i| {
            let mut state = gate.state.lock().unwrap();
            state.0 += 1;
            state.1 = state.1.max(state.0);
            gate.changed.notify_all();
            let (mut state, _) = gate
                .changed
                .wait_timeout_while(state, Duration::from_secs(20), |s| s.1 < limit)
                .unwrap();
            state.0 -= 1;
            i * 10
        });
        assert_eq!(out, (0..12).map(|i| i * 10).collect::<Vec<_>>());
        assert_eq!(gate.state.lock().unwrap().1, limit, "peak jobs in flight");
    }

    #[test]
    fn a_limit_of_one_or_zero_is_sequential() {
        let items = [3, 1, 2];
        assert_eq!(bounded_map(&items, 0, |x| x + 1), vec![4, 2, 3]);
        assert_eq!(bounded_map(&items, 1, |x| x + 1), vec![4, 2, 3]);
        assert!(bounded_map(&[] as &[u8], 8, |x| *x).is_empty());
    }
}
