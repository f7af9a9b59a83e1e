//! Crash safety with a real process: SIGKILL the block producer mid-run, reopen, verify.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chain::workload::crash_test_workload;
use chain::{Keypair, Ledger, SingleValidator};

const SEED: u64 = 42;
const TXS_PER_BLOCK: &str = "100";

/// Runs the helper on `path`, kills it `delay` after it printed `after` heights, and returns
/// the last height it printed.
fn run_and_kill(path: &std::path::Path, after: u64, delay: Duration) -> u64 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ledger-crash-helper"))
        .arg(path)
        .arg(SEED.to_string())
        .arg(TXS_PER_BLOCK)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the crash helper");
    let stdout = child.stdout.take().expect("piped stdout");
    let (send, heights) = mpsc::channel::<u64>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let height = line.trim().parse().expect("the helper prints heights");
            if send.send(height).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = 0u64;
    let mut last = 0u64;
    while seen < after {
        let height = heights
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the helper keeps producing blocks");
        seen += 1;
        last = height;
    }
    std::thread::sleep(delay);
    child.kill().expect("SIGKILL the helper");
    child.wait().expect("reap the helper");
    reader.join().expect("reader thread");
    // Heights printed before the kill were committed.
    while let Ok(height) = heights.try_recv() {
        last = height;
    }
    last
}

fn open(path: &std::path::Path, workload: &chain::workload::Workload) -> Ledger {
    let key = Keypair::from_secret(workload.validator.secret());
    Ledger::open(path, &workload.genesis, SingleValidator::new(key)).expect("reopen after kill")
}

#[test]
fn killed_producer_leaves_a_whole_block_or_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.redb");
    let mut workload = crash_test_workload(SEED);
    let total = workload.total_balance(&open(&path, &workload));
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    // Kill at different moments: right after a commit, and part-way into later blocks.
    for (round, base_ms) in [0u64, 5, 15, 30].into_iter().enumerate() {
        let delay = Duration::from_millis(base_ms + (jitter >> round) % 10);
        let printed = run_and_kill(&path, 2 + round as u64, delay);
        let mut ledger = open(&path, &workload);
        let tip = ledger.tip().height;
        let context = format!("round {round}, kill delay {delay:?}");
        assert!(
            tip >= printed,
            "{context}: tip {tip} < last printed {printed}"
        );
        let report = ledger.verify().unwrap_or_else(|e| panic!("{context}: {e}"));
        assert_eq!(report.blocks, tip + 1);
        assert_eq!(
            workload.total_balance(&ledger),
            total,
            "{context}: funds conserved"
        );
        // The chain goes on.
        let time = ledger.tip().timestamp + 1;
        for r in ledger.submit_batch(workload.transfers(&ledger, 20, 1, time)) {
            r.unwrap();
        }
        let block = ledger.produce_block(time).unwrap();
        assert_eq!(block.header.height, tip + 1);
        assert_eq!(block.txs.len(), 20);
        assert_eq!(workload.total_balance(&ledger), total);
    }
}
