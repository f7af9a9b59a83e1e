//! Crash-test helper: opens a ledger file and produces blocks of transfers forever, printing
//! each committed height on its own line (flushed), until killed or `max_blocks` is reached.
//!
//! Usage: `ledger-crash-helper <ledger file> <seed> <txs per block> [max blocks]`. The genesis,
//! keys and accounts come from [`chain::workload::Workload`] with `crash_test_workload(seed)`, which
//! the crash test rebuilds to reopen the same file.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use chain::SingleValidator;
use chain::ledger::Ledger;
use chain::workload::crash_test_workload;

fn run(args: &[String]) -> Result<(), String> {
    let [path, seed, per_block, rest @ ..] = args else {
        return Err(
            "usage: ledger-crash-helper <ledger file> <seed> <txs per block> [max blocks]"
                .to_owned(),
        );
    };
    let path = PathBuf::from(path);
    let seed: u64 = seed.parse().map_err(|e| format!("seed: {e}"))?;
    let per_block: usize = per_block
        .parse()
        .map_err(|e| format!("txs per block: {e}"))?;
    let max_blocks: u64 = match rest.first() {
        Some(m) => m.parse().map_err(|e| format!("max blocks: {e}"))?,
        None => u64::MAX,
    };
    let mut workload = crash_test_workload(seed);
    let validator = chain::Keypair::from_secret(workload.validator.secret());
    let mut ledger = Ledger::open(&path, &workload.genesis, SingleValidator::new(validator))
        .map_err(|e| e.to_string())?;
    let mut stdout = std::io::stdout();
    for _ in 0..max_blocks {
        let time = ledger.tip().timestamp + 1000;
        let txs = workload.transfers(&ledger, per_block, 1, time);
        for result in ledger.submit_batch(txs) {
            result.map_err(|e| e.to_string())?;
        }
        let block = ledger.produce_block(time).map_err(|e| e.to_string())?;
        writeln!(stdout, "{}", block.header.height).map_err(|e| e.to_string())?;
        stdout.flush().map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ledger-crash-helper: {e}");
            ExitCode::FAILURE
        }
    }
}
