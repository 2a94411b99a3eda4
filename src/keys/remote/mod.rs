//! sops's key service protocol (`keyservice/keyservice.proto`, gRPC over HTTP/2): the server
//! that lends this process's keys to others (`rsops keyservice`), the client that borrows a
//! remote one's (`--keyservice`), and [`KeyServices`], which tries several in order as sops
//! does with its local service and every `--keyservice`.
//!
//! The data key crosses the connection in the clear, as in sops: the protocol has no
//! transport security, so a TCP service belongs on loopback or behind an SSH tunnel.

#[cfg(feature = "keyservice")]
mod client;
#[cfg(feature = "keyservice")]
pub mod convert;
#[cfg(feature = "keyservice")]
pub mod proto;
#[cfg(feature = "keyservice")]
pub mod server;

#[cfg(feature = "keyservice")]
pub use client::RemoteKeys;

use super::{KeyError, KeyService, MasterKey};
use crate::keys::registry::{KeySpec, KeyStanza};
use std::path::PathBuf;
use std::time::Duration;
use zeroize::Zeroizing;

/// A `--keyservice` address: `unix:///path/to.sock` or `tcp://host:port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    uri: String,
    // Only the client (feature `keyservice`) dials it.
    #[cfg_attr(not(feature = "keyservice"), allow(dead_code))]
    target: Target,
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "keyservice"), allow(dead_code))]
enum Target {
    Unix(PathBuf),
    /// `host:port`, resolved when connecting.
    Tcp(String),
}

impl Endpoint {
    /// sops accepts the schemes Go's `net.Dial` knows; rsops the two that sops documents.
    pub fn parse(uri: &str) -> Result<Endpoint, String> {
        let (scheme, rest) = uri
            .split_once("://")
            .ok_or_else(|| format!("`{uri}` is not like unix:///path or tcp://host:port"))?;
        let target = match scheme {
            "unix" if rest.starts_with('/') => Target::Unix(PathBuf::from(rest)),
            "unix" => return Err(format!("`{uri}`: a unix socket needs an absolute path")),
            "tcp" => {
                let address = rest.trim_end_matches('/');
                if !address.contains(':') || address.contains('/') {
                    return Err(format!("`{uri}`: a tcp address is host:port"));
                }
                Target::Tcp(address.to_string())
            }
            other => {
                return Err(format!(
                    "`{uri}`: unknown network `{other}` (use unix or tcp)"
                ))
            }
        };
        Ok(Endpoint {
            uri: uri.to_string(),
            target,
        })
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.uri)
    }
}

/// How long a client waits: for the connection (a service that is down), and for each answer
/// (a server that prompts its user waits for them).
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub connect: Duration,
    pub call: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(5),
            call: Duration::from_secs(120),
        }
    }
}

/// Several key services, tried in order: unwrapping stops at the first that opens the data key;
/// a wrap goes to the first that succeeds (sops's `decryptKey` and
/// `UpdateMasterKeysWithKeyServices`).
pub struct KeyServices(pub Vec<Box<dyn KeyService>>);

impl KeyService for KeyServices {
    fn master_keys(&self, spec: &KeySpec) -> Result<Vec<Box<dyn MasterKey>>, KeyError> {
        let mut per_service = Vec::new();
        let mut first_error = None;
        for service in &self.0 {
            match service.master_keys(spec) {
                Ok(keys) => per_service.push(keys),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if per_service.is_empty() {
            return Err(first_error.unwrap_or_else(|| no_service(spec.kind(), spec.identity())));
        }
        Ok(FirstOf::transpose(per_service))
    }

    fn unwrap(&self, stanza: &KeyStanza) -> Option<Result<Zeroizing<Vec<u8>>, KeyError>> {
        let mut errors = Vec::new();
        for service in &self.0 {
            match service.unwrap(stanza) {
                Some(Ok(key)) => return Some(Ok(key)),
                Some(Err(e)) => errors.push(e),
                None => {}
            }
        }
        match errors.len() {
            0 => None,
            1 => errors.pop().map(Err),
            _ => Some(Err(KeyError::Failed {
                backend: stanza.type_id(),
                key: stanza.identity(),
                message: errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            })),
        }
    }
}

fn no_service(backend: &'static str, key: String) -> KeyError {
    KeyError::Failed {
        backend,
        key,
        message: "no key service is enabled (the local one is off and no --keyservice is given)"
            .into(),
    }
}

/// One master key as several services offer it; the first that wraps wins.
struct FirstOf(Vec<Box<dyn MasterKey>>);

impl FirstOf {
    /// `per_service[s][k]` → key `k` as offered by every service. Services that disagree on how
    /// many keys a spec names (they all parse it the same way) fall back to the first's list.
    fn transpose(mut per_service: Vec<Vec<Box<dyn MasterKey>>>) -> Vec<Box<dyn MasterKey>> {
        let count = per_service[0].len();
        if per_service.iter().any(|keys| keys.len() != count) {
            per_service.truncate(1);
        }
        let mut columns: Vec<Vec<Box<dyn MasterKey>>> = (0..count).map(|_| Vec::new()).collect();
        for keys in per_service {
            for (column, key) in columns.iter_mut().zip(keys) {
                column.push(key);
            }
        }
        columns
            .into_iter()
            .map(|column| Box::new(FirstOf(column)) as Box<dyn MasterKey>)
            .collect()
    }
}

impl MasterKey for FirstOf {
    fn type_id(&self) -> &'static str {
        self.0[0].type_id()
    }

    fn identity(&self) -> String {
        self.0[0].identity()
    }

    fn wrap(&self, secret: &[u8]) -> Result<KeyStanza, KeyError> {
        let mut errors = Vec::new();
        for key in &self.0 {
            match key.wrap(secret) {
                Ok(stanza) => return Ok(stanza),
                Err(e) => errors.push(e.to_string()),
            }
        }
        Err(KeyError::Failed {
            backend: self.type_id(),
            key: self.identity(),
            message: errors.join("; "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_as_sops_documents_them() {
        let unix = Endpoint::parse("unix:///tmp/sops.sock").unwrap();
        assert_eq!(unix.target, Target::Unix(PathBuf::from("/tmp/sops.sock")));
        assert_eq!(unix.to_string(), "unix:///tmp/sops.sock");
        let tcp = Endpoint::parse("tcp://myserver.com:5000").unwrap();
        assert_eq!(tcp.target, Target::Tcp("myserver.com:5000".into()));
        for bad in ["/tmp/sock", "unix://relative", "tcp://nohost", "http://h:1"] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_empty_chain_says_no_service_is_enabled() {
        let none = KeyServices(Vec::new());
        let err = none
            .master_keys(&KeySpec::Age("age1x".into()))
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("no key service is enabled"),
            "{err}"
        );
        let stanza = KeyStanza::Age(crate::metadata::AgeStanza {
            recipient: "age1x".into(),
            enc: "e".into(),
        });
        assert!(none.unwrap(&stanza).is_none());
    }
}
