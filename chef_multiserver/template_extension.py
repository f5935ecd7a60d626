"""The cookiecutter template's Jinja extension (``_extensions`` in cookiecutter.json)."""

from __future__ import annotations

import functools
import logging
import shlex
from pathlib import Path
from typing import Any

from jinja2 import Environment
from jinja2.ext import Extension

from chef_multiserver import __version__, servers
from chef_multiserver.generator import REFUSED, chosen_servers
from chef_multiserver.kit_source import KitPin, kit_pin

# The cfn-lint the generated .pre-commit-config.yaml installs: the one the kit's tests run
# (requirements/test.lock; tests/test_generate.py keeps them equal).
CFN_LINT_VERSION = "1.58.0"


class KitExtension(Extension):
    """Gives templates ``kit_version``, ``cfn_lint_version`` and the filters ``node_tag_keys``,
    ``node_tags``, ``shell_quote`` and ``kit_pin`` (the git URL and revision the generated
    repository installs the kit from)."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["kit_version"] = __version__
        environment.globals["cfn_lint_version"] = CFN_LINT_VERSION
        environment.filters["node_tag_keys"] = node_tag_keys
        environment.filters["kit_pin"] = pin_of
        environment.filters["node_tags"] = node_tags
        environment.filters["shell_quote"] = shell_quote
        hooks_log = logging.getLogger("cookiecutter.hooks")
        if REFUSAL_WITHOUT_TRACEBACK not in hooks_log.filters:
            hooks_log.addFilter(REFUSAL_WITHOUT_TRACEBACK)


class RefusalWithoutTraceback(logging.Filter):
    """Logs the pre-generation hook's refusal of the answers without a traceback.

    cookiecutter logs every failed hook with ``logger.exception`` (cookiecutter/hooks.py,
    run_hook_from_repo_dir), which its command line prints to stdout with the traceback of its own
    FailedHookException; it has no option to leave that out. Below the hook's ``ERROR:`` lines,
    those twelve lines would be what a user reads. This extension is the kit's only code inside
    cookiecutter's process, so it drops the traceback of a refusal (exit status REFUSED) only: a
    hook that crashes is still logged in full."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and f"(exit status: {REFUSED})" in str(error):
            record.exc_info = None
            record.exc_text = None
        return True


REFUSAL_WITHOUT_TRACEBACK = RefusalWithoutTraceback()


def node_tag_keys(answers: dict[str, Any]) -> list[str]:
    """The EC2 tag keys that mark the answered servers' nodes: the default and each node_tag.key."""
    keys = [servers.DEFAULT_TAG_KEY]
    for spec in chosen_servers(answers).values():
        key = spec.get("node_tag", {}).get("key", servers.DEFAULT_TAG_KEY)
        if key not in keys:
            keys.append(key)
    return keys


def node_tags(answers: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Each answered server: its name, region, and the EC2 tag (key, value) of its nodes, as
    chef-pipeline-targets reads them from its config.yml."""
    return [
        (name, spec["region"], tag.get("key", servers.DEFAULT_TAG_KEY), tag.get("value", name))
        for name, spec in chosen_servers(answers).items()
        for tag in [spec.get("node_tag", {})]
    ]


def shell_quote(text: object) -> str:
    """``text`` as one shell word (a plain str: quoting Jinja's Markup would escape it as HTML)."""
    return shlex.quote(str(text))


def pin_of(answers: dict[str, Any]) -> KitPin:
    return _cached_pin(
        template_dir(answers["_repo_dir"]),
        answers["_repo_dir"],
        answers["_template"],
        str(answers.get("kit_repo_url", "")),
        # one generation: the files and the hook that name the pin ask git once
        f"{answers.get('_output_dir')}/{answers.get('repo_name')}",
    )


@functools.lru_cache(maxsize=8)
def _cached_pin(
    source: Path, repo_dir: str, template: str, kit_repo_url: str, _generated: str
) -> KitPin:
    answers = {"_repo_dir": repo_dir, "_template": template, "kit_repo_url": kit_repo_url}
    return kit_pin(answers, source, __version__)


def template_dir(repo_dir: str) -> Path:
    """The template checkout as an absolute path. A relative ``_repo_dir`` is relative to where
    cookiecutter started, but cookiecutter renders the hooks from inside the checkout and the files
    from inside its ``{{cookiecutter.repo_name}}`` (cookiecutter/hooks.py run_hook_from_repo_dir,
    cookiecutter/generate.py generate_files): the nearest directory with a cookiecutter.json."""
    if Path(repo_dir).is_absolute():
        return Path(repo_dir).resolve()
    here = Path.cwd()
    return next(
        (folder for folder in (here, *here.parents) if (folder / "cookiecutter.json").is_file()),
        here,
    )
