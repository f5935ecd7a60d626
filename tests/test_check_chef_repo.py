"""check-chef-repo, called in-process in repositories generated from the template."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from pre_commit_hooks.check_chef_repo import main
from tests.conftest import Bake, make_servers

Change = Callable[[Path], object]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def write(relative: str, content: str | bytes) -> Change:
    def change(repo: Path) -> None:
        path = repo / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, "utf-8")

    return change


def append(relative: str, content: str) -> Change:
    return lambda repo: write(relative, (repo / relative).read_text("utf-8") + content)(repo)


def tracked(relative: str, content: str = "not really a key") -> Change:
    def change(repo: Path) -> None:
        write(relative, content)(repo)
        git(repo, "add", "--force", "--", relative)

    return change


def replace(relative: str, old: str, new: str) -> Change:
    def change(repo: Path) -> None:
        text = (repo / relative).read_text("utf-8")
        assert old in text
        (repo / relative).write_text(text.replace(old, new), "utf-8")

    return change


def symlink(relative: str, target: str) -> Change:
    def change(repo: Path) -> None:
        (repo / relative).unlink(missing_ok=True)
        (repo / relative).symlink_to(target)

    return change


def fifo(relative: str) -> Change:
    """A FIFO where a file was: reading it would wait for a writer forever."""
    def change(repo: Path) -> None:
        (repo / relative).unlink()
        os.mkfifo(repo / relative)

    return change


def run(repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        cwd: str = ".") -> tuple[int, list[str]]:
    monkeypatch.chdir(repo / cwd)
    code = main([])
    return code, capsys.readouterr().out.splitlines()


KNIFE = ".chef/knife.rb"
SYMLINKED = "is a symlink: a server is a real directory inside the repository"
GOOD: dict[str, Change] = {
    "as-generated": lambda repo: None,
    "ca-certificate-tracked": tracked(".chef/ca_certs/chef-east.pem", "a public certificate"),
    "berksfile-other-syntax": replace(
        "Berksfile", "cookbook 'example', path: 'cookbooks/example'",
        'cookbook("example", :path => "./cookbooks/example")  # path: \'elsewhere\''),
    "supermarket-cookbooks": append("Berksfile", "cookbook 'chef-client', '~> 13.0'\n"),
    "metadata-json-cookbook": lambda repo: (
        write("cookbooks/other/metadata.json", '{"name": "other"}')(repo),
        append("Berksfile", "cookbook 'other', path: 'cookbooks/other' # mine\n")(repo)),
    "not-a-cookbook": write("cookbooks/README.md", "no metadata, no cookbook"),
    "kit-folders": lambda repo: (write(".chef/syntax_check_cache/x", "")(repo),
                                 write(".chef/trusted_certs/x", "")(repo)),
    "server-in-comment": append("buildspec.yml", "# chef-east and chef-west, for example\n"),
    "server-as-part-of-token": append(
        "buildspec.yml", "      - echo chef-east.example.com chef-westward .chef-east\n"),
    "ignored-key-on-disk": write(".chef/chef-east/private.pem", "an ignored key"),
    "unicode-file-names": tracked("cookbooks/example/files/é t.txt", "text"),
    # Whether such a name is allowed is check-chef-server-config's to say.
    "unicode-server-name": write(".chef/sérveur x/config.yml", "server: x\n"),
    "dangling-symlinks": lambda repo: (symlink(".chef/ghost", "nowhere")(repo),
                                       symlink("cookbooks/ghost", "nowhere")(repo)),
    "empty-buildspec": write("buildspec.yml", b""),
    # What is wrong with a config.yml is check-chef-server-config's to say.
    "config-yaml-cannot-build": replace(".chef/chef-west/config.yml", '"us-west-2"', "2020-13-45"),
    "config-bool-maybe": replace(".chef/chef-west/config.yml", '"pivotal"', "!!bool maybe"),
    "template-stringlike-numeric-key": replace(
        "cloudformation/pipeline.yml", "StringLike:\n", "StringLike:\n                    5: x\n"),
    "template-lone-statement": lambda repo: (repo / "cloudformation/pipeline.yml").write_text(
        lone_statement((repo / "cloudformation/pipeline.yml").read_text("utf-8")), "utf-8"),
    # An encrypted item is JSON like any other (knife data bag create --secret-file writes it).
    "encrypted-data-bag-item": write("data_bags/secrets/db.json", (
        '{"id": "db", "password": {"encrypted_data": "aGk=", "iv": "aXY=", "version": 3, '
        '"cipher": "aes-256-gcm", "auth_tag": "dGFn"}}')),
    "chef-repo-readmes": lambda repo: [write(f"{folder}/README.md", "notes")(repo)
                                       for folder in ("roles", "environments", "data_bags")],
    "sync-setting": write(".chef/sync.yml",
                          "delete_extra:\n  roles: true\n  environments: false\n"),
}


@pytest.mark.parametrize("change", GOOD.values(), ids=GOOD.keys())
def test_good_repo(bake: Bake, monkeypatch: pytest.MonkeyPatch,
                   capsys: pytest.CaptureFixture[str], change: Change) -> None:
    repo = bake(init_git=True)
    change(repo)
    assert run(repo, monkeypatch, capsys) == (0, [])


BAD: dict[str, tuple[Change, list[str]]] = {
    "server-without-config": (write(".chef/orphan/private.pem", ""), [
        ".chef/orphan/config.yml: missing: add one to .chef/orphan/, or remove it"]),
    "symlink-to-a-directory-outside": (symlink(".chef/elsewhere", "/"), [
        f".chef/elsewhere: {SYMLINKED}"]),
    "symlink-to-a-server-inside": (symlink(".chef/chef-copy", "chef-east"), [
        f".chef/chef-copy: {SYMLINKED}"]),
    "symlinked-chef-dir": (lambda repo: (
        (repo / ".chef").rename(repo / "dot-chef"), symlink(".chef", "dot-chef")(repo)), [
        ".chef: is a symlink: the servers and knife.rb live in a real directory inside the "
        "repository"]),
    "symlinked-config": (symlink(".chef/chef-west/config.yml", "../chef-east/config.yml"), [
        ".chef/chef-west/config.yml: is a symlink: commit the file itself"]),
    "tracked-client-key": (tracked(".chef/chef-east/private.pem"), [
        ".chef/chef-east/private.pem: a key file is tracked by git: `git rm --cached "
        ".chef/chef-east/private.pem`, then replace the key: it stays readable in the history"]),
    "tracked-other-keys": (lambda repo: [tracked(path)(repo) for path in (
        "cookbooks/example/files/server.PEM", "deploy/cert.p12", "x.pfx",
        ".chef/encrypted_data_bag_secret")], [
        f"{path}: a key file is tracked by git" for path in (
            ".chef/encrypted_data_bag_secret",
            "cookbooks/example/files/server.PEM", "deploy/cert.p12", "x.pfx")]),
    "gitignore-emptied": (write(".gitignore", ""), [
        f".gitignore: does not ignore {probe}: add a line `{line}`" for probe, line in (
            (".chef/chef-east/private.pem", ".chef/*/private.pem"),
            (".chef/chef-west/private.pem", ".chef/*/private.pem"),
            ("client.pem", "*.pem"), ("x.p12", "*.p12"), ("x.pfx", "*.pfx"),
            ("encrypted_data_bag_secret", "encrypted_data_bag_secret"))]),
    "gitignore-like-chef-cli": (append(".gitignore", ".chef\n"), [
        f".gitignore:{{gitignore}}: '.chef' ignores {path}, which must be committed"
        for path in (KNIFE, ".chef/chef-east/config.yml", ".chef/chef-west/config.yml")]),
    "keys-ignored-only-locally": (lambda repo: (
        write(".gitignore", "")(repo), write(".git/info/exclude", "*\n")(repo)), [
        ".gitignore: does not ignore .chef/chef-east/private.pem",
        ".gitignore: does not ignore .chef/chef-west/private.pem",
        ".gitignore: does not ignore client.pem", ".gitignore: does not ignore x.p12",
        ".gitignore: does not ignore x.pfx",
        ".gitignore: does not ignore encrypted_data_bag_secret",
        ".git/info/exclude:1: '*' ignores .chef/knife.rb",
        ".git/info/exclude:1: '*' ignores .chef/chef-east/config.yml",
        ".git/info/exclude:1: '*' ignores .chef/chef-west/config.yml"]),
    "cookbook-not-in-berksfile": (write("cookbooks/new one/metadata.rb", "name 'new'\n"), [
        "cookbooks/new one/: a cookbook the Berksfile does not name, so no server gets it: add "
        "`cookbook 'new one', path: 'cookbooks/new one'`"]),
    "berksfile-path-missing": (append("Berksfile", 'cookbook "gone", path: "cookbooks/gone"\n'),
                               ["Berksfile:9: cookbook 'gone': no directory 'cookbooks/gone'"]),
    "berksfile-path-loops": (lambda repo: (
        symlink("cookbooks/loop", "loop")(repo),
        append("Berksfile", "cookbook 'loop', path: 'cookbooks/loop'\n")(repo)), [
        "Berksfile:9: cookbook 'loop': path 'cookbooks/loop' cannot be used: "]),
    "berksfile-path-nul": (append("Berksfile", "cookbook 'nul', path: 'cook\0books'\n"), [
        "Berksfile:9: cookbook 'nul': path 'cook\\x00books' cannot be used: embedded null byte"]),
    "berksfile-path-too-long": (append("Berksfile", f"cookbook 'long', path: '{'x' * 5000}'\n"), [
        f"Berksfile:9: cookbook 'long': path '{'x' * 79} cannot be used: File name too long"]),
    "berksfile-missing": (lambda repo: (repo / "Berksfile").unlink(), [
        "Berksfile: cannot read: No such file or directory: the pipeline uploads the cookbooks "
        "the Berksfile names"]),
    "berksfile-binary-100-MB": (lambda repo: os.truncate(repo / "Berksfile", 100 << 20),
                                ["Berksfile: is larger than 1024 KiB: that is no Berksfile: "
                                 "the pipeline uploads the cookbooks the Berksfile names"]),
    "knife-not-the-kits": (write(KNIFE, "chef_server_url 'https://chef.example.com'\n"), [
        ".chef/knife.rb: does not pick the server from the environment "
        "(ENV.fetch('CHEF_SERVER', ...)): restore the kit's knife.rb",
        ".chef/knife.rb: does not load the server's settings from .chef/<server>/config.yml: "
        "restore the kit's knife.rb"]),
    "knife-tls-off": (append(KNIFE, "ssl_verify_mode :verify_none # temporary\n"), [
        ".chef/knife.rb:{knife}: turns TLS verification off: use :verify_peer and put the server's "
        "CA certificate in .chef/ca_certs/"]),
    "knife-missing": (lambda repo: (repo / KNIFE).unlink(), [
        ".chef/knife.rb: cannot read: No such file or directory: restore the kit's knife.rb"]),
    "knife-binary": (lambda repo: (repo / KNIFE).write_bytes(b"\xff\xfe\x00 binary"), [
        ".chef/knife.rb: does not pick the server from the environment",
        ".chef/knife.rb: does not load the server's settings",
        *([".chef/knife.rb:1: "] if shutil.which("ruby") else [])]),
    "buildspec-names-servers": (write("buildspec.yml", (
        "version: 0.2\nphases:\n  build:\n    commands:\n"
        "      - aws s3 cp s3://keys/chef-east/private.pem .chef/chef-east/\n"
        "      - CHEF_SERVER=chef-west berks upload  # chef-east\n")), [
        "buildspec.yml:5:29: names server 'chef-east': derive the servers from .chef/*/config.yml "
        "instead",
        "buildspec.yml:5:57: names server 'chef-east': derive the servers from .chef/*/config.yml "
        "instead",
        "buildspec.yml:6:21: names server 'chef-west': derive the servers from .chef/*/config.yml "
        "instead"]),
    "binary-template": (write("cloudformation/pipeline.yml", b"\xff\x00"), [
        "cloudformation/pipeline.yml:1:1: is not UTF-8 text: cannot be compared with "
        "pipeline/chef_client.py"]),
    "template-policies-not-a-list": (replace(
        "cloudformation/pipeline.yml", "      Policies:\n        - PolicyName: RunChefClient",
        "      Policies: 5\n      Unused:\n        - PolicyName: RunChefClient"), [
        f".chef/{name}/config.yml: chef-client goes to nodes tagged 'chef-server', a key "
        "FunctionRole in cloudformation/pipeline.yml does not allow"
        for name in ("chef-east", "chef-west")]),
    "template-invalid-date": (replace(
        "cloudformation/pipeline.yml", 'AWSTemplateFormatVersion: "2010-09-09"',
        "AWSTemplateFormatVersion: 2010-13-09"), [
        "cloudformation/pipeline.yml:1:27: invalid YAML: '2010-13-09' is not a valid timestamp"]),
    "template-100-deep-list": (append(
        "cloudformation/pipeline.yml", "Deep: " + "[" * 100 + "]" * 100 + "\n"), [
        "cloudformation/pipeline.yml:{template}:70: invalid YAML: nested too deeply"]),
    "template-20000-deep-list": (append(
        "cloudformation/pipeline.yml", "Deep: " + "[" * 20000 + "]" * 20000 + "\n"), [
        "cloudformation/pipeline.yml:{template}:"]),
    "template-fifo": (fifo("cloudformation/pipeline.yml"), [
        "cloudformation/pipeline.yml: is not a regular file"]),
    "template-names-server": (write("cloudformation/extra.yaml", (
        "# chef-east\nchef-east: a key\nOutputs:\n  X:\n"
        "    Value: !Sub '${B}/chef-west/private.pem'\n  Y:\n    - [chef-west-1, chef-west]\n")), [
        "cloudformation/extra.yaml:5:23: names server 'chef-west'",
        "cloudformation/extra.yaml:7:21: names server 'chef-west'"]),
    # What roles/, environments/ and data_bags/ hold must be what the folder says (issue 15).
    "role-invalid-json": (write("roles/web.json", '{"name": "web",\n  "run_list": [,]}'), [
        "roles/web.json:2:16: invalid JSON: Expecting value"]),
    "role-named-otherwise": (write("roles/web.json", '{"name": "db"}'), [
        "roles/web.json: its 'name' is 'db', not 'web' as its file name says: make them the same"]),
    "environment-not-an-object": (write("environments/prod.json", "[]"), [
        "environments/prod.json:1:1: must be a JSON object, not list"]),
    "default-environment": (write("environments/_default.json", '{"name": "_default"}'), [
        "environments/_default.json: the _default environment cannot be changed on a Chef server"]),
    "data-bag-item-id-otherwise": (write("data_bags/users/alice.json", '{"id": "bob"}'), [
        "data_bags/users/alice.json: its 'id' is 'bob', not 'alice'"]),
    "role-run-list-of-wrong-type": (write("roles/web.json", '{"name": "web", "run_list": {}}'), [
        "roles/web.json: 'run_list' must be a list or a string, not dict"]),
    "item-nested-too-deeply": (write("data_bags/x/y.json", "[" * 100_000 + "]" * 100_000), [
        "data_bags/x/y.json: nested too deeply to be a Chef object"]),
    "stray-files": (lambda repo: (write("roles/web.yaml", "name: web")(repo),
                                  write("data_bags/item.json", '{"id": "item"}')(repo),
                                  write("data_bags/bad bag/x.json", '{"id": "x"}')(repo)), [
        "roles/web.yaml: not a .json or .rb file, so never uploaded",
        "data_bags/bad bag/: 'bad bag' is not a data bag name Chef allows",
        "data_bags/item.json: a data bag item belongs in a folder named for its bag: "
        "data_bags/BAG/item.json"]),
    "ruby-role": (write("roles/base.rb", "name 'base'\nrun_list 'recipe[example]'\n"), [
        "roles/base.rb: Ruby roles are not uploaded: convert it to JSON with Chef's own class, "
        "then delete the .rb file: ruby -rchef -e 'o = Chef::Role.new; o.name(\"base\"); "
        "o.from_file(\"roles/base.rb\"); puts Chef::JSONCompat.to_json_pretty(o)' > "
        "roles/base.json"]),
    "sync-setting-not-boolean": (write(".chef/sync.yml", "delete_extra:\n  roles: 'yes'\n"), [
        ".chef/sync.yml:2:10: delete_extra.roles: must be true or false, not a str ('yes')"]),
    "sync-setting-unknown-kind": (write(".chef/sync.yml", "delete_extra:\n  nodes: true\n"), [
        ".chef/sync.yml:2:3: unknown key 'nodes': did you mean 'roles'?"]),
}


@pytest.mark.parametrize(("change", "expected"), BAD.values(), ids=BAD.keys())
def test_bad_repo(bake: Bake, monkeypatch: pytest.MonkeyPatch,
                  capsys: pytest.CaptureFixture[str], change: Change, expected: list[str]) -> None:
    repo = bake(init_git=True)
    change(repo)
    last_lines = {name: last_line(repo / path) for name, path in (
        ("knife", KNIFE), ("gitignore", ".gitignore"), ("template", "cloudformation/pipeline.yml"))}
    code, out = run(repo, monkeypatch, capsys)
    assert code == 1
    assert len(out) == len(expected), out
    for line, start in zip(out, expected, strict=True):
        assert line.startswith(start.format(**last_lines)), out


def last_line(path: Path) -> int:
    """The number of a file's last line, where a test appends; 0 for a file that is no text."""
    try:
        return len(path.read_text("utf-8").splitlines()) if path.is_file() else 0
    except (OSError, UnicodeDecodeError):
        return 0


def lone_statement(template: str) -> str:
    """FunctionRole's statements cut to the one that allows tagged nodes, written as IAM also
    takes a single statement: a mapping, not a list of one."""
    lines = template.splitlines(keepends=True)
    start = lines.index("            Statement:\n", lines.index("  FunctionRole:\n"))
    end = next(index for index in range(start + 1, len(lines))
               if lines[index].strip() and len(lines[index]) - len(lines[index].lstrip()) < 14)
    lone = [
        "              Effect: Allow\n", "              Action: ssm:SendCommand\n",
        "              Resource: '*'\n", "              Condition:\n",
        "                StringLike:\n", '                  "ssm:resourceTag/chef-server": "*"\n',
    ]
    return "".join([*lines[:start + 1], *lone, *lines[end:]])


@pytest.mark.skipif(shutil.which("ruby") is None, reason="ruby -c needs Ruby")
def test_knife_syntax_error_without_quoting_it(
    bake: Bake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = bake(init_git=True)
    append(KNIFE, "secret = ('SECRET'\n")(repo)
    code, out = run(repo, monkeypatch, capsys)
    assert code == 1
    assert out[0].startswith(".chef/knife.rb:")
    assert "syntax error" in out[0]
    assert "SECRET" not in "\n".join(out)


def test_knife_symlink_to_a_key_outside(
    bake: Bake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = bake(init_git=True)
    key = repo.parent / "outside.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nSECRET\n")
    symlink(KNIFE, str(key))(repo)
    assert run(repo, monkeypatch, capsys) == (1, [
        ".chef/knife.rb: is a symlink: commit the file itself: restore the kit's knife.rb"])


def test_short_server_names_are_whole_tokens(
    bake: Bake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``east`` is in us-east-1 and ``build`` is a buildspec key: neither names a server."""
    repo = bake(init_git=True, servers={
        "east": {"server": "https://e.example.com/organizations/o", "region": "us-east-1"},
        "build": {"server": "https://b.example.com/organizations/o", "region": "us-east-1"},
    })
    append("buildspec.yml", "  post_build:\n    commands:\n      - echo us-east-1\n")(repo)
    assert run(repo, monkeypatch, capsys) == (0, [])


def test_many_servers_from_a_subdirectory(
    bake: Bake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = bake(init_git=True, servers=make_servers(12))
    assert run(repo, monkeypatch, capsys, cwd="cookbooks/example") == (0, [])


def test_not_a_git_repository(
    bake: Bake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = bake(init_git=False)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(repo.parent))
    assert run(repo, monkeypatch, capsys, cwd=".chef") == (1, [
        f"{repo}: not a git repository: cannot check which keys are tracked or ignored"])


def test_not_a_chef_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    git(tmp_path, "init", "--quiet")
    code, out = run(tmp_path, monkeypatch, capsys)
    assert code == 1
    assert ".chef/knife.rb: cannot read: No such file or directory: restore the kit's knife.rb" in (
        out)
