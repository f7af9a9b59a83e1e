//! `zkfl bench`: speed figures, each beside a baseline measured in the same run.

use std::time::Instant;

use anyhow::Result;
use clap::Subcommand;
use fl::backend::BackendKind;
use fl::blob::BlobStore;
use fl::blob::Digest;
use fl::data::prepare_data;
use fl::data::{Dataset, DatasetSource};
use fl::model::{ModelKind, ModelSpec};
use fl::pol::{LogHeader, PolRecorder};
use fl::train::{StepObserver, TrainConfig, train_local};
use serde::Serialize;

/// Benchmark subcommands.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Local-training throughput (samples/s) of the default MLP 64-64-10 at batch 16 and of a
    /// 784-256-10 MLP at batch 32 (digits upscaled to 28×28), per CPU back end, and the
    /// proof-of-learning logging overhead as a share of training time.
    Train {
        /// Back ends to compare (the first is the baseline of the ratio column)
        #[arg(long, value_delimiter = ',', default_value = "ndarray,flex")]
        backends: Vec<String>,
        /// Epochs over the digits training set per measurement
        #[arg(long, default_value_t = 3)]
        epochs: usize,
        /// Measurements per cell (the median is reported)
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// Print the rows as JSON on stdout
        #[arg(long)]
        json: bool,
    },
}

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

/// Runs a `zkfl bench` subcommand.
pub fn run(command: BenchCommand) -> Result<()> {
    let BenchCommand::Train {
        backends,
        epochs,
        repeat,
        json,
    } = command;
    let backends = backends
        .iter()
        .map(|b| b.parse::<BackendKind>())
        .collect::<Result<Vec<_>, _>>()?;
    let (digits, _) = prepare_data(&DatasetSource::Digits, "last", 0)?;
    let large = upscale(&digits, 28);
    let cases = [
        (ModelKind::Mlp { hidden: vec![64] }, &digits, 16usize),
        (ModelKind::Mlp { hidden: vec![256] }, &large, 32usize),
    ];
    let scratch = tempfile_dir()?;
    let mut rows = Vec::new();
    for (kind, data, batch) in cases {
        let spec = ModelSpec::new(kind, data.n_features, data.n_classes, None)?;
        let config = TrainConfig {
            batch_size: batch,
            local_epochs: epochs,
            ..TrainConfig::default()
        };
        let mut baseline = None;
        for &backend in &backends {
            let plain = measure(&spec, data, &config, backend, 0, &scratch, repeat)?;
            let base = *baseline.get_or_insert(plain);
            for pol_every in [0u32, 1, 16] {
                let seconds = if pol_every == 0 {
                    plain
                } else {
                    measure(&spec, data, &config, backend, pol_every, &scratch, repeat)?
                };
                rows.push(Row {
                    model: spec.to_string(),
                    batch,
                    backend: backend.to_string(),
                    pol_every,
                    samples_per_s: (data.len() * epochs) as f64 / seconds,
                    ratio: base / plain,
                    pol_overhead_percent: (pol_every > 0).then(|| 100.0 * (seconds / plain - 1.0)),
                });
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string(&rows)?);
    } else {
        println!(
            "{:<16} {:>5} {:<8} {:>9} {:>12} {:>8} {:>13}",
            "model", "batch", "backend", "pol every", "samples/s", "vs first", "pol overhead"
        );
        for r in &rows {
            println!(
                "{:<16} {:>5} {:<8} {:>9} {:>12.0} {:>7.2}x {:>13}",
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
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}

/// Median wall time of training one client on all of `data`.
fn measure(
    spec: &ModelSpec,
    data: &Dataset,
    config: &TrainConfig,
    backend: BackendKind,
    pol_every: u32,
    scratch: &std::path::Path,
    repeat: usize,
) -> Result<f64> {
    let device = backend.device()?;
    let rows: Vec<usize> = (0..data.len()).collect();
    let global = spec.init_params(0);
    let mut times = Vec::new();
    for run in 0..=repeat {
        let started = Instant::now();
        if pol_every == 0 {
            train_local(spec, &device, data, &rows, &global, config, 1, None)?;
        } else {
            let blobs =
                BlobStore::open(scratch.join(format!("blobs-{backend}-{pol_every}-{run}")))?;
            let header = LogHeader {
                client: 0,
                round: 1,
                dataset: "digits".into(),
                label_column: "last".into(),
                split_seed: 0,
                model: spec.to_string(),
                batch_size: config.batch_size as u32,
                momentum: 0.0,
                proximal_mu: 0.0,
                every: pol_every,
                global: Digest([0; 32]),
                initial: Digest([0; 32]),
            };
            let mut recorder = PolRecorder::start(header, blobs, &global, &global)?;
            train_local(
                spec,
                &device,
                data,
                &rows,
                &global,
                config,
                1,
                Some(&mut recorder as &mut dyn StepObserver),
            )?;
            recorder.finish()?;
        }
        // The first run warms caches and allocators; it is not counted.
        if run > 0 {
            times.push(started.elapsed().as_secs_f64());
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// Nearest-neighbour upscaling of square images to `side`×`side` (digits 8×8 → 28×28).
fn upscale(data: &Dataset, side: usize) -> Dataset {
    let (h, w) = data.image_shape.unwrap_or((8, 8));
    let mut features = Vec::with_capacity(data.len() * side * side);
    for i in 0..data.len() {
        let row = data.row(i);
        for y in 0..side {
            for x in 0..side {
                features.push(row[(y * h / side) * w + x * w / side]);
            }
        }
    }
    Dataset {
        name: format!("{}-{side}x{side}", data.name),
        features,
        n_features: side * side,
        labels: data.labels.clone(),
        n_classes: data.n_classes,
        image_shape: Some((side, side)),
    }
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("zkfl-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
