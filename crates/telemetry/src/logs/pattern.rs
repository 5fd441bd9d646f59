//! CloudWatch Logs filter patterns (FilterLogEvents, metric and subscription filters):
//! [`parse`] a pattern once, then ask [`Pattern::matches`] of each message. Three
//! languages, told apart by the first character:
//!
//! - terms (`ERROR "bad thing" ?WARN -DEBUG %time.?out%`): case-sensitive words and
//!   phrases, and regular expressions; every plain term must appear, at least one `?`
//!   term when there are any, no `-` term; the empty pattern matches everything;
//! - JSON (`{ $.level = "error" && $.latency > 100 }`): conditions on fields of messages
//!   that are JSON objects;
//! - space-delimited (`[ip, user, ..., status = 404, size > 1000]`): conditions on the
//!   space-separated fields of a message.

mod json;
mod space;
mod terms;
#[cfg(test)]
mod tests;
mod value;

use super::syntax::{Cursor, SyntaxError};

/// A parsed filter pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Terms(terms::Terms),
    Json(json::Expr),
    Space(space::Fields),
}

/// Why a pattern does not parse: what is wrong and where (AWS answers
/// `InvalidParameterException: Invalid filter pattern`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid filter pattern: {0}")]
pub struct PatternError(pub SyntaxError);

/// Parses a filter pattern.
pub fn parse(source: &str) -> Result<Pattern, PatternError> {
    let mut cursor = Cursor::new(source);
    cursor.skip_ws();
    let kind = match cursor.peek() {
        Some('{') => Kind::Json(json::parse(&mut cursor)?),
        Some('[') => Kind::Space(space::parse(&mut cursor)?),
        _ => Kind::Terms(terms::parse(&mut cursor)?),
    };
    if !cursor.at_end() {
        return Err(PatternError(
            cursor.error("unexpected text after the pattern"),
        ));
    }
    Ok(Pattern { kind })
}

impl Pattern {
    /// The pattern that matches every message (the empty one).
    pub fn all() -> Pattern {
        Pattern {
            kind: Kind::Terms(terms::Terms::default()),
        }
    }

    /// Whether `message` matches.
    pub fn matches(&self, message: &str) -> bool {
        match &self.kind {
            Kind::Terms(t) => t.matches(message),
            Kind::Json(e) => json::matches(e, message),
            Kind::Space(f) => f.matches(message),
        }
    }
}

impl From<SyntaxError> for PatternError {
    fn from(e: SyntaxError) -> Self {
        PatternError(e)
    }
}
