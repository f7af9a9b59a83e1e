//! The ledger: signed transactions through blocks, rejections, failures, restart, verification.

mod ledger_common;

use chain::execute::{BlockEnv, Rejection, TxOutcome, apply_tx};
use chain::ledger::LedgerError;
use chain::storage::BLOCKS;
use chain::tx::TxError;
use chain::workload::transfer_op;
use chain::{
    Block, Builtins, Genesis, Keypair, Ledger, Path, SingleValidator, StateTree, Transaction,
    Value, VerifyError,
};
use ledger_common::{CHAIN, Fixture, START, op};
use redb::{Database, ReadableDatabase};

fn path(p: &str) -> Path {
    Path::parse(p).unwrap()
}

#[test]
fn transfers_move_funds_and_pay_fees() {
    let f = Fixture::new(3);
    let mut ledger = f.open();
    let (a, b) = (f.addr(0), f.addr(1));
    let hash = ledger
        .submit(f.tx(0, 0, 2, transfer_op(&a, &b, 0, 30)))
        .unwrap();
    ledger
        .submit(f.tx(0, 1, 3, transfer_op(&a, &b, 1, 5)))
        .unwrap();
    let block = ledger.produce_block(2_000_000_000_000).unwrap();
    assert_eq!(block.header.height, 1);
    assert_eq!(block.txs.len(), 2);
    assert_eq!(ledger.balance(&a), START - 30 - 5 - 2 - 3);
    assert_eq!(ledger.balance(&b), START + 35);
    assert_eq!(ledger.balance(&f.validator()), 5);
    assert_eq!(ledger.nonce(&a), 2);
    let loc = ledger.receipt(&hash).unwrap().unwrap();
    assert_eq!((loc.height, loc.index), (1, 0));
    assert_eq!(loc.receipt.outcome, TxOutcome::Applied);
    assert_eq!(loc.receipt.fee, 2);
    assert_eq!(ledger.pending(), 0);
    assert_eq!(ledger.verify().unwrap().txs, 2);
}

#[test]
fn rejected_transactions_change_nothing() {
    let f = Fixture::new(3);
    let mut ledger = f.open();
    let (a, b) = (f.addr(0), f.addr(1));
    let first = f.tx(0, 0, 1, transfer_op(&a, &b, 0, 10));
    ledger.submit(first.clone()).unwrap();
    // The same transaction again while pending.
    assert!(matches!(
        ledger.submit(first.clone()),
        Err(LedgerError::Mempool(_))
    ));
    ledger.produce_block(2_000_000_000_000).unwrap();
    let root = ledger.state_root();

    // Replay after inclusion.
    assert!(matches!(
        ledger.submit(first),
        Err(LedgerError::StaleNonce {
            found: 0,
            next: 1,
            ..
        })
    ));
    // Signed by someone else's key (signature over another hash).
    let mut forged = f.tx(0, 1, 1, transfer_op(&a, &b, 1, 10));
    forged.signature = f
        .key(1)
        .sign(chain::keys::Domain::Transaction, &forged.hash());
    assert!(matches!(
        ledger.submit(forged),
        Err(LedgerError::Tx(TxError::Signature(_)))
    ));
    // A field changed after signing.
    let mut altered = f.tx(0, 1, 1, transfer_op(&a, &b, 1, 10));
    altered.tx.fee = 0;
    assert!(matches!(
        ledger.submit(altered),
        Err(LedgerError::Tx(TxError::Signature(_)))
    ));
    // Another chain.
    let other = Transaction::new(
        "other-chain",
        &f.key(0).public(),
        1,
        1,
        5,
        transfer_op(&a, &b, 1, 1),
    )
    .sign(f.key(0));
    assert!(matches!(
        ledger.submit(other),
        Err(LedgerError::Tx(TxError::WrongChain { .. }))
    ));
    // `from` is not the key's address.
    let mut tx = Transaction::new(
        CHAIN,
        &f.key(0).public(),
        1,
        1,
        5,
        transfer_op(&a, &b, 1, 1),
    );
    tx.from = b;
    assert!(matches!(
        ledger.submit(tx.sign(f.key(0))),
        Err(LedgerError::Tx(TxError::AddressMismatch { .. }))
    ));
    // A nonce beyond the next leaves a gap: refused, nothing waits for it.
    let gap = f.tx(0, 5, 1, transfer_op(&a, &b, 5, 1));
    assert!(matches!(
        ledger.submit(gap.clone()),
        Err(LedgerError::NonceGap {
            found: 5,
            next: 1,
            ..
        })
    ));
    // A fee over the balance is refused at submission.
    let dear = f.tx(1, 0, 1_000_000, transfer_op(&b, &a, 0, 1));
    assert!(matches!(
        ledger.submit(dear.clone()),
        Err(LedgerError::CannotPayFee { .. })
    ));
    assert_eq!(ledger.pending(), 0, "nothing that cannot run is kept");
    for refused in [&gap, &dear] {
        let cause = ledger.rejection(&refused.hash()).expect("remembered");
        assert!(
            !cause.dropped && cause.reason.contains("refused"),
            "{cause:?}"
        );
    }
    let block = ledger.produce_block(2_000_000_000_001).unwrap();
    assert!(block.txs.is_empty());
    assert_eq!(ledger.state_root(), root);
    assert_eq!((ledger.nonce(&a), ledger.nonce(&b)), (1, 0));
    ledger.verify().unwrap();
}

#[test]
fn the_pool_keeps_only_what_can_run_and_names_what_it_drops() {
    let f = Fixture::new(3);
    let mut ledger = f.open();
    let (a, b, c) = (f.addr(0), f.addr(1), f.addr(2));
    // A key with nothing: it can neither pay a fee nor fill the pool with far nonces.
    let broke = Keypair::from_secret([42; 32]);
    let broke_addr = chain::Address::of(&broke.public());
    for nonce in [0, 1, 1_000] {
        let tx = Transaction::new(
            CHAIN,
            &broke.public(),
            nonce,
            1,
            5,
            transfer_op(&broke_addr, &a, nonce, 1),
        )
        .sign(&broke);
        assert!(ledger.submit(tx).is_err());
    }
    // Fees are counted over the sender's pending transactions: b can pay for two of 400.
    for nonce in 0..2 {
        ledger
            .submit(f.tx(1, nonce, 400, transfer_op(&b, &c, nonce, 1)))
            .unwrap();
    }
    assert!(matches!(
        ledger.submit(f.tx(1, 2, 400, transfer_op(&b, &c, 2, 1))),
        Err(LedgerError::CannotPayFee { needed: 1200, .. })
    ));
    // a admits three, but its first transfer spends what the next two need for their fees:
    // they are dropped at block time, each with its cause.
    let spend_all = f.tx(0, 0, 1, transfer_op(&a, &c, 0, START - 1));
    let broke_then = f.tx(0, 1, 1, transfer_op(&a, &c, 1, 0));
    let orphan = f.tx(0, 2, 1, transfer_op(&a, &c, 2, 0));
    for tx in [&spend_all, &broke_then, &orphan] {
        ledger.submit(tx.clone()).unwrap();
    }
    assert_eq!(ledger.pending(), 5);
    let block = ledger.produce_block(2_000_000_000_000).unwrap();
    assert_eq!(block.txs.len(), 3, "a's transfer and b's two");
    assert_eq!(ledger.pending(), 0);
    let cause = ledger.rejection(&broke_then.hash()).expect("remembered");
    assert!(
        cause.dropped && cause.reason.contains("fee 1 exceeds the balance 0"),
        "{cause:?}"
    );
    let cause = ledger.rejection(&orphan.hash()).expect("remembered");
    assert!(
        cause.dropped && cause.reason.contains("bad nonce"),
        "{cause:?}"
    );

    ledger.verify().unwrap();
}

#[test]
fn a_pool_with_nothing_runnable_makes_no_block() {
    let f = Fixture::new(2);
    let key = Keypair::from_secret(f.workload.validator.secret());
    let config = chain::LedgerConfig {
        max_block_txs: 1,
        ..Default::default()
    };
    let mut ledger = Ledger::open_with(
        &f.path(),
        &f.workload.genesis,
        SingleValidator::new(key),
        Box::new(Builtins::new()),
        config,
    )
    .unwrap();
    let (a, b) = (f.addr(0), f.addr(1));
    // Two admitted; one block holds one: the first spends all, so the second can no longer run.
    ledger
        .submit(f.tx(0, 0, 1, transfer_op(&a, &b, 0, START - 1)))
        .unwrap();
    let second = f.tx(0, 1, 1, transfer_op(&a, &b, 1, 0));
    ledger.submit(second.clone()).unwrap();
    let first = ledger.produce_block_if_any(2_000_000_000_000).unwrap();
    assert_eq!(first.map(|b| b.txs.len()), Some(1));
    assert_eq!(ledger.pending(), 1);
    let (tip, root) = (ledger.tip().clone(), ledger.state_root());
    assert!(
        ledger
            .produce_block_if_any(2_000_000_000_001)
            .unwrap()
            .is_none()
    );
    assert_eq!(ledger.pending(), 0, "dropped");
    assert_eq!((ledger.tip(), ledger.state_root()), (&tip, root));
    assert!(ledger.rejection(&second.hash()).unwrap().dropped);
    // Nothing pending: still no block.
    assert!(
        ledger
            .produce_block_if_any(2_000_000_000_002)
            .unwrap()
            .is_none()
    );
    assert_eq!(ledger.verify().unwrap().blocks, 2);
}

#[test]
fn one_sender_cannot_fill_the_pool() {
    let f = Fixture::new(2);
    let mut ledger = f.open();
    let (a, b) = (f.addr(0), f.addr(1));
    let limit = chain::LedgerConfig::default().max_pending_per_sender as u64;
    for nonce in 0..limit {
        ledger
            .submit(f.tx(0, nonce, 1, transfer_op(&a, &b, nonce, 1)))
            .unwrap();
    }
    assert!(matches!(
        ledger.submit(f.tx(0, limit, 1, transfer_op(&a, &b, limit, 1))),
        Err(LedgerError::Mempool(
            chain::mempool::MempoolError::SenderFull { .. }
        ))
    ));
    // Everyone else still gets in; after a block, a gets room again.
    ledger
        .submit(f.tx(1, 0, 1, transfer_op(&b, &a, 0, 1)))
        .unwrap();
    ledger.produce_block(2_000_000_000_000).unwrap();
    ledger
        .submit(f.tx(0, limit, 1, transfer_op(&a, &b, limit, 1)))
        .unwrap();
}

#[test]
fn apply_tx_rejections_leave_state_untouched() {
    let f = Fixture::new(2);
    let natives = Builtins::new();
    let mut state = StateTree::new();
    f.workload.genesis.build(&mut state, &natives).unwrap();
    let (a, b) = (f.addr(0), f.addr(1));
    let env = BlockEnv {
        height: 1,
        time: 10,
        proposer: f.validator(),
        recent: Default::default(),
    };
    let before = state.export();
    let wrong_nonce = f
        .tx(0, 3, 1, transfer_op(&a, &b, 3, 1))
        .verify(CHAIN)
        .unwrap();
    let too_dear = f
        .tx(0, 0, START as u128 + 1, transfer_op(&a, &b, 0, 1))
        .verify(CHAIN)
        .unwrap();
    {
        let mut txn = state.begin();
        assert!(matches!(
            apply_tx(&mut txn, &wrong_nonce, &env, &natives),
            Err(Rejection::BadNonce {
                expected: 0,
                found: 3,
                ..
            })
        ));
        assert!(matches!(
            apply_tx(&mut txn, &too_dear, &env, &natives),
            Err(Rejection::FeeOverBalance { .. })
        ));
        txn.commit();
    }
    assert_eq!(state.export(), before);
}

/// The state after a failed transaction equals the state before with only the sender's nonce
/// and the fee moved (built independently of the ledger's code path).
fn expect_only_fee_and_nonce(
    before: &Value,
    after: &Value,
    sender: &str,
    proposer: &str,
    fee: i128,
) {
    let Value::Object(mut root) = before.clone() else {
        panic!("state is an object")
    };
    let Some(Value::Object(values)) = root.get_mut("values") else {
        panic!("values")
    };
    let Some(Value::Object(accounts)) = values.get_mut("accounts") else {
        panic!("accounts")
    };
    let set = |accounts: &mut std::collections::BTreeMap<String, Value>,
               who: &str,
               key: &str,
               f: &dyn Fn(i128) -> i128| {
        let entry = accounts
            .entry(who.to_owned())
            .or_insert_with(|| Value::Object(Default::default()));
        let Value::Object(fields) = entry else {
            panic!("account object")
        };
        let old = fields.get(key).and_then(Value::as_int).unwrap_or(0);
        fields.insert(key.to_owned(), Value::Int(f(old)));
    };
    set(accounts, sender, "balance", &|b| b - fee);
    set(accounts, sender, "nonce", &|n| n + 1);
    set(accounts, proposer, "balance", &|b| b + fee);
    assert_eq!(after, &Value::Object(root));
}

#[test]
fn failing_ops_change_only_fee_and_nonce() {
    let f = Fixture::new(3);
    let natives = Builtins::new();
    let mut state = StateTree::new();
    f.workload.genesis.build(&mut state, &natives).unwrap();
    let (a, b) = (f.addr(0), f.addr(1));
    let env = BlockEnv {
        height: 1,
        time: 10,
        proposer: f.validator(),
        recent: Default::default(),
    };
    let bad_set = op(&format!(
        r#"{{"type":"SET","op_list":[
            {{"type":"SET_VALUE","ref":"/transfer/{a}/{b}/1/value","value":5}},
            {{"type":"SET_VALUE","ref":"/accounts/{a}/balance","value":999999}}]}}"#
    ));
    let cases = [
        // A transfer over the balance: the function fails.
        (transfer_op(&a, &b, 0, START), "insufficient balance"),
        // A SET whose second op a rule denies: the first (valid) transfer is undone too.
        (bad_set, "denied"),
        // Writing someone else's transfer path.
        (transfer_op(&b, &a, 9, 1), "denied"),
        // Writing one's own nonce.
        (
            op(&format!(
                r#"{{"type":"SET_VALUE","ref":"/accounts/{a}/nonce","value":0}}"#
            )),
            "denied",
        ),
    ];
    for (nonce, (ops, reason)) in cases.into_iter().enumerate() {
        let before = state.export();
        let vtx = f.tx(0, nonce as u64, 7, ops).verify(CHAIN).unwrap();
        {
            let mut txn = state.begin();
            let receipt = apply_tx(&mut txn, &vtx, &env, &natives).unwrap();
            match &receipt.outcome {
                TxOutcome::Failed(why) => assert!(why.contains(reason), "{why}"),
                TxOutcome::Applied => panic!("case {nonce} should fail"),
            }
            assert_eq!(receipt.fee, 7);
            txn.commit();
        }
        expect_only_fee_and_nonce(
            &before,
            &state.export(),
            &a.to_string(),
            &f.validator().to_string(),
            7,
        );
        assert_eq!(
            state.root_hash(),
            chain::state_root::root_of_value(&state.export())
        );
    }
}

#[test]
fn blocks_survive_restart() {
    let f = Fixture::new(4);
    let (a, c) = (f.addr(0), f.addr(2));
    let (root, tip_hash) = {
        let mut ledger = f.open();
        for h in 0..3u64 {
            ledger
                .submit(f.tx(0, h, 1, transfer_op(&a, &c, h, 10)))
                .unwrap();
            ledger.produce_block(2_000_000_000_000 + h).unwrap();
        }
        (ledger.state_root(), ledger.tip().hash())
    };
    let mut ledger = f.open();
    assert_eq!(ledger.tip().height, 3);
    assert_eq!(ledger.tip().hash(), tip_hash);
    assert_eq!(ledger.state_root(), root);
    assert_eq!(ledger.balance(&c), START + 30);
    assert_eq!(ledger.nonce(&a), 3);
    assert_eq!(ledger.verify().unwrap().blocks, 4);
    ledger
        .submit(f.tx(0, 3, 1, transfer_op(&a, &c, 3, 10)))
        .unwrap();
    let block = ledger.produce_block(2_000_000_000_100).unwrap();
    assert_eq!(block.header.parent_hash, tip_hash);
    assert_eq!(ledger.balance(&c), START + 40);
    ledger.verify().unwrap();

    // Another genesis on the same file is refused.
    drop(ledger);
    let mut other = f.workload.genesis.clone();
    other.timestamp += 1;
    let key = Keypair::from_secret(f.workload.validator.secret());
    assert!(matches!(
        Ledger::open(&f.path(), &other, SingleValidator::new(key)),
        Err(LedgerError::GenesisMismatch)
    ));
}

/// Builds 4 blocks, lets `tamper` rewrite block 2 in the file, and returns verify's verdict.
fn verify_after_tampering(tamper: impl FnOnce(&mut Block, &Keypair)) -> VerifyError {
    let f = Fixture::new(3);
    let (a, b) = (f.addr(0), f.addr(1));
    {
        let mut ledger = f.open();
        for h in 0..4u64 {
            ledger
                .submit(f.tx(0, h, 1, transfer_op(&a, &b, h, 10)))
                .unwrap();
            ledger.produce_block(2_000_000_000_000 + h).unwrap();
        }
        ledger.verify().unwrap();
    }
    {
        let db = Database::open(f.path()).unwrap();
        let read = db.begin_read().unwrap();
        let bytes = read
            .open_table(BLOCKS)
            .unwrap()
            .get(2)
            .unwrap()
            .unwrap()
            .value()
            .to_vec();
        drop(read);
        let mut block = Block::decode(&bytes).unwrap();
        tamper(&mut block, &f.workload.validator);
        let write = db.begin_write().unwrap();
        write
            .open_table(BLOCKS)
            .unwrap()
            .insert(2, block.encode().as_slice())
            .unwrap();
        write.commit().unwrap();
    }
    f.open().verify().unwrap_err()
}

#[test]
fn verify_names_a_tampered_block() {
    // Timestamp changed, signature not renewed.
    match verify_after_tampering(|block, _| block.header.timestamp += 1) {
        VerifyError::Mismatch { height, what } => {
            assert_eq!(height, 2);
            assert!(what.contains("signature"), "{what}");
        }
        other => panic!("{other}"),
    }
    // A validly re-signed header whose state root lies.
    match verify_after_tampering(|block, key| {
        block.header.state_root[0] ^= 1;
        block.signature = block.header.sign(key);
    }) {
        VerifyError::Mismatch { height, what } => {
            assert_eq!(height, 2);
            assert!(what.contains("state root"), "{what}");
        }
        other => panic!("{other}"),
    }
    // A transaction removed, header re-signed.
    match verify_after_tampering(|block, key| {
        block.txs.clear();
        block.signature = block.header.sign(key);
    }) {
        VerifyError::Mismatch { height, what } => {
            assert_eq!(height, 2);
            assert!(what.contains("tx root"), "{what}");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_follower_cannot_produce_and_genesis_is_checked() {
    let f = Fixture::new(2);
    drop(f.open());
    let follower = SingleValidator::follower(f.workload.validator.public());
    let mut ledger = Ledger::open(&f.path(), &f.workload.genesis, follower).unwrap();
    assert!(matches!(
        ledger.produce_block(2_000_000_000_000),
        Err(LedgerError::Consensus(_))
    ));
    assert_eq!(ledger.tip().height, 0);
    ledger.verify().unwrap();
    let text = f.workload.genesis.to_json_text();
    assert_eq!(Genesis::from_json_text(&text).unwrap(), f.workload.genesis);
    assert!(Genesis::from_json_text("{}").is_err());
    assert_eq!(
        ledger.get_value(&path(&format!("/accounts/{}/balance", f.addr(1)))),
        Value::Int(START)
    );
}

#[test]
fn a_transaction_a_block_could_not_carry_is_refused_at_admission() {
    let f = Fixture::new(3);
    let mut ledger = f.open();
    let (a, b) = (f.addr(0), f.addr(1));
    // One op more than a SET may hold: it used to be admitted, and the block holding it could
    // not be read back.
    let too_many = chain::Op::Set(
        (0..=chain::ops::MAX_SET_OPS)
            .map(|i| transfer_op(&a, &b, i as u64, 1))
            .collect(),
    );
    assert!(matches!(
        ledger.submit(f.tx(0, 0, 1, too_many)),
        Err(LedgerError::Tx(TxError::Ops(_)))
    ));
    ledger
        .submit(f.tx(0, 0, 1, transfer_op(&a, &b, 0, 1)))
        .unwrap();
    let block = ledger.produce_block(2_000_000_000_000).unwrap();
    assert_eq!(block.txs.len(), 1);
}
