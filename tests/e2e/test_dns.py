"""Route 53 and Flotilla's DNS server, end to end: hosted zones and record sets through the
real AWS CLI and boto3, answers checked with the real `dig` (Debian's dnsutils) over UDP and
TCP, the `resource-record-sets-changed` waiter, aliases to a load balancer, and bad input
(change batches Route 53 refuses, garbage packets)."""
import json
import re
import socket
import subprocess
import time
import uuid

import pytest

from conftest import Flotilla

ZONE = "shop.example.test"


def dig(server, name, rtype="A", tcp=False):
    """Ask Flotilla's DNS server; (status, answer, authority, flags), each record as
    (name, ttl, type, data)."""
    host, port = server
    args = ["dig", f"@{host}", "-p", str(port), name, rtype, "+norecurse", "+time=2", "+tries=1",
            "+nocookie", "+noall", "+comments", "+answer", "+authority"]
    if tcp:
        args.append("+tcp")
    out = subprocess.run(args, capture_output=True, text=True, timeout=20).stdout
    status = re.search(r"status: (\w+)", out)
    flags = re.search(r"flags: ([a-z ]+);", out)
    section, answer, authority = None, [], []
    for line in out.splitlines():
        if line.startswith(";; ANSWER SECTION"):
            section = answer
        elif line.startswith(";; AUTHORITY SECTION"):
            section = authority
        elif line.startswith(";") or not line.strip():
            continue
        elif section is not None:
            parts = line.split(None, 4)
            section.append((parts[0], int(parts[1]), parts[3], parts[4]))
    return (status.group(1) if status else None, answer, authority,
            set(flags.group(1).split()) if flags else set())


@pytest.fixture(scope="module")
def dns(flotilla):
    return flotilla.dns


def create_zone(flotilla, name):
    out = flotilla.aws("route53", "create-hosted-zone", "--name", name,
                       "--caller-reference", str(uuid.uuid4()))
    return out["HostedZone"]["Id"].split("/")[-1]


def change(flotilla, zone, changes, wait=True):
    out = flotilla.aws("route53", "change-resource-record-sets", "--hosted-zone-id", zone,
                       "--change-batch", json.dumps({"Changes": changes}))
    if wait:
        flotilla.aws("route53", "wait", "resource-record-sets-changed", "--id",
                     out["ChangeInfo"]["Id"])
    return out


def upsert(name, rtype, ttl, *values):
    return {"Action": "UPSERT", "ResourceRecordSet": {
        "Name": name, "Type": rtype, "TTL": ttl,
        "ResourceRecords": [{"Value": v} for v in values]}}


def test_records_answer_with_their_ttls_over_udp_and_tcp(flotilla, dns):
    zone = create_zone(flotilla, ZONE)
    started = time.monotonic()
    out = change(flotilla, zone, [
        upsert(f"www.{ZONE}", "A", 120, "192.0.2.10", "192.0.2.11"),
        upsert(f"www.{ZONE}", "AAAA", 90, "2001:db8::10"),
        upsert(f"{ZONE}", "TXT", 300, '"v=spf1 -all"', '"part one" "part two"'),
        upsert(f"{ZONE}", "MX", 3600, "10 mail.shop.example.test", "20 backup.shop.example.test"),
        upsert(f"_http._tcp.{ZONE}", "SRV", 60, "1 1 8080 www.shop.example.test"),
        upsert(f"shop-alias.{ZONE}", "CNAME", 45, f"www.{ZONE}"),
        upsert(f"*.wild.{ZONE}", "A", 30, "192.0.2.99"),
    ], wait=False)
    # The waiter's condition: INSYNC as soon as the DNS server answers with the change.
    flotilla.aws("route53", "wait", "resource-record-sets-changed", "--id", out["ChangeInfo"]["Id"])
    # The waiter polls every 30 s: returning at once means its first poll saw INSYNC.
    assert time.monotonic() - started < 20

    status, answer, _, flags = dig(dns, f"www.{ZONE}")
    assert status == "NOERROR" and "aa" in flags
    assert sorted((a[1], a[3]) for a in answer) == [(120, "192.0.2.10"), (120, "192.0.2.11")]
    assert [(a[1], a[3]) for a in dig(dns, f"WWW.{ZONE.upper()}", "AAAA")[1]] == [(90, "2001:db8::10")]
    txt = sorted(a[3] for a in dig(dns, ZONE, "TXT")[1])
    assert txt == ['"part one" "part two"', '"v=spf1 -all"']
    assert sorted(a[3] for a in dig(dns, ZONE, "MX")[1]) == [
        "10 mail.shop.example.test.", "20 backup.shop.example.test."]
    assert [a[3] for a in dig(dns, f"_http._tcp.{ZONE}", "SRV")[1]] == ["1 1 8080 www.shop.example.test."]
    # A CNAME answer carries the chain's target records too.
    chain = dig(dns, f"shop-alias.{ZONE}", "A")[1]
    assert chain[0][2:] == ("CNAME", f"www.{ZONE}.") and chain[0][1] == 45
    assert sorted(a[3] for a in chain[1:]) == ["192.0.2.10", "192.0.2.11"]
    # Wildcards answer under the asked name.
    wild = dig(dns, f"anything.wild.{ZONE}")[1]
    assert wild == [(f"anything.wild.{ZONE}.", 30, "A", "192.0.2.99")]
    # TCP answers the same.
    assert sorted(a[3] for a in dig(dns, f"www.{ZONE}", tcp=True)[1]) == ["192.0.2.10", "192.0.2.11"]
    # SOA and NS at the apex.
    assert dig(dns, ZONE, "SOA")[1][0][2] == "SOA"
    assert dig(dns, ZONE, "NS")[1][0][2] == "NS"


def test_missing_names_and_types_are_negative_answers_with_the_soa(flotilla, dns):
    status, answer, authority, flags = dig(dns, f"nothing-here.{ZONE}")
    assert status == "NXDOMAIN" and answer == [] and "aa" in flags
    assert authority[0][2] == "SOA"
    soa_fields = authority[0][3].split()
    assert authority[0][1] == min(900, int(soa_fields[6]))
    # The name exists, the type does not: NODATA.
    status, answer, authority, _ = dig(dns, f"www.{ZONE}", "MX")
    assert (status, answer) == ("NOERROR", [])
    assert authority[0][2] == "SOA"
    # An empty non-terminal exists too.
    status, answer, _, _ = dig(dns, f"_tcp.{ZONE}", "A")
    assert (status, answer) == ("NOERROR", [])


def test_weighted_records_answer_in_proportion(flotilla, dns):
    zone = create_zone(flotilla, "weights.example.test")
    sets = []
    for ident, weight, value in (("heavy", 3, "192.0.2.3"), ("light", 1, "192.0.2.1"), ("never", 0, "192.0.2.0")):
        sets.append({"Action": "CREATE", "ResourceRecordSet": {
            "Name": "api.weights.example.test", "Type": "A", "TTL": 5, "SetIdentifier": ident,
            "Weight": weight, "ResourceRecords": [{"Value": value}]}})
    change(flotilla, zone, sets)
    seen = {}
    for _ in range(200):
        answer = dig(dns, "api.weights.example.test")[1]
        assert len(answer) == 1
        seen[answer[0][3]] = seen.get(answer[0][3], 0) + 1
    assert "192.0.2.0" not in seen, "weight 0 is never answered while others are"
    assert 100 <= seen["192.0.2.3"] <= 190, seen


def test_an_alias_at_the_apex_answers_the_load_balancers_address(flotilla, dns):
    elbv2 = flotilla.client("elbv2")
    lb = elbv2.create_load_balancer(Name="dns-alias", Subnets=flotilla.default_network().subnets, Type="application")["LoadBalancers"][0]
    zone = create_zone(flotilla, "alias.example.test")
    change(flotilla, zone, [{"Action": "UPSERT", "ResourceRecordSet": {
        "Name": "alias.example.test", "Type": "A", "AliasTarget": {
            "HostedZoneId": lb["CanonicalHostedZoneId"], "DNSName": lb["DNSName"],
            "EvaluateTargetHealth": False}}}])
    address = lb["AvailabilityZones"][0]["LoadBalancerAddresses"][0]["IpAddress"]
    assert [(a[1], a[3]) for a in dig(dns, "alias.example.test")[1]] == [(60, address)]
    # The load balancer's own name answers too.
    assert [a[3] for a in dig(dns, lb["DNSName"])[1]] == [address]
    listed = flotilla.client("route53").list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    alias = [s for s in listed if s["Type"] == "A"][0]
    assert alias["AliasTarget"]["DNSName"] == lb["DNSName"].lower() + "."
    # An alias to a load balancer that does not exist is refused.
    r53 = flotilla.client("route53")
    with pytest.raises(r53.exceptions.InvalidChangeBatch):
        r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{
            "Action": "CREATE", "ResourceRecordSet": {"Name": "x.alias.example.test", "Type": "A",
                "AliasTarget": {"HostedZoneId": lb["CanonicalHostedZoneId"],
                                "DNSName": "nope-1.us-east-1.elb.flotilla.internal",
                                "EvaluateTargetHealth": False}}}]})


def test_bad_batches_and_zones_are_refused_and_change_nothing(flotilla, dns):
    r53 = flotilla.client("route53")
    zone = create_zone(flotilla, "bad.example.test")
    with pytest.raises(r53.exceptions.InvalidChangeBatch) as e:
        r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
            upsert("ok.bad.example.test", "A", 60, "192.0.2.1"),
            upsert("broken.bad.example.test", "A", 60, "192.0.2"),
        ]})
    assert "192.0.2" in str(e.value)
    assert dig(dns, "ok.bad.example.test")[0] == "NXDOMAIN", "nothing of a refused batch is applied"
    with pytest.raises(r53.exceptions.InvalidChangeBatch):
        r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
            upsert("elsewhere.other.test", "A", 60, "192.0.2.1")]})
    with pytest.raises(r53.exceptions.InvalidDomainName):
        r53.create_hosted_zone(Name="bad..name", CallerReference=str(uuid.uuid4()))
    with pytest.raises(r53.exceptions.NoSuchHostedZone):
        r53.get_hosted_zone(Id="ZDOESNOTEXIST1")
    change(flotilla, zone, [upsert("keep.bad.example.test", "A", 60, "192.0.2.1")])
    with pytest.raises(r53.exceptions.HostedZoneNotEmpty):
        r53.delete_hosted_zone(Id=zone)


def test_garbage_packets_do_not_stop_the_server(flotilla, dns):
    host, port = dns
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for payload in (b"", b"\x00", b"\xff" * 11, b"\x12\x34" + b"\x00" * 10 + b"\xc0" * 40, b"A" * 4096):
            s.sendto(payload, (host, port))
    with socket.create_connection((host, port), timeout=5) as t:
        t.sendall(b"\x00\x05hello")
    assert dig(dns, f"www.{ZONE}")[0] == "NOERROR"


def test_names_outside_flotillas_zones_are_not_answered_for_strangers(flotilla, dns):
    # Loopback clients may be forwarded; the answer is REFUSED or SERVFAIL/NOERROR from the
    # host's resolvers, never a crash and never an authoritative answer.
    status, _, _, flags = dig(dns, "example.invalid")
    assert status in ("NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED")
    assert "aa" not in flags
