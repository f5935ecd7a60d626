"""The cookiecutter template's Jinja extension (``_extensions`` in cookiecutter.json)."""

from jinja2 import Environment
from jinja2.ext import Extension

from pre_commit_hooks import __version__


class KitExtension(Extension):
    """Gives templates ``kit_version``: the generated repo pins this kit's hooks to that release."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["kit_version"] = __version__
