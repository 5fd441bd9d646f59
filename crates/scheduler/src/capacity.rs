//! Capacity provider strategies: how many of a request's tasks each provider of a
//! strategy gets, as ECS distributes them. The `base` of a provider is filled first (at
//! most one provider has one); the tasks beyond it go to the providers in proportion to
//! their `weight`, each next task to the provider furthest below its share. A provider of
//! weight 0 gets only its base.
//!
//! Tasks the caller already runs (a service's live tasks) count towards the bases and the
//! shares, so a service that scales out keeps its split.

/// One item of a strategy: the provider's base and weight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Share {
    pub base: u32,
    pub weight: u32,
}

/// How many of `count` new tasks each item of `shares` gets, given the tasks `existing[i]`
/// it already runs (missing entries count as none). The result has one entry per share and
/// sums to `count` unless no share has a weight and the bases are full (then the rest is
/// left out: a strategy with no weight cannot take them).
pub fn split(shares: &[Share], existing: &[u32], count: usize) -> Vec<usize> {
    let mut have: Vec<u64> = (0..shares.len())
        .map(|i| u64::from(existing.get(i).copied().unwrap_or(0)))
        .collect();
    let mut out = vec![0usize; shares.len()];
    for _ in 0..count {
        let Some(i) = next(shares, &have) else { break };
        have[i] += 1;
        out[i] += 1;
    }
    out
}

/// The provider the next task goes to: the first whose base is not full, else the one
/// whose tasks beyond its base, with this one, are the smallest multiple of its weight
/// (the largest remainder of its share); of equals the heavier, then the first.
fn next(shares: &[Share], have: &[u64]) -> Option<usize> {
    if let Some(i) = (0..shares.len()).find(|&i| have[i] < u64::from(shares[i].base)) {
        return Some(i);
    }
    let after = |i: usize| u128::from(have[i].saturating_sub(u64::from(shares[i].base)) + 1);
    let mut best: Option<usize> = None;
    for (i, s) in shares.iter().enumerate() {
        if s.weight == 0 {
            continue;
        }
        let better = match best {
            None => true,
            Some(b) => {
                // after_i / w_i against after_b / w_b, without division.
                let (wi, wb) = (u128::from(s.weight), u128::from(shares[b].weight));
                let (lhs, rhs) = (after(i) * wb, after(b) * wi);
                lhs < rhs || (lhs == rhs && s.weight > shares[b].weight)
            }
        };
        if better {
            best = Some(i);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn share(base: u32, weight: u32) -> Share {
        Share { base, weight }
    }

    #[test]
    fn base_first_then_weights() {
        // AWS's example: A base 1 weight 1, B weight 4: one on A, then one on A per four
        // on B.
        let s = [share(1, 1), share(0, 4)];
        assert_eq!(split(&s, &[], 1), vec![1, 0]);
        assert_eq!(split(&s, &[], 5), vec![1, 4]);
        assert_eq!(split(&s, &[], 6), vec![2, 4]);
        assert_eq!(split(&s, &[], 11), vec![3, 8]);
    }

    #[test]
    fn equal_weights_alternate_and_zero_weight_takes_only_its_base() {
        assert_eq!(split(&[share(0, 1), share(0, 1)], &[], 5), vec![3, 2]);
        assert_eq!(split(&[share(2, 0), share(0, 1)], &[], 5), vec![2, 3]);
        assert_eq!(split(&[share(2, 0)], &[], 5), vec![2]);
        assert_eq!(split(&[], &[], 3), Vec::<usize>::new());
    }

    #[test]
    fn existing_tasks_count_towards_base_and_shares() {
        let s = [share(2, 1), share(0, 1)];
        // The base is already full and A is one ahead: B catches up first.
        assert_eq!(split(&s, &[3, 0], 1), vec![0, 1]);
        assert_eq!(split(&s, &[3, 0], 3), vec![1, 2]);
        // Nothing running yet on a service that scales out from zero.
        assert_eq!(split(&s, &[0, 0], 4), vec![3, 1]);
    }

    proptest! {
        /// Every task goes somewhere when a weight exists; the base is met before any other
        /// provider gets a task; each provider's tasks beyond its base are at least its
        /// weighted share rounded down, and not far above it.
        #[test]
        fn split_keeps_base_and_proportions(
            weights in prop::collection::vec(0u32..5, 1..5),
            base in 0u32..6,
            count in 0usize..60,
        ) {
            let mut shares: Vec<Share> = weights.iter().map(|&w| share(0, w)).collect();
            shares[0].base = base;
            let got = split(&shares, &[], count);
            let total: u32 = weights.iter().sum();
            if total == 0 {
                prop_assert_eq!(got[0], count.min(base as usize));
                return Ok(());
            }
            prop_assert_eq!(got.iter().sum::<usize>(), count);
            let on_base = count.min(base as usize);
            prop_assert!(got[0] >= on_base);
            let rest = (count - on_base) as f64;
            for (i, s) in shares.iter().enumerate() {
                let beyond = got[i] - if i == 0 { on_base } else { 0 };
                let fair = rest * f64::from(s.weight) / f64::from(total);
                prop_assert!(beyond as f64 >= fair.floor() - 1e-9, "{:?} {:?} {}", shares, got, count);
                prop_assert!(beyond as f64 <= fair.ceil() + shares.len() as f64, "{:?} {:?} {}", shares, got, count);
            }
        }
    }
}
