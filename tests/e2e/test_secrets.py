"""Secrets Manager and SSM Parameter Store through boto3 and the AWS CLI (issue 18): versions
and staging labels, scheduled deletion, parameters' versions, hierarchies and pages; the
values encrypted at rest (the data directory never holds a plaintext) and refused, clearly,
by a server started with another key. One server for the module; the key test restarts it
last."""
import base64
import json
import os
import stat
import subprocess

import pytest
from botocore.exceptions import ClientError

from conftest import BIN, Flotilla

# Values no other byte sequence in the data directory would hold by chance.
SECRET_PLAINTEXT = "plaintext-canary-3c1f9a7e"
PARAM_PLAINTEXT = "securestring-canary-8d2b46f0"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Flotilla(tmp_path_factory.mktemp("secrets")).start()
    yield s
    s.stop()


def error(e):
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_secret_versions_move_their_labels(server):
    sm = server.client("secretsmanager")
    made = sm.create_secret(Name="prod/db", SecretString=json.dumps({"user": "app", "password": "one"}),
                            Description="the database", Tags=[{"Key": "team", "Value": "web"}])
    arn = made["ARN"]
    assert arn.startswith("arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/db-")
    assert len(arn.rsplit("-", 1)[1]) == 6
    first = made["VersionId"]

    second = sm.put_secret_value(SecretId="prod/db", SecretString="two")
    assert second["VersionStages"] == ["AWSCURRENT"]
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == "two"
    previous = sm.get_secret_value(SecretId="prod/db", VersionStage="AWSPREVIOUS")
    assert json.loads(previous["SecretString"])["password"] == "one"
    assert previous["VersionId"] == first and previous["VersionStages"] == ["AWSPREVIOUS"]
    partial = arn.rsplit("-", 1)[0]
    assert sm.get_secret_value(SecretId=partial, VersionId=first)["VersionId"] == first

    # A retry with the same token and value changes nothing; another value is refused.
    token = "0123456789abcdef0123456789abcdef"
    sm.put_secret_value(SecretId="prod/db", SecretString="three", ClientRequestToken=token)
    again = sm.put_secret_value(SecretId="prod/db", SecretString="three", ClientRequestToken=token)
    assert again["VersionId"] == token
    with pytest.raises(ClientError) as e:
        sm.put_secret_value(SecretId="prod/db", SecretString="four", ClientRequestToken=token)
    assert error(e)[0] == "ResourceExistsException"

    described = sm.describe_secret(SecretId="prod/db")
    assert described["Description"] == "the database"
    assert described["VersionIdsToStages"] == {token: ["AWSCURRENT"], second["VersionId"]: ["AWSPREVIOUS"]}
    assert described["Tags"] == [{"Key": "team", "Value": "web"}]
    assert "DeletedDate" not in described

    updated = sm.update_secret(SecretId="prod/db", Description="moved", SecretString="five")
    assert sm.get_secret_value(SecretId="prod/db")["VersionId"] == updated["VersionId"]
    assert sm.describe_secret(SecretId="prod/db")["Description"] == "moved"
    sm.tag_resource(SecretId="prod/db", Tags=[{"Key": "tier", "Value": "gold"}])
    sm.untag_resource(SecretId="prod/db", TagKeys=["team"])
    assert sm.describe_secret(SecretId="prod/db")["Tags"] == [{"Key": "tier", "Value": "gold"}]

    binary = sm.create_secret(Name="prod/cert", SecretBinary=b"\x00\x01\xfe\xff")
    assert sm.get_secret_value(SecretId=binary["ARN"])["SecretBinary"] == b"\x00\x01\xfe\xff"

    with pytest.raises(ClientError) as e:
        sm.create_secret(Name="prod/db", SecretString="x")
    assert error(e)[0] == "ResourceExistsException"
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId="nope")
    assert error(e) == ("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
    with pytest.raises(ClientError) as e:
        sm.create_secret(Name="bad name", SecretString="x")
    assert error(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        sm.put_secret_value(SecretId="prod/db", SecretString="x" * 65537)
    assert error(e)[0] == "LimitExceededException"
    assert "x" * 100 not in error(e)[1]


def test_list_filters_and_pages(server):
    sm = server.client("secretsmanager")
    for i in range(5):
        sm.create_secret(Name=f"list/s{i}", SecretString="v", Description=f"Number {i}",
                         Tags=[{"Key": "kind", "Value": "even" if i % 2 == 0 else "odd"}])
    names = lambda page: [s["Name"] for s in page["SecretList"]]
    by_name = sm.list_secrets(Filters=[{"Key": "name", "Values": ["list/"]}])
    assert sorted(names(by_name)) == [f"list/s{i}" for i in range(5)]
    evens = sm.list_secrets(Filters=[{"Key": "tag-value", "Values": ["even"]}])
    assert sorted(names(evens)) == ["list/s0", "list/s2", "list/s4"]
    odd_not_one = sm.list_secrets(Filters=[{"Key": "tag-value", "Values": ["odd"]},
                                           {"Key": "name", "Values": ["!list/s1"]}])
    assert names(odd_not_one) == ["list/s3"]
    assert names(sm.list_secrets(Filters=[{"Key": "description", "Values": ["number 4"]}])) == ["list/s4"]
    assert names(sm.list_secrets(Filters=[{"Key": "all", "Values": ["odd"]}])) == ["list/s1", "list/s3"]
    seen = []
    for page in sm.get_paginator("list_secrets").paginate(
            Filters=[{"Key": "name", "Values": ["list/"]}], PaginationConfig={"PageSize": 2}):
        assert len(page["SecretList"]) <= 2
        seen += names(page)
    assert sorted(seen) == [f"list/s{i}" for i in range(5)]
    entry = by_name["SecretList"][0]
    assert list(entry["SecretVersionsToStages"].values()) == [["AWSCURRENT"]]


def test_deletion_is_scheduled_and_restorable(server):
    sm = server.client("secretsmanager")
    arn = sm.create_secret(Name="gone/soon", SecretString="v")["ARN"]
    with pytest.raises(ClientError) as e:
        sm.delete_secret(SecretId=arn, RecoveryWindowInDays=6)
    assert error(e)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        sm.delete_secret(SecretId=arn, RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True)
    assert error(e)[0] == "InvalidParameterException"
    deleted = sm.delete_secret(SecretId=arn, RecoveryWindowInDays=7)
    days = (deleted["DeletionDate"] - sm.describe_secret(SecretId=arn)["CreatedDate"]).days
    assert days in (6, 7)
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId=arn)
    assert error(e) == ("InvalidRequestException",
                        "You can't perform this operation on the secret because it was marked for deletion.")
    assert sm.describe_secret(SecretId=arn)["DeletedDate"] == deleted["DeletionDate"]
    listed = lambda **kw: [s["Name"] for s in sm.list_secrets(
        Filters=[{"Key": "name", "Values": ["gone/"]}], **kw)["SecretList"]]
    assert listed() == []
    assert listed(IncludePlannedDeletion=True) == ["gone/soon"]
    sm.restore_secret(SecretId=arn)
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == "v"
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    with pytest.raises(ClientError) as e:
        sm.describe_secret(SecretId=arn)
    assert error(e)[0] == "ResourceNotFoundException"


def test_the_aws_cli_manages_secrets(server):
    made = server.aws("secretsmanager", "create-secret", "--name", "cli/token", "--secret-string", "tok")
    got = server.aws("secretsmanager", "get-secret-value", "--secret-id", made["ARN"])
    assert got["SecretString"] == "tok" and got["VersionStages"] == ["AWSCURRENT"]
    server.aws("secretsmanager", "put-secret-value", "--secret-id", "cli/token", "--secret-string", "tok2")
    names = [s["Name"] for s in server.aws("secretsmanager", "list-secrets")["SecretList"]]
    assert "cli/token" in names
    server.aws("secretsmanager", "delete-secret", "--secret-id", "cli/token", "--force-delete-without-recovery")
    out = server.aws("secretsmanager", "get-secret-value", "--secret-id", "cli/token", check=False)
    assert out.returncode != 0 and "ResourceNotFoundException" in out.stderr


def test_parameters_have_versions_paths_and_pages(server):
    ssm = server.client("ssm")
    put = ssm.put_parameter(Name="/app/url", Value="http://a", Type="String")
    assert (put["Version"], put["Tier"]) == (1, "Standard")
    assert ssm.put_parameter(Name="/app/url", Value="http://b", Overwrite=True)["Version"] == 2
    assert ssm.get_parameter(Name="/app/url")["Parameter"]["Version"] == 2
    first = ssm.get_parameter(Name="/app/url:1")["Parameter"]
    assert first["Value"] == "http://a" and first["Selector"] == ":1"
    assert first["ARN"] == "arn:aws:ssm:us-east-1:000000000000:parameter/app/url"
    by_arn = ssm.get_parameter(Name=first["ARN"])["Parameter"]
    assert by_arn["Name"] == "/app/url" and by_arn["Value"] == "http://b"
    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name="/app/url", Value="x", Type="String")
    assert error(e)[0] == "ParameterAlreadyExists"
    with pytest.raises(ClientError) as e:
        ssm.get_parameter(Name="/app/url:9")
    assert error(e)[0] == "ParameterVersionNotFound"
    with pytest.raises(ClientError) as e:
        ssm.get_parameter(Name="/app/none")
    assert error(e)[0] == "ParameterNotFound"
    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name="/l" * 15 + "/x", Value="v", Type="String")
    assert error(e)[0] == "HierarchyLevelLimitExceededException"
    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name="/app/big", Value="x" * 4097, Type="String")
    assert error(e)[0] == "ValidationException"
    assert ssm.put_parameter(Name="/app/big", Value="x" * 4097, Type="String", Tier="Advanced")["Tier"] == "Advanced"

    ssm.put_parameter(Name="/app/hosts", Value="a,b,c", Type="StringList")
    secure = ssm.put_parameter(Name="/app/db/password", Value="pw", Type="SecureString")
    assert secure["Version"] == 1
    hidden = ssm.get_parameter(Name="/app/db/password")["Parameter"]
    assert hidden["Type"] == "SecureString" and hidden["Value"] != "pw"
    assert ssm.get_parameter(Name="/app/db/password", WithDecryption=True)["Parameter"]["Value"] == "pw"

    many = ssm.get_parameters(Names=["/app/url", "/app/hosts", "/app/missing"], WithDecryption=True)
    assert sorted(p["Name"] for p in many["Parameters"]) == ["/app/hosts", "/app/url"]
    assert many["InvalidParameters"] == ["/app/missing"]

    top = ssm.get_parameters_by_path(Path="/app")["Parameters"]
    assert sorted(p["Name"] for p in top) == ["/app/big", "/app/hosts", "/app/url"]
    for i in range(12):
        ssm.put_parameter(Name=f"/paged/p{i:02}", Value=str(i), Type="String")
    pages = list(ssm.get_paginator("get_parameters_by_path").paginate(Path="/paged", Recursive=True))
    assert len(pages) == 2 and [len(p["Parameters"]) for p in pages] == [10, 2]
    everything = [p["Name"] for page in ssm.get_paginator("get_parameters_by_path").paginate(
        Path="/app", Recursive=True, WithDecryption=True) for p in page["Parameters"]]
    assert "/app/db/password" in everything

    described = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Option": "BeginsWith",
                                                           "Values": ["/app/db"]}])["Parameters"]
    assert [(p["Name"], p["Type"], p["KeyId"]) for p in described] == \
        [("/app/db/password", "SecureString", "alias/aws/ssm")]
    by_type = ssm.describe_parameters(Filters=[{"Key": "Type", "Values": ["StringList"]}])["Parameters"]
    assert [p["Name"] for p in by_type] == ["/app/hosts"]
    with pytest.raises(ClientError) as e:
        ssm.describe_parameters(ParameterFilters=[{"Key": "Colour", "Values": ["x"]}])
    assert error(e)[0] == "InvalidFilterKey"

    ssm.delete_parameter(Name="/app/big")
    deleted = ssm.delete_parameters(Names=["/app/hosts", "/app/nothing"])
    assert deleted["DeletedParameters"] == ["/app/hosts"] and deleted["InvalidParameters"] == ["/app/nothing"]
    with pytest.raises(ClientError) as e:
        ssm.delete_parameter(Name="/app/big")
    assert error(e)[0] == "ParameterNotFound"


def test_the_aws_cli_manages_parameters(server):
    out = server.aws("ssm", "put-parameter", "--name", "/cli/key", "--value", "k3y", "--type", "SecureString")
    assert out["Version"] == 1
    got = server.aws("ssm", "get-parameter", "--name", "/cli/key", "--with-decryption")
    assert got["Parameter"]["Value"] == "k3y"
    hidden = server.aws("ssm", "get-parameter", "--name", "/cli/key")
    assert hidden["Parameter"]["Value"] != "k3y"
    for i in range(11):
        server.aws("ssm", "put-parameter", "--name", f"/cli/many/p{i}", "--value", "v", "--type", "String")
    # The CLI follows NextToken on its own (pages of at most 10).
    listed = server.aws("ssm", "get-parameters-by-path", "--path", "/cli", "--recursive")
    assert len(listed["Parameters"]) == 12
    server.aws("ssm", "delete-parameter", "--name", "/cli/key")


def data_dir_files(data_dir):
    for root, _, files in os.walk(data_dir):
        for f in files:
            yield os.path.join(root, f)


def assert_no_plaintext(data_dir):
    for path in data_dir_files(data_dir):
        with open(path, "rb") as f:
            data = f.read()
        for canary in (SECRET_PLAINTEXT, PARAM_PLAINTEXT):
            assert canary.encode() not in data, f"{path} holds a plaintext"
            assert base64.b64encode(canary.encode()) not in data, f"{path} holds a plaintext in base64"


def test_values_are_encrypted_at_rest_and_need_their_key(server, tmp_path):
    sm, ssm = server.client("secretsmanager"), server.client("ssm")
    sm.create_secret(Name="rest/canary", SecretString=SECRET_PLAINTEXT)
    ssm.put_parameter(Name="/rest/canary", Value=PARAM_PLAINTEXT, Type="SecureString")
    key_file = server.data_dir / "secrets.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and key_file.stat().st_size == 32
    # The store's file (and its write-ahead log) while the server runs, and after it stopped.
    assert_no_plaintext(server.data_dir)
    server.stop()
    assert (server.data_dir / "state.db").exists()
    assert_no_plaintext(server.data_dir)

    # Another key: the server starts, and refuses to decrypt what the first key sealed.
    other = tmp_path / "other.key"
    other.write_bytes(os.urandom(32))
    other.chmod(0o600)
    server.extra_args = ["--secrets-key-file", str(other)]
    server.start()
    sm, ssm = server.client("secretsmanager"), server.client("ssm")
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId="rest/canary")
    code, message = error(e)
    assert code == "DecryptionFailure" and "secrets key" in message and SECRET_PLAINTEXT not in message
    with pytest.raises(ClientError) as e:
        ssm.get_parameter(Name="/rest/canary", WithDecryption=True)
    code, message = error(e)
    assert code == "InvalidKeyId" and "secrets key" in message
    # Metadata and the still-encrypted value need no key.
    assert sm.describe_secret(SecretId="rest/canary")["Name"] == "rest/canary"
    assert ssm.get_parameter(Name="/rest/canary")["Parameter"]["Value"] != PARAM_PLAINTEXT
    server.stop()

    # A key file of the wrong length stops the server at once, saying why.
    short = tmp_path / "short.key"
    short.write_bytes(b"x" * 16)
    out = subprocess.run([BIN, "server", "--data-dir", str(tmp_path / "other-data"), "--api-addr", "127.0.0.1:0",
                          "--registry-addr", "127.0.0.1:0", "--dns-addr", "127.0.0.1:0",
                          "--secrets-key-file", str(short)],
                         env=server.env(), capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "holds 16 bytes; it must hold exactly 32" in out.stderr

    # The data directory's own key again: every value reads as written.
    server.extra_args = []
    server.start()
    sm, ssm = server.client("secretsmanager"), server.client("ssm")
    assert sm.get_secret_value(SecretId="rest/canary")["SecretString"] == SECRET_PLAINTEXT
    assert ssm.get_parameter(Name="/rest/canary", WithDecryption=True)["Parameter"]["Value"] == PARAM_PLAINTEXT
    assert_no_plaintext(server.data_dir)
