"""pipeline/upload_cookbooks.py's parts that the rehearsal cannot vary: the system CA bundle on each
build image's layout."""

from __future__ import annotations

import importlib.util
import ssl
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import KIT_ROOT, Bake, load_yaml

SCRIPT = KIT_ROOT / "{{cookiecutter.repo_name}}/pipeline/upload_cookbooks.py"

# Where each current CodeBuild image keeps its system CA bundle, from its Dockerfile in
# github.com/aws/aws-codebuild-docker-images (@1590e48): ubuntu/standard/7.0 and 8.0 install
# Ubuntu's ca-certificates (/etc/ssl/certs/ca-certificates.crt); al/x86_64/standard/5.0 and 6.0
# are Amazon Linux 2023, whose ca-certificates writes /etc/pki/tls/certs/ca-bundle.crt (the
# Dockerfiles link Java's cacerts to /etc/pki/java/cacerts from the same package).
IMAGE_BUNDLES = {
    "aws/codebuild/standard:7.0": "etc/ssl/certs/ca-certificates.crt",
    "aws/codebuild/standard:8.0": "etc/ssl/certs/ca-certificates.crt",
    "aws/codebuild/amazonlinux-x86_64-standard:5.0": "etc/pki/tls/certs/ca-bundle.crt",
    "aws/codebuild/amazonlinux-x86_64-standard:6.0": "etc/pki/tls/certs/ca-bundle.crt",
}
# The Ruby versions each image's runtimes.yml offers (same commit).
IMAGE_RUBIES = {
    "aws/codebuild/standard:7.0": {"3.1", "3.2", "3.3", "3.4", "4.0"},
    "aws/codebuild/standard:8.0": {"3.3", "3.4", "4.0"},
    "aws/codebuild/amazonlinux-x86_64-standard:5.0": {"3.1", "3.2", "3.3", "3.4", "4.0"},
    "aws/codebuild/amazonlinux-x86_64-standard:6.0": {"3.3", "3.4", "4.0"},
}
# Other layouts the script knows: SUSE and Alpine.
OTHER_BUNDLES = ["etc/ssl/ca-bundle.pem", "etc/ssl/cert.pem"]


@pytest.fixture
def upload_cookbooks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ModuleType:
    """The script as a module, on a machine where Python's OpenSSL defaults name files that do not
    exist (a pyenv-built Python on Ubuntu 22.04 names /usr/lib/ssl/cert.pem) and SSL_CERT_FILE is
    unset."""
    spec = importlib.util.spec_from_file_location("upload_cookbooks", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    missing = str(tmp_path / "usr/lib/ssl")
    nothing = ssl.DefaultVerifyPaths(None, None, "SSL_CERT_FILE",  # type: ignore[arg-type]
                                     f"{missing}/cert.pem", "SSL_CERT_DIR", f"{missing}/certs")
    monkeypatch.setattr(ssl, "get_default_verify_paths", lambda: nothing)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    return module


@pytest.mark.parametrize("layout", sorted({*IMAGE_BUNDLES.values(), *OTHER_BUNDLES}))
def test_the_system_bundle_is_found_on_each_layout_when_pythons_defaults_name_nothing(
    upload_cookbooks: ModuleType, tmp_path: Path, layout: str
) -> None:
    root = tmp_path / "image"
    (root / layout).parent.mkdir(parents=True)
    (root / layout).write_text("-----BEGIN CERTIFICATE-----\n", "utf-8")
    assert upload_cookbooks.system_ca_file(root) == root / layout


def test_no_bundle_anywhere_names_every_place_looked_and_the_fix(
    upload_cookbooks: ModuleType, tmp_path: Path
) -> None:
    with pytest.raises(upload_cookbooks.UploadError) as raised:
        upload_cookbooks.system_ca_file(tmp_path / "empty-image")
    assert "etc/ssl/certs/ca-certificates.crt" in str(raised.value)
    assert "etc/pki/tls/certs/ca-bundle.crt" in str(raised.value)
    assert "set SSL_CERT_FILE" in str(raised.value)


def test_an_ssl_cert_file_that_names_nothing_is_refused_not_skipped(
    upload_cookbooks: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "image"
    (root / "etc/ssl/certs").mkdir(parents=True)
    (root / "etc/ssl/certs/ca-certificates.crt").write_text("", "utf-8")
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "gone.pem"))
    with pytest.raises(upload_cookbooks.UploadError, match=r"gone\.pem is not a file"):
        upload_cookbooks.system_ca_file(root)


def test_the_build_image_has_a_known_bundle_layout_and_the_ruby_the_buildspec_asks_for(
    bake: Bake
) -> None:
    repo = bake()
    template = load_yaml((repo / "cloudformation/pipeline.yml").read_text("utf-8"))
    image = template["Resources"]["BuildProject"]["Properties"]["Environment"]["Image"]
    buildspec = load_yaml((repo / "buildspec.yml").read_text("utf-8"))
    ruby = str(buildspec["phases"]["install"]["runtime-versions"]["ruby"])
    assert image in IMAGE_BUNDLES
    assert ruby in IMAGE_RUBIES[image]
