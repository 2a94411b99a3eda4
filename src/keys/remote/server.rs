//! The serving side of sops's key service: answers `Encrypt`/`Decrypt` of data keys with the
//! keys of a [`KeyService`] (for the CLI, the environment's). The gRPC server runs on its own
//! thread; every request is handed to the calling thread, which owns the key service, asks the
//! [`Observer`] and answers, one request at a time (a prompt on a terminal can only ask one
//! question at a time anyway).

use super::convert::{spec_of_key, stanza_of};
use super::proto;
use crate::keys::registry::KeySpec;
use crate::keys::{KeyError, KeyService};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc;
use std::task::{Context, Poll};
use tokio::sync::oneshot;
use tonic::codec::ProstCodec;
use tonic::Status;

/// A request is a key name and at most a few kilobytes of wrapped key.
const MAX_MESSAGE: usize = 1 << 20;

/// Where the service listens, already bound by the caller (`--network`/`--address`).
pub enum Listener {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Encrypt,
    Decrypt,
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Operation::Encrypt => "encrypt",
            Operation::Decrypt => "decrypt",
        })
    }
}

/// What the caller decides and hears about each request: only the operation and the key's
/// name, never a data key or a wrapped one.
pub trait Observer {
    /// Asked before a request is served; `false` refuses it ("Request rejected by user").
    fn allow(&mut self, _operation: Operation, _key: &KeySpec) -> bool {
        true
    }
    /// One line per request: served, refused or failed, and why.
    fn log(&mut self, _line: &str) {}
}

/// The key as sops's `--prompt` names it (`keyToString`); sops says "Unknown key type" for age
/// and hckms, rsops names them too.
pub fn describe(key: &KeySpec) -> String {
    match key {
        KeySpec::Pgp(fp) => format!("PGP key with fingerprint {fp}"),
        KeySpec::Kms { arn, .. } => format!("AWS KMS key with ARN {arn}"),
        KeySpec::GcpKms(id) => format!("GCP KMS key with resource ID {id}"),
        KeySpec::AzureKv {
            vault_url,
            key,
            version,
        } => format!("Azure Key Vault key with URL {vault_url}/keys/{key}/{version}"),
        KeySpec::HcVault(uri) => format!("Hashicorp Vault key with URI {uri}"),
        KeySpec::Age(recipient) => format!("age key with recipient {recipient}"),
        KeySpec::Hckms(id) => format!("HuaweiCloud KMS key with ID {id}"),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the key service stopped: {0}")]
    Transport(String),
}

/// Serves until the listener fails. Blocks the calling thread, which answers every request with
/// `keys`.
pub fn serve(
    listener: Listener,
    keys: &dyn KeyService,
    observer: &mut dyn Observer,
) -> Result<(), ServeError> {
    let (jobs, queue) = mpsc::channel();
    let server = std::thread::Builder::new()
        .name("keyservice".into())
        .spawn(move || run_server(listener, jobs))?;
    for job in queue {
        answer(job, keys, observer);
    }
    match server.join() {
        Ok(result) => result,
        Err(_) => Err(ServeError::Transport("the server thread panicked".into())),
    }
}

fn run_server(listener: Listener, jobs: mpsc::Sender<Job>) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let service = Dispatch { jobs };
        let server = tonic::transport::Server::builder();
        let served = match listener {
            Listener::Tcp(listener) => {
                listener.set_nonblocking(true)?;
                let listener = tokio::net::TcpListener::from_std(listener)?;
                let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
                server.serve_with_incoming(service, incoming).await
            }
            Listener::Unix(listener) => {
                listener.set_nonblocking(true)?;
                let listener = tokio::net::UnixListener::from_std(listener)?;
                let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
                server.serve_with_incoming(service, incoming).await
            }
        };
        served.map_err(|e| ServeError::Transport(e.to_string()))
    })
}

type Reply<T> = oneshot::Sender<Result<T, Status>>;

enum Job {
    Encrypt(proto::EncryptRequest, Reply<proto::EncryptResponse>),
    Decrypt(proto::DecryptRequest, Reply<proto::DecryptResponse>),
}

fn answer(job: Job, keys: &dyn KeyService, observer: &mut dyn Observer) {
    match job {
        Job::Encrypt(request, reply) => {
            let _ = reply.send(encrypt(&request, keys, observer).map_err(Refusal::status));
        }
        Job::Decrypt(request, reply) => {
            let _ = reply.send(decrypt(&request, keys, observer).map_err(Refusal::status));
        }
    }
}

/// A request not served: the gRPC code and message the client gets (`Status` itself is too
/// large to pass around by value).
struct Refusal(tonic::Code, String);

impl Refusal {
    fn status(self) -> Status {
        Status::new(self.0, self.1)
    }
}

/// The key named in a request, after the observer allowed it.
fn admitted(
    operation: Operation,
    key: Option<&proto::Key>,
    observer: &mut dyn Observer,
) -> Result<KeySpec, Refusal> {
    let spec = spec_of_key(key).map_err(|m| {
        observer.log(&format!("{operation} request refused: {m}"));
        Refusal(tonic::Code::NotFound, m.to_string())
    })?;
    if !observer.allow(operation, &spec) {
        observer.log(&format!(
            "{operation} request for {} rejected by user",
            describe(&spec)
        ));
        return Err(Refusal(
            tonic::Code::PermissionDenied,
            "Request rejected by user".into(),
        ));
    }
    Ok(spec)
}

fn outcome<T>(
    operation: Operation,
    spec: &KeySpec,
    result: Result<T, KeyError>,
    observer: &mut dyn Observer,
) -> Result<T, Refusal> {
    match result {
        Ok(value) => {
            observer.log(&format!("{operation}ed a data key with {}", describe(spec)));
            Ok(value)
        }
        Err(e) => {
            observer.log(&format!("{operation} with {} failed: {e}", describe(spec)));
            Err(Refusal(tonic::Code::Unknown, e.to_string()))
        }
    }
}

fn encrypt(
    request: &proto::EncryptRequest,
    keys: &dyn KeyService,
    observer: &mut dyn Observer,
) -> Result<proto::EncryptResponse, Refusal> {
    let spec = admitted(Operation::Encrypt, request.key.as_ref(), observer)?;
    let wrapped = keys.master_keys(&spec).and_then(|master_keys| {
        let key = master_keys.first().ok_or_else(|| KeyError::Failed {
            backend: spec.backend().type_id(),
            key: spec.identity(),
            message: "no master key for this key".into(),
        })?;
        key.wrap(&request.plaintext)
    });
    let stanza = outcome(Operation::Encrypt, &spec, wrapped, observer)?;
    Ok(proto::EncryptResponse {
        ciphertext: stanza.enc().as_bytes().to_vec(),
    })
}

fn decrypt(
    request: &proto::DecryptRequest,
    keys: &dyn KeyService,
    observer: &mut dyn Observer,
) -> Result<proto::DecryptResponse, Refusal> {
    let spec = admitted(Operation::Decrypt, request.key.as_ref(), observer)?;
    let unwrapped = String::from_utf8(request.ciphertext.clone())
        .map_err(|_| KeyError::Failed {
            backend: spec.backend().type_id(),
            key: spec.identity(),
            message: "the wrapped data key is not text".into(),
        })
        .and_then(|enc| stanza_of(&spec, enc))
        .and_then(|stanza| {
            keys.unwrap(&stanza).unwrap_or_else(|| {
                Err(KeyError::Failed {
                    backend: stanza.type_id(),
                    key: stanza.identity(),
                    message: format!("this key service has no {} keys", stanza.type_id()),
                })
            })
        });
    let mut plaintext = outcome(Operation::Decrypt, &spec, unwrapped, observer)?;
    Ok(proto::DecryptResponse {
        plaintext: std::mem::take(&mut *plaintext),
    })
}

/// Routes `/KeyService/Encrypt` and `/KeyService/Decrypt` to the answering thread.
#[derive(Clone)]
struct Dispatch {
    jobs: mpsc::Sender<Job>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl tower::Service<http::Request<tonic::body::Body>> for Dispatch {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let jobs = self.jobs.clone();
        match request.uri().path() {
            proto::ENCRYPT_PATH => Box::pin(async move {
                let forward = Forward {
                    jobs,
                    job: Job::Encrypt,
                };
                Ok(unary::<proto::EncryptRequest, _>(forward, request).await)
            }),
            proto::DECRYPT_PATH => Box::pin(async move {
                let forward = Forward {
                    jobs,
                    job: Job::Decrypt,
                };
                Ok(unary::<proto::DecryptRequest, _>(forward, request).await)
            }),
            _ => Box::pin(async move { Ok(Status::unimplemented("").into_http()) }),
        }
    }
}

async fn unary<Req, Resp>(
    forward: Forward<Req, Resp>,
    request: http::Request<tonic::body::Body>,
) -> http::Response<tonic::body::Body>
where
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
{
    let codec = ProstCodec::<Resp, Req>::default();
    let mut grpc = tonic::server::Grpc::new(codec).max_decoding_message_size(MAX_MESSAGE);
    grpc.unary(forward, request).await
}

/// Hands one decoded request to the answering thread and waits for its answer.
struct Forward<Req, Resp> {
    jobs: mpsc::Sender<Job>,
    job: fn(Req, Reply<Resp>) -> Job,
}

impl<Req, Resp> tonic::server::UnaryService<Req> for Forward<Req, Resp>
where
    Req: Send + 'static,
    Resp: Send + 'static,
{
    type Response = Resp;
    type Future = BoxFuture<Result<tonic::Response<Resp>, Status>>;

    fn call(&mut self, request: tonic::Request<Req>) -> Self::Future {
        let (reply, answer) = oneshot::channel();
        let queued = self.jobs.send((self.job)(request.into_inner(), reply));
        Box::pin(async move {
            queued.map_err(|_| Status::unavailable("the key service is shutting down"))?;
            let answer = answer
                .await
                .map_err(|_| Status::internal("the request was dropped"))?;
            answer.map(tonic::Response::new)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::remote::{Endpoint, RemoteKeys, Timeouts};
    use crate::keys::MasterKey;
    use crate::metadata::KeyStanza;
    use zeroize::Zeroizing;

    /// Wraps by spelling the secret in hex behind a marker; unwraps only that spelling.
    struct Spelled;

    struct SpelledKey(KeySpec);

    impl MasterKey for SpelledKey {
        fn type_id(&self) -> &'static str {
            self.0.backend().type_id()
        }
        fn identity(&self) -> String {
            self.0.identity()
        }
        fn wrap(&self, secret: &[u8]) -> Result<KeyStanza, KeyError> {
            stanza_of(&self.0, format!("spelled:{}", hex::encode(secret)))
        }
    }

    impl KeyService for Spelled {
        fn master_keys(&self, spec: &KeySpec) -> Result<Vec<Box<dyn MasterKey>>, KeyError> {
            Ok(vec![Box::new(SpelledKey(spec.clone()))])
        }
        fn unwrap(&self, stanza: &KeyStanza) -> Option<Result<Zeroizing<Vec<u8>>, KeyError>> {
            let spelled = stanza.enc().strip_prefix("spelled:")?;
            Some(Ok(Zeroizing::new(hex::decode(spelled).unwrap())))
        }
    }

    /// Allows requests for keys whose identity does not contain "deny", and keeps the log.
    struct Gate(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

    impl Observer for Gate {
        fn allow(&mut self, _: Operation, key: &KeySpec) -> bool {
            !key.identity().contains("deny")
        }
        fn log(&mut self, line: &str) {
            self.0.lock().unwrap().push(line.to_string());
        }
    }

    /// A server on a fresh socket, answering with [`Spelled`] on a thread the test leaves
    /// running (it ends with the test process).
    fn start() -> (
        tempfile::TempDir,
        Endpoint,
        std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("s.sock");
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut gate = Gate(log.clone());
        std::thread::spawn(move || serve(Listener::Unix(listener), &Spelled, &mut gate));
        let endpoint = Endpoint::parse(&format!("unix://{}", socket.display())).unwrap();
        (dir, endpoint, log)
    }

    fn client(endpoint: Endpoint) -> RemoteKeys {
        RemoteKeys::new(endpoint, Timeouts::default()).unwrap()
    }

    #[test]
    fn a_client_wraps_and_unwraps_through_the_server() {
        let (_dir, endpoint, log) = start();
        let remote = client(endpoint);
        let keys = remote
            .master_keys(&KeySpec::Age("age1one,age1two".into()))
            .unwrap();
        assert_eq!(keys.len(), 2, "one request per age recipient");
        let stanza = keys[1].wrap(b"SECRET").unwrap();
        assert_eq!(stanza.identity(), "age1two");
        assert_eq!(stanza.enc(), format!("spelled:{}", hex::encode("SECRET")));
        let opened = remote.unwrap(&stanza).unwrap().unwrap();
        assert_eq!(opened.as_slice(), b"SECRET");
        let log = log.lock().unwrap().join("\n");
        assert!(log.contains("decrypted a data key with age key with recipient age1two"));
        assert!(!log.contains("SECRET") && !log.contains(&hex::encode("SECRET")));
    }

    #[test]
    fn refusals_and_failures_reach_the_client_in_grpc_words() {
        let (_dir, endpoint, _log) = start();
        let remote = client(endpoint);
        let denied = remote.master_keys(&KeySpec::Pgp("deny".into())).unwrap();
        let err = denied[0].wrap(b"k").unwrap_err().to_string();
        assert!(
            err.contains("rpc error: code = PermissionDenied desc = Request rejected by user"),
            "{err}"
        );
        let foreign = stanza_of(&KeySpec::GcpKms("p/k".into()), "not-spelled".into()).unwrap();
        let err = remote.unwrap(&foreign).unwrap().unwrap_err().to_string();
        assert!(
            err.contains("code = Unknown") && err.contains("has no gcp_kms keys"),
            "{err}"
        );
    }

    #[test]
    fn a_service_that_is_down_is_reported_once_as_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let uri = format!("unix://{}/none.sock", dir.path().display());
        let remote = client(Endpoint::parse(&uri).unwrap());
        let stanza = stanza_of(&KeySpec::Age("age1x".into()), "e".into()).unwrap();
        for _ in 0..2 {
            let err = remote.unwrap(&stanza).unwrap().unwrap_err().to_string();
            assert!(
                err.contains("code = Unavailable") && err.contains(&uri),
                "{err}"
            );
        }
        // The local keys still answer first in a chain.
        let spelled = stanza_of(&KeySpec::Age("age1x".into()), "spelled:00".into()).unwrap();
        let chain = super::super::KeyServices(vec![Box::new(Spelled), Box::new(remote)]);
        assert_eq!(chain.unwrap(&spelled).unwrap().unwrap().as_slice(), [0]);
    }
}
