//! One scenario per filter stage: who is passed over, and the reason the user reads.

use super::support::*;
use crate::{schedule, Constraint, Stage, NO_INSTANCES};

#[test]
fn a_draining_instance_is_reported_with_its_status() {
    let mut draining = instance(0);
    draining.status = "DRAINING".into();
    let s = snapshot(vec![draining, instance(1)]);
    let plan = schedule(&s, &request(1));
    assert_eq!(hosts(&plan), [1]);

    let plan = schedule(&s, &request(100));
    assert_eq!(plan.unplaced, 100 - plan.placements.len());
    assert_eq!(reasons(&plan, &s), ["DRAINING", "RESOURCE:CPU"]);
}

#[test]
fn a_disconnected_agent_takes_nothing() {
    let mut lost = instance(0);
    lost.connected = false;
    let s = snapshot(vec![lost]);
    let plan = schedule(&s, &request(1));
    assert!(plan.placements.is_empty());
    assert_eq!(reasons(&plan, &s), ["AGENT"]);
}

#[test]
fn required_attributes_must_exist() {
    let s = snapshot(vec![
        instance(0),
        with_attr(instance(1), "ecs.capability.gpu", ""),
    ]);
    let mut r = request(2);
    r.required_attributes = vec!["ecs.capability.gpu".into()];
    let plan = schedule(&s, &r);
    assert_eq!(hosts(&plan), [1, 1]);

    r.required_attributes.push("com.example.missing".into());
    let plan = schedule(&s, &r);
    assert_eq!(reasons(&plan, &s), ["ATTRIBUTE", "ATTRIBUTE"]);
}

#[test]
fn bind_mounts_go_only_where_the_host_path_is_allowed() {
    let s = snapshot(vec![
        with_attr(instance(0), "flotilla.allowed-host-paths", "/data"),
        instance(1),
        with_attr(instance(2), "flotilla.allowed-host-paths", "/srv,/var/log"),
    ]);
    let mut r = request(3);
    r.host_paths = vec!["/srv/app".into()];
    let placed = hosts(&schedule(&s, &r));
    assert_eq!(placed.len(), 3);
    assert!(
        placed.iter().all(|h| *h != 0),
        "/data does not take /srv: {placed:?}"
    );
    let only_open = snapshot(vec![
        with_attr(instance(0), "flotilla.allowed-host-paths", "/data"),
        instance(1),
    ]);
    assert_eq!(
        hosts(&schedule(&only_open, &r)),
        [1, 1, 1],
        "no allow-list means any path"
    );

    r.host_paths = vec!["/etc".into()];
    let plan = schedule(&s, &r);
    assert_eq!(hosts(&plan), [1, 1, 1]);
    let none = snapshot(vec![with_attr(
        instance(0),
        "flotilla.allowed-host-paths",
        "/data",
    )]);
    assert_eq!(reasons(&schedule(&none, &r), &none), ["ATTRIBUTE"]);
}

#[test]
fn cpu_memory_and_gpus_are_checked_in_that_order() {
    let mut small = instance(0);
    small.remaining.cpu = 100;
    small.remaining.memory = 100;
    let mut low_memory = instance(1);
    low_memory.remaining.memory = 100;
    let no_gpu = instance(2);
    let s = snapshot(vec![small, low_memory, no_gpu]);
    let mut r = request(1);
    r.gpus = 1;
    let plan = schedule(&s, &r);
    assert_eq!(
        reasons(&plan, &s),
        ["RESOURCE:CPU", "RESOURCE:MEMORY", "RESOURCE:GPU"]
    );
}

#[test]
fn resources_run_out_as_tasks_are_placed() {
    // 8192 MiB / 512 MiB = 16 tasks, CPU allows 16 too: the 17th fails.
    let s = snapshot(vec![instance(0)]);
    let plan = schedule(&s, &request(20));
    assert_eq!(plan.placements.len(), 16);
    assert_eq!(plan.unplaced, 4);
    assert_eq!(reasons(&plan, &s), ["RESOURCE:CPU"]);
}

#[test]
fn a_fixed_host_port_fits_once_per_instance() {
    let mut busy = instance(0);
    busy.remaining.tcp_ports.insert(80);
    let s = snapshot(vec![busy, instance(1), instance(2)]);
    let mut r = request(3);
    r.tcp_ports = vec![80];
    let plan = schedule(&s, &r);
    let mut placed = hosts(&plan);
    placed.sort();
    assert_eq!(placed, [1, 2]);
    assert_eq!(
        reasons(&plan, &s),
        ["RESOURCE:PORTS", "RESOURCE:PORTS", "RESOURCE:PORTS"]
    );
}

#[test]
fn udp_ports_have_their_own_reason() {
    let mut busy = instance(0);
    busy.remaining.udp_ports.insert(53);
    busy.remaining.tcp_ports.insert(53); // TCP 53 taken does not block UDP 53
    let s = snapshot(vec![busy]);
    let mut r = request(1);
    r.udp_ports = vec![53];
    assert_eq!(reasons(&schedule(&s, &r), &s), ["RESOURCE:PORTS_UDP"]);
}

#[test]
fn distinct_instance_never_doubles_up() {
    let mut has_one = instance(2);
    has_one.groups.insert(GROUP.into(), 1);
    let s = snapshot(vec![instance(0), instance(1), has_one]);
    let mut r = request(3);
    r.constraints = vec![Constraint::DistinctInstance];
    let plan = schedule(&s, &r);
    assert_eq!(per_instance(&plan, 3), [1, 1, 0]);
    assert_eq!(plan.unplaced, 1);
    let distinct = Stage::DistinctInstance.reason();
    assert_eq!(reasons(&plan, &s), [distinct, distinct, distinct]);
}

#[test]
fn member_of_places_only_on_matching_instances() {
    let s = snapshot(vec![
        with_attr(instance(0), "stack", "dev"),
        with_attr(instance(1), "stack", "prod"),
        instance(2),
    ]);
    let mut r = request(40);
    r.constraints = vec![member_of("attribute:stack == prod")];
    let plan = schedule(&s, &r);
    assert!(hosts(&plan).iter().all(|&h| h == 1));
    let member = Stage::MemberOf.reason();
    assert_eq!(reasons(&plan, &s), [member, "RESOURCE:CPU", member]);
}

#[test]
fn member_of_sees_the_tasks_this_plan_placed() {
    // "not next to another web task" is distinctInstance spelled in the query language:
    // after one placement the instance's task groups include family:web.
    let s = snapshot(vec![instance(0), instance(1)]);
    let mut r = request(3);
    r.constraints = vec![member_of("not(task:group == family:web)")];
    let plan = schedule(&s, &r);
    assert_eq!(per_instance(&plan, 2), [1, 1]);
    assert_eq!(plan.unplaced, 1);

    let mut db = instance(1);
    db.groups.insert("service:db".into(), 2);
    let s = snapshot(vec![instance(0), db]);
    r.constraints = vec![member_of(
        "task:group == service:db and runningTasksCount < 5",
    )];
    r.count = 10;
    let plan = schedule(&s, &r);
    assert_eq!(per_instance(&plan, 2), [0, 5]);
}

#[test]
fn the_first_failing_stage_names_the_reason() {
    let mut i = instance(0);
    i.status = "DRAINING".into();
    i.connected = false;
    i.remaining.memory = 0;
    let s = snapshot(vec![i]);
    assert_eq!(reasons(&schedule(&s, &request(1)), &s), ["DRAINING"]);
}

#[test]
fn explain_counts_what_each_stage_removed() {
    let mut draining = instance(0);
    draining.status = "DRAINING".into();
    let mut full = instance(1);
    full.remaining.memory = 0;
    let s = snapshot(vec![draining, full, instance(2), instance(3)]);
    let plan = schedule(&s, &request(1));
    let removed: Vec<(&str, usize, usize)> = plan
        .explain
        .iter()
        .filter(|r| r.removed > 0)
        .map(|r| (r.stage.name(), r.removed, r.remaining))
        .collect();
    assert_eq!(removed, [("status", 1, 3), ("memory", 1, 2)]);
    assert_eq!(plan.explain.len(), Stage::ALL.len());
}

#[test]
fn an_empty_cluster_says_so() {
    let s = snapshot(vec![]);
    let plan = schedule(&s, &request(2));
    assert_eq!(plan.unplaced, 2);
    assert_eq!(plan.failures.len(), 1);
    assert_eq!(plan.failures[0].arn, s.cluster_arn);
    assert_eq!(plan.failures[0].reason, NO_INSTANCES);
}

#[test]
fn nothing_asked_nothing_failed() {
    let s = snapshot(vec![instance(0)]);
    let plan = schedule(&s, &request(0));
    assert!(plan.placements.is_empty() && plan.failures.is_empty());
    assert_eq!(plan.unplaced, 0);
}

#[test]
fn a_plan_applies_to_its_snapshot_and_not_to_another() {
    let mut s = snapshot(vec![instance(0)]);
    let r = request(4);
    let plan = schedule(&s, &r);
    assert_eq!(s.apply(&r, &plan), Ok(()));
    let i = &s.instances[0];
    assert_eq!(
        (i.remaining.cpu, i.remaining.memory),
        (4096 - 1024, 8192 - 2048)
    );
    assert_eq!((i.group_count(GROUP), i.running_tasks), (4, 4));

    let mut other = snapshot(vec![instance(7)]);
    assert!(other.apply(&r, &plan).is_err());
    assert!(snapshot(vec![]).apply(&r, &plan).is_err());
}
