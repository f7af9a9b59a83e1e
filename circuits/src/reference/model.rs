//! The model families a training step is proved for, and their flat parameter layout.
//!
//! The layout is burn's: for each dense layer, the weight `[d_in, d_out]` row-major (so
//! `w[i*d_out + j]` multiplies input `i` into output `j`), then the bias `[d_out]`.

use serde::{Deserialize, Serialize};

/// A dense classifier with at most one hidden layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Model {
    /// Binary logistic regression: one logit `z`, `p = σ(z)`, mean binary cross-entropy.
    LogReg {
        /// Features per row.
        inputs: usize,
    },
    /// Softmax regression: `classes` logits, mean cross-entropy.
    Softmax {
        /// Features per row.
        inputs: usize,
        /// Number of classes (at least 2).
        classes: usize,
    },
    /// One hidden ReLU layer of width `hidden`, then softmax cross-entropy.
    Mlp {
        /// Features per row.
        inputs: usize,
        /// Hidden width.
        hidden: usize,
        /// Number of classes (at least 2).
        classes: usize,
    },
}

/// One dense layer's place in the flat parameter vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layer {
    /// Input width.
    pub d_in: usize,
    /// Output width.
    pub d_out: usize,
    /// Index of the first weight; the bias starts at `offset + d_in * d_out`.
    pub offset: usize,
}

impl Layer {
    /// Index of weight `(i, j)`.
    pub fn weight(&self, i: usize, j: usize) -> usize {
        self.offset + i * self.d_out + j
    }

    /// Index of bias `j`.
    pub fn bias(&self, j: usize) -> usize {
        self.offset + self.d_in * self.d_out + j
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        (self.d_in + 1) * self.d_out
    }

    /// Whether the layer has no parameters.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Model {
    /// Features per row.
    pub fn inputs(&self) -> usize {
        match *self {
            Model::LogReg { inputs }
            | Model::Softmax { inputs, .. }
            | Model::Mlp { inputs, .. } => inputs,
        }
    }

    /// Number of classes a label ranges over (2 for logistic regression).
    pub fn classes(&self) -> usize {
        match *self {
            Model::LogReg { .. } => 2,
            Model::Softmax { classes, .. } | Model::Mlp { classes, .. } => classes,
        }
    }

    /// Number of logits (1 for logistic regression).
    pub fn outputs(&self) -> usize {
        match *self {
            Model::LogReg { .. } => 1,
            Model::Softmax { classes, .. } | Model::Mlp { classes, .. } => classes,
        }
    }

    /// The dense layers, input side first.
    pub fn layers(&self) -> Vec<Layer> {
        let widths = match *self {
            Model::Mlp { inputs, hidden, .. } => vec![inputs, hidden, self.outputs()],
            _ => vec![self.inputs(), self.outputs()],
        };
        let mut offset = 0;
        widths
            .windows(2)
            .map(|pair| {
                let layer = Layer {
                    d_in: pair[0],
                    d_out: pair[1],
                    offset,
                };
                offset += layer.len();
                layer
            })
            .collect()
    }

    /// Length of the flat parameter vector.
    pub fn param_count(&self) -> usize {
        self.layers().iter().map(Layer::len).sum()
    }

    /// Whether every width is positive and there are at least two classes.
    pub fn is_valid(&self) -> bool {
        let widths_ok = match *self {
            Model::Mlp { hidden, .. } => hidden > 0,
            _ => true,
        };
        widths_ok && self.inputs() > 0 && self.classes() >= 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_burns() {
        let m = Model::Mlp {
            inputs: 3,
            hidden: 4,
            classes: 2,
        };
        let layers = m.layers();
        assert_eq!(m.param_count(), 3 * 4 + 4 + 4 * 2 + 2);
        assert_eq!(layers[0].weight(2, 1), 9);
        assert_eq!(layers[0].bias(0), 12);
        assert_eq!(layers[1].weight(0, 0), 16);
        assert_eq!(layers[1].bias(1), 25);
        assert_eq!(Model::LogReg { inputs: 30 }.param_count(), 31);
    }
}
