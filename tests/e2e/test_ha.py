"""Several servers on one etcd (issue 19): three `flotilla server`s on a three-member etcd
cluster serve one state; exactly one leads; killing the etcd leader loses no acknowledged
write; killing the leading server with kill -9 hands the controllers to another within
the leader lease, and the agent, given every server, carries on with a survivor without
registering again or restarting its task; an image pushed through one server pulls from
another; every server killed at once and started again loses nothing and restarts no
task; a load balancer's name answers every server's address (b and c bind their own, as
other hosts would), and killing the leader in the middle of a rolling deployment fails no
request through a survivor. Every fault prints what it did and found."""
import json
import shutil
import subprocess
import threading
import time

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from agents import IMAGE, AgentProcess, build_test_image, inspect, remove_containers, wait_for
from conftest import Flotilla, free_port
from etcd import EtcdCluster
from test_dns import dig
from test_load_balancer import Load, get, healthy_targets, target_group, web_task

CLUSTER = "ha"
# Load balancers' addresses (the same on every server), and where b and c bind them instead.
LB_RANGE = "127.0.38.1-127.0.38.20"
B_LB_RANGE = "127.0.38.101-127.0.38.120"
C_LB_RANGE = "127.0.38.201-127.0.38.220"
LEADER_KEY = "/flotilla//flotilla/leader"


class Env:
    pass


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    build_test_image()
    base = tmp_path_factory.mktemp("ha")
    e = Env()
    e.etcd = EtcdCluster(base / "etcd").start()
    # One registry directory for every server, as a shared filesystem would be.
    common = ["--store", e.etcd.url(), "--agent-ttl-seconds", "10", "--registry-dir", str(base / "registry"),
              "--lb-bind", LB_RANGE]
    e.a = Flotilla(base / "a", extra_args=common, api_addr=f"127.0.0.1:{free_port()}").start()
    # Secrets are sealed with the servers' key: every server of one store has the same.
    key = base / "secrets.key"
    shutil.copy(e.a.data_dir / "secrets.key", key)
    # b's and c's listeners on addresses of their own, as other hosts' would be.
    e.b = Flotilla(base / "b", extra_args=[*common, "--secrets-key-file", str(key), "--lb-node-bind", B_LB_RANGE],
                   api_addr=f"127.0.0.1:{free_port()}").start()
    e.c = Flotilla(base / "c", extra_args=[*common, "--secrets-key-file", str(key), "--lb-node-bind", C_LB_RANGE],
                   api_addr=f"127.0.0.1:{free_port()}").start()
    e.servers = [e.a, e.b, e.c]
    e.agent = None
    arn = None
    try:
        e.a.client("ecs").create_cluster(clusterName=CLUSTER)
        e.agent = AgentProcess(e.a, base / "agent", cluster=CLUSTER,
                               server_url=",".join(s.endpoint for s in e.servers))
        e.agent.start()
        arn = e.agent.instance_arn()
        e.a.client("ecs").register_task_definition(family="ha", containerDefinitions=[
            {"name": "app", "image": IMAGE, "memory": 16, "command": ["sleep", "1000"], "stopTimeout": 1}])
        yield e
    finally:
        if e.agent:
            e.agent.stop()
        for s in e.servers:
            s.stop()
        e.etcd.stop()
        if arn:
            remove_containers(f"flotilla.container-instance={arn}")


def node_id(server):
    return (server.data_dir / "node-id").read_text().strip()


def running(ecs, task):
    [t] = ecs.describe_tasks(cluster=CLUSTER, tasks=[task])["tasks"]
    return t["lastStatus"] == "RUNNING" and t


def test_both_servers_serve_one_state_and_one_leads(env):
    a, b = env.a.client("ecs"), env.b.client("ecs")
    assert any(c.endswith(f"/{CLUSTER}") for c in b.list_clusters()["clusterArns"])
    env.a.client("secretsmanager").create_secret(Name="ha/db", SecretString="s3cret")
    assert env.b.client("secretsmanager").get_secret_value(SecretId="ha/db")["SecretString"] == "s3cret"
    # A task started through b runs on the agent, which polls a.
    task = wait_for(lambda: b.run_task(cluster=CLUSTER, taskDefinition="ha")["tasks"], timeout=30, interval=0.5,
                    what="RunTask to place the task")[0]["taskArn"]
    wait_for(lambda: running(a, task), timeout=60, what="the task to run")
    assert running(b, task)
    leader = env.etcd.any().get(LEADER_KEY)
    [name] = [n for n, s in zip("abc", env.servers) if node_id(s) == leader]
    print(f"leader: {name}")
    a.stop_task(cluster=CLUSTER, task=task)


def test_an_image_pushed_to_one_server_pulls_from_the_other(env, tmp_path):
    env.a.aws("ecr", "create-repository", "--repository-name", "ha/app")
    # A token from a is good on b: both check it against the one store.
    password = env.a.aws("ecr", "get-login-password", check=False).stdout.strip()
    creds = f"AWS:{password}"
    archive = tmp_path / "in.tar"
    subprocess.run(["docker", "save", "-o", str(archive), IMAGE], check=True, timeout=120)
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", creds,
                    f"docker-archive:{archive}", f"docker://{env.a.registry}/ha/app:v1"], check=True, timeout=300)
    pulled = f"docker://{env.b.registry}/ha/app:v1"
    inspected = json.loads(subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--creds", creds, pulled],
                                          check=True, capture_output=True, text=True, timeout=120).stdout)
    [image] = env.b.aws("ecr", "describe-images", "--repository-name", "ha/app")["imageDetails"]
    assert inspected["Digest"] == image["imageDigest"]
    # Every layer's bytes, read back through b, against their digests (skopeo checks them).
    out = tmp_path / "out"
    subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--src-creds", creds, pulled,
                    f"dir:{out}"], check=True, timeout=300)
    print(f"pushed through a ({env.a.registry}), pulled through b ({env.b.registry}): "
          f"{image['imageDigest']}, {len(inspected['Layers'])} layer(s)")


def test_killing_the_etcd_leader_loses_no_acknowledged_write(env):
    acked, failed, times = [], [], []
    stop = threading.Event()

    def writer(server, tag):
        ecs = server.client("ecs")
        for i in range(400):
            if stop.is_set():
                return
            name = f"w-{tag}-{i}"
            try:
                ecs.create_cluster(clusterName=name)
                acked.append(name)
                times.append(time.monotonic())
            except (ClientError, EndpointConnectionError, ConnectionClosedError) as e:
                failed.append((name, str(e)[:120]))

    threads = [threading.Thread(target=writer, args=(s, t)) for s, t in ((env.a, "a"), (env.b, "b"))]
    for t in threads:
        t.start()
    time.sleep(2)
    victim = env.etcd.leader()
    before = len(acked)
    victim.kill9()
    killed_at = time.monotonic()
    time.sleep(8)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    after = sorted(t - killed_at for t in times if t > killed_at)
    gaps = [b - a for a, b in zip([0.0, *after], after)]
    print(f"killed etcd leader {victim.name} after {before} writes; {len(acked)} acknowledged, "
          f"{len(failed)} failed: {failed[:3]}; first write after the kill at "
          f"{after[0] if after else float('nan'):.2f} s, longest pause {max(gaps, default=0):.2f} s")
    assert len(acked) > before, "no write succeeded after the etcd leader died"
    # Every acknowledged write is there, on every server.
    for server in env.servers:
        names = set()
        for page in server.client("ecs").get_paginator("list_clusters").paginate():
            names |= {a.rsplit("/", 1)[1] for a in page["clusterArns"]}
        missing = set(acked) - names
        assert not missing, f"{len(missing)} acknowledged clusters missing: {sorted(missing)[:5]}"
    victim.start()
    print(f"member {victim.name} back after {time.monotonic() - killed_at:.1f} s")


def test_killing_the_leading_server_hands_over_and_the_agent_follows(env):
    ecs_b = env.b.client("ecs")
    env.a.client("ecs").create_service(cluster=CLUSTER, serviceName="kept", taskDefinition="ha", desiredCount=2)

    def steady():
        [svc] = ecs_b.describe_services(cluster=CLUSTER, services=["kept"])["services"]
        return svc["runningCount"] == 2 and len(svc["deployments"]) == 1 and svc
    wait_for(steady, timeout=90, what="the service to run its two tasks")
    tasks = ecs_b.list_tasks(cluster=CLUSTER, serviceName="kept")["taskArns"]
    containers = {t: running(ecs_b, t)["containers"][0]["runtimeId"] for t in tasks}
    [instance] = ecs_b.list_container_instances(cluster=CLUSTER)["containerInstanceArns"]

    # a started first, so it leads; the agent polls it (the first server it was given).
    assert env.etcd.any().get(LEADER_KEY) == node_id(env.a)
    env.a.kill9()
    killed = time.monotonic()
    new = wait_for(lambda: next((n for n, s in (("b", env.b), ("c", env.c))
                                 if env.etcd.any().get(LEADER_KEY) == node_id(s)), None),
                   timeout=30, interval=0.1, what="b or c to take the leader key")
    took_over = time.monotonic() - killed
    # The new leader's controllers act: a stopped service task is replaced.
    ecs_b.stop_task(cluster=CLUSTER, task=tasks[0], reason="test: the new leader must replace it")
    wait_for(lambda: steady() and tasks[0] not in ecs_b.list_tasks(cluster=CLUSTER, serviceName="kept")["taskArns"],
             timeout=90, what="the new leader to replace the stopped task")
    replaced = time.monotonic() - killed
    # The agent moved on: still connected, the same instance, the other task untouched.
    assert ecs_b.list_container_instances(cluster=CLUSTER)["containerInstanceArns"] == [instance]
    wait_for(lambda: ecs_b.describe_container_instances(cluster=CLUSTER, containerInstances=[instance])
             ["containerInstances"][0]["agentConnected"], timeout=30, what="the agent to be connected again")
    survivor = running(ecs_b, tasks[1])
    assert survivor and survivor["containers"][0]["runtimeId"] == containers[tasks[1]]
    assert inspect(containers[tasks[1]])["State"]["Running"]
    print(f"killed the leading server: {new} held the leader key after {took_over:.1f} s, "
          f"the stopped task was replaced {replaced:.1f} s after the kill; the agent and its other task carried on")
    ecs_b.update_service(cluster=CLUSTER, service="kept", desiredCount=0)
    ecs_b.delete_service(cluster=CLUSTER, service="kept", force=True)


def test_restarting_every_server_at_once_loses_nothing_and_restarts_no_task(env):
    if env.a.proc.poll() is not None:
        env.a.start()  # killed by the test before
    ecs = env.b.client("ecs")
    ecs.create_service(cluster=CLUSTER, serviceName="through", taskDefinition="ha", desiredCount=2)

    def steady(client, count):
        [svc] = client.describe_services(cluster=CLUSTER, services=["through"])["services"]
        return svc["runningCount"] == count and svc["pendingCount"] == 0 and len(svc["deployments"]) == 1 and svc
    wait_for(lambda: steady(ecs, 2), timeout=90, what="the service to run its two tasks")
    tasks = sorted(ecs.list_tasks(cluster=CLUSTER, serviceName="through")["taskArns"])
    containers = {t: running(ecs, t)["containers"][0]["runtimeId"] for t in tasks}
    acked = []
    for i in range(20):
        ecs.create_cluster(clusterName=f"restart-{i}")
        acked.append(f"restart-{i}")

    for s in env.servers:
        s.kill9()
    down = time.monotonic()
    for s in env.servers:
        s.start()
    ecs = env.a.client("ecs")
    names = {c.rsplit("/", 1)[1] for c in ecs.list_clusters(maxResults=100)["clusterArns"]}
    assert set(acked) <= names, sorted(set(acked) - names)
    wait_for(lambda: env.etcd.any().get(LEADER_KEY) in {node_id(s) for s in env.servers}, timeout=30,
             interval=0.1, what="a leader after the restart")
    led = time.monotonic() - down
    # The same tasks, their containers never restarted.
    assert sorted(ecs.list_tasks(cluster=CLUSTER, serviceName="through")["taskArns"]) == tasks
    for t in tasks:
        assert running(ecs, t)["containers"][0]["runtimeId"] == containers[t]
        assert inspect(containers[t])["State"]["Running"]
    [instance] = ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"]
    wait_for(lambda: ecs.describe_container_instances(cluster=CLUSTER, containerInstances=[instance])
             ["containerInstances"][0]["agentConnected"], timeout=30, what="the agent to reconnect")
    # The controllers run again: a scale-up is carried out.
    ecs.update_service(cluster=CLUSTER, service="through", desiredCount=3)
    wait_for(lambda: steady(ecs, 3), timeout=90, what="the restarted servers to scale the service")
    assert set(tasks) <= set(ecs.list_tasks(cluster=CLUSTER, serviceName="through")["taskArns"])
    print(f"killed all three servers and started them again: {len(acked)} acknowledged clusters all there, "
          f"a leader {led:.1f} s after the kill, the service's two tasks untouched, scaled to three")
    ecs.update_service(cluster=CLUSTER, service="through", desiredCount=0)
    ecs.delete_service(cluster=CLUSTER, service="through", force=True)


def test_a_load_balancer_answers_on_every_server_and_a_leader_kill_mid_deployment_fails_no_request(env):
    ecs, elb = env.a.client("ecs"), env.a.client("elbv2")
    lb = elb.create_load_balancer(Name="ha-web")["LoadBalancers"][0]
    tg = target_group(elb, "ha-web")
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": tg}])
    v1, v2 = web_task(ecs, "ha-web", "v1"), web_task(ecs, "ha-web", "v2")
    ecs.create_service(cluster=CLUSTER, serviceName="web", taskDefinition=v1, desiredCount=2, launchType="EC2",
                       loadBalancers=[{"targetGroupArn": tg, "containerName": "app", "containerPort": 80}],
                       deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200})
    wait_for(lambda: len(healthy_targets(elb, tg)) == 2, timeout=120, what="two healthy targets")

    # The load balancer's name answers one address per server, from every server's DNS.
    def answers(server):
        return sorted((r[3] for r in dig(server.dns, lb["DNSName"])[1] if r[2] == "A"),
                      key=lambda a: int(a.rsplit(".", 1)[1]))
    every = wait_for(lambda: len(answers(env.a)) == 3 and answers(env.a), timeout=30,
                     what="the name to answer every server's address")
    assert answers(env.b) == every and answers(env.c) == every
    # a binds the shared range itself; b and c their own, further up.
    by_server = dict(zip(env.servers, every))
    assert [int(a.rsplit(".", 1)[1]) // 100 for a in every] == [0, 1, 2], every
    for addr in every:
        wait_for(lambda: get(addr, 80)[0] == 200, timeout=30, what=f"an answer through {addr}")

    [leader] = [s for s in env.servers if env.etcd.any().get(LEADER_KEY) == node_id(s)]
    survivors = [s for s in env.servers if s is not leader]
    survivor, survivor_addr = survivors[0], by_server[survivors[0]]
    ecs = survivor.client("ecs")

    def rolled():
        [svc] = ecs.describe_services(cluster=CLUSTER, services=["web"])["services"]
        deps = svc["deployments"]
        return (len(deps) == 1 and deps[0]["taskDefinition"] == v2 and deps[0]["rolloutState"] == "COMPLETED"
                and svc["runningCount"] == 2) and svc
    with Load(survivor_addr, 80) as load:
        time.sleep(2)
        ecs.update_service(cluster=CLUSTER, service="web", taskDefinition=v2)
        # Mid-deployment: a v2 task is up beside the v1 ones.
        wait_for(lambda: any(t["taskDefinitionArn"] == v2 and t["lastStatus"] == "RUNNING" for t in ecs.describe_tasks(
            cluster=CLUSTER, tasks=ecs.list_tasks(cluster=CLUSTER, serviceName="web")["taskArns"])["tasks"]),
            timeout=90, interval=0.2, what="a v2 task to run")
        leader.kill9()
        killed = time.monotonic()
        wait_for(rolled, timeout=180, interval=0.5, what="the survivor to finish the rollout")
        finished = time.monotonic() - killed
        time.sleep(2)
    total = sum(load.statuses.values())
    non_2xx = sum(n for code, n in load.statuses.items() if not 200 <= code < 300)
    # The killed server's address leaves the name's answer when its lease ends.
    left = [by_server[s] for s in survivors]
    wait_for(lambda: answers(survivor) == left, timeout=30, what="the dead server's address to go")
    print(f"load balancer {lb['DNSName']} answered {every}; killed the leader mid-rollout: {total} responses through "
          f"the survivor, {non_2xx} non-2xx, errors {dict(load.errors)}, bodies {dict(load.bodies)}; rollout "
          f"finished {finished:.1f} s after the kill; the name then answered {answers(survivor)}")
    assert total > 50 and non_2xx == 0, load.statuses
    assert not load.errors, load.errors
    assert load.bodies["v1"] > 0 and load.bodies["v2"] > 0
    leader.start()
    wait_for(lambda: answers(survivor) == every, timeout=30, what="the restarted server's address to come back")
    ecs.update_service(cluster=CLUSTER, service="web", desiredCount=0)
    ecs.delete_service(cluster=CLUSTER, service="web", force=True)
