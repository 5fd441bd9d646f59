//! Parsing Insights expressions, loosest first: `or`, `and`, `not`, comparisons with
//! `like`, `=~` and `in`, `+ -`, `* / %`, unary minus, then literals, fields (`a.b`,
//! `@message`, `` `odd name` ``), calls and parentheses.

use super::ast::{BinOp, Expr, Function, Matcher};
use super::value::Value;
use crate::logs::syntax::{Comparison, Cursor, SyntaxError};

/// The aggregations of `stats`; elsewhere their text refers to their results.
pub(crate) const AGGREGATES: [&str; 6] = ["count", "count_distinct", "sum", "avg", "min", "max"];

pub(crate) fn expr(c: &mut Cursor) -> Result<Expr, SyntaxError> {
    let mut left = and(c)?;
    while c.eat_keyword("or") {
        left = Expr::Binary(BinOp::Or, Box::new(left), Box::new(and(c)?));
    }
    Ok(left)
}

fn and(c: &mut Cursor) -> Result<Expr, SyntaxError> {
    let mut left = not(c)?;
    while c.eat_keyword("and") {
        left = Expr::Binary(BinOp::And, Box::new(left), Box::new(not(c)?));
    }
    Ok(left)
}

fn not(c: &mut Cursor) -> Result<Expr, SyntaxError> {
    if c.eat_keyword("not") {
        return Ok(Expr::Not(Box::new(not(c)?)));
    }
    comparison(c)
}

fn comparison(c: &mut Cursor) -> Result<Expr, SyntaxError> {
    let left = sum(c)?;
    if c.eat("=~") {
        return Ok(Expr::Like(Box::new(left), regex(c)?, false));
    }
    if let Some(op) = Comparison::read(c) {
        return Ok(Expr::Binary(
            BinOp::Compare(op),
            Box::new(left),
            Box::new(sum(c)?),
        ));
    }
    let negated = c.eat_keyword("not");
    if c.eat_keyword("like") {
        c.skip_ws();
        let matcher = match c.peek() {
            Some('"' | '\'') => Matcher::Text(string(c)?),
            _ => regex(c)?,
        };
        return Ok(Expr::Like(Box::new(left), matcher, negated));
    }
    if c.eat_keyword("in") {
        c.expect("[", "'[' to open the list")?;
        let mut items = Vec::new();
        if !c.eat("]") {
            loop {
                items.push(sum(c)?);
                if c.eat("]") {
                    break;
                }
                c.expect(",", "',' or ']'")?;
            }
        }
        return Ok(Expr::In(Box::new(left), items, negated));
    }
    if negated {
        return Err(c.error("expected 'like' or 'in' after 'not'"));
    }
    Ok(left)
}

fn sum(c: &mut Cursor) -> Result<Expr, SyntaxError> {
    chain(c, &[("+", BinOp::Add), ("-", BinOp::Sub)], product)
}

fn product(c: &mut Cursor) -> Result<Expr, SyntaxError> {
    chain(
        c,
        &[("*", BinOp::Mul), ("/", BinOp::Div), ("%", BinOp::Rem)],
        unary,
    )
}

/// Operands of `next` joined by any of `ops`, grouped from the left.
fn chain(
    c: &mut Cursor,
    ops: &[(&str, BinOp)],
    next: fn(&mut Cursor) -> Result<Expr, SyntaxError>,
) -> Result<Expr, SyntaxError> {
    let mut left = next(c)?;
    while let Some((_, op)) = ops.iter().find(|(token, _)| c.eat(token)) {
        left = Expr::Binary(*op, Box::new(left), Box::new(next(c)?));
    }
    Ok(left)
}

fn unary(c: &mut Cursor) -> Result<Expr, SyntaxError> {
    if c.eat("-") {
        return Ok(Expr::Neg(Box::new(unary(c)?)));
    }
    primary(c)
}

fn primary(c: &mut Cursor) -> Result<Expr, SyntaxError> {
    c.skip_ws();
    match c.peek() {
        Some('(') => {
            c.bump();
            let inner = expr(c)?;
            c.expect(")", "')'")?;
            Ok(inner)
        }
        Some('"' | '\'') => Ok(Expr::Literal(Value::Text(string(c)?))),
        Some(ch) if ch.is_ascii_digit() => {
            let mark = c.offset();
            let word = c.word(|ch| ch.is_ascii_alphanumeric() || ch == '.');
            let n = word
                .parse::<f64>()
                .map_err(|_| c.error_at(mark, format!("'{word}' is not a number")))?;
            Ok(Expr::Literal(Value::Number(n)))
        }
        _ => {
            let mark = c.offset();
            let name = field_name(c)?;
            if !c.eat("(") {
                return match name.to_ascii_lowercase().as_str() {
                    "true" => Ok(Expr::Literal(Value::Bool(true))),
                    "false" => Ok(Expr::Literal(Value::Bool(false))),
                    _ => Ok(Expr::Field(name)),
                };
            }
            if name.eq_ignore_ascii_case("bin") {
                let period = period(c)?;
                c.expect(")", "')' after the bin period")?;
                return Ok(Expr::Bin(period, c.since(mark).to_owned()));
            }
            if AGGREGATES.contains(&name.to_ascii_lowercase().as_str()) {
                // After `stats`, `count(*)` names the column that aggregation made.
                let mut depth = 1;
                while depth > 0 {
                    match c.bump() {
                        Some('(') => depth += 1,
                        Some(')') => depth -= 1,
                        Some(_) => {}
                        None => return Err(c.error_at(mark, format!("unclosed '(' after {name}"))),
                    }
                }
                return Ok(Expr::Field(c.since(mark).to_owned()));
            }
            let (function, fewest, most) = Function::named(&name)
                .ok_or(c.error_at(mark, format!("unknown function '{name}'")))?;
            let args = arguments(c)?;
            if args.len() < fewest || args.len() > most {
                let message = format!(
                    "{name} takes {fewest} to {most} arguments, not {}",
                    args.len()
                );
                return Err(c.error_at(mark, message));
            }
            Ok(Expr::Call(function, args))
        }
    }
}

/// Arguments after the opening parenthesis, through the closing one.
pub(crate) fn arguments(c: &mut Cursor) -> Result<Vec<Expr>, SyntaxError> {
    let mut args = Vec::new();
    if c.eat(")") {
        return Ok(args);
    }
    loop {
        args.push(expr(c)?);
        if c.eat(")") {
            return Ok(args);
        }
        c.expect(",", "',' or ')'")?;
    }
}

/// A field name: letters, digits, `_`, `@`, `.`, or anything between backticks.
pub(crate) fn field_name(c: &mut Cursor) -> Result<String, SyntaxError> {
    c.skip_ws();
    if c.peek() == Some('`') {
        return c.quoted('`');
    }
    let name =
        c.word(|ch| ch.is_alphanumeric() || ch == '_' || ch == '@' || ch == '.' || ch == '$');
    if name.is_empty() {
        return Err(c.error("expected a field name"));
    }
    Ok(name.to_owned())
}

pub(crate) fn string(c: &mut Cursor) -> Result<String, SyntaxError> {
    c.skip_ws();
    match c.peek() {
        Some(q @ ('"' | '\'')) => c.quoted(q),
        _ => Err(c.error("expected a quoted string")),
    }
}

pub(crate) fn regex(c: &mut Cursor) -> Result<Matcher, SyntaxError> {
    c.skip_ws();
    if c.peek() != Some('/') {
        return Err(c.error("expected a regular expression between slashes"));
    }
    Ok(Matcher::Regex(c.regex('/')?))
}

/// A bin period such as `30s`, `5m`, `1h`, `1d`, in milliseconds.
fn period(c: &mut Cursor) -> Result<i64, SyntaxError> {
    c.skip_ws();
    let mark = c.offset();
    let word = c.word(|ch| ch.is_ascii_alphanumeric());
    let split = word
        .find(|ch: char| !ch.is_ascii_digit())
        .unwrap_or(word.len());
    let (count, unit) = word.split_at(split);
    let unit_ms = match unit {
        "ms" => 1,
        "s" | "sec" => 1000,
        "m" | "min" => 60_000,
        "h" | "hr" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        _ => 0,
    };
    match count.parse::<i64>() {
        Ok(n) if n > 0 && unit_ms > 0 => Ok(n.saturating_mul(unit_ms)),
        _ => Err(c.error_at(
            mark,
            format!("'{word}' is not a bin period (such as 30s, 5m, 1h or 1d)"),
        )),
    }
}
