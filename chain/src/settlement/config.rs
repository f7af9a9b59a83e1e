//! The verifier part of a task's config, `/tasks/<id>/config/verifier`: which proofs the task
//! pays for.
//!
//! ```text
//! {"system": "groth16", "relation": "training-step",
//!  "shape": "<the relation shape as JSON, exactly as proof files carry it>",
//!  "program_digest": "<64 hex digits: circuits::Program::digest of the shape's program>",
//!  "vk": "<hex of the Groth16 verifying key, arkworks compressed encoding>",
//!  "lrs": {"<learning rate at 2^FLR, decimal>": true, ...},
//!  "ceremony": "<64 hex: the cs_hash of the phase-2 parameters>"}   (optional)
//! ```
//! With `ceremony`, the key comes from a multi-party setup (the `ceremony` crate, BGM17): `vk`
//! is the start key phase 1 gives (`γ = δ = 1`), the owner and every provider contribute a δ
//! before registering ([`super::setup`]), and the ledger verifies under `vk` with the δ the
//! contributions end with. Without it, `vk` is used as it is, and whoever made it could forge
//! proofs; a key with `γ = δ` (a start key) is refused there, since anyone could.
//! The tolerance ε is the shape's `eps`. Only Groth16 is accepted on the ledger for now: a halo2
//! verifier needs the IPA parameters (a file of `2^k` curve points, megabytes for real shapes)
//! that would have to be stored or rebuilt by every node, while a Groth16 key is a few hundred
//! bytes. The ledger does not rebuild the program to check that `vk` belongs to
//! `program_digest`: the task owner fixes the three together and providers check them off
//! the ledger before they join (a wrong key only makes the task unpayable).

use std::collections::{BTreeMap, BTreeSet};

use circuits::fixed::LR_BITS;
use circuits::r1cs::{self, Encoding, VerifyingKey};
use circuits::relations::contribution::ContributionShape;
use circuits::relations::training_step::{PUBLIC_INPUTS, TrainingStepShape};
use verifier::TRAINING_STEP;

use crate::value::Value;

/// The only proof system the ledger verifies.
pub const SYSTEM_GROTH16: &str = "groth16";

/// Why a verifier config is not acceptable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("verifier config field {field}: {reason}")]
pub struct ProofConfigError {
    /// The offending field.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

fn bad(field: &'static str, reason: impl Into<String>) -> ProofConfigError {
    ProofConfigError {
        field,
        reason: reason.into(),
    }
}

/// A task's verifier config, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofConfig {
    /// The training-step shape proofs must be about (its `eps` is the task's ε).
    pub shape: TrainingStepShape,
    /// Digest of the shape's constraint program.
    pub program_digest: [u8; 32],
    /// The Groth16 verifying key, compressed (validated: decodes, five public inputs).
    pub vk: Vec<u8>,
    /// The learning rates (at `2^FLR`) a proven step may use; not empty.
    pub lrs: BTreeSet<i64>,
    /// With a multi-party setup, the `cs_hash` of its phase-2 parameters (`vk` is then the
    /// start key; see the module docs).
    pub ceremony: Option<[u8; 32]>,
}

/// Decodes 64 lowercase hex digits.
pub fn hex32(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    (text.len() == 64
        && !text.bytes().any(|b| b.is_ascii_uppercase())
        && hex::decode_to_slice(text, &mut out).is_ok())
    .then_some(out)
}

/// Checks that a stored config part `what` is an object with no field outside `allowed`.
fn only_fields(
    value: &Value,
    what: &'static str,
    allowed: &[&str],
) -> Result<(), ProofConfigError> {
    let Value::Object(fields) = value else {
        return Err(bad(what, "must be an object"));
    };
    match fields.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(bad(what, format!("unknown field {extra:?}"))),
        None => Ok(()),
    }
}

/// The string field `name` of a stored config part.
fn string_field<'a>(value: &'a Value, name: &'static str) -> Result<&'a str, ProofConfigError> {
    value
        .child(name)
        .as_str()
        .ok_or_else(|| bad(name, "must be a string"))
}

/// A stored verifying key's bytes: lowercase hex (it is checked to decode by the caller).
fn key_bytes(text: &str) -> Result<Vec<u8>, ProofConfigError> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(bad("vk", "hex must be lowercase"));
    }
    hex::decode(text).map_err(|e| bad("vk", e.to_string()))
}

/// A config part's value: `fields`, plus `ceremony` when the key comes from a ceremony.
fn with_ceremony<const N: usize>(
    ceremony: Option<[u8; 32]>,
    fields: [(String, Value); N],
) -> Value {
    let mut fields = BTreeMap::from(fields);
    if let Some(cs_hash) = ceremony {
        fields.insert("ceremony".to_owned(), Value::Str(hex::encode(cs_hash)));
    }
    Value::Object(fields)
}

/// The optional `ceremony` field: the phase-2 parameters' `cs_hash`.
fn ceremony_field(value: &Value) -> Result<Option<[u8; 32]>, ProofConfigError> {
    match value.child("ceremony") {
        v if v.is_absent() => Ok(None),
        v => v
            .as_str()
            .and_then(hex32)
            .map(Some)
            .ok_or_else(|| bad("ceremony", "not 64 hex")),
    }
}

/// With a ceremony, the stored key must be the start key (`γ = δ = 1`); without one, it must
/// not be (anyone can forge proofs under `γ = δ`).
fn check_start_key(ceremony: Option<[u8; 32]>, key: &VerifyingKey) -> Result<(), ProofConfigError> {
    match (ceremony.is_some(), ceremony::is_start_key(key)) {
        (true, false) => Err(bad(
            "vk",
            "with a ceremony the key must be the start key (γ = δ = 1)",
        )),
        (false, _) if key.gamma_g2 == key.delta_g2 => Err(bad(
            "vk",
            "γ = δ lets anyone forge proofs (a start key needs a ceremony)",
        )),
        _ => Ok(()),
    }
}

impl ProofConfig {
    /// A config for `shape` with its program digest, key and allowed learning rates; checked
    /// like a stored one.
    pub fn new(
        shape: TrainingStepShape,
        program_digest: [u8; 32],
        vk: &VerifyingKey,
        lrs: impl IntoIterator<Item = i64>,
    ) -> Result<ProofConfig, ProofConfigError> {
        let config = ProofConfig {
            shape,
            program_digest,
            vk: vk.to_bytes(),
            lrs: lrs.into_iter().collect(),
            ceremony: None,
        };
        ProofConfig::from_value(&config.to_value())
    }

    /// A config whose key comes from a multi-party setup whose phase-2 parameters have hash
    /// `cs_hash` and start key `start` (see the module docs); checked like a stored one.
    pub fn from_ceremony(
        shape: TrainingStepShape,
        program_digest: [u8; 32],
        start: &VerifyingKey,
        lrs: impl IntoIterator<Item = i64>,
        cs_hash: [u8; 32],
    ) -> Result<ProofConfig, ProofConfigError> {
        let config = ProofConfig {
            shape,
            program_digest,
            vk: start.to_bytes(),
            lrs: lrs.into_iter().collect(),
            ceremony: Some(cs_hash),
        };
        ProofConfig::from_value(&config.to_value())
    }

    /// The shape as proof files carry it (`serde_json::to_string`).
    pub fn shape_json(&self) -> String {
        serde_json::to_string(&self.shape).expect("invariant: a shape always serializes")
    }

    /// The decoded verifying key.
    pub fn verifying_key(&self) -> Result<VerifyingKey, ProofConfigError> {
        VerifyingKey::from_bytes(&self.vk).map_err(|e| bad("vk", e.to_string()))
    }

    /// The value stored at `/tasks/<id>/config/verifier`.
    pub fn to_value(&self) -> Value {
        let lrs = self
            .lrs
            .iter()
            .map(|lr| (lr.to_string(), Value::Bool(true)))
            .collect();
        with_ceremony(
            self.ceremony,
            [
                ("lrs".to_owned(), Value::Object(lrs)),
                (
                    "program_digest".to_owned(),
                    Value::Str(hex::encode(self.program_digest)),
                ),
                ("relation".to_owned(), Value::from(TRAINING_STEP)),
                ("shape".to_owned(), Value::Str(self.shape_json())),
                ("system".to_owned(), Value::from(SYSTEM_GROTH16)),
                ("vk".to_owned(), Value::Str(hex::encode(&self.vk))),
            ],
        )
    }

    /// Reads and fully checks a stored verifier config.
    pub fn from_value(value: &Value) -> Result<ProofConfig, ProofConfigError> {
        const FIELDS: [&str; 7] = [
            "ceremony",
            "lrs",
            "program_digest",
            "relation",
            "shape",
            "system",
            "vk",
        ];
        only_fields(value, "verifier", &FIELDS)?;
        let text = |name: &'static str| string_field(value, name);
        if text("system")? != SYSTEM_GROTH16 {
            return Err(bad("system", "only groth16 is verified on the ledger"));
        }
        if text("relation")? != TRAINING_STEP {
            return Err(bad("relation", format!("must be {TRAINING_STEP}")));
        }
        let shape_text = text("shape")?;
        let shape: TrainingStepShape =
            serde_json::from_str(shape_text).map_err(|e| bad("shape", e.to_string()))?;
        shape.validate().map_err(|e| bad("shape", e.to_string()))?;
        let program_digest =
            hex32(text("program_digest")?).ok_or_else(|| bad("program_digest", "not 64 hex"))?;
        let vk = key_bytes(text("vk")?)?;
        let Value::Object(lr_entries) = value.child("lrs") else {
            return Err(bad("lrs", "must be a non-empty object"));
        };
        let mut lrs = BTreeSet::new();
        for (key, flag) in lr_entries {
            let lr = key
                .parse::<i64>()
                .ok()
                .filter(|lr| lr.to_string() == *key && *lr > 0 && *lr < 1 << LR_BITS)
                .ok_or_else(|| bad("lrs", format!("{key:?} is not a rate in 1..2^{LR_BITS}")))?;
            if *flag != Value::Bool(true) {
                return Err(bad("lrs", "each rate maps to true"));
            }
            lrs.insert(lr);
        }
        if lrs.is_empty() {
            return Err(bad("lrs", "must be a non-empty object"));
        }
        let config = ProofConfig {
            shape,
            program_digest,
            vk,
            lrs,
            ceremony: ceremony_field(value)?,
        };
        if config.shape_json() != shape_text {
            return Err(bad("shape", "not in the canonical form proof files use"));
        }
        let key = config.verifying_key()?;
        check_start_key(config.ceremony, &key)?;
        if r1cs::public_input_count(&key) != PUBLIC_INPUTS {
            return Err(bad(
                "vk",
                format!(
                    "the key takes {} public inputs, the relation has {PUBLIC_INPUTS}",
                    r1cs::public_input_count(&key)
                ),
            ));
        }
        Ok(config)
    }
}

/// The largest `min_gain` a task may set (10% of the validation rows): a higher bar would let
/// an owner declare every round unpaid and keep the escrow.
pub const MAX_MIN_GAIN: u32 = 100;

/// The contribution part of a `shapley` task's config, `/tasks/<id>/config/contribution`: how
/// the owner proves each round's Shapley values (see [`super::contribution`]).
///
/// ```text
/// {"shape": "<circuits::relations::contribution::ContributionShape as JSON>",
///  "program_digest": "<64 hex>", "vk": "<hex of the Groth16 verifying key>",
///  "validation_root": "<64 hex: the owner's validation set, BN254 Poseidon Merkle root>",
///  "min_gain": <per mille of the validation rows, 0..=MAX_MIN_GAIN>,
///  "ceremony": "<64 hex: cs_hash>"}   (optional, as in the verifier config)
/// ```
/// `shape.players` is the number of providers a provable round has; `shape.drawn` how many
/// coalitions beyond the heavy ones each proof checks; `min_gain` the least gain
/// `|v(P) − v(∅)|` of a paid round (`contribution::payout::gains_enough`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContributionConfig {
    /// The relation's shape.
    pub shape: ContributionShape,
    /// Digest of its constraint program.
    pub program_digest: [u8; 32],
    /// The Groth16 verifying key, compressed (validated: decodes, the shape's input count).
    pub vk: Vec<u8>,
    /// The root of the owner's validation set, committed at creation.
    pub validation_root: [u8; 32],
    /// The least gain of a paid round, per mille of the validation rows.
    pub min_gain: u32,
    /// With a multi-party setup, the `cs_hash` of its phase-2 parameters (`vk` is then the
    /// start key), as in [`ProofConfig`].
    pub ceremony: Option<[u8; 32]>,
}

impl ContributionConfig {
    /// A config, checked like a stored one.
    pub fn new(
        shape: ContributionShape,
        program_digest: [u8; 32],
        vk: &VerifyingKey,
        validation_root: [u8; 32],
        min_gain: u32,
    ) -> Result<ContributionConfig, ProofConfigError> {
        let config = ContributionConfig {
            shape,
            program_digest,
            vk: vk.to_bytes(),
            validation_root,
            min_gain,
            ceremony: None,
        };
        ContributionConfig::from_value(&config.to_value())
    }

    /// A config whose key comes from a multi-party setup, as [`ProofConfig::from_ceremony`].
    pub fn from_ceremony(
        shape: ContributionShape,
        program_digest: [u8; 32],
        start: &VerifyingKey,
        validation_root: [u8; 32],
        min_gain: u32,
        cs_hash: [u8; 32],
    ) -> Result<ContributionConfig, ProofConfigError> {
        let config = ContributionConfig {
            shape,
            program_digest,
            vk: start.to_bytes(),
            validation_root,
            min_gain,
            ceremony: Some(cs_hash),
        };
        ContributionConfig::from_value(&config.to_value())
    }

    /// The decoded verifying key.
    pub fn verifying_key(&self) -> Result<VerifyingKey, ProofConfigError> {
        VerifyingKey::from_bytes(&self.vk).map_err(|e| bad("vk", e.to_string()))
    }

    /// The value stored at `/tasks/<id>/config/contribution`.
    pub fn to_value(&self) -> Value {
        let shape = serde_json::to_string(&self.shape)
            .expect("invariant: a contribution shape always serializes");
        with_ceremony(
            self.ceremony,
            [
                ("min_gain".to_owned(), Value::Int(i128::from(self.min_gain))),
                (
                    "program_digest".to_owned(),
                    Value::Str(hex::encode(self.program_digest)),
                ),
                ("shape".to_owned(), Value::Str(shape)),
                (
                    "validation_root".to_owned(),
                    Value::Str(hex::encode(self.validation_root)),
                ),
                ("vk".to_owned(), Value::Str(hex::encode(&self.vk))),
            ],
        )
    }

    /// Reads and fully checks a stored contribution config.
    pub fn from_value(value: &Value) -> Result<ContributionConfig, ProofConfigError> {
        const FIELDS: [&str; 6] = [
            "ceremony",
            "min_gain",
            "program_digest",
            "shape",
            "validation_root",
            "vk",
        ];
        only_fields(value, "contribution", &FIELDS)?;
        let text = |name: &'static str| string_field(value, name);
        let shape_text = text("shape")?;
        let shape: ContributionShape =
            serde_json::from_str(shape_text).map_err(|e| bad("shape", e.to_string()))?;
        shape.validate().map_err(|e| bad("shape", e.to_string()))?;
        let program_digest =
            hex32(text("program_digest")?).ok_or_else(|| bad("program_digest", "not 64 hex"))?;
        let validation_root =
            hex32(text("validation_root")?).ok_or_else(|| bad("validation_root", "not 64 hex"))?;
        let min_gain = value
            .child("min_gain")
            .as_int()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| n <= MAX_MIN_GAIN)
            .ok_or_else(|| {
                bad(
                    "min_gain",
                    format!("must be 0 to {MAX_MIN_GAIN} (per mille)"),
                )
            })?;
        let vk = key_bytes(text("vk")?)?;
        let config = ContributionConfig {
            shape,
            program_digest,
            vk,
            validation_root,
            min_gain,
            ceremony: ceremony_field(value)?,
        };
        if serde_json::to_string(&config.shape).ok().as_deref() != Some(shape_text) {
            return Err(bad("shape", "not in its canonical form"));
        }
        let key = config.verifying_key()?;
        check_start_key(config.ceremony, &key)?;
        if r1cs::public_input_count(&key) != shape.public_count() {
            return Err(bad(
                "vk",
                format!(
                    "the key takes {} public inputs, the shape has {}",
                    r1cs::public_input_count(&key),
                    shape.public_count()
                ),
            ));
        }
        Ok(config)
    }
}
