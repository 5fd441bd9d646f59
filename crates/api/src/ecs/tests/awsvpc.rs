//! awsvpc tasks' addresses and what each host is told about them: distinct addresses in
//! the subnet, the firewall in the poll answer, routes to tasks on other hosts only where
//! hosts name their addresses, and the address released once the task stopped.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use serde_json::{json, Value};

use super::{agent_call, call, connected_instance_with, ecs};

fn address_of(task: &Value) -> Ipv4Addr {
    let details = task["attachments"][0]["details"].as_array().unwrap();
    let ip = details
        .iter()
        .find(|d| d["name"] == "privateIPv4Address")
        .unwrap()["value"]
        .as_str()
        .unwrap();
    ip.parse().unwrap()
}

#[tokio::test]
async fn tasks_get_distinct_addresses_and_hosts_learn_the_others() {
    let (ecs, state) = ecs().await;
    call(&ecs, "CreateCluster", json!({})).await.unwrap();
    let host = |addr: &str| {
        json!([{"name": "flotilla.host-address", "value": addr},
               {"name": "ecs.capability.task-eni"}])
    };
    let a = connected_instance_with(&ecs, &state, "default", host("192.0.2.1")).await;
    let b = connected_instance_with(&ecs, &state, "default", host("192.0.2.2")).await;
    call(
        &ecs,
        "RegisterTaskDefinition",
        json!({"family": "v", "networkMode": "awsvpc", "containerDefinitions": [
        {"name": "a", "image": "busybox", "memory": 64}]}),
    )
    .await
    .unwrap();
    let mut tasks = Vec::new();
    for instance in [&a, &b, &a] {
        let out = call(
            &ecs,
            "StartTask",
            json!({"taskDefinition": "v", "containerInstances": [instance]}),
        )
        .await
        .unwrap();
        assert_eq!(out["failures"], json!([]), "{out}");
        tasks.push(out["tasks"][0].clone());
    }
    let addresses: BTreeSet<Ipv4Addr> = tasks.iter().map(address_of).collect();
    assert_eq!(addresses.len(), 3, "{addresses:?}");
    assert!(tasks
        .iter()
        .all(|t| t["attachments"][0]["status"] == "PRECREATED"));

    // The task index counts each host's tasks with an interface (what lets a host
    // without any skip building a firewall).
    let index = state.task_index();
    assert_eq!([&a, &b].map(|i| index.load(i).interfaces), [2, 1]);

    // Instance a's poll: its two tasks' rules, and b's task routed through b's host.
    let poll = agent_call(
        &state,
        "Poll",
        json!({"cluster": "default", "containerInstanceArn": a, "since": 0, "waitMillis": 0}),
    )
    .await
    .unwrap();
    let fw = &poll["firewall"];
    let mine: BTreeSet<&str> = fw["interfaces"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let arn = |t: &Value| t["taskArn"].as_str().unwrap().to_string();
    assert_eq!(
        mine,
        BTreeSet::from([arn(&tasks[0]).as_str(), arn(&tasks[2]).as_str()])
    );
    let remote = fw["remoteTasks"].as_object().unwrap();
    assert_eq!(remote.len(), 1, "one subnet: {remote:?}");
    let routes = remote.values().next().unwrap();
    assert_eq!(
        routes,
        &json!({address_of(&tasks[1]).to_string(): "192.0.2.2"})
    );

    // The poll answers at once while the agent holds another firewall, and waits while
    // it holds this one.
    let fingerprint = flotilla_model::firewall::HostFirewall::fingerprint(
        &serde_json::from_value(fw.clone()).unwrap(),
    );
    let started = std::time::Instant::now();
    agent_call(
        &state,
        "Poll",
        json!({"cluster": "default", "containerInstanceArn": a, "since": poll["revision"],
               "waitMillis": 300, "firewall": fingerprint}),
    )
    .await
    .unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(250));
}
