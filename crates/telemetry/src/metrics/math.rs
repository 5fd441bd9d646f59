//! CloudWatch metric math over time series: arithmetic (`+ - * /`, unary minus) between
//! series and scalars matched by timestamp, `SUM`/`AVG`/`MIN`/`MAX` across an array of
//! series (of one series: a scalar over its values), `METRICS()` and
//! `METRICS("prefix")`, `FILL(x, value | REPEAT | LINEAR)`, `ABS`, `RATE`, `DIFF`.
//! Parsing is in [`parse`]; evaluation is pure: the caller resolves ids to values.
//!
//! A result that is not finite (a division by zero) is dropped from its series.

pub mod parse;

#[cfg(test)]
mod tests;

pub use parse::{parse, Expr, Op};

/// Why an expression could not be parsed or evaluated; the message says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MathError(pub String);

fn fail<T>(message: impl Into<String>) -> Result<T, MathError> {
    Err(MathError(message.into()))
}

/// A time series: points ascending by timestamp, at most one per timestamp.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimeSeries {
    pub label: String,
    pub points: Vec<(i64, f64)>,
    /// Seconds between periods (what FILL steps by).
    pub period: u32,
}

/// What an expression evaluates to.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(f64),
    Series(TimeSeries),
    Array(Vec<TimeSeries>),
}

/// What evaluation needs from the caller.
pub trait Resolve {
    /// The value of the query `id`, or None when no query has that id.
    fn id(&mut self, id: &str) -> Result<Option<Value>, MathError>;
    /// The results of the metric queries whose id starts with `prefix`, in request order.
    fn metrics(&mut self, prefix: &str) -> Result<Vec<TimeSeries>, MathError>;
    /// The time range periods are filled over: `[start, end)`.
    fn range(&self) -> (i64, i64);
}

/// Evaluate `expr`.
pub fn eval(expr: &Expr, r: &mut dyn Resolve) -> Result<Value, MathError> {
    match expr {
        Expr::Number(n) => Ok(Value::Scalar(*n)),
        Expr::Str(s) => fail(format!(
            "The string \"{s}\" can only be an argument of METRICS()."
        )),
        Expr::Keyword(k) => fail(format!(
            "Unknown name {k}: ids of other queries start with a lowercase letter; REPEAT and LINEAR go in FILL()."
        )),
        Expr::Id(id) => match r.id(id)? {
            Some(v) => Ok(v),
            None => fail(format!("Unrecognized metric id {id}: no query has that Id.")),
        },
        Expr::Neg(e) => Ok(map(eval(e, r)?, |v| -v)),
        Expr::Binary(op, a, b) => binary(*op, eval(a, r)?, eval(b, r)?),
        Expr::Array(items) => {
            let mut out = Vec::new();
            for e in items {
                match eval(e, r)? {
                    Value::Series(s) => out.push(s),
                    Value::Array(a) => out.extend(a),
                    Value::Scalar(_) => {
                        return fail("An array [...] may hold time series only, not numbers.")
                    }
                }
            }
            Ok(Value::Array(out))
        }
        Expr::Call(name, args) => call(name, args, r),
    }
}

fn apply(op: Op, a: f64, b: f64) -> f64 {
    match op {
        Op::Add => a + b,
        Op::Sub => a - b,
        Op::Mul => a * b,
        Op::Div => a / b,
    }
}

/// Apply `f` to every value, dropping results that are not finite.
fn map(v: Value, f: impl Fn(f64) -> f64 + Copy) -> Value {
    let series = |mut s: TimeSeries| {
        s.points = s
            .points
            .into_iter()
            .map(|(t, v)| (t, f(v)))
            .filter(|p| p.1.is_finite())
            .collect();
        s
    };
    match v {
        Value::Scalar(x) => Value::Scalar(f(x)),
        Value::Series(s) => Value::Series(series(s)),
        Value::Array(a) => Value::Array(a.into_iter().map(series).collect()),
    }
}

/// Two series combined where both have a point.
fn join(op: Op, a: &TimeSeries, b: &TimeSeries) -> TimeSeries {
    let (mut i, mut j) = (0, 0);
    let mut points = Vec::new();
    while i < a.points.len() && j < b.points.len() {
        let (ta, va) = a.points[i];
        let (tb, vb) = b.points[j];
        if ta == tb {
            let v = apply(op, va, vb);
            if v.is_finite() {
                points.push((ta, v));
            }
            i += 1;
            j += 1;
        } else if ta < tb {
            i += 1;
        } else {
            j += 1;
        }
    }
    TimeSeries {
        label: a.label.clone(),
        points,
        period: a.period.min(b.period),
    }
}

fn binary(op: Op, a: Value, b: Value) -> Result<Value, MathError> {
    use Value::*;
    Ok(match (a, b) {
        (Scalar(x), Scalar(y)) => Scalar(apply(op, x, y)),
        (v, Scalar(y)) => map(v, move |x| apply(op, x, y)),
        (Scalar(x), v) => map(v, move |y| apply(op, x, y)),
        (Series(s), Series(t)) => Series(join(op, &s, &t)),
        (Array(a), Series(t)) => Array(a.iter().map(|s| join(op, s, &t)).collect()),
        (Series(s), Array(a)) => Array(a.iter().map(|t| join(op, &s, t)).collect()),
        (Array(_), Array(_)) => {
            return fail("Arithmetic between two arrays of time series is not supported; reduce one with SUM, AVG, MIN or MAX first.")
        }
    })
}

fn arity(name: &str, args: &[Expr], n: usize) -> Result<(), MathError> {
    if args.len() != n {
        return fail(format!(
            "The function {name} takes {n} argument{} ({} given).",
            if n == 1 { "" } else { "s" },
            args.len()
        ));
    }
    Ok(())
}

fn call(name: &str, args: &[Expr], r: &mut dyn Resolve) -> Result<Value, MathError> {
    match name {
        "METRICS" => {
            let prefix = match args {
                [] => String::new(),
                [Expr::Str(p)] => p.clone(),
                _ => return fail("METRICS takes no argument or one string, e.g. METRICS(\"m\")."),
            };
            Ok(Value::Array(r.metrics(&prefix)?))
        }
        "SUM" | "AVG" | "MIN" | "MAX" => {
            arity(name, args, 1)?;
            Ok(aggregate(name, eval(&args[0], r)?))
        }
        "ABS" => {
            arity(name, args, 1)?;
            Ok(map(eval(&args[0], r)?, f64::abs))
        }
        "DIFF" | "RATE" => {
            arity(name, args, 1)?;
            let rate = name == "RATE";
            per_series(name, eval(&args[0], r)?, |s| differences(s, rate))
        }
        "FILL" => {
            arity(name, args, 2)?;
            let how = match &args[1] {
                Expr::Keyword(k) if k == "REPEAT" => Fill::Repeat,
                Expr::Keyword(k) if k == "LINEAR" => Fill::Linear,
                e => match eval(e, r)? {
                    Value::Scalar(x) => Fill::Value(x),
                    _ => return fail("The second argument of FILL must be a number, REPEAT or LINEAR."),
                },
            };
            let range = r.range();
            per_series(name, eval(&args[0], r)?, |s| fill(s, how, range))
        }
        other => fail(format!(
            "Unknown function {other}: the functions offered are SUM, AVG, MIN, MAX, METRICS, FILL, ABS, RATE and DIFF."
        )),
    }
}

/// Apply `f` to a series or to every series of an array.
fn per_series(
    name: &str,
    v: Value,
    f: impl Fn(TimeSeries) -> TimeSeries,
) -> Result<Value, MathError> {
    match v {
        Value::Series(s) => Ok(Value::Series(f(s))),
        Value::Array(a) => Ok(Value::Array(a.into_iter().map(f).collect())),
        Value::Scalar(_) => fail(format!(
            "The function {name} takes a time series, not a number."
        )),
    }
}

fn reduce(name: &str, values: impl Iterator<Item = f64>) -> Option<f64> {
    let (mut n, mut sum, mut min, mut max) = (0usize, 0.0, f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        n += 1;
        sum += v;
        min = min.min(v);
        max = max.max(v);
    }
    if n == 0 {
        return None;
    }
    Some(match name {
        "SUM" => sum,
        "AVG" => sum / n as f64,
        "MIN" => min,
        _ => max,
    })
}

/// SUM/AVG/MIN/MAX: across an array per timestamp (one series out), over a series' values
/// (a scalar), or of a scalar (itself).
fn aggregate(name: &str, v: Value) -> Value {
    match v {
        Value::Scalar(x) => Value::Scalar(x),
        Value::Series(s) => {
            Value::Scalar(reduce(name, s.points.iter().map(|p| p.1)).unwrap_or(f64::NAN))
        }
        Value::Array(a) => {
            let mut all: Vec<(i64, f64)> =
                a.iter().flat_map(|s| s.points.iter().copied()).collect();
            all.sort_by_key(|p| p.0);
            let mut points = Vec::new();
            for chunk in all.chunk_by(|x, y| x.0 == y.0) {
                if let Some(v) = reduce(name, chunk.iter().map(|p| p.1)) {
                    points.push((chunk[0].0, v));
                }
            }
            Value::Series(TimeSeries {
                label: String::new(),
                points,
                period: a.iter().map(|s| s.period).min().unwrap_or(60),
            })
        }
    }
}

/// DIFF (each value minus the one before) or RATE (that divided by the seconds between).
fn differences(mut s: TimeSeries, rate: bool) -> TimeSeries {
    s.points = s
        .points
        .windows(2)
        .map(|w| {
            let d = w[1].1 - w[0].1;
            let v = if rate {
                d / (w[1].0 - w[0].0) as f64
            } else {
                d
            };
            (w[1].0, v)
        })
        .filter(|p| p.1.is_finite())
        .collect();
    s
}

#[derive(Debug, Clone, Copy)]
enum Fill {
    Value(f64),
    Repeat,
    Linear,
}

/// Give every period of `[start, end)` a value: a constant, the last value before it
/// (the first value for leading gaps), or a straight line between its neighbours (the
/// nearest value at the edges).
fn fill(mut s: TimeSeries, how: Fill, (start, end): (i64, i64)) -> TimeSeries {
    let period = i64::from(s.period.max(1));
    // Periods line up with the series' own timestamps, or start where queries' periods do.
    let origin = match s.points.first() {
        Some(p) => p.0 - (p.0 - start).div_euclid(period) * period,
        None => super::series::aligned_start(start, s.period),
    };
    let known = std::mem::take(&mut s.points);
    let mut out = Vec::new();
    let mut k = 0;
    let mut t = origin;
    while t < end && out.len() < 1_000_000 {
        while k < known.len() && known[k].0 < t {
            k += 1;
        }
        if known.get(k).is_some_and(|p| p.0 == t) {
            out.push(known[k]);
        } else {
            let before = k.checked_sub(1).and_then(|i| known.get(i));
            let after = known.get(k);
            let v = match (how, before, after) {
                (Fill::Value(x), _, _) => Some(x),
                (_, None, None) => None,
                (Fill::Repeat, Some(b), _) => Some(b.1),
                (Fill::Linear, Some(b), Some(a)) => {
                    Some(b.1 + (a.1 - b.1) * (t - b.0) as f64 / (a.0 - b.0) as f64)
                }
                (_, Some(b), None) => Some(b.1),
                (_, None, Some(a)) => Some(a.1),
            };
            if let Some(v) = v {
                out.push((t, v));
            }
        }
        t += period;
    }
    s.points = out;
    s
}
