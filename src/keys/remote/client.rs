//! The client side: a [`KeyService`] that sends every wrap and unwrap to one `sops keyservice`
//! (or `rsops keyservice`) over gRPC. The library stays blocking: each call runs on a private
//! single-threaded tokio runtime, connects once (lazily, within `connect`), and gives up after
//! `call`.

use super::convert::{key_of_spec, key_of_stanza, stanza_of};
use super::proto;
use super::{Endpoint, Target, Timeouts};
use crate::keys::registry::{KeySpec, KeyStanza};
use crate::keys::{KeyError, KeyService, MasterKey};
use hyper_util::rt::TokioIo;
use std::sync::{Arc, OnceLock};
use tonic::transport::Channel;
use zeroize::Zeroizing;

/// Data keys and PGP/KMS ciphertexts are a few kilobytes; anything much larger is not an answer.
const MAX_MESSAGE: usize = 1 << 20;

/// One remote key service. Connection failures are remembered: a service that is down costs
/// one `connect` timeout per process, not one per key.
pub struct RemoteKeys {
    inner: Arc<Connection>,
}

struct Connection {
    endpoint: Endpoint,
    timeouts: Timeouts,
    runtime: tokio::runtime::Runtime,
    channel: OnceLock<Result<Channel, String>>,
}

impl RemoteKeys {
    pub fn new(endpoint: Endpoint, timeouts: Timeouts) -> std::io::Result<RemoteKeys> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(RemoteKeys {
            inner: Arc::new(Connection {
                endpoint,
                timeouts,
                runtime,
                channel: OnceLock::new(),
            }),
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }
}

impl KeyService for RemoteKeys {
    fn master_keys(&self, spec: &KeySpec) -> Result<Vec<Box<dyn MasterKey>>, KeyError> {
        Ok(one_per_recipient(spec)
            .into_iter()
            .map(|spec| {
                Box::new(RemoteKey {
                    spec,
                    connection: Arc::clone(&self.inner),
                }) as Box<dyn MasterKey>
            })
            .collect())
    }

    fn unwrap(&self, stanza: &KeyStanza) -> Option<Result<Zeroizing<Vec<u8>>, KeyError>> {
        let request = proto::DecryptRequest {
            key: Some(key_of_stanza(stanza)),
            ciphertext: stanza.enc().as_bytes().to_vec(),
        };
        let answer = self
            .inner
            .call::<_, proto::DecryptResponse>(proto::DECRYPT_PATH, request);
        Some(match answer {
            Ok(mut response) => Ok(Zeroizing::new(std::mem::take(&mut response.plaintext))),
            Err(message) => Err(failed(stanza.type_id(), stanza.identity(), message)),
        })
    }
}

/// An age spec may name several recipients; the protocol's `AgeKey` holds one.
fn one_per_recipient(spec: &KeySpec) -> Vec<KeySpec> {
    match spec {
        KeySpec::Age(list) => crate::keys::registry::split_list(list)
            .into_iter()
            .map(KeySpec::Age)
            .collect(),
        other => vec![other.clone()],
    }
}

fn failed(backend: &'static str, key: String, message: String) -> KeyError {
    KeyError::Failed {
        backend,
        key,
        message,
    }
}

struct RemoteKey {
    spec: KeySpec,
    connection: Arc<Connection>,
}

impl MasterKey for RemoteKey {
    fn type_id(&self) -> &'static str {
        self.spec.backend().type_id()
    }

    fn identity(&self) -> String {
        self.spec.identity()
    }

    fn wrap(&self, secret: &[u8]) -> Result<KeyStanza, KeyError> {
        let request = proto::EncryptRequest {
            key: Some(key_of_spec(&self.spec)),
            plaintext: secret.to_vec(),
        };
        let response: proto::EncryptResponse =
            self.connection
                .call(proto::ENCRYPT_PATH, request)
                .map_err(|m| failed(self.type_id(), self.identity(), m))?;
        let enc = String::from_utf8(response.ciphertext).map_err(|_| {
            failed(
                self.type_id(),
                self.identity(),
                format!(
                    "the key service at {} answered with a wrapped key that is not text",
                    self.connection.endpoint
                ),
            )
        })?;
        stanza_of(&self.spec, enc)
    }
}

impl Connection {
    /// One unary call; the error is sops's `rpc error: code = … desc = …` line.
    fn call<Req, Resp>(&self, path: &'static str, request: Req) -> Result<Resp, String>
    where
        Req: prost::Message + Send + 'static,
        Resp: prost::Message + Default + Send + 'static,
    {
        let channel = self.channel()?;
        let deadline = self.timeouts.call;
        let endpoint = &self.endpoint;
        self.runtime.block_on(async move {
            let mut grpc = tonic::client::Grpc::new(channel).max_decoding_message_size(MAX_MESSAGE);
            let call = async {
                grpc.ready()
                    .await
                    .map_err(|e| tonic::Status::unavailable(error_chain(&e)))?;
                let request = tonic::Request::new(request);
                let codec = tonic::codec::ProstCodec::<Req, Resp>::default();
                let path = http::uri::PathAndQuery::from_static(path);
                grpc.unary(request, path, codec).await
            };
            match tokio::time::timeout(deadline, call).await {
                Ok(Ok(response)) => Ok(response.into_inner()),
                Ok(Err(status)) => Err(rpc_error(&status)),
                Err(_) => Err(format!(
                    "rpc error: code = DeadlineExceeded desc = the key service at {endpoint} did not answer within {}s",
                    deadline.as_secs()
                )),
            }
        })
    }

    fn channel(&self) -> Result<Channel, String> {
        self.channel
            .get_or_init(|| {
                self.runtime
                    .block_on(connect(&self.endpoint, self.timeouts))
            })
            .clone()
    }
}

/// gRPC's own wording, as sops prints a failed key service call.
fn rpc_error(status: &tonic::Status) -> String {
    format!(
        "rpc error: code = {:?} desc = {}",
        status.code(),
        status.message()
    )
}

async fn connect(endpoint: &Endpoint, timeouts: Timeouts) -> Result<Channel, String> {
    // The URI only fills HTTP/2's :authority; the connector below decides where bytes go.
    let authority = match &endpoint.target {
        Target::Tcp(address) => format!("http://{address}"),
        Target::Unix(_) => "http://localhost".to_string(),
    };
    let builder = tonic::transport::Endpoint::from_shared(authority)
        .map_err(|e| format!("invalid key service address {endpoint}: {e}"))?
        .connect_timeout(timeouts.connect);
    let connecting = async {
        match endpoint.target.clone() {
            Target::Tcp(address) => {
                builder
                    .connect_with_connector(tower::service_fn(move |_: http::Uri| {
                        let address = address.clone();
                        async move {
                            let stream = tokio::net::TcpStream::connect(address).await?;
                            stream.set_nodelay(true)?;
                            Ok::<_, std::io::Error>(TokioIo::new(stream))
                        }
                    }))
                    .await
            }
            Target::Unix(path) => {
                builder
                    .connect_with_connector(tower::service_fn(move |_: http::Uri| {
                        let path = path.clone();
                        async move {
                            let stream = tokio::net::UnixStream::connect(path).await?;
                            Ok::<_, std::io::Error>(TokioIo::new(stream))
                        }
                    }))
                    .await
            }
        }
    };
    match tokio::time::timeout(timeouts.connect, connecting).await {
        Ok(Ok(channel)) => Ok(channel),
        Ok(Err(e)) => Err(format!(
            "rpc error: code = Unavailable desc = cannot connect to the key service at {endpoint}: {}",
            error_chain(&e)
        )),
        Err(_) => Err(format!(
            "rpc error: code = Unavailable desc = no connection to the key service at {endpoint} within {}s",
            timeouts.connect.as_secs()
        )),
    }
}

/// An error and its causes on one line (tonic's transport error alone says only "transport
/// error").
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
