//! Constraint counts of the deployment shapes (printed with `--nocapture`), and a check that the
//! dummy witness used for key generation satisfies them.

use circuits::field::Bn254;
use circuits::reference::Model;
use circuits::relations::training_step::{DEFAULT_EPS, TrainingStepShape, build, dummy_witness};

fn report(name: &str, model: Model, batch: usize) -> u64 {
    let shape = TrainingStepShape {
        model,
        batch,
        depth: 8,
        eps: DEFAULT_EPS,
    };
    let witness = dummy_witness::<Bn254>(&shape).unwrap();
    let (program, assignment) = build(&shape, &witness).unwrap();
    program.check(&assignment).unwrap();
    let cost = program.cost();
    println!(
        "{name}: total {} (2^{:.2})",
        cost.total,
        (cost.total as f64).log2()
    );
    for (section, c) in &cost.by_section {
        println!("  {section:>9}: {c}");
    }
    cost.total
}

#[test]
fn deployment_shapes_build_and_cost() {
    let softmax = report(
        "softmax 64->10, B=16, depth 8",
        Model::Softmax {
            inputs: 64,
            classes: 10,
        },
        16,
    );
    let logreg = report(
        "logreg 30->1, B=16, depth 8",
        Model::LogReg { inputs: 30 },
        16,
    );
    let mlp = report(
        "mlp 64->16->10, B=8, depth 8",
        Model::Mlp {
            inputs: 64,
            hidden: 16,
            classes: 10,
        },
        8,
    );
    assert!(logreg < softmax && softmax < 1 << 18 && mlp < 1 << 19);
}
