//! Owners: who may change the config (rules, functions, owners) at and below a path.
//!
//! An owner config is attached to a path pattern and lists, per address (or `*` for anyone),
//! four permissions:
//! - `write_rule`: may set or delete rules at and below the path;
//! - `write_function`: may set or delete functions at and below the path;
//! - `write_owner`: may replace or delete *this* owner config;
//! - `branch_owner`: may create a new owner config strictly below the path.
//!
//! The closest owner config at or above the target path decides (the same matching as rules:
//! deepest pattern, exact segments before wildcards). Within it the writer's own entry is used
//! if present, else the `*` entry, else nothing is permitted. With no owner config anywhere up
//! the path, config writes are denied; genesis installs an owner at `/`.
//!
//! JSON shape: `{"owners":{"0xabc":{"branch_owner":true,"write_function":false,
//! "write_owner":true,"write_rule":true},"*":{...}}}`; omitted permissions are `false`.

use std::collections::BTreeMap;

use crate::json::{Json, JsonError};

/// Most entries in one owner config.
pub const MAX_OWNER_ENTRIES: usize = 64;
/// Longest owner key (an address or `*`), in bytes.
pub const MAX_OWNER_KEY_LEN: usize = 128;
/// The key that applies to any writer without an entry of its own.
pub const ANYONE: &str = "*";

/// What one address may do with the config at and below an owner's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct OwnerPermissions {
    /// May create owner configs strictly below.
    pub branch_owner: bool,
    /// May set functions at and below.
    pub write_function: bool,
    /// May replace or delete this owner config.
    pub write_owner: bool,
    /// May set rules at and below.
    pub write_rule: bool,
}

impl OwnerPermissions {
    /// All four permissions.
    pub const ALL: OwnerPermissions = OwnerPermissions {
        branch_owner: true,
        write_function: true,
        write_owner: true,
        write_rule: true,
    };

    const FIELDS: [&'static str; 4] = [
        "branch_owner",
        "write_function",
        "write_owner",
        "write_rule",
    ];

    fn flags(&self) -> [bool; 4] {
        [
            self.branch_owner,
            self.write_function,
            self.write_owner,
            self.write_rule,
        ]
    }
}

/// The owner config at one path: permissions per address.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct OwnerConfig {
    /// Address (or [`ANYONE`]) to permissions.
    pub owners: BTreeMap<String, OwnerPermissions>,
}

impl OwnerConfig {
    /// A config granting `addr` every permission.
    pub fn sole(addr: &str) -> OwnerConfig {
        OwnerConfig {
            owners: BTreeMap::from([(addr.to_owned(), OwnerPermissions::ALL)]),
        }
    }

    /// The permissions that apply to `addr`: its own entry, else `*`, else none.
    pub fn permissions_for(&self, addr: &str) -> OwnerPermissions {
        self.owners
            .get(addr)
            .or_else(|| self.owners.get(ANYONE))
            .copied()
            .unwrap_or_default()
    }

    /// The JSON form (see the module docs).
    pub fn to_json(&self) -> Json {
        let owners = self
            .owners
            .iter()
            .map(|(addr, perms)| {
                let fields = OwnerPermissions::FIELDS
                    .iter()
                    .zip(perms.flags())
                    .map(|(name, flag)| ((*name).to_owned(), Json::Bool(flag)))
                    .collect();
                (addr.clone(), Json::Object(fields))
            })
            .collect();
        Json::Object(BTreeMap::from([(
            "owners".to_owned(),
            Json::Object(owners),
        )]))
    }

    /// Reads the JSON form, rejecting unknown fields, non-boolean flags and too many entries.
    pub fn from_json(json: &Json) -> Result<OwnerConfig, JsonError> {
        let Json::Object(top) = json else {
            return Err(JsonError::shape("owner config must be an object"));
        };
        if let Some(extra) = top.keys().find(|k| *k != "owners") {
            return Err(JsonError::shape(format!(
                "owner config: unknown field {extra:?}"
            )));
        }
        let Some(Json::Object(entries)) = top.get("owners") else {
            return Err(JsonError::shape("owner config needs an \"owners\" object"));
        };
        if entries.len() > MAX_OWNER_ENTRIES {
            return Err(JsonError::shape(format!(
                "owner config has {} entries, at most {MAX_OWNER_ENTRIES}",
                entries.len()
            )));
        }
        let mut owners = BTreeMap::new();
        for (addr, perms) in entries {
            if addr.is_empty() || addr.len() > MAX_OWNER_KEY_LEN {
                return Err(JsonError::shape(format!(
                    "owner key {addr:?} must be 1..={MAX_OWNER_KEY_LEN} bytes"
                )));
            }
            let Json::Object(fields) = perms else {
                return Err(JsonError::shape(format!(
                    "permissions of {addr:?} must be an object"
                )));
            };
            let mut flags = [false; 4];
            for (name, flag) in fields {
                let slot = OwnerPermissions::FIELDS
                    .iter()
                    .position(|f| f == name)
                    .ok_or_else(|| JsonError::shape(format!("unknown permission {name:?}")))?;
                let Json::Bool(b) = flag else {
                    return Err(JsonError::shape(format!(
                        "permission {name:?} must be a boolean"
                    )));
                };
                flags[slot] = *b;
            }
            let [branch_owner, write_function, write_owner, write_rule] = flags;
            owners.insert(
                addr.clone(),
                OwnerPermissions {
                    branch_owner,
                    write_function,
                    write_owner,
                    write_rule,
                },
            );
        }
        Ok(OwnerConfig { owners })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_entry_then_anyone() {
        let mut cfg = OwnerConfig::sole("alice");
        cfg.owners.insert(
            ANYONE.to_owned(),
            OwnerPermissions {
                write_rule: true,
                ..Default::default()
            },
        );
        assert_eq!(cfg.permissions_for("alice"), OwnerPermissions::ALL);
        assert!(cfg.permissions_for("bob").write_rule);
        assert!(!cfg.permissions_for("bob").write_owner);
        assert_eq!(OwnerConfig::from_json(&cfg.to_json()).unwrap(), cfg);
    }
}
