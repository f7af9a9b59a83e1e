//! The HTTP routes, input checks and error replies (the API is specified in [`super`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path as UrlPath, Query, Request, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use serde::Deserialize;

use crate::account::Address;
use crate::config::ConfigKind;
use crate::json::{self, Json};
use crate::ledger::LedgerError;
use crate::mempool::MempoolError;
use crate::path::{Path, PathPattern};
use crate::store::Hash;
use crate::task::{TaskSpec, task_path};
use crate::tx::{SignedTransaction, TxError};

use super::NodeConfig;
use super::host::{LedgerClient, Msg, Unavailable};
use super::rate_limit::RateLimiter;
use super::views::{self, object};

/// An error reply: a status and a one-line reason, sent as `{"error": reason}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<Unavailable> for ApiError {
    fn from(e: Unavailable) -> ApiError {
        let reason = match e {
            Unavailable::Busy => "node busy: too many queued requests, retry later",
            Unavailable::Stopped => "node is shutting down",
        };
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, reason)
    }
}

fn json_response(status: StatusCode, body: &Json) -> Response {
    let headers = [(CONTENT_TYPE, HeaderValue::from_static("application/json"))];
    (status, headers, json::to_canonical(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let line = self.message.replace(['\n', '\r'], " ");
        json_response(self.status, &object([("error", Json::Str(line))]))
    }
}

/// A successful reply.
struct Reply(StatusCode, Json);

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        json_response(self.0, &self.1)
    }
}

type ApiResult = Result<Reply, ApiError>;

fn ok(body: Json) -> ApiResult {
    Ok(Reply(StatusCode::OK, body))
}

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    ledger: LedgerClient,
    limiter: Option<Arc<RateLimiter>>,
    max_body_bytes: usize,
    body_timeout: Duration,
    allow_block_requests: bool,
}

impl AppState {
    pub(crate) fn new(tx: Sender<Msg>, config: &NodeConfig) -> AppState {
        AppState {
            ledger: LedgerClient::new(tx, config.max_queued_requests),
            limiter: config.rate_limit.map(|l| Arc::new(RateLimiter::new(l))),
            max_body_bytes: config.max_body_bytes,
            body_timeout: config.body_timeout,
            allow_block_requests: config.allow_block_requests,
        }
    }
}

/// The API routes, rate limited when configured.
pub(crate) fn router(state: AppState) -> Router {
    let limiter = state.limiter.clone();
    let router = Router::new()
        .route("/api/status", get(get_status))
        .route("/api/tx", post(post_tx))
        .route("/api/tx/{hash}", get(get_tx))
        .route("/api/value", get(get_value))
        .route("/api/rule", get(get_rule))
        .route("/api/function", get(get_function))
        .route("/api/owner", get(get_owner))
        .route("/api/blocks", post(post_block))
        .route("/api/blocks/{height}", get(get_block))
        .route("/api/accounts/{address}", get(get_account))
        .route("/api/tasks", post(post_task))
        .route("/api/tasks/{id}", get(get_task))
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .with_state(state);
    match limiter {
        Some(limiter) => router.layer(middleware::from_fn_with_state(limiter, rate_limit)),
        None => router,
    }
}

async fn rate_limit(State(limiter): State<Arc<RateLimiter>>, req: Request, next: Next) -> Response {
    if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>()
        && let Err(wait) = limiter.check(peer.ip(), Instant::now())
    {
        let mut reply = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate limited: too many requests from this address",
        )
        .into_response();
        if let Some(wait) = wait {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            reply
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        return reply;
    }
    next.run(req).await
}

async fn unknown_route() -> ApiError {
    ApiError::not_found("no such endpoint")
}

async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed for this endpoint",
    )
}

/// Reads at most `limit` bytes; a larger body is read on (up to four times the limit, so the
/// client sees the reply rather than a reset) and refused.
async fn collect_limited(mut body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    let drain_cap = limit.saturating_mul(4);
    let mut buf = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::bad_request(format!("cannot read the body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            seen = seen.saturating_add(data.len());
            if seen <= limit {
                buf.extend_from_slice(&data);
            } else if seen > drain_cap {
                break;
            }
        }
    }
    if seen > limit {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body too large: more than {limit} bytes"),
        ));
    }
    Ok(buf)
}

async fn read_body(state: &AppState, body: Body) -> Result<Vec<u8>, ApiError> {
    tokio::time::timeout(
        state.body_timeout,
        collect_limited(body, state.max_body_bytes),
    )
    .await
    .map_err(|_| ApiError::new(StatusCode::REQUEST_TIMEOUT, "body not received in time"))?
}

/// Decodes `{"tx": "<hex>"}` into a signed transaction.
fn decode_tx_body(bytes: &[u8]) -> Result<SignedTransaction, ApiError> {
    let shape = "the body must be {\"tx\": \"<hex of the encoded signed transaction>\"}";
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ApiError::bad_request(format!("the body is not UTF-8: {e}")))?;
    let parsed = json::parse(text).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let hex_text = match parsed {
        Json::Object(fields) if fields.len() == 1 => match fields.get("tx") {
            Some(Json::Str(s)) => s.clone(),
            _ => return Err(ApiError::bad_request(shape)),
        },
        _ => return Err(ApiError::bad_request(shape)),
    };
    let raw =
        hex::decode(&hex_text).map_err(|e| ApiError::bad_request(format!("tx is not hex: {e}")))?;
    SignedTransaction::decode(&raw).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// The reply status for a refused submission.
fn submit_error(e: LedgerError) -> ApiError {
    let status = match &e {
        LedgerError::Tx(TxError::Decode(_) | TxError::TooLarge { .. }) => StatusCode::BAD_REQUEST,
        LedgerError::Tx(_) => StatusCode::UNPROCESSABLE_ENTITY,
        LedgerError::Mempool(MempoolError::Full(_)) => StatusCode::SERVICE_UNAVAILABLE,
        LedgerError::Mempool(MempoolError::SenderFull { .. }) => StatusCode::TOO_MANY_REQUESTS,
        LedgerError::CannotPayFee { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        LedgerError::Mempool(_) | LedgerError::StaleNonce { .. } | LedgerError::NonceGap { .. } => {
            StatusCode::CONFLICT
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    ApiError::new(status, e.to_string())
}

fn pending_reply(hash: Hash, id: Option<String>) -> ApiResult {
    let mut body = object([
        ("hash", Json::Str(hex::encode(hash))),
        ("status", Json::Str("pending".to_owned())),
    ]);
    if let (Json::Object(fields), Some(id)) = (&mut body, id) {
        fields.insert("id".to_owned(), Json::Str(id));
    }
    Ok(Reply(StatusCode::ACCEPTED, body))
}

async fn post_tx(State(state): State<AppState>, body: Body) -> ApiResult {
    let signed = decode_tx_body(&read_body(&state, body).await?)?;
    let hash = state
        .ledger
        .call(move |host| host.ledger.submit(signed))
        .await?
        .map_err(submit_error)?;
    pending_reply(hash, None)
}

async fn post_task(State(state): State<AppState>, body: Body) -> ApiResult {
    let signed = decode_tx_body(&read_body(&state, body).await?)?;
    let spec = TaskSpec::from_create_op(&signed.tx.ops, &signed.tx.from)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    let id = spec.id;
    let owner_path =
        task_path(&id, &["owner"]).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let task_id = id.clone();
    let hash = state
        .ledger
        .call(move |host| {
            if !host.ledger.get_value(&owner_path).is_absent() {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!("task {task_id} already exists"),
                ));
            }
            host.ledger.submit(signed).map_err(submit_error)
        })
        .await??;
    pending_reply(hash, Some(id))
}

fn parse_hash(text: &str) -> Result<Hash, ApiError> {
    let mut hash = [0u8; 32];
    if text.len() != 64
        || text.bytes().any(|b| b.is_ascii_uppercase())
        || hex::decode_to_slice(text, &mut hash).is_err()
    {
        return Err(ApiError::bad_request(format!(
            "bad transaction hash {text:?}: expected 64 lowercase hex digits"
        )));
    }
    Ok(hash)
}

fn url_segment(arg: Result<UrlPath<String>, PathRejection>) -> Result<String, ApiError> {
    arg.map(|UrlPath(s)| s)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

async fn get_tx(
    State(state): State<AppState>,
    hash: Result<UrlPath<String>, PathRejection>,
) -> ApiResult {
    let hash = parse_hash(&url_segment(hash)?)?;
    ok(state
        .ledger
        .call(move |host| views::receipt(host, &hash))
        .await??)
}

/// The `?path=` of the look-up endpoints.
#[derive(Deserialize)]
struct PathQuery {
    path: Option<String>,
}

fn query_path(query: Result<Query<PathQuery>, QueryRejection>) -> Result<String, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    q.path
        .ok_or_else(|| ApiError::bad_request("missing query parameter `path`"))
}

async fn get_value(
    State(state): State<AppState>,
    query: Result<Query<PathQuery>, QueryRejection>,
) -> ApiResult {
    let text = query_path(query)?;
    let path = Path::parse(&text).map_err(|e| ApiError::bad_request(e.to_string()))?;
    ok(state
        .ledger
        .call(move |host| views::value(host, &path))
        .await??)
}

async fn get_config(
    state: AppState,
    kind: ConfigKind,
    query: Result<Query<PathQuery>, QueryRejection>,
) -> ApiResult {
    let text = query_path(query)?;
    let pattern = PathPattern::parse(&text).map_err(|e| ApiError::bad_request(e.to_string()))?;
    ok(state
        .ledger
        .call(move |host| views::config(host, kind, &pattern))
        .await??)
}

async fn get_rule(
    State(state): State<AppState>,
    query: Result<Query<PathQuery>, QueryRejection>,
) -> ApiResult {
    get_config(state, ConfigKind::Rule, query).await
}

async fn get_function(
    State(state): State<AppState>,
    query: Result<Query<PathQuery>, QueryRejection>,
) -> ApiResult {
    get_config(state, ConfigKind::Function, query).await
}

async fn get_owner(
    State(state): State<AppState>,
    query: Result<Query<PathQuery>, QueryRejection>,
) -> ApiResult {
    get_config(state, ConfigKind::Owner, query).await
}

async fn get_block(
    State(state): State<AppState>,
    height: Result<UrlPath<String>, PathRejection>,
) -> ApiResult {
    let text = url_segment(height)?;
    let height = match text.as_str() {
        "latest" => None,
        digits => Some(digits.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!(
                "bad block height {digits:?}: expected a number or `latest`"
            ))
        })?),
    };
    ok(state
        .ledger
        .call(move |host| views::block_at(host, height))
        .await??)
}

async fn post_block(State(state): State<AppState>) -> ApiResult {
    if !state.allow_block_requests {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "on-demand blocks are disabled on this node",
        ));
    }
    let block = state
        .ledger
        .call(|host| host.produce_block())
        .await?
        .map_err(|e| ApiError::internal(format!("block production failed: {e}")))?;
    let hashes: Vec<Hash> = block.txs.iter().map(|tx| tx.hash()).collect();
    ok(views::block(&block.header, &hashes))
}

async fn get_account(
    State(state): State<AppState>,
    address: Result<UrlPath<String>, PathRejection>,
) -> ApiResult {
    let text = url_segment(address)?;
    let addr: Address = text
        .parse()
        .map_err(|e: crate::account::AddressError| ApiError::bad_request(e.to_string()))?;
    ok(state
        .ledger
        .call(move |host| views::account(host, &addr))
        .await?)
}

async fn get_task(
    State(state): State<AppState>,
    id: Result<UrlPath<String>, PathRejection>,
) -> ApiResult {
    let id = url_segment(id)?;
    task_path(&id, &[]).map_err(|e| ApiError::bad_request(e.to_string()))?;
    ok(state
        .ledger
        .call(move |host| views::task(host, &id))
        .await??)
}

async fn get_status(State(state): State<AppState>) -> ApiResult {
    ok(state.ledger.call(views::status).await?)
}
