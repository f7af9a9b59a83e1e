//! What a model is, as a value: its kind, its input and output sizes, and the shapes of its
//! parameters in the one flat order that aggregation, logs and proofs use.

use std::fmt;
use std::str::FromStr;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::ModelError;

/// Channels of the CNN's two convolutions and width of its hidden dense layer.
pub const CNN_CHANNELS: [usize; 2] = [8, 16];
/// Width of the CNN's hidden dense layer.
pub const CNN_HIDDEN: usize = 64;
/// Side of the CNN's square convolution kernels (padding keeps the image size).
pub const CNN_KERNEL: usize = 3;

/// The model families a user picks with `--model`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelKind {
    /// Binary logistic regression: one logit, sigmoid, binary cross-entropy.
    LogReg,
    /// Multinomial (softmax) regression: one dense layer, cross-entropy.
    Softmax,
    /// Dense layers with ReLU between them; `hidden` are the hidden widths.
    Mlp {
        /// Widths of the hidden layers, input side first.
        hidden: Vec<usize>,
    },
    /// Two 3×3 convolutions (8 and 16 channels, ReLU, 2×2 max-pool each), a 64-wide dense layer and
    /// the output layer: a small CNN for 28×28 (or any square-ish) images.
    Cnn,
}

impl FromStr for ModelKind {
    type Err = ModelError;
    /// Parses `logreg`, `softmax`, `mlp` (one hidden layer of 64), `mlp:128,64` and `cnn`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ModelError::UnknownModel(s.to_string());
        match s {
            "logreg" => Ok(ModelKind::LogReg),
            "softmax" => Ok(ModelKind::Softmax),
            "mlp" => Ok(ModelKind::Mlp { hidden: vec![64] }),
            "cnn" => Ok(ModelKind::Cnn),
            _ => {
                let widths = s.strip_prefix("mlp:").ok_or_else(bad)?;
                let hidden = widths
                    .split(',')
                    .map(|w| w.trim().parse::<usize>().ok().filter(|&w| w > 0))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(bad)?;
                Ok(ModelKind::Mlp { hidden })
            }
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelKind::LogReg => f.write_str("logreg"),
            ModelKind::Softmax => f.write_str("softmax"),
            ModelKind::Cnn => f.write_str("cnn"),
            ModelKind::Mlp { hidden } => write!(f, "mlp:{}", join(hidden, ",")),
        }
    }
}

/// A model fixed to a data set's shape: the kind, the input width, the number of outputs and, for
/// the CNN, the image's height and width. Spelled `logreg:30-1`, `softmax:64-10`, `mlp:64-64-10`,
/// `cnn:28x28-10` (Display and FromStr round-trip; serde uses that string).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ModelSpec {
    /// The model family.
    pub kind: ModelKind,
    /// Features per row.
    pub inputs: usize,
    /// Output logits: 1 for logistic regression, the number of classes otherwise.
    pub outputs: usize,
    /// `(height, width)` for the CNN; `None` for dense models.
    pub image: Option<(usize, usize)>,
}

/// The shape of one parameter tensor, in burn's layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamShape {
    /// Dotted name, e.g. `layers.0.weight`.
    pub name: String,
    /// Dimensions (dense weights are `[d_in, d_out]`, conv weights `[out, in, kh, kw]`).
    pub dims: Vec<usize>,
    /// Fan-in used for initialization.
    pub fan_in: usize,
}

impl ParamShape {
    /// Number of scalars in this tensor.
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }

    /// Whether the tensor has no scalars.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ModelSpec {
    /// Fixes `kind` to a data set with `inputs` features, `classes` labels and an optional image
    /// shape, checking that the pair makes sense (logistic regression needs two classes, the CNN
    /// an image).
    pub fn new(
        kind: ModelKind,
        inputs: usize,
        classes: usize,
        image: Option<(usize, usize)>,
    ) -> Result<Self, ModelError> {
        if inputs == 0 || classes < 2 {
            return Err(ModelError::Shape(format!(
                "a model needs at least one feature and two classes (got {inputs} features, {classes} classes)"
            )));
        }
        let outputs = match kind {
            ModelKind::LogReg if classes != 2 => {
                return Err(ModelError::Shape(format!(
                    "logreg is binary but the data set has {classes} classes: use softmax or mlp"
                )));
            }
            ModelKind::LogReg => 1,
            _ => classes,
        };
        let image = match kind {
            ModelKind::Cnn => {
                let (h, w) = image.ok_or_else(|| {
                    ModelError::Shape("cnn needs image data (digits or idx:...)".to_string())
                })?;
                if h * w != inputs || h < 4 || w < 4 {
                    return Err(ModelError::Shape(format!(
                        "cnn needs an image of at least 4x4 matching the {inputs} features, got {h}x{w}"
                    )));
                }
                Some((h, w))
            }
            _ => None,
        };
        Ok(ModelSpec {
            kind,
            inputs,
            outputs,
            image,
        })
    }

    /// Widths of the dense layers from input to output (for dense models).
    pub fn dense_widths(&self) -> Vec<usize> {
        let mut widths = vec![self.inputs];
        if let ModelKind::Mlp { hidden } = &self.kind {
            widths.extend(hidden);
        }
        widths.push(self.outputs);
        widths
    }

    /// The parameter tensors in flat order: layer by layer from the input, each layer's weight
    /// then its bias. Dense weights are `[d_in, d_out]` (burn's layout, the transpose of
    /// PyTorch's), conv weights `[out_channels, in_channels, kh, kw]`, all row-major.
    pub fn param_shapes(&self) -> Vec<ParamShape> {
        let mut shapes = Vec::new();
        let dense = |prefix: String, d_in: usize, d_out: usize, shapes: &mut Vec<ParamShape>| {
            shapes.push(ParamShape {
                name: format!("{prefix}.weight"),
                dims: vec![d_in, d_out],
                fan_in: d_in,
            });
            shapes.push(ParamShape {
                name: format!("{prefix}.bias"),
                dims: vec![d_out],
                fan_in: d_in,
            });
        };
        match self.image {
            Some((h, w)) => {
                let [c1, c2] = CNN_CHANNELS;
                for (i, (c_in, c_out)) in [(1, c1), (c1, c2)].into_iter().enumerate() {
                    let fan_in = c_in * CNN_KERNEL * CNN_KERNEL;
                    shapes.push(ParamShape {
                        name: format!("conv{}.weight", i + 1),
                        dims: vec![c_out, c_in, CNN_KERNEL, CNN_KERNEL],
                        fan_in,
                    });
                    shapes.push(ParamShape {
                        name: format!("conv{}.bias", i + 1),
                        dims: vec![c_out],
                        fan_in,
                    });
                }
                let flat = c2 * (h / 4) * (w / 4);
                dense("fc1".to_string(), flat, CNN_HIDDEN, &mut shapes);
                dense("fc2".to_string(), CNN_HIDDEN, self.outputs, &mut shapes);
            }
            None => {
                for (i, pair) in self.dense_widths().windows(2).enumerate() {
                    dense(format!("layers.{i}"), pair[0], pair[1], &mut shapes);
                }
            }
        }
        shapes
    }

    /// Total number of scalar parameters.
    pub fn param_count(&self) -> usize {
        self.param_shapes().iter().map(ParamShape::len).sum()
    }

    /// Fresh parameters, deterministic in `seed` and independent of the back end: every tensor
    /// uniform in ±1/√fan_in (PyTorch's default for linear and conv layers).
    pub fn init_params(&self, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut params = Vec::with_capacity(self.param_count());
        for shape in self.param_shapes() {
            let bound = 1.0 / (shape.fan_in as f32).sqrt();
            params.extend((0..shape.len()).map(|_| rng.gen_range(-bound..bound)));
        }
        params
    }
}

fn join(values: &[usize], sep: &str) -> String {
    values
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(sep)
}

impl fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.kind, self.image) {
            (ModelKind::Cnn, Some((h, w))) => write!(f, "cnn:{h}x{w}-{}", self.outputs),
            (kind, _) => {
                let name = match kind {
                    ModelKind::LogReg => "logreg",
                    ModelKind::Softmax => "softmax",
                    _ => "mlp",
                };
                write!(f, "{name}:{}", join(&self.dense_widths(), "-"))
            }
        }
    }
}

impl FromStr for ModelSpec {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ModelError::UnknownModel(s.to_string());
        let (name, dims) = s.split_once(':').ok_or_else(bad)?;
        if name == "cnn" {
            let (image, outputs) = dims.split_once('-').ok_or_else(bad)?;
            let (h, w) = image.split_once('x').ok_or_else(bad)?;
            let h: usize = h.parse().map_err(|_| bad())?;
            let w: usize = w.parse().map_err(|_| bad())?;
            let outputs: usize = outputs.parse().map_err(|_| bad())?;
            return ModelSpec::new(ModelKind::Cnn, h * w, outputs, Some((h, w)));
        }
        let widths = dims
            .split('-')
            .map(|d| d.parse::<usize>().ok().filter(|&d| d > 0))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(bad)?;
        let (&inputs, &outputs) = match (widths.first(), widths.last()) {
            (Some(i), Some(o)) if widths.len() >= 2 => (i, o),
            _ => return Err(bad()),
        };
        let spec = match name {
            "logreg" if widths.len() == 2 && outputs == 1 => {
                ModelSpec::new(ModelKind::LogReg, inputs, 2, None)
            }
            "softmax" if widths.len() == 2 => {
                ModelSpec::new(ModelKind::Softmax, inputs, outputs, None)
            }
            "mlp" if widths.len() >= 3 => {
                let hidden = widths[1..widths.len() - 1].to_vec();
                ModelSpec::new(ModelKind::Mlp { hidden }, inputs, outputs, None)
            }
            _ => Err(bad()),
        }?;
        Ok(spec)
    }
}

impl TryFrom<String> for ModelSpec {
    type Error = ModelError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ModelSpec> for String {
    fn from(spec: ModelSpec) -> String {
        spec.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_round_trip_through_their_names() {
        for name in [
            "logreg:30-1",
            "softmax:64-10",
            "mlp:64-64-10",
            "mlp:784-256-10",
            "mlp:20-8-4-3",
            "cnn:28x28-10",
            "cnn:8x8-10",
        ] {
            let spec: ModelSpec = name.parse().unwrap();
            assert_eq!(spec.to_string(), name);
        }
        for bad in [
            "mlp:64",
            "logreg:30-2",
            "cnn:28-10",
            "rnn:3-4",
            "mlp:0-3-2",
            "softmax",
        ] {
            assert!(bad.parse::<ModelSpec>().is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn parameter_counts_match_the_architecture() {
        let mlp: ModelSpec = "mlp:64-64-10".parse().unwrap();
        assert_eq!(mlp.param_count(), 64 * 64 + 64 + 64 * 10 + 10);
        let cnn: ModelSpec = "cnn:28x28-10".parse().unwrap();
        let convs = 8 * 9 + 8 + 16 * 8 * 9 + 16;
        assert_eq!(
            cnn.param_count(),
            convs + 16 * 7 * 7 * 64 + 64 + 64 * 10 + 10
        );
    }

    #[test]
    fn kinds_check_the_data_shape() {
        assert!(ModelSpec::new(ModelKind::LogReg, 64, 10, None).is_err());
        assert!(ModelSpec::new(ModelKind::Cnn, 30, 2, None).is_err());
        assert!(ModelSpec::new(ModelKind::Cnn, 64, 10, Some((8, 8))).is_ok());
        assert_eq!(
            "mlp:32,16".parse::<ModelKind>().unwrap(),
            ModelKind::Mlp {
                hidden: vec![32, 16]
            }
        );
        assert!("mlp:".parse::<ModelKind>().is_err());
    }

    #[test]
    fn initialization_is_seeded_and_bounded() {
        let spec: ModelSpec = "mlp:64-64-10".parse().unwrap();
        let a = spec.init_params(7);
        assert_eq!(a, spec.init_params(7));
        assert_ne!(a, spec.init_params(8));
        assert!(a[..64 * 64].iter().all(|w| w.abs() <= 0.125));
    }
}
