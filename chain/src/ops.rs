//! Ops: the writes a transaction carries, their JSON format and their validation.
//!
//! # JSON format (AI Network style)
//! ```text
//! {"type":"SET_VALUE",    "ref":"/a/b",      "value": <value or null to delete>}
//! {"type":"INC_VALUE",    "ref":"/a/b",      "value": <integer >= 0>}
//! {"type":"DEC_VALUE",    "ref":"/a/b",      "value": <integer >= 0>}
//! {"type":"SET_RULE",     "ref":"/a/$x",     "value": "<rule source>" or null}
//! {"type":"SET_FUNCTION", "ref":"/a/$x",     "value": {"function_id":"_transfer"} or null}
//! {"type":"SET_OWNER",    "ref":"/a",        "value": {"owners":{...}} or null}
//! {"type":"SET_SHARD",    "ref":"/a",        "value": <shard config>}
//! {"type":"REPORT_SHARD", "ref":"/a",        "value": <shard report>}
//! {"type":"SET",          "op_list":[<op>, ...]}
//! ```
//! The shard ops and their values are specified in [`crate::shard`].
//! Every field is required and no other field is accepted. `ref` is a data path for value ops
//! and a path pattern (wildcards allowed) for config ops. A `SET` holds 1 to [`MAX_SET_OPS`]
//! ops, none of them a `SET`, applied all or nothing. The canonical encoding is the canonical
//! JSON ([`crate::json`]) of this form; decoding it gives the same op back.
//!
//! Decoding validates everything that does not depend on the state: JSON syntax, shape, paths,
//! rule syntax and bound variables, value size and depth, deltas. [`Op::validate`] repeats the
//! state-free checks for ops built in code.

use std::collections::BTreeMap;

use crate::json::{self, Json, JsonError};
use crate::owner::OwnerConfig;
use crate::path::{Path, PathError, PathPattern};
use crate::rules::{Rule, RuleParseError};
use crate::shard::{ShardConfig, ShardReport};
use crate::state::{StateError, check_value};
use crate::value::Value;

/// Most ops in one `SET`.
pub const MAX_SET_OPS: usize = 256;
/// Largest op JSON text accepted by [`Op::from_json_text`].
pub const MAX_OP_JSON_BYTES: usize = 1024 * 1024;
/// Longest function id.
pub const MAX_FUNCTION_ID_LEN: usize = 64;

/// A native function attached to a path pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionConfig {
    /// The native function's id: `_` then letters, digits or `_` (e.g. `_transfer`).
    pub function_id: String,
}

impl FunctionConfig {
    /// A config for `function_id`, validated.
    pub fn new(function_id: &str) -> Result<FunctionConfig, OpError> {
        let ok = function_id.len() <= MAX_FUNCTION_ID_LEN
            && function_id.len() > 1
            && function_id.starts_with('_')
            && function_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ok {
            Ok(FunctionConfig {
                function_id: function_id.to_owned(),
            })
        } else {
            Err(OpError::BadFunctionId(function_id.to_owned()))
        }
    }

    /// `{"function_id": ...}`
    pub fn to_json(&self) -> Json {
        Json::Object(BTreeMap::from([(
            "function_id".to_owned(),
            Json::Str(self.function_id.clone()),
        )]))
    }

    /// Reads `{"function_id": ...}`.
    pub fn from_json(json: &Json) -> Result<FunctionConfig, OpError> {
        let fields = object_fields(json, "function config", &["function_id"])?;
        match fields.get("function_id") {
            Some(Json::Str(id)) => FunctionConfig::new(id),
            _ => Err(shape("function config: \"function_id\" must be a string")),
        }
    }
}

/// One write to the state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Replace the value at a path (null deletes).
    SetValue {
        /// Where.
        path: Path,
        /// The new value.
        value: Value,
    },
    /// Add `delta` to the integer at a path (absent counts as 0).
    IncValue {
        /// Where.
        path: Path,
        /// How much (at least 0).
        delta: i128,
    },
    /// Subtract `delta` from the integer at a path; fails if the result would be below zero.
    DecValue {
        /// Where.
        path: Path,
        /// How much (at least 0).
        delta: i128,
    },
    /// Set (or with `None` delete) the rule at a pattern.
    SetRule {
        /// Where.
        path: PathPattern,
        /// The rule.
        rule: Option<Rule>,
    },
    /// Set (or delete) the native function at a pattern.
    SetFunction {
        /// Where.
        path: PathPattern,
        /// The function.
        function: Option<FunctionConfig>,
    },
    /// Set (or delete) the owner config at a pattern.
    SetOwner {
        /// Where.
        path: PathPattern,
        /// The owners.
        owner: Option<OwnerConfig>,
    },
    /// Make the subtree at `path` a shard (the branch op, [`crate::shard`]).
    SetShard {
        /// The shard's path on the parent.
        path: Path,
        /// Its config.
        config: ShardConfig,
    },
    /// A shard's reporter records a child block ([`crate::shard`]).
    ReportShard {
        /// The shard's path on the parent.
        path: Path,
        /// The child block's hash and state root.
        report: ShardReport,
    },
    /// Several ops, all or nothing.
    Set(Vec<Op>),
}

/// Why an op was rejected before it touched the state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    /// Not JSON, or not the right shape.
    #[error(transparent)]
    Json(#[from] JsonError),
    /// The op text exceeds [`MAX_OP_JSON_BYTES`].
    #[error("op too large: {size} bytes of JSON, at most {max}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// `type` is not one of the op types.
    #[error("unknown op type {0:?}")]
    UnknownType(String),
    /// A bad `ref`.
    #[error("bad path: {0}")]
    Path(#[from] PathError),
    /// A bad value (too large, bad keys, too deep).
    #[error(transparent)]
    Value(#[from] StateError),
    /// The rule does not parse.
    #[error(transparent)]
    Rule(#[from] RuleParseError),
    /// The rule uses a `$variable` its pattern does not bind.
    #[error("rule uses ${var}, which its path {pattern} does not bind")]
    UnboundVariable {
        /// The variable (without `$`).
        var: String,
        /// The rule's pattern.
        pattern: String,
    },
    /// A negative delta.
    #[error("delta must be at least 0, got {0}")]
    NegativeDelta(i128),
    /// A bad function id.
    #[error(
        "bad function id {0:?}: '_' then letters, digits or '_', at most {MAX_FUNCTION_ID_LEN} bytes"
    )]
    BadFunctionId(String),
    /// A bad shard config or report.
    #[error("bad shard op: {0}")]
    BadShard(String),
    /// A `SET` inside a `SET`, an empty `SET`, or too many ops.
    #[error("bad SET: {0}")]
    BadSet(String),
}

fn shape(message: &str) -> OpError {
    OpError::Json(JsonError::shape(message))
}

/// The fields of a JSON object, checked against the allowed names (all of which are required).
pub(crate) fn object_fields<'a>(
    json: &'a Json,
    what: &str,
    allowed: &[&str],
) -> Result<&'a BTreeMap<String, Json>, OpError> {
    let Json::Object(fields) = json else {
        return Err(shape(&format!("{what} must be an object")));
    };
    if let Some(extra) = fields.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(shape(&format!("{what}: unknown field {extra:?}")));
    }
    if let Some(missing) = allowed.iter().find(|k| !fields.contains_key(**k)) {
        return Err(shape(&format!("{what}: missing field {missing:?}")));
    }
    Ok(fields)
}

impl Op {
    /// Decodes and validates an op from JSON text.
    pub fn from_json_text(text: &str) -> Result<Op, OpError> {
        if text.len() > MAX_OP_JSON_BYTES {
            return Err(OpError::TooLarge {
                size: text.len(),
                max: MAX_OP_JSON_BYTES,
            });
        }
        Op::from_json(&json::parse(text)?)
    }

    /// Decodes and validates an op from parsed JSON.
    pub fn from_json(json: &Json) -> Result<Op, OpError> {
        let op = decode(json, true)?;
        op.validate()?;
        Ok(op)
    }

    /// The JSON form (see the module docs).
    pub fn to_json(&self) -> Json {
        let (kind, path, value) = match self {
            Op::Set(ops) => {
                return Json::Object(BTreeMap::from([
                    ("type".to_owned(), Json::Str("SET".to_owned())),
                    (
                        "op_list".to_owned(),
                        Json::Array(ops.iter().map(Op::to_json).collect()),
                    ),
                ]));
            }
            Op::SetValue { path, value } => {
                ("SET_VALUE", path.to_string(), Json::from(value.clone()))
            }
            Op::IncValue { path, delta } => ("INC_VALUE", path.to_string(), Json::Int(*delta)),
            Op::DecValue { path, delta } => ("DEC_VALUE", path.to_string(), Json::Int(*delta)),
            Op::SetRule { path, rule } => (
                "SET_RULE",
                path.to_string(),
                rule.as_ref()
                    .map_or(Json::Null, |r| Json::Str(r.source().to_owned())),
            ),
            Op::SetFunction { path, function } => (
                "SET_FUNCTION",
                path.to_string(),
                function
                    .as_ref()
                    .map_or(Json::Null, FunctionConfig::to_json),
            ),
            Op::SetOwner { path, owner } => (
                "SET_OWNER",
                path.to_string(),
                owner.as_ref().map_or(Json::Null, OwnerConfig::to_json),
            ),
            Op::SetShard { path, config } => ("SET_SHARD", path.to_string(), config.to_json()),
            Op::ReportShard { path, report } => {
                ("REPORT_SHARD", path.to_string(), report.to_json())
            }
        };
        Json::Object(BTreeMap::from([
            ("type".to_owned(), Json::Str(kind.to_owned())),
            ("ref".to_owned(), Json::Str(path)),
            ("value".to_owned(), value),
        ]))
    }

    /// The canonical encoding: canonical JSON of [`Op::to_json`].
    pub fn to_canonical_json(&self) -> String {
        json::to_canonical(&self.to_json())
    }

    /// The state-free checks: value size and shape, rule variables, deltas, `SET` structure.
    pub fn validate(&self) -> Result<(), OpError> {
        match self {
            Op::SetValue { path, value } => check_value(path, value)?,
            Op::IncValue { delta, .. } | Op::DecValue { delta, .. } => {
                if *delta < 0 {
                    return Err(OpError::NegativeDelta(*delta));
                }
            }
            Op::SetRule {
                path,
                rule: Some(rule),
            } => {
                let bound: Vec<&str> = path.variables().collect();
                if let Some(var) = rule
                    .variables()
                    .iter()
                    .find(|v| !bound.contains(&v.as_str()))
                {
                    return Err(OpError::UnboundVariable {
                        var: var.clone(),
                        pattern: path.to_string(),
                    });
                }
            }
            Op::SetFunction {
                function: Some(f), ..
            } => {
                FunctionConfig::new(&f.function_id)?;
            }
            Op::SetShard { config, .. } => config.validate()?,
            Op::SetRule { .. }
            | Op::SetFunction { .. }
            | Op::SetOwner { .. }
            | Op::ReportShard { .. } => {}
            Op::Set(ops) => {
                if ops.is_empty() || ops.len() > MAX_SET_OPS {
                    return Err(OpError::BadSet(format!(
                        "{} ops, must be 1 to {MAX_SET_OPS}",
                        ops.len()
                    )));
                }
                for op in ops {
                    if matches!(op, Op::Set(_)) {
                        return Err(OpError::BadSet("a SET may not contain a SET".to_owned()));
                    }
                    op.validate()?;
                }
            }
        }
        Ok(())
    }
}

fn decode(json: &Json, top: bool) -> Result<Op, OpError> {
    let Json::Object(fields) = json else {
        return Err(shape("an op must be a JSON object"));
    };
    let kind = match fields.get("type") {
        Some(Json::Str(kind)) => kind.as_str(),
        _ => return Err(shape("an op needs a string field \"type\"")),
    };
    if kind == "SET" {
        if !top {
            return Err(OpError::BadSet("a SET may not contain a SET".to_owned()));
        }
        let fields = object_fields(json, "SET", &["type", "op_list"])?;
        let Some(Json::Array(list)) = fields.get("op_list") else {
            return Err(shape("SET: \"op_list\" must be an array"));
        };
        if list.len() > MAX_SET_OPS {
            return Err(OpError::BadSet(format!(
                "{} ops, at most {MAX_SET_OPS}",
                list.len()
            )));
        }
        return list
            .iter()
            .map(|op| decode(op, false))
            .collect::<Result<_, _>>()
            .map(Op::Set);
    }
    let known = [
        "SET_VALUE",
        "INC_VALUE",
        "DEC_VALUE",
        "SET_RULE",
        "SET_FUNCTION",
        "SET_OWNER",
        "SET_SHARD",
        "REPORT_SHARD",
    ];
    if !known.contains(&kind) {
        return Err(OpError::UnknownType(kind.to_owned()));
    }
    let fields = object_fields(json, kind, &["type", "ref", "value"])?;
    let Some(Json::Str(reference)) = fields.get("ref") else {
        return Err(shape(&format!("{kind}: \"ref\" must be a string")));
    };
    let value = &fields["value"];
    let delta = || match value {
        Json::Int(i) => Ok(*i),
        _ => Err(shape(&format!("{kind}: \"value\" must be an integer"))),
    };
    Ok(match kind {
        "SET_VALUE" => Op::SetValue {
            path: Path::parse(reference)?,
            value: Value::try_from(value.clone())?,
        },
        "INC_VALUE" => Op::IncValue {
            path: Path::parse(reference)?,
            delta: delta()?,
        },
        "DEC_VALUE" => Op::DecValue {
            path: Path::parse(reference)?,
            delta: delta()?,
        },
        "SET_RULE" => Op::SetRule {
            path: PathPattern::parse(reference)?,
            rule: match value {
                Json::Null => None,
                Json::Str(source) => Some(Rule::parse(source)?),
                _ => return Err(shape("SET_RULE: \"value\" must be a string or null")),
            },
        },
        "SET_FUNCTION" => Op::SetFunction {
            path: PathPattern::parse(reference)?,
            function: match value {
                Json::Null => None,
                other => Some(FunctionConfig::from_json(other)?),
            },
        },
        "SET_SHARD" => Op::SetShard {
            path: Path::parse(reference)?,
            config: ShardConfig::from_json(value)?,
        },
        "REPORT_SHARD" => Op::ReportShard {
            path: Path::parse(reference)?,
            report: ShardReport::from_json(value)?,
        },
        _ => Op::SetOwner {
            path: PathPattern::parse(reference)?,
            owner: match value {
                Json::Null => None,
                other => Some(OwnerConfig::from_json(other)?),
            },
        },
    })
}

impl serde::Serialize for Op {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Op {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = Json::deserialize(deserializer)?;
        Op::from_json(&json).map_err(serde::de::Error::custom)
    }
}
