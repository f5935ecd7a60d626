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
- ``yaml_string`` writes an answer as a YAML double-quoted scalar that every YAML parser reads
  back as the same text (Jinja's ``tojson`` writes a character outside the BMP as a UTF-16
  surrogate pair, which YAML reads as two lone surrogates: cfn-lint refused the template).
"""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

from cookiecutter.exceptions import FailedHookException
from jinja2 import Environment
from jinja2.ext import Extension

from chef_multiserver import __version__, servers
from chef_multiserver.generator import answer_problems, chosen_servers

# The template directory's name, which generate.py renders into the project directory's name.
PROJECT_DIR = "{{cookiecutter.repo_name}}"
# How far from ``preprocess`` cookiecutter's render_variable is: Environment.from_string,
# compile, _parse, Parser, _tokenize, preprocess; with room for other Jinja versions.
_FRAMES_TO_SEARCH = 12


class KitExtension(Extension):
    """Gives templates ``kit_version`` (the generated repo pins this kit's hooks to that release)
    and the filters ``node_tag_keys`` and ``yaml_string``; keeps answers literal and checks them
    before anything is generated."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["kit_version"] = __version__
        environment.filters["node_tag_keys"] = node_tag_keys
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
