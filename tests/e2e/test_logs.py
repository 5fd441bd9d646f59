"""CloudWatch Logs end to end with the real AWS CLI and boto3: log groups (prefix,
pattern, pagination, retention, tags), streams, PutLogEvents with AWS's limits and its
rejected events, GetLogEvents paging both ways, FilterLogEvents with filter patterns,
a `tail --follow` loop, retention that removes old events, and events that survive kill -9."""
import json
import time

import botocore.exceptions
import pytest

from conftest import Flotilla

DAY_MS = 86_400_000


def now_ms():
    return int(time.time() * 1000)


@pytest.fixture(scope="module")
def flotilla(tmp_path_factory):
    server = Flotilla(tmp_path_factory.mktemp("logs")).start()
    yield server
    server.stop()


def error_code(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_groups_prefix_pattern_pages_retention_tags(flotilla):
    logs = flotilla.client("logs")
    for name in ["/g/api", "/g/web", "/g/worker", "/other/web"]:
        logs.create_log_group(logGroupName=name, tags={"team": "a"})
    code, _ = error_code(lambda: logs.create_log_group(logGroupName="/g/api"))
    assert code == "ResourceAlreadyExistsException"
    code, msg = error_code(lambda: logs.create_log_group(logGroupName="bad name"))
    assert code == "InvalidParameterException" and "not allowed" in msg

    names = [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/g/")["logGroups"]]
    assert names == ["/g/api", "/g/web", "/g/worker"]
    names = [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePattern="web")["logGroups"]]
    assert names == ["/g/web", "/other/web"]
    page = logs.describe_log_groups(logGroupNamePrefix="/g/", limit=2)
    assert len(page["logGroups"]) == 2 and page["nextToken"]
    rest = logs.describe_log_groups(logGroupNamePrefix="/g/", limit=2, nextToken=page["nextToken"])
    assert [g["logGroupName"] for g in rest["logGroups"]] == ["/g/worker"] and "nextToken" not in rest
    # The CLI's paginator walks every page.
    out = flotilla.aws("logs", "describe-log-groups", "--log-group-name-prefix", "/g/", "--page-size", "1")
    assert len(out["logGroups"]) == 3

    group = logs.describe_log_groups(logGroupNamePrefix="/g/api")["logGroups"][0]
    assert group["arn"].endswith(":log-group:/g/api:*") and group["storedBytes"] == 0
    assert group["logGroupClass"] == "STANDARD"

    logs.put_retention_policy(logGroupName="/g/api", retentionInDays=14)
    assert logs.describe_log_groups(logGroupNamePrefix="/g/api")["logGroups"][0]["retentionInDays"] == 14
    code, msg = error_code(lambda: logs.put_retention_policy(logGroupName="/g/api", retentionInDays=2))
    assert code == "InvalidParameterException" and "retention" in msg
    logs.delete_retention_policy(logGroupName="/g/api")
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix="/g/api")["logGroups"][0]

    arn = group["logGroupArn"]
    logs.tag_resource(resourceArn=arn, tags={"env": "prod"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "a", "env": "prod"}
    logs.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert logs.list_tags_log_group(logGroupName="/g/api")["tags"] == {"env": "prod"}

    logs.delete_log_group(logGroupName="/g/worker")
    code, _ = error_code(lambda: logs.delete_log_group(logGroupName="/g/worker"))
    assert code == "ResourceNotFoundException"
    code, _ = error_code(lambda: logs.create_log_stream(logGroupName="/g/worker", logStreamName="s"))
    assert code == "ResourceNotFoundException"


def test_put_get_filter_and_limits(flotilla):
    logs = flotilla.client("logs")
    logs.create_log_group(logGroupName="app")
    logs.create_log_stream(logGroupName="app", logStreamName="web/1")
    logs.create_log_stream(logGroupName="app", logStreamName="web/2")
    code, _ = error_code(lambda: logs.create_log_stream(logGroupName="app", logStreamName="web/1"))
    assert code == "ResourceAlreadyExistsException"
    code, _ = error_code(lambda: logs.put_log_events(
        logGroupName="app", logStreamName="missing", logEvents=[{"timestamp": now_ms(), "message": "x"}]))
    assert code == "ResourceNotFoundException"

    t = now_ms() - 60_000
    lines = [
        ("web/1", t + 1, 'GET /health 200'),
        ("web/2", t + 2, '{"level": "error", "latency": 250, "path": "/pay"}'),
        ("web/1", t + 3, 'ERROR payment failed'),
        ("web/2", t + 4, '{"level": "info", "latency": 20, "path": "/"}'),
        ("web/1", t + 5, 'WARN slow request'),
    ]
    for stream in ["web/1", "web/2"]:
        events = [{"timestamp": ts, "message": m} for s, ts, m in lines if s == stream]
        out = logs.put_log_events(logGroupName="app", logStreamName=stream, logEvents=events)
        assert "rejectedLogEventsInfo" not in out

    got = logs.get_log_events(logGroupName="app", logStreamName="web/1", startFromHead=True)
    assert [e["message"] for e in got["events"]] == ["GET /health 200", "ERROR payment failed", "WARN slow request"]
    assert all(e["ingestionTime"] >= e["timestamp"] for e in got["events"])
    # Paging forward one at a time, then back.
    first = logs.get_log_events(logGroupName="app", logStreamName="web/1", startFromHead=True, limit=1)
    second = logs.get_log_events(logGroupName="app", logStreamName="web/1", nextToken=first["nextForwardToken"], limit=1)
    assert second["events"][0]["message"] == "ERROR payment failed"
    back = logs.get_log_events(logGroupName="app", logStreamName="web/1", nextToken=second["nextBackwardToken"], limit=1)
    assert back["events"][0]["message"] == "GET /health 200"

    def matching(pattern, **kw):
        out = logs.filter_log_events(logGroupName="app", filterPattern=pattern, **kw)
        return [e["message"] for e in out["events"]]

    # Interleaved across streams by timestamp.
    assert matching("") == [m for _, _, m in lines]
    assert matching("ERROR") == ["ERROR payment failed"]
    assert matching("?ERROR ?WARN") == ["ERROR payment failed", "WARN slow request"]
    assert matching('"slow request"') == ["WARN slow request"]
    assert matching("GET -health") == []
    assert matching('{ $.level = "error" }') == [lines[1][2]]
    assert matching("{ $.latency > 100 }") == [lines[1][2]]
    assert matching("", logStreamNamePrefix="web/2") == [lines[1][2], lines[3][2]]
    code, msg = error_code(lambda: logs.filter_log_events(logGroupName="app", filterPattern="{ $.level = "))
    assert code == "InvalidParameterException" and "filter pattern" in msg

    streams = logs.describe_log_streams(logGroupName="app", orderBy="LastEventTime", descending=True)["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["web/1", "web/2"]
    assert streams[0]["lastEventTimestamp"] == t + 5 and streams[0]["firstEventTimestamp"] == t + 1

    # Too old, expired and too new events are set apart; the rest is stored.
    now = now_ms()
    logs.create_log_stream(logGroupName="app", logStreamName="edges")
    out = logs.put_log_events(logGroupName="app", logStreamName="edges", logEvents=[
        {"timestamp": now - 15 * DAY_MS, "message": "ancient"},
        {"timestamp": now - 1000, "message": "fine"},
        {"timestamp": now + 3 * 3_600_000, "message": "future"},
    ])
    assert out["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1, "tooNewLogEventStartIndex": 2}
    got = logs.get_log_events(logGroupName="app", logStreamName="edges", startFromHead=True)
    assert [e["message"] for e in got["events"]] == ["fine"]

    bad = [
        [{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}],
        [{"timestamp": now, "message": "x" * 600_000}, {"timestamp": now, "message": "y" * 600_000}],
        [{"timestamp": now, "message": "x"}] * 10_001,
    ]
    for events in bad:
        code, msg = error_code(lambda: logs.put_log_events(
            logGroupName="app", logStreamName="edges", logEvents=events))
        assert code == "InvalidParameterException", msg


def follow(logs, group, start, seen):
    """One round of what AWS CLI v2's `aws logs tail --follow` does (the venv's CLI is v1,
    which has no `tail`): FilterLogEvents from the newest timestamp seen, every page,
    skipping event ids already printed."""
    out, token = [], None
    while True:
        kw = {"nextToken": token} if token else {}
        page = logs.filter_log_events(logGroupName=group, startTime=start, interleaved=True, **kw)
        for e in page["events"]:
            if e["eventId"] not in seen:
                seen.add(e["eventId"])
                out.append(e)
        token = page.get("nextToken")
        if not token:
            return out


def test_cli_and_tail_follow(flotilla):
    flotilla.aws("logs", "create-log-group", "--log-group-name", "tailed")
    flotilla.aws("logs", "create-log-stream", "--log-group-name", "tailed", "--log-stream-name", "s1")
    t = now_ms()
    flotilla.aws("logs", "put-log-events", "--log-group-name", "tailed", "--log-stream-name", "s1",
                 "--log-events", json.dumps([{"timestamp": t, "message": "hello from the cli"}]))
    got = flotilla.aws("logs", "get-log-events", "--log-group-name", "tailed", "--log-stream-name", "s1")
    assert [e["message"] for e in got["events"]] == ["hello from the cli"]
    out = flotilla.aws("logs", "filter-log-events", "--log-group-name", "tailed", "--filter-pattern", "hello")
    assert [e["logStreamName"] for e in out["events"]] == ["s1"]

    logs = flotilla.client("logs")
    seen = set()
    first = follow(logs, "tailed", t - 1000, seen)
    assert [e["message"] for e in first] == ["hello from the cli"]
    # New lines, one with the same timestamp as the last seen: each shown exactly once.
    logs.put_log_events(logGroupName="tailed", logStreamName="s1", logEvents=[
        {"timestamp": t, "message": "same millisecond"}, {"timestamp": t + 5, "message": "later"}])
    more = follow(logs, "tailed", max(e["timestamp"] for e in first), seen)
    assert [e["message"] for e in more] == ["same millisecond", "later"]
    assert follow(logs, "tailed", t + 5, seen) == []


def test_retention_removes_old_events(flotilla):
    logs = flotilla.client("logs")
    logs.create_log_group(logGroupName="kept")
    logs.create_log_stream(logGroupName="kept", logStreamName="s")
    now = now_ms()
    # One batch may span at most 24 hours.
    for ts, message in [(now - 10 * DAY_MS, "ten days old"), (now - 3 * DAY_MS, "three days old"),
                        (now - 1000, "new")]:
        logs.put_log_events(logGroupName="kept", logStreamName="s",
                            logEvents=[{"timestamp": ts, "message": message}])
    logs.put_retention_policy(logGroupName="kept", retentionInDays=5)
    got = logs.get_log_events(logGroupName="kept", logStreamName="s", startFromHead=True)
    assert [e["message"] for e in got["events"]] == ["three days old", "new"]
    out = logs.filter_log_events(logGroupName="kept")
    assert [e["message"] for e in out["events"]] == ["three days old", "new"]
    # Events older than the retention period are now refused as expired.
    out = logs.put_log_events(logGroupName="kept", logStreamName="s", logEvents=[
        {"timestamp": now - 6 * DAY_MS, "message": "late"}, {"timestamp": now, "message": "now"}])
    assert out["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}


def test_events_survive_kill9(tmp_path):
    server = Flotilla(tmp_path / "data").start()
    try:
        logs = server.client("logs")
        logs.create_log_group(logGroupName="durable")
        logs.create_log_stream(logGroupName="durable", logStreamName="s")
        t = now_ms()
        for i in range(20):
            logs.put_log_events(logGroupName="durable", logStreamName="s",
                                logEvents=[{"timestamp": t + i, "message": f"line {i}"}])
        server.kill9()
        server.start()
        logs = server.client("logs")
        got = logs.get_log_events(logGroupName="durable", logStreamName="s", startFromHead=True)
        assert [e["message"] for e in got["events"]] == [f"line {i}" for i in range(20)]
        assert logs.describe_log_groups(logGroupNamePrefix="durable")["logGroups"][0]["storedBytes"] > 0
    finally:
        server.stop()


def query(logs, group, text, start, end):
    qid = logs.start_query(logGroupName=group, startTime=start // 1000, endTime=end // 1000,
                           queryString=text)["queryId"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        out = logs.get_query_results(queryId=qid)
        if out["status"] not in ("Scheduled", "Running"):
            return out
        time.sleep(0.1)
    raise AssertionError(f"query {text!r} did not finish")


def test_insights_counts_errors_per_minute(flotilla):
    logs = flotilla.client("logs")
    logs.create_log_group(logGroupName="insights")
    logs.create_log_stream(logGroupName="insights", logStreamName="s")
    base = (now_ms() // 60_000 - 5) * 60_000  # the start of a minute, five minutes ago
    events = []
    for minute, errors in [(0, 3), (1, 1), (2, 0), (3, 2)]:
        for i in range(errors):
            events.append({"timestamp": base + minute * 60_000 + i, "message": f"ERROR failed {i}"})
        events.append({"timestamp": base + minute * 60_000 + 500, "message": '{"level": "info", "ms": 12}'})
    logs.put_log_events(logGroupName="insights", logStreamName="s", logEvents=events)
    out = query(logs, "insights", "filter @message like /ERROR/ | stats count(*) as errors by bin(1m)",
                base - 60_000, now_ms())
    assert out["status"] == "Complete"
    rows = sorted((dict((f["field"], f["value"]) for f in row) for row in out["results"]),
                  key=lambda r: r["bin(1m)"])
    assert [r["errors"] for r in rows] == ["3", "1", "2"]
    assert out["statistics"]["recordsMatched"] == 6.0 and out["statistics"]["recordsScanned"] == 10.0
    # JSON fields are discovered; parse makes fields of a message.
    out = query(logs, "insights", "filter level = 'info' | stats avg(ms) as avg", base - 60_000, now_ms())
    assert [[(f["field"], f["value"]) for f in row] for row in out["results"]] == [[("avg", "12")]]
    out = query(logs, "insights", 'parse @message "ERROR failed *" as n | filter ispresent(n) '
                '| sort n desc | limit 1 | display n', base - 60_000, now_ms())
    assert [[(f["field"], f["value"]) for f in row] for row in out["results"]] == [[("n", "2")]]
    listed = logs.describe_queries(logGroupName="insights")["queries"]
    assert len(listed) == 3 and {q["status"] for q in listed} == {"Complete"}

    code, msg = error_code(lambda: logs.start_query(logGroupName="insights", startTime=0, endTime=1,
                                                    queryString="stats count(* by"))
    assert code == "MalformedQueryException", msg
    code, _ = error_code(lambda: logs.start_query(logGroupName="nope", startTime=0, endTime=1,
                                                  queryString="fields @message"))
    assert code == "ResourceNotFoundException"
