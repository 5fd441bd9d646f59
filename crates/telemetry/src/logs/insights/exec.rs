//! Running a query. The leading record-level commands (`fields`, `parse`, `filter`,
//! `display`) run on each event as it is pushed; the rest run once on what they keep.
//! When what follows is only a sort and a limit, rows beyond the limit are dropped as
//! they come, and a `stats` right after the leading commands aggregates as events come,
//! so memory follows the answer's size, not the events scanned.

use super::ast::{Command, Expr};
use super::eval::{eval, Row};
use super::stats::Stats;
use super::value::Value;
use super::{Query, QueryResults, Record, ResultField, Statistics};
use std::cmp::Ordering;
use std::collections::HashSet;

/// Sort keys, each descending when true.
type SortKeys = Vec<(Expr, bool)>;

/// How a query runs: where its streaming part ends, and the bound on kept rows.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    streaming: usize,
    /// The fields discovered in messages that the query reads or shows; `None` when it
    /// reads only `@` fields, so messages need not be parsed.
    wanted: Option<HashSet<String>>,
    /// The sort and the row count that the rows kept may be cut to as they come.
    bound: Option<(SortKeys, Option<usize>)>,
}

impl Plan {
    pub(crate) fn of(commands: &[Command], columns: &[String]) -> Plan {
        let mut wanted = HashSet::new();
        let mut want = |name: &str| {
            if !name.starts_with('@') {
                wanted.insert(name.to_owned());
            }
        };
        commands.iter().for_each(|c| c.fields(&mut want));
        columns.iter().for_each(|c| want(c));
        let wanted = (!wanted.is_empty()).then_some(wanted);
        let streaming = commands
            .iter()
            .take_while(|c| {
                matches!(
                    c,
                    Command::Fields(_)
                        | Command::Parse { .. }
                        | Command::Filter(_)
                        | Command::Display(_)
                )
            })
            .count();
        let rest: Vec<&Command> = commands[streaming..]
            .iter()
            .filter(|c| !matches!(c, Command::Display(_)))
            .collect();
        let bound = match rest.as_slice() {
            [Command::Sort(keys)] => Some((keys.clone(), None)),
            [Command::Sort(keys), Command::Limit(n)] => Some((keys.clone(), Some(*n))),
            _ => None,
        };
        Plan {
            streaming,
            wanted,
            bound,
        }
    }

    pub(crate) fn streaming(&self) -> usize {
        self.streaming
    }
}

/// A query being run: push events, then [`Run::finish`].
pub struct Run<'q> {
    query: &'q Query,
    limit: usize,
    rows: Vec<Row>,
    stats: Option<Stats>,
    statistics: Statistics,
}

/// Applies a record-level command; false when the row is filtered out.
fn apply(command: &Command, row: &mut Row) -> bool {
    match command {
        Command::Filter(e) => return eval(e, row).truthy(),
        Command::Fields(named) => {
            for n in named {
                let value = eval(&n.expr, row);
                row.set(&n.name, value);
            }
        }
        Command::Parse {
            source,
            pattern,
            names,
        } => {
            let text = eval(source, row).render();
            if let Some(caps) = pattern.captures(&text) {
                for (i, name) in names.iter().enumerate() {
                    if let Some(m) = caps.name(name).or_else(|| caps.get(i + 1)) {
                        row.set(name, Value::Text(m.as_str().to_owned()));
                    }
                }
            }
        }
        _ => {}
    }
    true
}

/// Sorts by `keys` (descending when flagged), missing values last either way.
fn sort(rows: &mut Vec<Row>, keys: &[(Expr, bool)]) {
    let mut keyed: Vec<(Vec<Value>, Row)> = rows
        .drain(..)
        .map(|r| (keys.iter().map(|(e, _)| eval(e, &r)).collect(), r))
        .collect();
    keyed.sort_by(|(a, _), (b, _)| {
        let orders = a.iter().zip(b).zip(keys).map(|((x, y), (_, descending))| {
            if *descending && !x.is_null() && !y.is_null() {
                y.sort_cmp(x)
            } else {
                x.sort_cmp(y)
            }
        });
        orders.fold(Ordering::Equal, Ordering::then)
    });
    rows.extend(keyed.into_iter().map(|(_, r)| r));
}

impl<'q> Run<'q> {
    pub(crate) fn new(query: &'q Query, limit: usize) -> Self {
        let stats = match query.commands.get(query.plan.streaming) {
            Some(Command::Stats { aggregates, by }) => {
                Some(Stats::new(aggregates.clone(), by.clone()))
            }
            _ => None,
        };
        Run {
            query,
            limit,
            rows: Vec::new(),
            stats,
            statistics: Statistics::default(),
        }
    }

    /// Runs the query's record-level commands on one event.
    pub fn push(&mut self, record: &Record) {
        self.statistics.records_scanned += 1;
        self.statistics.bytes_scanned += record.message.len() as u64;
        let mut row = Row::of(record, self.query.plan.wanted.as_ref());
        let streaming = &self.query.commands[..self.query.plan.streaming];
        if !streaming.iter().all(|c| apply(c, &mut row)) {
            return;
        }
        self.statistics.records_matched += 1;
        if let Some(stats) = &mut self.stats {
            stats.push(&row);
            return;
        }
        self.rows.push(row);
        if let Some((keys, n)) = &self.query.plan.bound {
            let keep = n.unwrap_or(self.limit);
            if self.rows.len() >= keep.saturating_mul(2).max(1024) {
                sort(&mut self.rows, keys);
                self.rows.truncate(keep);
            }
        }
    }

    /// Runs the rest of the query and answers its rows and statistics.
    pub fn finish(self) -> QueryResults {
        let query = self.query;
        let mut rest = &query.commands[query.plan.streaming..];
        let mut rows = match self.stats {
            Some(stats) => {
                rest = &rest[1..];
                stats.rows()
            }
            None => self.rows,
        };
        let mut limited = false;
        for command in rest {
            match command {
                Command::Sort(keys) => sort(&mut rows, keys),
                Command::Limit(n) => {
                    rows.truncate(*n);
                    limited = true;
                }
                Command::Stats { aggregates, by } => {
                    let mut stats = Stats::new(aggregates.clone(), by.clone());
                    rows.iter().for_each(|r| stats.push(r));
                    rows = stats.rows();
                }
                other => rows.retain_mut(|r| apply(other, r)),
            }
        }
        if !limited {
            rows.truncate(self.limit);
        }
        let rows = rows
            .iter()
            .map(|row| {
                query
                    .columns
                    .iter()
                    .filter(|c| !row.get(c).is_null())
                    .map(|c| ResultField {
                        field: c.clone(),
                        value: row.get(c).render(),
                    })
                    .collect()
            })
            .collect();
        QueryResults {
            rows,
            statistics: self.statistics,
        }
    }
}
