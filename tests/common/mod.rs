//! Running the `zkfl` binary from integration tests.

#![allow(dead_code)] // each test binary uses part of this module

use std::process::{Command, Output};

/// Runs `zkfl` with `args` and waits for it.
pub fn zkfl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkfl"))
        .args(args)
        .output()
        .expect("the zkfl binary runs")
}

/// Asserts success; returns stdout, trimmed.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "zkfl failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Asserts exit 1 with exactly one `error:` line naming `needle`.
pub fn fails_with(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "stderr: {stderr}");
    assert!(
        errors[0].contains(needle),
        "expected '{needle}' in: {stderr}"
    );
}
