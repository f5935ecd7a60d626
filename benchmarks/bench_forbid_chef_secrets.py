"""Benchmark forbid-chef-secrets against pre-commit-hooks' detect-private-key and detect-secrets.

Builds a chef-repo-shaped corpus in a temporary directory (cookbooks with recipes, attributes,
templates, files and specs; data bags, roles), plants private keys of different kinds deep inside a
few files, and salts the clean files with what only looks like a key: certificates, public keys,
prose naming key headers, AWS's documented example credentials, encrypted data bag items, base64
and binary data. Each tool runs exactly as pre-commit runs a hook that does not ask for
``require_serial`` (none of the three does), the same way for every tool: the file list shuffled
with pre-commit's fixed seed, cut into at least one partition per CPU (at most
``max(4, ceil(files / cpus))`` files each, none longer than the command-line limit), and the
partitions run concurrently, one per CPU (pre-commit's ``lang_base.run_xargs``,
``xargs.partition`` and ``xargs.xargs``). Each tool gets a virtualenv of its own under
``--venvs``, created on first use: detect-private-key's import package is also called
``pre_commit_hooks``, detect-secrets brings its own dependencies, and ours holds this checkout's
packages in its site-packages (the hook needs nothing but the standard library), byte-compiled as
pip compiles what it installs for the others.

Run from the repository root: ``python benchmarks/bench_forbid_chef_secrets.py``.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import gzip
import json
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script from the repository root, like the others

from benchmarks.timing import children_cpu  # noqa: E402

DEFAULT_VENVS = Path.home() / ".cache" / "chef-multiserver-kit" / "bench-venvs"
PRE_COMMIT_SEED = 1542676187  # pre_commit.lang_base.FIXED_RANDOM_SEED: how it shuffles file lists
Enc = serialization.Encoding
Fmt = serialization.PrivateFormat


@dataclass(frozen=True)
class Tool:
    name: str
    command: list[str]
    flagged: Callable[[str], set[str]]  # the files a run's stdout reports


def our_findings(out: str) -> set[str]:
    return {m[1] for m in re.finditer(r"^(.+?):\d+: ", out, re.MULTILINE)}


def detect_private_key_findings(out: str) -> set[str]:
    return set(re.findall(r"^Private key found: (.+)$", out, re.MULTILINE))


def detect_secrets_findings(out: str) -> set[str]:
    return set(re.findall(r"^Location:\s+(.+):\d+$", out, re.MULTILINE))


# --- the corpus --------------------------------------------------------------------------------

WORDS = (
    "package",
    "service",
    "template",
    "file",
    "directory",
    "execute",
    "action",
    "node",
    "default",
    "attribute",
    "nginx",
    "postgresql",
    "users",
    "deploy",
    "owner",
    "group",
    "mode",
    "notifies",
    "subscribes",
    "restart",
    "reload",
    "start",
    "only_if",
    "not_if",
    "variables",
    "source",
    "cookbook_file",
    "remote_file",
    "checksum",
    "version",
    "depends",
    "describe",
    "context",
    "expect",
    "it",
    "be_installed",
    "be_enabled",
    "chef_run",
    "converge",
)
# Real cookbooks are not all lower case: constants, classes, platform and service names, environment
# variables, notes in comments. Sprinkled so that the corpus keeps as few upper-case letters, digits
# and base64 punctuation as real Ruby (about 5% of its bytes; Debian's Ruby library: 5.4%), since
# that share is what forbid-chef-secrets' first search costs.
MIXED_CASE = (
    "Chef::Log.info",
    "Chef::Config[:file_cache_path]",
    "ENV['HOME']",
    "File.join",
    "JSON.parse",
    "Mixlib::ShellOut.new",
    "RuntimeError",
    "PATH",
    "HTTPS",
    "Nginx",
    "PostgreSQL",
    "Ubuntu",
    "RHEL",
    "AWS",
    "TODO:",
    "NOTE:",
)
MIXED_CASE_SHARE = 0.7  # of lines that carry one such word (Ruby lines then squeeze to 5.5%)


def text_lines(rng: random.Random, size: int, shape: Callable[[random.Random], str]) -> str:
    lines: list[str] = []
    total = 0
    while total < size:
        line = shape(rng)
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines) + "\n"


def words_of_a_line(rng: random.Random, low: int, high: int) -> list[str]:
    words = rng.choices(WORDS, k=rng.randint(low, high))
    if rng.random() < MIXED_CASE_SHARE:
        words[rng.randrange(len(words))] = rng.choice(MIXED_CASE)
    return words


def ruby_line(rng: random.Random) -> str:
    words = words_of_a_line(rng, 2, 9)
    return (
        f"{'  ' * rng.randint(0, 3)}{words[0]} '{'/'.join(words[1:3])}' do # {' '.join(words[3:])}"
    )


def erb_line(rng: random.Random) -> str:
    words = words_of_a_line(rng, 2, 8)
    return f"{words[0]} = <%= node['{words[1]}']['{words[-1]}'] %> # {' '.join(words[2:])}"


def json_line(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=4)
    return f'  "{words[0]}_{words[1]}": "{words[2]} {words[3]} {rng.randint(0, 10**6)}",'


class Material:
    """Keys and look-alikes, generated once per run."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.ed25519 = ed25519.Ed25519PrivateKey.generate()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chef.example.com")])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.rsa.public_key())
            .serial_number(1)
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(self.rsa, hashes.SHA256())
        )

    def pem(self, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, fmt: Fmt) -> str:
        return key.private_bytes(Enc.PEM, fmt, serialization.NoEncryption()).decode()

    def openssh(self) -> str:
        private = self.ed25519.private_bytes(Enc.PEM, Fmt.OpenSSH, serialization.NoEncryption())
        return private.decode()

    def putty(self) -> str | None:
        if shutil.which("puttygen") is None:
            return None
        with tempfile.TemporaryDirectory() as directory:
            (Path(directory) / "empty").write_text("")
            subprocess.run(
                ["puttygen", "-q", "-t", "ed25519", "--new-passphrase", "empty", "-o", "k.ppk"],
                cwd=directory,
                check=True,
            )
            return (Path(directory) / "k.ppk").read_text()

    def pkcs12(self, *, with_key: bool = True) -> bytes:
        """A key store (``with_key`` false: a trust store, its certificate alone)."""
        return pkcs12.serialize_key_and_certificates(
            b"chef",
            self.rsa if with_key else None,
            self.certificate,
            None,
            serialization.BestAvailableEncryption(b"pw"),
        )

    def jwks(self, *, private: bool) -> bytes:
        """The RSA key as a JSON Web Key Set (``private``: with its private numbers)."""
        numbers = self.rsa.private_numbers()
        key = {"kty": "RSA", "kid": "chef", "n": numbers.public_numbers.n, "e": 65537}
        if private:
            key.update(d=numbers.d, p=numbers.p, q=numbers.q)
        encoded = {
            name: base64url(value) if isinstance(value, int) else value
            for name, value in key.items()
        }
        return json.dumps({"keys": [encoded]}, indent=2).encode()


def base64url(number: int) -> str:
    return base64.urlsafe_b64encode(number.to_bytes((number.bit_length() + 7) // 8, "big")).rstrip(
        b"="
    ).decode()


def c_array(name: str, data: bytes) -> str:
    """``data`` as ``xxd -i`` writes it into a C header."""
    rows = (  # 12 bytes a row
        ", ".join(f"0x{byte:02x}" for byte in data[i : i + 12]) for i in range(0, len(data), 12)
    )
    return f"unsigned char {name}[] = {{\n  " + ",\n  ".join(rows) + "\n};\n"


def plant_keys(material: Material, rng: random.Random) -> dict[str, bytes]:
    """The files that hold a key, each key deep inside ordinary content."""
    recipe = text_lines(rng, 40_000, ruby_line)
    data_bag = {f"setting_{i}": rng.choice(WORDS) for i in range(400)}
    data_bag["ssh_private_key"] = material.pem(material.rsa, Fmt.TraditionalOpenSSL)
    yaml_key = "\n".join(
        "      " + line for line in material.pem(material.ec, Fmt.PKCS8).splitlines()
    )
    secret = base64.b64encode(material.pem(material.rsa, Fmt.PKCS8).encode()).decode()
    planted = {
        "data_bags/users/deploy.json": json.dumps({"id": "deploy", **data_bag}, indent=2).encode(),
        "roles/bastion.yml": (
            text_lines(rng, 30_000, json_line) + f"ssh:\n  key: |\n{yaml_key}\n"
        ).encode(),
        "cookbooks/app_00/recipes/keys.rb": (
            recipe + f"file '/home/deploy/.ssh/id_rsa' do\n  content <<~KEY\n"
            f"{material.pem(material.rsa, Fmt.TraditionalOpenSSL)}  KEY\nend\n" + recipe
        ).encode(),
        "cookbooks/app_01/files/default/app.dat": material.rsa.private_bytes(
            Enc.DER, Fmt.PKCS8, serialization.NoEncryption()
        ),
        "cookbooks/app_02/templates/default/id_ed25519.erb": (
            text_lines(rng, 20_000, erb_line) + material.openssh()
        ).encode(),
        "cookbooks/app_03/files/default/client.p12": material.pkcs12(),
        "cookbooks/app_04/files/default/k8s-secret.yaml": (
            text_lines(rng, 20_000, json_line) + f"data:\n  tls.key: {secret}\n"
        ).encode(),
        "cookbooks/app_05/files/default/backup.pem.gz": gzip.compress(
            material.pem(material.ec, Fmt.TraditionalOpenSSL).encode()
        ),
    }
    device_key = material.ec.private_bytes(
        Enc.DER, Fmt.TraditionalOpenSSL, serialization.NoEncryption()
    )
    planted["cookbooks/app_07/files/default/device_key.h"] = (
        text_lines(rng, 10_000, ruby_line) + c_array("device_key_der", device_key)
    ).encode()
    planted["data_bags/oidc/signing.json"] = material.jwks(private=True)
    putty = material.putty()
    if putty is not None:
        planted["cookbooks/app_06/files/default/deploy.ppk"] = putty.encode()
    return planted


def look_alikes(material: Material, rng: random.Random) -> list[tuple[str, bytes]]:
    """Clean content that only looks like a key (these must not be reported)."""
    certificate = material.certificate.public_bytes(Enc.PEM)
    public = material.rsa.public_key().public_bytes(
        Enc.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    ssh_public = material.ed25519.public_key().public_bytes(
        Enc.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    prose = (
        b"Never commit a file that starts with -----BEGIN RSA PRIVATE KEY----- or\n"
        b"-----BEGIN OPENSSH PRIVATE KEY-----: the client key lives in S3.\n"
    )
    aws_docs = (
        b"aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
        b"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
    )
    encrypted_item = json.dumps(
        {
            "id": "db",
            "password": {
                "encrypted_data": base64.b64encode(rng.randbytes(96)).decode(),
                "iv": base64.b64encode(rng.randbytes(12)).decode(),
                "auth_tag": base64.b64encode(rng.randbytes(16)).decode(),
                "version": 3,
                "cipher": "aes-256-gcm",
            },
        },
        indent=2,
    ).encode()
    return [
        ("files/default/ca.pem", certificate),
        ("files/default/server.pub.pem", public),
        ("files/default/authorized_keys", ssh_public),
        ("README.md", prose),
        ("files/default/credentials.example", aws_docs),
        ("data_bags/secrets/db.json", encrypted_item),
        ("files/default/blob.b64", base64.encodebytes(rng.randbytes(30_000))),
        ("files/default/logo.png", b"\x89PNG\r\n\x1a\n" + rng.randbytes(50_000)),
        ("files/default/truststore.p12", material.pkcs12(with_key=False)),
        ("files/default/jwks.json", material.jwks(private=False)),
    ]


def build_corpus(root: Path, files: int, megabytes: int, seed: int) -> tuple[list[str], set[str]]:
    """Write the corpus under ``root``; return (every file, the planted ones), paths relative."""
    rng = random.Random(seed)  # noqa: S311 (a reproducible corpus, not a secret)
    material = Material()
    contents: dict[str, bytes] = plant_keys(material, rng)
    planted = set(contents)
    alikes = look_alikes(material, rng)
    shapes = (
        ("recipes", ".rb", ruby_line),
        ("attributes", ".rb", ruby_line),
        ("spec/unit/recipes", "_spec.rb", ruby_line),
        ("templates/default", ".conf.erb", erb_line),
        ("files/default", ".json", json_line),
    )
    mean = megabytes * 1024 * 1024 // files
    index = 0
    while len(contents) < files:
        cookbook = f"cookbooks/cb_{index // 25:03d}"
        if index % 7 == 0:
            name, content = alikes[(index // 7) % len(alikes)]
            contents[f"{cookbook}/{name}"] = content
        else:
            folder, suffix, shape = shapes[index % len(shapes)]
            size = int(rng.lognormvariate(0, 0.8) * mean * 0.75)
            contents[f"{cookbook}/{folder}/f{index:05d}{suffix}"] = text_lines(
                rng, size, shape
            ).encode()
        index += 1
    for name, content in contents.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return sorted(contents), planted


# --- running the tools -------------------------------------------------------------------------


def venv_tool(venvs: Path, package: str, script: str) -> list[str]:
    """The console script of ``package``, installed in a virtualenv of its own on first use."""
    venv = venvs / package
    executable = venv / "bin" / script
    if not executable.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "--disable-pip-version-check", package], check=True)
    return [str(executable)]


# What pip writes for a console script (pre-commit runs a hook's entry, ``forbid-chef-secrets``,
# through it; the other tools' scripts read so too).
CONSOLE_SCRIPT = """#!{python}
# -*- coding: utf-8 -*-
import re
import sys
from pre_commit_hooks.forbid_chef_secrets import main
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit(main())
"""


def our_hook(venvs: Path) -> Tool:
    """Our hook as pre-commit starts it: its console script in a virtualenv whose site-packages
    hold the kit's packages, as ``pip install`` of the kit puts them there (the hook imports
    nothing else: no dependency is installed), copied fresh from this checkout for every run and
    byte-compiled, as pip compiles what it installs for the other tools."""
    venv = venvs / "forbid-chef-secrets"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site_packages = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    for package in ("pre_commit_hooks", "chef_multiserver"):
        shutil.rmtree(site_packages / package, ignore_errors=True)
        shutil.copytree(
            REPO / package, site_packages / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    subprocess.run([python, "-m", "compileall", "-q", str(site_packages)], check=True)
    script = venv / "bin" / "forbid-chef-secrets"
    script.write_text(CONSOLE_SCRIPT.format(python=python))
    script.chmod(0o755)
    return Tool("forbid-chef-secrets", [str(script)], our_findings)


def pre_commit_jobs() -> int:
    """How many partitions pre-commit runs at once: one per CPU this process may use."""
    if "PRE_COMMIT_NO_CONCURRENCY" in os.environ:
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def command_line_limit(env: dict[str, str]) -> int:
    """The longest command line pre-commit builds on POSIX: ARG_MAX less headroom and the
    environment, kept between 4 KiB and 128 KiB."""
    environment = 8 * len(env) + sum(len(k) + len(v) + 2 for k, v in env.items())
    return max(min(os.sysconf("SC_ARG_MAX") - 2048 - environment, 2**17), 2**12)


def partitions(command: list[str], files: list[str], jobs: int, limit: int) -> list[list[str]]:
    """The command lines pre-commit's xargs runs: the shuffled files in partitions of at most
    ``max(4, ceil(files / jobs))`` names, each within ``limit`` bytes."""
    shuffled = list(files)
    random.Random(PRE_COMMIT_SEED).shuffle(shuffled)  # noqa: S311 (pre-commit's fixed order)
    most = max(4, math.ceil(len(shuffled) / jobs))
    empty = len(" ".join(command).encode()) + 1
    result: list[list[str]] = []
    current: list[str] = []
    length = empty
    for name in shuffled:
        size = len(name.encode()) + 1
        if current and (length + size > limit or len(current) >= most):
            result.append([*command, *current])
            current, length = [], empty
        current.append(name)
        length += size
    return [*result, [*command, *current]]


def timed_run(tool: Tool, files: list[str], cwd: Path) -> tuple[float, float, set[str]]:
    """Wall seconds, CPU seconds of the partitions' processes, and the files they reported."""
    # (each tool's packages are in its own virtualenv: detect-private-key's too is pre_commit_hooks)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    jobs = pre_commit_jobs()
    lines = partitions(tool.command, files, jobs, command_line_limit(env))

    def run(line: list[str]) -> str:
        return subprocess.run(
            line, cwd=cwd, env=env, capture_output=True, text=True, check=False
        ).stdout

    started, cpu = time.perf_counter(), children_cpu()
    with ThreadPoolExecutor(min(len(lines), jobs)) as pool:
        outputs = list(pool.map(run, lines))
    elapsed = time.perf_counter() - started
    return elapsed, children_cpu() - cpu, set().union(*(tool.flagged(out) for out in outputs))


@dataclass(frozen=True)
class Result:
    tool: str
    files: int
    runs: int
    median: float
    cpu: float  # median CPU seconds
    found: int  # planted keys reported
    planted: int
    false_positives: int  # clean files reported

    def row(self, ours: Result) -> str:
        recall = (
            f"{self.found}/{self.planted} {100 * self.found / self.planted:.0f}%"
            if self.planted
            else "n/a"
        )
        false = f"{self.false_positives}/{self.files - self.planted}"
        return (
            f"{self.tool:<20} {self.files:>5} {self.runs:>4} {self.median:>9.2f} "
            f"{self.median / ours.median:>6.2f} {self.cpu:>6.2f} {self.cpu / ours.cpu:>6.2f} "
            f"{recall:>10} {false:>16}"
        )


def measure(
    tools: list[tuple[Tool, int]], files: list[str], planted: set[str], cwd: Path
) -> list[Result]:
    """Each tool's result over ``files``, its runs taking turns with the others' (ours, theirs,
    ours, ...), so that what else the machine does weighs on both alike."""
    times: list[list[float]] = [[] for _ in tools]
    cpu_times: list[list[float]] = [[] for _ in tools]
    flagged: list[set[str]] = [set() for _ in tools]
    for turn in range(max(runs for _, runs in tools)):
        for index, (tool, runs) in enumerate(tools):
            if turn < runs:
                elapsed, cpu, flagged[index] = timed_run(tool, files, cwd)
                times[index].append(elapsed)
                cpu_times[index].append(cpu)
    planted_here = planted & set(files)
    return [
        Result(
            tool.name,
            len(files),
            runs,
            statistics.median(tool_times),
            statistics.median(tool_cpu),
            len(tool_flagged & planted_here),
            len(planted_here),
            len(tool_flagged - planted),
        )
        for (tool, runs), tool_times, tool_cpu, tool_flagged in zip(
            tools, times, cpu_times, flagged, strict=True
        )
    ]


def real_tree(tree: Path, ours: Tool, theirs: Tool, runs: int) -> list[Result]:
    """Both hooks over a real tree's regular files (an installed library: code, data, binaries),
    taking turns; with no planted key, recall reads n/a and every report counts as a false
    positive (a real key there would be one too)."""
    print(f"{tree}: ", end="", flush=True)
    files = sorted(
        str(path.relative_to(tree))
        for path in tree.rglob("*")
        if path.is_file() and not path.is_symlink()
    )
    size = sum((tree / name).stat().st_size for name in files) / 2**20
    print(f"{len(files)} files, {size:.1f} MB")
    return measure([(ours, runs), (theirs, runs)], files, set(), tree)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--megabytes", type=int, default=60)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--detect-secrets-files", type=int, default=500)
    parser.add_argument("--detect-secrets-runs", type=int, default=1)
    parser.add_argument("--venvs", type=Path, default=DEFAULT_VENVS)
    parser.add_argument("--seed", type=int, default=20260)
    parser.add_argument(
        "--tree",
        type=Path,
        action="append",
        default=[],
        help="also time both hooks on every regular file under this real tree (repeatable)",
    )
    args = parser.parse_args()

    ours = our_hook(args.venvs)
    private_key = venv_tool(args.venvs, "pre-commit-hooks", "detect-private-key")
    detect_secrets = venv_tool(args.venvs, "detect-secrets", "detect-secrets-hook")
    others = (
        (Tool("detect-private-key", private_key, detect_private_key_findings), args.runs, False),
        (
            Tool("detect-secrets-hook", detect_secrets, detect_secrets_findings),
            args.detect_secrets_runs,
            True,
        ),
    )
    with tempfile.TemporaryDirectory(prefix="chef-corpus-") as directory:
        root = Path(directory)
        started = time.perf_counter()
        files, planted = build_corpus(root, args.files, args.megabytes, args.seed)
        size = sum((root / name).stat().st_size for name in files) / 2**20
        print(
            f"corpus: {len(files)} files, {size:.1f} MB, "
            f"built in {time.perf_counter() - started:.1f} s"
        )
        print(f"planted keys ({len(planted)}): {', '.join(sorted(planted))}")
        rng = random.Random(args.seed)  # noqa: S311 (a reproducible subset, not a secret)
        clean = [name for name in files if name not in planted]
        subset = sorted(planted | set(rng.sample(clean, args.detect_secrets_files - len(planted))))
        # Each row pair runs our hook and the other tool on the same file list, taking turns.
        results = [
            measure([(ours, args.runs), (tool, runs)], names, planted, root)
            for tool, runs, on_subset in others
            for names in [subset if on_subset else files]
        ]
    results += [real_tree(tree, ours, others[0][0], args.runs) for tree in args.tree]
    header = (
        f"{'tool':<20} {'files':>5} {'runs':>4} {'median s':>9} {'ratio':>6} {'cpu s':>6} "
        f"{'ratio':>6} {'recall':>10} "
    )
    print(header + f"{'false positives':>16}")
    print("-" * (len(header) + 16))
    for ours_result, other in results:
        print(ours_result.row(ours_result))
        print(other.row(ours_result))
    print(
        f"detect-secrets-hook (no baseline, all plugins on) ran {args.detect_secrets_runs} times "
        f"on a {len(subset)}-file subset\nholding every planted key, as it is slow on large "
        "corpora; its ratio is to forbid-chef-secrets on the same subset."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
