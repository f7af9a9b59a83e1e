//! `zkfl bench prover`: what proving a training step costs, per model, batch size and proof
//! system, beside a plain multiplication circuit of the same size proved in the same run.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use circuits::field::Bn254;
use circuits::halo2::{self, Fp};
use circuits::r1cs::{self, Encoding};
use circuits::reference::Model;
use circuits::relations::training_step::{self, DEFAULT_EPS, TrainingStepShape};
use circuits::{Assignment, Field, Halo2, Program, ProofSystem};
use prover::{CommittedData, StepInstance};
use rand::rngs::OsRng;
use serde::Serialize;
use verifier::{Backend, KeyStore};

use crate::commands::prove::key_store;

/// One measured configuration.
#[derive(Serialize, Clone, Debug)]
struct Row {
    model: String,
    batch: usize,
    backend: Backend,
    /// R1CS constraints (Groth16) or used rows (halo2).
    size: usize,
    /// log2 of the evaluation domain (Groth16) or k (halo2).
    log2_domain: u32,
    setup_s: f64,
    prove_s: f64,
    verify_ms: f64,
    proof_bytes: usize,
    peak_mb: f64,
    /// Prove time of a plain multiplication circuit of the same size, same back end.
    baseline_prove_s: f64,
    /// `prove_s / baseline_prove_s`.
    vs_plain: f64,
}

/// Runs `zkfl bench prover`.
pub fn run(
    models: &[String],
    batches: &[usize],
    backends: &[Backend],
    depth: u32,
    plot: &Path,
    keys: Option<PathBuf>,
    json: bool,
) -> Result<()> {
    let store = key_store(keys);
    let mut rows = Vec::new();
    for name in models {
        let model = parse_model(name)?;
        for &batch in batches {
            let shape = TrainingStepShape {
                model,
                batch,
                depth,
                eps: DEFAULT_EPS,
            };
            shape.validate()?;
            let (step, data) = StepInstance::random(&shape, 7);
            for &backend in backends {
                if !json {
                    eprintln!("measuring {name} batch {batch} with {backend} …");
                }
                let row = match backend {
                    Backend::Groth16 => groth16_row(name, &step, &data)?,
                    Backend::Halo2 => halo2_row(name, &step, &data, &store)?,
                };
                if !json {
                    print_row(&row, rows.is_empty());
                }
                rows.push(row);
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string(&rows)?);
    }
    draw(&rows, plot).map_err(|e| anyhow::anyhow!("plotting {}: {e}", plot.display()))?;
    if !json {
        println!("plot of prove time against batch size: {}", plot.display());
    }
    Ok(())
}

fn parse_model(name: &str) -> Result<Model> {
    let dims = |s: &str| -> Result<Vec<usize>> {
        s.split('-')
            .map(|d| d.parse::<usize>().with_context(|| format!("model {name}")))
            .collect()
    };
    let model = match name.split_once(':') {
        None => match name {
            "logreg" => Model::LogReg { inputs: 30 },
            "softmax" => Model::Softmax {
                inputs: 64,
                classes: 10,
            },
            "mlp" => Model::Mlp {
                inputs: 64,
                hidden: 16,
                classes: 10,
            },
            _ => bail!("unknown model {name} (logreg, softmax, mlp, or e.g. softmax:64-10)"),
        },
        Some(("logreg", d)) => Model::LogReg {
            inputs: dims(d)?[0],
        },
        Some(("softmax", d)) => match dims(d)?[..] {
            [inputs, classes] => Model::Softmax { inputs, classes },
            _ => bail!("softmax:D-C, got {name}"),
        },
        Some(("mlp", d)) => match dims(d)?[..] {
            [inputs, hidden, classes] => Model::Mlp {
                inputs,
                hidden,
                classes,
            },
            _ => bail!("mlp:D-H-C, got {name}"),
        },
        _ => bail!("unknown model {name}"),
    };
    if !model.is_valid() {
        bail!("invalid model {name}");
    }
    Ok(model)
}

fn build<F: Field>(step: &StepInstance, data: &CommittedData) -> Result<(Program, Assignment<F>)> {
    let tree = data.tree::<F>()?;
    let witness = step.witness(data, &tree)?;
    Ok(training_step::build(&step.shape, &witness)?)
}

fn seconds<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let started = Instant::now();
    let out = f();
    (out, started.elapsed().as_secs_f64())
}

/// Peak resident memory since the last reset, in MB (Linux; 0 elsewhere).
fn peak_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resets the peak-memory counter (Linux `clear_refs` 5; ignored where unsupported).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn groth16_row(name: &str, step: &StepInstance, data: &CommittedData) -> Result<Row> {
    let (program, assignment) = build::<Bn254>(step, data)?;
    program.check(&assignment)?;
    let size = program.cost().total as usize;
    reset_peak();
    let (keys, setup_s) = seconds(|| r1cs::setup(&program, &mut OsRng));
    let (pk, vk) = keys?;
    let (proof, prove_s) = seconds(|| r1cs::prove(&pk, &program, &assignment, &mut OsRng));
    let proof = proof?;
    let peak = peak_mb();
    let pvk = r1cs::prepare(&vk);
    let inputs = assignment.public_inputs(&program);
    let (verified, verify_s) = seconds(|| {
        (0..10)
            .map(|_| r1cs::verify(&pvk, &inputs, &proof))
            .collect::<Result<Vec<_>, _>>()
    });
    verified?;
    let (plain, plain_assignment) = r1cs::mul_chain::<Bn254>(size);
    let (plain_pk, _) = r1cs::setup(&plain, &mut OsRng)?;
    let (_, baseline_prove_s) =
        seconds(|| r1cs::prove(&plain_pk, &plain, &plain_assignment, &mut OsRng));
    Ok(Row {
        model: name.into(),
        batch: step.shape.batch,
        backend: Backend::Groth16,
        size,
        log2_domain: (size + program.public.len() + 1)
            .next_power_of_two()
            .trailing_zeros(),
        setup_s,
        prove_s,
        verify_ms: verify_s * 100.0,
        proof_bytes: proof.to_bytes().len(),
        peak_mb: peak,
        baseline_prove_s,
        vs_plain: prove_s / baseline_prove_s,
    })
}

fn halo2_row(
    name: &str,
    step: &StepInstance,
    data: &CommittedData,
    store: &KeyStore,
) -> Result<Row> {
    let (program, assignment) = build::<Fp>(step, data)?;
    program.check(&assignment)?;
    let layout = halo2::Layout::new(&program)?;
    let k = halo2::required_k(&layout);
    let params = store.halo2_params(k)?;
    reset_peak();
    let (keys, setup_s) = seconds(|| halo2::keygen(&params, &program));
    let keys = keys?;
    let (proof, prove_s) =
        seconds(|| Halo2::prove(&params, &keys, &program, &assignment, &mut OsRng));
    let proof = proof?;
    let peak = peak_mb();
    let inputs = assignment.public_inputs(&program);
    let (verified, verify_s) = seconds(|| halo2::verify(&params, keys.verifier(), &inputs, &proof));
    verified?;
    let rows = layout.rows();
    let (plain, plain_assignment) = r1cs::mul_chain::<Fp>(layout.lane_rows().max(1));
    let plain_keys = halo2::keygen(&params, &plain)?;
    let (_, baseline_prove_s) =
        seconds(|| Halo2::prove(&params, &plain_keys, &plain, &plain_assignment, &mut OsRng));
    Ok(Row {
        model: name.into(),
        batch: step.shape.batch,
        backend: Backend::Halo2,
        size: rows,
        log2_domain: k,
        setup_s,
        prove_s,
        verify_ms: verify_s * 1000.0,
        proof_bytes: proof.len(),
        peak_mb: peak,
        baseline_prove_s,
        vs_plain: prove_s / baseline_prove_s,
    })
}

fn print_row(r: &Row, header: bool) {
    if header {
        println!(
            "{:<10} {:>5} {:<8} {:>10} {:>4} {:>8} {:>8} {:>9} {:>7} {:>8} {:>9} {:>8}",
            "model",
            "batch",
            "backend",
            "size",
            "2^k",
            "setup s",
            "prove s",
            "verify ms",
            "bytes",
            "peak MB",
            "plain s",
            "vs plain"
        );
    }
    println!(
        "{:<10} {:>5} {:<8} {:>10} {:>4} {:>8.2} {:>8.2} {:>9.2} {:>7} {:>8.0} {:>9.2} {:>7.2}x",
        r.model,
        r.batch,
        r.backend.name(),
        r.size,
        r.log2_domain,
        r.setup_s,
        r.prove_s,
        r.verify_ms,
        r.proof_bytes,
        r.peak_mb,
        r.baseline_prove_s,
        r.vs_plain
    );
}

fn draw(rows: &[Row], png: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    crate::plot::register_embedded_font();
    let root = BitMapBackend::new(png, (800, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let max_batch = rows.iter().map(|r| r.batch).max().unwrap_or(1) as f64;
    let max_time = rows.iter().map(|r| r.prove_s).fold(0.0, f64::max).max(1e-3);
    let mut chart = ChartBuilder::on(&root)
        .caption("training-step prove time", ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..max_batch * 1.1, 0.0..max_time * 1.15)?;
    chart
        .configure_mesh()
        .x_desc("batch size")
        .y_desc("prove time (s)")
        .draw()?;
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for r in rows {
        let label = format!("{} {}", r.model, r.backend);
        match series.iter_mut().find(|(l, _)| *l == label) {
            Some((_, points)) => points.push((r.batch as f64, r.prove_s)),
            None => series.push((label, vec![(r.batch as f64, r.prove_s)])),
        }
    }
    for (i, (label, points)) in series.into_iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
