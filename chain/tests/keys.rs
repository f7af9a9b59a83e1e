//! Keys: addresses, key files, batch verification.

mod ledger_common;

use chain::account::Address;
use chain::keys::{
    BatchVerifier, Domain, KeyFileError, Keypair, PublicKey, Signature, SignatureError,
    load_key_file, save_key_file,
};
use chain::tx::TxError;
use chain::workload::transfer_op;
use chain::{LedgerError, Transaction};
use ledger_common::{CHAIN, Fixture, small_order_encodings};
use sha2::{Digest, Sha256};

/// The signature anyone can make for a small-order key: R = identity, s = 0.
fn forged_signature() -> Signature {
    let mut sig = [0; 64];
    sig[0] = 1;
    Signature(sig)
}

#[test]
fn address_is_first_20_bytes_of_sha256_of_the_key() {
    let key = Keypair::from_secret([5; 32]);
    let digest = Sha256::digest(key.public().0);
    let addr = Address::of(&key.public());
    assert_eq!(addr.0, digest[..20]);
    assert_eq!(addr.to_string(), hex::encode(&digest[..20]));
    assert_eq!(addr.to_string().parse::<Address>().unwrap(), addr);
    assert!(addr.to_string().to_uppercase().parse::<Address>().is_err());
    assert!("abc".parse::<Address>().is_err());
    assert_eq!(
        addr.balance_path().to_string(),
        format!("/accounts/{addr}/balance")
    );
}

#[test]
fn key_files_round_trip_with_private_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.json");
    let key = Keypair::generate();
    save_key_file(&path, &key).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let loaded = load_key_file(&path).unwrap();
    assert_eq!(loaded.public(), key.public());
    assert_eq!(loaded.secret(), key.secret());
    // No overwrite.
    assert!(matches!(
        save_key_file(&path, &key),
        Err(KeyFileError::Io { .. })
    ));
}

#[test]
fn bad_key_files_have_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        path
    };
    let a = Keypair::from_secret([1; 32]);
    let b = Keypair::from_secret([2; 32]);
    let mismatched = format!(
        r#"{{"public":"{}","secret":"{}"}}"#,
        a.public(),
        hex::encode(b.secret())
    );
    assert!(matches!(
        load_key_file(&write("m.json", &mismatched)),
        Err(KeyFileError::Mismatch { .. })
    ));
    assert!(matches!(
        load_key_file(&write("g.json", "garbage")),
        Err(KeyFileError::Format { .. })
    ));
    let short = r#"{"public":"00","secret":"00"}"#;
    let err = load_key_file(&write("s.json", short)).unwrap_err();
    assert!(err.to_string().contains("expected 32"), "{err}");
    assert!(matches!(
        load_key_file(&dir.path().join("none")),
        Err(KeyFileError::Io { .. })
    ));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let good = dir.path().join("open.json");
        save_key_file(&good, &a).unwrap();
        std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            load_key_file(&good),
            Err(KeyFileError::TooOpen { mode: 0o644, .. })
        ));
    }
}

#[test]
fn batch_verification_agrees_with_single() {
    let keys: Vec<Keypair> = (0..8u8).map(|i| Keypair::from_secret([i; 32])).collect();
    let mut good = BatchVerifier::new();
    let mut bad = BatchVerifier::new();
    for (i, key) in keys.iter().enumerate() {
        let hash = [i as u8; 32];
        let sig = key.sign(Domain::Transaction, &hash);
        good.queue(key.public(), Domain::Transaction, hash, sig);
        let signed_hash = if i == 5 { [99; 32] } else { hash };
        let sig = key.sign(Domain::Transaction, &signed_hash);
        assert_eq!(
            key.public()
                .verify(Domain::Transaction, &hash, &sig)
                .is_ok(),
            i != 5
        );
        bad.queue(key.public(), Domain::Transaction, hash, sig);
    }
    good.verify().unwrap();
    assert_eq!(bad.verify().unwrap_err().0, 5);
}

#[test]
fn there_are_fourteen_small_order_encodings_and_zip215_alone_accepts_forgeries_for_all() {
    let keys = small_order_encodings();
    assert_eq!(keys.len(), 14, "8 canonical, 6 non-canonical");
    let mut identity = [0; 32];
    identity[0] = 1;
    assert!(keys.contains(&identity));
    let message = Domain::Transaction.message(&[7; 32]);
    let sig = ed25519_zebra::Signature::from_bytes(&forged_signature().0);
    for key in &keys {
        // What the bare ZIP215 rules say: the forgery verifies.
        let zebra = ed25519_zebra::VerificationKey::try_from(*key).expect("decodes");
        assert!(zebra.verify(&sig, &message).is_ok(), "{}", hex::encode(key));
        // What we say: the key authorizes nothing.
        let key = PublicKey(*key);
        assert!(key.is_small_order());
        assert_eq!(
            key.verify(Domain::Transaction, &[7; 32], &forged_signature()),
            Err(SignatureError::SmallOrderKey(key))
        );
        assert_eq!(
            key.verify(Domain::Block, &[7; 32], &forged_signature()),
            Err(SignatureError::SmallOrderKey(key))
        );
    }
    // An honest key is not of small order.
    assert!(!Keypair::from_secret([3; 32]).public().is_small_order());
}

#[test]
fn a_batch_with_a_small_order_key_names_it() {
    let honest = Keypair::from_secret([4; 32]);
    for weak in small_order_encodings() {
        let mut batch = BatchVerifier::new();
        let sig = honest.sign(Domain::Transaction, &[1; 32]);
        batch.queue(honest.public(), Domain::Transaction, [1; 32], sig);
        batch.queue(
            PublicKey(weak),
            Domain::Transaction,
            [2; 32],
            forged_signature(),
        );
        assert_eq!(
            batch.verify(),
            Err((1, SignatureError::SmallOrderKey(PublicKey(weak))))
        );
    }
}

#[test]
fn a_small_order_key_cannot_spend_its_genesis_balance() {
    let mut f = Fixture::new(1);
    let keys = small_order_encodings();
    for key in &keys {
        f.workload
            .genesis
            .balances
            .insert(Address::of(&PublicKey(*key)), 500);
    }
    let mut ledger = f.open();
    let to = f.addr(0);
    let forged: Vec<_> = keys
        .iter()
        .map(|key| {
            let key = PublicKey(*key);
            let from = Address::of(&key);
            let tx = Transaction::new(CHAIN, &key, 0, 1, 5, transfer_op(&from, &to, 0, 400));
            chain::SignedTransaction {
                tx,
                signature: forged_signature(),
            }
        })
        .collect();
    for tx in &forged {
        let refused = ledger.submit(tx.clone()).unwrap_err();
        assert!(
            matches!(
                refused,
                LedgerError::Tx(TxError::Signature(SignatureError::SmallOrderKey(_)))
            ),
            "{refused}"
        );
        assert!(refused.to_string().contains("small order"), "{refused}");
    }
    // In one batch too, and nothing reaches a block.
    for result in ledger.submit_batch(forged) {
        assert!(result.is_err());
    }
    ledger.produce_block(1_800_000_000_000).unwrap();
    for key in &keys {
        let addr = Address::of(&PublicKey(*key));
        assert_eq!(ledger.balance(&addr), 500);
    }
    assert_eq!(ledger.balance(&to), ledger_common::START);
}
