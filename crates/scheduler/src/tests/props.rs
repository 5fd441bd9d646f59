//! Properties over small random clusters and requests: no over-commitment, every
//! placement passes every filter, a failed plan explains every instance, spread stays
//! balanced, binpack uses as few instances as a brute-force search, and the fast selector
//! picks what the reference scan picks.

use proptest::collection::vec;
use proptest::prelude::*;

use super::support::*;
use crate::plan::plan;
use crate::{
    schedule, BinpackField, Constraint, InstanceState, Snapshot, SpreadField,
    Strategy as Placement, TaskRequest,
};

const EXPRESSIONS: &[&str] = &[
    "attribute:stack == prod",
    "attribute:zone in [a, b]",
    "not(task:group == family:web)",
    "task:group == service:db or attribute:stack != dev",
    "runningTasksCount < 3",
    "attribute:zone exists",
];

fn arb_instance() -> impl Strategy<Value = InstanceState> {
    (
        (
            0usize..1000,
            prop::sample::select(vec!["ACTIVE", "ACTIVE", "ACTIVE", "DRAINING"]),
            prop::bool::weighted(0.9),
        ),
        (
            prop::option::of(prop::sample::select(vec!["a", "b", "c"])),
            prop::option::of(prop::sample::select(vec!["prod", "dev"])),
        ),
        (0i64..4096, 0i64..4096, 0u32..3),
        (
            prop::sample::subsequence(vec![80u16, 443], 0..=2),
            prop::sample::subsequence(vec![53u16], 0..=1),
        ),
        (0u32..3, 0u32..2, 0u32..4),
    )
        .prop_map(
            |(
                (n, status, connected),
                (zone, stack),
                (cpu, memory, gpus),
                (tcp, udp),
                (web, db, other),
            )| {
                let mut i = instance(n);
                i.status = status.into();
                i.connected = connected;
                if let Some(z) = zone {
                    i = with_attr(i, "zone", z);
                }
                if let Some(s) = stack {
                    i = with_attr(i, "stack", s);
                }
                i.remaining.cpu = cpu;
                i.remaining.memory = memory;
                i.remaining.gpus = gpus;
                i.remaining.tcp_ports = tcp.into_iter().collect();
                i.remaining.udp_ports = udp.into_iter().collect();
                if web > 0 {
                    i.groups.insert(GROUP.into(), web);
                }
                if db > 0 {
                    i.groups.insert("service:db".into(), db);
                }
                i.running_tasks = web + db + other;
                i
            },
        )
}

fn arb_snapshot() -> impl Strategy<Value = Snapshot> {
    vec(arb_instance(), 0..8).prop_map(|mut instances| {
        // Distinct ARNs, as in a real cluster.
        for (n, i) in instances.iter_mut().enumerate() {
            i.arn = format!("{}-{n}", i.arn);
        }
        snapshot(instances)
    })
}

fn arb_strategy() -> impl Strategy<Value = Placement> {
    prop_oneof![
        Just(Placement::Random),
        Just(Placement::Binpack(BinpackField::Cpu)),
        Just(Placement::Binpack(BinpackField::Memory)),
        Just(Placement::Spread(SpreadField::InstanceId)),
        Just(Placement::Spread(SpreadField::Attribute("zone".into()))),
        Just(Placement::Spread(SpreadField::Attribute("stack".into()))),
    ]
}

fn arb_request() -> impl Strategy<Value = TaskRequest> {
    (
        (0usize..14, 0i64..1200, 0i64..1200, 0u32..2, any::<u64>()),
        (
            prop::sample::subsequence(vec![80u16, 8080], 0..=2),
            prop::sample::subsequence(vec![53u16], 0..=1),
        ),
        prop::sample::subsequence(vec!["zone".to_string(), "stack".to_string()], 0..=1),
        (
            prop::bool::weighted(0.3),
            prop::sample::subsequence(EXPRESSIONS.to_vec(), 0..=1),
        ),
        vec(arb_strategy(), 0..4),
    )
        .prop_map(
            |(
                (count, cpu, memory, gpus, seed),
                (tcp, udp),
                attributes,
                (distinct, exprs),
                strategies,
            )| {
                let mut r = TaskRequest::new(GROUP, count);
                (r.cpu, r.memory, r.gpus, r.seed) = (cpu, memory, gpus, seed);
                (r.tcp_ports, r.udp_ports) = (tcp, udp);
                r.required_attributes = attributes;
                if distinct {
                    r.constraints.push(Constraint::DistinctInstance);
                }
                r.constraints.extend(exprs.into_iter().map(member_of));
                r.strategies = strategies;
                r
            },
        )
}

/// Instances with room for `cap` tasks of [`request`] each (by memory) and the given zones.
fn uniform(zones: &[Option<&str>], cap: i64) -> Snapshot {
    snapshot(
        zones
            .iter()
            .enumerate()
            .map(|(n, z)| {
                let mut i = match z {
                    Some(z) => zoned(n, z),
                    None => instance(n),
                };
                i.remaining.cpu = 1 << 40;
                i.remaining.memory = 512 * cap;
                i
            })
            .collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every placement passes every filter on the state it lands in (so nothing is
    /// over-committed and every constraint holds); a plan that leaves tasks unplaced
    /// could not have placed another and names every instance once with a reason.
    #[test]
    fn plans_are_valid_and_maximal(s in arb_snapshot(), r in arb_request()) {
        let plan = schedule(&s, &r);
        prop_assert_eq!(plan.placements.len() + plan.unplaced, r.count);
        let after = replay(&s, &r, &plan).map_err(TestCaseError::fail)?;
        for i in &after.instances {
            prop_assert!(i.remaining.cpu >= 0 || r.cpu <= 0);
            prop_assert!(i.remaining.memory >= 0 || r.memory <= 0);
        }
        if r.constraints.contains(&Constraint::DistinctInstance) {
            let n = per_instance(&plan, s.instances.len());
            prop_assert!(s.instances.iter().zip(&n).all(|(i, n)| *n == 0 || i.group_count(GROUP) as usize + n == 1));
        }
        if plan.unplaced > 0 {
            prop_assert!(after.instances.iter().all(|i| !admits(i, &r)), "an instance could take more");
            if s.instances.is_empty() {
                prop_assert_eq!(plan.failures.len(), 1);
            } else {
                let arns: Vec<&str> = plan.failures.iter().map(|f| f.arn.as_str()).collect();
                let all: Vec<&str> = s.instances.iter().map(|i| i.arn.as_str()).collect();
                prop_assert_eq!(arns, all);
                prop_assert!(plan.failures.iter().all(|f| !f.reason.is_empty()));
            }
        } else {
            prop_assert!(plan.failures.is_empty());
        }
        prop_assert_eq!(&plan, &schedule(&s, &r), "same inputs, same plan");
    }

    /// Without `random` the fast selector chooses exactly what the reference scan does.
    #[test]
    fn the_fast_selector_agrees_with_the_scan(s in arb_snapshot(), mut r in arb_request()) {
        r.strategies.retain(|s| *s != Placement::Random);
        if r.strategies.is_empty() {
            r.strategies.push(Placement::Binpack(BinpackField::Memory));
        }
        prop_assert_eq!(schedule(&s, &r), plan(&s, &r, true));
    }

    /// Random chains through the scan are valid too.
    #[test]
    fn the_scan_with_random_is_valid(s in arb_snapshot(), r in arb_request()) {
        let plan = plan(&s, &r, true);
        replay(&s, &r, &plan).map_err(TestCaseError::fail)?;
    }

    /// Spreading over zones (or instances) from zero keeps every bucket within one task
    /// of every other while no instance is full.
    #[test]
    fn spread_stays_within_one(
        zones in vec(prop::option::of(prop::sample::select(vec!["a", "b", "c", "d"])), 1..10),
        count in 0usize..40,
        by_instance in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let s = uniform(&zones, 64);
        let mut r = request(count);
        r.seed = seed;
        r.strategies = vec![if by_instance {
            Placement::Spread(SpreadField::InstanceId)
        } else {
            Placement::Spread(SpreadField::Attribute("ecs.availability-zone".into()))
        }];
        let plan = schedule(&s, &r);
        prop_assert_eq!(plan.placements.len(), count);
        let n = per_instance(&plan, zones.len());
        let buckets: Vec<usize> = if by_instance {
            n
        } else {
            let mut by_zone = std::collections::BTreeMap::new();
            for (z, k) in zones.iter().zip(&n) {
                *by_zone.entry(*z).or_insert(0) += k;
            }
            by_zone.into_values().collect()
        };
        let (lo, hi) = (buckets.iter().min(), buckets.iter().max());
        prop_assert!(hi.zip(lo).is_none_or(|(h, l)| h - l <= 1), "{:?}", buckets);
    }

    /// Identical tasks, binpack on memory, equal instances: as few instances as the
    /// smallest subset a brute-force search finds that can hold the placed tasks.
    #[test]
    fn binpack_uses_as_few_instances_as_brute_force(
        n in 1usize..7,
        cap in 1i64..5,
        count in 0usize..30,
        seed in any::<u64>(),
    ) {
        let s = uniform(&vec![None; n], cap);
        let mut r = request(count);
        r.seed = seed;
        r.strategies = vec![Placement::Binpack(BinpackField::Memory)];
        let plan = schedule(&s, &r);
        let used = per_instance(&plan, n).iter().filter(|k| **k > 0).count();
        let placed = plan.placements.len();
        let fewest = (0u32..1 << n)
            .filter(|set| set.count_ones() as i64 * cap >= placed as i64)
            .map(|set| set.count_ones() as usize)
            .min();
        prop_assert_eq!(Some(used), fewest);
    }

    /// Binpack with unequal instances fills each one before starting the next: at most
    /// one used instance has room left.
    #[test]
    fn binpack_leaves_at_most_one_instance_partly_filled(
        caps in vec(1i64..6, 1..7),
        count in 0usize..30,
    ) {
        let mut s = uniform(&vec![None; caps.len()], 1);
        for (i, cap) in s.instances.iter_mut().zip(&caps) {
            i.remaining.memory = 512 * cap;
        }
        let mut r = request(count);
        r.strategies = vec![Placement::Binpack(BinpackField::Memory)];
        let plan = schedule(&s, &r);
        let n = per_instance(&plan, caps.len());
        let partly = n.iter().zip(&caps).filter(|(k, cap)| **k > 0 && (**k as i64) < **cap).count();
        prop_assert!(partly <= 1, "{:?} of {:?}", n, caps);
    }

    /// Extreme numbers never panic.
    #[test]
    fn schedule_never_panics(
        s in arb_snapshot(),
        mut r in arb_request(),
        cpu in prop_oneof![Just(i64::MIN), Just(i64::MAX), any::<i64>()],
        gpus in prop_oneof![Just(u32::MAX), any::<u32>()],
        remaining in prop_oneof![Just(i64::MIN), Just(i64::MAX)],
    ) {
        let mut s = s;
        for i in &mut s.instances {
            i.remaining.memory = remaining;
            i.running_tasks = u32::MAX;
        }
        (r.cpu, r.gpus) = (cpu, gpus);
        let plan = schedule(&s, &r);
        prop_assert_eq!(plan.placements.len() + plan.unplaced, r.count);
    }
}
