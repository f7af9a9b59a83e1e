//! Shards: branching, the freeze on the parent, reports, parallel production and the audit.

use chain::account::Address;
use chain::execute::TxOutcome;
use chain::ledger::LedgerError;
use chain::shard::audit::AuditError;
use chain::shard::reporter::Shard;
use chain::shard::{audit_shard, audit_shard_files};
use chain::workload::Workload;
use chain::{
    ApplyError, Keypair, Ledger, Op, Path, ShardConfig, ShardError, ShardReport, ShardSet,
    SingleValidator, Transaction,
};

const START: i128 = 1_000_000;
const TIME: u64 = 1_800_000_000_000;
/// Parent accounts: 0 admin of /apps (branch_owner), 1 plain user, 2 and 3 reporters.
const ADMIN: usize = 0;
const USER: usize = 1;

fn path(p: &str) -> Path {
    Path::parse(p).unwrap()
}

fn op(json: &str) -> Op {
    Op::from_json_text(json).unwrap_or_else(|e| panic!("test op {json}: {e}"))
}

fn copy(key: &Keypair) -> Keypair {
    Keypair::from_secret(key.secret())
}

/// A parent chain whose root owner made `/apps` writable by anyone and gave `ADMIN`
/// `branch_owner` there.
struct Parent {
    dir: tempfile::TempDir,
    workload: Workload,
    ledger: Ledger,
    time: u64,
}

impl Parent {
    fn new() -> Parent {
        let dir = tempfile::tempdir().unwrap();
        let workload = Workload::new("parent", 5, START, 3);
        let ledger = Ledger::open(
            &dir.path().join("parent.redb"),
            &workload.genesis,
            SingleValidator::new(copy(&workload.validator)),
        )
        .unwrap();
        let mut parent = Parent {
            dir,
            workload,
            ledger,
            time: TIME,
        };
        let admin = parent.addr(ADMIN);
        let root = copy(&parent.workload.validator);
        let setup = format!(
            r#"{{"type":"SET","op_list":[
                {{"type":"SET_RULE","ref":"/apps","value":"true"}},
                {{"type":"SET_OWNER","ref":"/apps","value":{{"owners":{{"{admin}":
                  {{"branch_owner":true,"write_function":false,"write_owner":false,
                    "write_rule":true}}}}}}}}]}}"#
        );
        assert_eq!(parent.send_key(&root, op(&setup)), TxOutcome::Applied);
        parent
    }

    fn key(&self, i: usize) -> Keypair {
        copy(&self.workload.accounts[i])
    }

    fn addr(&self, i: usize) -> Address {
        Address::of(&self.workload.accounts[i].public())
    }

    /// Signs `op` with `key` (fee 0: the root owner has no funds), includes it in the next
    /// block and returns its outcome.
    fn send_key(&mut self, key: &Keypair, op: Op) -> TxOutcome {
        let from = Address::of(&key.public());
        let tx = Transaction::new("parent", &key.public(), self.ledger.nonce(&from), 0, 5, op);
        let hash = self.ledger.submit(tx.sign(key)).unwrap();
        self.produce();
        self.ledger.receipt(&hash).unwrap().unwrap().receipt.outcome
    }

    /// `op` signed by account `i` with its next nonce.
    fn signed(&self, i: usize, op: Op) -> chain::SignedTransaction {
        let key = self.key(i);
        let nonce = self.ledger.nonce(&self.addr(i));
        Transaction::new("parent", &key.public(), nonce, 0, 5, op).sign(&key)
    }

    fn send(&mut self, account: usize, op: Op) -> TxOutcome {
        let key = self.key(account);
        self.send_key(&key, op)
    }

    fn produce(&mut self) {
        self.time += 1;
        self.ledger.produce_block(self.time).unwrap();
    }

    fn branch(&mut self, account: usize, at: &str, config: &ShardConfig) -> TxOutcome {
        let op = Op::SetShard {
            path: path(at),
            config: config.clone(),
        };
        self.send(account, op)
    }
}

fn failed(e: ShardError) -> TxOutcome {
    TxOutcome::Failed(ApplyError::Shard(e).to_string())
}

/// A child chain at `file` with its own validator, reporting with `reporter` every `period`.
fn child(file: &std::path::Path, chain_id: &str, seed: u64, reporter: Keypair) -> Shard {
    let at = path(&format!("/apps/{chain_id}"));
    let workload = Workload::new(chain_id, 8, START, seed);
    let ledger = Ledger::open(
        file,
        &workload.genesis,
        SingleValidator::new(copy(&workload.validator)),
    )
    .unwrap();
    Shard::new(at, ledger, reporter, 2, 1).unwrap()
}

/// Transfers on a child made by [`child`] with the same `seed`: `blocks` blocks of
/// `per_block` each.
fn run_child(shard: &mut Shard, seed: u64, blocks: u64, per_block: usize) {
    let mut workload = Workload::new(shard.ledger().chain_id(), 8, START, seed);
    let start = shard.ledger().tip().timestamp.max(TIME);
    for b in 0..blocks {
        let txs = workload.transfers(shard.ledger(), per_block, 1, start + b);
        for r in shard.ledger_mut().submit_batch(txs) {
            r.unwrap();
        }
        let block = shard.produce_block(start + b).unwrap();
        assert_eq!(block.txs.len(), per_block);
    }
}

fn report_op(at: &str, block_number: u64, proof_hash: [u8; 32], state_root: [u8; 32]) -> Op {
    Op::ReportShard {
        path: path(at),
        report: ShardReport {
            block_number,
            proof_hash,
            state_root,
        },
    }
}

#[test]
fn branch_needs_branch_owner_and_freezes_the_subtree() {
    let mut p = Parent::new();
    let s1 = "/apps/s1";
    let set = |at: &str, v: i64| {
        op(&format!(
            r#"{{"type":"SET_VALUE","ref":"{at}","value":{v}}}"#
        ))
    };
    assert_eq!(p.send(USER, set("/apps/s1/x", 1)), TxOutcome::Applied);
    let config = ShardConfig {
        shard_owner: p.addr(ADMIN),
        reporter: p.addr(2),
        reporting_period: 2,
        chain_id: "s1".to_owned(),
    };
    // Without branch_owner: refused by the owner check.
    let TxOutcome::Failed(reason) = p.branch(USER, s1, &config) else {
        panic!("a user without branch_owner branched");
    };
    assert!(reason.contains("may not branch_owner"), "{reason}");
    assert_eq!(p.ledger.shard_config(&path(s1)).unwrap(), None);

    assert_eq!(p.branch(ADMIN, s1, &config), TxOutcome::Applied);
    assert_eq!(
        p.ledger.shard_config(&path(s1)).unwrap(),
        Some(config.clone())
    );
    assert_eq!(p.ledger.shard_latest(&path(s1)).unwrap(), None);

    // Every data write at, below or above the shard is refused, whoever writes.
    let frozen = |at: &str| {
        failed(ShardError::Sharded {
            path: at.to_owned(),
            shard: s1.to_owned(),
        })
    };
    let root = copy(&p.workload.validator);
    assert_eq!(p.send(USER, set("/apps/s1/x", 2)), frozen("/apps/s1/x"));
    assert_eq!(p.send(ADMIN, set("/apps/s1/y", 2)), frozen("/apps/s1/y"));
    assert_eq!(p.send_key(&root, set("/apps/s1", 2)), frozen("/apps/s1"));
    assert_eq!(p.send(USER, set("/apps", 2)), frozen("/apps"));
    let inc = op(r#"{"type":"INC_VALUE","ref":"/apps/s1/x","value":1}"#);
    assert_eq!(p.send(ADMIN, inc), frozen("/apps/s1/x"));
    // A SET with one frozen write fails whole.
    let mixed = op(r#"{"type":"SET","op_list":[
        {"type":"SET_VALUE","ref":"/apps/s2/z","value":1},
        {"type":"SET_VALUE","ref":"/apps/s1/x","value":3}]}"#);
    assert_eq!(p.send(USER, mixed), frozen("/apps/s1/x"));
    assert_eq!(p.ledger.get_value(&path("/apps/s2/z")), chain::Value::Null);
    // The data from before the branch is still there, unchanged.
    assert_eq!(
        p.ledger.get_value(&path("/apps/s1/x")),
        chain::Value::Int(1)
    );
    // Config whose literal prefix is in the shard is refused too.
    let rule = op(r#"{"type":"SET_RULE","ref":"/apps/s1/$k","value":"true"}"#);
    assert_eq!(p.send_key(&root, rule), frozen("/apps/s1/$k"));
    // Writes elsewhere still work.
    assert_eq!(p.send(USER, set("/apps/s2/z", 5)), TxOutcome::Applied);
    assert_eq!(
        p.ledger.get_value(&path("/apps/s2/z")),
        chain::Value::Int(5)
    );
    // No nesting, no overlap, no root shard.
    let overlap = |at: &str| {
        failed(ShardError::Overlap {
            path: at.to_owned(),
            shard: s1.to_owned(),
        })
    };
    assert_eq!(
        p.branch(ADMIN, "/apps/s1/sub", &config),
        overlap("/apps/s1/sub")
    );
    assert_eq!(p.branch(ADMIN, "/apps", &config), overlap("/apps"));
    assert_eq!(p.branch(ADMIN, s1, &config), overlap(s1));
    assert_eq!(
        p.send_key(
            &root,
            Op::SetShard {
                path: Path::root(),
                config
            }
        ),
        failed(ShardError::Root)
    );
    assert!(p.ledger.verify().is_ok());
}

#[test]
fn reports_come_only_from_the_reporter_in_increasing_period_order() {
    let mut p = Parent::new();
    let child_file = p.dir.path().join("s1.redb");
    let mut shard = child(&child_file, "s1", 11, p.key(2));
    let s1 = "/apps/s1";
    assert_eq!(
        p.branch(ADMIN, s1, &shard.config(p.addr(ADMIN))),
        TxOutcome::Applied
    );
    run_child(&mut shard, 11, 7, 3);

    // The reporter's due reports: blocks 2, 4, 6, signed and submitted, then included.
    let before = p.ledger.balance(&shard.reporter());
    let hashes = shard.submit_reports(&mut p.ledger, 9).unwrap();
    assert_eq!(hashes.len(), 3);
    p.produce();
    for h in &hashes {
        let receipt = p.ledger.receipt(h).unwrap().unwrap().receipt;
        assert_eq!(receipt.outcome, TxOutcome::Applied);
    }
    assert_eq!(p.ledger.balance(&shard.reporter()), before - 3);
    let reports = p.ledger.shard_reports(&path(s1)).unwrap();
    let expected: Vec<ShardReport> = [2, 4, 6]
        .iter()
        .map(|h| ShardReport::of(&shard.ledger().block(*h).unwrap().unwrap().header))
        .collect();
    assert_eq!(reports, expected);
    assert_eq!(p.ledger.shard_latest(&path(s1)).unwrap(), Some(6));
    // Nothing more is due until block 8.
    assert!(shard.submit_reports(&mut p.ledger, 9).unwrap().is_empty());

    run_child(&mut shard, 11, 3, 1); // tip 10
    let block = |h: u64| shard.ledger().block(h).unwrap().unwrap().header;
    let (b8, b10) = (block(8), block(10));

    // A non-reporter with the right hash is refused.
    let honest8 = report_op(s1, 8, b8.hash(), b8.state_root);
    assert_eq!(
        p.send(3, honest8.clone()),
        failed(ShardError::NotReporter {
            shard: s1.to_owned(),
            addr: p.addr(3).to_string(),
            reporter: p.addr(2),
        })
    );
    // So is the shard owner.
    assert!(matches!(
        p.send(ADMIN, honest8.clone()),
        TxOutcome::Failed(_)
    ));
    // Off period.
    let b9 = block(9);
    assert_eq!(
        p.send(2, report_op(s1, 9, b9.hash(), b9.state_root)),
        failed(ShardError::OffPeriod {
            shard: s1.to_owned(),
            block_number: 9,
            period: 2,
        })
    );
    // Out of order: 10 then 8.
    let report10 = p.signed(2, report_op(s1, 10, b10.hash(), b10.state_root));
    p.ledger.submit(report10.clone()).unwrap();
    p.produce();
    assert_eq!(p.ledger.shard_latest(&path(s1)).unwrap(), Some(10));
    assert_eq!(
        p.send(2, honest8),
        failed(ShardError::NotIncreasing {
            shard: s1.to_owned(),
            block_number: 8,
            latest: 10,
        })
    );
    // Replayed: the same report again in a new transaction, and the same signed transaction.
    let again = report_op(s1, 10, b10.hash(), b10.state_root);
    assert_eq!(
        p.send(2, again),
        failed(ShardError::NotIncreasing {
            shard: s1.to_owned(),
            block_number: 10,
            latest: 10,
        })
    );
    assert!(matches!(
        p.ledger.submit(report10),
        Err(LedgerError::StaleNonce { .. })
    ));
    // A report to a path that is not a shard.
    assert_eq!(
        p.send(2, report_op("/apps/none", 2, b8.hash(), b8.state_root)),
        failed(ShardError::NotAShard("/apps/none".to_owned()))
    );
    let numbers: Vec<u64> = p
        .ledger
        .shard_reports(&path(s1))
        .unwrap()
        .iter()
        .map(|r| r.block_number)
        .collect();
    assert_eq!(numbers, [2, 4, 6, 10]);
    assert_eq!(
        audit_shard(&p.ledger, &path(s1), shard.ledger())
            .unwrap()
            .reports,
        4
    );
    assert!(p.ledger.verify().is_ok());
}

#[test]
fn two_shards_produce_in_parallel_and_report_to_the_parent() {
    let mut p = Parent::new();
    let mut set = ShardSet::new(vec![
        child(&p.dir.path().join("a.redb"), "a", 11, p.key(2)),
        child(&p.dir.path().join("b.redb"), "b", 12, p.key(3)),
    ]);
    for shard in set.shards() {
        let at = shard.path().to_string();
        let config = shard.config(p.addr(ADMIN));
        assert_eq!(p.branch(ADMIN, &at, &config), TxOutcome::Applied);
    }
    let main = std::thread::current().id();
    let threads = set.par_each(|shard| {
        let seed = if shard.ledger().chain_id() == "a" {
            11
        } else {
            12
        };
        run_child(shard, seed, 4, 5);
        std::thread::current().id()
    });
    assert!(threads[0] != threads[1] && !threads.contains(&main));
    // One more block each through the set's own parallel production (tip 5: no new report).
    for block in set.produce_blocks(TIME + 10) {
        assert_eq!(block.unwrap().header.height, 5);
    }
    let hashes = set.submit_reports(&mut p.ledger, 9).unwrap();
    assert_eq!(hashes.len(), 4);
    p.produce();
    for shard in set.shards() {
        assert_eq!(shard.ledger().tip().height, 5);
        let reports = p.ledger.shard_reports(shard.path()).unwrap();
        let numbers: Vec<u64> = reports.iter().map(|r| r.block_number).collect();
        assert_eq!(numbers, [2, 4]);
        assert_eq!(
            reports[1],
            ShardReport::of(&shard.ledger().block(4).unwrap().unwrap().header)
        );
        let audit = audit_shard(&p.ledger, shard.path(), shard.ledger()).unwrap();
        assert_eq!((audit.reports, audit.latest), (2, Some(4)));
    }
    // Each child applied its own transfers: 20 of them, 1 fee each to its own validator.
    let a = set.shards()[0].ledger();
    assert_eq!(a.block(1).unwrap().unwrap().txs.len(), 5);
    assert_ne!(a.state_root(), set.shards()[1].ledger().state_root());
    assert!(a.verify().is_ok() && set.shards()[1].ledger().verify().is_ok());
    // The other shard's file is another chain.
    assert!(matches!(
        audit_shard(&p.ledger, set.shards()[0].path(), set.shards()[1].ledger()),
        Err(AuditError::WrongChain { .. })
    ));
}

#[test]
fn audit_names_the_first_tampered_report() {
    let mut p = Parent::new();
    let child_file = p.dir.path().join("s1.redb");
    let mut shard = child(&child_file, "s1", 11, p.key(2));
    let s1 = "/apps/s1";
    assert_eq!(
        p.branch(ADMIN, s1, &shard.config(p.addr(ADMIN))),
        TxOutcome::Applied
    );
    run_child(&mut shard, 11, 8, 2);
    let block = |h: u64| shard.ledger().block(h).unwrap().unwrap().header;
    let (b2, b3, b4, b6, b8) = (block(2), block(3), block(4), block(6), block(8));
    // Honest 2, then a faulty reporter sends block 3's hash as block 4's: the parent cannot
    // tell (it has no child data) and records it.
    assert_eq!(
        p.send(2, report_op(s1, 2, b2.hash(), b2.state_root)),
        TxOutcome::Applied
    );
    assert_eq!(
        p.send(2, report_op(s1, 4, b3.hash(), b4.state_root)),
        TxOutcome::Applied
    );
    assert_eq!(
        p.send(2, report_op(s1, 6, b6.hash(), b4.state_root)),
        TxOutcome::Applied
    );
    let err = audit_shard(&p.ledger, &path(s1), shard.ledger()).unwrap_err();
    let AuditError::HashMismatch {
        block_number,
        reported,
        stored,
        ..
    } = &err
    else {
        panic!("expected a hash mismatch, got {err}");
    };
    assert_eq!(*block_number, 4);
    assert_eq!(*reported, hex::encode(b3.hash()));
    assert_eq!(*stored, hex::encode(b4.hash()));

    // On a second parent, a right hash with a wrong state root, then a block the child
    // lacks; checked from the closed files.
    let mut q = Parent::new();
    assert_eq!(
        q.branch(ADMIN, s1, &shard.config(q.addr(ADMIN))),
        TxOutcome::Applied
    );
    assert_eq!(
        q.send(2, report_op(s1, 2, b2.hash(), b2.state_root)),
        TxOutcome::Applied
    );
    assert_eq!(
        q.send(2, report_op(s1, 8, b8.hash(), b6.state_root)),
        TxOutcome::Applied
    );
    assert!(matches!(
        audit_shard(&q.ledger, &path(s1), shard.ledger()),
        Err(AuditError::StateRootMismatch {
            block_number: 8,
            ..
        })
    ));
    assert_eq!(
        q.send(2, report_op(s1, 100, b8.hash(), b8.state_root)),
        TxOutcome::Applied
    );
    let parent_file = q.dir.path().join("parent.redb");
    drop(shard);
    drop(q.ledger);
    let err = audit_shard_files(&parent_file, &path(s1), &child_file).unwrap_err();
    assert!(
        matches!(
            err,
            AuditError::StateRootMismatch {
                block_number: 8,
                ..
            }
        ),
        "{err}"
    );
    assert!(matches!(
        audit_shard_files(&parent_file, &path("/apps/none"), &child_file),
        Err(AuditError::NotAShard(_))
    ));
    assert!(matches!(
        audit_shard_files(&parent_file, &path(s1), &q.dir.path().join("missing.redb")),
        Err(AuditError::NoFile(_))
    ));
}

#[test]
fn audit_reports_a_missing_child_block() {
    let mut p = Parent::new();
    let child_file = p.dir.path().join("s1.redb");
    let mut shard = child(&child_file, "s1", 11, p.key(2));
    let s1 = "/apps/s1";
    assert_eq!(
        p.branch(ADMIN, s1, &shard.config(p.addr(ADMIN))),
        TxOutcome::Applied
    );
    run_child(&mut shard, 11, 2, 1);
    let b2 = shard.ledger().block(2).unwrap().unwrap().header;
    assert_eq!(
        p.send(2, report_op(s1, 2, b2.hash(), b2.state_root)),
        TxOutcome::Applied
    );
    assert_eq!(
        p.send(2, report_op(s1, 4, b2.hash(), b2.state_root)),
        TxOutcome::Applied
    );
    let parent_file = p.dir.path().join("parent.redb");
    drop(shard);
    drop(p.ledger);
    let err = audit_shard_files(&parent_file, &path(s1), &child_file).unwrap_err();
    assert!(
        matches!(
            err,
            AuditError::MissingBlock {
                block_number: 4,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn shard_ops_round_trip_and_reject_bad_json() {
    let addr = "00112233445566778899aabbccddeeff00112233";
    let text = format!(
        r#"{{"ref":"/apps/s1","type":"SET_SHARD","value":{{"chain_id":"s1","reporter":"{addr}","reporting_period":4,"shard_owner":"{addr}"}}}}"#
    );
    let branch = op(&text);
    assert_eq!(branch.to_canonical_json(), text);
    let hash = "ab".repeat(32);
    let text = format!(
        r#"{{"ref":"/apps/s1","type":"REPORT_SHARD","value":{{"block_number":8,"proof_hash":"{hash}","state_root":"{hash}"}}}}"#
    );
    let report = op(&text);
    assert_eq!(report.to_canonical_json(), text);
    assert_eq!(
        report,
        Op::ReportShard {
            path: path("/apps/s1"),
            report: ShardReport {
                block_number: 8,
                proof_hash: [0xab; 32],
                state_root: [0xab; 32],
            },
        }
    );
    let bad = [
        text.replace(&hash, &hash.to_uppercase()),
        text.replace(&hash, &"ab".repeat(31)),
        text.replace(":8,", ":-8,"),
        text.replace("\"block_number\"", "\"extra\":1,\"block_number\""),
        text.replace("/apps/s1", "/apps/.shard"),
        branch.to_canonical_json().replace(":4,", ":0,"),
        branch.to_canonical_json().replace("\"s1\",", "\"S1\","),
        branch.to_canonical_json().replace(addr, "xyz"),
    ];
    for text in &bad {
        assert!(Op::from_json_text(text).is_err(), "accepted {text}");
    }
}
