//! Rule evaluation: a total interpreter over [`Expr`].

use std::cell::Cell;
use std::collections::BTreeMap;

use super::ast::{BinOp, Builtin, Expr, UnOp};
use super::{MAX_GET_VALUE_CALLS, MAX_GET_VALUE_NODES, MAX_STRING_LEN, Rule};
use crate::path::{Bindings, Path};
use crate::value::Value;

/// Who is writing: the signer's address and, for writes made by a native function, its id.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Auth {
    /// The writer's address.
    pub addr: String,
    /// The function id when a native function writes, else `None`.
    pub fid: Option<String>,
}

impl Auth {
    /// The rule-visible object `{addr, fid}`.
    fn to_value(&self) -> Value {
        let mut map = BTreeMap::new();
        map.insert("addr".to_owned(), Value::Str(self.addr.clone()));
        if let Some(fid) = &self.fid {
            map.insert("fid".to_owned(), Value::Str(fid.clone()));
        }
        Value::Object(map)
    }
}

/// Read access to the state for `getValue`.
pub trait StateView {
    /// The value at `path`, or `None` if it spans more than `max_nodes` tree nodes.
    fn get_value_bounded(&self, path: &Path, max_nodes: usize) -> Option<Value>;
}

/// Everything a rule can see while deciding one write.
pub struct EvalEnv<'a> {
    /// The writer.
    pub auth: &'a Auth,
    /// Wildcard bindings of the rule's path.
    pub vars: &'a Bindings,
    /// The value now at the written path.
    pub data: &'a Value,
    /// The value being written.
    pub new_data: &'a Value,
    /// Context time in milliseconds.
    pub current_time: u64,
    /// Context block number.
    pub block_number: u64,
    /// The state as seen inside the transaction.
    pub state: &'a dyn StateView,
}

/// Why a rule denied a write without evaluating to `false`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// An operator got operands of the wrong types.
    #[error("type error: {op} does not apply to {left}{}", right.map(|r| format!(" and {r}")).unwrap_or_default())]
    Type {
        /// The operator or helper.
        op: &'static str,
        /// Type of the (left) operand.
        left: &'static str,
        /// Type of the right operand, for binary operators.
        right: Option<&'static str>,
    },
    /// Integer overflow in checked arithmetic.
    #[error("integer overflow in {0}")]
    Overflow(&'static str),
    /// `/` or `%` by zero.
    #[error("division by zero")]
    DivisionByZero,
    /// A `$variable` the rule's path does not bind.
    #[error("unbound variable ${0}")]
    UnboundVariable(String),
    /// A string grew past the limit.
    #[error("string longer than {MAX_STRING_LEN} bytes")]
    StringTooLong,
    /// `getValue` got a bad path.
    #[error("getValue: {0}")]
    BadPath(String),
    /// Too many `getValue` calls or too large a result.
    #[error("getValue budget exceeded: {0}")]
    Budget(&'static str),
    /// The rule's result was not a boolean.
    #[error("rule evaluated to {0}, not a boolean")]
    NotBoolean(&'static str),
}

/// Evaluates a rule: `Ok(true)` allows the write, `Ok(false)` or `Err` denies it.
pub fn evaluate(rule: &Rule, env: &EvalEnv<'_>) -> Result<bool, EvalError> {
    let evaluator = Evaluator {
        env,
        get_value_calls: Cell::new(0),
    };
    match evaluator.eval(rule.expr())? {
        Value::Bool(b) => Ok(b),
        other => Err(EvalError::NotBoolean(other.type_name())),
    }
}

struct Evaluator<'e, 'a> {
    env: &'e EvalEnv<'a>,
    get_value_calls: Cell<usize>,
}

fn type_error(op: &'static str, left: &Value, right: Option<&Value>) -> EvalError {
    EvalError::Type {
        op,
        left: left.type_name(),
        right: right.map(Value::type_name),
    }
}

fn checked_string(s: String) -> Result<Value, EvalError> {
    if s.len() > MAX_STRING_LEN {
        Err(EvalError::StringTooLong)
    } else {
        Ok(Value::Str(s))
    }
}

impl Evaluator<'_, '_> {
    fn eval(&self, expr: &Expr) -> Result<Value, EvalError> {
        Ok(match expr {
            Expr::Literal(v) => v.clone(),
            Expr::Variable(name) => Value::Str(
                self.env
                    .vars
                    .get(name)
                    .cloned()
                    .ok_or_else(|| EvalError::UnboundVariable(name.clone()))?,
            ),
            Expr::Auth => self.env.auth.to_value(),
            Expr::Data => self.env.data.clone(),
            Expr::NewData => self.env.new_data.clone(),
            Expr::CurrentTime => Value::Int(self.env.current_time.into()),
            Expr::BlockNumber => Value::Int(self.env.block_number.into()),
            Expr::Member(obj, field) => member(self.eval(obj)?, field, ".")?,
            Expr::Index(obj, key) => {
                let obj = self.eval(obj)?;
                match self.eval(key)? {
                    Value::Str(k) => member(obj, &k, "[]")?,
                    Value::Int(i) => member(obj, &i.to_string(), "[]")?,
                    other => return Err(type_error("[] (key)", &other, None)),
                }
            }
            Expr::Call(builtin, arg) => self.call(*builtin, self.eval(arg)?)?,
            Expr::Unary(UnOp::Not, e) => match self.eval(e)? {
                Value::Bool(b) => Value::Bool(!b),
                other => return Err(type_error("!", &other, None)),
            },
            Expr::Unary(UnOp::Neg, e) => match self.eval(e)? {
                Value::Int(i) => Value::Int(i.checked_neg().ok_or(EvalError::Overflow("-"))?),
                other => return Err(type_error("unary -", &other, None)),
            },
            Expr::Binary(BinOp::And, a, b) => {
                Value::Bool(self.bool_operand("&&", a)? && self.bool_operand("&&", b)?)
            }
            Expr::Binary(BinOp::Or, a, b) => {
                Value::Bool(self.bool_operand("||", a)? || self.bool_operand("||", b)?)
            }
            Expr::Binary(op, a, b) => binary(*op, self.eval(a)?, self.eval(b)?)?,
        })
    }

    fn bool_operand(&self, op: &'static str, e: &Expr) -> Result<bool, EvalError> {
        match self.eval(e)? {
            Value::Bool(b) => Ok(b),
            other => Err(type_error(op, &other, None)),
        }
    }

    fn call(&self, builtin: Builtin, arg: Value) -> Result<Value, EvalError> {
        Ok(match builtin {
            Builtin::GetValue => {
                let calls = self.get_value_calls.get() + 1;
                self.get_value_calls.set(calls);
                if calls > MAX_GET_VALUE_CALLS {
                    return Err(EvalError::Budget("too many getValue calls"));
                }
                let Value::Str(text) = &arg else {
                    return Err(type_error("getValue", &arg, None));
                };
                let path = Path::parse(text).map_err(|e| EvalError::BadPath(e.to_string()))?;
                self.env
                    .state
                    .get_value_bounded(&path, MAX_GET_VALUE_NODES)
                    .ok_or(EvalError::Budget("value too large to read"))?
            }
            Builtin::IsString => Value::Bool(matches!(arg, Value::Str(_))),
            Builtin::IsInt => Value::Bool(matches!(arg, Value::Int(_))),
            Builtin::IsBool => Value::Bool(matches!(arg, Value::Bool(_))),
            Builtin::IsObject => Value::Bool(matches!(arg, Value::Object(_))),
            Builtin::IsNull => Value::Bool(matches!(arg, Value::Null)),
            Builtin::Length => match &arg {
                Value::Str(s) => Value::Int(s.chars().count() as i128),
                Value::Object(m) => Value::Int(m.len() as i128),
                other => return Err(type_error("util.length", other, None)),
            },
        })
    }
}

fn member(obj: Value, field: &str, op: &'static str) -> Result<Value, EvalError> {
    match obj {
        Value::Object(mut map) => Ok(map.remove(field).unwrap_or(Value::Null)),
        Value::Null => Ok(Value::Null),
        other => Err(type_error(op, &other, None)),
    }
}

fn binary(op: BinOp, a: Value, b: Value) -> Result<Value, EvalError> {
    use Value::{Int, Str};
    let arith = |name: &'static str, r: Option<i128>| r.map(Int).ok_or(EvalError::Overflow(name));
    Ok(match (op, a, b) {
        (BinOp::Eq, a, b) => Value::Bool(a == b),
        (BinOp::Ne, a, b) => Value::Bool(a != b),
        (BinOp::Lt, Int(x), Int(y)) => Value::Bool(x < y),
        (BinOp::Le, Int(x), Int(y)) => Value::Bool(x <= y),
        (BinOp::Gt, Int(x), Int(y)) => Value::Bool(x > y),
        (BinOp::Ge, Int(x), Int(y)) => Value::Bool(x >= y),
        (BinOp::Lt, Str(x), Str(y)) => Value::Bool(x < y),
        (BinOp::Le, Str(x), Str(y)) => Value::Bool(x <= y),
        (BinOp::Gt, Str(x), Str(y)) => Value::Bool(x > y),
        (BinOp::Ge, Str(x), Str(y)) => Value::Bool(x >= y),
        (BinOp::Add, Int(x), Int(y)) => arith("+", x.checked_add(y))?,
        (BinOp::Sub, Int(x), Int(y)) => arith("-", x.checked_sub(y))?,
        (BinOp::Mul, Int(x), Int(y)) => arith("*", x.checked_mul(y))?,
        (BinOp::Div | BinOp::Rem, Int(_), Int(0)) => return Err(EvalError::DivisionByZero),
        (BinOp::Div, Int(x), Int(y)) => arith("/", x.checked_div(y))?,
        (BinOp::Rem, Int(x), Int(y)) => arith("%", x.checked_rem(y))?,
        (BinOp::Add, Str(x), Str(y)) => checked_string(x + &y)?,
        (BinOp::Add, Str(x), Int(y)) => checked_string(format!("{x}{y}"))?,
        (BinOp::Add, Int(x), Str(y)) => checked_string(format!("{x}{y}"))?,
        (op, a, b) => return Err(type_error(op_name(op), &a, Some(&b))),
    })
}

fn op_name(op: BinOp) -> &'static str {
    match op {
        BinOp::Or => "||",
        BinOp::And => "&&",
        BinOp::Eq => "==",
        BinOp::Ne => "!=",
        BinOp::Lt => "<",
        BinOp::Le => "<=",
        BinOp::Gt => ">",
        BinOp::Ge => ">=",
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::Rem => "%",
    }
}
