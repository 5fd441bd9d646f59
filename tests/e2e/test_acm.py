"""ACM end to end: certificates made by the real `openssl`, imported, read and deleted with
the real AWS CLI (`fileb://` blobs), and the bad inputs a user meets: a file that is not
PEM, a key of another certificate, an X.509 v1 certificate, a chain without the issuer.

Layout: one server for the module; each test imports its own certificates.
"""
import base64
import re
import subprocess

import pytest

from conftest import Flotilla


def openssl(*args, cwd):
    out = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"openssl {' '.join(args)}: {out.stderr}"


def self_signed(dir, name, *sans, key="rsa:2048"):
    """A self-signed certificate for `name` (and `sans`): paths of (cert, key)."""
    dir.mkdir(parents=True, exist_ok=True)
    alt = ",".join(f"DNS:{n}" for n in (name, *sans))
    new_key = ["-newkey", key] if key.startswith("rsa") else ["-newkey", "ec", "-pkeyopt", f"ec_paramgen_curve:{key}"]
    openssl("req", "-x509", *new_key, "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "30",
            "-subj", f"/CN={name}/O=Flotilla E2E", "-addext", f"subjectAltName={alt}", cwd=dir)
    return dir / "cert.pem", dir / "key.pem"


def ca_signed(dir, name, extensions=True):
    """A CA and a leaf it signed: paths of (leaf, leaf key, CA certificate)."""
    dir.mkdir(parents=True, exist_ok=True)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/CN=E2E Test CA/O=E2E Authority", cwd=dir)
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr",
            "-subj", f"/CN={name}", cwd=dir)
    ext = []
    if extensions:
        (dir / "ext.cnf").write_text(f"subjectAltName=DNS:{name}\nextendedKeyUsage=serverAuth\n")
        ext = ["-extfile", "ext.cnf"]
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "leaf.pem", "-days", "30", *ext, cwd=dir)
    return dir / "leaf.pem", dir / "leaf.key", dir / "ca.pem"


def import_certificate(server, cert, key, *extra, check=True):
    return server.aws("acm", "import-certificate", "--certificate", f"fileb://{cert}",
                      "--private-key", f"fileb://{key}", *extra, check=check)


def der_of(pem_text):
    """The DER bytes of each PEM block, so formatting differences do not matter."""
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", pem_text, re.S)
    return [base64.b64decode("".join(b.split())) for b in blocks]


def error(out, code):
    assert out.returncode != 0, out.stdout
    assert f"({code})" in out.stderr, out.stderr
    return out.stderr


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = Flotilla(tmp_path_factory.mktemp("acm")).start()
    yield server
    server.stop()


def test_import_describe_get_list_and_delete(server, tmp_path):
    leaf, key, ca = ca_signed(tmp_path / "chain", "app.example.com")
    arn = import_certificate(server, leaf, key, "--certificate-chain", f"fileb://{ca}",
                             "--tags", "Key=team,Value=web")["CertificateArn"]
    assert re.fullmatch(r"arn:aws:acm:us-east-1:000000000000:certificate/[0-9a-f-]{36}", arn), arn

    d = server.aws("acm", "describe-certificate", "--certificate-arn", arn)["Certificate"]
    assert d["DomainName"] == "app.example.com"
    assert d["SubjectAlternativeNames"] == ["app.example.com"]
    assert (d["Status"], d["Type"], d["KeyAlgorithm"]) == ("ISSUED", "IMPORTED", "RSA_2048")
    assert d["Issuer"] == "E2E Authority"
    assert d["Subject"] == "CN=app.example.com"
    assert d["SignatureAlgorithm"] == "SHA256WITHECDSA"
    assert d["InUseBy"] == []
    assert d["NotBefore"] < d["NotAfter"] and "ImportedAt" in d
    assert {"Name": "TLS_WEB_SERVER_AUTHENTICATION", "OID": "1.3.6.1.5.5.7.3.1"} in d["ExtendedKeyUsages"]
    serial = subprocess.run(["openssl", "x509", "-in", str(leaf), "-noout", "-serial"], capture_output=True,
                            text=True, check=True).stdout.strip().split("=")[1]
    assert d["Serial"].replace(":", "") == serial.lower()

    got = server.aws("acm", "get-certificate", "--certificate-arn", arn)
    assert der_of(got["Certificate"]) == der_of(leaf.read_text())
    assert der_of(got["CertificateChain"]) == der_of(ca.read_text())

    listed = server.aws("acm", "list-certificates")["CertificateSummaryList"]
    mine = [s for s in listed if s["CertificateArn"] == arn]
    assert len(mine) == 1 and mine[0]["DomainName"] == "app.example.com" and mine[0]["InUse"] is False
    issued = server.aws("acm", "list-certificates", "--certificate-statuses", "ISSUED")["CertificateSummaryList"]
    assert arn in [s["CertificateArn"] for s in issued]
    expired = server.aws("acm", "list-certificates", "--certificate-statuses", "EXPIRED")["CertificateSummaryList"]
    assert arn not in [s["CertificateArn"] for s in expired]

    server.aws("acm", "delete-certificate", "--certificate-arn", arn)
    error(server.aws("acm", "describe-certificate", "--certificate-arn", arn, check=False),
          "ResourceNotFoundException")
    error(server.aws("acm", "delete-certificate", "--certificate-arn", arn, check=False), "ResourceNotFoundException")


def test_ecdsa_certificates_are_listed_when_their_key_type_is_asked_for(server, tmp_path):
    cert, key = self_signed(tmp_path / "ec", "ec.example.com", "www.ec.example.com", key="prime256v1")
    arn = import_certificate(server, cert, key)["CertificateArn"]
    d = server.aws("acm", "describe-certificate", "--certificate-arn", arn)["Certificate"]
    assert d["KeyAlgorithm"] == "EC_prime256v1"
    assert d["SubjectAlternativeNames"] == ["ec.example.com", "www.ec.example.com"]
    # As in AWS, ListCertificates shows RSA_1024 and RSA_2048 certificates by default.
    plain = server.aws("acm", "list-certificates")["CertificateSummaryList"]
    assert arn not in [s["CertificateArn"] for s in plain]
    ec = server.aws("acm", "list-certificates", "--includes", "keyTypes=EC_prime256v1")["CertificateSummaryList"]
    assert arn in [s["CertificateArn"] for s in ec]
    # The CLI's own pagination walks pages of one.
    for i in range(3):
        c, k = self_signed(tmp_path / f"page{i}", f"p{i}.example.com", key="prime256v1")
        import_certificate(server, c, k)
    paged = server.aws("acm", "list-certificates", "--includes", "keyTypes=EC_prime256v1", "--page-size", "1")
    arns = [s["CertificateArn"] for s in paged["CertificateSummaryList"]]
    assert len(arns) == len(set(arns)) >= 4 and arn in arns


def test_tags_and_reimport(server, tmp_path):
    cert, key = self_signed(tmp_path / "one", "one.example.com")
    arn = import_certificate(server, cert, key, "--tags", "Key=env,Value=test")["CertificateArn"]
    server.aws("acm", "add-tags-to-certificate", "--certificate-arn", arn,
               "--tags", "Key=team,Value=web", "Key=env,Value=prod")
    tags = server.aws("acm", "list-tags-for-certificate", "--certificate-arn", arn)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "prod"), ("team", "web")]
    server.aws("acm", "remove-tags-from-certificate", "--certificate-arn", arn, "--tags", "Key=env")
    assert server.aws("acm", "list-tags-for-certificate", "--certificate-arn", arn)["Tags"] == [
        {"Key": "team", "Value": "web"}]
    error(server.aws("acm", "add-tags-to-certificate", "--certificate-arn", arn, "--tags", "Key=aws:x,Value=1",
                     check=False), "InvalidTagException")

    # A renewed certificate goes in under the same ARN, tags kept; tags cannot come with it.
    renewed, renewed_key = self_signed(tmp_path / "two", "two.example.com")
    again = import_certificate(server, renewed, renewed_key, "--certificate-arn", arn)["CertificateArn"]
    assert again == arn
    d = server.aws("acm", "describe-certificate", "--certificate-arn", arn)["Certificate"]
    assert d["DomainName"] == "two.example.com"
    assert server.aws("acm", "list-tags-for-certificate", "--certificate-arn", arn)["Tags"] == [
        {"Key": "team", "Value": "web"}]
    got = server.aws("acm", "get-certificate", "--certificate-arn", arn)
    assert der_of(got["Certificate"]) == der_of(renewed.read_text())
    error(import_certificate(server, renewed, renewed_key, "--certificate-arn", arn, "--tags", "Key=a,Value=b",
                             check=False), "InvalidParameterException")
    ec, ec_key = self_signed(tmp_path / "ec", "two.example.com", key="prime256v1")
    assert "key algorithm" in error(import_certificate(server, ec, ec_key, "--certificate-arn", arn, check=False),
                                    "ValidationException")


def test_bad_input_is_refused_with_a_reason(server, tmp_path):
    cert, key = self_signed(tmp_path / "good", "good.example.com")
    _, other_key = self_signed(tmp_path / "other", "other.example.com")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("this is not a certificate\n")
    der = tmp_path / "cert.der"
    openssl("x509", "-in", str(cert), "-outform", "der", "-out", str(der), cwd=tmp_path)

    assert "not PEM-encoded" in error(import_certificate(server, garbage, key, check=False), "ValidationException")
    assert "not PEM-encoded" in error(import_certificate(server, der, key, check=False), "ValidationException")
    assert "does not match" in error(import_certificate(server, cert, other_key, check=False),
                                     "ValidationException")
    assert "private key" in error(import_certificate(server, cert, garbage, check=False), "ValidationException")
    v1, v1_key, _ = ca_signed(tmp_path / "v1", "v1.example.com", extensions=False)
    text = subprocess.run(["openssl", "x509", "-in", str(v1), "-noout", "-text"], capture_output=True, text=True,
                          check=True).stdout
    if "Version: 1 " in text:  # OpenSSL 3.0 signs a request without extensions as v1; later ones may not
        assert "version 3" in error(import_certificate(server, v1, v1_key, check=False), "ValidationException")
    leaf, leaf_key, _ = ca_signed(tmp_path / "stranger", "leaf.example.com")
    stranger, _ = self_signed(tmp_path / "stranger-ca", "stranger.example.com")
    assert "issuer" in error(import_certificate(server, leaf, leaf_key, "--certificate-chain", f"fileb://{stranger}",
                                                check=False), "ValidationException")
    error(server.aws("acm", "describe-certificate", "--certificate-arn", "arn:aws:acm:us-east-1:000000000000:nope",
                     check=False), "InvalidArnException")
    error(server.aws("acm", "describe-certificate", "--certificate-arn",
                     "arn:aws:acm:us-east-1:000000000000:certificate/00000000-0000-0000-0000-000000000000",
                     check=False), "ResourceNotFoundException")
