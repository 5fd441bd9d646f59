use std::collections::BTreeMap;

use flotilla_model::task::{TaskReport, TaskStatus};
use flotilla_runtime::{ContainerState, Health};
use serde_json::json;

use super::*;
use crate::checkpoint::{AgentState, TaskCheckpoint};
use crate::spec::LABEL_DATA_DIR;
use crate::testutil::{definition, desired, with_status};

fn def() -> flotilla_model::task_definition::TaskDefinition {
    definition(
        json!({"family": "web", "revision": 1, "containerDefinitions": [
        {"name": "app", "image": "busybox"}, {"name": "side", "image": "busybox", "essential": false}]}),
    )
}

fn container(id: &str, task: &str, name: &str, running: bool, exited: bool) -> ContainerState {
    ContainerState {
        id: id.into(),
        name: format!("ecs-web-1-{name}-x"),
        image: "busybox".into(),
        labels: BTreeMap::from([
            (LABEL_TASK_ARN.to_string(), task.to_string()),
            (LABEL_CONTAINER_NAME.to_string(), name.to_string()),
            (LABEL_DATA_DIR.to_string(), "d".to_string()),
        ]),
        created: !running && !exited,
        running,
        exited,
        exit_code: exited.then_some(0),
        error: None,
        oom_killed: false,
        health: Health::None,
        ports: vec![],
        ip_addresses: BTreeMap::new(),
        started_at: None,
        finished_at: None,
        pid: None,
    }
}

fn checkpoint(arn: &str, status: TaskStatus) -> TaskCheckpoint {
    TaskCheckpoint {
        task_arn: arn.into(),
        known_status: status,
        containers: BTreeMap::new(),
        pause_id: None,
        attachment_id: None,
        host_ports: vec![],
        cleaned: false,
        last_report: Some(TaskReport {
            task_arn: arn.into(),
            status,
            containers: vec![],
            health_status: Default::default(),
            pull_started_at: None,
            pull_stopped_at: None,
            started_at: None,
            execution_stopped_at: None,
            stop_code: None,
            stopped_reason: None,
            attachments: vec![],
        }),
    }
}

#[test]
fn running_containers_are_adopted_and_orphans_removed() {
    let d = def();
    let mut state = AgentState::fresh();
    state
        .tasks
        .insert("t1".into(), checkpoint("t1", TaskStatus::Running));
    state
        .tasks
        .insert("gone".into(), checkpoint("gone", TaskStatus::Running));
    let found = vec![
        container("a1", "t1", "app", true, false),
        container("s1", "t1", "side", false, true),
        container("o1", "gone", "app", true, false),
    ];
    let plan = plan(vec![desired("t1", &d)], &state, found, &BTreeSet::new());
    assert_eq!(plan.spawn.len(), 1);
    let (task, adopted) = &plan.spawn[0];
    assert_eq!(task.task.task_arn, "t1");
    assert_eq!(adopted.containers["app"].id, "a1");
    assert_eq!(adopted.containers["side"].id, "s1");
    assert_eq!(
        adopted.checkpoint.as_ref().unwrap().known_status,
        TaskStatus::Running
    );
    assert_eq!(plan.remove, vec!["o1".to_string()]);
    assert_eq!(plan.forget, vec!["gone".to_string()]);
    assert!(plan.resend.is_empty());
}

#[test]
fn duplicates_keep_one_container_per_name() {
    let d = def();
    let mut state = AgentState::fresh();
    let mut cp = checkpoint("t1", TaskStatus::Running);
    cp.containers.insert("app".into(), "a2".into());
    state.tasks.insert("t1".into(), cp);
    let found = vec![
        container("a1", "t1", "app", false, true),
        container("a2", "t1", "app", true, false),
        container("a3", "t1", "app", true, false),
        container("x1", "t1", "not-in-definition", true, false),
    ];
    let mut plan = plan(vec![desired("t1", &d)], &state, found, &BTreeSet::new());
    assert_eq!(
        plan.spawn[0].1.containers["app"].id, "a2",
        "the checkpointed running one wins"
    );
    plan.remove.sort();
    assert_eq!(plan.remove, vec!["a1", "a3", "x1"]);
}

#[test]
fn stopped_tasks_get_no_actor_and_their_final_report_again() {
    let d = def();
    let mut state = AgentState::fresh();
    state
        .tasks
        .insert("t1".into(), checkpoint("t1", TaskStatus::Stopped));
    let found = vec![container("a1", "t1", "app", false, true)];
    let manifest = vec![with_status(
        desired("t1", &d),
        TaskStatus::Stopped,
        TaskStatus::Running,
    )];
    let plan = plan(manifest, &state, found, &BTreeSet::new());
    assert!(plan.spawn.is_empty());
    assert_eq!(plan.remove, vec!["a1"]);
    assert_eq!(plan.resend.len(), 1);
    assert_eq!(plan.resend[0].status, TaskStatus::Stopped);

    // The server already saw it stop: nothing to resend; no checkpoint: still no actor.
    let manifest = vec![with_status(
        desired("t2", &d),
        TaskStatus::Stopped,
        TaskStatus::Stopped,
    )];
    let plan = super::plan(manifest, &AgentState::fresh(), vec![], &BTreeSet::new());
    assert!(plan.spawn.is_empty() && plan.resend.is_empty());
}

#[test]
fn tasks_with_live_actors_are_left_alone() {
    let d = def();
    let found = vec![container("a1", "t1", "app", true, false)];
    let plan = plan(
        vec![desired("t1", &d)],
        &AgentState::fresh(),
        found,
        &BTreeSet::from(["t1".to_string()]),
    );
    assert!(plan.spawn.is_empty() && plan.remove.is_empty());
}

#[test]
fn a_new_task_gets_an_actor_with_nothing_to_adopt() {
    let d = def();
    let plan = plan(
        vec![desired("t9", &d)],
        &AgentState::fresh(),
        vec![],
        &BTreeSet::new(),
    );
    assert_eq!(plan.spawn.len(), 1);
    assert!(plan.spawn[0].1.containers.is_empty() && plan.spawn[0].1.pause.is_none());
}

#[test]
fn a_container_with_a_tasks_labels_but_another_image_is_not_adopted() {
    let arn = "arn:t1";
    let manifest = vec![desired(arn, &def())];
    let mut impostor = container("evil", arn, "app", true, false);
    impostor.image = "attacker/shell".into();
    let genuine = container("c-side", arn, "side", true, false);
    let plan = plan(
        manifest,
        &AgentState::fresh(),
        vec![impostor, genuine],
        &BTreeSet::new(),
    );
    let (_, adopted) = &plan.spawn[0];
    assert!(
        !adopted.containers.contains_key("app"),
        "the impostor was adopted"
    );
    assert_eq!(adopted.containers["side"].id, "c-side");
    assert!(
        !plan.remove.contains(&"evil".to_string()),
        "not ours to remove"
    );
    assert_eq!(plan.impostors.len(), 1);
    assert!(plan.impostors[0].1.contains("attacker/shell"));
}
