//! Terms patterns over unstructured messages: plain terms (all must appear), `?` terms
//! (one must appear, when there are any), `-` terms (none may appear). A term is a bare
//! word or a quoted phrase, matched case-sensitively as whole words (`ERROR` is found in
//! `[ERROR]` and `ERROR:` but not in `ERRORS`: that takes a regex), or a `%regex%`,
//! matched anywhere.

use crate::logs::syntax::{Cursor, SyntaxError};
use regex::Regex;

#[derive(Debug, Clone)]
enum Term {
    Text(String),
    Regex(Regex),
}

impl Term {
    fn found(&self, message: &str) -> bool {
        match self {
            Term::Text(t) => {
                let open = |edge: Option<char>, inner: Option<char>| {
                    !(inner.is_some_and(is_word) && edge.is_some_and(is_word))
                };
                // Every place it occurs, overlapping ones included.
                let mut from = 0;
                while let Some(i) = message[from..].find(t.as_str()) {
                    let at = from + i;
                    let before = message[..at].chars().next_back();
                    let after = message[at + t.len()..].chars().next();
                    if open(before, t.chars().next()) && open(after, t.chars().next_back()) {
                        return true;
                    }
                    from = at + message[at..].chars().next().map_or(1, char::len_utf8);
                }
                false
            }
            Term::Regex(r) => r.is_match(message),
        }
    }
}

/// Characters that make up words; any other separates them.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Terms {
    all: Vec<Term>,
    any: Vec<Term>,
    none: Vec<Term>,
}

pub(crate) fn parse(cursor: &mut Cursor) -> Result<Terms, SyntaxError> {
    let mut terms = Terms::default();
    while !cursor.at_end() {
        let list = match cursor.peek() {
            Some('?') => {
                cursor.bump();
                &mut terms.any
            }
            Some('-') if cursor.rest().len() > 1 => {
                cursor.bump();
                &mut terms.none
            }
            _ => &mut terms.all,
        };
        let term = match cursor.peek() {
            Some('"') => Term::Text(cursor.quoted('"')?),
            Some('%') => Term::Regex(cursor.regex('%')?),
            Some(c) if c.is_whitespace() => return Err(cursor.error("expected a term")),
            None => return Err(cursor.error("expected a term")),
            _ => {
                let word = cursor.word(|c| !c.is_whitespace());
                if let Some(i) = word.find(['"', '{', '}']) {
                    let mark = cursor.offset() - word[i..].len();
                    let message = format!(
                        "unexpected '{}' in term '{word}' (put a term with such characters in double quotes)",
                        &word[i..i + 1]
                    );
                    return Err(cursor.error_at(mark, message));
                }
                Term::Text(word.to_owned())
            }
        };
        list.push(term);
    }
    Ok(terms)
}

impl Terms {
    pub(crate) fn matches(&self, message: &str) -> bool {
        self.all.iter().all(|t| t.found(message))
            && (self.any.is_empty() || self.any.iter().any(|t| t.found(message)))
            && !self.none.iter().any(|t| t.found(message))
    }
}
