//! Values stored in the state tree.
//!
//! A [`Value`] is JSON without floats and without arrays: null, booleans, integers, strings and
//! objects with sorted keys (a `BTreeMap`, so every value has one canonical order).
//!
//! **Integers are `i128`.** Balances, stakes and escrow amounts are integers in the token's
//! smallest unit; `i128` leaves room for 18-decimal tokens and lets rule arithmetic go below zero
//! in intermediate results (`getValue(..) - newData >= 0`) without wrapping. Every arithmetic step
//! on the ledger is checked: overflow is an error, never a wrap. Money never touches a float: the
//! JSON decoder rejects `1.5` and `1e3`.
//!
//! **Absent is null.** Writing `null` (or an object with no entries) at a path removes it, and
//! reading a path that holds nothing gives `null`. [`Value::normalized`] drops null and empty
//! object entries recursively, which is the shape the tree stores.

use std::collections::BTreeMap;

use crate::json::{self, Json};

/// A JSON-like value: the unit of data at a path of the state tree.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Value {
    /// Nothing at this path.
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed 128-bit integer (amounts are in the smallest unit).
    Int(i128),
    /// A UTF-8 string.
    Str(String),
    /// An object: child name to child value, in canonical (sorted) order.
    Object(BTreeMap<String, Value>),
}

impl Value {
    /// The name of this value's type, as rule error messages print it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "integer",
            Value::Str(_) => "string",
            Value::Object(_) => "object",
        }
    }

    /// True for `null` and for an object with no entries: both mean "nothing here".
    pub fn is_absent(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Object(map) => map.is_empty(),
            _ => false,
        }
    }

    /// The integer inside, if this is an integer.
    pub fn as_int(&self) -> Option<i128> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The child named `key` of an object; `null` for anything else or a missing key.
    pub fn child(&self, key: &str) -> &Value {
        const NULL: Value = Value::Null;
        match self {
            Value::Object(map) => map.get(key).unwrap_or(&NULL),
            _ => &NULL,
        }
    }

    /// The value as the tree stores it: null and empty-object entries removed at every depth,
    /// and an object left empty becomes `null`.
    pub fn normalized(self) -> Value {
        match self {
            Value::Object(map) => {
                let kept: BTreeMap<String, Value> = map
                    .into_iter()
                    .map(|(k, v)| (k, v.normalized()))
                    .filter(|(_, v)| !v.is_absent())
                    .collect();
                if kept.is_empty() {
                    Value::Null
                } else {
                    Value::Object(kept)
                }
            }
            other => other,
        }
    }

    /// Nesting depth: 0 for a scalar or null, 1 + the deepest child for an object.
    pub fn depth(&self) -> usize {
        match self {
            Value::Object(map) => 1 + map.values().map(Value::depth).max().unwrap_or(0),
            _ => 0,
        }
    }

    /// Number of nodes this value occupies in the tree (each object and each scalar is one).
    pub fn node_count(&self) -> usize {
        match self {
            Value::Null => 0,
            Value::Object(map) => 1 + map.values().map(Value::node_count).sum::<usize>(),
            _ => 1,
        }
    }

    /// The canonical JSON text of this value (sorted keys, no whitespace).
    pub fn to_canonical_json(&self) -> String {
        json::to_canonical(&Json::from(self.clone()))
    }

    /// Length in bytes of the canonical JSON text, the measure of the value size limit.
    pub fn encoded_len(&self) -> usize {
        self.to_canonical_json().len()
    }

    /// Parses strict JSON text (no floats, no arrays) into a value.
    pub fn from_json(text: &str) -> Result<Value, json::JsonError> {
        Value::try_from(json::parse(text)?)
    }
}

impl FromIterator<(String, i128)> for Value {
    /// An object of integers.
    fn from_iter<I: IntoIterator<Item = (String, i128)>>(entries: I) -> Value {
        Value::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k, Value::Int(v)))
                .collect(),
        )
    }
}

impl From<i128> for Value {
    fn from(i: i128) -> Self {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<Value> for Json {
    fn from(v: Value) -> Json {
        match v {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(b),
            Value::Int(i) => Json::Int(i),
            Value::Str(s) => Json::Str(s),
            Value::Object(map) => {
                Json::Object(map.into_iter().map(|(k, v)| (k, Json::from(v))).collect())
            }
        }
    }
}

impl TryFrom<Json> for Value {
    type Error = json::JsonError;

    /// Fails on arrays, which the state tree does not hold (use an object keyed by index).
    fn try_from(j: Json) -> Result<Value, json::JsonError> {
        Ok(match j {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(b),
            Json::Int(i) => Value::Int(i),
            Json::Str(s) => Value::Str(s),
            Json::Array(_) => {
                return Err(json::JsonError::shape(
                    "arrays are not supported in the state tree; use an object keyed by index",
                ));
            }
            Json::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| Ok((k, Value::try_from(v)?)))
                    .collect::<Result<_, json::JsonError>>()?,
            ),
        })
    }
}

impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Json::from(self.clone()).serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let j = Json::deserialize(deserializer)?;
        Value::try_from(j).map_err(serde::de::Error::custom)
    }
}
