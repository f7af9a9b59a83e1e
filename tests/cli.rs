//! The `zkfl` binary as a user meets it: bad input, interruption and resume, log verification.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{fails_with, ok, zkfl};

/// A small, quick federated run into `out` (extra options appended).
fn small_run(out: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "train",
        "--clients",
        "4",
        "--partition",
        "iid",
        "--local-epochs",
        "1",
        "--json",
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(out.display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

#[test]
fn bad_input_gives_one_error_line_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("table.csv");
    std::fs::write(&csv, "a,b,label\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n").unwrap();
    let csv_arg = format!("csv:{}", csv.display());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--dataset", "csv:/no/such/file.csv"],
            "/no/such/file.csv",
        ),
        (
            vec!["--dataset", &csv_arg, "--label-column", "diagnosis"],
            "diagnosis",
        ),
        (vec!["--clients", "0"], "clients"),
        (vec!["--strategy", "krum:5"], "krum"),
        (vec!["--strategy", "fedsomething"], "fedsomething"),
        (vec!["--partition", "dirichlet:-1"], "dirichlet"),
        (vec!["--attack", "scale:x@2"], "scale"),
    ];
    for (i, (extra, needle)) in cases.into_iter().enumerate() {
        let out = tmp.path().join(format!("run-{i}"));
        let mut args = vec!["train", "--rounds", "1", "--out"];
        let out_arg = out.display().to_string();
        args.push(&out_arg);
        args.extend(extra.iter().copied());
        let output = zkfl(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} should fail");
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "{args:?}: one line, got {stderr}"
        );
        assert!(stderr.starts_with("error:"), "{stderr}");
        assert!(
            stderr.to_lowercase().contains(&needle.to_lowercase()),
            "{args:?}: {stderr}"
        );
        assert!(!out.exists(), "{args:?} wrote {}", out.display());
    }
}

#[test]
fn run_refuses_a_bad_reward_setup_or_provider_count_in_one_line_before_writing() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["--reward", "bogus"], "bogus"),
        (&["--setup", "trusted"], "not a key setup"),
        (&["--providers", "0"], "providers"),
        (&["--reward", "shapley", "--providers", "13"], "at most 12"),
        // Shapley is the default reward, so the default refuses what it cannot prove.
        (&["--providers", "13"], "--reward proportional"),
    ];
    for (i, (extra, needle)) in cases.into_iter().enumerate() {
        let out = tmp.path().join(format!("run-{i}"));
        let out_arg = out.display().to_string();
        let mut args = vec!["run", "--rounds", "1", "--out", &out_arg];
        args.extend(extra.iter().copied());
        let output = zkfl(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} should fail");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error:") && stderr.contains(needle),
            "{stderr}"
        );
        assert!(!out.exists(), "{args:?} wrote {}", out.display());
    }
}

#[test]
fn a_killed_run_resumes_to_the_same_model() {
    let tmp = tempfile::tempdir().unwrap();
    let rounds = ["--rounds", "12", "--pol-every", "0"];
    let (whole, killed) = (tmp.path().join("whole"), tmp.path().join("killed"));

    let output = zkfl(
        &small_run(&whole, &rounds)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let args = small_run(&killed, &rounds);
    let mut child = Command::new(env!("CARGO_BIN_EXE_zkfl"))
        .args(&args)
        .spawn()
        .unwrap();
    let state = killed.join("state.json");
    let deadline = Instant::now() + Duration::from_secs(300);
    while !state.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let finished: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    let done = finished["completed_rounds"].as_u64().unwrap();
    assert!(done < 12, "the run finished before it could be killed");

    let refused = zkfl(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        !refused.status.success(),
        "a second run into the same directory needs --resume"
    );

    let mut resume = args.clone();
    resume.push("--resume".into());
    let output = zkfl(&resume.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let a = std::fs::read(whole.join("models/round-0012.bin")).unwrap();
    let b = std::fs::read(killed.join("models/round-0012.bin")).unwrap();
    assert_eq!(
        a, b,
        "resumed after round {done}: the final model must be bit-identical"
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["rounds"], 12);
}

#[test]
fn train_writes_its_outputs_and_pol_verify_checks_them() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let output = zkfl(
        &small_run(&out, &["--rounds", "2"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["rounds"], 2);
    for file in [
        "metrics.json",
        "accuracy.png",
        "models/round-0002.bin",
        "pol/round-0002/client-000.pol",
    ] {
        assert!(out.join(file).exists(), "{file} missing");
    }
    let png = std::fs::read(out.join("accuracy.png")).unwrap();
    assert_eq!(&png[..4], b"\x89PNG");
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics.as_array().unwrap().len(), 2);
    assert_eq!(metrics[1]["clients"].as_array().unwrap().len(), 4);

    let log = out.join("pol/round-0002/client-001.pol");
    let log_arg = log.display().to_string();
    let verified = zkfl(&["pol", "verify", "--log", &log_arg, "--json"]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&verified.stdout).unwrap();
    assert_eq!(report["valid"], true);

    // Truncate the log file: a clear error, not a panic.
    let bytes = std::fs::read(&log).unwrap();
    std::fs::write(&log, &bytes[..bytes.len() / 2]).unwrap();
    let broken = zkfl(&["pol", "verify", "--log", &log_arg]);
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(!broken.status.success());
    assert!(
        stderr.starts_with("error:") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[test]
fn a_data_file_over_the_cap_is_refused_before_it_fills_memory() {
    let tmp = tempfile::tempdir().unwrap();
    // 4 MiB of rows gzip'd to a few KiB; the cap is 64 KiB.
    let csv = tmp.path().join("rows.csv.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let row = b"0.1,0.2,0\n0.3,0.4,1\n";
    for _ in 0..(4 << 20) / row.len() {
        std::io::Write::write_all(&mut gz, row).unwrap();
    }
    std::fs::write(&csv, gz.finish().unwrap()).unwrap();
    let dataset = format!("csv:{}", csv.display());
    let out = tmp.path().join("run").display().to_string();
    let train = |limit: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_zkfl"))
            .args([
                "train",
                "--rounds",
                "1",
                "--dataset",
                &dataset,
                "--out",
                &out,
            ])
            .env("ZKFL_MAX_DATA_BYTES", limit)
            .output()
            .unwrap()
    };
    fails_with(&train("65536"), "more than 65536 bytes");
    fails_with(&train("lots"), "ZKFL_MAX_DATA_BYTES");
    assert!(!tmp.path().join("run").exists());
}

#[test]
fn a_round_whose_aggregate_overflows_keeps_its_model_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    // Logistic regression on breast cancer, 1 or 2 rounds, no logs, into DIR/`name`.
    let train = |name: &str, extra: &[&str]| -> Vec<String> {
        let out = tmp.path().join(name).display().to_string();
        let base = ["train", "--dataset", "breast-cancer", "--model", "logreg"];
        let tail = ["--partition", "iid", "--pol-every", "0", "--out", &out];
        [&base[..], extra, &tail[..]]
            .concat()
            .iter()
            .map(|a| a.to_string())
            .collect()
    };
    let attacked = [
        "--clients",
        "5",
        "--attack",
        "scale:3.4e38@2",
        "--rounds",
        "2",
    ];
    let args = train("run", &attacked);
    let run = zkfl(&as_strs(&args));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("keeps the global model it started from"),
        "{stderr}"
    );
    // Every file the run wrote reads back, and says what happened.
    let metrics: serde_json::Value = serde_json::from_slice(
        &std::fs::read(tmp.path().join("run").join("metrics.json")).unwrap(),
    )
    .unwrap();
    for round in metrics.as_array().unwrap() {
        assert!(round["test_loss"].as_f64().unwrap().is_finite(), "{round}");
        assert!(
            round["kept_previous"]
                .as_str()
                .unwrap()
                .contains("test loss"),
            "{round}"
        );
    }
    // A client whose training diverges (its loss not finite) is recorded, not fatal.
    let wild = train("wild", &["--clients", "3", "--lr", "1e30", "--rounds", "1"]);
    let diverged = zkfl(&as_strs(&wild));
    assert!(
        diverged.status.success(),
        "{}",
        String::from_utf8_lossy(&diverged.stderr)
    );
    // Resuming reads every file the run wrote (no parse error of its own files).
    let resumed = zkfl(&[&as_strs(&args)[..], &["--resume"]].concat());
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
}

/// The arguments as `&str`s.
fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn a_ceremony_passes_between_processes_and_refuses_what_is_not_one_contribution() {
    let tmp = tempfile::tempdir().unwrap();
    let path = |name: &str| tmp.path().join(name).display().to_string();
    let (p0, p1, p2) = (path("0.pot"), path("1.pot"), path("2.pot"));
    ok(&zkfl(&["ceremony", "new", "--power", "5", "--out", &p0]));
    let receipt = |stdout: String| -> String {
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        v["receipt"].as_str().unwrap().to_string()
    };
    let contribute = |input: &str, out: &str| {
        receipt(ok(&zkfl(&[
            "ceremony",
            "contribute",
            "--input",
            input,
            "--out",
            out,
            "--json",
        ])))
    };
    let verify = |before: &str, after: &str| {
        zkfl(&[
            "ceremony", "verify", "--before", before, "--after", after, "--json",
        ])
    };
    // Two participants, each in its own process; each finds its receipt when the next checks.
    let (r1, r2) = (contribute(&p0, &p1), contribute(&p1, &p2));
    assert_ne!(r1, r2);
    assert_eq!(receipt(ok(&verify(&p0, &p1))), r1);
    assert_eq!(receipt(ok(&verify(&p1, &p2))), r2);
    // Two contributions at once, one undone, or a file of another kind: one error line, exit 1.
    fails_with(&verify(&p0, &p2), "does not check");
    fails_with(&verify(&p2, &p1), "does not check");
    let garbage = path("garbage.pot");
    std::fs::write(&garbage, b"ZKFLPOT2 and then not an accumulator").unwrap();
    fails_with(&verify(&p1, &garbage), "not a valid encoding");
    fails_with(&verify(&p1, &path("missing.pot")), "missing.pot");
    // The Lagrange basis of the result, checked; not the basis of another accumulator.
    let basis = path("basis.lag");
    let prepare = |input: &str, power: &str, check: bool| {
        let mut args = vec!["ceremony", "prepare", "--input", input, "--power", power];
        args.extend(["--out", &basis]);
        if check {
            args.push("--check");
        }
        zkfl(&args)
    };
    ok(&prepare(&p2, "4", false));
    ok(&prepare(&p2, "4", true));
    fails_with(&prepare(&p1, "4", true), "not this powers of tau's");
    fails_with(&prepare(&p2, "6", false), "reach 32");
}

#[test]
fn powers_of_tau_import_from_a_snarkjs_file_and_take_a_contribution_on_top() {
    let tmp = tempfile::tempdir().unwrap();
    let path = |name: &str| tmp.path().join(name).display().to_string();
    let fixture = |name: &str| format!("{}/ceremony/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let (ptau, fresh) = (
        fixture("snarkjs-2^7-prepared.ptau"),
        fixture("snarkjs-2^7-fresh.ptau"),
    );
    let (imported, lagrange, mine) = (path("0.pot"), path("0.lag"), path("1.pot"));
    let import = |file: &str, power: &str| {
        zkfl(&[
            "ceremony",
            "import",
            "--ptau",
            file,
            "--power",
            power,
            "--out",
            &imported,
            "--lagrange",
            &lagrange,
            "--json",
        ])
    };
    let v: serde_json::Value = serde_json::from_str(&ok(&import(&ptau, "6"))).unwrap();
    assert_eq!(v["points"], 64);
    assert_eq!(v["contributions"], 2);
    assert_eq!(v["prepared"], true);
    // The hash `snarkjs powersoftau verify` printed for the file.
    assert!(
        v["next_challenge"]
            .as_str()
            .unwrap()
            .starts_with("4c7953fa7db8488e")
    );
    // The basis written is the imported powers'; a contribution on top checks.
    ok(&zkfl(&[
        "ceremony", "prepare", "--input", &imported, "--power", "6", "--out", &lagrange, "--check",
    ]));
    ok(&zkfl(&[
        "ceremony",
        "contribute",
        "--input",
        &imported,
        "--out",
        &mine,
    ]));
    ok(&zkfl(&[
        "ceremony", "verify", "--before", &imported, "--after", &mine,
    ]));
    // Nobody's contribution, more points than the file has, no such file: one line, nothing written.
    std::fs::remove_file(&imported).unwrap();
    fails_with(&import(&fresh, "6"), "no contribution");
    fails_with(&import(&ptau, "8"), "reach 128");
    fails_with(&import(&path("missing.ptau"), "6"), "missing.ptau");
    assert!(!Path::new(&imported).exists());
}
