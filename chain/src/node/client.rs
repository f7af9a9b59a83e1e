//! A blocking client of a node's HTTP API (specified in [`super`]): what a party on another
//! machine submits transactions with and reads the state through.
//!
//! Each call is one HTTP/1.1 request on a fresh connection (hyper's client connection over a
//! tokio TCP stream, on a runtime of the client's own). A node that is busy or rate limits the
//! caller (`429`, waiting as its `Retry-After` says; `503`) or does not accept connections yet
//! is asked again, with waits of at most [`MAX_BACKOFF`] between tries of its own, until
//! [`NodeClient::patience`] has passed; every other refusal is returned at once as
//! [`ClientError::Status`] with the node's one-line reason. A request that may have reached
//! the node is asked again only when asking twice does no harm (a `GET`, or a submission,
//! which is looked up by its hash). Replies are checked against the API's shapes, and a block header against the hash
//! the node gives for it.

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::runtime::Runtime;

use crate::account::Address;
use crate::block::BlockHeader;
use crate::execute::TxOutcome;
use crate::json::{self, Json};
use crate::keys::PublicKey;
use crate::path::Path;
use crate::store::Hash;
use crate::tx::SignedTransaction;
use crate::value::Value;

/// The longest wait between two tries of a busy node that gives no `Retry-After`.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// The longest a single request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest reply body read.
const MAX_REPLY: usize = 16 << 20;

/// Why a call to the node failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The node URL is not `http://HOST:PORT`.
    #[error("bad node URL {url:?}: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// No connection could be made, or the exchange broke off, within the client's patience.
    #[error("cannot reach the node at {authority}: {reason}")]
    Unreachable {
        /// `HOST:PORT`.
        authority: String,
        /// The last failure.
        reason: String,
    },
    /// The exchange broke off (or timed out) after the request may have reached the node,
    /// which may have acted on it: a request that is not safe to repeat is not repeated.
    #[error("the exchange with the node at {authority} broke off: {reason}")]
    Interrupted {
        /// `HOST:PORT`.
        authority: String,
        /// What happened.
        reason: String,
    },
    /// The node refused the request.
    #[error("the node answered {status}: {message}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The node's reason.
        message: String,
    },
    /// The reply does not have the API's shape.
    #[error("the node's reply to {what} does not match its API: {reason}")]
    Shape {
        /// The request.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// The client's runtime could not start.
    #[error("cannot start the HTTP client runtime: {0}")]
    Runtime(std::io::Error),
}

/// `GET /api/status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeStatus {
    /// The chain id transactions must name.
    pub chain_id: String,
    /// The genesis block's hash: another chain of the same id has another.
    pub genesis_hash: Hash,
    /// The latest block's height.
    pub height: u64,
    /// The latest block's hash.
    pub tip_hash: Hash,
    /// Transactions waiting for a block.
    pub pending: usize,
    /// Why the last block could not be made, if it could not.
    pub last_block_error: Option<String>,
}

/// `GET /api/accounts/{address}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountState {
    /// The balance, in the token's smallest unit.
    pub balance: i128,
    /// Transactions of the account included so far.
    pub nonce: u64,
    /// The nonce its next transaction takes: `nonce` plus its pending ones.
    pub next_nonce: u64,
}

/// `GET /api/tx/{hash}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxStatus {
    /// Included in block `height` at `index`, with its outcome.
    Included {
        /// The block.
        height: u64,
        /// Its position in the block.
        index: u64,
        /// Applied, or failed with the reason.
        outcome: TxOutcome,
    },
    /// Waiting for a block.
    Pending,
    /// Refused at submission, or dropped from the pool, with the reason.
    Rejected(String),
    /// The node knows nothing of it.
    Unknown,
}

/// A client of one node.
pub struct NodeClient {
    authority: String,
    runtime: Runtime,
    patience: Duration,
}

impl std::fmt::Debug for NodeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeClient(http://{})", self.authority)
    }
}

impl NodeClient {
    /// A client of the node at `url` (`http://HOST:PORT`, a trailing `/` allowed), patient
    /// for a minute.
    ///
    /// Errors: [`ClientError::Url`] for any other URL (there is no TLS: put a proxy in front
    /// of a node that must be reached over one), [`ClientError::Runtime`].
    pub fn new(url: &str) -> Result<NodeClient, ClientError> {
        let bad = |reason: &str| ClientError::Url {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| bad("it must start with http://"))?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = authority
            .rsplit_once(':')
            .ok_or_else(|| bad("it must name a port, as in http://127.0.0.1:8545"))?;
        if host.is_empty() || authority.contains('/') || port.parse::<u16>().is_err() {
            return Err(bad("expected http://HOST:PORT and no path"));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(ClientError::Runtime)?;
        Ok(NodeClient {
            authority: authority.to_owned(),
            runtime,
            patience: Duration::from_secs(60),
        })
    }

    /// The same client, asking a busy or unreachable node again for up to `patience`.
    pub fn patience(mut self, patience: Duration) -> NodeClient {
        self.patience = patience;
        self
    }

    /// `http://HOST:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.authority)
    }

    /// The node's chain and its tip.
    pub fn status(&self) -> Result<NodeStatus, ClientError> {
        let what = "GET /api/status";
        let body = self.ok(Method::GET, "/api/status", None, what)?;
        let shape = Shape { what, body: &body };
        Ok(NodeStatus {
            chain_id: shape.str("chain_id")?.to_owned(),
            genesis_hash: shape.hash("genesis_hash")?,
            height: shape.uint("height")?,
            tip_hash: shape.hash("tip_hash")?,
            pending: usize::try_from(shape.uint("pending")?).map_err(|_| shape.bad("pending"))?,
            last_block_error: match shape.field("last_block_error")? {
                Json::Null => None,
                Json::Str(s) => Some(s.clone()),
                _ => return Err(shape.bad("last_block_error")),
            },
        })
    }

    /// An account's balance and nonces (zero for an account the chain has not seen).
    pub fn account(&self, addr: &Address) -> Result<AccountState, ClientError> {
        let target = format!("/api/accounts/{addr}");
        let what = format!("GET {target}");
        let body = self.ok(Method::GET, &target, None, &what)?;
        let shape = Shape {
            what: &what,
            body: &body,
        };
        let balance = match shape.field("balance")? {
            Json::Int(i) => *i,
            _ => return Err(shape.bad("balance")),
        };
        Ok(AccountState {
            balance,
            nonce: shape.uint("nonce")?,
            next_nonce: shape.uint("next_nonce")?,
        })
    }

    /// Submits a signed transaction (`POST /api/tx`); its hash once the node holds it.
    ///
    /// Submitting is safe to repeat: when the exchange broke off after the request may have
    /// reached the node ([`ClientError::Interrupted`]), or the node answers `409` (as it does
    /// for a transaction it already holds), the client looks the transaction up, and one the
    /// node holds (pending or included) counts as submitted. A node never reached is not
    /// looked up.
    ///
    /// Errors: [`ClientError::Status`] with the node's reason when it refuses it.
    pub fn submit(&self, tx: &SignedTransaction) -> Result<Hash, ClientError> {
        let what = "POST /api/tx";
        let request = json::to_canonical(&Json::Object(
            [("tx".to_owned(), Json::Str(hex::encode(tx.encode())))].into(),
        ));
        let hash = tx.hash();
        let body = match self.ok(Method::POST, "/api/tx", Some(request), what) {
            Ok(body) => body,
            Err(
                e @ (ClientError::Interrupted { .. } | ClientError::Status { status: 409, .. }),
            ) => {
                return match self.transaction(&hash) {
                    Ok(TxStatus::Pending | TxStatus::Included { .. }) => Ok(hash),
                    _ => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        if (Shape { what, body: &body }).hash("hash")? != hash {
            return Err(ClientError::Shape {
                what: what.to_owned(),
                reason: "the node names another hash than the transaction's".to_owned(),
            });
        }
        Ok(hash)
    }

    /// What became of transaction `hash`.
    pub fn transaction(&self, hash: &Hash) -> Result<TxStatus, ClientError> {
        let target = format!("/api/tx/{}", hex::encode(hash));
        let what = format!("GET {target}");
        let body = match self.ok(Method::GET, &target, None, &what) {
            Err(ClientError::Status { status: 404, .. }) => return Ok(TxStatus::Unknown),
            other => other?,
        };
        let shape = Shape {
            what: &what,
            body: &body,
        };
        Ok(match shape.str("status")? {
            "included" => TxStatus::Included {
                height: shape.uint("height")?,
                index: shape.uint("index")?,
                outcome: match (shape.field("ok")?, shape.field("error")?) {
                    (Json::Bool(true), _) => TxOutcome::Applied,
                    (Json::Bool(false), Json::Str(why)) => TxOutcome::Failed(why.clone()),
                    _ => return Err(shape.bad("ok")),
                },
            },
            "pending" => TxStatus::Pending,
            "refused" | "dropped" => TxStatus::Rejected(shape.str("error")?.to_owned()),
            _ => return Err(shape.bad("status")),
        })
    }

    /// The value at `path` as of the latest block (null when nothing is there).
    ///
    /// Errors: [`ClientError::Status`] `400` when the subtree is over
    /// [`super::MAX_VIEW_NODES`] nodes.
    pub fn value(&self, path: &Path) -> Result<Value, ClientError> {
        let target = format!("/api/value?path={}", query_escape(&path.to_string()));
        let what = format!("GET {target}");
        let body = match self.ok(Method::GET, &target, None, &what) {
            Err(ClientError::Status {
                status: 404,
                message,
            }) if message.starts_with("no value at") => return Ok(Value::Null),
            other => other?,
        };
        let shape = Shape {
            what: &what,
            body: &body,
        };
        Value::try_from(shape.field("value")?.clone()).map_err(|e| ClientError::Shape {
            what: what.clone(),
            reason: e.to_string(),
        })
    }

    /// The latest block's header.
    pub fn latest_block(&self) -> Result<BlockHeader, ClientError> {
        let what = "GET /api/blocks/latest";
        let body = self.ok(Method::GET, "/api/blocks/latest", None, what)?;
        header(what, &body)
    }

    /// The header of the block at `height` (`GET /api/blocks/{height}`).
    ///
    /// Errors: [`ClientError::Status`] `404` above the tip.
    pub fn block_header(&self, height: u64) -> Result<BlockHeader, ClientError> {
        let target = format!("/api/blocks/{height}");
        let what = format!("GET {target}");
        let body = self.ok(Method::GET, &target, None, &what)?;
        header(&what, &body)
    }

    /// Has the node make a block now (`POST /api/blocks`); its header.
    ///
    /// Errors: [`ClientError::Status`] `403` on a node that does not allow it.
    pub fn produce_block(&self) -> Result<BlockHeader, ClientError> {
        let what = "POST /api/blocks";
        let body = self.ok(Method::POST, "/api/blocks", Some(String::new()), what)?;
        header(what, &body)
    }

    /// A `2xx` reply's JSON body, asking again while the node is busy or unreachable.
    ///
    /// A `GET` is asked again after any failed exchange. Any other request only when no
    /// connection was made: once it may have reached the node, asking again could do it twice,
    /// so a broken exchange comes back as [`ClientError::Interrupted`] for the caller to look
    /// up (as [`NodeClient::submit`] does).
    fn ok(
        &self,
        method: Method,
        target: &str,
        body: Option<String>,
        what: &str,
    ) -> Result<Json, ClientError> {
        let idempotent = method == Method::GET;
        let deadline = Instant::now() + self.patience;
        let mut backoff = Duration::from_millis(50);
        loop {
            let request = exchange(&self.authority, method.clone(), target, body.clone());
            // No try outlasts the patience left by much (a second at least, to be answered).
            let limit = REQUEST_TIMEOUT.min(
                deadline
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_secs(1)),
            );
            let attempt = self.runtime.block_on(async {
                tokio::time::timeout(limit, request)
                    .await
                    .unwrap_or_else(|_| Err(Failure::Broken(format!("no reply in {limit:?}"))))
            });
            let unreachable = |reason: String| ClientError::Unreachable {
                authority: self.authority.clone(),
                reason,
            };
            let wait = match attempt {
                Ok((status, retry_after, text)) => {
                    let parsed = json::parse(&text).map_err(|e| ClientError::Shape {
                        what: what.to_owned(),
                        reason: e.to_string(),
                    });
                    if status.is_success() {
                        return parsed;
                    }
                    let message = match &parsed {
                        Ok(Json::Object(fields)) => match fields.get("error") {
                            Some(Json::Str(s)) => s.clone(),
                            _ => text.clone(),
                        },
                        _ => text.clone(),
                    };
                    // 503: the pool or queue is full; 429: rate limited (`Retry-After` says
                    // for how long) or the sender has the most pending transactions it may
                    // (until a block takes some). Neither request was acted on.
                    let busy = status == StatusCode::SERVICE_UNAVAILABLE
                        || status == StatusCode::TOO_MANY_REQUESTS;
                    if !busy || Instant::now() >= deadline {
                        return Err(ClientError::Status {
                            status: status.as_u16(),
                            message,
                        });
                    }
                    retry_after.unwrap_or(backoff)
                }
                Err(Failure::Reply(reason)) => {
                    return Err(ClientError::Shape {
                        what: what.to_owned(),
                        reason,
                    });
                }
                Err(Failure::Broken(reason)) if !idempotent => {
                    return Err(ClientError::Interrupted {
                        authority: self.authority.clone(),
                        reason,
                    });
                }
                Err(Failure::Connect(reason) | Failure::Broken(reason)) => {
                    if Instant::now() >= deadline {
                        return Err(unreachable(reason));
                    }
                    backoff.min(MAX_BACKOFF)
                }
            };
            let left = deadline.saturating_duration_since(Instant::now());
            std::thread::sleep(wait.min(left));
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// How one exchange failed.
enum Failure {
    /// No connection was made: the request cannot have reached the node.
    Connect(String),
    /// The exchange broke off (or timed out) after the request may have been sent.
    Broken(String),
    /// A reply came that cannot be read (too large, not UTF-8).
    Reply(String),
}

/// Aborts a spawned task when dropped: the connection of an exchange that timed out.
struct AbortOnDrop(tokio::task::JoinHandle<Result<(), hyper::Error>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One request on a fresh connection: the status, `Retry-After` and the body text.
async fn exchange(
    authority: &str,
    method: Method,
    target: &str,
    body: Option<String>,
) -> Result<(StatusCode, Option<Duration>, String), Failure> {
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| Failure::Connect(e.to_string()))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| Failure::Connect(e.to_string()))?;
    let _driver = AbortOnDrop(tokio::spawn(connection));
    let request = Request::builder()
        .method(method)
        .uri(target)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| Failure::Connect(format!("cannot build the request: {e}")))?;
    let reply = sender
        .send_request(request)
        .await
        .map_err(|e| Failure::Broken(e.to_string()))?;
    let status = reply.status();
    let retry_after = reply
        .headers()
        .get(hyper::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs);
    let limited = http_body_util::Limited::new(reply.into_body(), MAX_REPLY);
    let bytes = limited.collect().await.map_err(|e| {
        if e.is::<http_body_util::LengthLimitError>() {
            Failure::Reply(format!("a reply over {MAX_REPLY} bytes"))
        } else {
            Failure::Broken(format!("reading the reply: {e}"))
        }
    })?;
    let text = String::from_utf8(bytes.to_bytes().to_vec())
        .map_err(|_| Failure::Reply("a reply that is not UTF-8".to_owned()))?;
    Ok((status, retry_after, text))
}

/// Escapes a path for a query string (segments are ASCII letters, digits and `-_.`; anything
/// else is percent-encoded).
fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A block view as its header, checked against the hash the node gives.
fn header(what: &str, body: &Json) -> Result<BlockHeader, ClientError> {
    let shape = Shape { what, body };
    let proposer =
        PublicKey(hex_array(shape.str("proposer")?).ok_or_else(|| shape.bad("proposer"))?);
    let header = BlockHeader {
        chain_id: shape.str("chain_id")?.to_owned(),
        height: shape.uint("height")?,
        parent_hash: shape.hash("parent_hash")?,
        timestamp: shape.uint("timestamp")?,
        tx_root: shape.hash("tx_root")?,
        state_root: shape.hash("state_root")?,
        proposer,
    };
    if header.hash() != shape.hash("hash")? {
        return Err(ClientError::Shape {
            what: what.to_owned(),
            reason: "the header's fields do not hash to the hash the node gives".to_owned(),
        });
    }
    Ok(header)
}

fn hex_array(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// Reads the fields of one reply.
struct Shape<'a> {
    what: &'a str,
    body: &'a Json,
}

impl Shape<'_> {
    fn bad(&self, field: &str) -> ClientError {
        ClientError::Shape {
            what: self.what.to_owned(),
            reason: format!("field `{field}` missing or of the wrong type"),
        }
    }

    fn field(&self, name: &str) -> Result<&Json, ClientError> {
        match self.body {
            Json::Object(fields) => fields.get(name).ok_or_else(|| self.bad(name)),
            _ => Err(self.bad(name)),
        }
    }

    fn str(&self, name: &str) -> Result<&str, ClientError> {
        match self.field(name)? {
            Json::Str(s) => Ok(s),
            _ => Err(self.bad(name)),
        }
    }

    fn uint(&self, name: &str) -> Result<u64, ClientError> {
        match self.field(name)? {
            Json::Int(i) => u64::try_from(*i).map_err(|_| self.bad(name)),
            _ => Err(self.bad(name)),
        }
    }

    fn hash(&self, name: &str) -> Result<Hash, ClientError> {
        hex_array(self.str(name)?).ok_or_else(|| self.bad(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_with_a_port_and_no_path_are_taken() {
        assert!(NodeClient::new("http://127.0.0.1:8545").is_ok());
        assert!(NodeClient::new("http://localhost:8545/").is_ok());
        for bad in [
            "https://127.0.0.1:8545",
            "127.0.0.1:8545",
            "http://127.0.0.1",
            "http://127.0.0.1:port",
            "http://127.0.0.1:8545/api",
            "http://:8545",
        ] {
            assert!(
                matches!(NodeClient::new(bad), Err(ClientError::Url { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn query_paths_are_escaped() {
        assert_eq!(query_escape("/tasks/a b&c"), "/tasks/a%20b%26c");
        assert_eq!(
            query_escape("/accounts/ab12/balance"),
            "/accounts/ab12/balance"
        );
    }
}
