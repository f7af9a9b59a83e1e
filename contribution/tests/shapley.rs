//! Exact Shapley values against brute force, against `coopgame`, and the Shapley axioms.

use contribution::exact::{Exact, factorial, shapley_numerators};
use contribution::{Coalition, Estimator, Game, Method, Phi, Round, grand};
use proptest::prelude::*;

/// A game given by its full table.
struct Table(Vec<i64>);

impl Game for Table {
    fn players(&self) -> usize {
        self.0.len().trailing_zeros() as usize
    }
    fn utility(&self, s: Coalition) -> i64 {
        self.0[s as usize]
    }
    fn scale(&self) -> f64 {
        1000.0
    }
}

fn numerators(table: &[i64]) -> Vec<i128> {
    let values = Exact
        .estimate(&Round {
            game: &Table(table.to_vec()),
            first_order: None,
        })
        .unwrap();
    let n = table.len().trailing_zeros() as usize;
    match values.phi {
        Phi::Rational {
            numerators,
            denominator,
        } => {
            assert_eq!(denominator, factorial(n));
            assert_eq!(values.evaluations, table.len());
            numerators
        }
        Phi::Real(_) => panic!("exact values are rational"),
    }
}

/// `Σ_π (v(prefix ∪ i) − v(prefix))` over all `N!` orders: `N!·φ` by definition.
fn brute_force(table: &[i64]) -> Vec<i128> {
    let n = table.len().trailing_zeros() as usize;
    let mut sums = vec![0i128; n];
    let mut order: Vec<usize> = (0..n).collect();
    permute(&mut order, 0, &mut |order| {
        let mut prefix = 0usize;
        for &i in order {
            sums[i] += i128::from(table[prefix | 1 << i] - table[prefix]);
            prefix |= 1 << i;
        }
    });
    sums
}

fn permute(order: &mut Vec<usize>, k: usize, visit: &mut impl FnMut(&[usize])) {
    if k == order.len() {
        visit(order);
        return;
    }
    for j in k..order.len() {
        order.swap(k, j);
        permute(order, k + 1, visit);
        order.swap(k, j);
    }
}

fn tables(max_players: usize) -> impl Strategy<Value = Vec<i64>> {
    (1..=max_players).prop_flat_map(|n| prop::collection::vec(-1000i64..1000, 1 << n))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn exact_equals_the_average_over_all_orders(table in tables(6)) {
        prop_assert_eq!(numerators(&table), brute_force(&table));
    }

    #[test]
    fn efficiency(table in tables(10)) {
        let n = table.len().trailing_zeros() as usize;
        let sum: i128 = numerators(&table).iter().sum();
        prop_assert_eq!(sum, factorial(n) * i128::from(table[grand(n) as usize] - table[0]));
    }

    #[test]
    fn svarm_with_every_coalition_in_budget_is_exact(table in tables(8), seed in any::<u64>()) {
        let n = table.len().trailing_zeros() as usize;
        let mut svarm = contribution::stratified::StratifiedSvarm::new(seed);
        svarm.max_evaluations = Some(table.len());
        let values = svarm
            .estimate(&Round { game: &Table(table.clone()), first_order: None })
            .unwrap();
        prop_assert_eq!(values.evaluations, table.len());
        for (estimate, exact) in values.phi.to_f64().iter().zip(numerators(&table)) {
            let exact = exact as f64 / factorial(n) as f64;
            prop_assert!((estimate - exact).abs() < 1e-6 * (1.0 + exact.abs()), "{} vs {}", estimate, exact);
        }
    }

    #[test]
    fn linearity(a in tables(7), seed in any::<u64>()) {
        let b: Vec<i64> = (0..a.len() as u64)
            .map(|s| ((s.wrapping_mul(seed | 1) >> 7) % 2001) as i64 - 1000)
            .collect();
        let sum: Vec<i64> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        let expected: Vec<i128> = numerators(&a).iter().zip(numerators(&b)).map(|(x, y)| x + y).collect();
        prop_assert_eq!(numerators(&sum), expected);
    }

    #[test]
    fn a_null_player_gets_nothing(table in tables(6), null in 0usize..7) {
        // Make player `null` add nothing to any coalition: v(S ∪ {null}) = v(S).
        let n = table.len().trailing_zeros() as usize + 1;
        let null = null % n;
        let bit = 1usize << null;
        let low = bit - 1;
        let game: Vec<i64> = (0..1usize << n)
            .map(|s| table[(s & low) | ((s >> 1) & !low)])
            .collect();
        prop_assert_eq!(numerators(&game)[null], 0);
    }

    #[test]
    fn symmetric_players_get_equal_values(table in tables(6)) {
        // v depends on players 0 and 1 only through how many of them are in S.
        let n = table.len().trailing_zeros() as usize;
        prop_assume!(n >= 2);
        let game: Vec<i64> = (0..table.len())
            .map(|s| if s & 0b11 == 0b10 { table[(s & !0b11) | 0b01] } else { table[s] })
            .collect();
        let phi = numerators(&game);
        prop_assert_eq!(phi[0], phi[1]);
    }
}

#[test]
fn exact_agrees_with_coopgame() {
    // coopgame's games have v(∅) = 0; Shapley values ignore a constant, so shift by v(∅).
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for n in 1..=9usize {
        let table: Vec<i64> = (0..1usize << n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % 2001) as i64 - 1000
            })
            .collect();
        let shifted: Vec<f64> = table[1..].iter().map(|&v| (v - table[0]) as f64).collect();
        let game = coopgame::game::ExplicitGame::from_binary(&shifted).unwrap();
        let theirs = coopgame::values::shapley(&game);
        let ours = shapley_numerators(&table).unwrap();
        for (i, (t, o)) in theirs.iter().zip(&ours).enumerate() {
            let o = *o as f64 / factorial(n) as f64;
            assert!(
                (t - o).abs() <= 1e-9 * (1.0 + o.abs()),
                "n {n} player {i}: {t} vs {o}"
            );
        }
    }
}

#[test]
fn every_game_method_refuses_an_empty_game() {
    let empty = Table(vec![0]);
    for m in Method::ALL.into_iter().filter(|m| m.uses_game()) {
        let round = Round {
            game: &empty,
            first_order: None,
        };
        assert!(m.estimator(0).estimate(&round).is_err(), "{m}");
    }
}
