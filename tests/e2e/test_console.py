"""The web console in a real browser (Debian's headless Chromium, driven by Selenium through
chromedriver), against a real server, agent, containers and load balancer, with nothing
made by hand: a wrong secret is refused and shows nothing; signed in, the pages list what
the APIs hold; `flotilla deploy` of a new image is watched from the service page until
COMPLETED, and a failing image's rollback shows there too; the page's Scale button changes
the service; a task's logs are tailed live; a read-only user's Scale is refused by IAM as
the same call from the AWS CLI is; an expired session, a missing CSRF token and another
site's origin are refused. Screenshots of the main pages are saved in
target/e2e-artifacts/console/ (the ones in docs/console/ were taken from there).

One server and one agent for the module; its load balancer takes an address from
127.0.42.1-127.0.42.10.
"""
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from agents import IMAGE, server_with_agent, wait_for
from conftest import ACCESS_KEY, BIN, SECRET_KEY
from test_iam import new_user
from test_load_balancer import get, lb_address, target_group, wait_healthy

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

CLUSTER = "default"
LB_RANGE = "127.0.42.1-127.0.42.10"
IDLE_SECONDS = 8
V2 = "flotilla-test/busybox:console-v2"
ARTIFACTS = Path(__file__).resolve().parents[2] / "target" / "e2e-artifacts" / "console"
# A new task serves (and turns healthy) a few seconds after it starts, so a deployment lasts
# long enough for the page to show it moving.
SITE = ("mkdir -p /w && echo $NAME > /w/index.html && echo ok > /w/health && trap 'exit 0' TERM; sleep 4; "
        "httpd -f -p 80 -h /w & i=0; while true; do echo \"site $NAME line $i\"; i=$((i+1)); sleep 0.5; done")


class Env:
    pass


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    if not shutil.which("chromedriver") or not shutil.which("chromium"):
        pytest.skip("chromium and chromium-driver are not installed (scripts/test installs them)")
    base = tmp_path_factory.mktemp("console")
    subprocess.run(["docker", "tag", IMAGE, V2], check=True)
    args = ["--lb-bind", LB_RANGE, "--service-backoff-base-ms", "50",
            "--console-session-idle-seconds", str(IDLE_SECONDS)]
    with server_with_agent(base, CLUSTER, args) as (server, _):
        e = Env()
        e.server, e.ecs, e.elb = server, server.client("ecs"), server.client("elbv2")
        e.url = server.console
        assert e.url and e.url.startswith("http://127.0.0.1:"), e.url
        lb = e.elb.create_load_balancer(Name="site")["LoadBalancers"][0]
        e.tg = target_group(e.elb, "site")
        e.elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80, DefaultActions=[
            {"Type": "forward", "TargetGroupArn": e.tg}])
        e.addr = lb_address(e.elb, lb["LoadBalancerArn"])
        container = {"name": "app", "image": IMAGE, "memory": 16, "essential": True, "stopTimeout": 2,
                     "command": ["sh", "-c", SITE], "environment": [{"name": "NAME", "value": "v1"}],
                     "portMappings": [{"containerPort": 80, "hostPort": 0}],
                     "logConfiguration": {"logDriver": "awslogs", "options": {
                         "awslogs-group": "/ecs/site", "awslogs-region": "us-east-1",
                         "awslogs-stream-prefix": "site", "awslogs-create-group": "true"}}}
        td = e.ecs.register_task_definition(family="site", containerDefinitions=[container])["taskDefinition"]
        e.ecs.create_service(
            cluster=CLUSTER, serviceName="site", taskDefinition=td["taskDefinitionArn"], desiredCount=2,
            loadBalancers=[{"targetGroupArn": e.tg, "containerName": "app", "containerPort": 80}],
            deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200,
                                     "deploymentCircuitBreaker": {"enable": True, "rollback": True}})
        r53 = server.client("route53")
        zone = r53.create_hosted_zone(Name="site.test", CallerReference=str(time.time()))["HostedZone"]["Id"]
        r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT",
            "ResourceRecordSet": {"Name": "www.site.test", "Type": "A", "AliasTarget": {
                "HostedZoneId": lb["CanonicalHostedZoneId"], "DNSName": lb["DNSName"],
                "EvaluateTargetHealth": False}}}]})
        server.client("ecr").create_repository(repositoryName="site")
        wait_healthy(e.elb, e.tg, 2)
        opts = webdriver.ChromeOptions()
        for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
            opts.add_argument(a)
        e.browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
        try:
            yield e
        finally:
            e.browser.quit()
    subprocess.run(["docker", "rmi", V2], capture_output=True)


def shot(e, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    e.browser.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def page(e, path, what, timeout=30):
    """Open `#/path` and wait for its page (`data-page=what`)."""
    e.browser.get(f"{e.url}/#/{path}")
    return wait_for(lambda: e.browser.find_elements(By.CSS_SELECTOR, f'[data-page="{what}"]'),
                    timeout=timeout, what=f"the {what} page")[0]


def text(e, element="main"):
    """The text of an element; "" while the page is being redrawn (every 2 s)."""
    try:
        return e.browser.find_element(By.ID, element).text
    except (StaleElementReferenceException, NoSuchElementException):
        return ""


def sign_in(e, key, secret):
    b = e.browser
    b.get(e.url + "/")
    if b.find_elements(By.ID, "sign-out") and b.find_element(By.ID, "sign-out").is_displayed():
        b.find_element(By.ID, "sign-out").click()
    wait_for(lambda: b.find_element(By.ID, "sign-in").is_displayed(), timeout=20, what="the sign-in form")
    for field, value in (("access-key-id", key), ("secret-access-key", secret)):
        b.find_element(By.ID, field).clear()
        b.find_element(By.ID, field).send_keys(value)
    b.find_element(By.ID, "sign-in-button").click()


def deployments(e):
    """(task definition, rollout) of each deployment row on the service page."""
    rows = e.browser.find_elements(By.CSS_SELECTOR, "tr.deployment")
    try:
        return [(r.get_attribute("data-task-definition"), r.get_attribute("data-rollout")) for r in rows]
    except StaleElementReferenceException:  # the page was redrawn under us: look again
        return []


def http(e, method, path, body=None, headers=None):
    req = urllib.request.Request(e.url + path, method=method, data=body and json.dumps(body).encode(),
                                 headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.headers, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, err.headers, json.loads(err.read() or b"{}")


def test_1_a_wrong_secret_shows_nothing(env):
    sign_in(env, ACCESS_KEY, "x" * 40)
    b = env.browser
    error = wait_for(lambda: b.find_element(By.ID, "sign-in-error").text, timeout=20, what="the error")
    assert error == "The access key ID or the secret access key is wrong."
    assert not b.find_element(By.ID, "main").is_displayed() and not b.find_element(By.ID, "nav").is_displayed()
    assert not b.get_cookies()
    # Nothing is readable without a session, whatever is asked.
    status, _, body = http(env, "POST", "/console/api/ecs/ListClusters", {})
    assert (status, body["error"]["code"]) == (401, "NotSignedIn")


def test_2_signed_in_pages_show_what_the_apis_hold(env):
    sign_in(env, ACCESS_KEY, SECRET_KEY)
    b = env.browser
    wait_for(lambda: "default" in text(env), timeout=20, what="the clusters page")
    [cookie] = b.get_cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie.get("expiry")
    shot(env, "clusters")
    page(env, "cluster/default", "cluster")
    wait_for(lambda: "site" in text(env) and "connected" in text(env), timeout=20, what="services and instances")
    shot(env, "cluster")
    page(env, "load-balancers", "load-balancers")
    b.find_element(By.LINK_TEXT, "site").click()
    wait_for(lambda: text(env).count("healthy") >= 2, timeout=20, what="two healthy targets")
    assert "HTTP:80" in text(env) and "forward to site (1)" in text(env)
    shot(env, "load-balancer")
    page(env, "zones", "zones")
    b.find_element(By.LINK_TEXT, "site.test.").click()
    wait_for(lambda: "www.site.test." in text(env), timeout=20, what="the alias record")
    assert "alias" in text(env)
    page(env, "repositories", "repositories")
    assert "site" in text(env)


def test_3_a_deployment_is_watched_to_completed_and_a_rollback_shows(env):
    page(env, "service/default/site", "service")
    wait_for(lambda: deployments(env) == [("site:1", "COMPLETED")], timeout=60, what="site:1 COMPLETED")
    cmd = [BIN, "deploy", "site", "--image", f"app={V2}", "--env", "NAME=v2", "--data-dir", str(env.server.data_dir)]
    deploy = subprocess.Popen(cmd, env=env.server.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = set()

    def completed():
        rows = deployments(env)
        seen.update(rows)
        return rows == [("site:2", "COMPLETED")]
    wait_for(completed, timeout=120, what="site:2 COMPLETED on the page")
    assert ("site:2", "IN_PROGRESS") in seen, seen  # the page moved while it ran
    out, err = deploy.communicate(timeout=60)
    assert deploy.returncode == 0 and "site:2 is deployed and stable" in out, out + err
    shot(env, "service")
    assert get(env.addr, 80)[2].strip() == "v2"

    bad = [BIN, "deploy", "site", "--image", "app=flotilla-test/busybox:no-such-tag",
           "--data-dir", str(env.server.data_dir)]
    deploy = subprocess.Popen(bad, env=env.server.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: "rolling back to deployment" in text(env, "events"),
             timeout=180, what="the rollback event on the page")
    wait_for(lambda: deployments(env) == [("site:2", "COMPLETED")], timeout=120, what="site:2 back and COMPLETED")
    out, err = deploy.communicate(timeout=60)
    assert deploy.returncode == 1 and "rolled back to site:2" in out, out + err
    shot(env, "rollback")


def test_4_the_scale_button_changes_the_service(env):
    page(env, "service/default/site", "service")
    b = env.browser
    field = b.find_element(By.ID, "desired-count")
    field.clear()
    field.send_keys("3")
    b.find_element(By.ID, "scale").click()
    wait_for(lambda: env.ecs.describe_services(cluster=CLUSTER, services=["site"])["services"][0]["desiredCount"] == 3,
             timeout=20, what="desiredCount 3")
    wait_for(lambda: "3 running" in text(env), timeout=90, what="3 running on the page")


def test_5_a_tasks_logs_are_tailed_live(env):
    page(env, "service/default/site", "service")
    b = env.browser
    task_link = wait_for(lambda: b.find_elements(By.CSS_SELECTOR, 'a[href^="#/task/"]'), timeout=20, what="a task")[0]
    task_link.click()
    wait_for(lambda: b.find_elements(By.CSS_SELECTOR, '[data-page="task"]'), timeout=20, what="the task page")
    shot(env, "task")
    b.find_element(By.LINK_TEXT, "app logs").click()
    def lines():
        try:
            return [x.text for x in b.find_elements(By.CSS_SELECTOR, ".log-line")]
        except StaleElementReferenceException:
            return []
    first = wait_for(lambda: [x for x in lines() if "site v2 line" in x], timeout=30, what="log lines")
    # Live: lines written after the page opened appear without reloading it.
    wait_for(lambda: len([x for x in lines() if "site v2 line" in x]) > len(first) + 2, timeout=30,
             what="new lines")
    shot(env, "logs")


def test_6_iam_decides_what_the_console_may_do(env):
    iam = env.server.client("iam")
    reader = new_user(iam, "console-reader")
    iam.attach_user_policy(UserName="console-reader", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    sign_in(env, reader["access_key"], reader["secret"])
    b = env.browser
    wait_for(lambda: "console-reader" in text(env, "who"), timeout=20, what="signed in as the reader")
    page(env, "service/default/site", "service")
    wait_for(lambda: b.find_elements(By.ID, "desired-count"), timeout=20, what="the scale form")
    field = b.find_element(By.ID, "desired-count")
    field.clear()
    field.send_keys("1")
    b.find_element(By.ID, "scale").click()
    notice = wait_for(lambda: "failed" in text(env, "notice") and text(env, "notice"), timeout=20, what="the refusal")
    assert "AccessDeniedException" in notice and "ecs:UpdateService" in notice, notice
    assert env.ecs.describe_services(cluster=CLUSTER, services=["site"])["services"][0]["desiredCount"] == 3


def test_7_expired_sessions_missing_tokens_and_other_sites_are_refused(env):
    status, headers, body = http(env, "POST", "/console/session",
                                 {"accessKeyId": ACCESS_KEY, "secretAccessKey": SECRET_KEY})
    assert status == 200, body
    cookie = headers["Set-Cookie"].split(";")[0]
    csrf = body["csrf"]
    status, _, body = http(env, "POST", "/console/api/ecs/ListClusters", {}, {"cookie": cookie})
    assert (status, body["error"]["code"]) == (403, "InvalidCsrfToken")
    status, _, body = http(env, "POST", "/console/api/ecs/ListClusters", {},
                           {"cookie": cookie, "x-flotilla-csrf": csrf, "origin": "http://evil.example"})
    assert (status, body["error"]["code"]) == (403, "CrossOrigin")
    status, _, body = http(env, "POST", "/console/api/ecs/ListClusters", {}, {"cookie": cookie, "x-flotilla-csrf": csrf})
    assert status == 200 and body["clusterArns"], body
    # Bad input reaches the API's own validation, with its error.
    status, _, body = http(env, "POST", "/console/api/ecs/UpdateService", {"cluster": CLUSTER, "service": "site",
                                                                           "desiredCount": -1},
                           {"cookie": cookie, "x-flotilla-csrf": csrf})
    assert status == 400 and body["error"]["code"] == "InvalidParameterException", body
    time.sleep(IDLE_SECONDS + 1)
    status, _, body = http(env, "GET", "/console/session", None, {"cookie": cookie})
    assert (status, body["error"]["code"]) == (401, "SessionExpired")
    assert body["error"]["message"] == "Your session has expired: sign in again."
    status, _, body = http(env, "POST", "/console/api/ecs/ListClusters", {}, {"cookie": cookie, "x-flotilla-csrf": csrf})
    assert status == 401
