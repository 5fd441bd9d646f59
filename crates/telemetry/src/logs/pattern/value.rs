//! The right-hand side of a JSON or space-delimited condition and how it compares: a
//! number (numeric comparison), a string (equality, `*` as a wildcard), or a `%regex%`.

use crate::logs::syntax::{glob, Cursor, SyntaxError};
use regex::Regex;

pub(crate) use crate::logs::syntax::Comparison as Op;

#[derive(Debug, Clone)]
pub(crate) enum Literal {
    Number(f64),
    Text(String),
    Regex(Regex),
}

/// Reads a comparison operator, if one comes next.
pub(crate) fn op(cursor: &mut Cursor) -> Option<Op> {
    Op::read(cursor)
}

/// Reads a literal for `op`: quoted, `%regex%` or bare (up to white space or one of
/// `stops`); a bare one that reads as a number is a number.
pub(crate) fn literal(cursor: &mut Cursor, op: Op, stops: &str) -> Result<Literal, SyntaxError> {
    cursor.skip_ws();
    let mark = cursor.offset();
    let literal = match cursor.peek() {
        Some('"') => Literal::Text(cursor.quoted('"')?),
        Some('%') => Literal::Regex(cursor.regex('%')?),
        _ => {
            let word = cursor.word(|c| !c.is_whitespace() && !stops.contains(c));
            if word.is_empty() {
                return Err(cursor.error("expected a value"));
            }
            match word.parse::<f64>() {
                Ok(n) if n.is_finite() => Literal::Number(n),
                _ => Literal::Text(word.to_owned()),
            }
        }
    };
    if !matches!(op, Op::Eq | Op::Ne) && !matches!(literal, Literal::Number(_)) {
        return Err(cursor.error_at(
            mark,
            "only a number can be compared with <, <=, > or >=".to_owned(),
        ));
    }
    Ok(literal)
}

/// How a field of the message reads.
pub(crate) enum Field<'a> {
    Number(f64),
    Text(&'a str),
    /// A JSON value that is neither (true, false, null, an object or array): its text.
    Other(String),
}

impl Literal {
    pub(crate) fn compare(&self, op: Op, field: &Field) -> bool {
        match self {
            Literal::Number(n) => {
                let value = match field {
                    Field::Number(v) => *v,
                    Field::Text(t) => match t.parse::<f64>() {
                        Ok(v) => v,
                        Err(_) => return false,
                    },
                    Field::Other(_) => return false,
                };
                value.partial_cmp(n).is_some_and(|o| op.holds(o))
            }
            Literal::Text(pattern) => {
                let equal = match field {
                    Field::Text(t) => glob(pattern, t),
                    Field::Number(v) => glob(pattern, &v.to_string()),
                    Field::Other(s) => glob(pattern, s),
                };
                equal == (op == Op::Eq)
            }
            Literal::Regex(re) => {
                let found = match field {
                    Field::Text(t) => re.is_match(t),
                    Field::Number(v) => re.is_match(&v.to_string()),
                    Field::Other(s) => re.is_match(s),
                };
                found == (op == Op::Eq)
            }
        }
    }
}
