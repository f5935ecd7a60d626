"""The build's Ruby tools: Berkshelf and Chef pinned to exact versions in the generated Gemfile,
installed by Bundler into a directory that CodeBuild caches between builds.

RubyGems is not reachable from the tests, so what they check offline is what can be: the Gemfile
read by Debian's Bundler (its own DSL, ``Bundler::Dsl.evaluate``), where that Bundler would install
with the buildspec's settings, and that CodeBuild caches that directory (buildspec ``cache: paths``,
https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html; the project's S3 cache,
https://docs.aws.amazon.com/codebuild/latest/userguide/build-caching.html). The versions were
checked on RubyGems' pages (berkshelf 8.0.22 needs chef >= 18.0.0; chef 18.4.12 is Apache-2.0 and
needs Ruby >= 3.1) and in Chef's source (chef 19's gemspec adds chef-licensing).
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import Bake, load_yaml

RUBY = shutil.which("ruby")  # Debian's ruby and ruby-bundler: .ci/install-test-deps installs both
PINS = {"berkshelf": "= 8.0.22", "chef": "= 18.4.12"}


def ruby(repo: Path, script: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([RUBY or "ruby", "-rbundler", "-rjson", "-e", script], cwd=repo,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          check=True, timeout=60)
    return done.stdout


def test_the_gemfile_pins_berkshelf_and_chef_exactly_as_bundler_reads_it(bake: Bake) -> None:
    repo = bake()
    pins = json.loads(ruby(repo, 'puts JSON.generate(Bundler::Dsl.evaluate("Gemfile", nil, {})'
                                 '.dependencies.to_h { |d| [d.name, d.requirement.to_s] })'))
    assert pins == PINS


def test_the_build_installs_into_the_directory_codebuild_caches(bake: Bake) -> None:
    repo = bake()
    buildspec = load_yaml((repo / "buildspec.yml").read_text("utf-8"))
    install = buildspec["phases"]["install"]
    variables = buildspec["env"]["variables"]
    bundle_path = variables["BUNDLE_PATH"]
    installed = ruby(repo, "puts Bundler.bundle_path", {
        "BUNDLE_PATH": bundle_path, "BUNDLE_GEMFILE": str(repo / "Gemfile")}).strip()
    gem = f"{installed}/gems/chef-18.4.12/lib/chef.rb"
    assert any(fnmatch.fnmatch(gem, pattern) for pattern in buildspec["cache"]["paths"])
    commands = install["commands"]
    assert any(command.startswith("bundle install") for command in commands)
    assert not any("gem install" in command for command in commands)
    # pipeline/berks_fleet.rb requires Berkshelf through Bundler, from what this phase installed
    assert 'export BUNDLE_GEMFILE="$PWD/Gemfile"' in commands
    fleet = (repo / "pipeline/berks_fleet.rb").read_text("utf-8")
    assert fleet.index('require "bundler/setup"') < fleet.index('require "berkshelf/cli"')
    assert str(install["runtime-versions"]["ruby"]) == "3.1"  # what Chef 18 is built with
    template = load_yaml((repo / "cloudformation/pipeline.yml").read_text("utf-8"))
    cache = template["Resources"]["BuildProject"]["Properties"]["Cache"]
    assert cache == {"Type": "S3", "Location": {"Fn::Sub": "${ArtifactBucket}/build-cache"}}


def test_a_committed_lockfile_is_installed_exactly(bake: Bake, tmp_path: Path) -> None:
    """With Gemfile.lock the install phase sets BUNDLE_FROZEN, so Bundler refuses to resolve
    anew; without it, Bundler resolves (and the README says to commit a lock)."""
    repo = bake()
    buildspec = load_yaml((repo / "buildspec.yml").read_text("utf-8"))
    frozen_line = next(command for command in buildspec["phases"]["install"]["commands"]
                       if "BUNDLE_FROZEN" in command)
    script = f"{frozen_line}\necho \"frozen=${{BUNDLE_FROZEN:-}}\"\n"
    without = subprocess.run(["bash", "-c", script], cwd=repo, capture_output=True, text=True)
    (repo / "Gemfile.lock").write_text("GEM\n", "utf-8")
    with_lock = subprocess.run(["bash", "-c", script], cwd=repo, capture_output=True, text=True)
    assert without.stdout == "frozen=\n"
    assert with_lock.stdout == "frozen=true\n"
    assert "Gemfile.lock" in (repo / "README.md").read_text("utf-8")
    assert "bundle lock" in (repo / "README.md").read_text("utf-8")
