"""The generator under hostile answers: each refused answer is one clear line and leaves the output
directory as it was (empty), through cookiecutter's API and its command line; accepted answers
render templates that cfn-lint accepts.

cookiecutter (github.com/cookiecutter/cookiecutter, cookiecutter/main.py and generate.py) renders
the answers, dumps the replay file, then creates the project directory, parents included, before
the pre-generation hook runs; the kit's Jinja extension refuses the answers while that directory's
name is rendered, so that nothing is created."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import cfnlint.api  # type: ignore[import-untyped]
import pytest
from cookiecutter.exceptions import FailedHookException

from tests.conftest import KIT_ROOT, Bake, bake_into, load_yaml, user_config

REFUSED: dict[str, tuple[dict[str, Any], str]] = {
    "repo_name with a slash": ({"repo_name": "a/b"}, "repo_name: 'a/b' is not allowed"),
    "repo_name absolute": ({"repo_name": "/tmp/x"}, "repo_name"),
    "repo_name parent": ({"repo_name": "../x"}, "repo_name"),
    "lone surrogate in description": ({"description": "x\ud800y"}, "description"),
    "lone low surrogate": ({"description": "x\udcff"}, "description"),
    "line separator": ({"description": "a\u2028b"}, "description"),
    "control character": ({"description": "a\x1bb"}, "description"),
    "5,000-deep servers JSON": (
        {"servers": "[" * 5000 + "]" * 5000},
        "servers: nested too deeply",
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_a_refused_answer_leaves_nothing_through_the_api(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], case: str
) -> None:
    answers, message = REFUSED[case]
    output_dir = tmp_path / "out"
    output_dir.mkdir()

    with pytest.raises(FailedHookException):
        bake_into(output_dir, **answers)

    err = capfd.readouterr().err
    assert "Traceback" not in err
    (line,) = err.splitlines()
    assert line.startswith("ERROR: ")
    assert message in line
    assert list(output_dir.iterdir()) == []


def cookiecutter_command(
    output_dir: Path, home: Path, *answers: str
) -> subprocess.CompletedProcess[bytes]:
    """cookiecutter's own command line, answers given as NAME=VALUE arguments."""
    return subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "--config-file",
         str(user_config(home)), "--output-dir", str(output_dir), str(KIT_ROOT), *answers],
        capture_output=True, check=False, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("repo_name=a/b", b"ERROR: repo_name: 'a/b' is not allowed"),
        ("servers=" + "[" * 5000 + "]" * 5000, b"ERROR: servers: nested too deeply"),
        ("description=a\x1bb", b"ERROR: description"),
    ],
)
def test_a_refused_answer_leaves_nothing_through_the_command_line(
    tmp_path: Path, answer: str, message: bytes
) -> None:
    output_dir = tmp_path / "out"
    output_dir.mkdir()

    completed = cookiecutter_command(output_dir, tmp_path / "home", answer)

    assert completed.returncode == 1
    assert b"Traceback" not in completed.stderr + completed.stdout
    assert completed.stderr.splitlines()[0].startswith(message)
    assert b"nothing was generated" in completed.stdout
    assert list(output_dir.iterdir()) == []


def test_jinja_in_an_answer_on_the_command_line_is_written_as_given(tmp_path: Path) -> None:
    completed = cookiecutter_command(tmp_path, tmp_path / "home", "description={{ 7*7 }} {%")

    assert completed.returncode == 0, completed.stderr
    readme = (tmp_path / "owca-multi-region-repo/README.md").read_text("utf-8")
    assert readme.splitlines()[2] == "{{ 7*7 }} {%"


@pytest.mark.parametrize(
    "description", ["cookbooks 🍪", "\U0001d520\U0001d525 \ufeff \ufffe \U0010fffd"]
)
def test_any_unicode_description_renders_a_template_cfn_lint_accepts(
    bake: Bake, description: str
) -> None:
    """cfn-lint (github.com/aws-cloudformation/cfn-lint) reads the template as AWS does; a
    surrogate pair written by Jinja's tojson made it fail to parse it (E0000)."""
    repo = bake(description=description)
    template = repo / "cloudformation/pipeline.yml"

    findings = [
        f"{match.rule.id} {match.message}"
        for match in cfnlint.api.lint_file(template)
        if match.rule.id[0] in "EW"
    ]

    assert findings == []
    resources = load_yaml(template.read_text("utf-8"))["Resources"]
    assert resources["Repo"]["Properties"]["RepositoryDescription"] == description


def test_jinja_typed_at_the_prompt_is_written_as_given(tmp_path: Path) -> None:
    """What is typed at a prompt cookiecutter does not render (prompt.read_user_variable); kept
    as a guard next to the no-input path, which it does render."""
    # repo_name, description, branch, chef_user, kit_repo_url, init_git (no), servers
    typed = "myrepo\n{{ 7*7 }} {% x\n\n\n\nn\n\n"
    completed = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--config-file", str(user_config(tmp_path / "home")),
         "--output-dir", str(tmp_path), str(KIT_ROOT)],
        input=typed.encode(), capture_output=True, check=False, timeout=120,
    )  # fmt: skip

    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "myrepo/README.md").read_text("utf-8").splitlines()[2] == "{{ 7*7 }} {% x"
