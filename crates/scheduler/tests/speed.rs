//! Placement speed, for the C1M benchmark's shape: 100,000 tasks onto 5,000 instances,
//! as 10,000 RunTask-sized calls of 10 with the snapshot updated between calls, and as
//! one service-sized call, for each strategy. Prints placements per second.
//!
//! Run with `cargo test -p flotilla-scheduler --release --test speed -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use flotilla_scheduler::{
    parse_strategy, schedule, InstanceState, Snapshot, Strategy, TaskRequest, ACTIVE,
};

const INSTANCES: usize = 5_000;
const TASKS: usize = 100_000;
const BATCH: usize = 10;

fn cluster() -> Snapshot {
    let instances = (0..INSTANCES)
        .map(|n| {
            let mut i = InstanceState {
                arn: format!("arn:aws:ecs:us-east-1:000000000000:container-instance/c1m/{n:08x}"),
                id: format!("{n:08x}"),
                status: ACTIVE.into(),
                connected: true,
                registered_at: "2024-01-01T00:00:00Z".into(),
                ec2_instance_id: format!("sim-{n}"),
                ..InstanceState::default()
            };
            let zone = ["us-east-1a", "us-east-1b", "us-east-1c"][n % 3];
            std::sync::Arc::make_mut(&mut i.attributes)
                .insert("ecs.availability-zone".into(), Some(zone.into()));
            std::sync::Arc::make_mut(&mut i.attributes)
                .insert("ecs.instance-type".into(), Some("c5.4xlarge".into()));
            std::sync::Arc::make_mut(&mut i.attributes)
                .insert("ecs.os-type".into(), Some("linux".into()));
            i.remaining.cpu = 16 * 1024;
            i.remaining.memory = 64 * 1024;
            i
        })
        .collect();
    Snapshot::new("arn:aws:ecs:us-east-1:000000000000:cluster/c1m", instances)
}

/// A strategy as ECS spells it: type and field.
type Spec = (&'static str, Option<&'static str>);

fn strategies(spec: &[Spec]) -> Vec<Strategy> {
    spec.iter()
        .map(|(kind, field)| parse_strategy(kind, *field).expect("valid strategy"))
        .collect()
}

/// Places [`TASKS`] in calls of `batch`; returns the time spent in `schedule`.
fn run(strategy: &[Strategy], batch: usize) -> Duration {
    let mut snapshot = cluster();
    let mut spent = Duration::ZERO;
    let mut placed = 0;
    let mut call = 0u64;
    while placed < TASKS {
        let request = TaskRequest {
            cpu: 64,
            memory: 256,
            strategies: strategy.to_vec(),
            seed: call,
            ..TaskRequest::new("service:c1m", batch.min(TASKS - placed))
        };
        let start = Instant::now();
        let plan = schedule(&snapshot, &request);
        spent += start.elapsed();
        assert_eq!(plan.unplaced, 0, "the cluster has room for every task");
        snapshot
            .apply(&request, &plan)
            .expect("plan fits its snapshot");
        placed += plan.placements.len();
        call += 1;
    }
    spent
}

#[test]
#[ignore = "timing; run in release with --ignored --nocapture"]
fn placements_per_second() {
    let cases: &[(&str, &[Spec])] = &[
        ("binpack(memory)", &[("binpack", Some("memory"))]),
        (
            "spread(zone)",
            &[("spread", Some("attribute:ecs.availability-zone"))],
        ),
        (
            "spread(zone), spread(instanceId)",
            &[
                ("spread", Some("attribute:ecs.availability-zone")),
                ("spread", Some("instanceId")),
            ],
        ),
        (
            "spread(zone), binpack(memory)",
            &[
                ("spread", Some("attribute:ecs.availability-zone")),
                ("binpack", Some("memory")),
            ],
        ),
        ("spread(instanceId)", &[("spread", Some("instanceId"))]),
        ("random", &[("random", None)]),
        (
            "binpack(memory), spread(zone) [scan]",
            &[
                ("binpack", Some("memory")),
                ("spread", Some("attribute:ecs.availability-zone")),
            ],
        ),
    ];
    println!("{TASKS} tasks onto {INSTANCES} instances, time inside schedule():");
    let only = std::env::var("SPEED_CASE").ok();
    for (name, spec) in cases {
        if only.as_deref().is_some_and(|o| !name.starts_with(o)) {
            continue;
        }
        let s = strategies(spec);
        let batched = run(&s, BATCH);
        let one_call = run(&s, TASKS);
        let rate = |d: Duration| TASKS as f64 / d.as_secs_f64();
        println!(
            "  {name:40} calls of {BATCH}: {:>10.0}/s ({:>6.2?})   one call: {:>10.0}/s ({:>6.2?})",
            rate(batched),
            batched,
            rate(one_call),
            one_call
        );
    }
}
