//! A [`KeyService`] that says what it does: which key opened the data key, which failed and
//! why, and which keys a new data key was wrapped for. The caller decides where the lines go
//! (the CLI's `--verbose` prints them on stderr); nothing here reads the environment.
//!
//! Only public facts are logged: key types, identities (recipients, fingerprints, ARNs …) and
//! the backends' error messages, which are already part of sops's failure report.

use super::{KeyError, KeyService, MasterKey};
use crate::config::KeySpec;
use crate::metadata::KeyStanza;
use std::sync::Arc;
use zeroize::Zeroizing;

/// Where log lines go.
pub type LogFn = dyn Fn(&str) + Send + Sync;

/// Wraps a key service and reports every unwrap attempt and every wrap through `log`.
pub struct Logged<S> {
    inner: S,
    log: Arc<LogFn>,
}

impl<S: KeyService> Logged<S> {
    pub fn new(inner: S, log: impl Fn(&str) + Send + Sync + 'static) -> Logged<S> {
        Logged {
            inner,
            log: Arc::new(log),
        }
    }
}

impl<S: KeyService> KeyService for Logged<S> {
    fn master_keys(&self, spec: &KeySpec) -> Result<Vec<Box<dyn MasterKey>>, KeyError> {
        let keys = self.inner.master_keys(spec)?;
        Ok(keys
            .into_iter()
            .map(|inner| {
                Box::new(LoggedKey {
                    inner,
                    log: Arc::clone(&self.log),
                }) as Box<dyn MasterKey>
            })
            .collect())
    }

    fn unwrap(&self, stanza: &KeyStanza) -> Option<Result<Zeroizing<Vec<u8>>, KeyError>> {
        let result = self.inner.unwrap(stanza);
        let key = format!("{} key {}", stanza.type_id(), stanza.identity());
        let line = match &result {
            None => format!(
                "{key}: skipped, no {} source is available",
                stanza.type_id()
            ),
            Some(Ok(_)) => format!("data key decrypted with {key}"),
            Some(Err(e)) => format!("{key}: failed: {e}"),
        };
        (self.log)(&line);
        result
    }
}

/// A master key whose successful wraps are logged.
struct LoggedKey {
    inner: Box<dyn MasterKey>,
    log: Arc<LogFn>,
}

impl MasterKey for LoggedKey {
    fn type_id(&self) -> &'static str {
        self.inner.type_id()
    }

    fn identity(&self) -> String {
        self.inner.identity()
    }

    fn wrap(&self, secret: &[u8]) -> Result<KeyStanza, KeyError> {
        let stanza = self.inner.wrap(secret)?;
        (self.log)(&format!(
            "data key encrypted for {} key {}",
            self.inner.type_id(),
            self.inner.identity()
        ));
        Ok(stanza)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyUnwrapper, Unwrappers};
    use std::sync::Mutex;

    struct Fixed(Option<Result<Vec<u8>, String>>);

    impl KeyUnwrapper for Fixed {
        fn unwrap(&self, stanza: &KeyStanza) -> Option<Result<Zeroizing<Vec<u8>>, KeyError>> {
            self.0.clone().map(|r| {
                r.map(Zeroizing::new).map_err(|message| KeyError::Failed {
                    backend: "age",
                    key: stanza.identity(),
                    message,
                })
            })
        }
    }

    fn logged(unwrapper: &Fixed, stanza: &KeyStanza) -> Vec<String> {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let unwrappers: [&dyn KeyUnwrapper; 1] = [unwrapper];
        let service = Logged::new(Unwrappers(&unwrappers), move |l: &str| {
            sink.lock().unwrap().push(l.to_string())
        });
        let _ = service.unwrap(stanza);
        let lines = lines.lock().unwrap().clone();
        lines
    }

    #[test]
    fn every_attempt_is_logged_without_the_secret() {
        let stanza = KeyStanza::Age(crate::metadata::AgeStanza {
            recipient: "age1recipient".into(),
            enc: "ENCRYPTED".into(),
        });
        let ok = logged(&Fixed(Some(Ok(b"SECRET-KEY".to_vec()))), &stanza);
        assert_eq!(ok.len(), 1);
        assert!(
            ok[0].starts_with("data key decrypted with age key age1"),
            "{ok:?}"
        );
        assert!(!ok[0].contains("SECRET"));
        let failed = logged(&Fixed(Some(Err("wrong identity".into()))), &stanza);
        assert!(failed[0].contains("failed") && failed[0].contains("wrong identity"));
        let none = logged(&Fixed(None), &stanza);
        assert!(none[0].contains("skipped"), "{none:?}");
    }
}
