"""The hook's own zip and tar readers (key_detection.archives) against CPython's zipfile and
tarfile, and against archives the real zip and tar commands write.

They read what a scan needs (each file member's name and content) without importing zipfile or
tarfile. Models: PKWARE's APPNOTE.TXT (zip, zip64: 4.3.6 central directory, 4.5.3 zip64 extra
field), POSIX pax/ustar and GNU tar's long names (tarfile's GNU_FORMAT and PAX_FORMAT write them).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pre_commit_hooks.key_detection.archives import (
    ArchiveError,
    tar_members,
    zip_content,
    zip_members,
)
from tests import keymaterial
from tests.conftest import KIT_ROOT

METHODS = [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]
names = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"),
    min_size=1,
    max_size=120,
)
contents = st.binary(max_size=3000) | st.text(max_size=3000).map(str.encode)


def read_zip(data: bytes) -> list[tuple[str, bytes]]:
    return [(member[0], zip_content(data, member, member[4])) for member in zip_members(data)]


def read_tar(data: bytes) -> list[tuple[str, bytes]]:
    return [(name, data[start : start + size]) for name, start, size in tar_members(data)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    members=st.lists(st.tuples(names, contents, st.sampled_from(METHODS)), max_size=6),
    comment=st.binary(max_size=200),
    stub=st.sampled_from([b"", b'#!/bin/sh\nexec unzip "$0"\n' * 3]),
    zip64=st.booleans(),
)
def test_zip_members_read_as_zipfile_reads_them(
    members: list[tuple[str, bytes, int]], comment: bytes, stub: bytes, zip64: bool
) -> None:
    """Every method zipfile writes, zip64 records, a comment, a self-extracting stub before it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.comment = comment
        for index, (name, content, method) in enumerate(members):
            info = zipfile.ZipInfo(f"{index}/{name}")
            info.compress_type = method
            with archive.open(info, "w", force_zip64=zip64) as member:
                member.write(content)
        archive.writestr("a directory/", b"")
    data = stub + buffer.getvalue()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        expected = [(i.filename, archive.read(i)) for i in archive.infolist() if not i.is_dir()]
    assert read_zip(data) == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    members=st.lists(st.tuples(names, contents), max_size=6),
    tar_format=st.sampled_from([tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT]),
    long_directory=st.booleans(),
)
def test_tar_members_read_as_tarfile_reads_them(
    members: list[tuple[str, bytes]], tar_format: int, long_directory: bool
) -> None:
    """Long and non-ASCII names (a ustar prefix, a GNU long name, a pax path), directories and
    links among the files."""
    directory = ("d" * 90 + "/") * 2 if long_directory else ""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tar_format) as archive:
        archive.addfile(_directory("folder"))
        for index, (name, content) in enumerate(members):
            path = f"{directory}{index}-{name}"
            if tar_format == tarfile.USTAR_FORMAT:
                path = path.encode("utf-8")[:90].decode("utf-8", "ignore") or str(index)
            info = tarfile.TarInfo(path)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
        link = tarfile.TarInfo("link")
        link.type, link.linkname = tarfile.SYMTYPE, "folder"
        archive.addfile(link)
    data = buffer.getvalue()
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        expected = [
            (m.name, archive.extractfile(m).read())  # type: ignore[union-attr]
            for m in archive.getmembers()
            if m.isfile()
        ]
    assert read_tar(data) == expected


def _directory(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    return info


def test_archives_the_real_commands_write(tmp_path: Path) -> None:
    """GNU tar (its default format: GNU long names) and Info-ZIP's zip, deflate and bzip2."""
    tree = tmp_path / "tree" / ("long-directory-name-" * 6)
    tree.mkdir(parents=True)
    files = {"a.txt": b"alpha\n" * 200, "client.pem": keymaterial.private_keys()["rsa-pkcs1"]}
    for name, content in files.items():
        (tree / name).write_bytes(content)
    tar = keymaterial.require("tar")
    subprocess.run(
        [tar, "-cf", "out.tar", "-C", str(tmp_path / "tree"), "."], cwd=tmp_path, check=True
    )
    got = dict(read_tar((tmp_path / "out.tar").read_bytes()))
    for name, content in files.items():
        assert got[f"./{tree.name}/{name}"] == content
    zip_command = keymaterial.require("zip")
    for options in ([], ["-Z", "bzip2"]):
        subprocess.run(
            [zip_command, "-q", "-r", *options, str(tmp_path / "out.zip"), "."],
            cwd=tmp_path / "tree",
            check=True,
        )
        got = dict(read_zip((tmp_path / "out.zip").read_bytes()))
        for name, content in files.items():
            assert got[f"{tree.name}/{name}"] == content
        (tmp_path / "out.zip").unlink()


def test_an_encrypted_zip_member_cannot_be_read_and_is_reported(tmp_path: Path) -> None:
    """zip -e (traditional PKWARE encryption): no key is read, and the hook reports the file as
    not scanned to its end, as it did when zipfile raised for it."""
    (tmp_path / "client.pem").write_bytes(keymaterial.private_keys()["rsa-pkcs1"])
    zip_command = keymaterial.require("zip")
    subprocess.run(
        [zip_command, "-q", "-P", "secret", "keys.zip", "client.pem"], cwd=tmp_path, check=True
    )
    data = (tmp_path / "keys.zip").read_bytes()
    with pytest.raises(ArchiveError, match="encrypted"):
        zip_members(data)
    done = subprocess.run(
        [sys.executable, "-m", "pre_commit_hooks.forbid_chef_secrets", "keys.zip"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(KIT_ROOT)},
    )
    assert done.returncode == 1, done
    assert "keys.zip:1: not scanned to its end" in done.stdout


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_a_cut_short_archive_raises_archive_error_or_reads_short(kind: str) -> None:
    """Every prefix of an archive: an ArchiveError, or members read as far as the bytes go (the
    scan reports a member shorter than its size), never another exception."""
    content = os.urandom(3000)
    buffer = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr("a.bin", content)
    else:
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            info = tarfile.TarInfo("a.bin")
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    whole = buffer.getvalue()
    for cut in range(0, len(whole), 37):
        try:
            members = read_zip(whole[:cut]) if kind == "zip" else read_tar(whole[:cut])
        except ArchiveError:
            continue
        assert all(content.startswith(read) for _, read in members)


def test_scanning_archives_imports_neither_zipfile_nor_tarfile(tmp_path: Path) -> None:
    """The point of the readers: a partition that meets a zip or a tar no longer imports
    zipfile (with pathlib, shutil, threading) or tarfile."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("notes.txt", "hello\n" * 100)
    (tmp_path / "a.zip").write_bytes(buffer.getvalue())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("notes.txt")
        info.size = 6
        archive.addfile(info, io.BytesIO(b"hello\n"))
    (tmp_path / "a.tar").write_bytes(buffer.getvalue())
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "from pre_commit_hooks.forbid_chef_secrets import main\n"
        "assert main(['a.zip', 'a.tar']) == 0\n"
        "loaded = set(sys.modules) - before\n"
        "print(sorted({'zipfile', 'tarfile', 'pathlib', 'shutil', 'threading'} & loaded))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(KIT_ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
