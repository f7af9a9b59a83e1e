//! `zkfl bench train`: local-training throughput per back end and the proof-of-learning overhead.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use fl::backend::BackendKind;
use fl::data::{Dataset, DatasetSource, prepare_data};
use fl::federation::{Federation, FederationConfig, RunDir};
use fl::partition::PartitionScheme;
use fl::train::TrainConfig;
use serde::Serialize;

/// One measured configuration.
#[derive(Serialize)]
struct Row {
    model: String,
    batch: usize,
    backend: String,
    pol_every: u32,
    samples_per_s: f64,
    /// Throughput relative to the first back end without logging.
    ratio: f64,
    /// Extra time of logging relative to the same configuration without it, in percent.
    pol_overhead_percent: Option<f64>,
}

/// Runs `zkfl bench train`.
pub fn run(backends: Vec<String>, epochs: usize, repeat: usize, json: bool) -> Result<()> {
    let backends = backends
        .iter()
        .map(|b| b.parse::<BackendKind>())
        .collect::<Result<Vec<_>, _>>()?;
    let scratch = std::env::temp_dir().join(format!("zkfl-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    // The 784-input case trains on real digits upscaled to 28×28, read back through the CSV loader.
    let digits = prepare_data(&DatasetSource::Digits, "last", 0)?.train;
    let large = scratch.join("digits-28x28.csv");
    write_upscaled_csv(&digits, 28, &large)?;
    let cases = [
        ("mlp:64", DatasetSource::Digits, 16usize),
        ("mlp:256", DatasetSource::Csv { path: large }, 32usize),
    ];
    let mut rows = Vec::new();
    for (model, dataset, batch) in cases {
        let mut baseline = None;
        for &backend in &backends {
            let mut plain = None;
            for pol_every in [0u32, 1, 16] {
                let config = FederationConfig {
                    dataset: dataset.clone(),
                    model: model.to_string(),
                    clients: 1,
                    partition: PartitionScheme::Iid,
                    train: TrainConfig {
                        batch_size: batch,
                        local_epochs: epochs,
                        ..TrainConfig::default()
                    },
                    backend,
                    pol_every,
                    ..FederationConfig::default()
                };
                let federation = Federation::new(config)?;
                let seconds = measure(&federation, &scratch, repeat)?;
                let plain = *plain.get_or_insert(seconds);
                let base = *baseline.get_or_insert(plain);
                rows.push(Row {
                    model: federation.spec().to_string(),
                    batch,
                    backend: backend.to_string(),
                    pol_every,
                    samples_per_s: (federation.train_set().len() * epochs) as f64 / seconds,
                    ratio: base / plain,
                    pol_overhead_percent: (pol_every > 0).then(|| 100.0 * (seconds / plain - 1.0)),
                });
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    if json {
        println!("{}", serde_json::to_string(&rows)?);
        return Ok(());
    }
    println!(
        "{:<16} {:>5} {:<8} {:>9} {:>12} {:>9} {:>13}",
        "model", "batch", "backend", "pol every", "samples/s", "vs first", "pol overhead"
    );
    for r in &rows {
        println!(
            "{:<16} {:>5} {:<8} {:>9} {:>12.0} {:>8.2}x {:>13}",
            r.model,
            r.batch,
            r.backend,
            if r.pol_every == 0 {
                "-".to_string()
            } else {
                r.pol_every.to_string()
            },
            r.samples_per_s,
            r.ratio,
            r.pol_overhead_percent
                .map_or("-".to_string(), |p| format!("{p:+.1}%"))
        );
    }
    Ok(())
}

/// Median wall time of one client's local training on the whole training set (the production
/// path: with `pol_every > 0` it records, hashes and stores the checkpoints and writes the log).
fn measure(federation: &Federation, scratch: &Path, repeat: usize) -> Result<f64> {
    let global = federation.spec().init_params(0);
    let mut times = Vec::new();
    for run in 0..=repeat {
        let dir = RunDir::create(&scratch.join(format!("run-{run}")))?;
        let started = Instant::now();
        federation.train_client(&dir, 1, 0, &global)?;
        // The first run warms caches and allocators; it is not counted.
        if run > 0 {
            times.push(started.elapsed().as_secs_f64());
        }
        std::fs::remove_dir_all(dir.root())?;
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// Writes `data`'s 8×8 images upscaled (nearest neighbour) to `side`×`side` as a CSV with the
/// label last.
fn write_upscaled_csv(data: &Dataset, side: usize, path: &PathBuf) -> Result<()> {
    let (h, w) = data.image_shape.unwrap_or((8, 8));
    let mut text = String::new();
    for i in 0..data.len() {
        let row = data.row(i);
        for y in 0..side {
            for x in 0..side {
                text.push_str(&format!("{},", row[(y * h / side) * w + x * w / side]));
            }
        }
        text.push_str(&format!("{}\n", data.labels[i]));
    }
    std::fs::write(path, text)?;
    Ok(())
}
