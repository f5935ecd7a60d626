"""Check that a chef-multiserver-kit repository agrees with itself: every server directory has a
config.yml, no key is tracked and .gitignore still ignores keys, the Berksfile names every cookbook
of cookbooks/ by path, .chef/knife.rb is the kit's, the pipeline names no server of its own, every
file of roles/, environments/ and data_bags/ is what its folder says (JSON, named as its file),
and .chef/sync.yml, if any, is valid.

The Berksfile is read line by line, not run: a line ``cookbook 'NAME', path: 'DIR'`` (or
``:path => "DIR"``; either quote; optional parentheses) names a local cookbook; any other line is
left alone. ``DIR`` is taken literally, relative to the repository.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

from chef_multiserver import chef_state, pipeline_targets, repo_files, servers, sync_settings

KNIFE_RB = servers.KNIFE_RB
TEXT_MAX_BYTES = 1024 * 1024
# What makes a knife.rb the kit's: a server picked by CHEF_SERVER and read from its config.yml.
KNIFE_MARKERS = {
    "does not pick the server from the environment (ENV.fetch('CHEF_SERVER', ...))":
        re.compile(r"""ENV(?:\.fetch\(\s*|\[\s*)['"]CHEF_SERVER['"]"""),
    "does not load the server's settings from .chef/<server>/config.yml":
        re.compile(r"config\.yml"),
}
TLS_OFF = re.compile(r":verify_none\b")
BERKS_COOKBOOK = re.compile(r"""^\s*cookbook\s*\(?\s*(['"])([^'"]+)\1(.*)$""")
BERKS_PATH = re.compile(r"""(?:\bpath:|:path\s*=>)\s*(['"])([^'"]*)\1""")
# A YAML mapping key is the file format's vocabulary (phases: build:), not a server reference.
YAML_KEY = re.compile(r"^\s*(?:-\s+)?[\"']?[\w-]+[\"']?\s*:(?:\s|$)")
PIPELINE_FILES = ("buildspec.yml", "cloudformation/*.yml", "cloudformation/*.yaml")
SYMLINKED_DIR = ("is a symlink: a server is a real directory inside the repository: replace the "
                 "link with the directory itself")


def find_repo(cwd: Path) -> tuple[Path, bool]:
    """The repository root and whether git knows it: git's top level, else the nearest directory
    above ``cwd`` with a .chef/knife.rb, else ``cwd``."""
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=cwd, capture_output=True,
                             text=True, check=True, timeout=30).stdout.rstrip("\n")
        return Path(top), True
    except (OSError, subprocess.SubprocessError):
        return servers.enclosing_repo(cwd) or cwd, False


def git_fields(repo: Path, *args: str, paths: Sequence[str] = ()) -> list[str]:
    """The NUL-separated fields that ``git ARGS -z`` prints in ``repo``, given ``paths`` on stdin.
    Exit status 1 is an answer (check-ignore: nothing ignored), not a failure."""
    stdin = "".join(f"{path}\0" for path in paths).encode("utf-8", "surrogateescape")
    result = subprocess.run(["git", *args, "-z"], cwd=repo, input=stdin, capture_output=True,
                            timeout=60)
    if result.returncode > 1:
        raise subprocess.CalledProcessError(result.returncode, result.args, stderr=result.stderr)
    return result.stdout.decode("utf-8", "surrogateescape").split("\0")[:-1]


def read_text(path: Path) -> str:
    """A text file of the repository; bytes that are not UTF-8 are replaced, not fatal."""
    return repo_files.read_regular_file(path, TEXT_MAX_BYTES).decode("utf-8", "replace")


def server_dir_findings(repo: Path) -> Iterator[str]:
    """Every .chef/<server>/ is a real directory with a config.yml of its own. pre-commit passes
    no symlink to check-chef-server-config, so a symlinked config.yml is refused here; a symlinked
    directory hides its files from git (see repo_files.read_config)."""
    chef_dir = repo / servers.CHEF_DIR
    if chef_dir.is_symlink():
        yield (f"{servers.CHEF_DIR}: is a symlink: the servers and knife.rb live in a real "
               "directory inside the repository: replace the link with the directory itself")
        return
    children = sorted(chef_dir.iterdir()) if chef_dir.is_dir() else []
    for child in children:
        if not child.is_dir() or child.name in servers.KIT_DIRS:
            continue
        config = child / servers.CONFIG_FILE
        where = f"{servers.CHEF_DIR}/{child.name}/{servers.CONFIG_FILE}"
        if child.is_symlink():
            yield f"{servers.CHEF_DIR}/{child.name}: {SYMLINKED_DIR}"
        elif config.is_symlink():
            yield f"{where}: is a symlink: commit the file itself"
        elif not config.is_file():
            yield f"{where}: missing: add one to {servers.CHEF_DIR}/{child.name}/, or remove it"


def tracked_key_findings(repo: Path) -> Iterator[str]:
    for path in git_fields(repo, "ls-files"):
        if repo_files.is_key_file(path):
            yield (f"{path}: a key file is tracked by git: `git rm --cached {path}`, then replace "
                   "the key: it stays readable in the history")


def gitignore_findings(repo: Path, names: Sequence[str]) -> Iterator[str]:
    """Ask git which probe paths .gitignore ignores. A rule of the user's own global excludes file
    or .git/info/exclude does not count: it protects no other clone."""
    # One probe for each kind of key file (repo_files.is_key_file), with the line that ignores it.
    must_ignore = {f"{servers.CHEF_DIR}/{name}/{servers.KEY_FILE}":
                   f"{servers.CHEF_DIR}/*/{servers.KEY_FILE}" for name in names}
    must_ignore |= {"client.pem": "*.pem", "x.p12": "*.p12", "x.pfx": "*.pfx",
                    "encrypted_data_bag_secret": "encrypted_data_bag_secret"}
    must_track = [KNIFE_RB, *(f"{servers.CHEF_DIR}/{n}/{servers.CONFIG_FILE}" for n in names)]
    if (repo / servers.CHEF_DIR).is_symlink():  # git answers nothing beyond a symlink
        must_track = []
    fields = git_fields(repo, "check-ignore", "--no-index", "--verbose", "--non-matching",
                        "--stdin", paths=[*must_ignore, *must_track])
    for source, line, pattern, path in zip(*[iter(fields)] * 4, strict=True):
        ignored = bool(pattern) and not pattern.startswith("!")
        in_repo = Path(source).name == ".gitignore" and not Path(source).is_absolute()
        if path in must_ignore and not (ignored and in_repo):
            yield (f".gitignore: does not ignore {path}: add a line `{must_ignore[path]}` "
                   "so that no key can be committed by accident")
        elif path in must_track and ignored:
            yield (f"{source}:{line}: {pattern!r} ignores {path}, which must be committed: "
                   "narrow that pattern")


def knife_findings(repo: Path) -> Iterator[str]:
    try:
        text = read_text(repo / KNIFE_RB)
    except repo_files.ConfigError as error:
        yield f"{KNIFE_RB}: {error.message}: restore the kit's knife.rb"
        return
    for problem, marker in KNIFE_MARKERS.items():
        if not marker.search(text):
            yield f"{KNIFE_RB}: {problem}: restore the kit's knife.rb"
    for number, line in enumerate(text.splitlines(), 1):
        if TLS_OFF.search(line.split("#", 1)[0]):
            yield (f"{KNIFE_RB}:{number}: turns TLS verification off: use :verify_peer and put "
                   "the server's CA certificate in .chef/ca_certs/")
    yield from ruby_syntax_findings(repo)


def ruby_syntax_findings(repo: Path) -> Iterator[str]:
    """``ruby -c`` when Ruby is installed: a syntax check only, nothing of knife.rb is run. Only
    Ruby's first line is kept; the lines after it quote the source."""
    ruby = shutil.which("ruby")
    if ruby is None:
        return
    try:
        result = subprocess.run([ruby, "-c", KNIFE_RB], cwd=repo, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as error:
        yield f"{KNIFE_RB}: ruby -c could not run: {error}"
        return
    if result.returncode != 0:
        first = (result.stderr.decode("utf-8", "replace").splitlines() or ["syntax error"])[0]
        where = re.match(rf"{re.escape(KNIFE_RB)}:(\d+): ?(.*)", first)
        yield f"{KNIFE_RB}:{where[1]}: {where[2]}" if where else f"{KNIFE_RB}: {first}"


def berksfile_findings(repo: Path) -> Iterator[str]:
    try:
        text = read_text(repo / "Berksfile")
    except repo_files.ConfigError as error:
        yield f"Berksfile: {error.message}: the pipeline uploads the cookbooks the Berksfile names"
        return
    listed: set[Path] = set()
    for number, line in enumerate(text.splitlines(), 1):
        cookbook = BERKS_COOKBOOK.match(line)
        option = BERKS_PATH.search(cookbook[3]) if cookbook else None
        if not (cookbook and option):
            continue
        where = f"Berksfile:{number}: cookbook {cookbook[2]!r}"
        try:
            listed.add((repo / option[2]).resolve())
            if not (repo / option[2]).is_dir():
                yield f"{where}: no directory {option[2]!r}"
        # A path no file system can open: a symlink loop (RuntimeError before Python 3.13, then
        # OSError), a NUL byte (ValueError), a name too long (OSError).
        except (OSError, RuntimeError, ValueError) as error:
            reason = (error.strerror if isinstance(error, OSError) else
                      "it loops through symlinks" if isinstance(error, RuntimeError) else error)
            yield f"{where}: path {option[2]!r:.80} cannot be used: {reason}"
    metadata = [*repo.glob("cookbooks/*/metadata.rb"), *repo.glob("cookbooks/*/metadata.json")]
    for cookbook_dir in sorted({path.parent for path in metadata}):
        if cookbook_dir.resolve() not in listed:
            where = cookbook_dir.relative_to(repo).as_posix()
            yield (f"{where}/: a cookbook the Berksfile does not name, so no server gets it: add "
                   f"`cookbook '{cookbook_dir.name}', path: '{where}'`")


def pipeline_findings(repo: Path, names: Sequence[str]) -> Iterator[str]:
    """Whatever the pipeline derives from the server list must agree with it.

    No pipeline file names a server, since the servers are the .chef/*/config.yml files; a name
    counts as a whole token only (a server ``east`` is not found in ``us-east-1``), outside
    comments, mapping keys and IAM tag conditions (``ssm:resourceTag/chef-server`` names a tag
    key, which a server may share its name with). And the deployed template still fits the
    repository (its inline Lambda, the node tag keys its role allows), which nothing else would
    notice."""
    if os.path.lexists(repo / pipeline_targets.TEMPLATE):  # a FIFO or a symlink is refused there
        yield from pipeline_targets.template_findings(repo)
    if not names:
        return
    token = re.compile(
        rf"(?<![\w.-])(?<!resourceTag/)(?:{'|'.join(map(re.escape, names))})(?![\w.-])"
    )
    for pattern in PIPELINE_FILES:
        for path in sorted(repo.glob(pattern)):
            try:
                text = read_text(path)
            except repo_files.ConfigError:
                continue  # not this check's to judge: cfn-lint and the build read these files
            where = path.relative_to(repo).as_posix()
            for number, line in enumerate(text.splitlines(), 1):
                code = re.split(r"(?:^|\s)#", line, maxsplit=1)[0]
                key = YAML_KEY.match(code)
                for found in token.finditer(code, key.end() if key else 0):
                    yield (f"{where}:{number}:{found.start() + 1}: names server {found[0]!r}: "
                           "derive the servers from .chef/*/config.yml instead")


def repo_findings(repo: Path, *, in_git: bool) -> Iterator[str]:
    # git answers nothing about a path beyond a symlink: server_dir_findings reports those.
    names = sorted(name for name, directory in servers.server_dirs(repo).items()
                   if not (directory.is_symlink() or directory.parent.is_symlink()))
    yield from server_dir_findings(repo)
    yield from knife_findings(repo)
    yield from berksfile_findings(repo)
    yield from pipeline_findings(repo, names)
    yield from chef_state.object_findings(repo)
    yield from sync_settings.settings_findings(repo)
    if not in_git:
        yield f"{repo}: not a git repository: cannot check which keys are tracked or ignored"
        return
    try:
        yield from tracked_key_findings(repo)
        yield from gitignore_findings(repo, names)
    except (OSError, subprocess.SubprocessError) as error:
        yield f"{repo}: git failed: {error}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args(argv)
    repo, in_git = find_repo(Path.cwd())
    return repo_files.print_findings(repo_findings(repo, in_git=in_git))


if __name__ == "__main__":
    raise SystemExit(main())
