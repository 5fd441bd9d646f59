//! Logs Insights queries, the common subset: `fields`, `filter`, `parse` (a glob with `*`
//! or a regex with named groups), `stats` (count, count_distinct, sum, avg, min, max,
//! by fields or `bin(period)`), `sort`, `limit` and `display`, chained with `|`, with `#`
//! comments. Fields of JSON messages are discovered as Insights does.
//!
//! [`parse`] a query once ([`QueryError`] is what the API answers as
//! `MalformedQueryException`), then [`Query::start`] a run, push it every event of the
//! time range, and [`Run::finish`] it for GetQueryResults' rows and statistics;
//! [`run_on_store`] does all of that over a [`LogStore`]'s groups.

mod ast;
mod eval;
mod exec;
mod expr;
mod parser;
mod stats;
#[cfg(test)]
mod tests;
mod value;

use super::store::{GroupId, LogStore, StoreError};
use super::syntax::SyntaxError;
use ast::{Command, Expr};
pub use exec::Run;

/// Rows a query answers when it says no `limit` (Insights' default).
pub const DEFAULT_LIMIT: usize = 1000;

/// Why a query does not parse: what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub SyntaxError);

/// A parsed query.
#[derive(Debug, Clone)]
pub struct Query {
    commands: Vec<Command>,
    /// The fields each result row shows, in order.
    columns: Vec<String>,
    plan: exec::Plan,
}

/// One event as a query sees it.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// `@log`: the log group as Insights names it (`ACCOUNT:GROUP`).
    pub log: &'a str,
    /// `@logStream`.
    pub stream: &'a str,
    pub timestamp: i64,
    pub ingestion_time: i64,
    pub message: &'a str,
}

/// GetQueryResults' `ResultField`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultField {
    pub field: String,
    pub value: String,
}

/// GetQueryResults' `QueryStatistics`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Statistics {
    /// Events that passed the query's event-level filters.
    pub records_matched: u64,
    pub records_scanned: u64,
    /// Bytes of the messages scanned.
    pub bytes_scanned: u64,
}

/// A query's answer: rows of fields (missing fields left out) and statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResults {
    pub rows: Vec<Vec<ResultField>>,
    pub statistics: Statistics,
}

/// Parses a query.
pub fn parse(source: &str) -> Result<Query, QueryError> {
    let mut commands = parser::parse(source).map_err(QueryError)?;
    let sorted = commands
        .iter()
        .any(|c| matches!(c, Command::Sort(_) | Command::Stats { .. }));
    if !sorted {
        // Without a sort Insights answers the newest events first.
        let newest = vec![(Expr::Field("@timestamp".to_owned()), true)];
        let at = exec::Plan::of(&commands, &[]).streaming();
        commands.insert(at, Command::Sort(newest));
    }
    let columns = columns(&commands);
    let plan = exec::Plan::of(&commands, &columns);
    Ok(Query {
        commands,
        columns,
        plan,
    })
}

/// The fields rows show: `display`'s, else those `fields`, `parse` and `stats` made,
/// else `@timestamp` and `@message`.
fn columns(commands: &[Command]) -> Vec<String> {
    let mut columns: Vec<String> = Vec::new();
    let add = |columns: &mut Vec<String>, name: &str| {
        if !columns.iter().any(|c| c == name) {
            columns.push(name.to_owned());
        }
    };
    for command in commands {
        match command {
            Command::Fields(named) => named.iter().for_each(|n| add(&mut columns, &n.name)),
            Command::Parse { names, .. } => names.iter().for_each(|n| add(&mut columns, n)),
            Command::Stats { aggregates, by } => {
                columns.clear();
                by.iter().for_each(|n| add(&mut columns, &n.name));
                aggregates.iter().for_each(|(_, n)| add(&mut columns, n));
            }
            Command::Display(names) => {
                columns.clear();
                names.iter().for_each(|n| add(&mut columns, n));
            }
            _ => {}
        }
    }
    if columns.is_empty() {
        columns = vec!["@timestamp".to_owned(), "@message".to_owned()];
    }
    columns
}

impl Query {
    /// Starts a run that answers at most `limit` rows ([`DEFAULT_LIMIT`] when `None`)
    /// unless the query says `limit` itself.
    pub fn start(&self, limit: Option<usize>) -> Run<'_> {
        Run::new(self, limit.unwrap_or(DEFAULT_LIMIT).max(1))
    }
}

/// Runs `query` over the events of `groups` (each with its `@log` name) in
/// `[start, end)` (ms since the epoch).
pub fn run_on_store(
    store: &LogStore,
    query: &Query,
    groups: &[(GroupId, &str)],
    (start, end): (i64, i64),
    limit: Option<usize>,
) -> Result<QueryResults, StoreError> {
    let mut run = query.start(limit);
    for (group, log) in groups {
        store.scan_group(*group, start, end, &mut |stream, event| {
            run.push(&Record {
                log,
                stream,
                timestamp: event.timestamp,
                ingestion_time: event.ingestion_time,
                message: &event.message,
            });
            true
        })?;
    }
    Ok(run.finish())
}
