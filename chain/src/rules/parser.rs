//! Rule parser: tokens to [`Expr`] by precedence climbing (Pratt).

use super::ast::{BinOp, Builtin, Expr, UnOp};
use super::lexer::{Tok, Token, lex};
use super::{MAX_AST_NODES, MAX_NESTING, MAX_RULE_LEN};
use crate::value::Value;

/// A rule that does not parse, with the 1-based column of the problem.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("rule parse error at column {column}: {message}")]
pub struct RuleParseError {
    /// 1-based column (in characters) where the problem starts.
    pub column: usize,
    /// What was expected or wrong.
    pub message: String,
}

impl RuleParseError {
    pub(crate) fn new(column: usize, message: &str) -> RuleParseError {
        RuleParseError {
            column,
            message: message.to_owned(),
        }
    }
}

/// Parses rule source into an expression, enforcing the size limits.
pub(crate) fn parse(source: &str) -> Result<Expr, RuleParseError> {
    if source.len() > MAX_RULE_LEN {
        return Err(RuleParseError::new(
            1,
            &format!("rule is {} bytes, at most {MAX_RULE_LEN}", source.len()),
        ));
    }
    let tokens = lex(source)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        nodes: 0,
        depth: 0,
    };
    let expr = p.expr(0)?;
    let end = p.peek();
    if end.tok != Tok::End {
        return Err(RuleParseError::new(
            end.column,
            "expected an operator or the end of the rule",
        ));
    }
    Ok(expr)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    nodes: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        // The token list always ends with `End`, and `bump` never moves past it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if t.tok != Tok::End {
            self.pos += 1;
        }
        t
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<(), RuleParseError> {
        let t = self.peek();
        if t.tok == tok {
            self.bump();
            Ok(())
        } else {
            Err(RuleParseError::new(t.column, &format!("expected {what}")))
        }
    }

    fn node(&mut self, column: usize, expr: Expr) -> Result<Expr, RuleParseError> {
        self.nodes += 1;
        if self.nodes > MAX_AST_NODES {
            return Err(RuleParseError::new(
                column,
                &format!("rule too large: more than {MAX_AST_NODES} nodes"),
            ));
        }
        Ok(expr)
    }

    fn expr(&mut self, min_bp: u8) -> Result<Expr, RuleParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            let column = self.peek().column;
            return Err(RuleParseError::new(column, "rule nested too deeply"));
        }
        let result = self.expr_inner(min_bp);
        self.depth -= 1;
        result
    }

    fn expr_inner(&mut self, min_bp: u8) -> Result<Expr, RuleParseError> {
        let mut lhs = self.prefix()?;
        loop {
            let t = self.peek().clone();
            let op = match t.tok {
                Tok::OrOr => BinOp::Or,
                Tok::AndAnd => BinOp::And,
                Tok::EqEq => BinOp::Eq,
                Tok::NotEq => BinOp::Ne,
                Tok::Lt => BinOp::Lt,
                Tok::Le => BinOp::Le,
                Tok::Gt => BinOp::Gt,
                Tok::Ge => BinOp::Ge,
                Tok::Plus => BinOp::Add,
                Tok::Minus => BinOp::Sub,
                Tok::Star => BinOp::Mul,
                Tok::Slash => BinOp::Div,
                Tok::Percent => BinOp::Rem,
                _ => return Ok(lhs),
            };
            let (lbp, rbp) = op.binding_power();
            if lbp < min_bp {
                return Ok(lhs);
            }
            self.bump();
            let rhs = self.expr(rbp)?;
            lhs = self.node(t.column, Expr::Binary(op, Box::new(lhs), Box::new(rhs)))?;
        }
    }

    fn prefix(&mut self) -> Result<Expr, RuleParseError> {
        let t = self.bump();
        const UNARY_BP: u8 = 14;
        let primary = match t.tok {
            Tok::Not => {
                let e = self.expr(UNARY_BP)?;
                return self.node(t.column, Expr::Unary(UnOp::Not, Box::new(e)));
            }
            Tok::Minus => {
                let e = self.expr(UNARY_BP)?;
                return self.node(t.column, Expr::Unary(UnOp::Neg, Box::new(e)));
            }
            Tok::Int(i) => Expr::Literal(Value::Int(i)),
            Tok::Str(s) => Expr::Literal(Value::Str(s)),
            Tok::Var(name) => Expr::Variable(name),
            Tok::LParen => {
                let e = self.expr(0)?;
                self.expect(Tok::RParen, "')'")?;
                e
            }
            Tok::Ident(name) => self.identifier(&name, t.column)?,
            Tok::End => return Err(RuleParseError::new(t.column, "unexpected end of rule")),
            _ => return Err(RuleParseError::new(t.column, "expected a value")),
        };
        let mut expr = self.node(t.column, primary)?;
        loop {
            let t = self.peek().clone();
            match t.tok {
                Tok::Dot => {
                    self.bump();
                    let name = self.bump();
                    let Tok::Ident(field) = name.tok else {
                        return Err(RuleParseError::new(
                            name.column,
                            "expected a field name after '.'",
                        ));
                    };
                    expr = self.node(t.column, Expr::Member(Box::new(expr), field))?;
                }
                Tok::LBracket => {
                    self.bump();
                    let key = self.expr(0)?;
                    self.expect(Tok::RBracket, "']'")?;
                    expr = self.node(t.column, Expr::Index(Box::new(expr), Box::new(key)))?;
                }
                _ => return Ok(expr),
            }
        }
    }

    fn identifier(&mut self, name: &str, column: usize) -> Result<Expr, RuleParseError> {
        Ok(match name {
            "true" => Expr::Literal(Value::Bool(true)),
            "false" => Expr::Literal(Value::Bool(false)),
            "null" => Expr::Literal(Value::Null),
            "auth" => Expr::Auth,
            "data" => Expr::Data,
            "newData" => Expr::NewData,
            "currentTime" => Expr::CurrentTime,
            "blockNumber" => Expr::BlockNumber,
            "getValue" => Expr::Call(Builtin::GetValue, Box::new(self.argument()?)),
            "util" => {
                self.expect(Tok::Dot, "'.' after 'util'")?;
                let t = self.bump();
                let builtin = match &t.tok {
                    Tok::Ident(helper) => Builtin::util(helper),
                    _ => None,
                }
                .ok_or_else(|| {
                    RuleParseError::new(
                        t.column,
                        "unknown util helper (isString, isInt, isBool, isObject, isNull, length)",
                    )
                })?;
                Expr::Call(builtin, Box::new(self.argument()?))
            }
            _ => {
                return Err(RuleParseError::new(
                    column,
                    &format!("unknown identifier '{name}'"),
                ));
            }
        })
    }

    /// `( expr )` of a one-argument call.
    fn argument(&mut self) -> Result<Expr, RuleParseError> {
        self.expect(Tok::LParen, "'('")?;
        let e = self.expr(0)?;
        if self.peek().tok == Tok::Comma {
            let column = self.peek().column;
            return Err(RuleParseError::new(
                column,
                "this function takes one argument",
            ));
        }
        self.expect(Tok::RParen, "')'")?;
        Ok(e)
    }
}
