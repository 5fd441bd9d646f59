//! Parsing a query: commands separated by `|`, `#` comments, and each command's
//! arguments; errors say what was expected, what was found and at which column.

use super::ast::{Aggregate, Command, Expr, Named};
use super::expr::{self, arguments, field_name};
use crate::logs::syntax::{Cursor, SyntaxError};
use regex::Regex;

/// The most rows `limit` may ask for.
const MAX_LIMIT: usize = 10_000;

pub(crate) fn parse(source: &str) -> Result<Vec<Command>, SyntaxError> {
    let mut c = Cursor::with_comments(source);
    let mut commands = Vec::new();
    loop {
        if c.at_end() {
            if commands.is_empty() {
                return Err(c.error(
                    "expected a command (fields, filter, stats, sort, limit, parse, display)",
                ));
            }
            return Ok(commands);
        }
        if !commands.is_empty() {
            c.expect("|", "'|' between commands")?;
        }
        commands.push(command(&mut c)?);
    }
}

fn command(c: &mut Cursor) -> Result<Command, SyntaxError> {
    c.skip_ws();
    let start = c.offset();
    let mark = c.offset();
    let name = c.word(|ch| ch.is_ascii_alphabetic());
    Ok(match name.to_ascii_lowercase().as_str() {
        "fields" => Command::Fields(list(c, named)?),
        "display" => Command::Display(list(c, field_name)?),
        "filter" => Command::Filter(expr::expr(c)?),
        "sort" => Command::Sort(list(c, sort_key)?),
        "limit" => Command::Limit(limit(c)?),
        "stats" => stats(c)?,
        "parse" => parse_command(c)?,
        _ => {
            let found = c.since(start);
            let message = format!(
                "unknown command '{found}' (expected fields, filter, stats, sort, limit, parse or display)"
            );
            return Err(c.error_at(mark, message));
        }
    })
}

/// One or more items separated by commas.
fn list<T>(
    c: &mut Cursor,
    mut item: impl FnMut(&mut Cursor) -> Result<T, SyntaxError>,
) -> Result<Vec<T>, SyntaxError> {
    let mut items = vec![item(c)?];
    while c.eat(",") {
        items.push(item(c)?);
    }
    Ok(items)
}

/// `expr [as name]`, named by its text when not aliased.
fn named(c: &mut Cursor) -> Result<Named, SyntaxError> {
    c.skip_ws();
    let start = c.offset();
    let expr = expr::expr(c)?;
    let text = c.since(start).to_owned();
    let name = if c.eat_keyword("as") {
        field_name(c)?
    } else {
        text
    };
    Ok(Named { expr, name })
}

fn sort_key(c: &mut Cursor) -> Result<(Expr, bool), SyntaxError> {
    let key = expr::expr(c)?;
    let descending = if c.eat_keyword("desc") {
        true
    } else {
        c.eat_keyword("asc");
        false
    };
    Ok((key, descending))
}

fn limit(c: &mut Cursor) -> Result<usize, SyntaxError> {
    c.skip_ws();
    let mark = c.offset();
    let word = c.word(|ch| ch.is_ascii_digit());
    match word.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ if word.is_empty() => Err(c.error("expected a number of rows after limit")),
        _ => Err(c.error_at(mark, format!("limit must be 1 to {MAX_LIMIT}"))),
    }
}

fn stats(c: &mut Cursor) -> Result<Command, SyntaxError> {
    let aggregates = list(c, |c| {
        c.skip_ws();
        let start = c.offset();
        let aggregate = aggregate(c)?;
        let text = c.since(start).to_owned();
        let name = if c.eat_keyword("as") {
            field_name(c)?
        } else {
            text
        };
        Ok((aggregate, name))
    })?;
    let by = if c.eat_keyword("by") {
        list(c, named)?
    } else {
        Vec::new()
    };
    Ok(Command::Stats { aggregates, by })
}

fn aggregate(c: &mut Cursor) -> Result<Aggregate, SyntaxError> {
    let mark = c.offset();
    let name = c.word(|ch| ch.is_ascii_alphanumeric() || ch == '_');
    let lower = name.to_ascii_lowercase();
    c.expect("(", &format!("'(' after {name}"))?;
    if lower == "count" && (c.eat("*") || c.rest().trim_start().starts_with(')')) {
        c.expect(")", "')'")?;
        return Ok(Aggregate::Count(None));
    }
    let mut args = arguments(c)?;
    if args.len() != 1 {
        return Err(c.error_at(mark, format!("{name} takes one argument")));
    }
    let arg = args.remove(0);
    Ok(match lower.as_str() {
        "count" => Aggregate::Count(Some(arg)),
        "count_distinct" => Aggregate::CountDistinct(arg),
        "sum" => Aggregate::Sum(arg),
        "avg" => Aggregate::Avg(arg),
        "min" => Aggregate::Min(arg),
        "max" => Aggregate::Max(arg),
        _ => {
            let message = format!(
                "unknown aggregation '{name}' (expected count, count_distinct, sum, avg, min or max)"
            );
            return Err(c.error_at(mark, message));
        }
    })
}

/// `parse [field] "glob with * and *" as a, b` or `parse [field] /(?<a>...)/`.
fn parse_command(c: &mut Cursor) -> Result<Command, SyntaxError> {
    c.skip_ws();
    let source = match c.peek() {
        Some('"' | '\'' | '/') => Expr::Field("@message".to_owned()),
        _ => Expr::Field(field_name(c)?),
    };
    c.skip_ws();
    let mark = c.offset();
    if c.peek() == Some('/') {
        let super::ast::Matcher::Regex(pattern) = expr::regex(c)? else {
            unreachable!("expr::regex reads a regular expression")
        };
        let names: Vec<String> = pattern
            .capture_names()
            .flatten()
            .map(str::to_owned)
            .collect();
        if names.is_empty() {
            let message = "the regular expression names no group (such as (?<name>...))".to_owned();
            return Err(c.error_at(mark, message));
        }
        return Ok(Command::Parse {
            source,
            pattern,
            names,
        });
    }
    let glob = expr::string(c)?;
    if !c.eat_keyword("as") {
        return Err(c.error("expected 'as' and the names of the fields the pattern's * fill"));
    }
    let names = list(c, field_name)?;
    let stars = glob.matches('*').count();
    if stars != names.len() {
        let message = format!(
            "the pattern has {stars} '*' but {} names follow 'as'",
            names.len()
        );
        return Err(c.error_at(mark, message));
    }
    Ok(Command::Parse {
        source,
        pattern: glob_regex(&glob),
        names,
    })
}

/// A regex that captures what each `*` of `glob` stands for (the last one greedily when
/// it ends the pattern).
fn glob_regex(glob: &str) -> Regex {
    let parts: Vec<&str> = glob.split('*').collect();
    let mut source = String::from("(?s)");
    for (i, part) in parts.iter().enumerate() {
        source.push_str(&regex::escape(part));
        if i + 1 < parts.len() {
            let greedy = i + 2 == parts.len() && parts[i + 1].is_empty();
            source.push_str(if greedy { "(.*)" } else { "(.*?)" });
        }
    }
    Regex::new(&source).unwrap_or_else(|_| Regex::new("$^").expect("a valid regex"))
}
