//! Keys: addresses, key files, batch verification.

use chain::account::Address;
use chain::keys::{BatchVerifier, Domain, KeyFileError, Keypair, load_key_file, save_key_file};
use sha2::{Digest, Sha256};

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
