"""Generate a repository from this checkout's template through cookiecutter's API, as the tests and
the benchmarks do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from cookiecutter.main import cookiecutter

from chef_multiserver import repo_files

KIT_ROOT = Path(__file__).resolve().parent.parent

def bake_into(output_dir: Path, template: str | Path = KIT_ROOT, **extra_context: Any) -> Path:
    """Generate a repository into ``output_dir`` with cookiecutter's API from ``template`` (this
    checkout unless told) and return its path.

    A user config of its own keeps the developer's ~/.cookiecutterrc and replay files out of the
    tests; no git commit is made unless a test asks for one (``init_git=True``)."""
    extra_context.setdefault("init_git", False)
    return Path(
        cookiecutter(
            str(template),
            no_input=True,
            extra_context=extra_context,
            output_dir=str(output_dir),
            config_file=str(user_config(output_dir.with_name(output_dir.name + ".cookiecutter"))),
        )
    )


def user_config(home: Path, default_context: dict[str, Any] | None = None) -> Path:
    """A cookiecutter user config whose replay and template caches live under ``home``."""
    home.mkdir(parents=True, exist_ok=True)
    config = {
        "replay_dir": str(home / "replay"),
        "cookiecutters_dir": str(home / "cookiecutters"),
        "default_context": default_context or {},
    }
    path = home / "config.yml"
    path.write_text(yaml.safe_dump(config), "utf-8")
    return path


def make_servers(count: int, region: str = "us-east-1") -> dict[str, dict[str, str]]:
    """``count`` valid servers named chef-00, chef-01, ..."""
    return {
        f"chef-{index:02d}": {
            "server": f"https://chef-{index:02d}.example.com/organizations/org{index}",
            "region": region,
        }
        for index in range(count)
    }


def load_yaml(text: str) -> Any:
    """Any YAML file of a generated repository, CloudFormation templates included."""
    return repo_files.load_cloudformation(text)
