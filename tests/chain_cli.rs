//! The ledger from the command line: keys, a ledger file, rules that decide writes, blocks and
//! the from-genesis check, through the real `zkfl` binary.

mod common;

use std::path::Path;

use common::{fails_with, ok, zkfl};

fn new_key(dir: &Path, name: &str) -> (String, String) {
    let path = dir.join(name).display().to_string();
    let address = ok(&zkfl(&["keys", "new", "--out", &path]));
    assert_eq!(address.len(), 40, "{address}");
    (path, address)
}

/// Key files of a validator (also the root owner) and a stranger, and where the ledger goes.
struct Parties {
    validator: String,
    owner: String,
    stranger: String,
    stranger_addr: String,
    ledger: String,
}

fn parties(dir: &Path) -> Parties {
    let (validator, owner) = new_key(dir, "validator.json");
    let (stranger, stranger_addr) = new_key(dir, "stranger.json");
    let ledger = dir.join("ledger.redb").display().to_string();
    Parties {
        validator,
        owner,
        stranger,
        stranger_addr,
        ledger,
    }
}

#[test]
fn rules_decide_writes_and_the_chain_verifies_from_genesis() {
    let tmp = tempfile::tempdir().unwrap();
    let Parties {
        validator,
        owner,
        stranger,
        stranger_addr,
        ledger,
    } = parties(tmp.path());
    let alloc_owner = format!("{owner}=1000");
    let alloc_stranger = format!("{stranger_addr}=50");
    ok(&zkfl(&[
        "chain",
        "init",
        "--ledger",
        &ledger,
        "--validator",
        &validator,
        "--alloc",
        &alloc_owner,
        "--alloc",
        &alloc_stranger,
    ]));
    let again = zkfl(&[
        "chain",
        "init",
        "--ledger",
        &ledger,
        "--validator",
        &validator,
    ]);
    assert_eq!(again.status.code(), Some(1));

    // Only the owner may write under /apps/demo: the root owner installs that rule.
    let rule =
        format!(r#"{{"type":"SET_RULE","ref":"/apps/demo","value":"auth.addr == '{owner}'"}}"#);
    let tx = |key: &str, op: &str| {
        zkfl(&[
            "chain",
            "tx",
            "--ledger",
            &ledger,
            "--key",
            key,
            "--validator",
            &validator,
            "--op",
            op,
        ])
    };
    ok(&tx(&validator, &rule));
    let set = |key: &str, value: &str| {
        zkfl(&[
            "chain",
            "set",
            "--ledger",
            &ledger,
            "--key",
            key,
            "--validator",
            &validator,
            "/apps/demo/greeting",
            value,
        ])
    };
    ok(&set(&validator, r#""hello""#));
    let denied = set(&stranger, r#""mine now""#);
    assert_eq!(denied.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&denied.stderr);
    assert!(stderr.contains("rejected"), "{stderr}");
    let get = |path: &str| {
        ok(&zkfl(&[
            "chain",
            "get",
            "--ledger",
            &ledger,
            "--validator",
            &validator,
            path,
        ]))
    };
    assert_eq!(get("/apps/demo/greeting"), r#""hello""#);
    // The rejected write still cost the stranger its fee and used its nonce.
    assert_eq!(get(&format!("/accounts/{stranger_addr}/balance")), "49");
    let bad_op = tx(&validator, r#"{"type":"NOT_AN_OP"}"#);
    assert_eq!(bad_op.status.code(), Some(1));

    let blocks = ok(&zkfl(&[
        "chain",
        "blocks",
        "--ledger",
        &ledger,
        "--validator",
        &validator,
    ]));
    let headers = blocks
        .lines()
        .filter(|l| l.contains(" txs  state "))
        .count();
    assert_eq!(headers, 4, "{blocks}");
    // Each transaction under its block: the stranger's write is shown as refused, with why.
    let tx_lines: Vec<&str> = blocks
        .lines()
        .filter(|l| !l.contains(" txs  state "))
        .collect();
    assert_eq!(tx_lines.len(), 3, "{blocks}");
    assert!(
        tx_lines[1].ends_with(r#"/apps/demo/greeting = "hello""#),
        "{blocks}"
    );
    assert!(
        tx_lines[2].contains("refused (") && tx_lines[2].contains(r#""mine now""#),
        "{blocks}"
    );
    let verified = ok(&zkfl(&[
        "chain",
        "verify",
        "--ledger",
        &ledger,
        "--validator",
        &validator,
    ]));
    assert!(
        verified.starts_with("valid: 4 blocks, 3 transactions"),
        "{verified}"
    );
}

#[test]
fn bench_ledger_reports_rates_beside_its_baseline() {
    let out = zkfl(&[
        "bench",
        "ledger",
        "--blocks",
        "2",
        "--per-block",
        "20",
        "--json",
    ]);
    let figures: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(figures["transactions"], 40);
    for key in [
        "raw_single",
        "full",
        "full_batch",
        "replay",
        "one_shard",
        "two_shards",
    ] {
        assert!(figures[key].as_f64().unwrap() > 0.0, "{key}: {figures}");
    }
    let bad = zkfl(&["bench", "ledger", "--blocks", "0"]);
    assert_eq!(bad.status.code(), Some(1));
}

#[test]
fn blobs_with_ended_leases_are_collected_and_others_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let store = fl::blob::BlobStore::open(tmp.path()).unwrap();
    let expired = store.put(b"old checkpoint").unwrap();
    let permanent = store.put(b"model").unwrap();
    store.retain(&expired, 1).unwrap();
    let dir = tmp.path().display().to_string();
    let kept = store.put(b"proof").unwrap().to_hex();
    ok(&zkfl(&[
        "blobs",
        "retain",
        "--dir",
        &dir,
        "--digest",
        &kept,
        "--seconds",
        "3600",
    ]));
    let report: serde_json::Value =
        serde_json::from_str(&ok(&zkfl(&["blobs", "gc", "--dir", &dir, "--json"]))).unwrap();
    assert_eq!(report["removed"], 1, "{report}");
    assert_eq!(report["leased"], 1, "{report}");
    assert!(!store.contains(&expired));
    assert!(store.contains(&permanent));
    // An empty lease (a crash after an unsynced rename) protects its blob and is named.
    let crashed = store.put(b"leased checkpoint").unwrap();
    store.retain(&crashed, 1).unwrap();
    std::fs::write(tmp.path().join(".leases").join(crashed.to_hex()), "").unwrap();
    let said = ok(&zkfl(&["blobs", "gc", "--dir", &dir]));
    assert!(
        said.contains(&format!("kept {}", crashed.to_hex())),
        "{said}"
    );
    assert!(store.contains(&crashed));
    let missing = "00".repeat(32);
    let out = zkfl(&[
        "blobs",
        "retain",
        "--dir",
        &dir,
        "--digest",
        &missing,
        "--seconds",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn read_only_commands_need_no_secret_key() {
    let tmp = tempfile::tempdir().unwrap();
    let Parties {
        validator,
        owner,
        stranger,
        ledger,
        ..
    } = parties(tmp.path());
    let alloc = format!("{owner}=1000");
    let init = [
        "chain",
        "init",
        "--ledger",
        &ledger,
        "--validator",
        &validator,
    ];
    ok(&zkfl(&[&init[..], &["--alloc", &alloc]].concat()));
    let set = |block_maker: &str| {
        zkfl(&[
            "chain",
            "tx",
            "--ledger",
            &ledger,
            "--key",
            &validator,
            "--validator",
            block_maker,
            "--op",
            r#"{"type":"SET_RULE","ref":"/greeting","value":"true"}"#,
        ])
    };
    ok(&set(&validator));

    // The ledger file alone.
    let read = |extra: &[&str], command: &[&str]| {
        zkfl(&[&["chain"], command, &["--ledger", &ledger], extra].concat())
    };
    let verified = ok(&read(&[], &["verify"]));
    assert!(
        verified.starts_with("valid: 2 blocks, 1 transactions"),
        "{verified}"
    );
    assert!(ok(&read(&[], &["blocks"])).contains("rule /greeting"));
    let balance = format!("/accounts/{owner}/balance");
    assert_eq!(ok(&read(&[], &["get", &balance])), "1000");

    // A public-only key file pins the validator; a stranger's is refused by name.
    let public_of = |key: &str, name: &str| {
        let path = tmp.path().join(name);
        std::fs::write(&path, ok(&zkfl(&["keys", "public", "--key", key]))).unwrap();
        path.display().to_string()
    };
    let validator_pub = public_of(&validator, "validator.pub.json");
    let text = std::fs::read_to_string(&validator_pub).unwrap();
    assert!(!text.contains("secret"), "{text}");
    ok(&read(&["--validator", &validator_pub], &["verify"]));
    ok(&read(&["--validator", &validator_pub], &["blocks"]));
    let stranger_pub = public_of(&stranger, "stranger.pub.json");
    fails_with(
        &read(&["--validator", &stranger_pub], &["verify"]),
        "validator",
    );

    // Making a block still needs the secret, and says so.
    fails_with(&set(&validator_pub), "no secret key");
    // A bad key path: one error line, its cause said once.
    let dir = tmp.path().display().to_string();
    let out = read(&["--validator", &dir], &["verify"]);
    fails_with(&out, "directory");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("os error").count(), 1, "{stderr}");
}
