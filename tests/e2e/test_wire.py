"""The AWS wire protocol: SigV4 refusals, protocol-native errors, malformed input."""
import datetime
import json
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, SECRET_KEY

ECS_TARGET = "AmazonEC2ContainerServiceV20141113"


def send(req: AWSRequest):
    """Send a prepared request; (status, headers, body)."""
    prepared = req.prepare()
    r = urllib.request.Request(prepared.url, data=prepared.body, method=prepared.method,
                               headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def signed_json(flotilla, operation, body: bytes, secret=SECRET_KEY, service="ecs", when=None):
    req = AWSRequest(method="POST", url=flotilla.endpoint + "/", data=body, headers={
        "X-Amz-Target": f"{ECS_TARGET}.{operation}",
        "Content-Type": "application/x-amz-json-1.1",
    })
    auth = SigV4Auth(Credentials(ACCESS_KEY, secret), service, "us-east-1")
    if when is None:
        auth.add_auth(req)
    else:
        # Sign with a chosen clock, as a client with a wrong clock would.
        with mock.patch("botocore.auth.get_current_datetime", lambda *a, **k: when):
            auth.add_auth(req)
    return send(req)


def test_wrong_secret_is_a_signature_error(flotilla):
    ecs = flotilla.client("ecs", secret="x" * 40)
    with pytest.raises(ClientError) as e:
        ecs.list_clusters()
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert "signature" in e.value.response["Error"]["Message"].lower()


def test_unknown_key_is_unrecognized(flotilla):
    ecs = flotilla.client("ecs", access_key="AKIAUNKNOWNUNKNOWN00")
    with pytest.raises(ClientError) as e:
        ecs.list_clusters()
    assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_missing_signature_is_refused_in_json(flotilla):
    req = AWSRequest(method="POST", url=flotilla.endpoint + "/", data=b"{}", headers={
        "X-Amz-Target": f"{ECS_TARGET}.ListClusters", "Content-Type": "application/x-amz-json-1.1"})
    status, headers, body = send(req)
    assert status == 403
    assert json.loads(body)["__type"] == "MissingAuthenticationTokenException"
    assert headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert headers["x-amzn-RequestId"]


def test_request_outside_clock_skew_is_refused(flotilla):
    old = datetime.datetime.utcnow() - datetime.timedelta(hours=1)
    status, _, body = signed_json(flotilla, "ListClusters", b"{}", when=old)
    assert status in (400, 403)
    err = json.loads(body)
    assert err["__type"] == "InvalidSignatureException"
    assert "expired" in err["message"].lower()


def test_malformed_json_is_a_serialization_exception(flotilla):
    status, headers, body = signed_json(flotilla, "CreateCluster", b'{"clusterName": ')
    assert status == 400
    assert json.loads(body)["__type"] == "SerializationException"
    status, _, body = signed_json(flotilla, "CreateCluster", b'{"clusterName": 17}')
    assert json.loads(body)["__type"] == "SerializationException"


def test_unknown_operation(flotilla):
    status, _, body = signed_json(flotilla, "LaunchRockets", b"{}")
    assert status == 400
    assert json.loads(body)["__type"] == "UnknownOperationException"


def test_oversized_body_gets_413(flotilla):
    status, _, body = signed_json(flotilla, "CreateCluster", b'{"x":"' + b"a" * (11 * 1024 * 1024) + b'"}')
    assert status == 413
    assert json.loads(body)["__type"] == "RequestEntityTooLargeException"


def test_a_declared_huge_body_is_refused_without_waiting_for_it(flotilla):
    # Declares 100 GB and sends two bytes: the answer comes at once, not when the body ends.
    import socket
    import time
    host, port = flotilla.endpoint.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: localhost\r\n"
                     b"X-Amz-Target: AmazonEC2ContainerServiceV20141113.ListClusters\r\n"
                     b"Content-Type: application/x-amz-json-1.1\r\n"
                     b"Content-Length: 100000000000\r\n\r\n{}")
        start = time.monotonic()
        answer = sock.recv(4096)
        assert time.monotonic() - start < 5
    assert answer.startswith(b"HTTP/1.1 413"), answer[:100]


def test_garbage_never_crashes_the_server(flotilla):
    bodies = [b"", b"null", b"[]", b"\xff\xfe", b'{"clusters": "x"}', b'{"clusters": [1, {}]}',
              b'{"include": ["TAGS", null]}', b"{" * 5000, json.dumps({"a": "\u0000"}).encode()]
    for op in ["DescribeClusters", "CreateCluster", "RegisterTaskDefinition", "ListClusters",
               "DescribeTaskDefinition", "TagResource", "ListAccountSettings"]:
        for body in bodies:
            status, _, resp = signed_json(flotilla, op, body)
            assert status < 500, (op, body[:40], resp)
            json.loads(resp)
    assert flotilla.proc.poll() is None
    assert flotilla.client("ecs").list_clusters() is not None


def test_sts_get_caller_identity_over_the_query_protocol(flotilla):
    ident = flotilla.aws("sts", "get-caller-identity")
    assert ident == {"UserId": "000000000000", "Account": "000000000000",
                     "Arn": "arn:aws:iam::000000000000:root"}


def test_query_protocol_errors_are_xml(flotilla):
    sts = flotilla.client("sts", secret="y" * 40)
    with pytest.raises(ClientError) as e:
        sts.get_caller_identity()
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    # Unsigned: an <ErrorResponse> document.
    req = AWSRequest(method="POST", url=flotilla.endpoint + "/", data=b"Action=GetCallerIdentity&Version=2011-06-15",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    status, _, body = send(req)
    assert status == 403
    root = ET.fromstring(body)
    assert root.tag.endswith("ErrorResponse")
    code = root.find(".//{*}Code")
    assert code is not None and code.text == "MissingAuthenticationToken"


def test_presigned_query_string_is_accepted(flotilla):
    sts = flotilla.client("sts")
    # As signed by botocore (POST, the operation's method) and as EKS-style tokens (GET).
    for method in ("POST", "GET"):
        url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod=method)
        with urllib.request.urlopen(urllib.request.Request(url, method=method, data=b"" if method == "POST" else None),
                                    timeout=10) as resp:
            assert b"<Account>000000000000</Account>" in resp.read()
    # The same URL with one character of the signature changed is refused.
    url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
    broken = url[:-1] + ("0" if url[-1] != "0" else "1")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(broken, timeout=10)
    assert b"SignatureDoesNotMatch" in e.value.read()
    # A GET URL replayed as another method is refused too.
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(urllib.request.Request(url, method="POST", data=b""), timeout=10)


def test_rest_xml_services_answer_in_xml(flotilla):
    # Route 53 speaks REST-XML: answers and errors are XML documents botocore parses.
    r53 = flotilla.client("route53")
    assert "HostedZones" in r53.list_hosted_zones()
    with pytest.raises(ClientError) as e:
        r53.get_hosted_zone(Id="ZDOESNOTEXIST01")
    assert e.value.response["Error"]["Code"] == "NoSuchHostedZone"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["content-type"].endswith("xml")


def test_regions_are_partitioned(flotilla):
    east = flotilla.client("ecs", region="us-east-1")
    west = flotilla.client("ecs", region="eu-west-1")
    east.create_cluster(clusterName="regional")
    arn = west.create_cluster(clusterName="regional")["cluster"]["clusterArn"]
    assert arn == "arn:aws:ecs:eu-west-1:000000000000:cluster/regional"
    west.delete_cluster(cluster="regional")
    [c] = east.describe_clusters(clusters=["regional"])["clusters"]
    assert c["status"] == "ACTIVE"


def test_idle_and_slow_sockets_do_not_lock_clients_out(tmp_path):
    """More idle sockets than the connection cap, and a slowloris, while the CLI still gets
    answers: at the cap the quietest connection makes room, and the cap is logged."""
    import socket
    import time

    from conftest import Flotilla

    server = Flotilla(tmp_path / "data", extra_args=["--max-connections", "40"]).start()
    host, port = server.endpoint.removeprefix("http://").split(":")
    idle, slow = [], []
    try:
        for _ in range(60):
            idle.append(socket.create_connection((host, int(port)), timeout=5))
        slow_one = socket.create_connection((host, int(port)), timeout=5)
        slow_one.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
        slow.append(slow_one)
        for _ in range(3):
            assert server.aws("ecs", "list-clusters") == {"clusterArns": []}
        assert "connection limit reached" in server.log.read_text()
        # The slowloris never finishes its headers: it is cut within the header timeout.
        slow_one.settimeout(15)
        deadline = time.monotonic() + 15
        cut = False
        while time.monotonic() < deadline and not cut:
            try:
                slow_one.sendall(b"X")
                cut = slow_one.recv(1024) == b""
            except (socket.timeout, OSError):
                cut = True
        assert cut
    finally:
        for s in idle + slow:
            s.close()
        server.stop()
