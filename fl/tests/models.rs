//! Every model family trains on real data, and flat parameters cross the burn boundary exactly,
//! in the documented order.

use fl::backend::BackendKind;
use fl::data::{DatasetSource, prepare_data};
use fl::model::{ModelKind, ModelSpec, evaluate};
use fl::train::{LocalTask, TrainConfig, train_local};

/// Trains `kind` centrally on `source` for `epochs` and returns the test accuracy.
fn centralized_accuracy(kind: &str, source: DatasetSource, epochs: usize) -> (ModelSpec, f64) {
    let fl::data::Splits { train, test, .. } = prepare_data(&source, "last", 0).unwrap();
    let kind: ModelKind = kind.parse().unwrap();
    let spec = ModelSpec::new(kind, train.n_features, train.n_classes, train.image_shape).unwrap();
    let device = BackendKind::Flex.device().unwrap();
    let rows: Vec<usize> = (0..train.len()).collect();
    let task = LocalTask {
        spec: &spec,
        device: &device,
        data: &train,
        rows: &rows,
    };
    let config = TrainConfig {
        local_epochs: epochs,
        ..TrainConfig::default()
    };
    let trained = train_local(&task, &spec.init_params(1), &config, 1, None).unwrap();
    let accuracy = evaluate(&spec, &trained.params, &test, &device)
        .unwrap()
        .accuracy;
    println!("{spec}: {:.2}% after {epochs} epochs", 100.0 * accuracy);
    (spec, accuracy)
}

#[test]
fn logistic_regression_learns_breast_cancer() {
    let (spec, accuracy) = centralized_accuracy("logreg", DatasetSource::BreastCancer, 5);
    assert_eq!(spec.to_string(), "logreg:30-1");
    assert!(accuracy > 0.93, "{accuracy}");
}

#[test]
fn softmax_regression_and_mlp_learn_digits() {
    let (_, softmax) = centralized_accuracy("softmax", DatasetSource::Digits, 5);
    assert!(softmax > 0.9, "{softmax}");
    let (spec, mlp) = centralized_accuracy("mlp:32,16", DatasetSource::Digits, 5);
    assert_eq!(spec.to_string(), "mlp:64-32-16-10");
    assert!(mlp > 0.9, "{mlp}");
}

#[test]
fn the_cnn_learns_digit_images() {
    let (spec, accuracy) = centralized_accuracy("cnn", DatasetSource::Digits, 5);
    assert_eq!(spec.to_string(), "cnn:8x8-10");
    assert!(accuracy > 0.85, "{accuracy}");
}

#[test]
fn flat_parameters_round_trip_in_the_documented_order() {
    let device = BackendKind::Flex.device().unwrap();
    for name in ["mlp:6-4-3", "cnn:8x8-10", "logreg:5-1"] {
        let spec: ModelSpec = name.parse().unwrap();
        let params: Vec<f32> = (0..spec.param_count()).map(|i| i as f32 * 0.001).collect();
        let network = spec.network(&params, &device).unwrap();
        assert_eq!(network.to_flat(), params, "{name}");
    }
    // Order: layer 0 weight [d_in, d_out] row-major, then its bias, then layer 1. With every
    // parameter zero except the first bias entry b, the logits of x = 0 are layer 1's
    // weight row 0 times relu(b), plus layer 1's bias.
    let spec: ModelSpec = "mlp:2-2-2".parse().unwrap();
    let mut params = vec![0.0f32; spec.param_count()];
    params[4] = 3.0; // layers.0.bias[0] (after the 2×2 weight)
    params[6] = 0.5; // layers.1.weight[0][0]: from hidden 0 to output 0
    params[11] = 1.0; // layers.1.bias[1]
    let network = spec.network(&params, &device).unwrap();
    let x = burn::tensor::Tensor::<2>::zeros([1, 2], &device);
    let logits: Vec<f32> = network
        .forward(x)
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap();
    assert_eq!(logits, vec![1.5, 1.0]);
    assert!(
        spec.network(&params[1..], &device).is_err(),
        "a wrong length is an error"
    );
}
