"""lib.core.checksums: every SHA256SUMS entry is validated before anything is read; verified markers."""

import os
import subprocess
import sys

import pytest

from lib.core import checksums, io
from lib.core.checksums import DataError


@pytest.mark.parametrize(
    "entry, problem",
    [
        ("../../etc/passwd", "not a normalised path"),
        ("a/../b.dat", "not a normalised path"),
        ("./a.dat", "not a normalised path"),
        ("a//b.dat", "not a normalised path"),
        ("/etc/passwd", "not a relative POSIX path"),
        ("C:/x.dat", "not a relative POSIX path"),
        ("a\\b.dat", "not a relative POSIX path"),
        ("a\tb.dat", "control character"),
    ],
)
def test_unsafe_entries_refused_naming_the_sums_file(tmp_path, entry, problem):
    sums = tmp_path / "SHA256SUMS"
    sums.write_text(f"{'0' * 64}  {entry}\n")
    with pytest.raises(DataError, match=problem) as err:
        checksums.read_sha256sums(sums)
    assert err.value.path == sums


def test_pattern_and_duplicates(tmp_path):
    sums = tmp_path / "SHA256SUMS"
    sums.write_text(f"{'a' * 64}  100.dat\n{'b' * 64}  notes.txt\n")
    with pytest.raises(DataError, match="not a file this dataset has"):
        checksums.read_sha256sums(sums, pattern=r"\d{3}\.(dat|hea|atr)")
    sums.write_text(f"{'a' * 64}  100.dat\n{'b' * 64}  100.dat\n")
    with pytest.raises(DataError, match="listed twice"):
        checksums.read_sha256sums(sums)
    sums.write_text(f"{'g' * 64}  100.dat\n")
    with pytest.raises(DataError, match="line 1 is not"):
        checksums.read_sha256sums(sums)
    sums.write_bytes(b"\xff\xfe  x\n")
    with pytest.raises(DataError, match="not UTF-8"):
        checksums.read_sha256sums(sums)


def test_symlink_escaping_the_folder_is_refused(tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("x")
    folder = tmp_path / "data"
    folder.mkdir()
    os.symlink(outside, folder / "a.dat")
    with pytest.raises(DataError, match="outside"):
        checksums.verify_sha256sums(folder, {"a.dat": checksums.sha256_file(outside)})
    (folder / "b.dat").write_text("y")
    assert checksums.verify_sha256sums(folder, {"b.dat": checksums.sha256_file(folder / "b.dat")}) == 1


def test_require_listed(tmp_path):
    checksums.require_listed({"100.dat": "0"}, ["100.dat"], tmp_path / "SHA256SUMS")
    with pytest.raises(DataError, match="does not list 100.atr, 100.hea"):
        checksums.require_listed({"100.dat": "0"}, ["100.dat", "100.hea", "100.atr"], tmp_path / "SHA256SUMS")


def test_verified_marker_catches_changes(tmp_path):
    (tmp_path / "a.dat").write_bytes(b"abc")
    checksums.write_sha256sums(tmp_path)
    with pytest.raises(DataError, match="not a verified import"):
        checksums.check_verified(tmp_path)
    checksums.write_verified_marker(tmp_path)
    checksums.check_verified(tmp_path)
    (tmp_path / "a.dat").write_bytes(b"ab")  # truncated after import
    with pytest.raises(DataError, match="changed since the folder was verified") as err:
        checksums.check_verified(tmp_path)
    assert err.value.path == tmp_path / "a.dat"
    (tmp_path / "a.dat").write_bytes(b"abc")
    (tmp_path / "SHA256SUMS").write_text(f"{'0' * 64}  a.dat\n")
    with pytest.raises(DataError, match="SHA256SUMS"):
        checksums.check_verified(tmp_path)


def test_stale_tmp_folder_of_a_killed_process_is_removed(tmp_path):
    target = tmp_path / "mitdb"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".mitdb.tmp-{dead.stdout.strip()}-abc"
    stale.mkdir()
    (stale / "100.dat").write_bytes(b"half")
    alive = tmp_path / f".mitdb.tmp-{os.getppid()}-xyz"  # a live process: kept
    alive.mkdir()
    with io.atomic_dir(target) as tmp:
        (tmp / "ok").write_text("1")
    assert not stale.exists() and alive.exists() and (target / "ok").read_text() == "1"
