//! How close an estimate is to the exact values: relative L2 error and Spearman's rank
//! correlation (the figures GTG-Shapley and TMC-Shapley report).

/// `‖estimate − exact‖₂ / ‖exact‖₂` (0 when both are zero, infinite when only `exact` is).
pub fn relative_l2(exact: &[f64], estimate: &[f64]) -> f64 {
    let diff: f64 = exact
        .iter()
        .zip(estimate)
        .map(|(a, b)| (a - b).powi(2))
        .sum();
    let norm: f64 = exact.iter().map(|a| a * a).sum();
    match (norm == 0.0, diff == 0.0) {
        (true, true) => 0.0,
        (true, false) => f64::INFINITY,
        _ => (diff / norm).sqrt(),
    }
}

/// Spearman's ρ: Pearson's correlation of the ranks (ties get their mean rank); 0 when either
/// side is constant.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    let mean = (n - 1.0) / 2.0;
    let cov: f64 = ra
        .iter()
        .zip(&rb)
        .map(|(x, y)| (x - mean) * (y - mean))
        .sum();
    let var = |r: &[f64]| r.iter().map(|x| (x - mean).powi(2)).sum::<f64>();
    let denominator = (var(&ra) * var(&rb)).sqrt();
    if denominator == 0.0 {
        0.0
    } else {
        cov / denominator
    }
}

fn ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&i, &j| x[i].total_cmp(&x[j]));
    let mut r = vec![0.0; x.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && x[order[end]] == x[order[start]] {
            end += 1;
        }
        let mean = (start + end - 1) as f64 / 2.0;
        for &i in &order[start..end] {
            r[i] = mean;
        }
        start = end;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_of_orders() {
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), 1.0);
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0);
        assert_eq!(spearman(&[1.0, 1.0], &[1.0, 2.0]), 0.0);
        // Ties share a rank: ranks (0.5, 0.5, 2) against (0, 1, 2).
        let rho = spearman(&[5.0, 5.0, 9.0], &[1.0, 2.0, 3.0]);
        assert!((rho - 0.866_025_403_784_438_6).abs() < 1e-12, "{rho}");
    }

    #[test]
    fn relative_l2_error() {
        assert_eq!(relative_l2(&[3.0, 4.0], &[3.0, 4.0]), 0.0);
        assert!((relative_l2(&[3.0, 4.0], &[3.0, 4.5]) - 0.1).abs() < 1e-12);
        assert_eq!(relative_l2(&[0.0], &[0.0]), 0.0);
        assert_eq!(relative_l2(&[0.0], &[1.0]), f64::INFINITY);
    }
}
