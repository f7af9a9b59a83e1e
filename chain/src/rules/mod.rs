//! The rule language: who may write what, as a parsed, typed, sandboxed expression.
//!
//! A rule is attached to a path pattern and decides writes at or below it (see the crate docs
//! for which rule decides). It is one expression that must evaluate to `true` to allow the
//! write. Rules are never evaluated as strings: they are lexed and parsed once into an AST
//! ([`Expr`]) and the AST is interpreted with checked arithmetic.
//!
//! # Grammar (lowest precedence first)
//! ```text
//! expr    := or
//! or      := and ( "||" and )*
//! and     := eq ( "&&" eq )*
//! eq      := cmp ( ("==" | "!=") cmp )*
//! cmp     := sum ( ("<" | "<=" | ">" | ">=") sum )*
//! sum     := product ( ("+" | "-") product )*
//! product := unary ( ("*" | "/" | "%") unary )*
//! unary   := ("!" | "-") unary | postfix
//! postfix := primary ( "." name | "[" expr "]" )*
//! primary := integer | string | true | false | null | $name
//!          | auth | data | newData | currentTime | blockNumber
//!          | getValue "(" expr ")" | util "." helper "(" expr ")" | "(" expr ")"
//! helper  := isString | isInt | isBool | isObject | isNull | length
//! ```
//! Strings take `'…'` or `"…"` with escapes `\\ \' \" \n \r \t \0`.
//!
//! # Meaning
//! - `auth` is `{addr, fid}` of the writer (`fid` is null unless a function writes);
//!   `$name` is the segment the rule's wildcard `$name` matched; `data` is the value now at the
//!   written path, `newData` the value being written (null for a delete); `getValue(p)` reads
//!   the state at data path `p` (a string) as it stands inside the transaction;
//!   `currentTime` (ms) and `blockNumber` come from the apply context.
//! - `==`/`!=` compare any two values structurally (different types are unequal). `<` `<=`
//!   `>` `>=` take two integers or two strings. `&&` `||` `!` take booleans and short-circuit.
//!   `+ - * / %` take integers (checked; `/` and `%` truncate toward zero); `+` with a string
//!   on either side concatenates (an integer operand is written in decimal).
//! - `x.name` and `x[k]` read an object's child; on `null` they give `null`.
//!
//! # Totality
//! Evaluation never panics and always ends: there are no loops, the AST has at most
//! [`MAX_AST_NODES`] nodes, strings at most [`MAX_STRING_LEN`] bytes, `getValue` is called at most
//! [`MAX_GET_VALUE_CALLS`] times per evaluation and reads at most [`MAX_GET_VALUE_NODES`] nodes.
//! A type error, an overflow, a division by zero, an unbound variable or a non-boolean result is
//! an [`EvalError`], and the write is denied with that reason.

mod ast;
mod eval;
mod lexer;
mod parser;

pub use ast::{BinOp, Builtin, Expr, UnOp};
pub use eval::{Auth, EvalEnv, EvalError, StateView, evaluate};
pub use parser::RuleParseError;

use std::collections::BTreeSet;

/// Longest rule source, in bytes.
pub const MAX_RULE_LEN: usize = 4096;
/// Most AST nodes in one rule.
pub const MAX_AST_NODES: usize = 512;
/// Deepest nesting of sub-expressions the parser accepts.
pub const MAX_NESTING: usize = 48;
/// Longest string a rule may build or read, in bytes.
pub const MAX_STRING_LEN: usize = 64 * 1024;
/// Most `getValue` calls in one evaluation.
pub const MAX_GET_VALUE_CALLS: usize = 16;
/// Most tree nodes one `getValue` may read.
pub const MAX_GET_VALUE_NODES: usize = 4096;

/// A parsed rule: its source text (what is stored and hashed) and its AST.
#[derive(Clone, Debug)]
pub struct Rule {
    source: String,
    expr: Expr,
    variables: BTreeSet<String>,
}

impl Rule {
    /// Lexes and parses rule source; errors name the 1-based column.
    pub fn parse(source: &str) -> Result<Rule, RuleParseError> {
        let expr = parser::parse(source)?;
        let mut variables = BTreeSet::new();
        expr.collect_variables(&mut variables);
        Ok(Rule {
            source: source.to_owned(),
            expr,
            variables,
        })
    }

    /// The source text as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The parsed expression.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// The `$variables` the rule uses (names without `$`).
    pub fn variables(&self) -> &BTreeSet<String> {
        &self.variables
    }
}

impl PartialEq for Rule {
    /// Two rules are equal when their sources are (the AST is a function of the source).
    fn eq(&self, other: &Rule) -> bool {
        self.source == other.source
    }
}

impl Eq for Rule {}
