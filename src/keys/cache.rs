//! A [`KeyService`] that unwraps each distinct wrapped data key once per process, with a bound
//! on how many unwraps run at the same time.
//!
//! A deploy decrypts hundreds of files whose data keys were wrapped by the same few master keys;
//! without a cache every file costs a KMS (or Vault, GCP, Azure) round trip. Here identical
//! stanzas share one call: the first thread to ask does the unwrap, the others asking for the
//! same stanza meanwhile wait for its answer instead of calling too. Failures are remembered as
//! well, so a key that is refused is not asked again for every file (the backend's own
//! timeouts and retries still apply to the one call).
//!
//! The bound is the caller's to choose (the CLI reads `RSOPS_CONCURRENCY`); nothing here reads
//! the environment.

use super::{KeyError, KeyService, MasterKey};
use crate::config::KeySpec;
use crate::metadata::KeyStanza;
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use zeroize::Zeroizing;

/// What the inner service said about one stanza.
type Answer = Option<Result<Zeroizing<Vec<u8>>, KeyError>>;

/// One stanza's answer, filled once by whichever thread asked first.
type Slot = Arc<OnceLock<Answer>>;

/// Wraps `inner`: each distinct stanza is unwrapped at most once, and at most `limit` unwraps
/// run at once. Wrapping (`master_keys`) is passed through: every new file gets its own data
/// key, so there is nothing to share.
pub struct Cached<S> {
    inner: S,
    // Keyed by the wrapped key text; the stanzas that share one (same ciphertext, another
    // context or role) are told apart by comparing them whole.
    slots: Mutex<HashMap<String, Vec<(KeyStanza, Slot)>>>,
    permits: Permits,
}

impl<S: KeyService> Cached<S> {
    /// `limit` is the most unwraps in flight at once; 0 is taken as 1.
    pub fn new(inner: S, limit: usize) -> Cached<S> {
        Cached {
            inner,
            slots: Mutex::new(HashMap::new()),
            permits: Permits::new(limit.max(1)),
        }
    }

    fn slot(&self, stanza: &KeyStanza) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let same_enc = slots.entry(stanza.enc().to_string()).or_default();
        if let Some((_, slot)) = same_enc.iter().find(|(s, _)| s == stanza) {
            return Arc::clone(slot);
        }
        let slot = Slot::default();
        same_enc.push((stanza.clone(), Arc::clone(&slot)));
        slot
    }
}

impl<S: KeyService> KeyService for Cached<S> {
    fn master_keys(&self, spec: &KeySpec) -> Result<Vec<Box<dyn MasterKey>>, KeyError> {
        self.inner.master_keys(spec)
    }

    fn unwrap(&self, stanza: &KeyStanza) -> Option<Result<Zeroizing<Vec<u8>>, KeyError>> {
        let slot = self.slot(stanza);
        // `get_or_init` blocks the other askers of this stanza until the first one is done.
        let answer = slot.get_or_init(|| {
            let _permit = self.permits.acquire();
            self.inner.unwrap(stanza)
        });
        match answer {
            None => None,
            Some(Ok(secret)) => Some(Ok(Zeroizing::new(secret.to_vec()))),
            Some(Err(e)) => Some(Err(e.clone())),
        }
    }
}

/// A counting semaphore: std has none.
struct Permits {
    free: Mutex<usize>,
    released: Condvar,
}

impl Permits {
    fn new(count: usize) -> Permits {
        Permits {
            free: Mutex::new(count),
            released: Condvar::new(),
        }
    }

    fn acquire(&self) -> Permit<'_> {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            free = self
                .released
                .wait(free)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
        Permit(self)
    }
}

struct Permit<'a>(&'a Permits);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.0.released.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::AgeStanza;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Counts calls and how many run at once; answers with the stanza's `enc` as the secret, or
    /// fails for `enc` "refused", or says "not mine" for "other".
    #[derive(Default)]
    struct Counting {
        calls: AtomicUsize,
        running: AtomicUsize,
        most_at_once: AtomicUsize,
    }

    impl KeyService for Counting {
        fn master_keys(&self, _: &KeySpec) -> Result<Vec<Box<dyn MasterKey>>, KeyError> {
            Ok(Vec::new())
        }

        fn unwrap(&self, stanza: &KeyStanza) -> Answer {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_at_once.fetch_max(now, Ordering::SeqCst);
            // Long enough that the other threads pile up on the same slot or on the permits.
            std::thread::sleep(Duration::from_millis(30));
            self.running.fetch_sub(1, Ordering::SeqCst);
            match stanza.enc() {
                "other" => None,
                "refused" => Some(Err(KeyError::Failed {
                    backend: "age",
                    key: stanza.identity(),
                    message: "refused".into(),
                })),
                enc => Some(Ok(Zeroizing::new(enc.as_bytes().to_vec()))),
            }
        }
    }

    fn age(recipient: &str, enc: &str) -> KeyStanza {
        KeyStanza::Age(AgeStanza {
            recipient: recipient.into(),
            enc: enc.into(),
        })
    }

    fn unwrap_all(cache: &Cached<Counting>, stanzas: &[KeyStanza]) -> Vec<Answer> {
        std::thread::scope(|scope| {
            let handles: Vec<_> = stanzas
                .iter()
                .map(|s| scope.spawn(move || cache.unwrap(s)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    #[test]
    fn identical_stanzas_asked_at_once_are_unwrapped_once() {
        let cache = Cached::new(Counting::default(), 8);
        let stanzas: Vec<_> = (0..12)
            .map(|i| age("age1a", if i % 2 == 0 { "key-one" } else { "key-two" }))
            .collect();
        let answers = unwrap_all(&cache, &stanzas);
        assert_eq!(cache.inner.calls.load(Ordering::SeqCst), 2);
        for (stanza, answer) in stanzas.iter().zip(answers) {
            let secret = answer.unwrap().unwrap();
            assert_eq!(&secret[..], stanza.enc().as_bytes());
        }
    }

    #[test]
    fn stanzas_differing_only_outside_the_ciphertext_are_separate() {
        let cache = Cached::new(Counting::default(), 8);
        unwrap_all(&cache, &[age("age1a", "same"), age("age1b", "same")]);
        assert_eq!(cache.inner.calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn failures_and_not_mine_are_remembered_too() {
        let cache = Cached::new(Counting::default(), 8);
        let answers = unwrap_all(
            &cache,
            &[
                age("a", "refused"),
                age("a", "refused"),
                age("a", "other"),
                age("a", "other"),
            ],
        );
        assert_eq!(cache.inner.calls.load(Ordering::SeqCst), 2);
        assert!(matches!(answers[0], Some(Err(_))) && matches!(answers[1], Some(Err(_))));
        assert!(answers[2].is_none() && answers[3].is_none());
    }

    #[test]
    fn no_more_than_the_limit_run_at_once() {
        let cache = Cached::new(Counting::default(), 3);
        let stanzas: Vec<_> = (0..12).map(|i| age("a", &format!("key-{i}"))).collect();
        unwrap_all(&cache, &stanzas);
        assert_eq!(cache.inner.calls.load(Ordering::SeqCst), 12);
        let most = cache.inner.most_at_once.load(Ordering::SeqCst);
        assert!((1..=3).contains(&most), "{most} unwraps ran at once");
    }
}
