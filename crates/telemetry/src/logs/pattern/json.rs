//! JSON patterns: `{ CONDITION }` where conditions on selectors (`$.a.b[0]`) compare
//! with `= != < <= > >=`, test `IS NULL`, `IS TRUE`, `IS FALSE`, `NOT EXISTS`, and
//! combine with `&&`, `||` (which binds looser) and parentheses. A message that is not
//! a JSON object matches no JSON pattern; a condition on a missing field is false
//! (except `NOT EXISTS`).

use super::value::{self, Field, Literal, Op};
use crate::logs::syntax::{Cursor, SyntaxError};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone)]
pub(crate) enum Test {
    Compare(Op, Literal),
    IsNull,
    IsBool(bool),
    NotExists,
}

#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Cond(Vec<Step>, Test),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// What ends a bare value inside a JSON pattern.
const STOPS: &str = "(){}&|";

pub(crate) fn parse(cursor: &mut Cursor) -> Result<Expr, SyntaxError> {
    cursor.expect("{", "'{'")?;
    let expr = or(cursor)?;
    cursor.expect("}", "'&&', '||' or the closing '}'")?;
    Ok(expr)
}

fn or(cursor: &mut Cursor) -> Result<Expr, SyntaxError> {
    let mut left = and(cursor)?;
    while cursor.eat("||") {
        left = Expr::Or(Box::new(left), Box::new(and(cursor)?));
    }
    Ok(left)
}

fn and(cursor: &mut Cursor) -> Result<Expr, SyntaxError> {
    let mut left = primary(cursor)?;
    while cursor.eat("&&") {
        left = Expr::And(Box::new(left), Box::new(primary(cursor)?));
    }
    Ok(left)
}

fn primary(cursor: &mut Cursor) -> Result<Expr, SyntaxError> {
    if cursor.eat("(") {
        let inner = or(cursor)?;
        cursor.expect(")", "')'")?;
        return Ok(inner);
    }
    let path = selector(cursor)?;
    let test = if cursor.eat_keyword("IS") {
        if cursor.eat_keyword("NULL") {
            Test::IsNull
        } else if cursor.eat_keyword("TRUE") {
            Test::IsBool(true)
        } else if cursor.eat_keyword("FALSE") {
            Test::IsBool(false)
        } else {
            return Err(cursor.error("expected NULL, TRUE or FALSE after IS"));
        }
    } else if cursor.eat_keyword("NOT") {
        if !cursor.eat_keyword("EXISTS") {
            return Err(cursor.error("expected EXISTS after NOT"));
        }
        Test::NotExists
    } else {
        let op = value::op(cursor).ok_or_else(|| {
            cursor.error("expected a comparison (=, !=, <, <=, >, >=), IS or NOT EXISTS")
        })?;
        Test::Compare(op, value::literal(cursor, op, STOPS)?)
    };
    Ok(Expr::Cond(path, test))
}

/// `$` followed by `.key`, `["key"]` and `[index]` steps.
fn selector(cursor: &mut Cursor) -> Result<Vec<Step>, SyntaxError> {
    if !cursor.eat("$") {
        return Err(cursor.error("expected a selector such as $.field"));
    }
    let mut path = Vec::new();
    loop {
        match cursor.peek() {
            Some('.') => {
                cursor.bump();
                let key = cursor.word(|c| c.is_alphanumeric() || "_-@$:".contains(c));
                if key.is_empty() {
                    return Err(cursor.error("expected a field name after '.'"));
                }
                path.push(Step::Key(key.to_owned()));
            }
            Some('[') => {
                cursor.bump();
                if cursor.peek() == Some('"') || cursor.peek() == Some('\'') {
                    let quote = cursor.peek().unwrap_or('"');
                    path.push(Step::Key(cursor.quoted(quote)?));
                } else {
                    let digits = cursor.word(|c| c.is_ascii_digit());
                    let index = digits
                        .parse()
                        .map_err(|_| cursor.error("expected an array index"))?;
                    path.push(Step::Index(index));
                }
                cursor.expect("]", "']'")?;
            }
            _ if path.is_empty() => return Err(cursor.error("expected '.' or '[' after '$'")),
            _ => return Ok(path),
        }
    }
}

fn lookup<'a>(value: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, step| match step {
        Step::Key(k) => v.as_object()?.get(k),
        Step::Index(i) => v.as_array()?.get(*i),
    })
}

pub(crate) fn matches(expr: &Expr, message: &str) -> bool {
    match serde_json::from_str::<Value>(message) {
        Ok(value @ Value::Object(_)) => eval(expr, &value),
        _ => false,
    }
}

fn eval(expr: &Expr, doc: &Value) -> bool {
    match expr {
        Expr::And(a, b) => eval(a, doc) && eval(b, doc),
        Expr::Or(a, b) => eval(a, doc) || eval(b, doc),
        Expr::Cond(path, test) => {
            let found = lookup(doc, path);
            match (test, found) {
                (Test::NotExists, found) => found.is_none(),
                (_, None) => false,
                (Test::IsNull, Some(v)) => v.is_null(),
                (Test::IsBool(b), Some(v)) => v.as_bool() == Some(*b),
                (Test::Compare(op, literal), Some(v)) => literal.compare(*op, &field(v)),
            }
        }
    }
}

fn field(v: &Value) -> Field<'_> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .map_or_else(|| Field::Other(n.to_string()), Field::Number),
        Value::String(s) => Field::Text(s),
        other => Field::Other(other.to_string()),
    }
}
