//! The ECS cluster query language: the expressions of `memberOf` placement constraints and
//! of the `ListContainerInstances` filter, e.g.
//! `attribute:ecs.instance-type =~ t2.* and task:group != service:batch`.
//!
//! This module owns the syntax tree ([`Expr`]), the parser ([`parse`]), the evaluator
//! ([`Expr::matches`]) and the normalised printed form (`Display`). It knows nothing of
//! container instances: evaluation reads them through the [`Subject`] trait, so the
//! scheduler and the API layer can each supply their own view.
//!
//! Choices where the AWS guide is silent, in one place:
//! - **Positions** in error messages are 1-based character columns; the end of the input is
//!   column `length + 1`.
//! - **Keywords** (`and`, `or`, `not`, `in`, `exists`, `equals`, `not_in`, ...) and the
//!   built-in subject names are case-insensitive; attribute names and values are not.
//! - **Quoted values** (`'...'` or `"..."`) are literal; a quote is written inside them by
//!   doubling it (`'it''s'`). A `*` in a *bare* value of `==`, `!=`, `in` and `not in`
//!   matches any run of characters; in a quoted value it is a plain star.
//! - **`=~` / `matches`** uses whole-value semantics like Java's `String.matches`: `t2.*`
//!   matches `t2.micro` but `t2` does not. The syntax is the `regex` crate's, which covers
//!   Java's except backreferences and look-around; patterns are compiled once, by `parse`.
//! - **Ordering** (`>`, `>=`, `<`, `<=`): `registeredAt` compares instants; `agentVersion`
//!   compares dotted versions part by part; otherwise two numbers compare numerically,
//!   two dotted versions part by part, and anything else by code point.
//! - **Missing subjects**: a comparison on a missing attribute or unknown built-in is false,
//!   except the negative operators `!=`, `not in`, `!~` and `!exists`, which hold. For
//!   `task:group` the positive operators hold when *any* task's group satisfies them and
//!   the negative ones when *none* does.
//! - **Operators per subject** follow the guide: the built-ins and `task:group` accept only
//!   the operators it lists for them (no `exists` on `task:group`, no `=~` on
//!   `registeredAt`, ...); `registeredAt` needs a date argument and `runningTasksCount` a
//!   whole number.

use std::fmt;

use regex::{Regex, RegexBuilder};

use crate::error::ModelError;

mod eval;
mod lexer;
mod parser;

#[cfg(test)]
mod tests;

/// The longest expression AWS accepts, in characters.
pub const MAX_LENGTH: usize = 2000;

/// How deeply parentheses and `not` may nest; deeper input is rejected rather than risking
/// the stack.
pub const MAX_DEPTH: usize = 64;

/// Parses a cluster query language expression.
///
/// Fails with an `InvalidParameterException` naming the 1-based position and what was
/// expected there, e.g. `Invalid filter expression at position 19: expected a value after
/// '==', found the end of the expression.`
pub fn parse(expr: &str) -> Result<Expr, ModelError> {
    parser::parse(expr)
}

/// What an expression is evaluated against: one container instance.
pub trait Subject {
    /// The value of attribute `name` (`ecs.instance-type`, `stack`, ...), if the instance has it.
    fn attribute(&self, name: &str) -> Option<String>;
    /// The value of a built-in field, by the name the language uses: `agentConnected`
    /// (`true`/`false`), `agentVersion`, `ec2InstanceId`, `registeredAt` (RFC 3339 or epoch
    /// seconds) or `runningTasksCount`; `None` when unknown.
    fn builtin(&self, name: &str) -> Option<String>;
    /// The groups of the tasks on the instance (`service:web`, `family:db`, ...).
    fn task_groups(&self) -> Vec<String>;
}

/// A parsed expression. `parse` flattens chains (`a and b and c` is one `And` of three) and
/// never produces an empty or one-element `And`/`Or`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// `subject operator [argument]`.
    Compare(Comparison),
    /// `not e` / `!e`.
    Not(Box<Expr>),
    /// All of the parts hold.
    And(Vec<Expr>),
    /// Any of the parts holds.
    Or(Vec<Expr>),
}

/// One `subject operator [argument]` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub field: Field,
    pub predicate: Predicate,
}

/// The subject of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// `attribute:NAME`.
    Attribute(String),
    /// `agentConnected`.
    AgentConnected,
    /// `agentVersion`.
    AgentVersion,
    /// `ec2InstanceId`.
    Ec2InstanceId,
    /// `registeredAt`.
    RegisteredAt,
    /// `runningTasksCount`.
    RunningTasksCount,
    /// `task:group`: the groups of the tasks on the instance.
    TaskGroup,
}

/// The operator of a comparison, with its argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Predicate {
    /// `==`, `equals`.
    Equals(Value),
    /// `!=`, `not_equals`.
    NotEquals(Value),
    /// `>`, `greater_than`.
    GreaterThan(Value),
    /// `>=`, `greater_than_equal`.
    GreaterThanEqual(Value),
    /// `<`, `less_than`.
    LessThan(Value),
    /// `<=`, `less_than_equal`.
    LessThanEqual(Value),
    /// `exists`.
    Exists,
    /// `!exists`, `not_exists`, `not exists`.
    NotExists,
    /// `in [a, b]`.
    In(Vec<Value>),
    /// `!in`, `not_in`, `not in`.
    NotIn(Vec<Value>),
    /// `=~`, `matches`.
    Matches(Pattern),
    /// `!~`, `not_matches`, `not matches`.
    NotMatches(Pattern),
}

/// A literal argument. A wildcard value came from a bare word containing `*`, where each
/// `*` matches any run of characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    text: String,
    wildcard: bool,
}

/// A regular expression argument, compiled once and anchored at both ends.
#[derive(Clone)]
pub struct Pattern {
    source: String,
    anchored: Regex,
}

// === impl Value ===

impl Value {
    /// A value compared verbatim.
    pub fn literal(text: impl Into<String>) -> Self {
        Value {
            text: text.into(),
            wildcard: false,
        }
    }

    /// A value in which each `*` matches any run of characters.
    pub fn wildcard(text: impl Into<String>) -> Self {
        let text = text.into();
        let wildcard = text.contains('*');
        Value { text, wildcard }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }
}

// === impl Pattern ===

/// Bounds on a compiled pattern, so a short pattern cannot ask for a huge automaton.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl Pattern {
    /// Compiles `source` for whole-value matching. The error says why it is not a pattern.
    pub fn new(source: &str) -> Result<Self, regex::Error> {
        let build = |pattern: &str| {
            RegexBuilder::new(pattern)
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_SIZE_LIMIT)
                .build()
        };
        // Compiling the bare source first rejects input like `a)|(b` that would otherwise
        // break out of the anchoring group below.
        build(source)?;
        let anchored = build(&format!("^(?:{source})$"))?;
        Ok(Pattern {
            source: source.to_owned(),
            anchored,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the whole of `text` matches.
    pub fn is_match(&self, text: &str) -> bool {
        self.anchored.is_match(text)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Pattern {}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pattern").field(&self.source).finish()
    }
}

// === impl Field ===

impl Field {
    /// The name [`Subject::builtin`] is asked for, for the built-in fields.
    pub fn builtin_name(&self) -> Option<&'static str> {
        match self {
            Field::AgentConnected => Some("agentConnected"),
            Field::AgentVersion => Some("agentVersion"),
            Field::Ec2InstanceId => Some("ec2InstanceId"),
            Field::RegisteredAt => Some("registeredAt"),
            Field::RunningTasksCount => Some("runningTasksCount"),
            Field::Attribute(_) | Field::TaskGroup => None,
        }
    }
}

// === impl Display ===

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Compare(c) => c.fmt(f),
            Expr::Not(inner) => write!(f, "not ({inner})"),
            Expr::And(parts) => join(f, parts, " and "),
            Expr::Or(parts) => join(f, parts, " or "),
        }
    }
}

/// Writes `parts` separated by `sep`, parenthesising nested chains so the structure reads
/// back unchanged.
fn join(f: &mut fmt::Formatter<'_>, parts: &[Expr], sep: &str) -> fmt::Result {
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        match part {
            Expr::And(_) | Expr::Or(_) => write!(f, "({part})")?,
            _ => write!(f, "{part}")?,
        }
    }
    Ok(())
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.predicate)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Attribute(name) => write!(f, "attribute:{name}"),
            Field::TaskGroup => f.write_str("task:group"),
            builtin => f.write_str(builtin.builtin_name().unwrap_or_default()),
        }
    }
}

impl fmt::Display for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Predicate::Equals(v) => write!(f, "== {v}"),
            Predicate::NotEquals(v) => write!(f, "!= {v}"),
            Predicate::GreaterThan(v) => write!(f, "> {v}"),
            Predicate::GreaterThanEqual(v) => write!(f, ">= {v}"),
            Predicate::LessThan(v) => write!(f, "< {v}"),
            Predicate::LessThanEqual(v) => write!(f, "<= {v}"),
            Predicate::Exists => f.write_str("exists"),
            Predicate::NotExists => f.write_str("!exists"),
            Predicate::In(values) => write!(f, "in {}", List(values)),
            Predicate::NotIn(values) => write!(f, "not_in {}", List(values)),
            Predicate::Matches(p) => write!(
                f,
                "=~ {}",
                Written {
                    text: &p.source,
                    stars_are_wildcards: true
                }
            ),
            Predicate::NotMatches(p) => write!(
                f,
                "!~ {}",
                Written {
                    text: &p.source,
                    stars_are_wildcards: true
                }
            ),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Written {
            text: &self.text,
            stars_are_wildcards: self.wildcard,
        }
        .fmt(f)
    }
}

/// An argument list, `[a, b, c]`.
struct List<'a>(&'a [Value]);

impl fmt::Display for List<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{v}")?;
        }
        f.write_str("]")
    }
}

/// A value as it must be written to read back the same: bare when it is a bare word (and
/// any `*` in it is meant as a wildcard), else quoted with embedded quotes doubled.
struct Written<'a> {
    text: &'a str,
    stars_are_wildcards: bool,
}

impl fmt::Display for Written<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Written {
            text,
            stars_are_wildcards,
        } = *self;
        let bare = !text.is_empty()
            && text.chars().all(lexer::is_word_char)
            && (stars_are_wildcards || !text.contains('*'));
        if bare {
            return f.write_str(text);
        }
        let quote = if text.contains('\'') && !text.contains('"') {
            '"'
        } else {
            '\''
        };
        let doubled = format!("{quote}{quote}");
        write!(f, "{quote}{}{quote}", text.replace(quote, &doubled))
    }
}
