//! Per-round metrics, as written to `metrics.json`.

use serde::{Deserialize, Serialize};

use crate::blob::Digest;

/// One client's part in a round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientMetrics {
    /// Client id.
    pub client: usize,
    /// Training rows it holds.
    pub samples: usize,
    /// Mean batch loss over its last local epoch (`"NaN"`, `"inf"` when not finite: a client
    /// whose training diverged).
    #[serde(with = "float_or_text")]
    pub train_loss: f32,
    /// Optimizer steps it took.
    pub steps: u64,
    /// Whether the simulated attack rewrote its update.
    pub attacked: bool,
    /// Head hash of its proof-of-learning log, when logging is on.
    pub pol_head: Option<Digest>,
    /// SHA-256 of the update it sent (flat f32 parameters, in the run's blob store), which
    /// `zkfl contrib` values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<Digest>,
}

/// One finished round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoundMetrics {
    /// Round number, from 1.
    pub round: u32,
    /// Accuracy of the new global model on the test set.
    pub test_accuracy: f64,
    /// Mean test loss of the new global model (`"NaN"`, `"inf"` when not finite).
    #[serde(with = "float_or_text")]
    pub test_loss: f64,
    /// The clients that trained this round, by id.
    pub clients: Vec<ClientMetrics>,
    /// Wall-clock seconds the round took.
    pub seconds: f64,
    /// SHA-256 of the new global model.
    pub model: Digest,
    /// Why the round's aggregate was refused and the previous global model kept, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_previous: Option<String>,
}

/// Serde for a loss that may not be finite. JSON has no NaN or infinity (serde_json writes
/// `null`, which no float reads back), so those are the strings `"NaN"`, `"inf"` and `"-inf"`;
/// finite values stay numbers.
pub mod float_or_text {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// `f32` or `f64`.
    pub trait Float: Copy + Serialize + for<'de> Deserialize<'de> {
        /// As an `f64`.
        fn wide(self) -> f64;
        /// From an `f64` (NaN and infinities only).
        fn narrow(v: f64) -> Self;
    }

    impl Float for f32 {
        fn wide(self) -> f64 {
            f64::from(self)
        }
        fn narrow(v: f64) -> Self {
            v as f32
        }
    }

    impl Float for f64 {
        fn wide(self) -> f64 {
            self
        }
        fn narrow(v: f64) -> Self {
            v
        }
    }

    /// Writes `v`: a number, or its name when not finite.
    pub fn serialize<F: Float, S: Serializer>(v: &F, s: S) -> Result<S::Ok, S::Error> {
        match v.wide() {
            w if w.is_finite() => v.serialize(s),
            w if w.is_nan() => s.serialize_str("NaN"),
            w if w > 0.0 => s.serialize_str("inf"),
            _ => s.serialize_str("-inf"),
        }
    }

    /// Reads a number, or `"NaN"`, `"inf"`, `"-inf"`.
    pub fn deserialize<'de, F: Float, D: Deserializer<'de>>(d: D) -> Result<F, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Text<F> {
            Number(F),
            Name(String),
        }
        match Text::<F>::deserialize(d)? {
            Text::Number(v) => Ok(v),
            Text::Name(name) => match name.as_str() {
                "NaN" => Ok(F::narrow(f64::NAN)),
                "inf" => Ok(F::narrow(f64::INFINITY)),
                "-inf" => Ok(F::narrow(f64::NEG_INFINITY)),
                other => Err(D::Error::custom(format!(
                    "{other:?} is not a number, \"NaN\", \"inf\" or \"-inf\""
                ))),
            },
        }
    }

    #[cfg(test)]
    mod tests {
        #[derive(Debug, serde::Serialize, serde::Deserialize)]
        struct Loss(#[serde(with = "super")] f32);

        #[test]
        fn every_float_reads_back() {
            for v in [0.25f32, -3.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN] {
                let text = serde_json::to_string(&Loss(v)).unwrap();
                let back: Loss = serde_json::from_str(&text).unwrap();
                assert!(
                    back.0 == v || (v.is_nan() && back.0.is_nan()),
                    "{v} -> {text}"
                );
            }
            assert_eq!(serde_json::to_string(&Loss(0.25)).unwrap(), "0.25");
            assert!(serde_json::from_str::<Loss>("null").is_err());
            assert!(serde_json::from_str::<Loss>("\"lots\"").is_err());
        }
    }
}
