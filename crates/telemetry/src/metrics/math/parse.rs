//! The metric-math parser: a string in, an [`Expr`] out, or a [`MathError`] naming what
//! is wrong and where. Grammar (precedence climbing, left-associative):
//!
//! ```text
//! expr    := term (('+' | '-') term)*
//! term    := unary (('*' | '/') unary)*
//! unary   := '-' unary | primary
//! primary := number | "string" | id | KEYWORD | NAME '(' [expr (',' expr)*] ')'
//!          | '(' expr ')' | '[' expr (',' expr)* ']'
//! ```
//!
//! Nesting is bounded ([`MAX_DEPTH`]) so that no input can exhaust the stack.

use super::MathError;

/// How deep parentheses, brackets, calls and unary minus may nest.
pub const MAX_DEPTH: usize = 64;

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(f64),
    Str(String),
    /// Another query's id (starts with a lowercase letter).
    Id(String),
    /// An upper-case word that is not a call (`REPEAT`, `LINEAR`).
    Keyword(String),
    Neg(Box<Expr>),
    Binary(Op, Box<Expr>, Box<Expr>),
    Call(String, Vec<Expr>),
    Array(Vec<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Number(f64),
    Str(String),
    Word(String),
    Punct(char),
}

fn error(message: String) -> MathError {
    MathError(message)
}

fn lex(src: &str) -> Result<Vec<(usize, Token)>, MathError> {
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&(at, c)) = chars.get(i) {
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(|n| n.1.is_ascii_digit()))
        {
            let startpos = i;
            while chars
                .get(i)
                .is_some_and(|n| n.1.is_ascii_digit() || n.1 == '.')
            {
                i += 1;
            }
            if chars.get(i).is_some_and(|n| n.1 == 'e' || n.1 == 'E') {
                let mut j = i + 1;
                if chars.get(j).is_some_and(|n| n.1 == '+' || n.1 == '-') {
                    j += 1;
                }
                if chars.get(j).is_some_and(|n| n.1.is_ascii_digit()) {
                    i = j;
                    while chars.get(i).is_some_and(|n| n.1.is_ascii_digit()) {
                        i += 1;
                    }
                }
            }
            let text: String = chars[startpos..i].iter().map(|c| c.1).collect();
            let n: f64 = text
                .parse()
                .map_err(|_| error(format!("Invalid number \"{text}\" at position {at}.")))?;
            out.push((at, Token::Number(n)));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let startpos = i;
            while chars
                .get(i)
                .is_some_and(|n| n.1.is_ascii_alphanumeric() || n.1 == '_')
            {
                i += 1;
            }
            out.push((
                at,
                Token::Word(chars[startpos..i].iter().map(|c| c.1).collect()),
            ));
        } else if c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(error(format!(
                            "Unterminated string starting at position {at}."
                        )))
                    }
                    Some((_, '"')) => break,
                    Some((_, ch)) => s.push(*ch),
                }
                i += 1;
            }
            i += 1;
            out.push((at, Token::Str(s)));
        } else if "+-*/()[],".contains(c) {
            out.push((at, Token::Punct(c)));
            i += 1;
        } else {
            return Err(error(format!(
                "Unexpected character '{c}' at position {at}."
            )));
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    at: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|t| &t.1)
    }

    fn position(&self) -> usize {
        self.tokens.get(self.at).map_or(self.end, |t| t.0)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Token::Punct(c)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), MathError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(error(format!(
                "Expected '{c}' at position {}.",
                self.position()
            )))
        }
    }

    fn expr(&mut self, depth: usize) -> Result<Expr, MathError> {
        if depth > MAX_DEPTH {
            return Err(error(format!(
                "The expression nests deeper than {MAX_DEPTH} levels."
            )));
        }
        let mut left = self.term(depth)?;
        loop {
            let op = if self.eat('+') {
                Op::Add
            } else if self.eat('-') {
                Op::Sub
            } else {
                return Ok(left);
            };
            let right = self.term(depth)?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn term(&mut self, depth: usize) -> Result<Expr, MathError> {
        let mut left = self.unary(depth)?;
        loop {
            let op = if self.eat('*') {
                Op::Mul
            } else if self.eat('/') {
                Op::Div
            } else {
                return Ok(left);
            };
            let right = self.unary(depth)?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, MathError> {
        if self.eat('-') {
            if depth + 1 > MAX_DEPTH {
                return Err(error(format!(
                    "The expression nests deeper than {MAX_DEPTH} levels."
                )));
            }
            return Ok(Expr::Neg(Box::new(self.unary(depth + 1)?)));
        }
        self.primary(depth)
    }

    fn list(&mut self, close: char, depth: usize) -> Result<Vec<Expr>, MathError> {
        let mut items = Vec::new();
        if self.eat(close) {
            return Ok(items);
        }
        loop {
            items.push(self.expr(depth + 1)?);
            if self.eat(close) {
                return Ok(items);
            }
            self.expect(',')?;
        }
    }

    fn primary(&mut self, depth: usize) -> Result<Expr, MathError> {
        let position = self.position();
        let Some((_, token)) = self.tokens.get(self.at).cloned() else {
            return Err(error(format!(
                "The expression ends where a value was expected (position {position})."
            )));
        };
        self.at += 1;
        match token {
            Token::Number(n) => Ok(Expr::Number(n)),
            Token::Str(s) => Ok(Expr::Str(s)),
            Token::Punct('(') => {
                let e = self.expr(depth + 1)?;
                self.expect(')')?;
                Ok(e)
            }
            Token::Punct('[') => Ok(Expr::Array(self.list(']', depth)?)),
            Token::Word(w) if self.eat('(') => Ok(Expr::Call(w, self.list(')', depth)?)),
            Token::Word(w) if w.starts_with(|c: char| c.is_ascii_lowercase()) => Ok(Expr::Id(w)),
            Token::Word(w) => Ok(Expr::Keyword(w)),
            Token::Punct(c) => Err(error(format!("Unexpected '{c}' at position {position}."))),
        }
    }
}

/// Parse a metric-math expression.
pub fn parse(src: &str) -> Result<Expr, MathError> {
    let tokens = lex(src)?;
    if tokens.is_empty() {
        return Err(error("The expression is empty.".into()));
    }
    let mut p = Parser {
        tokens,
        at: 0,
        end: src.len(),
    };
    let e = p.expr(0)?;
    if p.at < p.tokens.len() {
        return Err(error(format!(
            "Unexpected text at position {}: the expression should end there.",
            p.position()
        )));
    }
    Ok(e)
}
