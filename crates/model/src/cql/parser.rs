//! A recursive-descent parser over the tokens of [`super::lexer`]:
//!
//! ```text
//! or         := and (("or" | "||") and)*
//! and        := unary (("and" | "&&") unary)*
//! unary      := ("not" | "!") unary | "(" or ")" | comparison
//! comparison := subject operator [argument]
//! argument   := value | list | pattern
//! list       := "[" value ("," value)* "]" | "(" value ("," value)* ")"
//! ```
//!
//! Precedence is therefore `not` > `and` > `or`. Chains are flattened as they are built, so
//! `(a and b) and c` and `a and b and c` give the same tree. Nesting is capped at
//! [`MAX_DEPTH`] so hostile input cannot exhaust the stack.

use std::fmt;

use super::eval::parse_date;
use super::lexer::{error, tokenize, Kind, Token};
use super::{Comparison, Expr, Field, Pattern, Predicate, Value, MAX_DEPTH, MAX_LENGTH};
use crate::error::ModelError;

type Result<T> = std::result::Result<T, ModelError>;

/// See [`super::parse`].
pub(super) fn parse(input: &str) -> Result<Expr> {
    let length = input.chars().count();
    if length > MAX_LENGTH {
        return Err(ModelError::invalid(format!(
            "Invalid filter expression: it is {length} characters long; the maximum is {MAX_LENGTH}."
        )));
    }
    let mut parser = Parser {
        tokens: tokenize(input)?,
        next: 0,
        depth: 0,
    };
    let expr = parser.or()?;
    let rest = parser.peek();
    if rest.kind != Kind::End {
        return Err(error(
            rest.pos,
            format_args!(
                "expected 'and', 'or' or the end of the expression, found {}",
                rest.kind
            ),
        ));
    }
    Ok(expr)
}

/// An operator before its argument is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Exists,
    NotExists,
    In,
    NotIn,
    Matches,
    NotMatches,
}

/// The operators the guide lists for `agentConnected`, `ec2InstanceId` and `task:group`.
const SET_OPS: &[Op] = &[
    Op::Eq,
    Op::Ne,
    Op::In,
    Op::NotIn,
    Op::Matches,
    Op::NotMatches,
];
/// The operators the guide lists for `agentVersion`, `registeredAt` and `runningTasksCount`.
const ORDER_OPS: &[Op] = &[Op::Eq, Op::Ne, Op::Gt, Op::Ge, Op::Lt, Op::Le];

struct Parser {
    /// Always ends with [`Kind::End`].
    tokens: Vec<Token>,
    next: usize,
    /// Parentheses and `not`s open around the current position.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[self.next.min(last)]
    }

    /// Takes the next token; past the end it keeps returning [`Kind::End`].
    fn bump(&mut self) -> Token {
        let token = self.peek().clone();
        if self.next + 1 < self.tokens.len() {
            self.next += 1;
        }
        token
    }

    fn at_word(&self, keyword: &str) -> bool {
        matches!(&self.peek().kind, Kind::Word(w) if w.eq_ignore_ascii_case(keyword))
    }

    fn or(&mut self) -> Result<Expr> {
        let mut parts = vec![self.and()?];
        while self.peek().kind == Kind::OrOr || self.at_word("or") {
            self.bump();
            parts.push(self.and()?);
        }
        Ok(chain(parts, true))
    }

    fn and(&mut self) -> Result<Expr> {
        let mut parts = vec![self.unary()?];
        while self.peek().kind == Kind::AndAnd || self.at_word("and") {
            self.bump();
            parts.push(self.unary()?);
        }
        Ok(chain(parts, false))
    }

    fn unary(&mut self) -> Result<Expr> {
        if self.peek().kind == Kind::Bang || self.at_word("not") {
            let not = self.bump();
            self.enter(not.pos)?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        if self.peek().kind == Kind::LParen {
            let open = self.bump();
            self.enter(open.pos)?;
            let inner = self.or()?;
            let close = self.bump();
            if close.kind != Kind::RParen {
                return Err(error(
                    close.pos,
                    format_args!(
                        "expected ')' to close the '(' at position {}, found {}",
                        open.pos, close.kind
                    ),
                ));
            }
            self.depth -= 1;
            return Ok(inner);
        }
        self.comparison()
    }

    fn enter(&mut self, pos: usize) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(error(
                pos,
                format_args!("expected at most {MAX_DEPTH} nested parentheses and 'not's"),
            ));
        }
        Ok(())
    }

    fn comparison(&mut self) -> Result<Expr> {
        let subject = self.bump();
        let field = match &subject.kind {
            Kind::Word(word) => field(word, subject.pos)?,
            other => return Err(expected_subject(subject.pos, other)),
        };
        let (op, spelled, op_pos) = self.operator(&field)?;
        let allowed = match field {
            Field::Attribute(_) => None,
            Field::AgentConnected | Field::Ec2InstanceId | Field::TaskGroup => Some(SET_OPS),
            Field::AgentVersion | Field::RegisteredAt | Field::RunningTasksCount => Some(ORDER_OPS),
        };
        if let Some(allowed) = allowed.filter(|ops| !ops.contains(&op)) {
            let names: Vec<&str> = allowed.iter().map(|op| op.name()).collect();
            return Err(error(
                op_pos,
                format_args!(
                    "expected one of {} after {field}, found '{spelled}'",
                    names.join(", ")
                ),
            ));
        }
        let predicate = match op {
            Op::Exists => Predicate::Exists,
            Op::NotExists => Predicate::NotExists,
            Op::Matches => Predicate::Matches(self.pattern(&spelled)?),
            Op::NotMatches => Predicate::NotMatches(self.pattern(&spelled)?),
            Op::In => Predicate::In(self.list(&field, &spelled)?),
            Op::NotIn => Predicate::NotIn(self.list(&field, &spelled)?),
            Op::Eq => Predicate::Equals(self.value(&field, &spelled, true)?),
            Op::Ne => Predicate::NotEquals(self.value(&field, &spelled, true)?),
            Op::Gt => Predicate::GreaterThan(self.value(&field, &spelled, false)?),
            Op::Ge => Predicate::GreaterThanEqual(self.value(&field, &spelled, false)?),
            Op::Lt => Predicate::LessThan(self.value(&field, &spelled, false)?),
            Op::Le => Predicate::LessThanEqual(self.value(&field, &spelled, false)?),
        };
        Ok(Expr::Compare(Comparison { field, predicate }))
    }

    /// Reads an operator in any of its spellings; returns it, how it was written and where.
    fn operator(&mut self, field: &Field) -> Result<(Op, String, usize)> {
        let token = self.bump();
        let op = match &token.kind {
            Kind::Eq => Op::Eq,
            Kind::Ne => Op::Ne,
            Kind::Gt => Op::Gt,
            Kind::Ge => Op::Ge,
            Kind::Lt => Op::Lt,
            Kind::Le => Op::Le,
            Kind::Match => Op::Matches,
            Kind::NotMatch => Op::NotMatches,
            Kind::Bang => return self.negated_operator("!", token.pos),
            Kind::Word(w) => match w.to_ascii_lowercase().as_str() {
                "equals" => Op::Eq,
                "not_equals" => Op::Ne,
                "greater_than" => Op::Gt,
                "greater_than_equal" => Op::Ge,
                "less_than" => Op::Lt,
                "less_than_equal" => Op::Le,
                "exists" => Op::Exists,
                "not_exists" => Op::NotExists,
                "in" => Op::In,
                "not_in" => Op::NotIn,
                "matches" => Op::Matches,
                "not_matches" => Op::NotMatches,
                "not" => return self.negated_operator(w, token.pos),
                _ => return Err(expected_operator(token.pos, field, &token.kind)),
            },
            other => return Err(expected_operator(token.pos, field, other)),
        };
        let spelled = match token.kind {
            Kind::Word(w) => w,
            _ => op.name().to_owned(),
        };
        Ok((op, spelled, token.pos))
    }

    /// After `!` or `not` in operator position: `exists`, `in` or `matches`.
    fn negated_operator(&mut self, negation: &str, pos: usize) -> Result<(Op, String, usize)> {
        let token = self.bump();
        let (op, word) = match &token.kind {
            Kind::Word(w) if w.eq_ignore_ascii_case("exists") => (Op::NotExists, w),
            Kind::Word(w) if w.eq_ignore_ascii_case("in") => (Op::NotIn, w),
            Kind::Word(w) if w.eq_ignore_ascii_case("matches") => (Op::NotMatches, w),
            other => {
                return Err(error(
                    token.pos,
                    format_args!(
                        "expected 'exists', 'in' or 'matches' after '{negation}', found {other}"
                    ),
                ))
            }
        };
        let gap = if negation == "!" { "" } else { " " };
        Ok((op, format!("{negation}{gap}{word}"), pos))
    }

    /// A single value after `after`. A bare word may hold wildcards when `wildcard` is set.
    fn value(&mut self, field: &Field, after: &str, wildcard: bool) -> Result<Value> {
        let token = self.bump();
        let value = match token.kind {
            Kind::Word(w) if wildcard => Value::wildcard(w),
            Kind::Word(w) => Value::literal(w),
            Kind::Quoted(s) => Value::literal(s),
            other => {
                return Err(error(
                    token.pos,
                    format_args!("expected a value after '{after}', found {other}"),
                ))
            }
        };
        check_argument(field, &value, after, token.pos)?;
        Ok(value)
    }

    /// `[a, b, ...]` or `(a, b, ...)` after `in` / `not in`.
    fn list(&mut self, field: &Field, after: &str) -> Result<Vec<Value>> {
        let open = self.bump();
        let close = match open.kind {
            Kind::LBracket => Kind::RBracket,
            Kind::LParen => Kind::RParen,
            other => {
                return Err(error(
                    open.pos,
                    format_args!("expected a list such as [a, b] after '{after}', found {other}"),
                ))
            }
        };
        let first_after = if close == Kind::RBracket { "[" } else { "(" };
        let mut values = vec![self.value(field, first_after, true)?];
        loop {
            let token = self.bump();
            if token.kind == close {
                return Ok(values);
            }
            if token.kind != Kind::Comma {
                return Err(error(
                    token.pos,
                    format_args!("expected ',' or {close} in the list, found {}", token.kind),
                ));
            }
            values.push(self.value(field, ",", true)?);
        }
    }

    /// The regular expression after `=~` / `!~`, compiled now so evaluation never compiles.
    fn pattern(&mut self, after: &str) -> Result<Pattern> {
        let token = self.bump();
        let source = match token.kind {
            Kind::Word(w) => w,
            Kind::Quoted(s) => s,
            other => {
                return Err(error(
                    token.pos,
                    format_args!("expected a regular expression after '{after}', found {other}"),
                ))
            }
        };
        Pattern::new(&source).map_err(|e| {
            error(
                token.pos,
                format_args!(
                    "expected a valid regular expression after '{after}' ({})",
                    regex_reason(&e)
                ),
            )
        })
    }
}

impl Op {
    /// The canonical spelling, as `Display` writes it.
    fn name(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Exists => "exists",
            Op::NotExists => "!exists",
            Op::In => "in",
            Op::NotIn => "not_in",
            Op::Matches => "=~",
            Op::NotMatches => "!~",
        }
    }
}

/// Builds an `and`/`or` chain, splicing in nested chains of the same kind.
fn chain(mut parts: Vec<Expr>, or: bool) -> Expr {
    if parts.len() == 1 {
        if let Some(only) = parts.pop() {
            return only;
        }
    }
    let mut flat = Vec::with_capacity(parts.len());
    for part in parts {
        match (part, or) {
            (Expr::Or(inner), true) | (Expr::And(inner), false) => flat.extend(inner),
            (part, _) => flat.push(part),
        }
    }
    if or {
        Expr::Or(flat)
    } else {
        Expr::And(flat)
    }
}

/// The subject a word names. Built-in names and prefixes are case-insensitive.
fn field(word: &str, pos: usize) -> Result<Field> {
    const PREFIX: &str = "attribute:";
    if let Some(prefix) = word.get(..PREFIX.len()) {
        if prefix.eq_ignore_ascii_case(PREFIX) {
            let name = &word[PREFIX.len()..];
            let valid = |c: char| c.is_alphanumeric() || "-_./\\:@".contains(c);
            if name.is_empty() || !name.chars().all(valid) {
                return Err(error(
                    pos,
                    format_args!(
                        "expected an attribute name of letters, digits, '-', '_', '.', '/', \
                         '\\', ':' or '@' after 'attribute:', found '{word}'"
                    ),
                ));
            }
            return Ok(Field::Attribute(name.to_owned()));
        }
    }
    Ok(match word.to_ascii_lowercase().as_str() {
        "task:group" => Field::TaskGroup,
        "agentconnected" => Field::AgentConnected,
        "agentversion" => Field::AgentVersion,
        "ec2instanceid" => Field::Ec2InstanceId,
        "registeredat" => Field::RegisteredAt,
        "runningtaskscount" => Field::RunningTasksCount,
        _ => return Err(expected_subject(pos, &Kind::Word(word.to_owned()))),
    })
}

/// Arguments the typed built-ins need: a date for `registeredAt`, a count for
/// `runningTasksCount`.
fn check_argument(field: &Field, value: &Value, after: &str, pos: usize) -> Result<()> {
    let text = value.text();
    let problem = match field {
        Field::RegisteredAt if parse_date(text).is_none() => {
            "a date such as 2018-06-18T22:28:28Z, 2018-06-18 or epoch seconds"
        }
        Field::RunningTasksCount if text.parse::<u64>().is_err() => "a whole number",
        _ => return Ok(()),
    };
    Err(error(
        pos,
        format_args!("expected {problem} after '{after}' for {field}, found '{text}'"),
    ))
}

fn expected_subject(pos: usize, found: &Kind) -> ModelError {
    error(
        pos,
        format_args!(
            "expected a subject (attribute:NAME, task:group, agentConnected, agentVersion, \
             ec2InstanceId, registeredAt or runningTasksCount), found {found}"
        ),
    )
}

fn expected_operator(pos: usize, field: &Field, found: &Kind) -> ModelError {
    error(
        pos,
        format_args!(
            "expected an operator (==, !=, >, >=, <, <=, exists, !exists, in, not_in, =~, !~) \
             after {field}, found {found}"
        ),
    )
}

/// The one-line reason inside a `regex` error, whose `Display` may span several lines.
fn regex_reason(e: &regex::Error) -> impl fmt::Display {
    let text = e.to_string();
    let last = text
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("invalid pattern")
        .trim();
    last.trim_start_matches("error: ")
        .trim_end_matches('.')
        .to_owned()
}
