"""The OCI distribution conformance behaviours for pull, push, content discovery and content
management (issue: image registry), as plain HTTP requests against a real Flotilla server.

This is a port of the official suite, github.com/opencontainers/distribution-spec
`conformance/` at 13a5d3ee, the last revision of the v1.1 suite before its redesign (v1.1.1
plus later fixes to `03_discovery_test.go`: upper-case tags, sorted tag lists, `last`
pagination): `setup.go` and `image.go` (the test data), `01_pull_test.go`,
`02_push_test.go`, `03_discovery_test.go` and `04_management_test.go`. The Go suite cannot
be built here, so each of its `g.Specify(...)` blocks is one test function below, in the
same order, named after it; the docstring quotes the Go spec's title, and the same
requests are sent with the same headers and the same set of answers accepted. Like the
Go suite, the tests of a workflow share state (an upload's Location, the tag count) and
must run in file order, as pytest runs them.

Settings the Go suite reads from the environment are fixed as its defaults give them:
OCI_NAMESPACE is `conformance/test`, OCI_CROSSMOUNT_NAMESPACE `conformance-<uuid>`, every
workflow's setup runs (no OCI_TAG_NAME / OCI_TAG_LIST / OCI_*_DIGEST), and
OCI_DELETE_MANIFEST_BEFORE_BLOBS is true. Flotilla follows ECR: both repositories are
created with the ECR API first, and every request carries `AWS:<get-login-password>`.

One test of our own (marked "not in the suite") checks that the referrers tag schema, what
clients of registries without the referrers API use, works as well.
"""
import base64
import hashlib
import json
import os
import random
import secrets
import uuid
from collections import namedtuple
from urllib.parse import urlencode, urlsplit

import pytest

from conftest import Flotilla
from test_registry import create_repository, http

NAMESPACE = "conformance/test"
CROSSMOUNT_NAMESPACE = f"conformance-{uuid.uuid4()}"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCTET = "application/octet-stream"

# setup.go's errorCodes: the codes an OCI error body may carry.
ERROR_CODES = {
    "BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "MANIFEST_UNVERIFIED",
    "NAME_INVALID", "NAME_UNKNOWN", "SIZE_INVALID", "TAG_INVALID", "UNAUTHORIZED", "DENIED",
    "UNSUPPORTED",
}

# --- test data, as setup.go's init() builds it ------------------------------------------------

def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def marshal(obj) -> bytes:
    """Go's json.MarshalIndent(v, "", "\\t")."""
    return json.dumps(obj, indent="\t").encode()


Blob = namedtuple("Blob", "content length digest")


def blob(content: bytes) -> Blob:
    return Blob(content, str(len(content)), sha256(content))


def descriptor(media_type, content=None, digest=None, size=None, data=None, unspecified=None, **extra):
    """image.go's descriptor. Its `newUnspecifiedField` has no omitempty: always present
    (null, or base64 bytes); `data` is base64 bytes when set."""
    d = {"mediaType": media_type, "digest": digest or sha256(content),
         "size": size if size is not None else len(content)}
    if extra.get("annotations"):
        d["annotations"] = extra["annotations"]
    if data is not None:
        d["data"] = b64(data)
    if extra.get("artifactType"):
        d["artifactType"] = extra["artifactType"]
    d["newUnspecifiedField"] = b64(unspecified) if unspecified is not None else None
    return d


def manifest_doc(config, layers, media_type=OCI_MANIFEST, artifact_type=None, subject=None, annotations=None):
    """image.go's manifest, fields in its order, omitempty ones left out when empty."""
    m = {"schemaVersion": 2}
    if media_type:
        m["mediaType"] = media_type
    if artifact_type:
        m["artifactType"] = artifact_type
    m["config"] = config
    m["layers"] = layers
    if subject:
        m["subject"] = subject
    if annotations:
        m["annotations"] = annotations
    return m


# A base64 gzipped tarball of one text file (setup.go's layerBase64String, test data).
LAYER_BASE64 = (
    "H4sIAAAAAAAAA+3OQQrCMBCF4a49xXgBSUnaHMCTRBptQRNpp6i3t0UEV7oqIv7fYgbmzeJpHHSjVy0"
    "WZCa1c/MufWVe94N3RWlrZ72x3k/30nhbFWKWLPU0Dhp6keJ8im//PuU/6pZH2WVtYx8b0Sz7LjWSR5VLG6YRBumSzOlGtjkd+qD"
    "jMWiX07Befbs7AAAAAAAAAAAAAAAAAPyzO34MnqoAKAAA")


class Data:
    """Everything setup.go computes once: a config and a manifest per workflow (the Go code
    makes 16, `numWorkflows` being 1<<4, and uses indices 0..4), the layer, the streamed and
    chunked blobs, and the referrers artifacts with their index."""

    def __init__(self, seed: int):
        alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-"
        self.configs = []
        for _ in range(5):
            author = "".join(secrets.choice(alphabet) for _ in range(16))
            config = {"author": author, "architecture": "amd64", "os": "linux",
                      "rootfs": {"type": "layers", "diff_ids": []}}
            self.configs.append(blob(marshal(config)))
        self.layer = blob(base64.b64decode(LAYER_BASE64))
        layers = [descriptor("application/vnd.oci.image.layer.v1.tar+gzip", self.layer.content)]
        self.manifests = []
        for config in self.configs:
            config_descriptor = descriptor(OCI_CONFIG, config.content, data=config.content,
                                           unspecified=b"hello world")
            self.manifests.append(blob(marshal(manifest_doc(config_descriptor, layers))))
        # No mediaType field, no layers (02_push_test.go "Registry should accept a manifest
        # upload with no layers").
        self.empty_layer_manifest = blob(marshal(manifest_doc(
            descriptor(OCI_CONFIG, self.configs[1].content, data=self.configs[1].content,
                       unspecified=b"hello world"), [], media_type=None)))
        self.nonexistent_manifest = ".INVALID_MANIFEST_NAME"
        self.invalid_manifest_content = b"blablabla"

        rng = random.Random(seed + 1)
        self.blob_a = blob(rng.randbytes(42))
        self.setup_chunked_blob(42, seed)

        # The referrers artifacts.
        self.empty_json = blob(b"{}")
        empty = descriptor("application/vnd.oci.empty.v1+json", self.empty_json.content)
        self.ref_blob_a = blob(b"NHL Peanut Butter on my NHL bagel")
        self.ref_type_a = "application/vnd.nhl.peanut.butter.bagel"
        self.ref_blob_b = blob(b"NBA Strawberry Jam on my NBA croissant")
        self.ref_type_b = "application/vnd.nba.strawberry.jam.croissant"
        self.annotation_key = "org.opencontainers.conformance.test"
        self.annotation_values = {}

        def subject(m):
            return descriptor(OCI_MANIFEST, m.content)

        def artifact(doc):
            content = blob(marshal(doc))
            if doc.get("annotations"):
                self.annotation_values[content.digest] = doc["annotations"][self.annotation_key]
            return content

        self.refs_a_config = artifact(manifest_doc(
            descriptor(self.ref_type_a, self.ref_blob_a.content), [empty],
            subject=subject(self.manifests[4]), annotations={self.annotation_key: "test config a"}))
        self.refs_b_config = artifact(manifest_doc(
            descriptor(self.ref_type_b, self.ref_blob_b.content), [empty],
            subject=subject(self.manifests[4]), annotations={self.annotation_key: "test config b"}))
        self.refs_a_layer = artifact(manifest_doc(
            empty, [descriptor(self.ref_type_a, self.ref_blob_a.content)], artifact_type=self.ref_type_a,
            subject=subject(self.manifests[4]), annotations={self.annotation_key: "test layer a"}))
        self.refs_b_layer = artifact(manifest_doc(
            empty, [descriptor(self.ref_type_b, self.ref_blob_b.content)], artifact_type=self.ref_type_b,
            subject=subject(self.manifests[4]), annotations={self.annotation_key: "test layer b"}))
        # Like B, with a subject that is never pushed (manifests[3] is, later, in another
        # workflow; here it does not exist yet).
        self.refs_c_layer = artifact(manifest_doc(
            empty, [descriptor(self.ref_type_b, self.ref_blob_b.content)], artifact_type=self.ref_type_b,
            subject=subject(self.manifests[3])))
        self.ref_type_index = "application/vnd.food.stand"
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "artifactType": self.ref_type_index,
                 "manifests": [descriptor(OCI_MANIFEST, self.refs_a_config.content),
                               descriptor(OCI_MANIFEST, self.refs_a_layer.content)],
                 "subject": subject(self.manifests[4]),
                 "annotations": {self.annotation_key: "test index"}}
        self.refs_index = artifact(index)

        self.dummy_digest = sha256(b"hello world")

    def setup_chunked_blob(self, size, seed=None):
        if seed is not None:
            self.seed = seed
        content = random.Random(self.seed + 2).randbytes(size)
        self.blob_b = blob(content)
        half = size // 2 + 1
        self.chunk1, self.chunk2 = content[:half], content[half:]
        self.chunk1_range = f"0-{len(self.chunk1) - 1}"
        self.chunk2_range = f"{len(self.chunk1)}-{size - 1}"


# --- the client ---------------------------------------------------------------------------

Response = namedtuple("Response", "status headers body")


def relative(location: str) -> str:
    """reggie's GetRelativeLocation: the Location's path and query."""
    u = urlsplit(location)
    return u.path + (f"?{u.query}" if u.query else "")


def with_query(path: str, **params) -> str:
    """resty's SetQueryParam on a URL that may have a query already."""
    return path + ("&" if "?" in path else "?") + urlencode(params)


def ok(status):
    return 200 <= status < 300


class Registry:
    """reggie's client as the suite configures it: default name NAMESPACE, Basic credentials."""

    def __init__(self, server, password):
        self.server = server
        self.password = password
        self.data = Data(seed=random.SystemRandom().randrange(1 << 31))
        self.state = {}

    def do(self, method, path, body=None, headers=None) -> Response:
        return Response(*http(self.server, method, path, self.password, body, headers))

    def push_blob(self, b: Blob, name=NAMESPACE) -> Response:
        """The setup steps' two requests: POST for a session, PUT the bytes with ?digest."""
        started = self.do("POST", f"/v2/{name}/blobs/uploads/")
        return self.do("PUT", with_query(relative(started.headers.get("Location", "")), digest=b.digest),
                       b.content, {"Content-Type": OCTET, "Content-Length": b.length})

    def put_manifest(self, reference, content, media_type=OCI_MANIFEST) -> Response:
        return self.do("PUT", f"/v2/{NAMESPACE}/manifests/{reference}", content, {"Content-Type": media_type})

    def tags(self, response: Response):
        """setup.go getTagList: the tags, or [] for a body that is not a tag list."""
        try:
            return json.loads(response.body)["tags"] or []
        except (ValueError, KeyError, TypeError):
            return []


@pytest.fixture(scope="module")
def oci(tmp_path_factory):
    server = Flotilla(tmp_path_factory.mktemp("oci")).start()
    try:
        for name in (NAMESPACE, CROSSMOUNT_NAMESPACE):
            create_repository(server, name)
        password = server.aws("ecr", "get-login-password", check=False).stdout.strip()
        assert password, "get-login-password printed nothing"
        yield Registry(server, password)
    finally:
        server.stop()


def assert_deleted_or_refused(status, also=()):
    """The teardowns' SatisfyAny(2xx, 405 [, 404])."""
    assert ok(status) or status in (405, *also), status


# === 01_pull_test.go: Pull ====================================================================
# Setup

def test_pull_setup_populate_registry_with_test_blob_config0(oci):
    """Pull / Setup / "Populate registry with test blob" (configs[0])."""
    assert ok(oci.push_blob(oci.data.configs[0]).status)


def test_pull_setup_populate_registry_with_test_blob_config1(oci):
    """Pull / Setup / "Populate registry with test blob" (configs[1])."""
    assert ok(oci.push_blob(oci.data.configs[1]).status)


def test_pull_setup_populate_registry_with_test_layer(oci):
    """Pull / Setup / "Populate registry with test layer"."""
    assert ok(oci.push_blob(oci.data.layer).status)


def test_pull_setup_populate_registry_with_test_manifest_by_tag(oci):
    """Pull / Setup / "Populate registry with test manifest" (manifests[0], tag tagtest0)."""
    oci.state["pull_tag"] = "tagtest0"
    assert ok(oci.put_manifest("tagtest0", oci.data.manifests[0].content).status)


def test_pull_setup_populate_registry_with_test_manifest_by_digest(oci):
    """Pull / Setup / "Populate registry with test manifest" (manifests[1], by digest).
    ("Get tag name from environment" runs only when setup does not; here it does.)"""
    m = oci.data.manifests[1]
    assert ok(oci.put_manifest(m.digest, m.content).status)


# Pull blobs

def test_pull_blobs_head_request_to_nonexistent_blob_should_result_in_404_response(oci):
    """Pull / Pull blobs / "HEAD request to nonexistent blob should result in 404 response"."""
    assert oci.do("HEAD", f"/v2/{NAMESPACE}/blobs/{oci.data.dummy_digest}").status == 404


def test_pull_blobs_head_request_to_existing_blob_should_yield_200(oci):
    """Pull / Pull blobs / "HEAD request to existing blob should yield 200"."""
    config = oci.data.configs[0]
    r = oci.do("HEAD", f"/v2/{NAMESPACE}/blobs/{config.digest}")
    assert r.status == 200
    if r.headers.get("Docker-Content-Digest"):
        assert r.headers["Docker-Content-Digest"] == config.digest


def test_pull_blobs_get_nonexistent_blob_should_result_in_404_response(oci):
    """Pull / Pull blobs / "GET nonexistent blob should result in 404 response"."""
    assert oci.do("GET", f"/v2/{NAMESPACE}/blobs/{oci.data.dummy_digest}").status == 404


def test_pull_blobs_get_request_to_existing_blob_url_should_yield_200(oci):
    """Pull / Pull blobs / "GET request to existing blob URL should yield 200"."""
    assert oci.do("GET", f"/v2/{NAMESPACE}/blobs/{oci.data.configs[0].digest}").status == 200


# Pull manifests

def test_pull_manifests_head_request_to_nonexistent_manifest_should_return_404(oci):
    """Pull / Pull manifests / "HEAD request to nonexistent manifest should return 404"."""
    assert oci.do("HEAD", f"/v2/{NAMESPACE}/manifests/{oci.data.nonexistent_manifest}").status == 404


@pytest.mark.parametrize("index", [0, 1])
def test_pull_manifests_head_request_to_manifest_path_digest_should_yield_200_response(oci, index):
    """Pull / Pull manifests / "HEAD request to manifest[0] path (digest) should yield 200
    response", and the same for manifest[1]."""
    m = oci.data.manifests[index]
    r = oci.do("HEAD", f"/v2/{NAMESPACE}/manifests/{m.digest}", headers={"Accept": OCI_MANIFEST})
    assert r.status == 200
    if r.headers.get("Docker-Content-Digest"):
        assert r.headers["Docker-Content-Digest"] == m.digest


def test_pull_manifests_head_request_to_manifest_path_tag_should_yield_200_response(oci):
    """Pull / Pull manifests / "HEAD request to manifest path (tag) should yield 200 response"."""
    tag = oci.state.get("pull_tag")
    assert tag
    r = oci.do("HEAD", f"/v2/{NAMESPACE}/manifests/{tag}", headers={"Accept": OCI_MANIFEST})
    assert r.status == 200
    if r.headers.get("Docker-Content-Digest"):
        assert r.headers["Docker-Content-Digest"] == oci.data.manifests[0].digest


def test_pull_manifests_get_nonexistent_manifest_should_return_404(oci):
    """Pull / Pull manifests / "GET nonexistent manifest should return 404"."""
    assert oci.do("GET", f"/v2/{NAMESPACE}/manifests/{oci.data.nonexistent_manifest}").status == 404


@pytest.mark.parametrize("index", [0, 1])
def test_pull_manifests_get_request_to_manifest_path_digest_should_yield_200_response(oci, index):
    """Pull / Pull manifests / "GET request to manifest[0] path (digest) should yield 200
    response", and the same for manifest[1]."""
    m = oci.data.manifests[index]
    r = oci.do("GET", f"/v2/{NAMESPACE}/manifests/{m.digest}", headers={"Accept": OCI_MANIFEST})
    assert r.status == 200


def test_pull_manifests_get_request_to_manifest_path_tag_should_yield_200_response(oci):
    """Pull / Pull manifests / "GET request to manifest path (tag) should yield 200 response"."""
    tag = oci.state.get("pull_tag")
    assert tag
    r = oci.do("GET", f"/v2/{NAMESPACE}/manifests/{tag}", headers={"Accept": OCI_MANIFEST})
    assert r.status == 200


# Error codes

def test_pull_error_codes_400_response_body_should_contain_oci_conforming_json_message(oci):
    """Pull / Error codes / "400 response body should contain OCI-conforming JSON message"
    (a GET of `sha256:totallywrong`, with a body, as the suite sends it)."""
    r = oci.do("GET", f"/v2/{NAMESPACE}/manifests/sha256:totallywrong", oci.data.invalid_manifest_content,
               {"Content-Type": OCI_MANIFEST})
    assert r.status in (400, 404), r
    if r.status == 400:
        errors = json.loads(r.body)["errors"]
        assert errors and errors[0]["code"] in ERROR_CODES


# Teardown (OCI_DELETE_MANIFEST_BEFORE_BLOBS: manifests first)

@pytest.mark.parametrize("index", [0, 1])
def test_pull_teardown_delete_manifest_created_in_setup(oci, index):
    """Pull / Teardown / "Delete manifest[0] created in setup", and manifest[1]."""
    r = oci.do("DELETE", f"/v2/{NAMESPACE}/manifests/{oci.data.manifests[index].digest}")
    assert_deleted_or_refused(r.status)


@pytest.mark.parametrize("what", ["config[0]", "config[1]", "layer"])
def test_pull_teardown_delete_blob_created_in_setup(oci, what):
    """Pull / Teardown / "Delete config[0] blob created in setup", "Delete config[1] blob
    created in setup", "Delete layer blob created in setup"."""
    b = {"config[0]": oci.data.configs[0], "config[1]": oci.data.configs[1], "layer": oci.data.layer}[what]
    assert_deleted_or_refused(oci.do("DELETE", f"/v2/{NAMESPACE}/blobs/{b.digest}").status, also=(404,))


# === 02_push_test.go: Push ====================================================================
# Blob Upload Streamed

def test_push_streamed_patch_request_with_blob_in_body_should_yield_202_response(oci):
    """Push / Blob Upload Streamed / "PATCH request with blob in body should yield 202 response"."""
    started = oci.do("POST", f"/v2/{NAMESPACE}/blobs/uploads/")
    assert started.headers.get("Location")
    r = oci.do("PATCH", relative(started.headers["Location"]), oci.data.blob_a.content, {"Content-Type": OCTET})
    assert r.status == 202
    oci.state["last"] = r


def test_push_streamed_put_request_to_session_url_with_digest_should_yield_201_response(oci):
    """Push / Blob Upload Streamed / "PUT request to session URL with digest should yield 201
    response". (The suite sets a Content-Length header of the blob's length with no body;
    Go's client sends the body's length, 0, and so does this.)"""
    last = oci.state["last"]
    r = oci.do("PUT", with_query(relative(last.headers.get("Location", "")), digest=oci.data.blob_a.digest),
               None, {"Content-Type": OCTET})
    assert r.status == 201
    assert r.headers.get("Location")


# Blob Upload Monolithic

def test_push_monolithic_get_nonexistent_blob_should_result_in_404_response(oci):
    """Push / Blob Upload Monolithic / "GET nonexistent blob should result in 404 response"."""
    assert oci.do("GET", f"/v2/{NAMESPACE}/blobs/{oci.data.dummy_digest}").status == 404


def test_push_monolithic_post_request_with_digest_and_blob_should_yield_a_201_or_202(oci):
    """Push / Blob Upload Monolithic / "POST request with digest and blob should yield a 201 or 202"."""
    c = oci.data.configs[1]
    r = oci.do("POST", with_query(f"/v2/{NAMESPACE}/blobs/uploads/", digest=c.digest), c.content,
               {"Content-Length": c.length, "Content-Type": OCTET})
    oci.state["last"] = r
    assert r.headers.get("Location")
    assert r.status in (201, 202)


def test_push_monolithic_get_request_to_blob_url_from_prior_request_should_yield_200_or_404(oci):
    """Push / Blob Upload Monolithic / "GET request to blob URL from prior request should yield
    200 or 404 based on response code"."""
    last = oci.state["last"]
    r = oci.do("GET", f"/v2/{NAMESPACE}/blobs/{oci.data.configs[1].digest}")
    assert r.status == (404 if last.status == 202 else 200)


def test_push_monolithic_post_request_should_yield_a_session_id(oci):
    """Push / Blob Upload Monolithic / "POST request should yield a session ID"."""
    r = oci.do("POST", f"/v2/{NAMESPACE}/blobs/uploads/")
    assert r.status == 202
    oci.state["last"] = r


def test_push_monolithic_put_upload_of_a_blob_should_yield_a_201_response(oci):
    """Push / Blob Upload Monolithic / "PUT upload of a blob should yield a 201 Response"."""
    c = oci.data.configs[1]
    r = oci.do("PUT", with_query(relative(oci.state["last"].headers.get("Location", "")), digest=c.digest),
               c.content, {"Content-Length": c.length, "Content-Type": OCTET})
    assert r.headers.get("Location")
    assert r.status == 201


def test_push_monolithic_get_request_to_existing_blob_should_yield_200_response(oci):
    """Push / Blob Upload Monolithic / "GET request to existing blob should yield 200 response"."""
    assert oci.do("GET", f"/v2/{NAMESPACE}/blobs/{oci.data.configs[1].digest}").status == 200


def test_push_monolithic_put_upload_of_a_layer_blob_should_yield_a_201_response(oci):
    """Push / Blob Upload Monolithic / "PUT upload of a layer blob should yield a 201 Response"."""
    r = oci.push_blob(oci.data.layer)
    assert r.headers.get("Location")
    assert r.status == 201


def test_push_monolithic_get_request_to_existing_layer_should_yield_200_response(oci):
    """Push / Blob Upload Monolithic / "GET request to existing layer should yield 200 response"."""
    assert oci.do("GET", f"/v2/{NAMESPACE}/blobs/{oci.data.layer.digest}").status == 200


# Blob Upload Chunked

def chunk(oci, location, content, content_range):
    return oci.do("PATCH", relative(location), content,
                  {"Content-Type": OCTET, "Content-Length": str(len(content)), "Content-Range": content_range})


def test_push_chunked_out_of_order_blob_upload_should_return_416(oci):
    """Push / Blob Upload Chunked / "Out-of-order blob upload should return 416"."""
    d = oci.data
    started = oci.do("POST", f"/v2/{NAMESPACE}/blobs/uploads/", None, {"Content-Length": "0"})
    assert started.headers.get("Location")
    # Rebuild the chunked blob if the registry's minimum chunk is larger than ours.
    min_size = started.headers.get("OCI-Chunk-Min-Length")
    if min_size and int(min_size) > len(d.chunk1):
        d.setup_chunked_blob(int(min_size) * 2 - 2)
    r = chunk(oci, started.headers["Location"], d.chunk2, d.chunk2_range)
    assert r.status == 416


def test_push_chunked_patch_request_with_first_chunk_should_return_202(oci):
    """Push / Blob Upload Chunked / "PATCH request with first chunk should return 202"."""
    d = oci.data
    started = oci.do("POST", f"/v2/{NAMESPACE}/blobs/uploads/", None, {"Content-Length": "0"})
    assert started.headers.get("Location")
    oci.state["prev"] = started
    r = chunk(oci, started.headers["Location"], d.chunk1, d.chunk1_range)
    assert r.status == 202
    assert r.headers.get("Range") == d.chunk1_range
    oci.state["last"] = r


def test_push_chunked_retry_previous_blob_chunk_should_return_416(oci):
    """Push / Blob Upload Chunked / "Retry previous blob chunk should return 416"."""
    d = oci.data
    r = chunk(oci, oci.state["prev"].headers["Location"], d.chunk1, d.chunk1_range)
    assert r.status == 416


def test_push_chunked_get_on_stale_blob_upload_should_return_204_with_a_range_and_location(oci):
    """Push / Blob Upload Chunked / "Get on stale blob upload should return 204 with a range and location"."""
    r = oci.do("GET", relative(oci.state["prev"].headers["Location"]))
    assert r.status == 204
    assert r.headers.get("Location")
    assert r.headers.get("Range") == oci.data.chunk1_range
    oci.state["last"] = r


def test_push_chunked_patch_request_with_second_chunk_should_return_202(oci):
    """Push / Blob Upload Chunked / "PATCH request with second chunk should return 202"."""
    d = oci.data
    r = chunk(oci, oci.state["last"].headers.get("Location", ""), d.chunk2, d.chunk2_range)
    assert r.status == 202
    assert r.headers.get("Range") == f"0-{len(d.blob_b.content) - 1}"
    assert r.headers.get("Location")
    oci.state["last"] = r


def test_push_chunked_put_request_with_digest_should_return_201(oci):
    """Push / Blob Upload Chunked / "PUT request with digest should return 201"."""
    r = oci.do("PUT", with_query(relative(oci.state["last"].headers.get("Location", "")),
                                 digest=oci.data.blob_b.digest),
               None, {"Content-Length": "0", "Content-Type": OCTET})
    assert r.status == 201
    assert r.headers.get("Location")


# Cross-Repository Blob Mount

def test_push_crossmount_cross_mounting_of_a_blob_without_the_from_argument_should_yield_session_id(oci):
    """Push / Cross-Repository Blob Mount / "Cross-mounting of a blob without the from argument
    should yield session id"."""
    r = oci.do("POST", with_query(f"/v2/{CROSSMOUNT_NAMESPACE}/blobs/uploads/", mount=oci.data.dummy_digest))
    assert r.status == 202
    assert r.headers.get("Location")


def test_push_crossmount_post_request_to_mount_another_repositorys_blob_should_return_201_or_202(oci):
    """Push / Cross-Repository Blob Mount / "POST request to mount another repository's blob
    should return 201 or 202"."""
    r = oci.do("POST", with_query(f"/v2/{CROSSMOUNT_NAMESPACE}/blobs/uploads/", mount=oci.data.blob_a.digest,
                                  **{"from": NAMESPACE}))
    oci.state["mount"] = r
    assert r.status in (201, 202)


def test_push_crossmount_get_request_to_test_digest_within_cross_mount_namespace_should_return_200(oci):
    """Push / Cross-Repository Blob Mount / "GET request to test digest within cross-mount
    namespace should return 200" (only after a 201)."""
    mount = oci.state["mount"]
    if mount.status != 201:
        pytest.skip("the mount was answered 202, not 201")
    location = relative(mount.headers.get("Location", ""))
    assert location == f"/v2/{CROSSMOUNT_NAMESPACE}/blobs/{oci.data.blob_a.digest}"
    assert oci.do("GET", location).status == 200


def test_push_crossmount_cross_mounting_of_nonexistent_blob_should_yield_session_id(oci):
    """Push / Cross-Repository Blob Mount / "Cross-mounting of nonexistent blob should yield
    session id" (only after a 202)."""
    mount = oci.state["mount"]
    if mount.status != 202:
        pytest.skip("the mount was answered 201, not 202")
    assert relative(mount.headers.get("Location", "")).startswith(f"/v2/{CROSSMOUNT_NAMESPACE}/blobs/uploads/")


def test_push_crossmount_cross_mounting_without_from_and_automatic_content_discovery(oci):
    """Push / Cross-Repository Blob Mount / "Cross-mounting without from, and automatic content
    discovery enabled should return a 201" and "... disabled should return a 202". The suite
    runs one of them per OCI_AUTOMATIC_CROSSMOUNT (true or false), and neither when it is
    unset; honour it when set, otherwise accept what either setting accepts."""
    if oci.state["mount"].status != 201:
        pytest.skip("the mount with from was not answered 201")
    r = oci.do("POST", with_query(f"/v2/{CROSSMOUNT_NAMESPACE}/blobs/uploads/", mount=oci.data.blob_a.digest))
    setting = os.environ.get("OCI_AUTOMATIC_CROSSMOUNT")
    if setting is None:
        assert r.status in (201, 202)
    else:
        enabled = setting.strip().lower() in ("1", "t", "true")
        assert r.status == (201 if enabled else 202)


# Manifest Upload

def test_push_manifest_upload_get_nonexistent_manifest_should_return_404(oci):
    """Push / Manifest Upload / "GET nonexistent manifest should return 404"."""
    assert oci.do("GET", f"/v2/{NAMESPACE}/manifests/{oci.data.nonexistent_manifest}").status == 404


def test_push_manifest_upload_put_should_accept_a_manifest_upload(oci):
    """Push / Manifest Upload / "PUT should accept a manifest upload" (tags test0..test3)."""
    for i in range(4):
        r = oci.put_manifest(f"test{i}", oci.data.manifests[1].content)
        assert r.headers.get("Location")
        assert r.status == 201


def test_push_manifest_upload_registry_should_accept_a_manifest_upload_with_no_layers(oci):
    """Push / Manifest Upload / "Registry should accept a manifest upload with no layers"
    (the suite only warns when it is not 201)."""
    r = oci.put_manifest("emptylayer", oci.data.empty_layer_manifest.content)
    oci.state["empty_layer_ref"] = ""
    if r.status == 201:
        oci.state["empty_layer_ref"] = r.headers.get("Location", "")
        assert r.headers.get("Location")
    else:
        pytest.skip(f"WARNING: image manifest with no layers is not supported ({r.status})")


def test_push_manifest_upload_get_request_to_manifest_url_digest_should_yield_200_response(oci):
    """Push / Manifest Upload / "GET request to manifest URL (digest) should yield 200 response"."""
    r = oci.do("GET", f"/v2/{NAMESPACE}/manifests/{oci.data.manifests[1].digest}", headers={"Accept": OCI_MANIFEST})
    assert r.status == 200


# Teardown

def test_push_teardown_delete_manifest_created_in_tests(oci):
    """Push / Teardown / "Delete manifest created in tests" (and the no-layers one)."""
    assert_deleted_or_refused(oci.do("DELETE", f"/v2/{NAMESPACE}/manifests/{oci.data.manifests[1].digest}").status)
    if oci.state.get("empty_layer_ref"):
        r = oci.do("DELETE", f"/v2/{NAMESPACE}/manifests/{oci.data.empty_layer_manifest.digest}")
        assert_deleted_or_refused(r.status)


def test_push_teardown_delete_config_blob_created_in_tests(oci):
    """Push / Teardown / "Delete config blob created in tests"."""
    r = oci.do("DELETE", f"/v2/{NAMESPACE}/blobs/{oci.data.configs[1].digest}")
    assert_deleted_or_refused(r.status, also=(404,))


def test_push_teardown_delete_layer_blob_created_in_setup(oci):
    """Push / Teardown / "Delete layer blob created in setup"."""
    r = oci.do("DELETE", f"/v2/{NAMESPACE}/blobs/{oci.data.layer.digest}")
    assert_deleted_or_refused(r.status, also=(404,))


# === 03_discovery_test.go: Content Discovery ==================================================
# Setup

def test_discovery_setup_populate_registry_with_test_blob(oci):
    """Content Discovery / Setup / "Populate registry with test blob" (configs[2])."""
    assert ok(oci.push_blob(oci.data.configs[2]).status)


def test_discovery_setup_populate_registry_with_test_layer(oci):
    """Content Discovery / Setup / "Populate registry with test layer"."""
    assert ok(oci.push_blob(oci.data.layer).status)


def test_discovery_setup_populate_registry_with_test_tags(oci):
    """Content Discovery / Setup / "Populate registry with test tags" (test0..3 and TEST0..3)."""
    for i in range(4):
        for tag in (f"test{i}", f"TEST{i}"):
            r = oci.put_manifest(tag, oci.data.manifests[2].content)
            assert ok(r.status), (tag, r)
    oci.state["tag_list"] = oci.tags(oci.do("GET", f"/v2/{NAMESPACE}/tags/list"))


def test_discovery_setup_references_setup(oci):
    """Content Discovery / Setup / "References setup": the empty JSON blob, the referrers'
    blobs and manifests (two before their subject manifests[4] is pushed, two after, one to a
    subject never pushed) and an index with a subject, each answered 2xx. The suite checks
    each PUT's OCI-Subject header in the same spec; that is the next test."""
    d = oci.data
    assert d.empty_json.digest == "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    subjects = oci.state["oci_subject"] = {}

    def put(m, media_type=OCI_MANIFEST, subject=d.manifests[4].digest):
        r = oci.put_manifest(m.digest, m.content, media_type)
        assert ok(r.status), (m.digest, r.status, r.body)
        subjects[m.digest] = (r.headers.get("OCI-Subject"), subject)

    assert ok(oci.push_blob(d.empty_json).status)
    assert ok(oci.push_blob(d.ref_blob_a).status)  # before the image manifest is pushed
    put(d.refs_a_config)
    put(d.refs_a_layer)
    put(d.refs_index, OCI_INDEX)
    assert ok(oci.push_blob(d.configs[4]).status)
    assert ok(oci.push_blob(d.layer).status)
    assert ok(oci.put_manifest("tagtest0", d.manifests[4].content).status)
    assert ok(oci.push_blob(d.ref_blob_b).status)  # after the image manifest is pushed
    put(d.refs_b_config)
    put(d.refs_b_layer)
    put(d.refs_c_layer, subject=d.manifests[3].digest)  # a subject that does not exist


def test_discovery_setup_references_setup_oci_subject_headers(oci):
    """Content Discovery / Setup / "References setup": `Expect(resp.Header().Get("OCI-Subject"))
    .To(Equal(manifests[4].Digest))` after each PUT of a manifest with a subject
    (manifests[3].Digest for the one whose subject is missing)."""
    subjects = oci.state["oci_subject"]
    assert len(subjects) == 6
    for digest, (got, expected) in subjects.items():
        assert got == expected, digest


# Test content discovery endpoints (listing tags)

def test_discovery_tags_get_request_to_list_tags_should_yield_200_response_and_be_in_sorted_order(oci):
    """Content Discovery / listing tags / "GET request to list tags should yield 200 response
    and be in sorted order" (lexical, i.e. case-insensitive, or, as registries have been,
    ASCII order)."""
    r = oci.do("GET", f"/v2/{NAMESPACE}/tags/list")
    assert r.status == 200
    tags = oci.tags(r)
    oci.state["num_tags"] = len(tags)
    assert tags in (sorted(tags, key=str.lower), sorted(tags))


def test_discovery_tags_get_number_of_tags_should_be_limitable_by_n_query_parameter(oci):
    """Content Discovery / listing tags / "GET number of tags should be limitable by `n` query parameter"."""
    n = oci.state["num_tags"] // 2
    r = oci.do("GET", with_query(f"/v2/{NAMESPACE}/tags/list", n=n))
    assert r.status == 200
    assert len(oci.tags(r)) == n


def test_discovery_tags_get_start_of_tag_is_set_by_last_query_parameter(oci):
    """Content Discovery / listing tags / "GET start of tag is set by `last` query parameter"."""
    n = oci.state["num_tags"] // 2
    r = oci.do("GET", with_query(f"/v2/{NAMESPACE}/tags/list", n=n))
    assert r.status == 200
    last = oci.tags(r)[n - 1]
    r = oci.do("GET", with_query(f"/v2/{NAMESPACE}/tags/list", n=n, last=last))
    assert r.status == 200
    tags = oci.tags(r)
    assert len(tags) <= n
    assert last not in tags


# Test content discovery endpoints (listing references)

def referrers(oci, digest, **query):
    path = f"/v2/{NAMESPACE}/referrers/{digest}"
    r = oci.do("GET", with_query(path, **query) if query else path)
    assert r.status == 200, (r.status, r.body)
    assert r.headers.get("Content-Type") == OCI_INDEX
    return r, json.loads(r.body)


def assert_annotations_pulled_up(oci, manifests):
    for m in manifests:
        assert len(m.get("annotations") or {}) == 1
        assert m["annotations"][oci.data.annotation_key] == oci.data.annotation_values.get(m["digest"])


def test_discovery_referrers_get_request_to_nonexistent_blob_should_result_in_empty_200_response(oci):
    """Content Discovery / listing references / "GET request to nonexistent blob should result
    in empty 200 response"."""
    _, index = referrers(oci, oci.data.dummy_digest)
    assert len(index.get("manifests") or []) == 0


def test_discovery_referrers_get_request_to_existing_blob_should_yield_200(oci):
    """Content Discovery / listing references / "GET request to existing blob should yield 200"."""
    _, index = referrers(oci, oci.data.manifests[4].digest)
    manifests = index.get("manifests") or []
    assert len(manifests) == 5
    assert manifests[0]["digest"] != manifests[1]["digest"]
    assert_annotations_pulled_up(oci, manifests)


def test_discovery_referrers_get_request_to_existing_blob_with_filter_should_yield_200(oci):
    """Content Discovery / listing references / "GET request to existing blob with filter should
    yield 200" (2 with `OCI-Filters-Applied: artifactType`, otherwise all 5 and a warning)."""
    r, index = referrers(oci, oci.data.manifests[4].digest, artifactType=oci.data.ref_type_a)
    manifests = index.get("manifests") or []
    if r.headers.get("OCI-Filters-Applied"):
        assert len(manifests) == 2
        assert r.headers["OCI-Filters-Applied"] == "artifactType"
    else:
        assert len(manifests) == 5
    assert_annotations_pulled_up(oci, manifests)


def test_discovery_referrers_get_request_to_missing_manifest_should_yield_200(oci):
    """Content Discovery / listing references / "GET request to missing manifest should yield 200"."""
    _, index = referrers(oci, oci.data.manifests[3].digest)
    manifests = index.get("manifests") or []
    assert len(manifests) == 1
    assert manifests[0]["digest"] == oci.data.refs_c_layer.digest


def referrers_tag(digest):
    """The spec's referrers tag schema: `<alg>-<encoded>`, truncated to 32 and 64 characters."""
    alg, encoded = digest.split(":", 1)
    return f"{alg[:32]}-{encoded[:64]}"


def test_discovery_referrers_fallback_tag_schema_holds_the_referrers_index(oci):
    """Not in the suite: what a client of a registry without the referrers API does ("Unavailable
    Referrers API", the referrers tag schema) works here too: push an image index of the subject's referrers (annotations and artifactType pulled
    up into the descriptors) to the tag `sha256-<hex>`, pull it back by that tag, byte for byte,
    with its digest, then remove it again (the suite's teardown deletes its children)."""
    d = oci.data
    entries = []
    for m, artifact_type in ((d.refs_a_config, d.ref_type_a), (d.refs_a_layer, d.ref_type_a),
                             (d.refs_index, d.ref_type_index), (d.refs_b_config, d.ref_type_b),
                             (d.refs_b_layer, d.ref_type_b)):
        media_type = json.loads(m.content)["mediaType"]
        entries.append({"mediaType": media_type, "digest": m.digest, "size": len(m.content),
                        "artifactType": artifact_type,
                        "annotations": {d.annotation_key: d.annotation_values[m.digest]}})
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
    digest = sha256(index)
    tag = referrers_tag(d.manifests[4].digest)
    assert tag == "sha256-" + d.manifests[4].digest.split(":")[1]
    r = oci.put_manifest(tag, index, OCI_INDEX)
    assert r.status == 201, (r.status, r.body)
    assert r.headers.get("Docker-Content-Digest") == digest
    r = oci.do("GET", f"/v2/{NAMESPACE}/manifests/{tag}", headers={"Accept": OCI_INDEX})
    assert r.status == 200
    assert r.body == index
    assert r.headers.get("Content-Type") == OCI_INDEX
    assert r.headers.get("Docker-Content-Digest") == digest
    assert {m["digest"] for m in json.loads(r.body)["manifests"]} == set(d.annotation_values)
    # A subject with no referrers has no such tag: a client then assumes there are none.
    assert oci.do("GET", f"/v2/{NAMESPACE}/manifests/{referrers_tag(d.dummy_digest)}",
                  headers={"Accept": OCI_INDEX}).status == 404
    assert oci.do("DELETE", f"/v2/{NAMESPACE}/manifests/{digest}").status == 202


# Teardown

def test_discovery_teardown_delete_created_manifest_and_associated_tags(oci):
    """Content Discovery / Teardown / "Delete created manifest & associated tags"."""
    d = oci.data
    for m in (d.refs_index, d.manifests[2], d.manifests[4], d.refs_a_config, d.refs_a_layer,
              d.refs_b_config, d.refs_b_layer, d.refs_c_layer):
        r = oci.do("DELETE", f"/v2/{NAMESPACE}/manifests/{m.digest}")
        assert ok(r.status) or r.status in (404, 405), (m.digest, r.status, r.body)


def test_discovery_teardown_delete_config_blob_created_in_tests(oci):
    """Content Discovery / Teardown / "Delete config blob created in tests"."""
    r = oci.do("DELETE", f"/v2/{NAMESPACE}/blobs/{oci.data.configs[2].digest}")
    assert_deleted_or_refused(r.status, also=(404,))


def test_discovery_teardown_delete_layer_blob_created_in_setup(oci):
    """Content Discovery / Teardown / "Delete layer blob created in setup"."""
    r = oci.do("DELETE", f"/v2/{NAMESPACE}/blobs/{oci.data.layer.digest}")
    assert_deleted_or_refused(r.status, also=(404,))


def test_discovery_teardown_references_teardown(oci):
    """Content Discovery / Teardown / "References teardown": the referrers' manifests again
    (already gone: 404 is accepted), then their blobs; each 2xx, 404 or 405."""
    d = oci.data
    paths = [f"/v2/{NAMESPACE}/manifests/{m.digest}" for m in
             (d.refs_index, d.refs_a_config, d.refs_a_layer, d.manifests[4], d.refs_b_config, d.refs_b_layer)]
    paths += [f"/v2/{NAMESPACE}/blobs/{b.digest}" for b in (d.configs[4], d.ref_blob_a, d.ref_blob_b, d.empty_json)]
    for path in paths:
        r = oci.do("DELETE", path)
        assert ok(r.status) or r.status in (404, 405), (path, r.status, r.body)


# === 04_management_test.go: Content Management ================================================
# Setup

def test_management_setup_populate_registry_with_test_config_blob(oci):
    """Content Management / Setup / "Populate registry with test config blob" (configs[3])."""
    assert ok(oci.push_blob(oci.data.configs[3]).status)


def test_management_setup_populate_registry_with_test_layer(oci):
    """Content Management / Setup / "Populate registry with test layer"."""
    assert ok(oci.push_blob(oci.data.layer).status)


def test_management_setup_populate_registry_with_test_tag(oci):
    """Content Management / Setup / "Populate registry with test tag" (manifests[3], tagtest0)."""
    oci.state["tag_to_delete"] = "tagtest0"
    assert ok(oci.put_manifest("tagtest0", oci.data.manifests[3].content).status)


def test_management_setup_check_how_many_tags_there_are_before_anything_gets_deleted(oci):
    """Content Management / Setup / "Check how many tags there are before anything gets deleted"."""
    r = oci.do("GET", f"/v2/{NAMESPACE}/tags/list")
    assert r.status == 200
    oci.state["management_num_tags"] = len(json.loads(r.body)["tags"] or [])


# Manifest delete

def test_management_manifest_delete_delete_request_to_manifest_tag_should_return_202(oci):
    """Content Management / Manifest delete / "DELETE request to manifest tag should return 202,
    unless tag deletion is disallowed (400/405)"."""
    r = oci.do("DELETE", f"/v2/{NAMESPACE}/manifests/{oci.state['tag_to_delete']}")
    assert r.status in (400, 202, 405)
    if r.status == 400:
        errors = json.loads(r.body)["errors"]
        assert errors and errors[0]["code"] == "UNSUPPORTED"


def test_management_manifest_delete_delete_request_to_manifest_digest_should_yield_202_unless_already_deleted(oci):
    """Content Management / Manifest delete / "DELETE request to manifest (digest) should yield
    202 response unless already deleted"."""
    r = oci.do("DELETE", f"/v2/{NAMESPACE}/manifests/{oci.data.manifests[3].digest}")
    assert r.status in (202, 404)


def test_management_manifest_delete_get_request_to_deleted_manifest_url_should_yield_404_unless_delete_is_disallowed(
        oci):
    """Content Management / Manifest delete / "GET request to deleted manifest URL should yield
    404 response, unless delete is disallowed"."""
    assert oci.do("GET", f"/v2/{NAMESPACE}/manifests/{oci.data.manifests[3].digest}").status in (404, 200)


def test_management_manifest_delete_get_request_to_tags_list_should_reflect_manifest_deletion(oci):
    """Content Management / Manifest delete / "GET request to tags list should reflect manifest deletion"."""
    r = oci.do("GET", f"/v2/{NAMESPACE}/tags/list")
    assert r.status in (404, 200)
    expect = oci.state["management_num_tags"] - 1
    if r.status == 200:
        assert len(json.loads(r.body)["tags"] or []) == expect
    else:
        assert expect == 0


# Blob delete

def test_management_blob_delete_delete_request_to_blob_url_should_yield_202_response(oci):
    """Content Management / Blob delete / "DELETE request to blob URL should yield 202 response"
    (the config blob, then the layer; a 405 for the layer means blob deletes are disabled)."""
    r = oci.do("DELETE", f"/v2/{NAMESPACE}/blobs/{oci.data.configs[3].digest}")
    assert r.status in (202, 404, 405)
    r = oci.do("DELETE", f"/v2/{NAMESPACE}/blobs/{oci.data.layer.digest}")
    assert r.status in (202, 404, 405)
    oci.state["blob_delete_allowed"] = r.status != 405


def test_management_blob_delete_get_request_to_deleted_blob_url_should_yield_404_response(oci):
    """Content Management / Blob delete / "GET request to deleted blob URL should yield 404 response"."""
    if not oci.state.get("blob_delete_allowed", True):
        pytest.skip("blob deletes are disallowed (405)")
    assert oci.do("GET", f"/v2/{NAMESPACE}/blobs/{oci.data.configs[3].digest}").status == 404
