//! One party on the network: a libp2p swarm (TCP, Noise, yamux; request-response of
//! [`frame`](crate::frame)s; identify) run on a thread of its own, driven through a blocking
//! handle.
//!
//! A party's network identity is its ed25519 ledger key: the [`PeerId`] of secret `s` is the
//! one libp2p derives from the ed25519 key with secret `s`, so a peer's ledger address and
//! peer id name the same key ([`peer_id_of`]).
//!
//! Application messages are opaque bytes: the other side's [`Inbound`] answers them with
//! [`Inbound::reply`] or [`Inbound::refuse`]. Blobs are served by digest to the readers named
//! when serving ([`Readers`]) and fetched chunk by chunk, checked ([`crate::blob`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::core::ConnectedPoint;
use libp2p::core::upgrade;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::swarm::{ConnectionId, NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, Transport, identify, identity, noise, tcp, yamux};
use tokio::sync::mpsc;

use crate::NetError;
use crate::blob::{self, Assembly, Digest};
use crate::frame::{FrameCodec, FrameTap, MAX_FRAME, PROTOCOL, Request, Response, TapSlot};
use crate::traffic::{Counted, Counters, Traffic};

/// How a peer starts (its `Debug` leaves the secret out).
#[derive(Clone)]
pub struct PeerConfig {
    /// The 32-byte ed25519 secret of the party's ledger key.
    pub secret: [u8; 32],
    /// Where to listen, say `/ip4/127.0.0.1/tcp/0` (port 0: one the system picks).
    pub listen: Multiaddr,
    /// How long libp2p keeps a request open (the caller's own timeout may be shorter).
    pub request_timeout: Duration,
    /// The most messages from others waiting for this peer's answer; more are refused at
    /// once. 0: a peer that takes no messages (it only asks), all refused.
    pub max_waiting: usize,
}

impl PeerConfig {
    /// A peer of the key with `secret`, listening on `listen`, with requests open up to 10
    /// minutes (a round of training is a request) and up to 64 messages waiting.
    pub fn new(secret: [u8; 32], listen: Multiaddr) -> PeerConfig {
        PeerConfig {
            secret,
            listen,
            request_timeout: Duration::from_secs(600),
            max_waiting: 64,
        }
    }

    /// [`PeerConfig::new`] listening on 127.0.0.1, on a port the system picks.
    pub fn loopback(secret: [u8; 32]) -> PeerConfig {
        let listen = "/ip4/127.0.0.1/tcp/0".parse().expect("a valid multiaddr");
        PeerConfig::new(secret, listen)
    }
}

impl std::fmt::Debug for PeerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConfig")
            .field("peer", &peer_id_of(self.secret).ok())
            .field("listen", &self.listen)
            .field("request_timeout", &self.request_timeout)
            .field("max_waiting", &self.max_waiting)
            .finish()
    }
}

/// Who may fetch a served blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readers {
    /// Any peer.
    Anyone,
    /// These peers only; others are refused.
    Only(BTreeSet<PeerId>),
}

impl Readers {
    fn allow(&self, peer: &PeerId) -> bool {
        match self {
            Readers::Anyone => true,
            Readers::Only(peers) => peers.contains(peer),
        }
    }
}

/// The [`PeerId`] of the ed25519 key with `secret`.
///
/// Errors: [`NetError::Setup`] for a secret libp2p does not take (none is known).
pub fn peer_id_of(secret: [u8; 32]) -> Result<PeerId, NetError> {
    Ok(keypair(secret)?.public().to_peer_id())
}

/// The [`PeerId`] of the party whose ed25519 public key is `public` (a ledger key).
///
/// Errors: [`NetError::Setup`] for bytes that are not an ed25519 point.
pub fn peer_id_of_public(public: [u8; 32]) -> Result<PeerId, NetError> {
    let key = identity::ed25519::PublicKey::try_from_bytes(&public)
        .map_err(|e| NetError::Setup(format!("not an ed25519 public key: {e}")))?;
    Ok(identity::PublicKey::from(key).to_peer_id())
}

fn keypair(secret: [u8; 32]) -> Result<identity::Keypair, NetError> {
    identity::Keypair::ed25519_from_bytes(secret).map_err(|e| NetError::Setup(e.to_string()))
}

/// An application message from another peer, to be answered once; dropped unanswered, it is
/// refused ("dropped unanswered").
#[derive(Debug)]
pub struct Inbound {
    /// The sender, authenticated by the Noise handshake.
    pub peer: PeerId,
    /// The message.
    pub body: Vec<u8>,
    id: u64,
    answered: bool,
    commands: mpsc::UnboundedSender<Command>,
}

impl Inbound {
    /// Answers with `body`.
    ///
    /// Errors: [`NetError::TooLarge`] over [`MAX_FRAME`] (the sender then sees the request
    /// fail), [`NetError::Stopped`].
    pub fn reply(self, body: Vec<u8>) -> Result<(), NetError> {
        let response = Response::App(body);
        let size = response.encode().len();
        if size > MAX_FRAME {
            let reason = format!("the answer of {size} bytes is over the {MAX_FRAME}-byte limit");
            self.answer(Response::Refused(reason))?;
            return Err(NetError::TooLarge {
                size,
                max: MAX_FRAME,
            });
        }
        self.answer(response)
    }

    /// Refuses, saying why.
    ///
    /// Errors: [`NetError::Stopped`].
    pub fn refuse(self, reason: &str) -> Result<(), NetError> {
        self.answer(Response::Refused(reason.to_owned()))
    }

    fn answer(mut self, response: Response) -> Result<(), NetError> {
        self.answered = true;
        self.commands
            .send(Command::Respond {
                id: self.id,
                response,
            })
            .map_err(|_| NetError::Stopped)
    }
}

impl Drop for Inbound {
    fn drop(&mut self) {
        if !self.answered {
            let _ = self.commands.send(Command::Respond {
                id: self.id,
                response: Response::Refused("dropped unanswered".into()),
            });
        }
    }
}

enum Command {
    Dial {
        addr: Multiaddr,
        done: std_mpsc::Sender<Result<PeerId, NetError>>,
    },
    Request {
        peer: PeerId,
        request: Request,
        done: std_mpsc::Sender<Result<Response, NetError>>,
    },
    Respond {
        id: u64,
        response: Response,
    },
    Serve {
        digest: Digest,
        blob: Arc<Vec<u8>>,
        readers: Readers,
    },
    Unserve {
        digest: Digest,
    },
    Connected {
        peer: PeerId,
        done: std_mpsc::Sender<bool>,
    },
    Stop,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    frames: request_response::Behaviour<FrameCodec>,
    identify: identify::Behaviour,
}

/// A running peer; dropping it stops its network thread.
pub struct Peer {
    id: PeerId,
    secret: [u8; 32],
    counters: Arc<Counters>,
    tap: TapSlot,
    addr: Multiaddr,
    commands: Option<mpsc::UnboundedSender<Command>>,
    inbound: Mutex<std_mpsc::Receiver<Inbound>>,
    thread: Option<JoinHandle<()>>,
}

impl Peer {
    /// Starts a peer and waits (up to 10 s) until it listens.
    ///
    /// Errors: [`NetError::Setup`] when the swarm cannot be built; [`NetError::Address`] when
    /// it cannot listen on `config.listen`.
    pub fn start(config: PeerConfig) -> Result<Peer, NetError> {
        let key = keypair(config.secret)?;
        let id = key.public().to_peer_id();
        let secret = config.secret;
        let counters = Arc::new(Counters::default());
        let counted = counters.clone();
        let tap = TapSlot::default();
        let tapped = tap.clone();
        let (commands, rx) = mpsc::unbounded_channel();
        let (inbound_tx, inbound) = std_mpsc::channel();
        let (ready_tx, ready) = std_mpsc::channel();
        let loop_commands = commands.clone();
        let thread = std::thread::Builder::new()
            .name(format!("net-{id}"))
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(NetError::Setup(e.to_string())));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let swarm = match swarm(key, &config, counted, tapped) {
                        Ok(swarm) => swarm,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let state = Driver {
                        swarm,
                        ready: Some(ready_tx),
                        listen: config.listen.clone(),
                        dials: HashMap::new(),
                        requests: HashMap::new(),
                        channels: HashMap::new(),
                        next_inbound: 0,
                        blobs: HashMap::new(),
                        inbound: inbound_tx,
                        max_waiting: config.max_waiting,
                        commands: loop_commands,
                    };
                    state.run(rx).await;
                });
            })
            .map_err(|e| NetError::Setup(e.to_string()))?;
        let addr = match ready.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(addr)) => addr,
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(NetError::Setup("the swarm did not start listening".into())),
        };
        Ok(Peer {
            id,
            secret,
            counters,
            tap,
            addr,
            commands: Some(commands),
            inbound: Mutex::new(inbound),
            thread: Some(thread),
        })
    }

    /// Calls `tap` with the body of every frame this peer writes from now on (each request
    /// and response of its protocol, as [`crate::frame`] encodes it, before Noise encrypts
    /// it: an audit of what a party sends; a blob's chunks are as sealed as the party made
    /// them), or, with `None`, stops. The tap runs on the network thread: it must be quick.
    pub fn tap_frames(&self, tap: Option<FrameTap>) {
        *self.tap.write().unwrap_or_else(|e| e.into_inner()) = tap;
    }

    /// This peer's id.
    pub fn id(&self) -> PeerId {
        self.id
    }

    /// Bytes its TCP connections have carried so far, Noise and yamux framing included.
    pub fn traffic(&self) -> Traffic {
        self.counters.read()
    }

    /// Where others reach it: its listen address with `/p2p/<id>`.
    pub fn address(&self) -> Multiaddr {
        self.addr
            .clone()
            .with(libp2p::multiaddr::Protocol::P2p(self.id))
    }

    /// `plaintext` sealed to peer `to` under this peer's key, for `to` alone to open
    /// ([`crate::seal::seal`]).
    pub fn seal(&self, to: &PeerId, plaintext: &[u8]) -> Result<Vec<u8>, NetError> {
        crate::seal::seal(self.secret, to, plaintext)
    }

    /// A blob peer `from` sealed to this peer, opened ([`crate::seal::open`]).
    pub fn open(&self, from: &PeerId, sealed: &[u8]) -> Result<Vec<u8>, NetError> {
        crate::seal::open(self.secret, from, sealed)
    }

    fn send(&self, command: Command) -> Result<(), NetError> {
        self.commands
            .as_ref()
            .ok_or(NetError::Stopped)?
            .send(command)
            .map_err(|_| NetError::Stopped)
    }

    /// Connects to the peer at `addr` and waits until the connection stands; its id (which
    /// must equal a `/p2p/` part of `addr`, if any).
    ///
    /// Errors: [`NetError::Address`] when the dial fails, [`NetError::Timeout`] past `timeout`.
    pub fn dial(&self, addr: Multiaddr, timeout: Duration) -> Result<PeerId, NetError> {
        let (done, rx) = std_mpsc::channel();
        let expected = addr.iter().find_map(|p| match p {
            libp2p::multiaddr::Protocol::P2p(id) => Some(id),
            _ => None,
        });
        self.send(Command::Dial { addr, done })?;
        rx.recv_timeout(timeout).map_err(|_| NetError::Timeout {
            peer: expected.unwrap_or(self.id),
            seconds: timeout.as_secs_f64(),
        })?
    }

    /// Whether a connection to `peer` stands now (dialled by either side).
    ///
    /// Errors: [`NetError::Stopped`] when the network thread is gone, [`NetError::Timeout`]
    /// when it does not answer within 10 s (busy, not gone).
    pub fn connected(&self, peer: PeerId) -> Result<bool, NetError> {
        let (done, rx) = std_mpsc::channel();
        self.send(Command::Connected { peer, done })?;
        let wait = Duration::from_secs(10);
        rx.recv_timeout(wait).map_err(|e| match e {
            std_mpsc::RecvTimeoutError::Disconnected => NetError::Stopped,
            std_mpsc::RecvTimeoutError::Timeout => NetError::Timeout {
                peer,
                seconds: wait.as_secs_f64(),
            },
        })
    }

    fn ask(&self, peer: PeerId, request: Request, timeout: Duration) -> Result<Response, NetError> {
        let size = request.encode().len();
        if size > MAX_FRAME {
            return Err(NetError::TooLarge {
                size,
                max: MAX_FRAME,
            });
        }
        let (done, rx) = std_mpsc::channel();
        self.send(Command::Request {
            peer,
            request,
            done,
        })?;
        rx.recv_timeout(timeout).map_err(|_| NetError::Timeout {
            peer,
            seconds: timeout.as_secs_f64(),
        })?
    }

    /// Sends `body` to `peer` and waits up to `timeout` for its answer.
    ///
    /// Errors: [`NetError::TooLarge`] for a body over [`MAX_FRAME`] (nothing is sent),
    /// [`NetError::Refused`] with the peer's reason, [`NetError::Timeout`],
    /// [`NetError::Failed`] when libp2p could not deliver it.
    pub fn request(
        &self,
        peer: PeerId,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, NetError> {
        match self.ask(peer, Request::App(body), timeout)? {
            Response::App(body) => Ok(body),
            Response::Refused(reason) => Err(NetError::Refused { peer, reason }),
            Response::Chunk { .. } => {
                Err(NetError::Malformed("a chunk in answer to a message".into()))
            }
        }
    }

    /// The next application message from another peer, waiting up to `timeout`.
    pub fn next_inbound(&self, timeout: Duration) -> Option<Inbound> {
        let inbound = self.inbound.lock().unwrap_or_else(|e| e.into_inner());
        inbound.recv_timeout(timeout).ok()
    }

    /// Serves `blob` to `readers` under its digest (which it returns) until
    /// [`Peer::unserve`].
    ///
    /// Errors: [`NetError::Blob`] over [`blob::MAX_BLOB`] bytes, [`NetError::Stopped`].
    pub fn serve(&self, blob: Arc<Vec<u8>>, readers: Readers) -> Result<Digest, NetError> {
        let digest = Digest::of(&blob);
        if blob.len() as u64 > blob::MAX_BLOB {
            return Err(NetError::Blob {
                digest,
                reason: format!("{} bytes, over {}", blob.len(), blob::MAX_BLOB),
            });
        }
        self.send(Command::Serve {
            digest,
            blob,
            readers,
        })?;
        Ok(digest)
    }

    /// Stops serving the blob with `digest`.
    ///
    /// Errors: [`NetError::Stopped`].
    pub fn unserve(&self, digest: Digest) -> Result<(), NetError> {
        self.send(Command::Unserve { digest })
    }

    /// Fetches the blob with `digest` from `peer`, chunk by chunk, within `timeout` in all;
    /// its bytes, checked against the digest. A blob over `max` bytes is refused at its first
    /// chunk, before more is asked for.
    ///
    /// Errors: [`NetError::Refused`] (say, a peer not among the readers, or a blob it does not
    /// serve), [`NetError::Blob`] for a blob over `max`, chunks that do not fit or bytes that
    /// do not hash to `digest`, [`NetError::Timeout`], [`NetError::Failed`].
    pub fn fetch(
        &self,
        peer: PeerId,
        digest: Digest,
        max: u64,
        timeout: Duration,
    ) -> Result<Vec<u8>, NetError> {
        let deadline = Instant::now() + timeout;
        let mut assembly = Assembly::new(digest, max);
        while let Some(index) = assembly.next() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.ask(peer, Request::Chunk { digest, index }, left)? {
                Response::Chunk { total, bytes } => assembly.add(total, &bytes)?,
                Response::Refused(reason) => return Err(NetError::Refused { peer, reason }),
                Response::App(_) => {
                    return Err(NetError::Malformed(
                        "a message in answer to a chunk request".into(),
                    ));
                }
            }
        }
        assembly.finish()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // Answers not yet sent hold the command channel open: stop the loop by name.
        if let Some(commands) = self.commands.take() {
            let _ = commands.send(Command::Stop);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn swarm(
    key: identity::Keypair,
    config: &PeerConfig,
    counters: Arc<Counters>,
    tap: TapSlot,
) -> Result<Swarm<Behaviour>, NetError> {
    let setup = |e: &dyn std::fmt::Display| NetError::Setup(e.to_string());
    let frames = request_response::Behaviour::with_codec(
        FrameCodec::tapped(tap),
        [(PROTOCOL, ProtocolSupport::Full)],
        request_response::Config::default().with_request_timeout(config.request_timeout),
    );
    // What SwarmBuilder's with_tcp builds (TCP, Noise, yamux, a 10 s connection-setup
    // timeout), with the byte count underneath Noise.
    let transport = tcp::tokio::Transport::new(tcp::Config::default().nodelay(true))
        .map(move |stream, _| Counted::new(stream, counters.clone()))
        .upgrade(upgrade::Version::V1Lazy)
        .authenticate(noise::Config::new(&key).map_err(|e| setup(&e))?)
        .multiplex(yamux::Config::default())
        .timeout(Duration::from_secs(10))
        .boxed();
    let behaviour = Behaviour {
        frames,
        identify: identify::Behaviour::new(identify::Config::new("/zkfl/1".into(), key.public())),
    };
    let mut swarm = Swarm::new(
        transport,
        behaviour,
        key.public().to_peer_id(),
        libp2p::swarm::Config::with_tokio_executor()
            .with_idle_connection_timeout(Duration::from_secs(3600)),
    );
    swarm
        .listen_on(config.listen.clone())
        .map_err(|e| NetError::Address {
            addr: config.listen.to_string(),
            reason: e.to_string(),
        })?;
    Ok(swarm)
}

/// The network thread's state.
struct Driver {
    swarm: Swarm<Behaviour>,
    ready: Option<std_mpsc::Sender<Result<Multiaddr, NetError>>>,
    listen: Multiaddr,
    dials: HashMap<ConnectionId, std_mpsc::Sender<Result<PeerId, NetError>>>,
    requests: HashMap<OutboundRequestId, (PeerId, std_mpsc::Sender<Result<Response, NetError>>)>,
    channels: HashMap<u64, ResponseChannel<Response>>,
    next_inbound: u64,
    blobs: HashMap<Digest, (Arc<Vec<u8>>, Readers)>,
    inbound: std_mpsc::Sender<Inbound>,
    max_waiting: usize,
    commands: mpsc::UnboundedSender<Command>,
}

impl Driver {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Stop) | None => break,
                    Some(command) => self.command(command),
                },
                event = self.swarm.select_next_some() => self.event(event),
            }
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Connected { peer, done } => {
                let _ = done.send(self.swarm.is_connected(&peer));
            }
            Command::Dial { addr, done } => {
                let opts = DialOpts::from(addr.clone());
                let id = opts.connection_id();
                match self.swarm.dial(opts) {
                    Ok(()) => {
                        self.dials.insert(id, done);
                    }
                    Err(e) => {
                        let _ = done.send(Err(NetError::Address {
                            addr: addr.to_string(),
                            reason: e.to_string(),
                        }));
                    }
                }
            }
            Command::Request {
                peer,
                request,
                done,
            } => {
                let id = self
                    .swarm
                    .behaviour_mut()
                    .frames
                    .send_request(&peer, request);
                self.requests.insert(id, (peer, done));
            }
            Command::Respond { id, response } => {
                if let Some(channel) = self.channels.remove(&id)
                    && self
                        .swarm
                        .behaviour_mut()
                        .frames
                        .send_response(channel, response)
                        .is_err()
                {
                    tracing::debug!("an answer whose requester has gone");
                }
            }
            Command::Serve {
                digest,
                blob,
                readers,
            } => {
                self.blobs.insert(digest, (blob, readers));
            }
            Command::Unserve { digest } => {
                self.blobs.remove(&digest);
            }
            Command::Stop => {}
        }
    }

    fn event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                if let Some(ready) = self.ready.take() {
                    let _ = ready.send(Ok(address));
                }
            }
            SwarmEvent::ListenerError { error, .. }
            | SwarmEvent::ListenerClosed {
                reason: Err(error), ..
            } => {
                let e = NetError::Address {
                    addr: self.listen.to_string(),
                    reason: error.to_string(),
                };
                match self.ready.take() {
                    Some(ready) => {
                        let _ = ready.send(Err(e));
                    }
                    None => tracing::warn!("{e}"),
                }
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } => {
                if let ConnectedPoint::Dialer { address, .. } = &endpoint {
                    self.swarm.add_peer_address(peer_id, address.clone());
                }
                if let Some(done) = self.dials.remove(&connection_id) {
                    let _ = done.send(Ok(peer_id));
                }
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                error,
                ..
            } => {
                if let Some(done) = self.dials.remove(&connection_id) {
                    let _ = done.send(Err(NetError::Address {
                        addr: String::new(),
                        reason: error.to_string(),
                    }));
                }
            }
            SwarmEvent::IncomingConnectionError { error, .. } => {
                tracing::debug!("an incoming connection failed: {error}");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Frames(event)) => self.frames(event),
            _ => {}
        }
    }

    fn frames(&mut self, event: request_response::Event<Request, Response>) {
        use request_response::{Event, Message};
        match event {
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => match request {
                Request::App(body) => {
                    if self.channels.len() >= self.max_waiting {
                        let reason = match self.max_waiting {
                            0 => "this peer takes no messages".to_owned(),
                            n => format!("{n} messages are waiting already"),
                        };
                        tracing::info!("refused a message from {peer}: {reason}");
                        let _ = self
                            .swarm
                            .behaviour_mut()
                            .frames
                            .send_response(channel, Response::Refused(reason));
                        return;
                    }
                    let id = self.next_inbound;
                    self.next_inbound += 1;
                    self.channels.insert(id, channel);
                    let inbound = Inbound {
                        peer,
                        body,
                        id,
                        answered: false,
                        commands: self.commands.clone(),
                    };
                    if self.inbound.send(inbound).is_err() {
                        self.channels.remove(&id);
                    }
                }
                Request::Chunk { digest, index } => {
                    let response = self.chunk(&peer, digest, index);
                    if self
                        .swarm
                        .behaviour_mut()
                        .frames
                        .send_response(channel, response)
                        .is_err()
                    {
                        tracing::debug!("a chunk whose requester has gone");
                    }
                }
            },
            Event::Message {
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some((_, done)) = self.requests.remove(&request_id) {
                    let _ = done.send(Ok(response));
                }
            }
            Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if let Some((_, done)) = self.requests.remove(&request_id) {
                    let _ = done.send(Err(NetError::Failed {
                        peer,
                        reason: error.to_string(),
                    }));
                }
            }
            Event::InboundFailure { peer, error, .. } => {
                tracing::info!("a request from {peer} dropped: {error}");
            }
            Event::ResponseSent { .. } => {}
        }
    }

    fn chunk(&self, peer: &PeerId, digest: Digest, index: u32) -> Response {
        let Some((blob, readers)) = self.blobs.get(&digest) else {
            return Response::Refused(format!("no blob {digest} here"));
        };
        if !readers.allow(peer) {
            tracing::info!("refused blob {digest} to {peer}: not among its readers");
            return Response::Refused(format!("{peer} may not read blob {digest}"));
        }
        match blob::chunk(blob, index) {
            Some(bytes) => Response::Chunk {
                total: blob.len() as u64,
                bytes: bytes.to_vec(),
            },
            None => Response::Refused(format!("blob {digest} has no chunk {index}")),
        }
    }
}
