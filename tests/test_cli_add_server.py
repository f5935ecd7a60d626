"""chef-multiserver add-server: a new server directory the hooks accept, and its CA certificate only
once the user has seen and confirmed its fingerprint."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from chef_multiserver import servers
from chef_multiserver.cli import tls as cli_tls
from pre_commit_hooks import check_chef_repo, check_chef_server_config
from tests.cli_fakes import Result, make_ca, make_server_cert, pem, run, tls_server

pytest_plugins = ("tests.cli_fixtures",)

URL = "https://chef.test.example/organizations/acme"
ADD = ("add-server", "chef-north", "--url", URL, "--server-region", "eu-north-1")
REGION = "--server-region"


def test_writes_a_config_the_shared_rules_accept(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run(capsys, *ADD)

    assert result.code == 0, result.err
    config_file = repo / ".chef/chef-north/config.yml"
    config = yaml.safe_load(config_file.read_text("utf-8"))
    assert config == {"server": URL, "region": "eu-north-1", "node_name": "chef-pipeline"}
    assert list(servers.problems(config)) == []
    assert "chef-north" in servers.server_dirs(repo)
    # What the pipeline cannot do for the user is spelled out.
    assert "put-key chef-north" in result.out
    assert "chef-server=chef-north" in result.out
    assert "git add .chef/chef-north/config.yml" in result.out


def test_the_hooks_accept_the_new_server(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    subprocess.run(["git", "init", "--quiet"], check=True)
    assert run(capsys, *ADD).code == 0
    subprocess.run(["git", "add", "--all"], check=True)

    assert check_chef_server_config.main([".chef/chef-north/config.yml"]) == 0
    assert check_chef_repo.main([]) == 0


def test_the_stacks_region_is_never_the_servers_region(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`chef-multiserver --region us-west-2 add-server ...` once made us-west-2 the server's
    region without a word."""
    config = repo / ".chef/chef-north/config.yml"

    without = run(capsys, "--region", "us-west-2", *ADD[:4])
    assert without.code == 1  # a usage error (README: every refusal exits 1)
    assert "add-server: --server-region REGION is required" in without.err
    assert not config.exists()

    assert run(capsys, "--region", "us-west-2", *ADD).code == 0
    assert 'region: "eu-north-1"' in config.read_text("utf-8")


def test_region_after_add_server_says_which_option_is_the_servers(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run(capsys, *ADD[:4], "--region", "eu-north-1")

    assert result.code == 1
    assert "add-server takes the server's region as --server-region REGION" in result.err
    assert not (repo / ".chef/chef-north").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("add-server", "CHEF-EAST", "--url", URL, REGION, "us-east-1"), "already exists"),
        (
            (
                "add-server",
                "chef-new",
                "--url",
                "https://chef-west.example.com/organizations/default",
                "--server-region",
                "us-east-1",
            ),
            "already has the URL",
        ),
        (("add-server", "ca_certs", "--url", URL, REGION, "us-east-1"), "server name"),
        (("add-server", "chef-new", "--url", "http://chef/x", REGION, "us-east-1"), "--url:"),
        (("add-server", "chef-new", "--url", URL, REGION, "mars-1"), "--server-region:"),
        (
            (
                "add-server",
                "chef-new",
                "--url",
                URL,
                "--server-region",
                "us-east-1",
                "--node-name",
                "Bad User",
            ),
            "--node-name:",
        ),
    ],
    ids=["name-case-insensitive", "url", "reserved-name", "bad-url", "bad-region", "bad-user"],
)
def test_refuses_what_the_rules_refuse(
    repo: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    before = sorted(repo.rglob("*"))

    result = run(capsys, *argv)

    assert result.code == 1
    assert message in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert sorted(repo.rglob("*")) == before


def test_needs_a_node_name_when_the_servers_disagree(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    west = repo / ".chef/chef-west/config.yml"
    west.write_text(west.read_text("utf-8").replace('"chef-pipeline"', '"deployer"'), "utf-8")

    result = run(capsys, *ADD)

    assert result.code == 1
    assert "--node-name is required: the servers use different ones" in result.err
    assert run(capsys, *ADD, "--node-name", "deployer").code == 0


def test_missing_region_is_a_usage_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, *ADD[:4])

    assert result.code == 1
    assert "--server-region REGION is required" in result.err


def test_outside_a_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)

    result = run(capsys, *ADD)

    assert result.code == 1
    assert "not inside a chef-multiserver repository" in result.err


# --- --fetch-ca against a local TLS server named chef.test.example ------------------------------


def fetch_ca(capsys: pytest.CaptureFixture[str], port: int, *extra: str) -> Result:
    return run(
        capsys,
        *ADD,
        "--fetch-ca",
        "--connect-to",
        f"chef.test.example:443:127.0.0.1:{port}",
        *extra,
    )


def test_fetch_ca_stores_the_top_of_the_chain_after_confirmation(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = make_ca("Test Chef CA")
    leaf = make_server_cert(ca, "chef.test.example")
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))

    with tls_server(leaf, [ca.certificate], tmp_path / "tls") as port:
        code, out, err = fetch_ca(capsys, port)

    assert code == 0, err
    assert "CN=chef.test.example" in out
    assert "CN=Test Chef CA" in out
    assert cli_tls.fingerprint(ca.certificate) in out
    stored = repo / ".chef/ca_certs/chef-north.crt"
    assert stored.read_bytes() == pem(ca.certificate)
    assert (repo / ".chef/chef-north/config.yml").is_file()


def test_fetch_ca_of_a_server_that_sends_only_its_own_certificate(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = make_ca("Test Chef CA")
    leaf = make_server_cert(ca, "chef.test.example")

    with tls_server(leaf, [], tmp_path / "tls") as port:
        code, out, err = fetch_ca(capsys, port, "--yes")

    assert code == 0, err
    assert "sent only its own certificate" in out
    stored = x509.load_pem_x509_certificate((repo / ".chef/ca_certs/chef-north.crt").read_bytes())
    assert stored == leaf.certificate


def test_fetch_ca_declined_writes_nothing(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = make_ca("Test Chef CA")
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))

    with tls_server(
        make_server_cert(ca, "chef.test.example"), [ca.certificate], tmp_path / "tls"
    ) as port:
        code, _, err = fetch_ca(capsys, port)

    assert code == 1
    assert "nothing written" in err
    assert not (repo / ".chef/chef-north").exists()
    assert not (repo / ".chef/ca_certs/chef-north.crt").exists()


def test_fetch_ca_from_an_unreachable_server(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = make_ca("Test Chef CA")
    with tls_server(make_server_cert(ca, "chef.test.example"), [], tmp_path / "tls") as port:
        pass  # the port is free again: nothing listens there

    code, _, err = fetch_ca(capsys, port, "--yes")

    assert code == 1
    assert f"cannot connect to chef.test.example:443 (through 127.0.0.1:{port})" in err
    assert not (repo / ".chef/chef-north").exists()


@pytest.mark.parametrize("url", [
    "https://CHEF-WEST.example.com/organizations/default",
    "https://chef-west.example.com:443/organizations/default",
])
def test_another_spelling_of_a_servers_url_is_that_server(
    repo: Path, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    result = run(capsys, "add-server", "chef-new", "--url", url, REGION, "us-east-1")

    assert result.code == 1
    assert "--url: server 'chef-west' already has the URL" in result.err
    assert not (repo / ".chef/chef-new").exists()


@pytest.mark.parametrize(("region", "code"), [
    ("eusc-de-east-1", 0), ("us-northwest-9", 1), ("cn-iso-central-1", 1), ("aws-global", 1),
])
def test_the_region_is_one_botocore_lists(
    repo: Path, capsys: pytest.CaptureFixture[str], region: str, code: int
) -> None:
    result = run(capsys, "add-server", "chef-new", "--url", URL, REGION, region)

    assert result.code == code, result.err
    assert (repo / ".chef/chef-new").exists() is (code == 0)


@pytest.mark.parametrize("value", ["2020-13-45", "!!bool maybe", "!!int x", "1" * 4301])
def test_a_neighbour_config_yaml_cannot_build_does_not_stop_it(
    repo: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    west = repo / ".chef/chef-west/config.yml"
    west.write_text(west.read_text("utf-8").replace('"us-west-2"', value), "utf-8")

    result = run(capsys, *ADD)

    assert result.code == 0, result.err
    assert (repo / ".chef/chef-north/config.yml").is_file()
