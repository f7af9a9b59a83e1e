//! Rule lexer: source text to tokens, each with its 1-based column.

use super::parser::RuleParseError;

/// One token kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    Int(i128),
    Str(String),
    Ident(String),
    Var(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Dot,
    Comma,
    Not,
    EqEq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    AndAnd,
    OrOr,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    End,
}

/// A token and the column where it starts.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub column: usize,
}

/// Splits `source` into tokens, ending with [`Tok::End`].
pub(crate) fn lex(source: &str) -> Result<Vec<Token>, RuleParseError> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let err = |message: &str| RuleParseError::new(column, message);
        let two = chars.get(i + 1).copied();
        let (tok, len) = match c {
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            '[' => (Tok::LBracket, 1),
            ']' => (Tok::RBracket, 1),
            '.' => (Tok::Dot, 1),
            ',' => (Tok::Comma, 1),
            '+' => (Tok::Plus, 1),
            '-' => (Tok::Minus, 1),
            '*' => (Tok::Star, 1),
            '/' => (Tok::Slash, 1),
            '%' => (Tok::Percent, 1),
            '=' if two == Some('=') => (Tok::EqEq, 2),
            '=' => return Err(err("expected '==' ('=' alone is not an operator)")),
            '!' if two == Some('=') => (Tok::NotEq, 2),
            '!' => (Tok::Not, 1),
            '<' if two == Some('=') => (Tok::Le, 2),
            '<' => (Tok::Lt, 1),
            '>' if two == Some('=') => (Tok::Ge, 2),
            '>' => (Tok::Gt, 1),
            '&' if two == Some('&') => (Tok::AndAnd, 2),
            '&' => return Err(err("expected '&&'")),
            '|' if two == Some('|') => (Tok::OrOr, 2),
            '|' => return Err(err("expected '||'")),
            '0'..='9' => {
                let end = scan(&chars, i, |c| c.is_ascii_alphanumeric() || c == '_');
                let text: String = chars[i..end].iter().collect();
                let value = text
                    .parse::<i128>()
                    .map_err(|_| err("bad integer literal (digits only, within i128)"))?;
                (Tok::Int(value), end - i)
            }
            '\'' | '"' => {
                let (s, end) = string(&chars, i)?;
                (Tok::Str(s), end - i)
            }
            '$' => {
                let end = scan(&chars, i + 1, is_ident_char);
                if end == i + 1 {
                    return Err(err("expected a variable name after '$'"));
                }
                (Tok::Var(chars[i + 1..end].iter().collect()), end - i)
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let end = scan(&chars, i, is_ident_char);
                (Tok::Ident(chars[i..end].iter().collect()), end - i)
            }
            _ => return Err(err(&format!("unexpected character {c:?}"))),
        };
        tokens.push(Token { tok, column });
        i += len;
    }
    tokens.push(Token {
        tok: Tok::End,
        column: chars.len() + 1,
    });
    Ok(tokens)
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn scan(chars: &[char], from: usize, keep: impl Fn(char) -> bool) -> usize {
    let mut end = from;
    while end < chars.len() && keep(chars[end]) {
        end += 1;
    }
    end
}

/// Reads a quoted string starting at `start`; returns it and the index after the closing quote.
fn string(chars: &[char], start: usize) -> Result<(String, usize), RuleParseError> {
    let quote = chars[start];
    let mut out = String::new();
    let mut i = start + 1;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(RuleParseError::new(start + 1, "unterminated string"));
        };
        match c {
            c if c == quote => return Ok((out, i + 1)),
            '\\' => {
                let escaped = match chars.get(i + 1) {
                    Some('\\') => '\\',
                    Some('\'') => '\'',
                    Some('"') => '"',
                    Some('n') => '\n',
                    Some('r') => '\r',
                    Some('t') => '\t',
                    Some('0') => '\0',
                    _ => return Err(RuleParseError::new(i + 1, "unknown escape in string")),
                };
                out.push(escaped);
                i += 2;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
}
