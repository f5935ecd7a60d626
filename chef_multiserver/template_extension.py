"""The cookiecutter template's Jinja extension (``_extensions`` in cookiecutter.json)."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment
from jinja2.ext import Extension

from chef_multiserver import __version__, servers
from chef_multiserver.generator import chosen_servers


class KitExtension(Extension):
    """Gives templates ``kit_version`` (the generated repo pins this kit's hooks to that release)
    and the filter ``node_tag_keys``."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["kit_version"] = __version__
        environment.filters["node_tag_keys"] = node_tag_keys


def node_tag_keys(answers: dict[str, Any]) -> list[str]:
    """The EC2 tag keys that mark the answered servers' nodes: the default and each node_tag.key."""
    keys = [servers.DEFAULT_TAG_KEY]
    for spec in chosen_servers(answers).values():
        key = spec.get("node_tag", {}).get("key", servers.DEFAULT_TAG_KEY)
        if key not in keys:
            keys.append(key)
    return keys
