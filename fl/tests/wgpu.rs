//! The GPU path: the same training on wgpu as on the CPU. Runs with `--features wgpu`; without a
//! wgpu adapter (no GPU and no Mesa lavapipe) it prints why and skips.
#![cfg(feature = "wgpu")]

use burn::prelude::*;
use fl::backend::BackendKind;
use fl::data::{DatasetSource, prepare_data};
use fl::model::{ModelSpec, evaluate};
use fl::train::{LocalTask, TrainConfig, train_local};

/// The wgpu device, if an adapter answers a tiny computation.
fn wgpu_device() -> Option<Device> {
    let device = BackendKind::Wgpu.device().ok()?;
    let probe = device.clone();
    let answer = std::panic::catch_unwind(move || {
        Tensor::<1>::from_floats([1.0, 2.0, 3.0], &probe)
            .sum()
            .into_scalar::<f32>()
    });
    match answer {
        Ok(sum) if sum == 6.0 => Some(device),
        _ => {
            println!(
                "skipped: no wgpu adapter (install mesa-vulkan-drivers for lavapipe, or run on a GPU)"
            );
            None
        }
    }
}

#[test]
fn local_training_on_wgpu_matches_the_cpu() {
    let Some(gpu) = wgpu_device() else { return };
    let fl::data::Splits { train, test, .. } =
        prepare_data(&DatasetSource::Digits, "last", 0).unwrap();
    let spec: ModelSpec = "mlp:64-64-10".parse().unwrap();
    let rows: Vec<usize> = (0..train.len()).collect();
    let global = spec.init_params(0);
    let config = TrainConfig {
        local_epochs: 2,
        ..TrainConfig::default()
    };
    let cpu = BackendKind::Flex.device().unwrap();
    let task = |device| LocalTask {
        spec: &spec,
        device,
        data: &train,
        rows: &rows,
    };
    let on_cpu = train_local(&task(&cpu), &global, &config, 3, None).unwrap();
    let on_gpu = train_local(&task(&gpu), &global, &config, 3, None).unwrap();
    let diff = on_cpu
        .params
        .iter()
        .zip(&on_gpu.params)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    println!("max |cpu - gpu| after {} steps: {diff:e}", on_gpu.steps);
    assert!(
        diff < 1e-2,
        "the GPU run drifted from the CPU run by {diff}"
    );
    let accuracy = evaluate(&spec, &on_gpu.params, &test, &gpu)
        .unwrap()
        .accuracy;
    assert!(
        accuracy > 0.9,
        "accuracy after 2 epochs on wgpu: {accuracy}"
    );
}
