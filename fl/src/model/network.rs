//! The burn modules behind a [`ModelSpec`], and their loss.
//!
//! The network is built on any burn device; its parameters are always loaded from a flat vector
//! (see [`super::params`]), so burn's own initializer and random state never matter.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, relu};

use super::spec::{CNN_CHANNELS, CNN_HIDDEN, CNN_KERNEL, ModelKind, ModelSpec};

/// Dense layers with ReLU between them (logistic regression and softmax regression are the
/// one-layer case).
#[derive(Module, Debug)]
pub struct Dense {
    layers: Vec<Linear>,
}

/// The small CNN: conv–ReLU–pool twice, then two dense layers.
#[derive(Module, Debug)]
pub struct Cnn {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    fc1: Linear,
    fc2: Linear,
    #[module(skip)]
    height: usize,
    #[module(skip)]
    width: usize,
}

/// A classifier of any kind this crate trains. Its parameters, visited in declaration order, are
/// exactly [`ModelSpec::param_shapes`].
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)] // one network per training run; never stored in bulk
pub enum Network {
    /// Logistic regression, softmax regression and MLPs.
    Dense(Dense),
    /// The small CNN.
    Cnn(Cnn),
}

impl Network {
    /// Builds the layers of `spec` on `device` (values are overwritten by a flat load).
    pub fn new(spec: &ModelSpec, device: &Device) -> Self {
        let linear = |d_in: usize, d_out: usize| LinearConfig::new(d_in, d_out).init(device);
        match spec.image {
            Some((height, width)) => {
                let conv = |c_in: usize, c_out: usize| {
                    Conv2dConfig::new([c_in, c_out], [CNN_KERNEL, CNN_KERNEL])
                        .with_padding(PaddingConfig2d::Same)
                        .init(device)
                };
                let [c1, c2] = CNN_CHANNELS;
                Network::Cnn(Cnn {
                    conv1: conv(1, c1),
                    conv2: conv(c1, c2),
                    pool: MaxPool2dConfig::new([2, 2]).init(),
                    fc1: linear(c2 * (height / 4) * (width / 4), CNN_HIDDEN),
                    fc2: linear(CNN_HIDDEN, spec.outputs),
                    height,
                    width,
                })
            }
            None => Network::Dense(Dense {
                layers: spec
                    .dense_widths()
                    .windows(2)
                    .map(|pair| linear(pair[0], pair[1]))
                    .collect(),
            }),
        }
    }

    /// Logits `[batch, outputs]` for a batch of rows `[batch, inputs]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Network::Dense(dense) => {
                let last = dense.layers.len() - 1;
                dense.layers.iter().enumerate().fold(x, |h, (i, layer)| {
                    let z = layer.forward(h);
                    if i < last { relu(z) } else { z }
                })
            }
            Network::Cnn(cnn) => {
                let [batch, _] = x.dims();
                let image = x.reshape([batch, 1, cnn.height, cnn.width]);
                let h = cnn.pool.forward(relu(cnn.conv1.forward(image)));
                let h = cnn.pool.forward(relu(cnn.conv2.forward(h)));
                let h = h.flatten::<2>(1, 3);
                cnn.fc2.forward(relu(cnn.fc1.forward(h)))
            }
        }
    }
}

/// Mean loss of `logits` against class ids: binary cross-entropy on the single logit for
/// logistic regression, softmax cross-entropy otherwise. `targets` is `[batch, outputs]`: the
/// label (0 or 1) for logistic regression, a one-hot row otherwise (see [`targets`]).
pub fn loss(kind: &ModelKind, logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    let [batch, _] = logits.dims();
    match kind {
        ModelKind::LogReg => {
            // max(z, 0) − z·y + log(1 + e^{−|z|}): stable for large |z|.
            let stable = relu(logits.clone()) - logits.clone() * targets
                + logits.abs().neg().exp().add_scalar(1.0).log();
            stable.sum().div_scalar(batch as f32)
        }
        _ => (log_softmax(logits, 1) * targets)
            .sum()
            .neg()
            .div_scalar(batch as f32),
    }
}

/// The target matrix [`loss`] expects for `labels`, as host data of shape `[batch, outputs]`.
pub fn targets(spec: &ModelSpec, labels: &[u32]) -> TensorData {
    let outputs = spec.outputs;
    let mut data = vec![0.0f32; labels.len() * outputs];
    for (row, &label) in labels.iter().enumerate() {
        if outputs == 1 {
            data[row] = label as f32;
        } else {
            data[row * outputs + label as usize] = 1.0;
        }
    }
    TensorData::new(data, [labels.len(), outputs])
}

/// Predicted class ids for a batch of logits.
pub fn predictions(spec: &ModelSpec, logits: Tensor<2>) -> Vec<u32> {
    let values: Vec<f32> = logits
        .into_data()
        .convert::<f32>()
        .try_into_vec()
        .unwrap_or_default();
    if spec.outputs == 1 {
        return values.iter().map(|&z| u32::from(z > 0.0)).collect();
    }
    values
        .chunks(spec.outputs)
        .map(|row| {
            let mut best = 0;
            for (i, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = i;
                }
            }
            best as u32
        })
        .collect()
}
