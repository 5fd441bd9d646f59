//! GetMetricData's queries over the store: each `MetricStat` read as one statistic per
//! period, each expression evaluated with [`super::math`] over the other queries' results
//! (in any order, cycles refused), and the results of the queries that return data, in
//! request order. Paging and ordering of the answer are the API's.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use flotilla_model::cloudwatch::{MetricQuery, MetricStat};

use super::math::{self, Expr, MathError, Resolve, TimeSeries, Value};
pub use super::series::aligned_start;
use super::MetricStore;

/// Queries to run over `[start, end)` in `region`.
pub struct Request<'a> {
    pub region: &'a str,
    pub queries: &'a [MetricQuery],
    pub start: i64,
    pub end: i64,
    pub now: i64,
}

/// One series of the answer: a query's result (an expression that gives an array gives
/// one per member, all with the query's id).
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub id: String,
    pub label: String,
    /// Ascending by timestamp.
    pub points: Vec<(i64, f64)>,
}

/// One metric's statistic per period in `[start, end)`, labelled with the metric's name.
pub fn metric_series(
    store: &MetricStore,
    region: &str,
    stat: &MetricStat,
    start: i64,
    end: i64,
    now: i64,
) -> TimeSeries {
    let stats = store.statistics(
        region,
        &stat.metric,
        stat.unit.as_deref(),
        aligned_start(start, stat.period),
        end,
        stat.period,
        now,
    );
    TimeSeries {
        label: stat.metric.metric_name.clone(),
        points: stats
            .points
            .iter()
            .map(|p| (p.timestamp, p.set.get(stat.stat)))
            .collect(),
        period: stat.period,
    }
}

struct Resolver<'a> {
    store: &'a MetricStore,
    req: &'a Request<'a>,
    parsed: HashMap<&'a str, Rc<Expr>>,
    values: HashMap<String, Value>,
    visiting: HashSet<String>,
}

impl Resolver<'_> {
    fn query(&self, id: &str) -> Option<&MetricQuery> {
        self.req.queries.iter().find(|q| q.id == id)
    }

    /// The value of query `q`, kept for the expressions that refer to it when `keep`.
    fn value_of(&mut self, q: &MetricQuery, keep: bool) -> Result<Value, MathError> {
        if let Some(v) = self.values.get(&q.id) {
            return Ok(v.clone());
        }
        let v = match (&q.metric_stat, self.parsed.get(q.id.as_str()).cloned()) {
            (Some(stat), _) => {
                let mut s = metric_series(
                    self.store,
                    self.req.region,
                    stat,
                    self.req.start,
                    self.req.end,
                    self.req.now,
                );
                if let Some(l) = &q.label {
                    s.label = l.clone();
                }
                Value::Series(s)
            }
            (None, Some(expr)) => {
                if !self.visiting.insert(q.id.clone()) {
                    return Err(MathError(format!(
                        "Circular dependency: the expression {} refers to itself.",
                        q.id
                    )));
                }
                let v = math::eval(&expr, self).map_err(|e| in_expression(&q.id, e))?;
                self.visiting.remove(&q.id);
                label(v, q.label.as_deref().unwrap_or(&q.id))
            }
            (None, None) => Value::Array(Vec::new()),
        };
        if keep {
            self.values.insert(q.id.clone(), v.clone());
        }
        Ok(v)
    }
}

fn in_expression(id: &str, e: MathError) -> MathError {
    if e.0.starts_with("Error in expression") || e.0.starts_with("Circular") {
        e
    } else {
        MathError(format!("Error in expression {id}: {}", e.0))
    }
}

/// An expression's series takes its query's label; an array keeps its members'.
fn label(v: Value, l: &str) -> Value {
    match v {
        Value::Series(mut s) => {
            s.label = l.to_string();
            Value::Series(s)
        }
        other => other,
    }
}

impl Resolve for Resolver<'_> {
    fn id(&mut self, id: &str) -> Result<Option<Value>, MathError> {
        match self.query(id).cloned() {
            None => Ok(None),
            Some(q) => self.value_of(&q, true).map(Some),
        }
    }

    fn metrics(&mut self, prefix: &str) -> Result<Vec<TimeSeries>, MathError> {
        let stats: Vec<MetricQuery> = self
            .req
            .queries
            .iter()
            .filter(|q| q.metric_stat.is_some() && q.id.starts_with(prefix))
            .cloned()
            .collect();
        let mut out = Vec::new();
        for q in stats {
            if let Value::Series(s) = self.value_of(&q, true)? {
                out.push(s);
            }
        }
        Ok(out)
    }

    fn range(&self) -> (i64, i64) {
        (self.req.start, self.req.end)
    }
}

/// Whether an expression of `queries` may refer to the query `id` (by name, or through
/// `METRICS()`).
fn referenced(queries: &[MetricQuery], id: &str) -> bool {
    queries
        .iter()
        .filter_map(|q| q.expression.as_deref())
        .any(|e| e.contains(id) || e.contains("METRICS"))
}

/// Run every query; answer the results of those with `return_data`, in request order. An
/// error names the expression and what is wrong with it (CloudWatch's ValidationError).
pub fn run(store: &MetricStore, req: &Request<'_>) -> Result<Vec<Output>, MathError> {
    let mut parsed = HashMap::new();
    for q in req.queries {
        if let Some(e) = &q.expression {
            let expr = math::parse(e).map_err(|e| in_expression(&q.id, e))?;
            parsed.insert(q.id.as_str(), Rc::new(expr));
        }
    }
    let mut r = Resolver {
        store,
        req,
        parsed,
        values: HashMap::new(),
        visiting: HashSet::new(),
    };
    let mut out = Vec::new();
    for q in req.queries.iter().filter(|q| q.return_data) {
        // A result nothing else refers to is not kept (the answer takes it whole).
        let keep = referenced(req.queries, &q.id);
        match r.value_of(q, keep)? {
            Value::Series(s) => out.push(Output {
                id: q.id.clone(),
                label: s.label,
                points: s.points,
            }),
            Value::Array(a) => out.extend(a.into_iter().map(|s| Output {
                id: q.id.clone(),
                label: s.label,
                points: s.points,
            })),
            Value::Scalar(_) => {
                return Err(MathError(format!(
                    "Error in expression {}: the expression gives a single number; it must give a time series or an array of time series.",
                    q.id
                )))
            }
        }
    }
    Ok(out)
}
