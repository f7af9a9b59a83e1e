//! `zkfl bench contrib`: the cost and accuracy of the contribution estimators on real round
//! games (digits with softmax regression, or breast cancer with logistic regression;
//! Dirichlet(0.5) providers; round 1, the round whose values carry the most signal), each
//! sampled estimator beside the exact values of the same game; and the contribution proof of
//! that round in both proof systems: Groth16 (a trusted setup) and halo2 (none).

use std::time::Instant;

use anyhow::{Result, ensure};
use circuits::relations::contribution::MAX_PROVEN_PLAYERS;
use contribution::Method;
use contribution::accuracy::{relative_l2, spearman};
use fl::federation::{Federation, FederationConfig, Silent};
use serde::Serialize;
use zkfl::valuation::{Rounds, RunValuation, value_run};

/// One measured estimator at one number of providers.
#[derive(Serialize)]
struct Row {
    providers: usize,
    method: Method,
    /// Median wall time of valuing the round, seconds.
    seconds: f64,
    /// Distinct coalitions evaluated.
    evaluations: usize,
    /// Share of the `2^N` coalitions evaluated.
    evaluated_share: f64,
    /// Time relative to exact on the same game.
    time_vs_exact: f64,
    relative_l2: f64,
    spearman: f64,
}

/// The contribution proof of one round.
#[derive(Serialize)]
struct ProofRow {
    providers: usize,
    validation_rows: usize,
    drawn: usize,
    /// R1CS constraints.
    constraints: u64,
    /// Groth16 key generation, proving and verifying, seconds (when proven).
    keygen_seconds: Option<f64>,
    prove_seconds: Option<f64>,
    verify_ms: Option<f64>,
    /// halo2: rows of the layout and the `k` of its `2^k`-row domain.
    halo2_rows: usize,
    halo2_k: u32,
    /// halo2 IPA parameters (made once per `k`, then read), keys, proving and verifying,
    /// seconds (when proven with `--halo2`).
    halo2_params_seconds: Option<f64>,
    halo2_keygen_seconds: Option<f64>,
    halo2_prove_seconds: Option<f64>,
    halo2_verify_ms: Option<f64>,
    /// The multi-party Groth16 setup of the same key (with `--ceremony`).
    ceremony: Option<CeremonyRow>,
    /// Coordinates where the run's float FedAvg differs from the exact fixed-point one.
    aggregate_differing: usize,
    /// Parameters.
    parameters: usize,
}

/// The contribution key made by a multi-party setup instead of one party (seconds, bytes).
#[derive(Serialize)]
struct CeremonyRow {
    /// Participants of phase 2: the owner and every provider.
    participants: usize,
    /// The QAP domain `2^power` (powers of tau of this size serve the circuit).
    power: u32,
    /// Getting the checked powers of tau and Lagrange basis for the domain from the key
    /// directory (`prover::setup`): read and checked, or made there first (one local phase-1
    /// contribution and the basis; `powers_made`). `zkfl ceremony contribute` and `prepare`
    /// time those steps alone.
    powers_seconds: f64,
    powers_made: bool,
    /// The key with δ = 1 from the basis and the R1CS (made once, by the owner).
    start_seconds: f64,
    /// Median over participants of one δ contribution and of checking the parameters against
    /// the circuit and the basis, the basis against the powers of tau included (what each
    /// participant does before contributing).
    contribute_seconds: f64,
    verify_seconds: f64,
    /// Phase 2 end to end for the task: start + every contribution and its check.
    phase2_seconds: f64,
    /// Groth16 proving and verifying with the multi-party key.
    prove_seconds: f64,
    verify_ms: f64,
    /// Uncompressed sizes: powers of tau, basis, final parameters with transcript.
    phase1_bytes: usize,
    basis_bytes: usize,
    parameters_bytes: usize,
}

/// Options of `zkfl bench contrib`.
#[derive(clap::Args, Debug)]
pub struct ContribBenchArgs {
    /// Numbers of providers
    #[arg(long, value_delimiter = ',', default_value = "4,8,10,12")]
    providers: Vec<usize>,
    /// Measurements per cell (the median is reported)
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Numbers of providers whose contribution proof is built (constraints counted)
    #[arg(long, value_delimiter = ',', default_value = "4,10")]
    proof_providers: Vec<usize>,
    /// Also make Groth16 keys and prove and verify those proofs (minutes, and GBs at N = 10)
    #[arg(long)]
    prove: bool,
    /// Also prove and verify with halo2 (no trusted setup); its IPA parameters are made once
    /// per domain size and kept with the keys (about 5 min at 2^18 rows, twice that per
    /// doubling, on 2 cores)
    #[arg(long)]
    halo2: bool,
    /// Also make the Groth16 key by the multi-party setup (powers of tau, Lagrange basis, one
    /// δ contribution per provider and the owner, each checked) beside the one-party key
    #[arg(long)]
    ceremony: bool,
    /// Round games of: digits (softmax regression) | breast-cancer (logistic regression)
    #[arg(long, default_value = "digits", value_parser = ["digits", "breast-cancer"])]
    dataset: String,
    /// Coalitions drawn beyond the heavy ones
    #[arg(long, default_value_t = 8)]
    drawn: usize,
    /// Print the rows as JSON on stdout
    #[arg(long)]
    json: bool,
}

/// Runs `zkfl bench contrib`.
pub fn run(mut args: ContribBenchArgs) -> Result<()> {
    ensure!(
        args.providers.iter().all(|&n| (2..=16).contains(&n)),
        "--providers must be between 2 and 16"
    );
    ensure!(
        args.proof_providers
            .iter()
            .all(|&n| (2..=MAX_PROVEN_PLAYERS).contains(&n)),
        "--proof-providers must be between 2 and {MAX_PROVEN_PLAYERS}"
    );
    ensure!(args.repeat >= 1, "--repeat must be at least 1");
    for list in [&mut args.providers, &mut args.proof_providers] {
        list.sort_unstable();
        list.dedup();
    }
    let scratch = std::env::temp_dir().join(format!("zkfl-bench-contrib-{}", std::process::id()));
    let result = measure(&scratch, &args);
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// A one-round run of `n` providers in `dir` (made once).
fn round_one_run(scratch: &std::path::Path, n: usize, dataset: &str) -> Result<std::path::PathBuf> {
    let dir = scratch.join(format!("{dataset}-n{n}"));
    if !dir.join("metrics.json").exists() {
        let (source, model) = match dataset {
            "breast-cancer" => (fl::data::DatasetSource::BreastCancer, "logreg"),
            _ => (fl::data::DatasetSource::Digits, "softmax"),
        };
        Federation::new(FederationConfig {
            dataset: source,
            model: model.into(),
            clients: n,
            rounds: 1,
            pol_every: 0,
            ..FederationConfig::default()
        })?
        .run(&dir, false, &Silent)?;
    }
    Ok(dir)
}

fn measure(scratch: &std::path::Path, args: &ContribBenchArgs) -> Result<()> {
    let mut rows = Vec::new();
    for &n in &args.providers {
        let dir = round_one_run(scratch, n, &args.dataset)?;
        let mut exact: Option<(Vec<f64>, f64)> = None;
        for method in [Method::Exact, Method::Tmc, Method::Gtg, Method::Svarm] {
            let mut times = Vec::new();
            let mut last: Option<RunValuation> = None;
            for _ in 0..args.repeat {
                let started = Instant::now();
                last = Some(value_run(&dir, method, Rounds::One(1), 0, 1, 0)?);
                times.push(started.elapsed().as_secs_f64());
            }
            times.sort_by(f64::total_cmp);
            let seconds = times[times.len() / 2];
            let round = &last.expect("repeat >= 1").rounds[0];
            let phi = round.values.phi.to_f64();
            let (reference, exact_seconds) = exact.get_or_insert((phi.clone(), seconds)).clone();
            rows.push(Row {
                providers: round.clients.len(),
                method,
                seconds,
                evaluations: round.values.evaluations,
                evaluated_share: round.values.evaluations as f64
                    / (1u64 << round.clients.len()) as f64,
                time_vs_exact: seconds / exact_seconds,
                relative_l2: relative_l2(&reference, &phi),
                spearman: spearman(&reference, &phi),
            });
        }
    }
    let mut proofs = Vec::new();
    for &n in &args.proof_providers {
        let dir = round_one_run(scratch, n, &args.dataset)?;
        proofs.push(prove_round(&dir, args)?);
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "estimators": rows, "proofs": proofs })
        );
        return Ok(());
    }
    println!(
        "{:>3} {:<6} {:>9} {:>11} {:>9} {:>8} {:>9} {:>6}",
        "N", "method", "ms", "evaluations", "of 2^N", "vs exact", "rel. L2", "ρ"
    );
    for r in &rows {
        println!(
            "{:>3} {:<6} {:>9.2} {:>11} {:>8.1}% {:>7.2}x {:>8.1}% {:>6.3}",
            r.providers,
            r.method.to_string(),
            1000.0 * r.seconds,
            r.evaluations,
            100.0 * r.evaluated_share,
            r.time_vs_exact,
            100.0 * r.relative_l2,
            r.spearman
        );
    }
    for p in &proofs {
        let secs = |v: Option<f64>| v.map_or("-".to_string(), |s| format!("{s:.1} s"));
        println!(
            "contribution proof, N = {:>2}, {} validation rows, {} drawn: {:>9} constraints, keys {}, prove {}, verify {}",
            p.providers,
            p.validation_rows,
            p.drawn,
            p.constraints,
            secs(p.keygen_seconds),
            secs(p.prove_seconds),
            p.verify_ms
                .map_or("-".to_string(), |ms| format!("{ms:.1} ms")),
        );
        println!(
            "  halo2: {} rows, 2^{}; params {}, keys {}, prove {}, verify {}",
            p.halo2_rows,
            p.halo2_k,
            secs(p.halo2_params_seconds),
            secs(p.halo2_keygen_seconds),
            secs(p.halo2_prove_seconds),
            p.halo2_verify_ms
                .map_or("-".to_string(), |ms| format!("{ms:.1} ms")),
        );
        if let Some(c) = &p.ceremony {
            let mb = |b: usize| b as f64 / 1e6;
            println!(
                "  multi-party setup, 2^{} domain, {} participants: powers of tau {:.1} s ({}); phase 2 start {:.1} s, per participant contribute {:.1} s + check {:.1} s, task total {:.1} s = {:.1}x the one-party keys; prove {:.1} s, verify {:.1} ms; {:.0} MB powers of tau, {:.0} MB basis, {:.0} MB parameters",
                c.power,
                c.participants,
                c.powers_seconds,
                if c.powers_made {
                    "made: one local contribution and the basis"
                } else {
                    "read and checked"
                },
                c.start_seconds,
                c.contribute_seconds,
                c.verify_seconds,
                c.phase2_seconds,
                c.phase2_seconds / p.keygen_seconds.unwrap_or(f64::NAN),
                c.prove_seconds,
                c.verify_ms,
                mb(c.phase1_bytes),
                mb(c.basis_bytes),
                mb(c.parameters_bytes),
            );
        }
        println!(
            "  the run's float FedAvg differs from the exact fixed-point one in {} of {} coordinates",
            p.aggregate_differing, p.parameters
        );
    }
    if let Some(r) = rows.iter().rfind(|r| r.method == Method::Exact) {
        println!(
            "exact at N = {}: {:.0} coalition utilities/s end to end (reading the run included)",
            r.providers,
            r.evaluations as f64 / r.seconds
        );
    }
    Ok(())
}

/// Builds (and with `--prove`, proves with Groth16; with `--halo2`, with halo2; with
/// `--ceremony`, keys by the multi-party setup) the contribution proof of round 1 of `dir`.
fn prove_round(dir: &std::path::Path, args: &ContribBenchArgs) -> Result<ProofRow> {
    use circuits::field::Bn254;
    use circuits::relations::contribution::build;
    use circuits::system::{Groth16, ProofSystem};
    use rand::SeedableRng;

    let zkfl::valuation::RoundProofInputs {
        shape,
        witness,
        gap,
        ..
    } = zkfl::valuation::contribution_witness(dir, 1, None, args.drawn, &[7; 32])?;
    let (program, assignment) = build::<Bn254>(&shape, &witness)?;
    program.check(&assignment).map_err(|e| {
        anyhow::anyhow!("the honest contribution witness does not satisfy the relation: {e}")
    })?;
    let layout = circuits::halo2::Layout::new(&program)?;
    let k = circuits::halo2::required_k(&layout);
    let mut row = ProofRow {
        providers: shape.players,
        validation_rows: shape.rows,
        drawn: shape.drawn,
        constraints: program.cost().total,
        keygen_seconds: None,
        prove_seconds: None,
        verify_ms: None,
        halo2_rows: layout.rows(),
        halo2_k: k,
        halo2_params_seconds: None,
        halo2_keygen_seconds: None,
        halo2_prove_seconds: None,
        halo2_verify_ms: None,
        ceremony: None,
        aggregate_differing: gap.differing,
        parameters: witness.aggregate.len(),
    };
    if args.prove || args.ceremony {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let started = Instant::now();
        let (pk, vk) = Groth16::keygen(&(), &program, &mut rng)?;
        row.keygen_seconds = Some(started.elapsed().as_secs_f64());
        let started = Instant::now();
        let proof = Groth16::prove(&(), &pk, &program, &assignment, &mut rng)?;
        row.prove_seconds = Some(started.elapsed().as_secs_f64());
        let public = assignment.public_inputs(&program);
        let started = Instant::now();
        Groth16::verify(&(), &vk, &public, &proof)?;
        row.verify_ms = Some(1000.0 * started.elapsed().as_secs_f64());
    }
    if args.ceremony {
        row.ceremony = Some(ceremony_keys(&program, &assignment, shape.players + 1)?);
    }
    if args.halo2 {
        use circuits::Halo2;
        use circuits::halo2::Fp;
        let (program, assignment) = build::<Fp>(&shape, &witness)?;
        let store = crate::commands::prove::key_store(None);
        let started = Instant::now();
        let params = store.halo2_params(k)?;
        row.halo2_params_seconds = Some(started.elapsed().as_secs_f64());
        let started = Instant::now();
        let keys = circuits::halo2::keygen(&params, &program)?;
        row.halo2_keygen_seconds = Some(started.elapsed().as_secs_f64());
        let mut rng = rand::rngs::OsRng;
        let started = Instant::now();
        let proof = Halo2::prove(&params, &keys, &program, &assignment, &mut rng)?;
        row.halo2_prove_seconds = Some(started.elapsed().as_secs_f64());
        let public = assignment.public_inputs(&program);
        let started = Instant::now();
        circuits::halo2::verify(&params, keys.verifier(), &public, &proof)?;
        row.halo2_verify_ms = Some(1000.0 * started.elapsed().as_secs_f64());
    }
    Ok(row)
}

/// Keys `program` by the multi-party setup with `participants` phase-2 contributions, then
/// proves and verifies `assignment` with the result.
fn ceremony_keys(
    program: &circuits::program::Program,
    assignment: &circuits::program::Assignment<circuits::field::Bn254>,
    participants: usize,
) -> Result<CeremonyRow> {
    use ark_serialize::CanonicalSerialize;
    use circuits::r1cs;
    let mut rng = rand::rngs::OsRng;
    let seconds = |started: Instant| started.elapsed().as_secs_f64();
    let power = r1cs::shape(program).domain_size().trailing_zeros();
    // The bench's own prover, so that the powers are read and checked here, not cached.
    let prover = prover::StepProver::new(
        crate::commands::prove::key_store(None),
        verifier::Backend::Groth16,
    );
    let (pot, lagrange) = prover.powers_files(power);
    let powers_made = !(pot.exists() && lagrange.exists());
    let started = Instant::now();
    let powers = prover.powers(power)?;
    let powers_seconds = seconds(started);
    let (phase1, basis) = (&powers.phase1, &powers.basis);
    let started = Instant::now();
    let initial = prover.ceremony_start(program)?;
    let start_seconds = seconds(started);
    let mut params = initial.clone();
    let (mut contribute, mut verify) = (Vec::new(), Vec::new());
    for _ in 0..participants {
        let started = Instant::now();
        let (next, receipt) = params.contribute(&mut rng);
        contribute.push(seconds(started));
        let started = Instant::now();
        let receipts = prover.ceremony_check(&next, program)?;
        verify.push(seconds(started));
        ensure!(
            receipts.last() == Some(&receipt),
            "a receipt is missing from the transcript"
        );
        params = next;
    }
    let pk = params.proving_key();
    let started = Instant::now();
    let proof = r1cs::prove(pk, program, assignment, &mut rng)?;
    let prove_seconds = seconds(started);
    let public = assignment.public_inputs(program);
    let pvk = r1cs::prepare(&pk.vk);
    let started = Instant::now();
    r1cs::verify(&pvk, &public, &proof)?;
    let verify_ms = 1000.0 * seconds(started);
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let phase2_seconds =
        start_seconds + contribute.iter().sum::<f64>() + verify.iter().sum::<f64>();
    Ok(CeremonyRow {
        participants,
        power,
        powers_seconds,
        powers_made,
        start_seconds,
        contribute_seconds: median(contribute),
        verify_seconds: median(verify),
        phase2_seconds,
        prove_seconds,
        verify_ms,
        phase1_bytes: phase1.uncompressed_size(),
        basis_bytes: basis.uncompressed_size(),
        parameters_bytes: params.uncompressed_size(),
    })
}
