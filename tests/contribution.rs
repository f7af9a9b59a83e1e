//! Paying by contribution, as a user sees it: `zkfl train` runs on real digits, valued by
//! `zkfl contrib` (exact Shapley values of the round games, the escrow split in integers).

mod common;

use std::path::Path;

use common::{fails_with, ok, zkfl};
use contribution::accuracy::{relative_l2, spearman};
use serde_json::Value;

/// A seeded digits run of softmax regression with 10 providers into `out`.
fn train(out: &Path, extra: &[&str]) {
    let out = out.display().to_string();
    let mut args = vec![
        "train",
        "--model",
        "softmax",
        "--pol-every",
        "0",
        "--json",
        "--out",
        &out,
    ];
    args.extend_from_slice(extra);
    ok(&zkfl(&args));
}

fn contrib(run: &Path, extra: &[&str]) -> Value {
    let run = run.display().to_string();
    let mut args = vec!["contrib", "--run", &run, "--json"];
    args.extend_from_slice(extra);
    serde_json::from_str(&ok(&zkfl(&args))).expect("contrib --json prints one JSON object")
}

fn shares(v: &Value) -> Vec<(u64, f64, i128)> {
    v["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["client"].as_u64().unwrap(),
                p["share"].as_f64().unwrap(),
                p["payout"].as_i64().unwrap() as i128,
            )
        })
        .collect()
}

#[test]
fn honest_iid_providers_each_get_between_5_and_15_percent() {
    let tmp = tempfile::tempdir().unwrap();
    train(tmp.path(), &["--partition", "iid"]);
    let png = tmp.path().join("values.png");
    let v = contrib(tmp.path(), &["--plot", &png.display().to_string()]);
    let shares = shares(&v);
    assert_eq!(shares.len(), 10);
    for (client, share, _) in &shares {
        assert!((0.05..=0.15).contains(share), "provider {client}: {share}");
    }
    assert!(png.exists(), "--plot draws the bar chart");
    assert!(
        !tmp.path().join("contrib.png").exists(),
        "--json alone draws none"
    );
}

#[test]
fn free_riders_label_flippers_and_scaling_attackers_are_not_paid() {
    // scale:50 spoils rounds until they gain nothing (not paid): its harm there still counts.
    // scale:-1000 under the median sends a model outside the fixed-point range (the median
    // keeps the global model in range): left out of the game, valued 0.
    for (attack, strategy, most) in [
        ("freeride@1", "fedavg", 0.01),
        ("flip@1", "fedavg", 0.0),
        ("scale:-10@1", "fedavg", 0.0),
        ("scale:50@1", "fedavg", 0.0),
        ("scale:-1000@1", "median", 0.0),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let args = [
            "--partition",
            "iid",
            "--attack",
            attack,
            "--strategy",
            strategy,
        ];
        train(tmp.path(), &args);
        let v = contrib(tmp.path(), &[]);
        let (client, share, payout) = shares(&v)[0];
        assert_eq!(client, 0, "the attacker is the lowest id");
        assert!(share <= most, "{attack}: share {share}");
        if most == 0.0 {
            assert_eq!(payout, 0, "{attack}");
        }
        let honest = shares(&v)[1..].iter().map(|s| s.1).fold(1.0, f64::min);
        assert!(honest >= 0.05, "{attack}: an honest provider got {honest}");
    }
}

#[test]
fn the_json_holds_the_utility_tables_and_the_payouts_add_up() {
    let tmp = tempfile::tempdir().unwrap();
    train(tmp.path(), &["--rounds", "3", "--clients", "6"]);
    let v = contrib(tmp.path(), &["--escrow", "1000"]);
    let mut paid = 0i128;
    for p in v["providers"].as_array().unwrap() {
        paid += p["payout"].as_i64().unwrap() as i128;
        assert_eq!(p["phi"].as_array().unwrap().len(), 3);
    }
    assert_eq!(paid + v["remainder"].as_i64().unwrap() as i128, 1000);
    for round in v["rounds"].as_array().unwrap() {
        let n = round["clients"].as_array().unwrap().len();
        let table = round["utilities"].as_object().unwrap();
        assert_eq!(table.len(), 1 << n);
        let at = |s: u64| table[&s.to_string()].as_i64().unwrap();
        assert_eq!(at(0), round["empty"].as_i64().unwrap());
        assert_eq!(at((1 << n) - 1), round["full"].as_i64().unwrap());
        // Recompute N!·φ_i = Σ_S |S|!(N−|S|−1)!·(v(S∪i) − v(S)) from the printed table.
        let fact = |k: usize| (1..=k as i128).product::<i128>();
        let phi = &round["values"]["phi"];
        assert_eq!(phi["denominator"].as_i64().unwrap() as i128, fact(n));
        for (i, num) in phi["numerators"].as_array().unwrap().iter().enumerate() {
            let expected: i128 = (0..1u64 << n)
                .filter(|s| s >> i & 1 == 0)
                .map(|s| {
                    let k = s.count_ones() as usize;
                    fact(k) * fact(n - k - 1) * i128::from(at(s | 1 << i) - at(s))
                })
                .sum();
            assert_eq!(
                num.as_i64().unwrap() as i128,
                expected,
                "round {round} player {i}"
            );
        }
    }
}

#[test]
fn sampled_values_of_ten_providers_match_exact_from_a_quarter_of_the_coalitions() {
    // Round 1 of a non-IID run, where providers' values differ (later rounds are noise).
    let tmp = tempfile::tempdir().unwrap();
    train(tmp.path(), &["--rounds", "1"]);
    let values = |method: &str| -> (Vec<f64>, u64) {
        let v = contrib(tmp.path(), &["--method", method]);
        let round = &v["rounds"][0]["values"];
        let phi = &round["phi"];
        let phi = match phi.get("denominator") {
            Some(den) => {
                let den = den.as_f64().unwrap();
                phi["numerators"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() / den)
                    .collect()
            }
            None => phi
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect(),
        };
        (phi, round["evaluations"].as_u64().unwrap())
    };
    let (exact, all) = values("exact");
    assert_eq!(all, 1024);
    // GTG (permutations) reaches a 15% bar; Stratified SVARM (sizes, every utility used for
    // every player, an additive control variate) the 5%.
    for (method, bar) in [("gtg", 0.15), ("svarm", 0.05)] {
        let (estimate, evaluations) = values(method);
        assert!(
            evaluations <= all / 4,
            "{method}: {evaluations} evaluations"
        );
        let error = relative_l2(&exact, &estimate);
        assert!(error <= bar, "{method}: relative L2 error {error}");
        let rho = spearman(&exact, &estimate);
        assert!(rho >= 0.95, "{method}: ρ {rho}: {exact:?} vs {estimate:?}");
    }
}

#[test]
fn bad_input_to_contrib_is_one_error_line() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    train(&run, &["--rounds", "2", "--clients", "3"]);
    let r = run.display().to_string();
    let missing = tmp.path().join("nothing").display().to_string();
    fails_with(&zkfl(&["contrib", "--run", &missing]), "holds no run");
    assert!(
        !tmp.path().join("nothing").exists(),
        "contrib creates nothing"
    );
    fails_with(
        &zkfl(&["contrib", "--run", &r, "--method", "banzhaf"]),
        "unknown contribution method",
    );
    fails_with(
        &zkfl(&["contrib", "--run", &r, "--round", "9"]),
        "no finished round 9",
    );
    fails_with(&zkfl(&["contrib", "--run", &r, "--round", "x"]), "--round");
    // An update changed after the run: its digest no longer matches.
    let metrics: Value =
        serde_json::from_slice(&std::fs::read(run.join("metrics.json")).unwrap()).unwrap();
    let digest = metrics[1]["clients"][0]["update"]
        .as_str()
        .unwrap()
        .to_string();
    let blob = std::fs::read_dir(run.join("blobs"))
        .unwrap()
        .flat_map(|d| {
            let d = d.unwrap().path();
            if d.is_dir() {
                std::fs::read_dir(d)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .collect()
            } else {
                vec![d]
            }
        })
        .find(|p| p.file_name().unwrap().to_string_lossy().contains(&digest))
        .expect("the update's blob is in the store");
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&blob, bytes).unwrap();
    fails_with(&zkfl(&["contrib", "--run", &r]), "round 2");
    // An MLP's coalitions do not pool their logits.
    let mlp = tmp.path().join("mlp");
    let m = mlp.display().to_string();
    ok(&zkfl(&[
        "train",
        "--rounds",
        "1",
        "--clients",
        "2",
        "--pol-every",
        "0",
        "--json",
        "--out",
        &m,
    ]));
    fails_with(&zkfl(&["contrib", "--run", &m]), "linear models");
}

#[test]
fn a_provider_split_across_two_identities_is_measured() {
    use fl::federation::{Federation, FederationConfig, Silent};
    use fl::partition::{PartitionScheme, Partitioning};
    use zkfl::valuation::{Rounds, value_run};

    // Run A: 10 IID providers. Run B: the same rows, but provider 0's split in half between
    // identities 0 and 10 (a Sybil that cannot copy its data root, so it splits its rows).
    let tmp = tempfile::tempdir().unwrap();
    let config = FederationConfig {
        model: "softmax".into(),
        partition: PartitionScheme::Iid,
        pol_every: 0,
        ..FederationConfig::default()
    };
    let a = Federation::new(config.clone()).unwrap();
    let mut clients = a.partitioning().clients.clone();
    let half = clients[0].len() / 2;
    let moved = clients[0].split_off(half);
    clients.push(moved);
    a.run(&tmp.path().join("a"), false, &Silent).unwrap();
    let b = Federation::new(FederationConfig {
        clients: 11,
        ..config
    })
    .unwrap()
    .with_partitioning(Partitioning { clients })
    .unwrap();
    b.run(&tmp.path().join("b"), false, &Silent).unwrap();
    let share = |dir: &str, ids: &[usize]| -> f64 {
        let v = value_run(
            &tmp.path().join(dir),
            contribution::Method::Exact,
            Rounds::All,
            0,
            1_000_000,
            10,
        )
        .unwrap();
        v.providers
            .iter()
            .filter(|p| ids.contains(&p.client))
            .map(|p| p.share)
            .sum()
    };
    let alone = share("a", &[0]);
    let split = share("b", &[0, 10]);
    let gain = split / alone;
    eprintln!(
        "one identity: {:.2}% of the escrow; split across two: {:.2}% ({gain:.2}x)",
        100.0 * alone,
        100.0 * split
    );
    // Two identities with half the rows each are not paid twice what one is.
    assert!(alone > 0.0 && gain < 2.0, "gain {gain}");
}
