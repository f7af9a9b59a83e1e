//! Peers over real TCP on 127.0.0.1 (ports the system picks): identities from ledger keys,
//! messages answered and refused, blobs in chunks to their readers only, size caps.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use net::blob::{CHUNK, MAX_BLOB};
use net::frame::MAX_FRAME;
use net::peer::peer_id_of;
use net::{Digest, NetError, Peer, PeerConfig, Readers};

const WAIT: Duration = Duration::from_secs(20);

fn peer(seed: u8) -> Peer {
    Peer::start(PeerConfig::loopback([seed; 32])).unwrap()
}

/// Answers each message from `peer`'s inbox with its bytes reversed, `n` times; a message
/// `b"refuse"` is refused.
fn echo(peer: Arc<Peer>, n: usize) -> thread::JoinHandle<Vec<net::PeerId>> {
    thread::spawn(move || {
        let mut from = Vec::new();
        for _ in 0..n {
            let Some(inbound) = peer.next_inbound(WAIT) else {
                break;
            };
            from.push(inbound.peer);
            if inbound.body == b"refuse" {
                inbound.refuse("asked to").unwrap();
            } else {
                let mut body = inbound.body.clone();
                body.reverse();
                inbound.reply(body).unwrap();
            }
        }
        from
    })
}

#[test]
fn a_peers_id_is_its_ledger_keys_and_messages_are_answered_or_refused() {
    let a = peer(1);
    let b = Arc::new(peer(2));
    assert_eq!(a.id(), peer_id_of([1; 32]).unwrap());
    assert_ne!(a.id(), b.id());
    let server = echo(b.clone(), 3);

    let id = a.dial(b.address(), WAIT).unwrap();
    assert_eq!(id, b.id(), "the Noise handshake authenticates the key");
    assert_eq!(a.request(id, b"hello".to_vec(), WAIT).unwrap(), b"olleh");
    match a.request(id, b"refuse".to_vec(), WAIT) {
        Err(NetError::Refused { peer, reason }) => {
            assert_eq!(peer, id);
            assert_eq!(reason, "asked to");
        }
        other => panic!("not refused: {other:?}"),
    }
    // A message just under the cap goes through; one over it is refused before it is sent.
    let big = vec![7u8; MAX_FRAME - 1];
    assert_eq!(a.request(id, big.clone(), WAIT).unwrap(), big);
    match a.request(id, vec![0; MAX_FRAME + 1], WAIT) {
        Err(NetError::TooLarge { size, max }) => assert!(size > max),
        other => panic!("an oversized message was sent: {other:?}"),
    }
    assert_eq!(server.join().unwrap(), vec![a.id(); 3], "three came from a");
}

#[test]
fn a_request_nobody_answers_times_out_and_a_stopped_peer_fails() {
    let a = peer(3);
    let b = peer(4);
    let id = a.dial(b.address(), WAIT).unwrap();
    // b never reads its inbox.
    match a.request(id, b"anyone?".to_vec(), Duration::from_millis(300)) {
        Err(NetError::Timeout { peer, .. }) => assert_eq!(peer, id),
        other => panic!("{other:?}"),
    }
    drop(b);
    match a.request(id, b"anyone?".to_vec(), WAIT) {
        Err(NetError::Failed { peer, .. }) => assert_eq!(peer, id),
        other => panic!("a stopped peer answered: {other:?}"),
    }
}

#[test]
fn a_blob_moves_in_chunks_to_its_readers_only() {
    let owner = peer(5);
    let reader = peer(6);
    let stranger = peer(7);
    let blob: Vec<u8> = (0..(2 * CHUNK + 12_345)).map(|i| (i % 251) as u8).collect();
    let digest = owner
        .serve(
            Arc::new(blob.clone()),
            Readers::Only(BTreeSet::from([reader.id()])),
        )
        .unwrap();
    assert_eq!(digest, Digest::of(&blob));
    let public = owner
        .serve(Arc::new(b"open".to_vec()), Readers::Anyone)
        .unwrap();

    let id = reader.dial(owner.address(), WAIT).unwrap();
    let (read, served) = (reader.traffic(), owner.traffic());
    assert_eq!(reader.fetch(id, digest, MAX_BLOB, WAIT).unwrap(), blob);
    // The wire carried the blob and a little framing, counted on both sides.
    let (read, served) = (reader.traffic().since(read), owner.traffic().since(served));
    let n = blob.len() as u64;
    assert!(read.received >= n && read.received < n + n / 50, "{read:?}");
    assert!(served.sent >= n && served.sent < n + n / 50, "{served:?}");
    // A reader that takes less than the blob's length is not sent it.
    let short = blob.len() as u64 - 1;
    match reader.fetch(id, digest, short, WAIT) {
        Err(NetError::Blob { reason, .. }) => assert!(reason.contains("over the"), "{reason}"),
        other => panic!("a blob over the reader's most: {other:?}"),
    }
    let id = stranger.dial(owner.address(), WAIT).unwrap();
    match stranger.fetch(id, digest, MAX_BLOB, WAIT) {
        Err(NetError::Refused { reason, .. }) => {
            assert!(reason.contains("may not read"), "{reason}")
        }
        other => panic!("a stranger read the blob: {other:?}"),
    }
    assert_eq!(stranger.fetch(id, public, MAX_BLOB, WAIT).unwrap(), b"open");
    // A digest nobody serves, and a blob no longer served, are refused.
    match stranger.fetch(id, Digest([9; 32]), MAX_BLOB, WAIT) {
        Err(NetError::Refused { reason, .. }) => assert!(reason.contains("no blob"), "{reason}"),
        other => panic!("{other:?}"),
    }
    owner.unserve(public).unwrap();
    let mut refused = false;
    for _ in 0..100 {
        match stranger.fetch(id, public, MAX_BLOB, WAIT) {
            Err(NetError::Refused { .. }) => {
                refused = true;
                break;
            }
            Ok(_) => thread::yield_now(),
            Err(e) => panic!("{e}"),
        }
    }
    assert!(refused, "an unserved blob stayed readable");
}

#[test]
fn a_dial_to_nobody_fails() {
    let a = peer(8);
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap();
    match a.dial(addr, WAIT) {
        Err(NetError::Address { .. }) => {}
        other => panic!("dialled nobody: {other:?}"),
    }
}

#[test]
fn a_sealed_model_is_refused_to_a_stranger_and_says_nothing_to_one_who_captured_it() {
    let owner = peer(10);
    let provider = peer(11);
    let stranger = peer(12);
    let model: Vec<u8> = (0..3 * 1024u32)
        .flat_map(|i| (i as f32).to_le_bytes())
        .collect();
    let sealed = owner.seal(&provider.id(), &model).unwrap();
    let digest = owner
        .serve(
            Arc::new(sealed),
            Readers::Only(BTreeSet::from([provider.id()])),
        )
        .unwrap();

    let id = stranger.dial(owner.address(), WAIT).unwrap();
    assert!(matches!(
        stranger.fetch(id, digest, MAX_BLOB, WAIT),
        Err(NetError::Refused { .. })
    ));
    // What crossed the wire to the provider, captured, opens for the provider only.
    let id = provider.dial(owner.address(), WAIT).unwrap();
    let captured = provider.fetch(id, digest, MAX_BLOB, WAIT).unwrap();
    assert!(
        !captured.windows(64).any(|w| w == &model[4000..4064]),
        "the sealed blob holds the model in clear"
    );
    assert_eq!(provider.open(&owner.id(), &captured).unwrap(), model);
    match stranger.open(&owner.id(), &captured) {
        Err(NetError::Seal(_)) => {}
        other => panic!("a stranger opened a captured model: {other:?}"),
    }
}

#[test]
fn a_peer_that_takes_no_messages_refuses_them_and_a_dropped_message_is_refused() {
    let mut config = PeerConfig::loopback([13; 32]);
    config.max_waiting = 0;
    let asker = Peer::start(config).unwrap();
    let other = Arc::new(peer(14));
    let id = other.dial(asker.address(), WAIT).unwrap();
    match other.request(id, b"hello".to_vec(), WAIT) {
        Err(NetError::Refused { reason, .. }) => {
            assert!(reason.contains("no messages"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    // A message its recipient drops without an answer is refused, not left to time out.
    let dropper = other.clone();
    let drop_one = thread::spawn(move || drop(dropper.next_inbound(WAIT)));
    let id = asker.dial(other.address(), WAIT).unwrap();
    match asker.request(id, b"hello".to_vec(), WAIT) {
        Err(NetError::Refused { reason, .. }) => assert_eq!(reason, "dropped unanswered"),
        other => panic!("{other:?}"),
    }
    drop_one.join().unwrap();
}
