//! Peers over real TCP on 127.0.0.1 (ports the system picks): identities from ledger keys,
//! messages answered and refused, blobs in chunks to their readers only, size caps.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use net::blob::CHUNK;
use net::frame::MAX_FRAME;
use net::peer::peer_id_of;
use net::{Digest, NetError, Peer, PeerConfig, Readers};

const WAIT: Duration = Duration::from_secs(20);

fn peer(seed: u8) -> Peer {
    Peer::start(PeerConfig::new(
        [seed; 32],
        "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
    ))
    .unwrap()
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
    assert_eq!(reader.fetch(id, digest, WAIT).unwrap(), blob);
    let id = stranger.dial(owner.address(), WAIT).unwrap();
    match stranger.fetch(id, digest, WAIT) {
        Err(NetError::Refused { reason, .. }) => {
            assert!(reason.contains("may not read"), "{reason}")
        }
        other => panic!("a stranger read the blob: {other:?}"),
    }
    assert_eq!(stranger.fetch(id, public, WAIT).unwrap(), b"open");
    // A digest nobody serves, and a blob no longer served, are refused.
    match stranger.fetch(id, Digest([9; 32]), WAIT) {
        Err(NetError::Refused { reason, .. }) => assert!(reason.contains("no blob"), "{reason}"),
        other => panic!("{other:?}"),
    }
    owner.unserve(public).unwrap();
    let mut refused = false;
    for _ in 0..100 {
        match stranger.fetch(id, public, WAIT) {
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
