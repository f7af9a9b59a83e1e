//! Tests across strategies: spec strings, poisoning resistance, determinism.

use super::*;
use crate::attack::{AttackKind, AttackSpec};
use proptest::prelude::{Just, prop_assert, prop_assert_eq, prop_assume, prop_oneof, proptest};
use proptest::strategy::Strategy as _;

fn all_specs() -> Vec<StrategySpec> {
    vec![
        StrategySpec::FedAvg,
        StrategySpec::FedAvgM {
            server_lr: 1.0,
            momentum: 0.9,
        },
        StrategySpec::FedProx { mu: 0.01 },
        StrategySpec::Median,
        StrategySpec::TrimmedMean { beta: 0.2 },
        StrategySpec::Krum { f: 2 },
        StrategySpec::MultiKrum { f: 2, m: 5 },
    ]
}

#[test]
fn spec_strings_parse_to_the_documented_values() {
    let cases = [
        ("fedavg", StrategySpec::FedAvg),
        (
            "fedavgm",
            StrategySpec::FedAvgM {
                server_lr: 1.0,
                momentum: 0.9,
            },
        ),
        (
            "fedavgm:0.5,0.7",
            StrategySpec::FedAvgM {
                server_lr: 0.5,
                momentum: 0.7,
            },
        ),
        ("fedprox:0.01", StrategySpec::FedProx { mu: 0.01 }),
        ("median", StrategySpec::Median),
        ("trimmed-mean:0.2", StrategySpec::TrimmedMean { beta: 0.2 }),
        ("krum:2", StrategySpec::Krum { f: 2 }),
        (" multi-krum:2,5 ", StrategySpec::MultiKrum { f: 2, m: 5 }),
    ];
    for (text, want) in cases {
        assert_eq!(text.parse::<StrategySpec>(), Ok(want), "{text}");
    }
}

#[test]
fn names_are_the_spec_strings() {
    for spec in all_specs() {
        assert_eq!(spec.build().name(), spec.to_string());
    }
    assert_eq!(StrategySpec::Krum { f: 2 }.build().name(), "krum:2");
    assert_eq!(StrategySpec::FedProx { mu: 0.1 }.build().proximal_mu(), 0.1);
    assert_eq!(StrategySpec::Median.build().proximal_mu(), 0.0);
}

#[test]
fn unknown_names_list_the_accepted_forms() {
    for text in ["fedsgd", "", "Krum:2", "trimmed_mean:0.1"] {
        let err = text.parse::<StrategySpec>().unwrap_err();
        assert_eq!(err, StrategyError::UnknownStrategy(text.trim().to_string()));
        let message = err.to_string();
        assert!(message.contains("multi-krum:F,M") && message.contains("fedprox:MU"));
    }
}

#[test]
fn bad_parameters_are_rejected() {
    for text in [
        "fedavg:1",
        "median:3",
        "fedprox",
        "fedprox:-1",
        "fedprox:nan",
        "fedavgm:1",
        "fedavgm:0,0.9",
        "fedavgm:1,1",
        "fedavgm:inf,0.5",
        "trimmed-mean:0.5",
        "trimmed-mean:-0.1",
        "trimmed-mean",
        "krum",
        "krum:-1",
        "krum:1.5",
        "multi-krum:2",
        "multi-krum:2,0",
        "multi-krum:2,5,1",
    ] {
        let err = text.parse::<StrategySpec>().unwrap_err();
        assert!(
            matches!(err, StrategyError::BadParameter { .. }),
            "{text}: {err:?}"
        );
    }
}

#[test]
fn validate_checks_the_round_size() {
    assert_eq!(
        StrategySpec::Krum { f: 2 }.validate(6),
        Err(StrategyError::TooFewClients { n: 6, f: 2 })
    );
    let message = StrategySpec::Krum { f: 2 }
        .validate(6)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("n = 6") && message.contains("f = 2"),
        "{message}"
    );
    assert!(StrategySpec::Krum { f: 2 }.validate(7).is_ok());
    assert_eq!(
        StrategySpec::Krum { f: usize::MAX }.validate(10),
        Err(StrategyError::TooFewClients {
            n: 10,
            f: usize::MAX
        })
    );
    assert!(StrategySpec::MultiKrum { f: 2, m: 6 }.validate(8).is_ok());
    assert!(StrategySpec::MultiKrum { f: 2, m: 7 }.validate(8).is_err());
    assert!(StrategySpec::TrimmedMean { beta: 0.4 }.validate(3).is_ok());
    assert!(
        StrategySpec::TrimmedMean { beta: 0.499_999_97 }
            .validate(2)
            .is_err()
    );
    assert!(
        StrategySpec::FedAvgM {
            server_lr: -1.0,
            momentum: 0.9
        }
        .validate(5)
        .is_err()
    );
    for spec in all_specs() {
        assert_eq!(spec.validate(0), Err(StrategyError::EmptyRound), "{spec}");
        assert!(spec.validate(12).is_ok(), "{spec}");
    }
}

#[test]
fn spec_serde_is_the_string() {
    let spec = StrategySpec::MultiKrum { f: 2, m: 5 };
    let json = serde_json::to_string(&spec).unwrap();
    assert_eq!(json, "\"multi-krum:2,5\"");
    assert_eq!(serde_json::from_str::<StrategySpec>(&json).unwrap(), spec);
    assert!(serde_json::from_str::<StrategySpec>("\"krum\"").is_err());
}

fn any_spec() -> impl proptest::strategy::Strategy<Value = StrategySpec> {
    prop_oneof![
        Just(StrategySpec::FedAvg),
        (1e-6_f32..100.0, 0.0_f32..1.0).prop_map(|(server_lr, momentum)| {
            StrategySpec::FedAvgM {
                server_lr,
                momentum,
            }
        }),
        (0.0_f32..100.0).prop_map(|mu| StrategySpec::FedProx { mu }),
        Just(StrategySpec::Median),
        (0.0_f32..0.5).prop_map(|beta| StrategySpec::TrimmedMean { beta }),
        (0_usize..1000).prop_map(|f| StrategySpec::Krum { f }),
        (0_usize..1000, 1_usize..1000).prop_map(|(f, m)| StrategySpec::MultiKrum { f, m }),
    ]
}

proptest! {
    #[test]
    fn spec_round_trips_through_its_string(spec in any_spec()) {
        let text = spec.to_string();
        prop_assert_eq!(text.parse::<StrategySpec>(), Ok(spec));
        let json = serde_json::to_string(&spec).unwrap();
        prop_assert_eq!(serde_json::from_str::<StrategySpec>(&json).unwrap(), spec);
    }

    #[test]
    fn unknown_names_are_rejected(name in "[a-z-]{1,12}", arg in proptest::option::of("[0-9.,]{0,6}")) {
        let known = ["fedavg", "fedavgm", "fedprox", "median", "trimmed-mean", "krum", "multi-krum"];
        prop_assume!(!known.contains(&name.as_str()));
        let text = match arg {
            Some(arg) => format!("{name}:{arg}"),
            None => name,
        };
        prop_assert!(
            matches!(text.parse::<StrategySpec>(), Err(StrategyError::UnknownStrategy(_))),
            "{} was accepted", text
        );
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(text in "\\PC{0,30}") {
        let _ = text.parse::<StrategySpec>();
    }
}

/// A fixed pseudo-random value in [-1, 1) from two indices (no rng needed).
fn noise(i: usize, j: usize) -> f32 {
    let x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (j as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let x = (x ^ (x >> 31)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

fn distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}

#[test]
fn robust_rules_resist_scaled_updates_where_fedavg_fails() {
    let dim = 50;
    let global: Vec<f32> = (0..dim).map(|j| noise(1000, j)).collect();
    // honest clients all step by `step` from the global model, with a little noise
    let step: Vec<f32> = (0..dim).map(|j| 0.5 * noise(2000, j)).collect();
    let target: Vec<f32> = global.iter().zip(&step).map(|(g, s)| g + s).collect();
    // ids stored in reverse so the attack must pick ids 0 and 1 by value, not by slot
    let mut updates: Vec<ClientUpdate> = (0..12)
        .rev()
        .map(|client| ClientUpdate {
            client,
            params: (0..dim)
                .map(|j| target[j] + 0.01 * noise(client, j))
                .collect(),
            n_samples: 100,
        })
        .collect();
    let attack = AttackSpec {
        kind: AttackKind::Scale(-10.0),
        attackers: 2,
    };
    assert_eq!(attack.apply(&global, &mut updates), vec![0, 1]);
    let step_size = distance(&global, &target);
    assert!(step_size > 1.0, "{step_size}");

    let fedavg = StrategySpec::FedAvg
        .build()
        .aggregate(&global, &updates)
        .unwrap();
    // (10·step − 2·10·step) / 12 lands ≈ 1.83 steps from the honest target
    assert!(
        distance(&fedavg, &target) > 1.5 * step_size,
        "fedavg only moved {}",
        distance(&fedavg, &target)
    );
    for text in ["median", "trimmed-mean:0.2", "krum:2", "multi-krum:2,5"] {
        let spec: StrategySpec = text.parse().unwrap();
        spec.validate(updates.len()).unwrap();
        let model = spec.build().aggregate(&global, &updates).unwrap();
        let off = distance(&model, &target);
        assert!(off < 0.05 * step_size, "{text} is {off} from the target");
    }
}

/// Large enough that every rule takes its rayon path.
fn large_round() -> (Vec<f32>, Vec<ClientUpdate>) {
    let dim = 3 * CHUNK + 123;
    let global: Vec<f32> = (0..dim).map(|j| noise(7, j)).collect();
    let updates = (0..9)
        .map(|client| ClientUpdate {
            client,
            params: global
                .iter()
                .enumerate()
                .map(|(j, g)| g + 0.1 * noise(client + 100, j))
                .collect(),
            n_samples: 10 + 3 * client,
        })
        .collect();
    (global, updates)
}

fn run_all(global: &[f32], updates: &[ClientUpdate]) -> Vec<Vec<u32>> {
    let mut specs = all_specs();
    specs.push(StrategySpec::FedAvgM {
        server_lr: 0.8,
        momentum: 0.5,
    });
    specs
        .iter()
        .map(|spec| {
            let mut strategy = spec.build();
            // two rounds, so FedAvgM's momentum is exercised
            strategy.aggregate(global, updates).unwrap();
            let model = strategy.aggregate(global, updates).unwrap();
            model.iter().map(|x| x.to_bits()).collect()
        })
        .collect()
}

#[test]
fn results_are_bitwise_identical_on_any_thread_count() {
    let (global, updates) = large_round();
    assert!(global.len() * updates.len() >= PARALLEL_MIN_WORK);
    let on = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| run_all(&global, &updates))
    };
    let one = on(1);
    let two = on(2);
    let four = on(4);
    assert_eq!(one, two);
    assert_eq!(one, four);
}

#[test]
fn parallel_path_matches_a_sequential_reference() {
    let (global, updates) = large_round();
    let median = Median.aggregate(&global, &updates).unwrap();
    let mean = FedAvg.aggregate(&global, &updates).unwrap();
    let total: f64 = updates.iter().map(|u| u.n_samples as f64).sum();
    for j in 0..global.len() {
        let mut column: Vec<f32> = updates.iter().map(|u| u.params[j]).collect();
        column.sort_by(f32::total_cmp);
        assert_eq!(median[j].to_bits(), column[4].to_bits(), "median at {j}");
        let sum: f64 = updates
            .iter()
            .map(|u| u.n_samples as f64 * f64::from(u.params[j]))
            .sum();
        assert_eq!(
            mean[j].to_bits(),
            ((sum / total) as f32).to_bits(),
            "mean at {j}"
        );
    }
}

#[test]
fn results_do_not_depend_on_arrival_order() {
    let (global, mut updates) = large_round();
    let want = run_all(&global, &updates);
    updates.reverse();
    updates.swap(0, 4);
    assert_eq!(run_all(&global, &updates), want);
}
