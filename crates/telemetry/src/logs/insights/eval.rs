//! Rows and expressions: a row is one log event's fields (the `@` system fields and the
//! fields Insights discovers in a JSON message: top-level keys, nested ones as `a.b`,
//! array items as `a.0`) plus those the query computes; expressions evaluate on a row.

use super::ast::{BinOp, Expr, Function, Matcher};
use super::value::Value;
use super::Record;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

/// How deep discovery goes into nested JSON.
const MAX_DEPTH: usize = 8;
static NULL: Value = Value::Null;

#[derive(Debug, Clone, Default)]
pub(crate) struct Row {
    fields: HashMap<String, Value>,
}

impl Row {
    /// The row of an event, with those of its discovered fields in `wanted` (none when
    /// `wanted` is `None`).
    pub(crate) fn of(record: &Record, wanted: Option<&HashSet<String>>) -> Row {
        let mut fields = HashMap::new();
        if let (Some(wanted), true) = (wanted, record.message.starts_with('{')) {
            if let Ok(json) = serde_json::from_str::<serde_json::Value>(record.message) {
                discover(&mut fields, wanted, String::new(), &json, 0);
            }
        }
        fields.insert("@timestamp".to_owned(), Value::Time(record.timestamp));
        fields.insert(
            "@ingestionTime".to_owned(),
            Value::Time(record.ingestion_time),
        );
        fields.insert(
            "@message".to_owned(),
            Value::Text(record.message.to_owned()),
        );
        fields.insert(
            "@logStream".to_owned(),
            Value::Text(record.stream.to_owned()),
        );
        fields.insert("@log".to_owned(), Value::Text(record.log.to_owned()));
        Row { fields }
    }

    pub(crate) fn get(&self, name: &str) -> &Value {
        self.fields.get(name).unwrap_or(&NULL)
    }

    pub(crate) fn set(&mut self, name: &str, value: Value) {
        self.fields.insert(name.to_owned(), value);
    }
}

/// Adds the fields of `json` under `prefix` that are `wanted`.
fn discover(
    fields: &mut HashMap<String, Value>,
    wanted: &HashSet<String>,
    prefix: String,
    json: &serde_json::Value,
    depth: usize,
) {
    use serde_json::Value as J;
    let child = |key: &str| {
        if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}.{key}")
        }
    };
    match json {
        J::Object(map) if depth < MAX_DEPTH => {
            for (k, v) in map {
                discover(fields, wanted, child(k), v, depth + 1);
            }
        }
        J::Array(items) if depth < MAX_DEPTH && !prefix.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                discover(fields, wanted, child(&i.to_string()), v, depth + 1);
            }
        }
        _ if prefix.is_empty() || !wanted.contains(&prefix) => {}
        J::Null => {}
        J::Bool(b) => {
            fields.insert(prefix, Value::Bool(*b));
        }
        J::Number(n) => {
            fields.insert(
                prefix,
                n.as_f64().map_or(Value::Text(n.to_string()), Value::Number),
            );
        }
        J::String(s) => {
            fields.insert(prefix, Value::Text(s.clone()));
        }
        other => {
            fields.insert(prefix, Value::Text(other.to_string()));
        }
    }
}

pub(crate) fn eval(expr: &Expr, row: &Row) -> Value {
    match expr {
        Expr::Field(name) => row.get(name).clone(),
        Expr::Literal(v) => v.clone(),
        Expr::Not(e) => Value::Bool(!eval(e, row).truthy()),
        Expr::Neg(e) => eval(e, row)
            .number()
            .map_or(Value::Null, |n| Value::Number(-n)),
        Expr::Binary(op, a, b) => binary(*op, a, b, row),
        Expr::Like(e, matcher, negated) => {
            let value = eval(e, row);
            if value.is_null() {
                return Value::Bool(false);
            }
            let text = value.render();
            let found = match matcher {
                Matcher::Text(t) => text.contains(t.as_str()),
                Matcher::Regex(r) => r.is_match(&text),
            };
            Value::Bool(found != *negated)
        }
        Expr::In(e, items, negated) => {
            let value = eval(e, row);
            let found = items
                .iter()
                .any(|i| value.compare(&eval(i, row)) == Some(Ordering::Equal));
            Value::Bool(!value.is_null() && found != *negated)
        }
        Expr::Call(f, args) => call(*f, args, row),
        Expr::Bin(period, text) => match row.get("@timestamp") {
            Value::Time(t) => Value::Time(t - t.rem_euclid(*period)),
            _ => row.get(text).clone(),
        },
    }
}

fn binary(op: BinOp, a: &Expr, b: &Expr, row: &Row) -> Value {
    match op {
        BinOp::Or => return Value::Bool(eval(a, row).truthy() || eval(b, row).truthy()),
        BinOp::And => return Value::Bool(eval(a, row).truthy() && eval(b, row).truthy()),
        _ => {}
    }
    let (x, y) = (eval(a, row), eval(b, row));
    let arithmetic = |f: fn(f64, f64) -> f64| match (x.number(), y.number()) {
        (Some(m), Some(n)) => Value::Number(f(m, n)),
        _ => Value::Null,
    };
    match op {
        BinOp::Compare(c) => Value::Bool(x.compare(&y).is_some_and(|o| c.holds(o))),
        BinOp::Add => arithmetic(|m, n| m + n),
        BinOp::Sub => arithmetic(|m, n| m - n),
        BinOp::Mul => arithmetic(|m, n| m * n),
        BinOp::Div if y.number() == Some(0.0) => Value::Null,
        BinOp::Div => arithmetic(|m, n| m / n),
        BinOp::Rem if y.number() == Some(0.0) => Value::Null,
        BinOp::Rem => arithmetic(|m, n| m % n),
        BinOp::Or | BinOp::And => unreachable!("handled above"),
    }
}

fn call(f: Function, args: &[Expr], row: &Row) -> Value {
    let mut values = args.iter().map(|a| eval(a, row));
    let first = values.next().unwrap_or(Value::Null);
    let text = |v: &Value, f: fn(&str) -> String| match v {
        Value::Null => Value::Null,
        v => Value::Text(f(&v.render())),
    };
    let number =
        |v: &Value, f: fn(f64) -> f64| v.number().map_or(Value::Null, |n| Value::Number(f(n)));
    match f {
        Function::IsPresent => Value::Bool(!first.is_null()),
        Function::IsEmpty => Value::Bool(first.is_null() || first.render().is_empty()),
        Function::IsBlank => Value::Bool(first.is_null() || first.render().trim().is_empty()),
        Function::ToLower => text(&first, str::to_lowercase),
        Function::ToUpper => text(&first, str::to_uppercase),
        Function::Trim => text(&first, |s| s.trim().to_owned()),
        Function::Strlen if first.is_null() => Value::Null,
        Function::Strlen => Value::Number(first.render().chars().count() as f64),
        Function::Concat => Value::Text(
            std::iter::once(first)
                .chain(values)
                .map(|v| v.render())
                .collect(),
        ),
        Function::Coalesce => std::iter::once(first)
            .chain(values)
            .find(|v| !v.is_null())
            .unwrap_or(Value::Null),
        Function::Abs => number(&first, f64::abs),
        Function::Floor => number(&first, f64::floor),
        Function::Ceil => number(&first, f64::ceil),
    }
}
