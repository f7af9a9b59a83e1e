//! A few FedAvg rounds on the digits data set through the library API (not the CLI).
//!
//! ```text
//! cargo run --release --example federated_digits
//! ```

use fl::federation::{Federation, FederationConfig, Progress, RoundMetrics};
use fl::partition::PartitionScheme;

/// Prints each round's test accuracy as it finishes.
struct PrintRounds;

impl Progress for PrintRounds {
    fn round_finished(&self, metrics: &RoundMetrics) {
        println!(
            "round {:>2}: test accuracy {:.2}%  ({} clients, {:.2}s)",
            metrics.round,
            100.0 * metrics.test_accuracy,
            metrics.clients.len(),
            metrics.seconds
        );
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Digits, an MLP 64-64-10, 10 clients with Dirichlet(0.5) label skew; five rounds of FedAvg.
    let config = FederationConfig {
        rounds: 5,
        partition: PartitionScheme::Dirichlet { alpha: 0.5 },
        ..FederationConfig::default()
    };
    // `Federation::new` loads and splits the data and checks every setting; nothing is written yet.
    let federation = Federation::new(config)?;
    println!(
        "{} on {} training rows, client sizes {:?}",
        federation.spec(),
        federation.train_set().len(),
        federation.partitioning().sizes()
    );
    // `run` writes the run directory: metrics, models per round, proof-of-learning logs, blobs.
    let out = std::env::temp_dir().join(format!("zkfl-example-{}", std::process::id()));
    let summary = federation.run(&out, false, &PrintRounds)?;
    println!(
        "final accuracy {:.2}%, run directory {}",
        100.0 * summary.final_accuracy,
        out.display()
    );
    Ok(())
}
