"""Each hook's ``files`` regex picks exactly the paths it is meant for (check-jsonschema's test)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.conftest import KIT_ROOT

HOOKS: dict[str, dict[str, Any]] = {
    hook["id"]: hook
    for hook in yaml.safe_load((KIT_ROOT / ".pre-commit-hooks.yaml").read_text("utf-8"))
}
CASES = {
    "check-chef-server-config": {
        "good": [".chef/chef-east/config.yml", ".chef/Chef_West-2/config.yml",
                 ".chef/chef east/config.yml", ".chef/sérveur/config.yml"],
        "bad": [".chef/config.yml", ".chef/knife.rb", ".chef/a/b/config.yml", "config.yml",
                ".chef/a/config.yaml", ".chef/a/config.yml.bak", ".chef/a/private.pem",
                "cookbooks/x/.chef/a/config.yml", "x.chef/a/config.yml", ".chef//config.yml",
                ".chef/a/config.ymlx", ".chef/a/myconfig.yml"],
    },
}


@pytest.mark.parametrize("hook_id", CASES)
def test_files_regex(hook_id: str) -> None:
    files = re.compile(HOOKS[hook_id]["files"])
    for path in CASES[hook_id]["good"]:
        assert files.fullmatch(path), path
        # pre-commit applies ``files`` with re.search: an unanchored match would count too.
        assert files.search(path), path
    for path in CASES[hook_id]["bad"]:
        assert not files.search(path), path


def test_check_chef_repo_runs_once_on_every_commit() -> None:
    hook = HOOKS["check-chef-repo"]
    assert hook["pass_filenames"] is False
    assert hook["always_run"] is True
    assert "files" not in hook
