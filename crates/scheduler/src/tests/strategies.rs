//! One scenario per rank strategy and for chains of them.

use super::support::*;
use crate::{schedule, BinpackField, SpreadField, Strategy};

fn spread_zone() -> Strategy {
    Strategy::Spread(SpreadField::Attribute("ecs.availability-zone".into()))
}

fn binpack_memory() -> Strategy {
    Strategy::Binpack(BinpackField::Memory)
}

#[test]
fn spread_by_zone_puts_one_task_in_each_zone() {
    let s = snapshot(vec![zoned(0, "a"), zoned(1, "b"), zoned(2, "c")]);
    let mut r = request(3);
    r.strategies = vec![spread_zone()];
    let mut placed = hosts(&schedule(&s, &r));
    placed.sort();
    assert_eq!(placed, [0, 1, 2]);
}

#[test]
fn spread_by_zone_balances_zones_not_instances() {
    // Zone a has three instances, b one: six tasks still go three and three.
    let s = snapshot(vec![
        zoned(0, "a"),
        zoned(1, "a"),
        zoned(2, "a"),
        zoned(3, "b"),
    ]);
    let mut r = request(6);
    r.strategies = vec![spread_zone()];
    let n = per_instance(&schedule(&s, &r), 4);
    assert_eq!((n[0] + n[1] + n[2], n[3]), (3, 3));

    // Adding spread(instanceId) spreads within the zone as well.
    r.strategies.push(Strategy::Spread(SpreadField::InstanceId));
    assert_eq!(per_instance(&schedule(&s, &r), 4), [1, 1, 1, 3]);
}

#[test]
fn spread_counts_the_tasks_already_there() {
    let mut a = zoned(0, "a");
    a.groups.insert(GROUP.into(), 2);
    a.groups.insert("family:other".into(), 9);
    let s = snapshot(vec![a, zoned(1, "b"), zoned(2, "c")]);
    let mut r = request(4);
    r.strategies = vec![spread_zone()];
    assert_eq!(per_instance(&schedule(&s, &r), 3), [0, 2, 2]);
}

#[test]
fn instances_without_the_attribute_form_their_own_bucket() {
    let s = snapshot(vec![zoned(0, "a"), instance(1), instance(2)]);
    let mut r = request(2);
    r.strategies = vec![spread_zone()];
    let n = per_instance(&schedule(&s, &r), 3);
    assert_eq!((n[0], n[1] + n[2]), (1, 1));
}

#[test]
fn spread_by_instance_goes_round_robin() {
    for field in ["instanceId", "host"] {
        let s = snapshot(vec![instance(0), instance(1), instance(2)]);
        let mut r = request(7);
        r.strategies =
            vec![crate::parse_strategy("spread", Some(field)).unwrap_or(Strategy::Random)];
        let mut n = per_instance(&schedule(&s, &r), 3);
        n.sort();
        assert_eq!(n, [2, 2, 3], "{field}");
    }
}

#[test]
fn binpack_memory_fills_one_instance_before_the_next() {
    let mut big = instance(0);
    big.remaining.memory = 4096;
    let mut small = instance(1);
    small.remaining.memory = 1024;
    let mut medium = instance(2);
    medium.remaining.memory = 2048;
    let s = snapshot(vec![big, small, medium]);
    let mut r = request(7);
    r.strategies = vec![binpack_memory()];
    // 512 MiB each: the 1024 instance takes 2, then the 2048 one 4, then the big one.
    assert_eq!(hosts(&schedule(&s, &r)), [1, 1, 2, 2, 2, 2, 0]);
}

#[test]
fn binpack_cpu_packs_by_cpu() {
    let mut a = instance(0);
    a.remaining.cpu = 1024;
    let mut b = instance(1);
    b.remaining.cpu = 512;
    b.remaining.memory = 100_000;
    let s = snapshot(vec![a, b]);
    let mut r = request(3);
    r.strategies = vec![Strategy::Binpack(BinpackField::Cpu)];
    assert_eq!(hosts(&schedule(&s, &r)), [1, 1, 0]);
}

#[test]
fn later_strategies_only_break_ties() {
    // Spread by zone decides; binpack picks the fuller instance inside the zone.
    let mut a_roomy = zoned(0, "a");
    a_roomy.remaining.memory = 8192;
    let mut a_full = zoned(1, "a");
    a_full.remaining.memory = 1024;
    let s = snapshot(vec![a_roomy, a_full, zoned(2, "b")]);
    let mut r = request(2);
    r.strategies = vec![spread_zone(), binpack_memory()];
    let mut placed = hosts(&schedule(&s, &r));
    placed.sort();
    assert_eq!(placed, [1, 2]);

    // Binpack first, spread second (served by the scanning selector): the fullest fits
    // first whatever its zone.
    r.strategies = vec![binpack_memory(), spread_zone()];
    assert_eq!(hosts(&schedule(&s, &r)), [1, 1]);
}

#[test]
fn random_is_reproducible_with_a_seed() {
    let s = snapshot((0..50).map(instance).collect());
    let mut r = request(10);
    r.strategies = vec![Strategy::Random];
    r.seed = 7;
    let first = schedule(&s, &r);
    assert_eq!(first, schedule(&s, &r));
    r.seed = 8;
    assert_ne!(hosts(&first), hosts(&schedule(&s, &r)));
    // No strategy is random, as in ECS RunTask.
    r.strategies.clear();
    r.seed = 7;
    assert_eq!(first, schedule(&s, &r));
}

#[test]
fn random_reaches_every_instance() {
    let mut big: Vec<_> = (0..10).map(instance).collect();
    for i in &mut big {
        i.remaining.cpu = 1 << 40;
        i.remaining.memory = 1 << 40;
    }
    let s = snapshot(big);
    let mut r = request(2000);
    r.seed = 1;
    let n = per_instance(&schedule(&s, &r), 10);
    assert!(n.iter().all(|&k| (120..=280).contains(&k)), "{n:?}");
}

#[test]
fn random_after_a_key_chooses_among_its_ties() {
    // Both zones start level; random picks any instance of the emptier zone each time.
    let s = snapshot((0..6).map(|n| zoned(n, ["a", "b"][n % 2])).collect());
    let mut r = request(4);
    r.strategies = vec![spread_zone(), Strategy::Random, binpack_memory()];
    let n = per_instance(&schedule(&s, &r), 6);
    assert_eq!((n[0] + n[2] + n[4], n[1] + n[3] + n[5]), (2, 2));
}

#[test]
fn ties_left_by_the_chain_follow_the_seed() {
    let s = snapshot((0..20).map(instance).collect());
    let mut r = request(1);
    r.strategies = vec![binpack_memory()];
    let chosen: std::collections::BTreeSet<usize> = (0..20)
        .map(|seed| {
            r.seed = seed;
            hosts(&schedule(&s, &r))[0]
        })
        .collect();
    assert!(
        chosen.len() > 5,
        "ties should not always favour one instance: {chosen:?}"
    );
}
