"""A changed cookbook must raise its metadata.rb version (chef_multiserver/cookbook_versions.py):
``check-chef-repo`` compares with the branch's upstream, else HEAD, or with ``--against``; the build
compares with the pipeline's last succeeded execution (chef_multiserver/deployed_revision.py).

Why it matters: a cookbook version on a Chef Infra Server is frozen once uploaded, and Berkshelf's
uploader skips a version the server already has (github.com/berkshelf/berkshelf
lib/berkshelf/uploader.rb: "Skipping ... (frozen)" unless --force), so the build succeeds and the
change never arrives. ListPipelineExecutions' reply is modelled on its API reference
(https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ListPipelineExecutions.html:
pipelineExecutionSummaries, newest first, each with status and sourceRevisions[].revisionId) with
botocore's Stubber: moto answers the call but always with empty sourceRevisions.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from chef_multiserver import cookbook_versions, deployed_revision
from pre_commit_hooks.check_chef_repo import main as check_chef_repo
from rehearsal.buildspec import git_commit
from tests.conftest import Bake

RECIPE = "cookbooks/example/recipes/default.rb"
METADATA = "cookbooks/example/metadata.rb"


def change_recipe(repo: Path, text: str = "log 'changed'\n") -> None:
    with (repo / RECIPE).open("a", encoding="utf-8") as recipe:
        recipe.write(text)


def set_version(repo: Path, version: str) -> None:
    metadata = repo / METADATA
    text = metadata.read_text("utf-8").replace("version '0.1.0'", f"version '{version}'")
    metadata.write_text(text, "utf-8")


def check(repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
          *argv: str) -> tuple[int, list[str]]:
    monkeypatch.chdir(repo)
    code = check_chef_repo(list(argv))
    return code, capsys.readouterr().out.splitlines()


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout.strip()


def test_a_changed_cookbook_with_the_same_version_is_refused_with_the_fix(
    bake: Bake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = bake(init_git=True)
    change_recipe(repo)
    code, out = check(repo, monkeypatch, capsys)
    assert code == 1
    assert len(out) == 1
    assert out[0].startswith(f"{METADATA}:6:1: cookbook 'example' changed since HEAD (")
    assert "version 0.1.0 is not above 0.1.0: raise it (version '0.1.1')" in out[0]


@pytest.mark.parametrize("version, refused", [("0.1.1", False), ("0.2", False), ("1.0.0", False),
                                              ("0.0.9", True), ("0.1", True)])
def test_only_a_higher_version_lets_the_change_through(
    bake: Bake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    version: str, refused: bool
) -> None:
    repo = bake(init_git=True)
    change_recipe(repo)
    set_version(repo, version)
    assert check(repo, monkeypatch, capsys)[0] == int(refused)


def test_new_and_unchanged_cookbooks_need_no_bump(
    bake: Bake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = bake(init_git=True)
    (repo / "cookbooks/other/recipes").mkdir(parents=True)
    (repo / "cookbooks/other/metadata.rb").write_text("name 'other'\nversion '1.0.0'\n", "utf-8")
    (repo / "cookbooks/other/recipes/default.rb").write_text("log 'x'\n", "utf-8")
    with (repo / "Berksfile").open("a", encoding="utf-8") as berksfile:
        berksfile.write("cookbook 'other', path: 'cookbooks/other'\n")
    git_commit(repo, "Add other", "cookbooks/other", "Berksfile")
    assert check(repo, monkeypatch, capsys, "--against", "HEAD~1") == (0, [])


def test_the_upstream_is_the_base_so_one_bump_covers_several_local_commits(
    bake: Bake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    repo = bake(init_git=True)
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "--quiet", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "--quiet", "-u", "origin", "HEAD")
    change_recipe(repo)
    set_version(repo, "0.1.1")
    git_commit(repo, "Change example, 0.1.1", RECIPE, METADATA)
    change_recipe(repo, "log 'again'\n")  # same unpushed version: still one release
    assert check(repo, monkeypatch, capsys) == (0, [])
    git(repo, "push", "--quiet")
    code, out = check(repo, monkeypatch, capsys)  # now 0.1.1 is upstream: raise again
    assert code == 1
    assert "changed since the branch's upstream (" in out[0]
    assert "version 0.1.1 is not above 0.1.1" in out[0]


def test_a_committed_change_is_refused_against_the_revision_given(
    bake: Bake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The build's case: the change is committed and compared with what was deployed."""
    repo = bake(init_git=True)
    deployed = git(repo, "rev-parse", "HEAD")
    change_recipe(repo)
    git_commit(repo, "Change example, forget the version", RECIPE)
    code, out = check(repo, monkeypatch, capsys, "--against", deployed)
    assert code == 1
    assert f"changed since {deployed} but its version 0.1.0 is not above 0.1.0" in out[0]
    code, out = check(repo, monkeypatch, capsys, "--against", "no-such-revision")
    assert (code, out) == (1, ["no-such-revision: names no commit of this repository: cannot "
                               "compare cookbook versions"])


def test_a_version_that_is_not_a_literal_is_reported(
    bake: Bake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = bake(init_git=True)
    change_recipe(repo)
    text = (repo / METADATA).read_text("utf-8").replace("version '0.1.0'", "version VERSION")
    (repo / METADATA).write_text(text, "utf-8")
    code, out = check(repo, monkeypatch, capsys)
    assert code == 1
    assert out[0].startswith(f"{METADATA}:6:1: cookbook 'example' changed but its version is not")


def executions(*summaries: tuple[str, str | None]) -> dict[str, object]:
    return {"pipelineExecutionSummaries": [
        {"pipelineExecutionId": f"id-{n}", "status": status, "sourceRevisions":
         [{"actionName": "Checkout", "revisionId": revision}] if revision else []}
        for n, (status, revision) in enumerate(summaries)]}


def stubbed(*responses: dict[str, object]) -> tuple[object, Stubber]:
    client = boto3.client("codepipeline", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    stubber = Stubber(client)
    for response in responses:
        stubber.add_response("list_pipeline_executions", response, {"pipelineName": "pipe"})
    stubber.activate()
    return client, stubber


def compared_with(repo: Path, client: object) -> str:
    """What the build compares with, started by the pipeline ``pipe``."""
    return deployed_revision.deployed_revision(repo, "codepipeline/pipe", lambda: client)


def test_the_build_compares_with_the_last_succeeded_execution(bake: Bake) -> None:
    repo = bake(init_git=True)
    deployed = git(repo, "rev-parse", "HEAD")
    change_recipe(repo)
    git_commit(repo, "One", RECIPE)
    change_recipe(repo)
    git_commit(repo, "Two", RECIPE)
    failed = git(repo, "rev-parse", "HEAD~1")
    client, stubber = stubbed(executions(("InProgress", git(repo, "rev-parse", "HEAD")),
                                         ("Failed", failed), ("Succeeded", deployed)))
    assert compared_with(repo, client) == deployed
    stubber.assert_no_pending_responses()


def test_the_build_falls_back_to_the_previous_commit(bake: Bake,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    repo = bake(init_git=True)
    assert (deployed_revision.deployed_revision(repo, "", lambda: None)
            == cookbook_versions.EMPTY_TREE)  # the first commit: every cookbook is new
    change_recipe(repo)
    git_commit(repo, "One", RECIPE)
    previous = git(repo, "rev-parse", "HEAD~1")
    client, _ = stubbed(executions(("Failed", previous)))
    assert compared_with(repo, client) == previous
    client, _ = stubbed(executions(("Succeeded", "f" * 40)))  # a rewritten branch
    assert compared_with(repo, client) == previous
    assert "which this clone does not have" in capsys.readouterr().err


def test_an_aws_error_fails_the_lookup(bake: Bake, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    repo = bake(init_git=True)
    client = boto3.client("codepipeline", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    stubber = Stubber(client)
    stubber.add_client_error("list_pipeline_executions", "AccessDeniedException", "not allowed")
    stubber.activate()
    monkeypatch.setattr(boto3, "client", lambda *args, **kwargs: client)
    monkeypatch.setenv("CODEBUILD_INITIATOR", "codepipeline/pipe")
    assert deployed_revision.main(["--repo", str(repo)]) == 1
    assert "cannot read the pipeline's executions" in capsys.readouterr().err
