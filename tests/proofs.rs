//! Proofs of training end to end, through the `zkfl` binary: real burn runs on small tables,
//! challenged steps proved with Groth16 and halo2, proof files verified alone and against the
//! run, and every kind of tampering rejected with one error line.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{fails_with, ok, zkfl};

/// A small table: `classes` Gaussian blobs in 4 dimensions, 16 rows per class.
fn table(dir: &Path, classes: usize) -> String {
    let mut text = String::from("a,b,c,d,label\n");
    let mut state = 12345u64;
    let mut noise = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f64 / (1u64 << 31) as f64) - 0.5
    };
    for i in 0..16 * classes {
        let class = i % classes;
        let row: Vec<String> = (0..4)
            .map(|_| format!("{:.3}", class as f64 * 1.5 + noise()))
            .collect();
        text.push_str(&format!("{},{class}\n", row.join(",")));
    }
    let path = dir.join(format!("table-{classes}.csv"));
    std::fs::write(&path, text).unwrap();
    format!("csv:{}", path.display())
}

/// Trains one round on two providers and proves one challenged step each.
fn proved_run(dir: &Path, model: &str, classes: usize, backend: &str) -> PathBuf {
    let out = dir.join(format!("run-{}-{backend}", model.replace(':', "-")));
    let keys = dir.join("keys");
    let data = table(dir, classes);
    let stdout = ok(&zkfl(&[
        "train",
        "--dataset",
        &data,
        "--model",
        model,
        "--clients",
        "2",
        "--partition",
        "iid",
        "--rounds",
        "1",
        "--local-epochs",
        "1",
        "--batch",
        "4",
        "--prove",
        "1",
        "--proof-backend",
        backend,
        "--keys",
        keys.to_str().unwrap(),
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]));
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let proofs = summary["proofs"].as_array().unwrap();
    assert_eq!(proofs.len(), 2, "{summary}");
    assert!(proofs.iter().all(|p| p["error"].is_null()), "{summary}");
    out
}

fn verify_run(dir: &Path, run: &Path) -> Output {
    let keys = dir.join("keys");
    zkfl(&[
        "verify",
        "--run",
        run.to_str().unwrap(),
        "--keys",
        keys.to_str().unwrap(),
    ])
}

fn verify_file(dir: &Path, file: &Path) -> Output {
    let keys = dir.join("keys");
    zkfl(&[
        "verify",
        file.to_str().unwrap(),
        "--keys",
        keys.to_str().unwrap(),
    ])
}

fn proofs_of(run: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(run.join("proofs/round-0001"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn groth16_softmax_steps_prove_verify_and_resist_tampering() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let run = proved_run(dir, "softmax", 3, "groth16");
    let stdout = ok(&verify_run(dir, &run));
    assert!(stdout.contains("2 of 2 proofs valid"), "{stdout}");
    let file = &proofs_of(&run)[0];
    ok(&verify_file(dir, file));
    let bytes = std::fs::read(file).unwrap();

    let write = |name: &str, b: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, b).unwrap();
        p
    };
    // A flipped bit in the proof, the last byte of each public input, the version, the back end.
    let mut flipped = bytes.clone();
    let last = flipped.len() - 9;
    flipped[last] ^= 1;
    fails_with(
        &verify_file(dir, &write("flipped.proof", &flipped)),
        "proof",
    );
    let publics_end = bytes.len() - 4 - 128;
    for i in 0..5 {
        let mut changed = bytes.clone();
        changed[publics_end - 32 * i - 2] ^= 1;
        let out = verify_file(dir, &write(&format!("public-{i}.proof"), &changed));
        fails_with(&out, "invalid");
    }
    let mut version = bytes.clone();
    version[7] = 9;
    fails_with(&verify_file(dir, &write("v9.proof", &version)), "version 9");
    let mut other = bytes.clone();
    other[8] = 2;
    fails_with(&verify_file(dir, &write("halo2.proof", &other)), "invalid");
    fails_with(
        &verify_file(dir, &write("short.proof", &bytes[..40])),
        "truncated",
    );

    // A valid proof that does not open what the run posted: the run's data commitment changed.
    let commitments = run.join("data-commitments.json");
    let text = std::fs::read_to_string(&commitments).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value[0]["bn254_root"] = serde_json::Value::String("00".repeat(32));
    std::fs::write(&commitments, value.to_string()).unwrap();
    let out = verify_run(dir, &run);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("data root"), "{stdout}");
    assert!(stdout.contains("1 of 2 proofs valid"), "{stdout}");
}

#[test]
fn every_model_proves_and_verifies_with_both_back_ends() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let run = proved_run(dir, "logreg", 2, "halo2");
    let stdout = ok(&verify_run(dir, &run));
    assert!(stdout.contains("2 of 2 proofs valid"), "{stdout}");
    let file = &proofs_of(&run)[1];
    let mut bytes = std::fs::read(file).unwrap();
    let last = bytes.len() - 40;
    bytes[last] ^= 1;
    let bad = dir.join("bad-halo2.proof");
    std::fs::write(&bad, bytes).unwrap();
    fails_with(&verify_file(dir, &bad), "invalid");

    for (model, classes, backend) in [
        ("mlp:3", 3, "groth16"),
        ("mlp:3", 3, "halo2"),
        ("softmax", 3, "halo2"),
        ("logreg", 2, "groth16"),
    ] {
        let run = proved_run(dir, model, classes, backend);
        let stdout = ok(&verify_run(dir, &run));
        assert!(
            stdout.contains("2 of 2 proofs valid"),
            "{model} {backend}: {stdout}"
        );
    }
}

#[test]
fn prove_command_names_missing_runs_and_steps() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let missing = dir.join("nothing");
    let out = zkfl(&[
        "prove",
        "--run",
        missing.to_str().unwrap(),
        "--client",
        "0",
        "--round",
        "1",
        "--step",
        "0",
    ]);
    fails_with(&out, "no config.json");
    assert!(
        !missing.exists(),
        "proving a missing run must not create it"
    );
    let run = proved_run(dir, "softmax", 3, "groth16");
    let keys = dir.join("keys");
    let prove = |step: &str| {
        zkfl(&[
            "prove",
            "--run",
            run.to_str().unwrap(),
            "--client",
            "1",
            "--round",
            "1",
            "--step",
            step,
            "--keys",
            keys.to_str().unwrap(),
        ])
    };
    fails_with(&prove("999"), "no step 999");
    let stdout = ok(&prove("1"));
    assert!(stdout.contains("proved step 1 of client 1"), "{stdout}");
    assert!(!stdout.contains("note:"), "{stdout}");
}
