"""The cookiecutter template's Jinja extension (``_extensions`` in cookiecutter.json).

It is the only kit code that runs before cookiecutter creates anything (cookiecutter/main.py:
prompt_for_config, the replay dump, then generate_files; the hooks run after the project directory
exists), and it sees every string cookiecutter renders. It does three things with that:

- Answers reach the files as written. cookiecutter renders each answer as a Jinja template
  (prompt.py, render_variable: ``env.from_string(raw).render(...)``), so ``{{ 7*7 }}`` became 49
  and ``{{`` a syntax error. ``preprocess`` turns a string rendered there into a template whose
  output is that string. The defaults of cookiecutter.json go the same way: a value the template
  computes comes from this extension (as ``kit_version`` does), not from Jinja in a default.
- Answers are checked before the project directory is made. generate.py renders the template
  directory's name (``render_and_create_dir``) and creates it, parents included, before the
  pre-generation hook could refuse (``repo_name`` ``a/b`` left ``a`` behind). ``preprocess``
  makes that name go through ``checked_answers``, which refuses the answers there: nothing is
  created.
- ``kit_pin`` names the kit the generated repository installs (chef_multiserver/kit_source.py).
- ``yaml_string`` writes an answer as a YAML double-quoted scalar that every YAML parser reads
  back as the same text (Jinja's ``tojson`` writes a character outside the BMP as a UTF-16
  surrogate pair, which YAML reads as two lone surrogates: cfn-lint refused the template).
"""

from __future__ import annotations

import functools
import shlex
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from cookiecutter.exceptions import FailedHookException
from jinja2 import Environment
from jinja2.ext import Extension

from chef_multiserver import __version__, servers
from chef_multiserver.generator import answer_problems, chosen_servers
from chef_multiserver.kit_source import KitPin, kit_pin

# The cfn-lint the generated .pre-commit-config.yaml installs: the one the kit's tests run
# (requirements/test.lock; tests/test_generate.py keeps them equal).
CFN_LINT_VERSION = "1.58.0"

# The template directory's name, which generate.py renders into the project directory's name.
PROJECT_DIR = "{{cookiecutter.repo_name}}"
# How far from ``preprocess`` cookiecutter's render_variable is: Environment.from_string,
# compile, _parse, Parser, _tokenize, preprocess; with room for other Jinja versions.
_FRAMES_TO_SEARCH = 12


class KitExtension(Extension):
    """Gives templates ``kit_version``, ``cfn_lint_version`` and the filters ``node_tag_keys``,
    ``node_tags``, ``shell_quote``, ``yaml_string`` and ``kit_pin``; keeps answers literal and
    checks them before anything is generated."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["kit_version"] = __version__
        environment.globals["cfn_lint_version"] = CFN_LINT_VERSION
        environment.filters["node_tag_keys"] = node_tag_keys
        environment.filters["node_tags"] = node_tags
        environment.filters["shell_quote"] = shell_quote
        environment.filters["kit_pin"] = pin_of
        environment.filters["yaml_string"] = yaml_string
        environment.filters["checked_answers"] = checked_answers

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        if name is not None:  # a file of the template, loaded by name
            return source
        if source == PROJECT_DIR:
            return "{{ (cookiecutter | checked_answers).repo_name }}"
        if _rendering_an_answer():
            return "{{ " + _jinja_string(source) + " }}"
        return source


def _rendering_an_answer() -> bool:
    """Whether cookiecutter's prompt.render_variable is rendering the string (an answer, or a
    default of cookiecutter.json, none of which holds Jinja)."""
    frame: FrameType | None = sys._getframe(2)
    for _ in range(_FRAMES_TO_SEARCH):
        if frame is None:
            return False
        if (
            frame.f_code.co_name == "render_variable"
            and frame.f_globals.get("__name__") == "cookiecutter.prompt"
        ):
            return True
        frame = frame.f_back
    return False


def _jinja_string(text: str) -> str:
    """A Jinja string literal of ``text``: Jinja decodes its escapes with Python's
    unicode-escape (jinja2/lexer.py), so every character but printable ASCII is written \\U."""
    return '"' + "".join(
        char if " " <= char <= "~" and char not in '"\\' else f"\\U{ord(char):08x}" for char in text
    ) + '"'


def checked_answers(answers: dict[str, Any]) -> dict[str, Any]:
    """``answers``, once every one is allowed; else each problem on stderr and nothing made."""
    found = answer_problems(answers)
    if found:
        for problem in found:
            print(f"ERROR: {problem}", file=sys.stderr)
        raise FailedHookException(
            "chef-multiserver-kit refused the answers above: nothing was generated"
        )
    return answers


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


# YAML 1.1 and 1.2 printable characters (c-printable), which a double-quoted scalar may hold as
# they are; everything else is written as an escape. '"' and '\\' are always escaped.
def _yaml_printable(char: str) -> bool:
    code = ord(char)
    return (
        0x20 <= code <= 0x7E
        or code == 0x85
        or 0xA0 <= code <= 0xD7FF
        or (0xE000 <= code <= 0xFFFD and code != 0xFEFF)
        or 0x10000 <= code <= 0x10FFFF
    ) and char not in '"\\'


def yaml_string(text: str) -> str:
    """``text`` as a YAML double-quoted scalar, read back as ``text`` by any YAML parser."""
    if any(0xD800 <= ord(char) <= 0xDFFF for char in text):
        raise ValueError("a lone surrogate cannot be written as YAML")
    return '"' + "".join(
        char if _yaml_printable(char) else _yaml_escape(char) for char in text
    ) + '"'


def _yaml_escape(char: str) -> str:
    code = ord(char)
    if char in '"\\':
        return "\\" + char
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
