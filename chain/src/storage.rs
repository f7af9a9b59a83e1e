//! The ledger file: blocks, transaction receipts, state nodes and metadata in one redb database.
//!
//! # Tables
//! | table    | key                       | value |
//! |----------|---------------------------|-------|
//! | `blocks` | height (u64)              | block encoding ([`crate::block`]) |
//! | `txs`    | tx hash (32 bytes)        | `u64 height ‖ u32 index ‖` receipt encoding |
//! | `state`  | node key ([`crate::redb_store`]) | node encoding |
//! | `meta`   | `"tip"`, `"genesis"`, `"format"` | tip height (u64 BE), genesis JSON, format version |
//!
//! **Atomicity.** [`Storage::commit_block`] writes a block, its receipts, every state node it
//! changed and the new tip in ONE redb write transaction (durability `Immediate`: committed
//! means on disk). A crash at any moment leaves the file at the previous block or the new one,
//! never between: redb's commit is atomic, and the state, blocks and tip live in the same file.

use std::path::Path as FsPath;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, TableDefinition, TableError};

use crate::block::{Block, BlockHeader};
use crate::execute::Receipt;
use crate::redb_store::RedbNodeStore;
use crate::store::Hash;

/// Blocks by height.
pub const BLOCKS: TableDefinition<'static, u64, &'static [u8]> = TableDefinition::new("blocks");
/// Transaction location and receipt by hash.
pub const TXS: TableDefinition<'static, &'static [u8], &'static [u8]> = TableDefinition::new("txs");
/// State tree nodes by key.
pub const STATE: TableDefinition<'static, &'static [u8], &'static [u8]> =
    TableDefinition::new("state");
/// Metadata by name.
pub const META: TableDefinition<'static, &'static str, &'static [u8]> =
    TableDefinition::new("meta");

/// Meta key of the tip height.
pub const META_TIP: &str = "tip";
/// Meta key of the genesis config (canonical JSON).
pub const META_GENESIS: &str = "genesis";
/// Meta key of the file format version.
pub const META_FORMAT: &str = "format";
/// The file format this crate writes.
pub const FORMAT_VERSION: u8 = 1;

/// Why the ledger file could not be read or written.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StorageError {
    /// The database reported an error.
    #[error("ledger database: {0}")]
    Db(Arc<redb::Error>),
    /// Stored bytes do not decode or contradict each other.
    #[error("corrupt ledger file: {0}")]
    Corrupt(String),
}

impl From<redb::Error> for StorageError {
    fn from(e: redb::Error) -> StorageError {
        StorageError::Db(Arc::new(e))
    }
}

fn db_err(e: impl Into<redb::Error>) -> StorageError {
    StorageError::from(e.into())
}

/// Where an included transaction is, and its receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxLocation {
    /// Height of its block.
    pub height: u64,
    /// Position in the block.
    pub index: u32,
    /// Its receipt.
    pub receipt: Receipt,
}

/// The ledger file.
#[derive(Clone)]
pub struct Storage {
    db: Arc<Database>,
}

impl Storage {
    /// Opens the file at `path`, creating it if absent.
    pub fn open(path: &FsPath) -> Result<Storage, StorageError> {
        let db = Database::create(path).map_err(db_err)?;
        Ok(Storage { db: Arc::new(db) })
    }

    /// The database, shared with the state node store.
    pub fn database(&self) -> Arc<Database> {
        Arc::clone(&self.db)
    }

    /// A state node store over this file.
    pub fn node_store(&self) -> RedbNodeStore {
        RedbNodeStore::new(self.database())
    }

    /// Reads one value from a table; a missing table reads as empty.
    fn read<K, V, T>(
        &self,
        table: TableDefinition<'static, K, V>,
        key: K::SelfType<'_>,
        f: impl FnOnce(V::SelfType<'_>) -> T,
    ) -> Result<Option<T>, StorageError>
    where
        K: redb::Key + 'static,
        V: redb::Value + 'static,
    {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = match txn.open_table(table) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(db_err(e)),
        };
        let value = table.get(key).map_err(db_err)?;
        Ok(value.map(|v| f(v.value())))
    }

    /// The tip height, `None` for a new file.
    pub fn tip(&self) -> Result<Option<u64>, StorageError> {
        match self.read(META, META_TIP, <[u8]>::to_vec)? {
            None => Ok(None),
            Some(bytes) => <[u8; 8]>::try_from(bytes.as_slice())
                .map(|b| Some(u64::from_be_bytes(b)))
                .map_err(|_| StorageError::Corrupt("tip height is not 8 bytes".to_owned())),
        }
    }

    /// The stored genesis config text.
    pub fn genesis_json(&self) -> Result<Option<String>, StorageError> {
        match self.read(META, META_GENESIS, <[u8]>::to_vec)? {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| StorageError::Corrupt("genesis is not UTF-8".to_owned())),
        }
    }

    /// The block at `height`, if stored.
    pub fn block(&self, height: u64) -> Result<Option<Block>, StorageError> {
        match self.read(BLOCKS, height, <[u8]>::to_vec)? {
            None => Ok(None),
            Some(bytes) => Block::decode(&bytes)
                .map(Some)
                .map_err(|e| StorageError::Corrupt(format!("block {height}: {e}"))),
        }
    }

    /// The header of the block at `height`, if stored (its transactions are not read).
    pub fn block_header(&self, height: u64) -> Result<Option<BlockHeader>, StorageError> {
        self.read(BLOCKS, height, Block::decode_header)?
            .transpose()
            .map_err(|e| StorageError::Corrupt(format!("block {height}: {e}")))
    }

    /// Where the transaction `hash` was included, with its receipt.
    pub fn tx_location(&self, hash: &Hash) -> Result<Option<TxLocation>, StorageError> {
        let Some(bytes) = self.read(TXS, hash.as_slice(), <[u8]>::to_vec)? else {
            return Ok(None);
        };
        let corrupt =
            |why: String| StorageError::Corrupt(format!("tx {}: {why}", hex::encode(hash)));
        if bytes.len() < 12 {
            return Err(corrupt("record too short".to_owned()));
        }
        let (place, receipt) = bytes.split_at(12);
        let mut height = [0u8; 8];
        height.copy_from_slice(&place[..8]);
        let mut index = [0u8; 4];
        index.copy_from_slice(&place[8..]);
        let receipt = Receipt::decode(receipt).map_err(|e| corrupt(e.to_string()))?;
        Ok(Some(TxLocation {
            height: u64::from_be_bytes(height),
            index: u32::from_be_bytes(index),
            receipt,
        }))
    }

    /// Writes `block`, its `receipts`, the staged state nodes of `nodes` and the new tip in
    /// one write transaction; with `genesis`, also the genesis config and format version.
    /// On success the node store's staged writes become committed; on error they are
    /// discarded and the file is unchanged.
    pub fn commit_block(
        &self,
        block: &Block,
        receipts: &[Receipt],
        nodes: &mut RedbNodeStore,
        genesis: Option<&str>,
    ) -> Result<(), StorageError> {
        let result = self.write_block(block, receipts, nodes, genesis);
        match result {
            Ok(()) => nodes.committed(),
            Err(_) => nodes.discard(),
        }
        result
    }

    fn write_block(
        &self,
        block: &Block,
        receipts: &[Receipt],
        nodes: &RedbNodeStore,
        genesis: Option<&str>,
    ) -> Result<(), StorageError> {
        if let Some(fault) = nodes.fault() {
            return Err(fault);
        }
        let height = block.header.height;
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut blocks = txn.open_table(BLOCKS).map_err(db_err)?;
            blocks
                .insert(height, block.encode().as_slice())
                .map_err(db_err)?;
            let mut txs = txn.open_table(TXS).map_err(db_err)?;
            for (index, receipt) in receipts.iter().enumerate() {
                let mut record = Vec::with_capacity(64);
                record.extend_from_slice(&height.to_be_bytes());
                let index = u32::try_from(index).expect("invariant: blocks hold few transactions");
                record.extend_from_slice(&index.to_be_bytes());
                record.extend_from_slice(&receipt.encode());
                txs.insert(receipt.tx_hash.as_slice(), record.as_slice())
                    .map_err(db_err)?;
            }
            let mut state = txn.open_table(STATE).map_err(db_err)?;
            for (key, node) in nodes.staged_encoded() {
                match node {
                    Some(bytes) => state.insert(key.as_slice(), bytes.as_slice()),
                    None => state.remove(key.as_slice()),
                }
                .map_err(db_err)?;
            }
            let mut meta = txn.open_table(META).map_err(db_err)?;
            meta.insert(META_TIP, height.to_be_bytes().as_slice())
                .map_err(db_err)?;
            if let Some(genesis) = genesis {
                meta.insert(META_GENESIS, genesis.as_bytes())
                    .map_err(db_err)?;
                meta.insert(META_FORMAT, [FORMAT_VERSION].as_slice())
                    .map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)
    }
}
