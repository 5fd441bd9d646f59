//! `stats`: aggregations per group of the `by` expressions, fed one row at a time so a
//! query over millions of events keeps only its groups in memory.

use super::ast::{Aggregate, Named};
use super::eval::{eval, Row};
use super::value::Value;
use std::collections::{HashMap, HashSet};

/// One aggregation's running state.
#[derive(Debug, Clone)]
enum State {
    Count(u64),
    Distinct(HashSet<String>),
    Sum(f64, bool),
    Avg(f64, u64),
    Min(Value),
    Max(Value),
}

pub(crate) struct Stats {
    aggregates: Vec<(Aggregate, String)>,
    by: Vec<Named>,
    groups: HashMap<Vec<String>, (Vec<Value>, Vec<State>)>,
}

impl Stats {
    pub(crate) fn new(aggregates: Vec<(Aggregate, String)>, by: Vec<Named>) -> Stats {
        Stats {
            aggregates,
            by,
            groups: HashMap::new(),
        }
    }

    pub(crate) fn push(&mut self, row: &Row) {
        let keys: Vec<Value> = self.by.iter().map(|b| eval(&b.expr, row)).collect();
        let id: Vec<String> = keys.iter().map(|k| format!("{k:?}")).collect();
        let aggregates = &self.aggregates;
        let (_, states) = self.groups.entry(id).or_insert_with(|| {
            (
                keys,
                aggregates.iter().map(|(a, _)| State::new(a)).collect(),
            )
        });
        for ((aggregate, _), state) in aggregates.iter().zip(states) {
            state.add(aggregate, row);
        }
    }

    /// One row per group, ordered by the `by` values.
    pub(crate) fn rows(self) -> Vec<Row> {
        let mut groups: Vec<_> = self.groups.into_values().collect();
        groups.sort_by(|a, b| {
            let orders = a.0.iter().zip(&b.0).map(|(x, y)| x.sort_cmp(y));
            orders.fold(std::cmp::Ordering::Equal, std::cmp::Ordering::then)
        });
        groups
            .into_iter()
            .map(|(keys, states)| {
                let mut row = Row::default();
                for (named, key) in self.by.iter().zip(keys) {
                    row.set(&named.name, key);
                }
                for ((_, name), state) in self.aggregates.iter().zip(states) {
                    row.set(name, state.value());
                }
                row
            })
            .collect()
    }
}

impl State {
    fn new(aggregate: &Aggregate) -> State {
        match aggregate {
            Aggregate::Count(_) => State::Count(0),
            Aggregate::CountDistinct(_) => State::Distinct(HashSet::new()),
            Aggregate::Sum(_) => State::Sum(0.0, false),
            Aggregate::Avg(_) => State::Avg(0.0, 0),
            Aggregate::Min(_) => State::Min(Value::Null),
            Aggregate::Max(_) => State::Max(Value::Null),
        }
    }

    fn add(&mut self, aggregate: &Aggregate, row: &Row) {
        let value = match aggregate {
            Aggregate::Count(None) => Value::Bool(true),
            Aggregate::Count(Some(e))
            | Aggregate::CountDistinct(e)
            | Aggregate::Sum(e)
            | Aggregate::Avg(e)
            | Aggregate::Min(e)
            | Aggregate::Max(e) => eval(e, row),
        };
        if value.is_null() {
            return;
        }
        match self {
            State::Count(n) => *n += 1,
            State::Distinct(seen) => {
                seen.insert(value.render());
            }
            State::Sum(total, any) => {
                if let Some(n) = value.number() {
                    *total += n;
                    *any = true;
                }
            }
            State::Avg(total, count) => {
                if let Some(n) = value.number() {
                    *total += n;
                    *count += 1;
                }
            }
            State::Min(best) => {
                if best.is_null() || value.sort_cmp(best).is_lt() {
                    *best = value;
                }
            }
            State::Max(best) => {
                if best.is_null() || value.sort_cmp(best).is_gt() {
                    *best = value;
                }
            }
        }
    }

    fn value(self) -> Value {
        match self {
            State::Count(n) => Value::Number(n as f64),
            State::Distinct(seen) => Value::Number(seen.len() as f64),
            State::Sum(total, true) => Value::Number(total),
            State::Sum(_, false) | State::Avg(_, 0) => Value::Null,
            State::Avg(total, count) => Value::Number(total / count as f64),
            State::Min(v) | State::Max(v) => v,
        }
    }
}
