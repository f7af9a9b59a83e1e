//! The rule AST.

use std::collections::BTreeSet;

use crate::value::Value;

/// A rule expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// A literal: integer, string, boolean or null.
    Literal(Value),
    /// `$name`: a wildcard binding of the rule's path (name without `$`).
    Variable(String),
    /// `auth`: `{addr, fid}` of the writer.
    Auth,
    /// `data`: the value now at the written path.
    Data,
    /// `newData`: the value being written.
    NewData,
    /// `currentTime`: the context's time in milliseconds.
    CurrentTime,
    /// `blockNumber`: the context's block number.
    BlockNumber,
    /// `x.name`
    Member(Box<Expr>, String),
    /// `x[k]`
    Index(Box<Expr>, Box<Expr>),
    /// A built-in call.
    Call(Builtin, Box<Expr>),
    /// A prefix operator.
    Unary(UnOp, Box<Expr>),
    /// An infix operator.
    Binary(BinOp, Box<Expr>, Box<Expr>),
}

impl Expr {
    pub(crate) fn collect_variables(&self, out: &mut BTreeSet<String>) {
        match self {
            Expr::Variable(name) => {
                out.insert(name.clone());
            }
            Expr::Member(e, _) | Expr::Call(_, e) | Expr::Unary(_, e) => e.collect_variables(out),
            Expr::Index(a, b) | Expr::Binary(_, a, b) => {
                a.collect_variables(out);
                b.collect_variables(out);
            }
            _ => {}
        }
    }
}

/// Built-in functions a rule may call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// `getValue(path)`: the state at a data path.
    GetValue,
    /// `util.isString(x)`
    IsString,
    /// `util.isInt(x)`
    IsInt,
    /// `util.isBool(x)`
    IsBool,
    /// `util.isObject(x)`
    IsObject,
    /// `util.isNull(x)`
    IsNull,
    /// `util.length(x)`: characters of a string, entries of an object.
    Length,
}

impl Builtin {
    /// The `util.` helper with this name.
    pub fn util(name: &str) -> Option<Builtin> {
        Some(match name {
            "isString" => Builtin::IsString,
            "isInt" => Builtin::IsInt,
            "isBool" => Builtin::IsBool,
            "isObject" => Builtin::IsObject,
            "isNull" => Builtin::IsNull,
            "length" => Builtin::Length,
            _ => return None,
        })
    }
}

/// Prefix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    /// `!` on a boolean.
    Not,
    /// `-` on an integer.
    Neg,
}

/// Infix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `||`
    Or,
    /// `&&`
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
}

impl BinOp {
    /// Left and right binding power (higher binds tighter; left-associative).
    pub(crate) fn binding_power(self) -> (u8, u8) {
        let p = match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::Ne => 3,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 4,
            BinOp::Add | BinOp::Sub => 5,
            BinOp::Mul | BinOp::Div | BinOp::Rem => 6,
        };
        (2 * p, 2 * p + 1)
    }
}
