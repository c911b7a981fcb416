"""Bad input for the biased datasets, table-driven: each case names the exception type, the file the message
must name (the source the user gave, never a temporary copy), the problem, and checks that no data folder
was changed or half-written."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lib.bias import data as bd
from lib.core.checksums import DataError, write_sha256sums

IMAGES, LABELS = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"


def idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def snapshot(folder: Path) -> dict:
    """Every path under ``folder`` (hidden ones included) with its size and content digest."""
    return {
        p.relative_to(folder).as_posix(): (p.is_dir(), None if p.is_dir() else hashlib.sha256(p.read_bytes()).digest())
        for p in sorted(folder.rglob("*"))
    }


def write_sums(src: Path, lines: list[tuple[str, str]]) -> None:
    (src / "SHA256SUMS").write_text("".join(f"{digest}  {name}\n" for digest, name in lines))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------------ MNIST import
def _mnist_src(tmp: Path) -> Path:
    src = tmp / "src"
    src.mkdir()
    (src / IMAGES).write_bytes(gzip.compress(idx_bytes(np.zeros((3, 28, 28), np.uint8)), mtime=0))
    (src / LABELS).write_bytes(gzip.compress(idx_bytes(np.array([1, 2, 3])), mtime=0))
    write_sha256sums(src)
    return src


def _traversal(src: Path) -> str:
    (src.parent / "outside.gz").write_bytes(b"secret")
    write_sums(src, [(sha(src.parent / "outside.gz"), "../outside.gz")])
    return "SHA256SUMS"


def _absolute(src: Path) -> str:
    write_sums(src, [("0" * 64, "/etc/passwd")])
    return "SHA256SUMS"


def _foreign_name(src: Path) -> str:
    (src / "notes.txt").write_text("x")
    write_sums(src, [(sha(src / "notes.txt"), "notes.txt"), (sha(src / IMAGES), IMAGES), (sha(src / LABELS), LABELS)])
    return "SHA256SUMS"


def _images_without_labels(src: Path) -> str:
    write_sums(src, [(sha(src / IMAGES), IMAGES)])
    return "SHA256SUMS"


def _mismatch(src: Path) -> str:
    (src / LABELS).write_bytes(gzip.compress(idx_bytes(np.array([1, 2, 4])), mtime=0))
    return LABELS


def _listed_missing(src: Path) -> str:
    (src / LABELS).unlink()
    return LABELS


def _symlink_escape(src: Path) -> str:
    outside = src.parent / "elsewhere.gz"
    shutil.move(src / LABELS, outside)
    os.symlink(outside, src / LABELS)
    return LABELS


def _truncated_idx(src: Path) -> str:
    (src / IMAGES).write_bytes(gzip.compress(idx_bytes(np.zeros((3, 28, 28), np.uint8))[:-10], mtime=0))
    write_sha256sums(src)
    return IMAGES


def _label_count(src: Path) -> str:
    (src / LABELS).write_bytes(gzip.compress(idx_bytes(np.array([1, 2])), mtime=0))
    write_sha256sums(src)
    return LABELS


def _label_range(src: Path) -> str:
    (src / LABELS).write_bytes(gzip.compress(idx_bytes(np.array([1, 2, 11])), mtime=0))
    write_sha256sums(src)
    return LABELS


def _no_sums(src: Path) -> str:
    (src / "SHA256SUMS").unlink()
    return "SHA256SUMS"


def _not_gzip(src: Path) -> str:
    (src / IMAGES).write_bytes(b"plain bytes, not gzip")
    write_sha256sums(src)
    return IMAGES


MNIST_CASES = {
    "path traversal ../": (_traversal, "not a normalised path inside the folder"),
    "absolute path": (_absolute, "is not a relative POSIX path inside the folder"),
    "file MNIST does not have": (_foreign_name, "is not a file this dataset has"),
    "images listed without labels": (_images_without_labels, f"does not list {LABELS}"),
    "checksum mismatch": (_mismatch, "checksum mismatch"),
    "listed file missing": (_listed_missing, "listed in SHA256SUMS but missing"),
    "symlink escaping the folder": (_symlink_escape, "a symlink escaping the folder"),
    "truncated IDX": (_truncated_idx, "truncated or oversized IDX data"),
    "label count differs": (_label_count, "2 labels for images of shape (3, 28, 28)"),
    "label outside 0..9": (_label_range, "labels outside 0..9"),
    "no SHA256SUMS": (_no_sums, "SHA256SUMS file missing"),
    "not gzip": (_not_gzip, "not a readable gzip file"),
}


@pytest.mark.parametrize("case", sorted(MNIST_CASES))
def test_mnist_import_bad_input(case, tmp_path):
    make, problem = MNIST_CASES[case]
    src = _mnist_src(tmp_path)
    named = make(src)
    before, out = snapshot(tmp_path), tmp_path / "data" / "mnist"
    with pytest.raises(DataError) as err:
        bd.import_local(src, out)
    msg = str(err.value)
    assert problem in msg, msg
    assert Path(err.value.path).name == named and ".tmp-" not in msg  # the source file, not a temp copy
    assert snapshot(tmp_path) == before and not out.exists()  # nothing written, nothing half-written


def test_good_mnist_import_then_load_verifies(tmp_path):
    out = bd.import_local(_mnist_src(tmp_path), tmp_path / "mnist")
    assert bd.load_mnist(out)[1].tolist() == [1, 2, 3]
    (out / LABELS).write_bytes((out / LABELS).read_bytes() + b"x")
    with pytest.raises(DataError, match="missing or changed since the folder was verified"):
        bd.load_mnist(out)


# ------------------------------------------------------------------------------------ DisEnt layout
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("layout") / "biased"
    bd.generate(root, seed=1, n_train=20, n_valid=10, n_test=10, datasets=["cmnist"])
    return root


def _png(path: Path) -> None:
    Image.fromarray(np.zeros((28, 28, 3), np.uint8)).save(path)


def _target_out_of_range(root: Path) -> tuple[str, Path]:
    _png(root / "cmnist/test/2/9_12_3.png")
    return "test", root / "cmnist/test/2/9_12_3.png"


def _bias_out_of_range(root: Path) -> tuple[str, Path]:
    _png(root / "cmnist/test/2/9_2_10.png")
    return "test", root / "cmnist/test/2/9_2_10.png"


def _folder_disagrees(root: Path) -> tuple[str, Path]:
    _png(root / "cmnist/5pct/align/4/99_3_3.png")
    return "train", root / "cmnist/5pct/align/4/99_3_3.png"


def _unlabelled(root: Path) -> tuple[str, Path]:
    _png(root / "cmnist/test/2/unlabelled.png")
    return "test", root / "cmnist/test/2/unlabelled.png"


def _not_an_image(root: Path) -> tuple[str, Path]:
    (root / "cmnist/test/2/9_2_2.png").write_bytes(b"not a png")
    return "test", root / "cmnist/test/2/9_2_2.png"


def _foreign_file(root: Path) -> tuple[str, Path]:
    (root / "cmnist/test/2/notes.txt").write_text("x")
    return "test", root / "cmnist/test/2/notes.txt"


def _edited_after_build(root: Path) -> tuple[str, Path]:
    victim = sorted((root / "cmnist/test").rglob("*.png"))[0]
    victim.write_bytes(victim.read_bytes() + b"x")
    return "test", victim


def _marker_removed(root: Path) -> tuple[str, Path]:
    (root / ".verified.json").unlink()
    return "test", root


def _split_deleted(root: Path) -> tuple[str, Path]:
    first = sorted((root / "cmnist/5pct/valid").iterdir())[0]
    shutil.rmtree(root / "cmnist/5pct/valid")
    return "valid", first


LAYOUT_CASES = {
    "target 12 in a 10-class set": (_target_out_of_range, "label outside the class range 0..9 (target 12, bias 3)"),
    "bias 10 in a 10-class set": (_bias_out_of_range, "label outside the class range 0..9 (target 2, bias 10)"),
    "class folder disagrees": (_folder_disagrees, "target 3 in the file name differs from its class folder '4'"),
    "no labels in the name": (_unlabelled, "file name has no '_<target>_<bias>' labels"),
    "not an image": (_not_an_image, "not a readable image"),
    "foreign file": (_foreign_file, "unexpected file in an image folder"),
    "edited after the build": (_edited_after_build, "missing or changed since the folder was verified"),
    "verified marker removed": (_marker_removed, "not a verified import"),
    "split deleted after the build": (_split_deleted, "missing or changed since the folder was verified"),
}


#: cases that plant a file the build's SHA256SUMS does not list
PLANTED = {
    "target 12 in a 10-class set",
    "bias 10 in a 10-class set",
    "class folder disagrees",
    "no labels in the name",
    "not an image",
    "foreign file",
}


@pytest.mark.parametrize("case", sorted(LAYOUT_CASES))
def test_layout_bad_input(case, built, tmp_path):
    make, problem = LAYOUT_CASES[case]
    root = tmp_path / "biased"
    shutil.copytree(built, root)
    split, named = make(root)
    before = snapshot(root)
    if case in PLANTED:  # a verified build refuses a file its SHA256SUMS does not list (issue 21) ...
        with pytest.raises(DataError, match="not listed in SHA256SUMS") as err:
            bd.load(root, "cmnist", "5pct", split)
        assert Path(err.value.path) == named
    with pytest.raises(DataError) as err:  # ... and the layout check names it in an unverified folder
        bd.load(root, "cmnist", "5pct", split, verify=case not in PLANTED)
    assert problem in str(err.value), str(err.value)
    assert Path(err.value.path) == named
    assert snapshot(root) == before  # reading never changes the folder


def test_unknown_pct_folder(built):
    with pytest.raises(DataError, match="folder missing") as err:
        bd.load(built, "cmnist", "1pct", "train")
    assert Path(err.value.path) == built / "cmnist/1pct/align"


def test_fetch_disent_refuses_unverifiable_data(tmp_path):
    with pytest.raises(DataError, match="publishes no checksums: refusing unverifiable data") as err:
        bd.fetch_disent(tmp_path / "disent")
    assert Path(err.value.path) == tmp_path / "disent"
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------ CIFAR-10 source
def _cifar_src(tmp: Path) -> Path:
    from lib.bias import cifar10c as cc

    src, rng = tmp / "cifar10", np.random.default_rng(0)
    for split in ("train", "test"):
        for name in cc.CLASSES:
            (src / split / name).mkdir(parents=True)
            for i in range(2):
                img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(img).save(src / split / name / f"{i:04d}.jpg", quality=75)
    write_sha256sums(src)
    return src


def _one_28px_jpeg(src: Path) -> str:
    Image.fromarray(np.zeros((28, 28, 3), np.uint8)).save(src / "train/cat/0001.jpg", quality=75)
    write_sha256sums(src)
    return "0001.jpg"


def _cifar_not_an_image(src: Path) -> str:
    (src / "train/dog/0000.jpg").write_bytes(b"not a jpeg")
    write_sha256sums(src)
    return "0000.jpg"


def _cifar_unlisted(src: Path) -> str:
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(src / "train/frog/0002.jpg", quality=75)
    return "0002.jpg"


def _cifar_changed(src: Path) -> str:
    path = src / "train/ship/0000.jpg"
    path.write_bytes(path.read_bytes() + b"x")
    return "0000.jpg"


def _cifar_class_missing(src: Path) -> str:
    shutil.rmtree(src / "train/truck")
    write_sha256sums(src)
    return "truck"


CIFAR_CASES = {
    "one 28x28 JPEG among 32x32": (_one_28px_jpeg, "CIFAR-10 images must be 32x32 RGB, got 28x28"),
    "not an image": (_cifar_not_an_image, "not a readable image"),
    "file not in SHA256SUMS": (_cifar_unlisted, "not listed in SHA256SUMS"),
    "checksum mismatch": (_cifar_changed, "checksum mismatch"),
    "class folder missing": (_cifar_class_missing, "class folder missing"),
}


@pytest.mark.parametrize("case", sorted(CIFAR_CASES))
def test_cifar10_source_bad_input(case, tmp_path):
    from lib.bias import cifar10c as cc

    make, problem = CIFAR_CASES[case]
    src = _cifar_src(tmp_path)
    named = make(src)
    before, out = snapshot(tmp_path), tmp_path / "out"
    cfg = cc.build_config(seed=0, n_train=10, n_valid=5, n_test=10, conflict_pct=10.0, severity=5)
    with pytest.raises(DataError) as err:
        cc.build(src, out, cfg)
    assert problem in str(err.value), str(err.value)
    assert Path(err.value.path).name == named and ".tmp-" not in str(err.value)
    assert snapshot(tmp_path) == before and not out.exists()
