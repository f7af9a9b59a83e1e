//! The driver's [`Transport`] over libp2p ([`net`]): the owner and every provider are
//! [`Peer`]s, each with the identity of its ledger key; a request goes to each provider as a
//! [`wire`] message, its blobs (the global model, ceremony parameters) sealed to that
//! provider's key and served to it alone; a provider's [`ProviderServer`] answers the task's
//! owner alone, and seals the blobs of its reply (its update) to the owner and serves them to
//! the owner alone. A blob that does not open (not sealed by the other side to this one, or
//! altered) is a blob that did not arrive. Each request carries the owner's sequence number
//! (microseconds since the Unix epoch when the transport started, plus one a request, so an
//! owner restarted on a clock that has not stepped back goes on above it), and a provider's
//! [`ReplayGuard`] refuses one not above the last it took: a replayed request. (Noise already
//! keeps anyone without the owner's key from sending as the owner; the guard is for a request
//! the owner's side sends twice. A provider remembers the last number while it runs.)
//!
//! A provider that does not answer in time, whose reply does not decode or whose blobs do not
//! arrive, are over their size or do not match their digest is a provider that did not
//! answer (`None`, logged with the reason), as [`Transport::broadcast`] says. Deadlines here
//! are the wall clock's: the network does not wait on a simulated [`super::clock::Clock`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use net::{Digest, Peer, PeerId, Readers};

use super::transport::{Reply, Request, Transport};
use super::wire::{self, Blobs};

/// How long a provider waits for the blobs of one request.
const FETCH: Duration = Duration::from_secs(120);
/// How often a server looks up from its inbox to see whether it should stop.
const POLL: Duration = Duration::from_millis(100);

/// The owner's side: requests to the providers' peers.
pub struct NetTransport {
    peer: Arc<Peer>,
    providers: BTreeMap<usize, PeerId>,
    sequence: AtomicU64,
}

impl NetTransport {
    /// A transport from the owner's `peer` to the providers' peers, by client index (already
    /// dialled, or reachable at addresses the peer knows).
    pub fn new(peer: Arc<Peer>, providers: BTreeMap<usize, PeerId>) -> NetTransport {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros();
        NetTransport {
            peer,
            providers,
            sequence: AtomicU64::new(u64::try_from(now).unwrap_or(u64::MAX / 2)),
        }
    }

    /// The owner's peer.
    pub fn peer(&self) -> &Arc<Peer> {
        &self.peer
    }

    /// Sends `request` to provider `client`, its blobs sealed to it, and reads its reply.
    fn ask(&self, client: usize, request: &Request, deadline: Instant) -> Option<Reply> {
        let Some(&id) = self.providers.get(&client) else {
            tracing::warn!("provider {client} has no peer");
            return None;
        };
        let mut serve = Serve::new(&self.peer, id);
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let reply = wire::encode_request(request, sequence, &mut serve).and_then(|message| {
            let left = deadline.saturating_duration_since(Instant::now());
            let bytes = self.peer.request(id, message, left)?;
            let mut blobs = Fetch {
                peer: &self.peer,
                from: id,
                deadline,
            };
            wire::decode_reply(&bytes, &mut blobs)
        });
        serve.unserve();
        match reply {
            Ok(reply) => Some(reply),
            Err(why) => {
                tracing::warn!("provider {client} ({id}) did not answer: {why:#}");
                None
            }
        }
    }
}

impl Transport for NetTransport {
    fn broadcast(&self, to: &[usize], request: &Request, timeout: Duration) -> Vec<Option<Reply>> {
        let now = Instant::now();
        // A timeout past what an Instant holds waits as long as a day.
        let deadline = now
            .checked_add(timeout)
            .unwrap_or(now + Duration::from_secs(86_400));
        // One thread a provider: each waits on the network, not on a core.
        std::thread::scope(|s| {
            let asks: Vec<_> = to
                .iter()
                .map(|&client| (client, s.spawn(move || self.ask(client, request, deadline))))
                .collect();
            asks.into_iter()
                .map(|(client, ask)| {
                    ask.join().unwrap_or_else(|_| {
                        tracing::error!("the request to provider {client} panicked");
                        None
                    })
                })
                .collect()
        })
    }
}

/// Seals a message's blobs to one reader and serves them to it alone.
struct Serve<'a> {
    peer: &'a Peer,
    to: PeerId,
    served: Vec<Digest>,
}

impl<'a> Serve<'a> {
    fn new(peer: &'a Peer, to: PeerId) -> Serve<'a> {
        Serve {
            peer,
            to,
            served: Vec::new(),
        }
    }

    /// Stops serving what it served.
    fn unserve(&mut self) {
        for digest in self.served.drain(..) {
            let _ = self.peer.unserve(digest);
        }
    }
}

impl Blobs for Serve<'_> {
    fn put(&mut self, bytes: Vec<u8>) -> Result<[u8; 32]> {
        let sealed = self.peer.seal(&self.to, &bytes)?;
        let readers = Readers::Only(BTreeSet::from([self.to]));
        let digest = self.peer.serve(Arc::new(sealed), readers)?;
        self.served.push(digest);
        Ok(digest.0)
    }

    fn get(&mut self, _: [u8; 32], _: u64) -> Result<Vec<u8>> {
        anyhow::bail!("a message being sent fetches nothing")
    }
}

/// Fetches a message's blobs from its sender.
struct Fetch<'a> {
    peer: &'a Peer,
    from: PeerId,
    deadline: Instant,
}

impl Blobs for Fetch<'_> {
    fn put(&mut self, _: Vec<u8>) -> Result<[u8; 32]> {
        anyhow::bail!("a message being read serves nothing")
    }

    fn get(&mut self, digest: [u8; 32], max: u64) -> Result<Vec<u8>> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let max = max.saturating_add(net::seal::OVERHEAD as u64);
        let sealed = self.peer.fetch(self.from, Digest(digest), max, left)?;
        Ok(self.peer.open(&self.from, &sealed)?)
    }
}

/// A provider's side: answers the owner's requests with `handle`, on a thread of its own,
/// until dropped (dropping waits for the request in hand, a round of training, say); a
/// request `handle` gives no reply for (a provider that declines) is refused. Messages from
/// any other peer, replayed requests (a sequence number not above the last taken) and
/// requests that do not decode, or whose blobs do not arrive or open, are refused with the
/// reason (and logged). The blobs of a reply stay served until the next request comes (the
/// owner asks one thing at a time) or the server stops.
pub struct ProviderServer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ProviderServer {
    /// Starts answering the messages `peer` receives from `owner` with `handle`.
    pub fn start(
        peer: Arc<Peer>,
        owner: PeerId,
        mut handle: impl FnMut(&Request) -> Option<Reply> + Send + 'static,
    ) -> ProviderServer {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut served = Serve::new(&peer, owner);
            let mut guard = ReplayGuard::default();
            while !stopping.load(Ordering::Relaxed) {
                let Some(inbound) = peer.next_inbound(POLL) else {
                    continue;
                };
                if inbound.peer != owner {
                    tracing::info!(
                        "refused a message from {}: not the task's owner",
                        inbound.peer
                    );
                    let _ = inbound.refuse("not the task's owner");
                    continue;
                }
                // The sequence number first: a replay fetches nothing and unserves nothing.
                let admitted = wire::request_sequence(&inbound.body).and_then(|s| {
                    anyhow::ensure!(guard.admit(s), "a replayed request");
                    // The owner has the previous reply's blobs by now: it asks one thing at
                    // a time.
                    served.unserve();
                    let mut fetch = Fetch {
                        peer: &peer,
                        from: owner,
                        deadline: Instant::now() + FETCH,
                    };
                    wire::decode_request(&inbound.body, &mut fetch)
                });
                let request = match admitted {
                    Ok((_, request)) => request,
                    Err(why) => {
                        tracing::warn!("refused a request from the owner: {why:#}");
                        let _ = inbound.refuse(&format!("{why:#}"));
                        continue;
                    }
                };
                let Some(reply) = handle(&request) else {
                    let _ = inbound.refuse("it does not answer");
                    continue;
                };
                let message = wire::encode_reply(&reply, &mut served);
                let sent = match message {
                    Ok(message) => inbound.reply(message),
                    Err(why) => inbound.refuse(&format!("{why:#}")),
                };
                if let Err(why) = sent {
                    tracing::warn!("the reply did not go out: {why}");
                }
            }
            served.unserve();
        });
        ProviderServer {
            stop,
            thread: Some(thread),
        }
    }
}

/// What a provider remembers of the owner's sequence numbers: it takes each number once, and
/// only above every number taken before.
#[derive(Debug, Default)]
pub struct ReplayGuard {
    last: Option<u64>,
}

impl ReplayGuard {
    /// Whether a request numbered `sequence` is new; if it is, it is taken.
    pub fn admit(&mut self, sequence: u64) -> bool {
        let new = self.last.is_none_or(|last| sequence > last);
        if new {
            self.last = Some(sequence);
        }
        new
    }
}

impl Drop for ProviderServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use net::PeerConfig;

    use super::*;

    const WAIT: Duration = Duration::from_secs(20);

    #[test]
    fn the_guard_takes_each_sequence_number_once_and_only_rising() {
        let mut guard = ReplayGuard::default();
        assert!(guard.admit(5), "the first");
        assert!(!guard.admit(5), "the same again");
        assert!(!guard.admit(4), "a lower one");
        assert!(guard.admit(6), "the next");
        assert!(guard.admit(100), "a higher one");
        assert!(!guard.admit(99), "below the last");
        assert!(ReplayGuard::default().admit(0), "zero first");
    }

    #[test]
    fn a_message_blob_is_sealed_to_its_reader_and_served_to_it_alone() {
        let peer = |seed| Peer::start(PeerConfig::loopback([seed; 32])).unwrap();
        let (owner, provider, other) = (peer(21), peer(22), peer(23));
        let model: Vec<u8> = (0..5000u32)
            .flat_map(|i| (i as f32).to_le_bytes())
            .collect();
        let mut serve = Serve::new(&owner, provider.id());
        let digest = serve.put(model.clone()).unwrap();

        // Another provider of the task may not fetch it.
        let id = other.dial(owner.address(), WAIT).unwrap();
        assert!(matches!(
            other.fetch(id, Digest(digest), u64::MAX, WAIT),
            Err(net::NetError::Refused { .. })
        ));
        // Its reader gets sealed bytes, which open for it as from the owner.
        let id = provider.dial(owner.address(), WAIT).unwrap();
        let raw = provider.fetch(id, Digest(digest), u64::MAX, WAIT).unwrap();
        assert_eq!(raw.len(), model.len() + net::seal::OVERHEAD);
        assert!(!raw.windows(32).any(|w| w == &model[8000..8032]));
        let mut fetch = Fetch {
            peer: &provider,
            from: id,
            deadline: Instant::now() + WAIT,
        };
        assert!(
            fetch.get(digest, model.len() as u64 - 1).is_err(),
            "over its most"
        );
        assert_eq!(fetch.get(digest, model.len() as u64).unwrap(), model);
        // Once unserved, it is gone.
        serve.unserve();
        let mut gone = false;
        for _ in 0..100 {
            if provider.fetch(id, Digest(digest), u64::MAX, WAIT).is_err() {
                gone = true;
                break;
            }
            std::thread::yield_now();
        }
        assert!(gone, "an unserved blob stayed served");
    }
}
