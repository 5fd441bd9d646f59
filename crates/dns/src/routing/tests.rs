use std::collections::HashMap;
use std::net::Ipv4Addr;

use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;

fn set(pick: Pick, healthy: bool, last_octet: u8) -> Choice {
    Choice {
        pick,
        healthy,
        records: vec![Record::from_rdata(
            Name::root(),
            60,
            RData::A(A(Ipv4Addr::new(192, 0, 2, last_octet))),
        )],
    }
}

fn octet(c: &Choice) -> u8 {
    match &c.records[0].data {
        RData::A(a) => a.0.octets()[3],
        _ => 0,
    }
}

/// How often each set is chosen over `n` draws.
fn tally(choices: &[Choice], n: usize) -> HashMap<u8, usize> {
    let mut rng = StdRng::seed_from_u64(7);
    let mut out = HashMap::new();
    for _ in 0..n {
        for c in choose(choices, &mut rng) {
            *out.entry(octet(c)).or_default() += 1;
        }
    }
    out
}

#[test]
fn simple_is_the_set() {
    let sets = [set(Pick::Simple, false, 1)];
    assert_eq!(tally(&sets, 10), HashMap::from([(1, 10)]));
}

#[test]
fn weights_set_the_proportions_and_zero_is_never_chosen() {
    let sets = [
        set(Pick::Weighted(1), true, 1),
        set(Pick::Weighted(3), true, 3),
        set(Pick::Weighted(0), true, 99),
    ];
    let t = tally(&sets, 40_000);
    assert_eq!(t.get(&99), None);
    let one = t[&1] as f64 / 40_000.0;
    assert!((0.23..0.27).contains(&one), "{t:?}");
}

#[test]
fn all_zero_weights_are_equally_likely() {
    let sets = [
        set(Pick::Weighted(0), true, 1),
        set(Pick::Weighted(0), true, 2),
    ];
    let t = tally(&sets, 10_000);
    assert!((4_500..5_500).contains(&t[&1]), "{t:?}");
}

#[test]
fn unhealthy_sets_are_skipped_unless_all_are() {
    let sets = [
        set(Pick::Weighted(100), false, 1),
        set(Pick::Weighted(1), true, 2),
        set(Pick::Weighted(0), true, 3),
    ];
    assert_eq!(tally(&sets, 1_000), HashMap::from([(2, 1_000)]));
    // Healthy ones of weight 0 answer when every healthy nonzero one is gone.
    let sets = [
        set(Pick::Weighted(5), false, 1),
        set(Pick::Weighted(0), true, 3),
    ];
    assert_eq!(tally(&sets, 100), HashMap::from([(3, 100)]));
    // None healthy: all are candidates, by weight.
    let sets = [
        set(Pick::Weighted(1), false, 1),
        set(Pick::Weighted(1), false, 2),
    ];
    let t = tally(&sets, 1_000);
    assert!(t[&1] > 300 && t[&2] > 300, "{t:?}");
}

#[test]
fn multivalue_takes_at_most_eight_healthy_sets() {
    let mut sets: Vec<Choice> = (1..=12).map(|i| set(Pick::MultiValue, true, i)).collect();
    sets.push(set(Pick::MultiValue, false, 200));
    let mut rng = StdRng::seed_from_u64(1);
    for _ in 0..100 {
        let chosen = choose(&sets, &mut rng);
        assert_eq!(chosen.len(), MULTIVALUE_MAX);
        let mut octets: Vec<u8> = chosen.iter().map(|c| octet(c)).collect();
        assert!(!octets.contains(&200));
        octets.sort();
        octets.dedup();
        assert_eq!(octets.len(), MULTIVALUE_MAX, "no set twice");
    }
    let sick = [
        set(Pick::MultiValue, false, 1),
        set(Pick::MultiValue, false, 2),
    ];
    assert_eq!(tally(&sick, 10), HashMap::from([(1, 10), (2, 10)]));
}

#[test]
fn simple_wins_over_weighted_which_wins_over_multivalue() {
    let sets = [
        set(Pick::MultiValue, true, 3),
        set(Pick::Weighted(1), true, 2),
        set(Pick::Simple, true, 1),
    ];
    assert_eq!(tally(&sets, 10), HashMap::from([(1, 10)]));
    assert_eq!(tally(&sets[..2], 10), HashMap::from([(2, 10)]));
}

proptest! {
    #[test]
    fn a_choice_is_always_among_the_candidates(
        sets in proptest::collection::vec((0u8..3, any::<u8>(), any::<bool>()), 0..20),
        seed in any::<u64>(),
    ) {
        let choices: Vec<Choice> = sets
            .iter()
            .enumerate()
            .map(|(i, &(kind, weight, healthy))| {
                let pick = match kind {
                    0 => Pick::Simple,
                    1 => Pick::Weighted(weight),
                    _ => Pick::MultiValue,
                };
                set(pick, healthy, i as u8)
            })
            .collect();
        let mut rng = StdRng::seed_from_u64(seed);
        let chosen = choose(&choices, &mut rng);
        prop_assert!(chosen.len() <= MULTIVALUE_MAX);
        prop_assert_eq!(chosen.is_empty(), choices.is_empty());
        let any_weighted_healthy_nonzero = choices
            .iter()
            .any(|c| c.healthy && matches!(c.pick, Pick::Weighted(w) if w > 0));
        let has_simple = choices.iter().any(|c| c.pick == Pick::Simple);
        for c in &chosen {
            if !has_simple && any_weighted_healthy_nonzero {
                prop_assert!(c.healthy && matches!(c.pick, Pick::Weighted(w) if w > 0));
            }
        }
    }
}
