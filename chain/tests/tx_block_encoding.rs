//! Transaction and block encodings: round trips, untrusted bytes never panic, tx root.

use chain::block::{MAX_BLOCK_TXS, tx_root};
use chain::keys::Domain;
use chain::tx::{MAX_TX_BYTES, TxError};
use chain::workload::{derived_key, transfer_op};
use chain::{
    Address, Block, BlockHeader, Op, PublicKey, Signature, SignedTransaction, Transaction, Value,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn any_op() -> impl Strategy<Value = Op> {
    let single =
        ("[a-z0-9]{1,8}", "[a-z0-9]{1,8}", any::<i64>(), "\\PC{0,16}").prop_map(|(a, b, n, s)| {
            let path = chain::Path::from_segments([a, b]).unwrap();
            if n % 3 == 0 {
                Op::SetValue {
                    path,
                    value: Value::Str(s),
                }
            } else if n % 3 == 1 {
                Op::IncValue {
                    path,
                    delta: i128::from(n.unsigned_abs()),
                }
            } else {
                Op::SetValue {
                    path,
                    value: Value::Int(i128::from(n)),
                }
            }
        });
    prop_oneof![
        single.clone(),
        prop::collection::vec(single, 1..4).prop_map(Op::Set),
    ]
}

fn any_tx() -> impl Strategy<Value = SignedTransaction> {
    (
        "[a-z0-9._-]{1,64}",
        any::<u64>(),
        any::<u64>(),
        any::<u128>(),
        any::<u64>(),
        any_op(),
        any::<[u8; 32]>(),
    )
        .prop_map(|(chain_id, seed, nonce, fee, timestamp, ops, junk)| {
            let key = derived_key(seed, "prop", 0);
            let mut tx = Transaction::new(&chain_id, &key.public(), nonce, fee, timestamp, ops);
            if junk[0] & 1 == 1 {
                tx.from = Address(junk[..20].try_into().unwrap());
            }
            tx.sign(&key)
        })
}

fn any_block() -> impl Strategy<Value = Block> {
    (
        "[a-z0-9._-]{1,64}",
        any::<u64>(),
        any::<[u8; 32]>(),
        any::<u64>(),
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
        prop::collection::vec(any_tx(), 0..4),
    )
        .prop_map(
            |(chain_id, height, parent_hash, timestamp, tx_root, state_root, txs)| Block {
                header: BlockHeader {
                    chain_id,
                    height,
                    parent_hash,
                    timestamp,
                    tx_root,
                    state_root,
                    proposer: PublicKey(parent_hash),
                },
                signature: Signature([height as u8; 64]),
                txs,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn signed_tx_round_trips(tx in any_tx()) {
        let bytes = tx.encode();
        let back = SignedTransaction::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &tx);
        prop_assert_eq!(back.encode(), bytes);
        prop_assert_eq!(back.hash(), <[u8; 32]>::from(Sha256::digest(tx.tx.encode())));
        prop_assert_eq!(Transaction::decode(&tx.tx.encode()).unwrap(), tx.tx.clone());
    }

    #[test]
    fn truncated_or_extended_tx_is_rejected(tx in any_tx(), cut in any::<prop::sample::Index>(), extra in any::<u8>()) {
        let bytes = tx.encode();
        let cut = cut.index(bytes.len());
        prop_assert!(SignedTransaction::decode(&bytes[..cut]).is_err());
        let mut longer = bytes.clone();
        longer.push(extra);
        prop_assert!(SignedTransaction::decode(&longer).is_err());
    }

    #[test]
    fn flipped_tx_bytes_never_panic_and_never_verify_as_the_original(
        tx in any_tx(), at in any::<prop::sample::Index>(), bit in 0u8..8,
    ) {
        let mut bytes = tx.encode();
        let i = at.index(bytes.len());
        bytes[i] ^= 1 << bit;
        if let Ok(other) = SignedTransaction::decode(&bytes) {
            prop_assert_ne!(&other, &tx);
            let chain_id = other.tx.chain_id.clone();
            prop_assert!(other.verify(&chain_id).is_err());
        }
    }

    #[test]
    fn random_bytes_are_rejected(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        prop_assert!(SignedTransaction::decode(&bytes).is_err());
        prop_assert!(Transaction::decode(&bytes).is_err());
        prop_assert!(Block::decode(&bytes).is_err());
        prop_assert!(BlockHeader::decode(&bytes).is_err());
    }

    #[test]
    fn prefixed_random_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256), which in 0usize..4) {
        let magic: &[u8] = [&b"ZKST\x01"[..], b"ZKTX\x01", b"ZKBK\x01", b"ZKBH\x01"][which];
        let bytes = [magic, &body].concat();
        let _ = SignedTransaction::decode(&bytes);
        let _ = Transaction::decode(&bytes);
        let _ = Block::decode(&bytes);
        let _ = BlockHeader::decode(&bytes);
    }

    #[test]
    fn block_round_trips_and_truncations_fail(block in any_block(), cut in any::<prop::sample::Index>()) {
        let bytes = block.encode();
        let back = Block::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &block);
        prop_assert_eq!(back.hash(), <[u8; 32]>::from(Sha256::digest(block.header.encode())));
        let cut = cut.index(bytes.len());
        prop_assert!(Block::decode(&bytes[..cut]).is_err());
    }
}

#[test]
fn non_canonical_op_json_is_rejected() {
    let key = derived_key(1, "x", 0);
    let a = Address::of(&key.public());
    let tx = Transaction::new("c", &key.public(), 0, 0, 0, transfer_op(&a, &a, 0, 1));
    let canonical = tx.encode();
    let json = tx.ops.to_canonical_json();
    let spaced = json.replace(',', ", ");
    let mut bytes = canonical[..canonical.len() - json.len() - 4].to_vec();
    bytes.extend_from_slice(&(spaced.len() as u32).to_be_bytes());
    bytes.extend_from_slice(spaced.as_bytes());
    assert!(matches!(
        Transaction::decode(&bytes),
        Err(TxError::Decode(_))
    ));
}

#[test]
fn oversized_transactions_are_rejected() {
    let key = derived_key(1, "x", 0);
    let big = Op::SetValue {
        path: chain::Path::parse("/big").unwrap(),
        value: Value::Str("x".repeat(60_000)),
    };
    let ops = Op::Set(vec![big.clone(), big.clone(), big]);
    let signed = Transaction::new("c", &key.public(), 0, 0, 0, ops).sign(&key);
    assert!(signed.encode().len() > MAX_TX_BYTES);
    assert!(matches!(
        SignedTransaction::decode(&signed.encode()),
        Err(TxError::TooLarge { .. })
    ));
    assert!(matches!(signed.verify("c"), Err(TxError::TooLarge { .. })));
    // A block claiming more transactions than allowed is refused before reading them.
    let block = Block {
        header: BlockHeader {
            chain_id: "c".to_owned(),
            height: 1,
            parent_hash: [0; 32],
            timestamp: 0,
            tx_root: [0; 32],
            state_root: [0; 32],
            proposer: key.public(),
        },
        signature: Signature([0; 64]),
        txs: Vec::new(),
    };
    let mut bytes = block.encode();
    let n = bytes.len();
    bytes[n - 4..].copy_from_slice(&(MAX_BLOCK_TXS as u32 + 1).to_be_bytes());
    let err = Block::decode(&bytes).unwrap_err();
    assert!(err.to_string().contains("tx count too long"), "{err}");
}

#[test]
fn tx_root_matches_a_hand_computed_tree() {
    let h = |b: u8| [b; 32];
    let sha = |parts: &[&[u8]]| -> [u8; 32] {
        let mut s = Sha256::new();
        for p in parts {
            s.update(p);
        }
        s.finalize().into()
    };
    let leaf = |x: [u8; 32]| sha(&[&[0u8], &x]);
    let node = |l: [u8; 32], r: [u8; 32]| sha(&[&[1u8], &l, &r]);
    assert_eq!(tx_root(&[]), sha(&[]));
    assert_eq!(tx_root(&[h(1)]), leaf(h(1)));
    assert_eq!(tx_root(&[h(1), h(2)]), node(leaf(h(1)), leaf(h(2))));
    // Odd node carried up, not duplicated.
    let three = node(node(leaf(h(1)), leaf(h(2))), leaf(h(3)));
    assert_eq!(tx_root(&[h(1), h(2), h(3)]), three);
    assert_ne!(tx_root(&[h(1), h(2), h(3), h(3)]), three);
    let five = node(
        node(node(leaf(h(1)), leaf(h(2))), node(leaf(h(3)), leaf(h(4)))),
        leaf(h(5)),
    );
    assert_eq!(tx_root(&[h(1), h(2), h(3), h(4), h(5)]), five);
}

#[test]
fn signatures_are_domain_separated() {
    let key = derived_key(3, "x", 0);
    let hash = [9u8; 32];
    let sig = key.sign(Domain::Transaction, &hash);
    key.public()
        .verify(Domain::Transaction, &hash, &sig)
        .unwrap();
    assert!(key.public().verify(Domain::Block, &hash, &sig).is_err());
    assert!(
        derived_key(3, "x", 1)
            .public()
            .verify(Domain::Transaction, &hash, &sig)
            .is_err()
    );
}
