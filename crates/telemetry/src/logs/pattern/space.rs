//! Space-delimited patterns: `[name, name op value, ..., name op value || name op value]`
//! against the fields of a message split on spaces, where text in double quotes or
//! square brackets is one field. `...` stands for any number of fields; without one the
//! message must have exactly as many fields as the pattern.

use super::value::{self, Field, Literal, Op};
use crate::logs::syntax::{Cursor, SyntaxError};

#[derive(Debug, Clone)]
enum Slot {
    /// `...`: any number of fields.
    Any,
    /// One field, with conditions: alternatives (`||`) of conjunctions (`&&`); none when
    /// the slot only names the field.
    One(Vec<Vec<(Op, Literal)>>),
}

#[derive(Debug, Clone)]
pub(crate) struct Fields(Vec<Slot>);

/// What ends a bare value inside a space-delimited pattern.
const STOPS: &str = ",]&|";

pub(crate) fn parse(cursor: &mut Cursor) -> Result<Fields, SyntaxError> {
    cursor.expect("[", "'['")?;
    let mut slots = Vec::new();
    if cursor.eat("]") {
        return Ok(Fields(slots));
    }
    loop {
        slots.push(slot(cursor)?);
        if cursor.eat("]") {
            return Ok(Fields(slots));
        }
        cursor.expect(",", "',' or ']'")?;
    }
}

fn slot(cursor: &mut Cursor) -> Result<Slot, SyntaxError> {
    if cursor.eat("...") {
        return Ok(Slot::Any);
    }
    let mut alternatives = Vec::new();
    let mut conjunction = Vec::new();
    loop {
        cursor.skip_ws();
        let name = cursor.word(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.');
        if name.is_empty() {
            return Err(cursor.error("expected a field name or '...'"));
        }
        if let Some(op) = value::op(cursor) {
            conjunction.push((op, value::literal(cursor, op, STOPS)?));
        } else if !conjunction.is_empty() || !alternatives.is_empty() {
            return Err(cursor.error("expected a comparison after the field name"));
        }
        if cursor.eat("&&") {
            continue;
        }
        alternatives.push(std::mem::take(&mut conjunction));
        if !cursor.eat("||") {
            break;
        }
    }
    alternatives.retain(|c| !c.is_empty());
    Ok(Slot::One(alternatives))
}

/// Splits a message into fields: on spaces, keeping `"..."` and `[...]` together.
fn split(message: &str) -> Vec<&str> {
    let mut fields = Vec::new();
    let mut rest = message.trim_start();
    while !rest.is_empty() {
        let close = match rest.as_bytes()[0] {
            b'"' => Some('"'),
            b'[' => Some(']'),
            _ => None,
        };
        let (field, tail) = match close.and_then(|c| rest[1..].find(c).map(|i| (c, i))) {
            Some((_, i)) => (&rest[1..1 + i], &rest[2 + i..]),
            None => {
                let end = rest.find(' ').unwrap_or(rest.len());
                (&rest[..end], &rest[end..])
            }
        };
        fields.push(field);
        rest = tail.trim_start();
    }
    fields
}

impl Slot {
    fn accepts(&self, field: &str) -> bool {
        match self {
            Slot::Any => true,
            Slot::One(alternatives) => {
                alternatives.is_empty()
                    || alternatives.iter().any(|all| {
                        all.iter()
                            .all(|(op, lit)| lit.compare(*op, &Field::Text(field)))
                    })
            }
        }
    }
}

impl Fields {
    pub(crate) fn matches(&self, message: &str) -> bool {
        let fields = split(message);
        // can[j]: the slots so far can cover the first j fields.
        let mut can = vec![false; fields.len() + 1];
        can[0] = true;
        for slot in &self.0 {
            let mut next = vec![false; fields.len() + 1];
            for j in 0..=fields.len() {
                next[j] = match slot {
                    Slot::Any => can[j] || (j > 0 && next[j - 1]),
                    Slot::One(_) => j > 0 && can[j - 1] && slot.accepts(fields[j - 1]),
                };
            }
            can = next;
        }
        can[fields.len()]
    }
}
