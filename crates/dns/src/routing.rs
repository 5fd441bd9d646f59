//! Route 53's routing policies: which of the record sets of one name and type a query
//! answers with. Pure; the random source is passed in so tests can seed it.
//!
//! - Simple: the set (the first, should the control plane ever send two).
//! - Weighted: one set, at random in proportion to its weight among the candidates; a
//!   weight of 0 is chosen only when every candidate's weight is 0 (then uniformly).
//! - MultiValue: up to [`MULTIVALUE_MAX`] candidates at random, their values together.
//!
//! The candidates are the healthy sets, or every set when none is healthy (fail open, as
//! Route 53 does). Should one name and type mix policies, Simple wins over Weighted, which
//! wins over MultiValue.

use rand::seq::IndexedRandom;
use rand::Rng;

use crate::table::{Choice, Pick};

/// At most this many sets answer a multivalue query.
pub(crate) const MULTIVALUE_MAX: usize = 8;

/// The sets that answer this query.
pub(crate) fn choose<'c, R: Rng + ?Sized>(choices: &'c [Choice], rng: &mut R) -> Vec<&'c Choice> {
    if let Some(simple) = simple(choices) {
        return vec![simple];
    }
    let weighted: Vec<&Choice> = choices
        .iter()
        .filter(|c| matches!(c.pick, Pick::Weighted(_)))
        .collect();
    if !weighted.is_empty() {
        return pick_weighted(&candidates(weighted), rng)
            .into_iter()
            .collect();
    }
    let multi: Vec<&Choice> = choices
        .iter()
        .filter(|c| c.pick == Pick::MultiValue)
        .collect();
    candidates(multi)
        .choose_multiple(rng, MULTIVALUE_MAX)
        .copied()
        .collect()
}

/// [`choose`], calling `f` with each set chosen: the usual single simple set without
/// collecting anything.
pub(crate) fn for_each_chosen<'c, R: Rng + ?Sized>(
    choices: &'c [Choice],
    rng: &mut R,
    mut f: impl FnMut(&'c Choice),
) {
    match simple(choices) {
        Some(simple) => f(simple),
        None => choose(choices, rng).into_iter().for_each(f),
    }
}

/// The simple set, which wins over every other policy.
fn simple(choices: &[Choice]) -> Option<&Choice> {
    choices.iter().find(|c| c.pick == Pick::Simple)
}

/// The healthy sets, or all of them when none is.
fn candidates(sets: Vec<&Choice>) -> Vec<&Choice> {
    if sets.iter().any(|c| c.healthy) {
        sets.into_iter().filter(|c| c.healthy).collect()
    } else {
        sets
    }
}

fn weight(c: &Choice) -> u32 {
    match c.pick {
        Pick::Weighted(w) => u32::from(w),
        _ => 0,
    }
}

fn pick_weighted<'c, R: Rng + ?Sized>(sets: &[&'c Choice], rng: &mut R) -> Option<&'c Choice> {
    let total: u32 = sets.iter().map(|c| weight(c)).sum();
    if total == 0 {
        return sets.choose(rng).copied();
    }
    let mut ticket = rng.random_range(0..total);
    for c in sets {
        let w = weight(c);
        if ticket < w {
            return Some(c);
        }
        ticket -= w;
    }
    sets.last().copied()
}

#[cfg(test)]
mod tests;
