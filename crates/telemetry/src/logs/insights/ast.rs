//! A parsed query: its commands, the expressions they evaluate and the aggregations of
//! `stats`. Names an unaliased expression gets are its source text, as Insights names
//! result columns (`count(*)`, `bin(5m)`).

use super::value::Value;
use crate::logs::syntax::Comparison;
use regex::Regex;

#[derive(Debug, Clone)]
pub(crate) enum Command {
    /// `fields a, b, expr as c`: computes and shows these.
    Fields(Vec<Named>),
    /// `display a, b`: shows only these.
    Display(Vec<String>),
    Filter(Expr),
    /// `parse SOURCE "glob" as a, b` or `parse SOURCE /(?<a>..)/`: sets the named fields
    /// from the groups of `pattern` when it matches.
    Parse {
        source: Expr,
        pattern: Regex,
        names: Vec<String>,
    },
    /// Keys, descending when true.
    Sort(Vec<(Expr, bool)>),
    Limit(usize),
    Stats {
        aggregates: Vec<(Aggregate, String)>,
        by: Vec<Named>,
    },
}

/// An expression with the field name it is shown under.
#[derive(Debug, Clone)]
pub(crate) struct Named {
    pub expr: Expr,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Or,
    And,
    Compare(Comparison),
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    /// Contains this text.
    Text(String),
    Regex(Regex),
}

#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Field(String),
    Literal(Value),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `x like "text"`, `x like /re/`, `x =~ /re/`; negated with `not like`.
    Like(Box<Expr>, Matcher, bool),
    /// `x in [a, b]`; negated with `not in`.
    In(Box<Expr>, Vec<Expr>, bool),
    Call(Function, Vec<Expr>),
    /// `bin(5m)`: @timestamp rounded down to a multiple of this many milliseconds; on a
    /// row of `stats` (which has no @timestamp), the column named by its text.
    Bin(i64, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Function {
    IsPresent,
    IsEmpty,
    IsBlank,
    ToLower,
    ToUpper,
    Strlen,
    Trim,
    Concat,
    Coalesce,
    Abs,
    Floor,
    Ceil,
}

impl Function {
    pub(crate) fn named(name: &str) -> Option<(Function, usize, usize)> {
        // The function, and the fewest and most arguments it takes.
        Some(match name.to_ascii_lowercase().as_str() {
            "ispresent" => (Function::IsPresent, 1, 1),
            "isempty" => (Function::IsEmpty, 1, 1),
            "isblank" => (Function::IsBlank, 1, 1),
            "tolower" => (Function::ToLower, 1, 1),
            "toupper" => (Function::ToUpper, 1, 1),
            "strlen" => (Function::Strlen, 1, 1),
            "trim" => (Function::Trim, 1, 1),
            "concat" => (Function::Concat, 1, 64),
            "coalesce" => (Function::Coalesce, 1, 64),
            "abs" => (Function::Abs, 1, 1),
            "floor" => (Function::Floor, 1, 1),
            "ceil" => (Function::Ceil, 1, 1),
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Aggregate {
    /// `count(*)` (`None`) or `count(f)`: the rows where `f` is present.
    Count(Option<Expr>),
    CountDistinct(Expr),
    Sum(Expr),
    Avg(Expr),
    Min(Expr),
    Max(Expr),
}

impl Expr {
    /// Calls `f` with the name of every field the expression reads.
    pub(crate) fn fields(&self, f: &mut dyn FnMut(&str)) {
        match self {
            Expr::Field(name) => f(name),
            Expr::Literal(_) => {}
            Expr::Bin(_, _) => f("@timestamp"),
            Expr::Not(e) | Expr::Neg(e) | Expr::Like(e, _, _) => e.fields(f),
            Expr::Binary(_, a, b) => {
                a.fields(f);
                b.fields(f);
            }
            Expr::In(e, items, _) => {
                e.fields(f);
                items.iter().for_each(|i| i.fields(f));
            }
            Expr::Call(_, args) => args.iter().for_each(|a| a.fields(f)),
        }
    }
}

impl Command {
    /// Calls `f` with the name of every field the command reads.
    pub(crate) fn fields(&self, f: &mut dyn FnMut(&str)) {
        match self {
            Command::Fields(named) => named.iter().for_each(|n| n.expr.fields(f)),
            Command::Display(names) => names.iter().for_each(|n| f(n)),
            Command::Filter(e) => e.fields(f),
            Command::Parse { source, .. } => source.fields(f),
            Command::Sort(keys) => keys.iter().for_each(|(e, _)| e.fields(f)),
            Command::Limit(_) => {}
            Command::Stats { aggregates, by } => {
                for (aggregate, _) in aggregates {
                    match aggregate {
                        Aggregate::Count(None) => {}
                        Aggregate::Count(Some(e))
                        | Aggregate::CountDistinct(e)
                        | Aggregate::Sum(e)
                        | Aggregate::Avg(e)
                        | Aggregate::Min(e)
                        | Aggregate::Max(e) => e.fields(f),
                    }
                }
                by.iter().for_each(|n| n.expr.fields(f));
            }
        }
    }
}
