import gzip
import shutil

import numpy as np
import pytest
from PIL import Image

from lib.bias import data as bd
from lib.bias import synth as digits
from lib.core import paths
from lib.core.checksums import DataError, read_sha256sums, write_sha256sums
from tests.conftest import needs_shared

MNIST = paths.shared_data("mnist")


def idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("biased") / "biased"
    bd.generate(root, seed=3, n_train=40, n_valid=10, n_test=20)
    return root


def test_read_idx_roundtrip_and_errors(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(arr)))
    assert np.array_equal(bd.read_idx(tmp_path / "a.gz"), arr)
    (tmp_path / "t.gz").write_bytes(gzip.compress(idx_bytes(arr)[:-5]))
    with pytest.raises(DataError, match="t.gz: truncated"):
        bd.read_idx(tmp_path / "t.gz")
    (tmp_path / "m.gz").write_bytes(gzip.compress(b"\x01\x02\x08\x01" + bytes(8)))
    with pytest.raises(DataError, match="magic"):
        bd.read_idx(tmp_path / "m.gz")
    (tmp_path / "g.gz").write_bytes(gzip.compress(idx_bytes(arr))[:40])
    with pytest.raises(DataError, match="g.gz"):
        bd.read_idx(tmp_path / "g.gz")


def test_parse_labels():
    assert bd.parse_labels("x/align/3/17_3_3.png") == (3, 3)
    assert bd.parse_labels("test/0/5_0_7.png") == (0, 7)
    with pytest.raises(DataError, match="nolabels.png: file name has no"):
        bd.parse_labels("a/b/nolabels.png")


def test_assign_bias_exact_counts():
    y = np.arange(200) % 10
    b = bd.assign_bias(y, np.random.default_rng(0), 5.0)
    assert (b != y).sum() == 10 and b.min() >= 0 and b.max() <= 9
    u = bd.assign_bias(y, np.random.default_rng(0), None)
    assert u.shape == y.shape and 0 < (u == y).sum() < 60


def test_generated_layout_and_loader(tiny):
    assert (tiny / "cmnist" / "5pct" / "align").is_dir() and (tiny / "cmnist" / "test").is_dir()
    assert (tiny / "cdigits" / "5pct" / "valid" / "0").is_dir()  # cifar10c-style nested valid
    assert any((tiny / "cmnist" / "5pct" / "valid").glob("*.png"))  # cmnist-style flat valid
    for ds in bd.DATASETS:
        train = bd.load(tiny, ds, "5pct", "train")
        assert train.images.shape == (40, 28, 28, 3) and train.images.dtype == np.uint8
        assert (~train.aligned).sum() == 2  # 5% of 40
        assert np.bincount(train.target, minlength=10).tolist() == [4] * 10
        al, cf = bd.load(tiny, ds, "5pct", "align"), bd.load(tiny, ds, "5pct", "conflict")
        assert al.aligned.all() and not cf.aligned.any()
        assert len(bd.load(tiny, ds, "5pct", "valid")) == 10 and len(bd.load(tiny, ds, "5pct", "test")) == 20


def test_cmnist_pixels_carry_the_bias_colour(tiny):
    sp = bd.load(tiny, "cmnist", "5pct", "train")
    for img, b in zip(sp.images[:10], sp.bias[:10]):
        bright = img.reshape(-1, 3)[img.reshape(-1, 3).sum(1).argmax()] / 255.0
        assert np.allclose(bright / bright.max(), digits.PALETTE[b] / digits.PALETTE[b].max(), atol=0.06)


def test_same_seed_same_bytes(tmp_path, tiny):
    bd.generate(tmp_path / "again", seed=3, n_train=40, n_valid=10, n_test=20)
    assert read_sha256sums(tmp_path / "again" / "SHA256SUMS") == read_sha256sums(tiny / "SHA256SUMS")
    bd.generate(tmp_path / "other", seed=4, n_train=40, n_valid=10, n_test=20)
    assert read_sha256sums(tmp_path / "other" / "SHA256SUMS") != read_sha256sums(tiny / "SHA256SUMS")


def test_bad_files_in_layout(tmp_path, tiny):
    root = tmp_path / "copy"
    shutil.copytree(tiny, root)
    test0 = root / "cmnist" / "test" / "0"
    Image.fromarray(np.zeros((28, 28, 3), np.uint8)).save(test0 / "unlabelled.png")
    with pytest.raises(DataError, match="unlabelled.png: not listed in SHA256SUMS"):  # a verified build: refused
        bd.load(root, "cmnist", "5pct", "test")
    with pytest.raises(DataError, match="unlabelled.png"):  # the layout checks, as for an unverified folder
        bd.load(root, "cmnist", "5pct", "test", verify=False)
    (test0 / "unlabelled.png").unlink()
    (test0 / "9_0_1.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="9_0_1.png: not a readable image"):
        bd.load(root, "cmnist", "5pct", "test", verify=False)
    (test0 / "9_0_1.png").unlink()
    (test0 / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="notes.txt: unexpected file"):
        bd.load(root, "cmnist", "5pct", "test", verify=False)
    (test0 / "notes.txt").unlink()
    with pytest.raises(DataError, match="folder missing"):
        bd.load(root, "cifar10c", "5pct", "train")
    with pytest.raises(ValueError, match="split must be one of"):
        bd.load(root, "cmnist", "5pct", "training")


def test_bffhq_style_valid_folder(tmp_path):
    for folder in ("bffhq/0.5pct/align/0", "bffhq/valid", "bffhq/test"):  # a hand download: no checksum list
        (tmp_path / folder).mkdir(parents=True)
    img = Image.fromarray(np.full((8, 8, 3), 200, np.uint8))
    img.save(tmp_path / "bffhq/0.5pct/align/0/1_0_0.png")
    img.save(tmp_path / "bffhq/valid/2_1_0.png")
    img.save(tmp_path / "bffhq/test/3_0_1.png")
    v = bd.load(tmp_path, "bffhq", "0.5pct", "valid", verify=False)
    assert v.target.tolist() == [1] and v.bias.tolist() == [0] and v.images.shape == (1, 8, 8, 3)
    img.save(tmp_path / "bffhq/test/4_1_1.png")
    t = bd.load(tmp_path, "bffhq", "0.5pct", "test", verify=False)
    assert len(t) == 2
    kept = bd.disent_test_reading(t, "bffhq")  # DisEnt scores B-FFHQ on its bias-conflicting test images only
    assert kept.target.tolist() == [0] and kept.bias.tolist() == [1] and kept.files[0].name == "3_0_1.png"
    assert bd.disent_test_reading(t, "cmnist") is t
    with pytest.raises(DataError, match="release has only 0.5pct"):
        bd.load(tmp_path, "bffhq", "5pct", "train", verify=False)


def test_import_local_verifies_and_writes_nothing_on_mismatch(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    arr = np.zeros((3, 28, 28), np.uint8)
    (src / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(arr)))
    (src / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.array([1, 2, 3]))))
    write_sha256sums(src)
    out = bd.import_local(src, tmp_path / "ok")
    images, labels = bd.load_mnist(out)
    assert images.shape == (3, 28, 28) and labels.tolist() == [1, 2, 3]
    (src / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.array([1, 2, 4]))))
    with pytest.raises(DataError, match="checksum mismatch"):
        bd.import_local(src, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bad")]


def test_failed_build_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match="datasets must be among"):
        bd.generate(tmp_path / "x", n_train=10, n_valid=4, n_test=4, datasets=("cmnist", "svhn"))
    with pytest.raises(TypeError):
        bd.generate(tmp_path / "x", n_train=10, n_valid=4, n_test=4, sizes=3)  # not a data_biased key
    assert list(tmp_path.iterdir()) == []


def test_corruptions_differ_per_class():
    g = digits.render_digits(np.full(10, 8), seed=0)
    c = digits.corrupt(g, np.arange(10), np.random.default_rng(0)).astype(float)
    means = c.reshape(10, -1).mean(1)
    assert len(set(np.round(means, 3))) == 10
    with pytest.raises(ValueError):
        digits.corrupt(g[:1], np.array([10]), np.random.default_rng(0))


@needs_shared("mnist")
def test_real_mnist(tmp_path):
    out = bd.import_local(MNIST, tmp_path / "mnist")
    images, labels = bd.load_mnist(out, "t10k")
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    # the training images are present since the rebuilt file landed (byte-exact to the official IDX content)
    train_images, train_labels = bd.load_mnist(out, "train")
    assert train_images.shape == (60000, 28, 28) and train_labels.shape == (60000,)
    assert np.bincount(train_labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert round(float(train_images.mean()) / 255, 5) == 0.13066
    bd.build_from_mnist(
        out, tmp_path / "b", bd.build_config(seed=1, n_train=100, n_valid=20, n_test=40, datasets=["cmnist"])
    )
    tr = bd.load(tmp_path / "b", "cmnist", "5pct", "train")
    assert len(tr) == 100 and (~tr.aligned).sum() == 5
