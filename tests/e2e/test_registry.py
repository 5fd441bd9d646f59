"""The image registry end to end (issue: image registry): real `docker push`/`pull`, real
skopeo and the real AWS CLI against Flotilla's registry and ECR API, and an agent that
runs a service from a pushed image with no `docker login` on its host.

Layout: one server for the module (cluster `reg`, one agent, lifecycle policies applied
every second); the tests use their own repositories, so they do not interfere. The
kill -9 and cross-registry tests start their own servers.
"""
import base64
import json
import os
import subprocess
import urllib.error
import urllib.request
import uuid

import pytest

from agents import IMAGE, AgentProcess, build_test_image, remove_containers, wait_for
from conftest import BIN, Flotilla

CLUSTER = "reg"


def docker(cfg, *args, check=True, timeout=300):
    out = subprocess.run(["docker", "--config", str(cfg), *args], capture_output=True, text=True,
                         timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {out.stdout}\n{out.stderr}")
    return out


def login(server, cfg):
    password = server.aws("ecr", "get-login-password", check=False).stdout.strip()
    assert password, "get-login-password printed nothing"
    out = subprocess.run(["docker", "--config", str(cfg), "login", "--username", "AWS", "--password-stdin",
                          server.registry], input=password, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "Login Succeeded" in out.stdout, out.stderr
    return password


def build(cfg, tmp_path, ref, version, extra_kb=256):
    """A three-layer image (the test image, random bytes, a version file) tagged `ref`."""
    ctx = tmp_path / f"ctx-{uuid.uuid4().hex[:8]}"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f"FROM {IMAGE}\n"
        # The build's own id in the command: no build reuses another's cached noise layer.
        f"RUN dd if=/dev/urandom of=/noise bs=1k count={extra_kb} 2>/dev/null && echo {ctx.name} > /id\n"
        f"RUN echo {version} > /www/version.txt\n"
        'CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n')
    docker(cfg, "build", "-q", "-t", ref, str(ctx))
    return docker(cfg, "image", "inspect", "-f", "{{.Id}}", ref).stdout.strip()


def push(cfg, ref):
    """Push; the manifest digest docker reports."""
    out = docker(cfg, "push", ref).stdout
    return next(w for w in out.split() if w.startswith("sha256:"))


def rmi(cfg, *refs):
    docker(cfg, "rmi", "-f", *refs, check=False)


def create_repository(server, name, *extra):
    return server.aws("ecr", "create-repository", "--repository-name", name, *extra)["repository"]


def described_digests(server, name):
    return {d["imageDigest"]: d for d in server.aws("ecr", "describe-images", "--repository-name", name)["imageDetails"]}


def http(server, method, path, password=None, body=None, headers=None):
    """A raw registry request: (status, headers, body)."""
    req = urllib.request.Request(f"http://{server.registry}{path}", data=body, method=method,
                                 headers=dict(headers or {}))
    if password is not None:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"AWS:{password}".encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def remove_images_of(registry):
    """Every image reference the host's Docker holds from `registry` (pushed by a test or
    pulled by the agent), so that a test run leaves nothing behind. By reference, never by
    id: a pushed test image shares its id with the local test image other tests run."""
    out = subprocess.run(["docker", "images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}"],
                         capture_output=True, text=True, timeout=60).stdout
    refs = set()
    for repo, tag, digest in (line.split() for line in out.splitlines()):
        if repo.startswith(f"{registry}/"):
            refs.add(f"{repo}:{tag}" if tag != "<none>" else f"{repo}@{digest}")
    if refs:
        subprocess.run(["docker", "rmi", "-f", *sorted(refs)], capture_output=True, timeout=120)


def error_code(body):
    return json.loads(body)["errors"][0]["code"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    build_test_image()
    base = tmp_path_factory.mktemp("registry")
    server = Flotilla(base / "server", extra_args=["--registry-lifecycle-interval-seconds", "1"]).start()
    server.client("ecs").create_cluster(clusterName=CLUSTER)
    agent = AgentProcess(server, base / "agent", cluster=CLUSTER).start()
    cfg = base / "docker-config"
    cfg.mkdir()
    password = login(server, cfg)
    arn = None
    try:
        arn = agent.instance_arn()
        yield server, agent, cfg, password
    finally:
        agent.stop()
        server.stop()
        # This agent's containers only: another module may have a cluster of this name.
        if arn:
            remove_containers(f"flotilla.container-instance={arn}")
        remove_images_of(server.registry)


def test_docker_push_and_pull_give_back_the_same_image(env, tmp_path):
    server, _, cfg, _ = env
    repo = create_repository(server, "team/roundtrip")
    assert repo["repositoryUri"] == f"{server.registry}/team/roundtrip"
    ref = f"{repo['repositoryUri']}:v1"
    image_id = build(cfg, tmp_path, ref, "v1")
    digest = push(cfg, ref)
    rmi(cfg, ref)
    docker(cfg, "pull", "-q", ref)
    assert docker(cfg, "image", "inspect", "-f", "{{.Id}}", ref).stdout.strip() == image_id
    detail = described_digests(server, "team/roundtrip")[digest]
    assert detail["imageTags"] == ["v1"]
    assert detail["imageManifestMediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert detail["imageSizeInBytes"] > 256 * 1024
    # The same bytes by digest, with the headers a client checks.
    status, headers, manifest = http(server, "GET", f"/v2/team/roundtrip/manifests/{digest}", env[3],
                                     headers={"Accept": detail["imageManifestMediaType"]})
    assert status == 200 and headers["Docker-Content-Digest"] == digest
    got = server.aws("ecr", "batch-get-image", "--repository-name", "team/roundtrip", "--image-ids", "imageTag=v1")
    assert got["images"][0]["imageManifest"].encode() == manifest
    rmi(cfg, ref)


def test_skopeo_copies_archives_in_and_out(env, tmp_path):
    server, _, cfg, password = env
    create_repository(server, "team/skopeo")
    local = f"flotilla-test/skopeo:{uuid.uuid4().hex[:8]}"
    image_id = build(cfg, tmp_path, local, "sk")
    archive = tmp_path / "in.tar"
    docker(cfg, "save", "-o", str(archive), local)
    creds = f"AWS:{password}"
    dest = f"docker://{server.registry}/team/skopeo:sk"
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", creds,
                    f"docker-archive:{archive}", dest], check=True, timeout=300)
    inspected = json.loads(subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--creds", creds, dest],
                                          check=True, capture_output=True, text=True, timeout=120).stdout)
    assert inspected["Digest"] in described_digests(server, "team/skopeo")
    back = tmp_path / "out.tar"
    subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--src-creds", creds, dest,
                    f"docker-archive:{back}:{local}-back"], check=True, timeout=300)
    loaded = docker(cfg, "load", "-i", str(back)).stdout
    assert image_id.removeprefix("sha256:")[:12] in loaded or f"{local}-back" in loaded
    assert docker(cfg, "image", "inspect", "-f", "{{.Id}}", f"{local}-back").stdout.strip() == image_id
    rmi(cfg, local, f"{local}-back")


def test_an_immutable_tag_is_pushed_once(env, tmp_path):
    server, _, cfg, _ = env
    uri = create_repository(server, "team/immutable", "--image-tag-mutability", "IMMUTABLE")["repositoryUri"]
    build(cfg, tmp_path, f"{uri}:v1", "one")
    first = push(cfg, f"{uri}:v1")
    push(cfg, f"{uri}:v1")  # the same image again is fine
    build(cfg, tmp_path, f"{uri}:v1", "two")
    out = docker(cfg, "push", f"{uri}:v1", check=False)
    assert out.returncode != 0 and "tag invalid" in out.stderr + out.stdout, out.stderr
    assert "cannot be overwritten because the repository is immutable" in out.stderr + out.stdout
    tagged = [d for d, i in described_digests(server, "team/immutable").items() if i.get("imageTags")]
    assert tagged == [first]
    rmi(cfg, f"{uri}:v1")


def test_a_repository_with_images_is_deleted_only_with_force(env, tmp_path):
    server, _, cfg, _ = env
    uri = create_repository(server, "team/doomed")["repositoryUri"]
    build(cfg, tmp_path, f"{uri}:x", "x", extra_kb=4)
    push(cfg, f"{uri}:x")
    out = server.aws("ecr", "delete-repository", "--repository-name", "team/doomed", check=False)
    assert out.returncode != 0 and "RepositoryNotEmptyException" in out.stderr
    server.aws("ecr", "delete-repository", "--repository-name", "team/doomed", "--force")
    out = server.aws("ecr", "describe-repositories", "--repository-names", "team/doomed", check=False)
    assert "RepositoryNotFoundException" in out.stderr
    rmi(cfg, f"{uri}:x")


def test_a_lifecycle_policy_expires_old_images_and_gc_frees_their_blobs(env, tmp_path):
    server, _, cfg, password = env
    uri = create_repository(server, "team/aging")["repositoryUri"]
    digests = []
    for n in range(3):
        build(cfg, tmp_path, f"{uri}:v{n}", f"aging-{n}", extra_kb=64)
        digests.append(push(cfg, f"{uri}:v{n}"))
    manifests = {d: json.loads(http(server, "GET", f"/v2/team/aging/manifests/{d}", password)[2]) for d in digests}
    policy = json.dumps({"rules": [{
        "rulePriority": 1, "description": "keep the newest v* image",
        "selection": {"tagStatus": "tagged", "tagPrefixList": ["v"], "countType": "imageCountMoreThan",
                      "countNumber": 1},
        "action": {"type": "expire"}}]})
    server.aws("ecr", "start-lifecycle-policy-preview", "--repository-name", "team/aging",
               "--lifecycle-policy-text", policy)
    preview = server.aws("ecr", "get-lifecycle-policy-preview", "--repository-name", "team/aging")
    assert preview["status"] == "COMPLETE"
    assert sorted(r["imageDigest"] for r in preview["previewResults"]) == sorted(digests[:2])
    server.aws("ecr", "put-lifecycle-policy", "--repository-name", "team/aging", "--lifecycle-policy-text", policy)
    wait_for(lambda: set(described_digests(server, "team/aging")) == {digests[2]}, timeout=30,
             what="the lifecycle policy to expire the two older images")
    # Each expired image's own noise layer is referenced by nothing now.
    expired_layers = [manifests[d]["layers"][1]["digest"] for d in digests[:2]]
    for layer in expired_layers:
        assert http(server, "HEAD", f"/v2/team/aging/blobs/{layer}", password)[0] == 200
    out = subprocess.run([BIN, "registry", "gc", "--grace-seconds", "0", "--data-dir", str(server.data_dir)],
                         env=server.env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["blobsRemoved"] >= 2 and report["bytesFreed"] >= 2 * 64 * 1024
    for layer in expired_layers:
        assert http(server, "HEAD", f"/v2/team/aging/blobs/{layer}", password)[0] == 404
    kept = manifests[digests[2]]["layers"][1]["digest"]
    assert http(server, "HEAD", f"/v2/team/aging/blobs/{kept}", password)[0] == 200
    for n in range(3):
        rmi(cfg, f"{uri}:v{n}")


def test_bad_requests_get_the_registry_errors_and_store_nothing(env):
    server, _, _, password = env
    create_repository(server, "team/strict")
    # No credentials: the challenge docker login answers.
    status, headers, body = http(server, "POST", "/v2/team/strict/blobs/uploads/")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic realm=")
    assert error_code(body) == "UNAUTHORIZED"
    # A forged token.
    forged = password[:-4] + ("0000" if not password.endswith("0000") else "1111")
    assert http(server, "GET", "/v2/", forged)[0] == 401
    # Bytes that do not match their digest.
    data = os.urandom(1000)
    claimed = "sha256:" + "ab" * 32
    status, _, body = http(server, "POST", f"/v2/team/strict/blobs/uploads/?digest={claimed}", password, data,
                           {"Content-Type": "application/octet-stream"})
    assert status == 400 and error_code(body) == "DIGEST_INVALID"
    import hashlib
    actual = "sha256:" + hashlib.sha256(data).hexdigest()
    for d in (claimed, actual):
        assert http(server, "HEAD", f"/v2/team/strict/blobs/{d}", password)[0] == 404
    # A manifest naming a blob that is not there.
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": actual, "size": 1000},
                           "layers": []}).encode()
    status, _, body = http(server, "PUT", "/v2/team/strict/manifests/v1", password, manifest,
                           {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert status == 400 and error_code(body) == "MANIFEST_BLOB_UNKNOWN"
    assert server.aws("ecr", "list-images", "--repository-name", "team/strict")["imageIds"] == []
    # A repository that does not exist (ECR does not create one on push).
    status, _, body = http(server, "POST", "/v2/team/nowhere/blobs/uploads/", password)
    assert status == 404 and error_code(body) == "NAME_UNKNOWN"


def test_a_token_of_another_registry_reads_nothing(env, tmp_path):
    server, _, _, password = env
    other = Flotilla(tmp_path / "other").start()
    try:
        other.aws("ecr", "create-repository", "--repository-name", "team/roundtrip")
        theirs = other.aws("ecr", "get-login-password", check=False).stdout.strip()
        assert http(server, "GET", "/v2/team/roundtrip/tags/list", theirs)[0] == 401
        assert http(other, "GET", "/v2/team/roundtrip/tags/list", password)[0] == 401
        assert http(other, "GET", "/v2/team/roundtrip/tags/list", theirs)[0] == 200
    finally:
        other.stop()


def test_a_push_cut_by_kill9_leaves_nothing_half_written(tmp_path):
    build_test_image()
    server = Flotilla(tmp_path / "data").start()
    cfg = tmp_path / "docker-config"
    cfg.mkdir()
    try:
        create_repository(server, "team/crash")
        password = login(server, cfg)
        status, headers, _ = http(server, "POST", "/v2/team/crash/blobs/uploads/", password)
        assert status == 202
        location = headers["Location"]
        data = os.urandom(64 * 1024)
        status, _, _ = http(server, "PATCH", location, password, data[:40000],
                            {"Content-Type": "application/octet-stream", "Content-Range": "0-39999"})
        assert status == 202
        server.kill9()
        server.start()
        import hashlib
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        assert http(server, "HEAD", f"/v2/team/crash/blobs/{digest}", password)[0] == 404
        # The upload resumes where its bytes ended, or the push starts again; both work.
        status, headers, _ = http(server, "GET", location, password)
        assert status == 204 and headers["Range"] == "0-39999"
        status, _, _ = http(server, "PUT", f"{location}?digest={digest}", password, data[40000:],
                            {"Content-Type": "application/octet-stream"})
        assert status == 201
        assert http(server, "HEAD", f"/v2/team/crash/blobs/{digest}", password)[0] == 200
        # The restarted server's registry has a new port (the tests bind port 0).
        uri = f"{server.registry}/team/crash"
        login(server, cfg)
        build(cfg, tmp_path, f"{uri}:after", "after", extra_kb=16)
        push(cfg, f"{uri}:after")
        rmi(cfg, f"{uri}:after")
        docker(cfg, "pull", "-q", f"{uri}:after")
        rmi(cfg, f"{uri}:after")
    finally:
        server.stop()
        remove_images_of(server.registry)


def running_task(ecs, service, task_definition=None):
    tasks = ecs.list_tasks(cluster=CLUSTER, serviceName=service, desiredStatus="RUNNING")["taskArns"]
    if not tasks:
        return None
    for t in ecs.describe_tasks(cluster=CLUSTER, tasks=tasks)["tasks"]:
        if t["lastStatus"] == "RUNNING" and task_definition in (None, t["taskDefinitionArn"]):
            return t
    return None


def served_version(task):
    """What the task's web server answers; a task is RUNNING once its container started,
    which can be a moment before httpd listens (Docker's proxy then resets the connection),
    so connection errors are retried for up to 10 s."""
    port = task["containers"][0]["networkBindings"][0]["hostPort"]

    def fetch():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/version.txt", timeout=5) as r:
                return r.read().decode().strip()
        except (ConnectionError, urllib.error.URLError):
            return None
    return wait_for(fetch, timeout=10, interval=0.1, what=f"an answer on port {port}")


def test_a_service_runs_pushed_images_and_rolls_to_a_new_tag(env, tmp_path):
    server, _, cfg, _ = env
    ecs = server.client("ecs")
    uri = create_repository(server, "team/web")["repositoryUri"]
    digests = {}
    for version in ("v1", "v2"):
        build(cfg, tmp_path, f"{uri}:{version}", version, extra_kb=16)
        digests[version] = push(cfg, f"{uri}:{version}")
    # The host's Docker has neither: the agent must pull them, with its own credentials.
    rmi(cfg, f"{uri}:v1", f"{uri}:v2")

    def register(version):
        return ecs.register_task_definition(family="web-from-registry", containerDefinitions=[{
            "name": "web", "image": f"{uri}:{version}", "memory": 32, "essential": True,
            "portMappings": [{"containerPort": 8080, "hostPort": 0}]}])["taskDefinition"]["taskDefinitionArn"]

    v1, v2 = register("v1"), register("v2")
    ecs.create_service(cluster=CLUSTER, serviceName="web", taskDefinition=v1, desiredCount=1,
                       deploymentConfiguration={"minimumHealthyPercent": 0, "maximumPercent": 100})
    try:
        task = wait_for(lambda: running_task(ecs, "web", v1), timeout=120, what="the v1 task to run")
        assert served_version(task) == "v1"
        ecs.update_service(cluster=CLUSTER, service="web", taskDefinition=v2)
        task = wait_for(lambda: running_task(ecs, "web", v2), timeout=120, what="the v2 task to run")
        assert served_version(task) == "v2"
    finally:
        ecs.delete_service(cluster=CLUSTER, service="web", force=True)
    # Pinned by digest: the pull checks it (a digest the registry lacks is refused).
    pinned = ecs.register_task_definition(family="web-pinned", containerDefinitions=[{
        "name": "web", "image": f"{uri}@{digests['v1']}", "memory": 32, "essential": True,
        "portMappings": [{"containerPort": 8080, "hostPort": 0}]}])["taskDefinition"]["taskDefinitionArn"]
    arn = ecs.run_task(cluster=CLUSTER, taskDefinition=pinned)["tasks"][0]["taskArn"]

    def running():
        t = ecs.describe_tasks(cluster=CLUSTER, tasks=[arn])["tasks"][0]
        assert t["lastStatus"] != "STOPPED", t.get("stoppedReason")
        return t if t["lastStatus"] == "RUNNING" else None

    try:
        assert served_version(wait_for(running, timeout=120, what="the pinned task to run")) == "v1"
    finally:
        ecs.stop_task(cluster=CLUSTER, task=arn)


def test_a_missing_image_stops_the_task_with_the_registrys_message(env):
    server, _, _, _ = env
    ecs = server.client("ecs")
    uri = create_repository(server, "team/absent")["repositoryUri"]
    td = ecs.register_task_definition(family="absent", containerDefinitions=[{
        "name": "app", "image": f"{uri}:nope", "memory": 16, "essential": True}])["taskDefinition"]
    arn = ecs.run_task(cluster=CLUSTER, taskDefinition=td["taskDefinitionArn"])["tasks"][0]["taskArn"]

    def stopped():
        t = ecs.describe_tasks(cluster=CLUSTER, tasks=[arn])["tasks"][0]
        return t if t["lastStatus"] == "STOPPED" else None

    task = wait_for(stopped, timeout=60, what="the task to stop")
    assert task["stopCode"] == "TaskFailedToStart"
    reason = task["containers"][0].get("reason", "") + task.get("stoppedReason", "")
    assert "CannotPullContainerError" in reason and "manifest unknown" in reason, reason


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_ecr_api_shapes_and_errors(env):
    from botocore.exceptions import ClientError
    server = env[0]
    ecr = server.client("ecr")
    repo = ecr.create_repository(repositoryName="api/shapes", tags=[{"Key": "team", "Value": "web"}],
                                 imageScanningConfiguration={"scanOnPush": True})["repository"]
    assert repo["repositoryArn"] == "arn:aws:ecr:us-east-1:000000000000:repository/api/shapes"
    assert repo["imageTagMutability"] == "MUTABLE" and repo["imageScanningConfiguration"]["scanOnPush"]
    assert repo["encryptionConfiguration"] == {"encryptionType": "AES256"}
    for call, args, expected in [
        ("create_repository", dict(repositoryName="api/shapes"), "RepositoryAlreadyExistsException"),
        ("create_repository", dict(repositoryName="Bad_Name"), "InvalidParameterException"),
        ("create_repository", dict(repositoryName="api/x", imageTagMutability="SOMETIMES"),
         "InvalidParameterException"),
        ("describe_repositories", dict(repositoryNames=["api/none"]), "RepositoryNotFoundException"),
        ("delete_repository", dict(repositoryName="api/none"), "RepositoryNotFoundException"),
        ("list_images", dict(repositoryName="api/none"), "RepositoryNotFoundException"),
        ("describe_images", dict(repositoryName="api/shapes", imageIds=[{"imageTag": "nope"}]),
         "ImageNotFoundException"),
        ("get_lifecycle_policy", dict(repositoryName="api/shapes"), "LifecyclePolicyNotFoundException"),
        ("get_repository_policy", dict(repositoryName="api/shapes"), "RepositoryPolicyNotFoundException"),
        ("get_lifecycle_policy_preview", dict(repositoryName="api/shapes"),
         "LifecyclePolicyPreviewNotFoundException"),
        ("put_lifecycle_policy", dict(repositoryName="api/shapes", lifecyclePolicyText='{"rules": []}' + " " * 100),
         "InvalidParameterException"),
        ("tag_resource", dict(resourceArn=repo["repositoryArn"], tags=[{"Key": "aws:x", "Value": "y"}]),
         "InvalidTagParameterException"),
        ("get_registry_policy", dict(), "RegistryPolicyNotFoundException"),
    ]:
        with pytest.raises(ClientError) as e:
            getattr(ecr, call)(**args)
        assert code(e) == expected, (call, e.value.response)
    # Failures per image, not for the batch.
    got = ecr.batch_get_image(repositoryName="api/shapes", imageIds=[{"imageTag": "nope"}, {"imageDigest": "x"}])
    assert [f["failureCode"] for f in got["failures"]] == ["ImageNotFound", "InvalidImageDigest"]
    # Settings, tags and policies round-trip.
    ecr.put_image_tag_mutability(repositoryName="api/shapes", imageTagMutability="IMMUTABLE")
    assert ecr.describe_repositories(repositoryNames=["api/shapes"])["repositories"][0]["imageTagMutability"] \
        == "IMMUTABLE"
    ecr.tag_resource(resourceArn=repo["repositoryArn"], tags=[{"Key": "env", "Value": "prod"}])
    ecr.untag_resource(resourceArn=repo["repositoryArn"], tagKeys=["team"])
    assert ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"] == [{"Key": "env", "Value": "prod"}]
    policy = json.dumps({"Version": "2012-10-17", "Statement": []})
    ecr.set_repository_policy(repositoryName="api/shapes", policyText=policy)
    assert ecr.get_repository_policy(repositoryName="api/shapes")["policyText"] == policy
    ecr.delete_repository_policy(repositoryName="api/shapes")
    # Pagination walks every repository once.
    for n in range(3):
        ecr.create_repository(repositoryName=f"api/page{n}")
    names = [r["repositoryName"] for p in ecr.get_paginator("describe_repositories").paginate(
        PaginationConfig={"PageSize": 2}) for r in p["repositories"]]
    assert len(names) == len(set(names)) and {"api/page0", "api/page1", "api/page2"} <= set(names)
    token = ecr.get_authorization_token()["authorizationData"][0]
    assert base64.b64decode(token["authorizationToken"]).startswith(b"AWS:")
    assert token["proxyEndpoint"] == f"http://{server.registry}"
