"""A bounded fuzz of the generator's answers through cookiecutter's API: every answer set either
generates a repository whose servers are the ones answered, or is refused with ERROR lines and no
traceback, leaving the output directory empty.

Answers are drawn from values that mean something to the template (good and bad names, URLs,
regions, Jinja, JSON text, nesting) and arbitrary text; mappings given as ``servers`` stay shallow,
because cookiecutter's own merging of a deep mapping fails before any kit code runs (README)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.exceptions import FailedHookException
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import bake_into

GOOD_SERVER = {"server": "https://chef.example.com/organizations/o", "region": "us-east-1"}
TEXT = st.text(max_size=20)
MEANINGFUL = st.sampled_from(
    [
        "", "chef", "a/b", "..", "x.git", "{{ 7*7 }}", "{{", "{%", "{#", "{% endraw %}", "🍪",
        "x\ud800", "a\nb", "main", "release/chef", "-x", "pivotal", "Admin User", "us-east-1",
        "https://chef.example.com/organizations/o", "[" * 3000, "null", "{}", "[]",
    ]
)  # fmt: skip
ANSWER = st.one_of(MEANINGFUL, TEXT)
SERVER_SPEC = st.one_of(
    st.just(GOOD_SERVER),
    st.fixed_dictionaries({"server": ANSWER, "region": ANSWER}),
    st.dictionaries(st.sampled_from(["server", "region", "node_name", "node_tag", "x"]), ANSWER),
    ANSWER,
)
SERVERS = st.one_of(
    st.dictionaries(st.one_of(st.sampled_from(["chef-a", "chef-b", "ca_certs"]), TEXT),
                    SERVER_SPEC, max_size=3),
    st.dictionaries(TEXT, SERVER_SPEC, max_size=2).map(json.dumps),
    ANSWER,
)  # fmt: skip
ANSWERS = st.fixed_dictionaries(
    {},
    optional={
        "repo_name": ANSWER,
        "description": ANSWER,
        "branch": ANSWER,
        "chef_user": ANSWER,
        "servers": SERVERS,
    },
)


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(answers=ANSWERS)
def test_any_answers_generate_or_are_refused_leaving_nothing(
    answers: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        output_dir = Path(scratch, "out")
        output_dir.mkdir()
        try:
            repo = bake_into(output_dir, **answers)
        except FailedHookException:
            err = capfd.readouterr().err
            assert "Traceback" not in err, answers
            assert err.startswith("ERROR: "), (answers, err)
            assert list(output_dir.iterdir()) == [], answers
        else:
            err = capfd.readouterr().err
            assert "Traceback" not in err, answers
            assert (repo / "cloudformation/pipeline.yml").is_file()
            assert repo.parent == output_dir
