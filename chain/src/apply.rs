//! Applying ops to the state: permission checks, the write, and the functions it triggers.

use std::collections::BTreeSet;

use crate::config::{ConfigKind, closest, wildcard_conflict};
use crate::functions::{Context, FunctionCall, FunctionError, NativeFunctions};
use crate::json;
use crate::ops::{FunctionConfig, Op, OpError};
use crate::owner::OwnerConfig;
use crate::path::{Path, PathPattern};
use crate::rules::{EvalEnv, Rule, evaluate};
use crate::shard::ShardError;
use crate::shard::state as shard;
use crate::state::{StateTree, StateTxn, data_key};
use crate::store::NodeStore;
use crate::value::Value;

/// Why an op was not applied. Whatever the error, nothing was applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The op failed the state-free checks.
    #[error("invalid op: {0}")]
    Invalid(#[from] OpError),
    /// No rule governs the path (the default is deny).
    #[error("write to {path} denied: no rule governs it (default deny)")]
    NoRule {
        /// The written path.
        path: String,
    },
    /// The governing rule said no.
    #[error("write to {path} denied by rule at {pattern}: {reason}")]
    Denied {
        /// The written path.
        path: String,
        /// The deciding rule's pattern.
        pattern: String,
        /// `false`, or the evaluation error.
        reason: String,
    },
    /// The owner config does not grant the needed permission.
    #[error("{addr} may not {action} at {path}: {reason}")]
    NotOwner {
        /// The writer.
        addr: String,
        /// What was attempted (`write_rule`, `write_function`, `write_owner`, `branch_owner`).
        action: &'static str,
        /// The config pattern.
        path: String,
        /// Which owner config decided, or that there is none.
        reason: String,
    },
    /// `INC_VALUE`/`DEC_VALUE` on something that is not an integer.
    #[error("{path} holds {found}, not an integer")]
    NotAnInteger {
        /// The path.
        path: String,
        /// The type found.
        found: &'static str,
    },
    /// `DEC_VALUE` would go below zero.
    #[error("cannot decrease {path} by {delta}: it holds {current}")]
    BelowZero {
        /// The path.
        path: String,
        /// What it holds.
        current: i128,
        /// The requested decrease.
        delta: i128,
    },
    /// `INC_VALUE` would overflow.
    #[error("integer overflow at {0}")]
    Overflow(String),
    /// A function config names an unregistered function.
    #[error("no native function {0:?} is registered")]
    UnknownFunction(String),
    /// A config would give a node two different wildcard children.
    #[error("wildcard conflict: {existing} already exists at this level")]
    WildcardConflict {
        /// The existing wildcard pattern.
        existing: String,
    },
    /// A triggered native function failed.
    #[error("function {function_id} at {path} failed: {source}")]
    Function {
        /// The function.
        function_id: String,
        /// The written path.
        path: String,
        /// Its error (boxed to keep `ApplyError` small).
        source: Box<FunctionError>,
    },
    /// A shard op was refused, or a write touched a shard ([`crate::shard`]).
    #[error(transparent)]
    Shard(#[from] ShardError),
    /// Stored config that no longer decodes (only possible with a corrupted store).
    #[error("corrupt config at {0}")]
    CorruptConfig(String),
}

/// Whether rules and owners are checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Checked,
    Genesis,
}

impl<S: NodeStore> StateTree<S> {
    /// Applies one op (a `SET` is one op) all or nothing: on any error state and root are
    /// unchanged.
    pub fn apply(
        &mut self,
        op: &Op,
        ctx: &Context,
        natives: &dyn NativeFunctions,
    ) -> Result<(), ApplyError> {
        self.apply_mode(op, ctx, natives, Mode::Checked)
    }

    /// Applies an op without rule or owner checks (functions still fire): for building the
    /// genesis state only, e.g. the initial owner, config and balances.
    pub fn apply_genesis(
        &mut self,
        op: &Op,
        ctx: &Context,
        natives: &dyn NativeFunctions,
    ) -> Result<(), ApplyError> {
        self.apply_mode(op, ctx, natives, Mode::Genesis)
    }

    fn apply_mode(
        &mut self,
        op: &Op,
        ctx: &Context,
        natives: &dyn NativeFunctions,
        mode: Mode,
    ) -> Result<(), ApplyError> {
        let mut txn = self.begin();
        apply_mode_in(&mut txn, op, ctx, natives, mode)?;
        txn.commit();
        Ok(())
    }
}

/// Applies one op (a `SET` is one op) with rule and owner checks inside an open transaction,
/// all or nothing: on error the transaction is exactly as before the call (the op ran in a
/// nested transaction that was dropped). For callers that combine an op with other writes in
/// one transaction, such as a signed transaction's fee and nonce.
pub fn apply_in(
    txn: &mut StateTxn<'_>,
    op: &Op,
    ctx: &Context,
    natives: &dyn NativeFunctions,
) -> Result<(), ApplyError> {
    apply_mode_in(txn, op, ctx, natives, Mode::Checked)
}

/// Like [`StateTree::apply_genesis`] inside an open transaction: no rule or owner checks,
/// all or nothing. Lets genesis build its whole state in one transaction (one rehash).
pub fn apply_genesis_in(
    txn: &mut StateTxn<'_>,
    op: &Op,
    ctx: &Context,
    natives: &dyn NativeFunctions,
) -> Result<(), ApplyError> {
    apply_mode_in(txn, op, ctx, natives, Mode::Genesis)
}

fn apply_mode_in(
    txn: &mut StateTxn<'_>,
    op: &Op,
    ctx: &Context,
    natives: &dyn NativeFunctions,
    mode: Mode,
) -> Result<(), ApplyError> {
    op.validate()?;
    let mut inner = txn.nested();
    let applier = Applier { ctx, natives, mode };
    match op {
        Op::Set(ops) => {
            for op in ops {
                applier.apply_one(&mut inner, op)?;
            }
        }
        op => applier.apply_one(&mut inner, op)?,
    }
    inner.commit();
    Ok(())
}

struct Applier<'a> {
    ctx: &'a Context,
    natives: &'a dyn NativeFunctions,
    mode: Mode,
}

impl Applier<'_> {
    fn apply_one(&self, txn: &mut StateTxn<'_>, op: &Op) -> Result<(), ApplyError> {
        match op {
            Op::SetValue { path, value } => self.write_value(txn, path, value.clone().normalized()),
            Op::IncValue { path, delta } => {
                let current = current_int(txn, path)?;
                let new = current
                    .checked_add(*delta)
                    .ok_or_else(|| ApplyError::Overflow(path.to_string()))?;
                self.write_value(txn, path, Value::Int(new))
            }
            Op::DecValue { path, delta } => {
                let current = current_int(txn, path)?;
                match current.checked_sub(*delta) {
                    Some(new) if new >= 0 => self.write_value(txn, path, Value::Int(new)),
                    _ => Err(ApplyError::BelowZero {
                        path: path.to_string(),
                        current,
                        delta: *delta,
                    }),
                }
            }
            Op::SetRule { path, rule } => {
                shard::check_config_write(txn, path)?;
                self.check_owner(txn, path, "write_rule", |p| p.write_rule)?;
                let text = rule.as_ref().map(|r| r.source().to_owned());
                write_config(txn, ConfigKind::Rule, path, text)
            }
            Op::SetFunction { path, function } => {
                shard::check_config_write(txn, path)?;
                self.check_owner(txn, path, "write_function", |p| p.write_function)?;
                if let Some(f) = function
                    && !self.natives.exists(&f.function_id)
                {
                    return Err(ApplyError::UnknownFunction(f.function_id.clone()));
                }
                let text = function.as_ref().map(|f| json::to_canonical(&f.to_json()));
                write_config(txn, ConfigKind::Function, path, text)
            }
            Op::SetOwner { path, owner } => {
                shard::check_config_write(txn, path)?;
                let (found, _) = closest(txn, ConfigKind::Owner, path.segments(), false);
                if found.as_ref().is_some_and(|m| m.pattern == path.segments()) {
                    self.check_owner(txn, path, "write_owner", |p| p.write_owner)?;
                } else {
                    self.check_owner(txn, path, "branch_owner", |p| p.branch_owner)?;
                }
                let text = owner.as_ref().map(|o| json::to_canonical(&o.to_json()));
                write_config(txn, ConfigKind::Owner, path, text)
            }
            Op::SetShard { path, config } => {
                let pattern = PathPattern::from(path.clone());
                self.check_owner(txn, &pattern, "branch_owner", |p| p.branch_owner)?;
                Ok(shard::branch(txn, path, config)?)
            }
            Op::ReportShard { path, report } => {
                Ok(shard::report(txn, path, report, &self.ctx.auth.addr)?)
            }
            Op::Set(_) => Err(OpError::BadSet("a SET may not contain a SET".to_owned()).into()),
        }
    }

    fn write_value(
        &self,
        txn: &mut StateTxn<'_>,
        path: &Path,
        new: Value,
    ) -> Result<(), ApplyError> {
        shard::check_data_write(txn, path)?;
        if self.mode == Mode::Checked {
            let old = txn.get_value(path);
            self.check_rules(txn, path, &old, &new)?;
        }
        txn.write_key(&data_key(path), new);
        self.fire_function(txn, path)
    }

    /// The closest rule for `path` decides; if the write replaces or creates nodes below `path`
    /// that closer rules govern, each of those must allow its part too.
    fn check_rules(
        &self,
        txn: &StateTxn<'_>,
        path: &Path,
        old: &Value,
        new: &Value,
    ) -> Result<(), ApplyError> {
        let (found, deeper) = closest(txn, ConfigKind::Rule, path.segments(), false);
        let Some(m) = found else {
            return Err(ApplyError::NoRule {
                path: path.to_string(),
            });
        };
        self.evaluate_rule(txn, path, &m, old, new)?;
        if !deeper {
            return Ok(());
        }
        let mut below = BTreeSet::new();
        descendants(old, &mut Vec::new(), &mut below);
        descendants(new, &mut Vec::new(), &mut below);
        for relative in below {
            let mut segments = path.segments().to_vec();
            segments.extend(relative.iter().cloned());
            let (Some(sub), _) = closest(txn, ConfigKind::Rule, &segments, false) else {
                continue;
            };
            if sub.pattern.len() > path.depth() {
                let sub_path =
                    Path::from_segments(&segments).map_err(|e| ApplyError::Invalid(e.into()))?;
                let at = |v: &Value| relative.iter().fold(v.clone(), |v, k| v.child(k).clone());
                self.evaluate_rule(txn, &sub_path, &sub, &at(old), &at(new))?;
            }
        }
        Ok(())
    }

    fn evaluate_rule(
        &self,
        txn: &StateTxn<'_>,
        path: &Path,
        m: &crate::config::ConfigMatch,
        old: &Value,
        new: &Value,
    ) -> Result<(), ApplyError> {
        let pattern = pattern_text(&m.pattern);
        let rule = Rule::parse(&m.text).map_err(|_| ApplyError::CorruptConfig(pattern.clone()))?;
        let env = EvalEnv {
            auth: &self.ctx.auth,
            vars: &m.bindings,
            data: old,
            new_data: new,
            current_time: self.ctx.current_time,
            block_number: self.ctx.block_number,
            state: txn,
        };
        let reason = match evaluate(&rule, &env) {
            Ok(true) => return Ok(()),
            Ok(false) => "rule evaluated to false".to_owned(),
            Err(e) => e.to_string(),
        };
        Err(ApplyError::Denied {
            path: path.to_string(),
            pattern,
            reason,
        })
    }

    fn check_owner(
        &self,
        txn: &StateTxn<'_>,
        path: &PathPattern,
        action: &'static str,
        allowed: impl Fn(&crate::owner::OwnerPermissions) -> bool,
    ) -> Result<(), ApplyError> {
        if self.mode == Mode::Genesis {
            return Ok(());
        }
        let addr = &self.ctx.auth.addr;
        let denied = |reason: String| ApplyError::NotOwner {
            addr: addr.clone(),
            action,
            path: path.to_string(),
            reason,
        };
        let (found, _) = closest(txn, ConfigKind::Owner, path.segments(), false);
        let Some(m) = found else {
            return Err(denied(
                "no owner config governs it (default deny)".to_owned(),
            ));
        };
        let pattern = pattern_text(&m.pattern);
        let config = json::parse(&m.text)
            .ok()
            .and_then(|j| OwnerConfig::from_json(&j).ok())
            .ok_or_else(|| ApplyError::CorruptConfig(pattern.clone()))?;
        if allowed(&config.permissions_for(addr)) {
            Ok(())
        } else {
            Err(denied(format!(
                "the owner config at {pattern} does not grant it"
            )))
        }
    }

    fn fire_function(&self, txn: &mut StateTxn<'_>, path: &Path) -> Result<(), ApplyError> {
        let (found, _) = closest(txn, ConfigKind::Function, path.segments(), true);
        let Some(m) = found else {
            return Ok(());
        };
        let config = json::parse(&m.text)
            .ok()
            .and_then(|j| FunctionConfig::from_json(&j).ok())
            .ok_or_else(|| ApplyError::CorruptConfig(pattern_text(&m.pattern)))?;
        let value = txn.get_value(path);
        let call = FunctionCall {
            function_id: &config.function_id,
            ctx: self.ctx,
            path,
            vars: &m.bindings,
            value: &value,
        };
        self.natives
            .call(&call, txn)
            .map_err(|source| ApplyError::Function {
                function_id: config.function_id.clone(),
                path: path.to_string(),
                source: Box::new(source),
            })
    }
}

fn current_int(txn: &StateTxn<'_>, path: &Path) -> Result<i128, ApplyError> {
    match txn.get_value(path) {
        Value::Null => Ok(0),
        Value::Int(i) => Ok(i),
        other => Err(ApplyError::NotAnInteger {
            path: path.to_string(),
            found: other.type_name(),
        }),
    }
}

fn write_config(
    txn: &mut StateTxn<'_>,
    kind: ConfigKind,
    path: &PathPattern,
    text: Option<String>,
) -> Result<(), ApplyError> {
    if text.is_some()
        && let Some(existing) = wildcard_conflict(txn, kind, path.segments())
    {
        return Err(ApplyError::WildcardConflict { existing });
    }
    txn.write_key(
        &kind.key(path.segments()),
        text.map_or(Value::Null, Value::Str),
    );
    Ok(())
}

fn pattern_text(segments: &[String]) -> String {
    format!("/{}", segments.join("/"))
}

/// Collects the relative paths of every node strictly below the root of `value`.
fn descendants(value: &Value, prefix: &mut Vec<String>, out: &mut BTreeSet<Vec<String>>) {
    if let Value::Object(map) = value {
        for (k, v) in map {
            prefix.push(k.clone());
            out.insert(prefix.clone());
            descendants(v, prefix, out);
            prefix.pop();
        }
    }
}
