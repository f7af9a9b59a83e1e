//! `zkfl blobs`: leases (time-to-live) on content-addressed blobs, and collecting expired ones.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Subcommand;
use fl::blob::{BlobStore, Digest};
use fl::blob_ttl::unix_now;

/// `zkfl blobs` subcommands.
#[derive(Subcommand, Debug)]
pub enum BlobsCommand {
    /// Keep a blob for at least SECONDS from now (leases only grow; unleased blobs are permanent)
    Retain {
        /// The blob directory (e.g. runs/default/blobs)
        #[arg(long)]
        dir: PathBuf,
        /// The blob's SHA-256 digest (hex)
        #[arg(long)]
        digest: String,
        /// Seconds from now
        #[arg(long)]
        seconds: u64,
    },
    /// Remove every blob whose lease has ended
    Gc {
        /// The blob directory (e.g. runs/default/blobs)
        #[arg(long)]
        dir: PathBuf,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
}

/// Runs `zkfl blobs`.
pub fn run(command: BlobsCommand) -> Result<()> {
    match command {
        BlobsCommand::Retain {
            dir,
            digest,
            seconds,
        } => {
            let store = BlobStore::open(&dir)?;
            let digest: Digest = digest.parse().context("--digest")?;
            anyhow::ensure!(
                store.contains(&digest),
                "{} holds no blob {digest}",
                dir.display()
            );
            let ttl = Duration::from_secs(seconds);
            store.retain(&digest, unix_now().saturating_add(ttl.as_secs()))?;
            println!(
                "{digest} kept until {} (seconds since the epoch)",
                store.expiry(&digest)?.unwrap_or_default()
            );
            Ok(())
        }
        BlobsCommand::Gc { dir, json } => {
            anyhow::ensure!(dir.is_dir(), "{} is not a blob directory", dir.display());
            let report = BlobStore::open(&dir)?.collect_garbage(unix_now())?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!(
                    "removed {} expired blobs ({} bytes); {} leased blobs kept",
                    report.removed, report.freed_bytes, report.leased
                );
                for (digest, why) in &report.unreadable {
                    println!("kept {digest}: its {why}, not a time (retain it again to fix)");
                }
            }
            Ok(())
        }
    }
}
