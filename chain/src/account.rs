//! Accounts: addresses and where an account's balance and nonce live in the state.
//!
//! **Address** = the first 20 bytes of SHA-256(public key bytes), written as 40 lowercase hex
//! digits. That text is the account's path segment (`/accounts/<address>/balance`,
//! `/accounts/<address>/nonce`) and its `auth.addr` in rules.
//!
//! **Nonce**: `/accounts/<address>/nonce` holds the number of transactions of this account
//! that were included in blocks (absent = 0); the next transaction must carry exactly that
//! nonce. Only the ledger writes it (genesis installs a `false` rule on it).

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::keys::PublicKey;
use crate::path::Path;

/// Length of an address in bytes.
pub const ADDRESS_LEN: usize = 20;

/// An account address: the first 20 bytes of SHA-256 of its public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub [u8; ADDRESS_LEN]);

impl Address {
    /// The address of `key`.
    pub fn of(key: &PublicKey) -> Address {
        let digest = Sha256::digest(key.0);
        let mut out = [0u8; ADDRESS_LEN];
        out.copy_from_slice(&digest[..ADDRESS_LEN]);
        Address(out)
    }

    /// `/accounts/<address>/balance`
    pub fn balance_path(&self) -> Path {
        self.account_path("balance")
    }

    /// `/accounts/<address>/nonce`
    pub fn nonce_path(&self) -> Path {
        self.account_path("nonce")
    }

    fn account_path(&self, leaf: &str) -> Path {
        Path::from_segments(["accounts", &self.to_string(), leaf])
            .expect("invariant: hex addresses are valid path segments")
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

/// Text that is not 40 lowercase hex digits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bad address {0:?}: expected 40 lowercase hex digits")]
pub struct AddressError(pub String);

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Address, AddressError> {
        let bad = || AddressError(text.to_owned());
        if text.len() != 2 * ADDRESS_LEN || text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad());
        }
        let mut out = [0u8; ADDRESS_LEN];
        hex::decode_to_slice(text, &mut out).map_err(|_| bad())?;
        Ok(Address(out))
    }
}
