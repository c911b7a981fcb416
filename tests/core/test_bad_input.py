"""Bad input for the reliability layer (issue 21), table-driven.

Each case builds one bad input, runs one action, and asserts ONE clear error: its type (``ParamsError`` for a
parameter file, ``DataError`` for data and weights), that the message starts with the file the user gave (never
a temporary copy) and names the problem; data cases also assert that nothing outside the dataset folder was
read (a planted link is refused before it is opened) and that nothing changed on disk.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

from lib.core import paths
from lib.core.checksums import DataError, check_verified, write_sha256sums, write_verified_marker
from lib.core.params import ParamsError, load_params
from lib.core.weights import checked_keras_h5


# ------------------------------------------------------------------------------------------------ parameters
@pytest.fixture
def params_copy(tmp_path, monkeypatch):
    """Copies of params.yaml / params_real.yaml / params_paper.yaml that the loaders read instead."""
    for name in ("PARAMS", "PARAMS_REAL", "PARAMS_PAPER"):
        src = getattr(paths, name)
        dst = tmp_path / src.name
        shutil.copyfile(src, dst)
        monkeypatch.setattr(paths, name, dst)
    return tmp_path


def _edit(file: Path, section: str, **changes) -> None:
    data = yaml.safe_load(file.read_text()) or {}
    data.setdefault(section, {}).update(changes)
    file.write_text(yaml.safe_dump(data, sort_keys=False))


def typo_key(d):
    _edit(d / "params.yaml", "nb02", epoch=10)
    return lambda: load_params("nb02"), "params.yaml: nb02.epoch", "unknown key (did you mean 'epochs'?)"


def negative_epochs(d):
    _edit(d / "params.yaml", "nb02", epochs=-3)
    return lambda: load_params("nb02"), "params.yaml: nb02.epochs", "must be >= 1, got -3"


def epochs_as_text(d):
    _edit(d / "params.yaml", "nb02", epochs="six")
    return lambda: load_params("nb02"), "params.yaml: nb02.epochs", "expected an integer, got str 'six'"


def yaml_syntax_error_in_override(d):
    (d / "params_real.yaml").write_text((d / "params_real.yaml").read_text() + "\nnb02:\n  pooling: [cls\n")
    return lambda: load_params("nb02", run="real"), "params_real.yaml: line ", "YAML syntax error"


def typo_in_override_section(d):
    _edit(d / "params_real.yaml", "nb02", epoch=10)
    return lambda: load_params("nb02", run="real"), "params_real.yaml: nb02.epoch", "did you mean 'epochs'?"


def unknown_section(d):
    _edit(d / "params_real.yaml", "nb2", epochs=10)
    return lambda: load_params(run="real"), "params_real.yaml: nb2", "unknown section (did you mean 'nb02'?)"


def wrong_choice(d):
    _edit(d / "params.yaml", "nb04", stem="cifr")
    return lambda: load_params("nb04"), "params.yaml: nb04.stem", "must be one of ['cifar', 'standard']"


def nested_typo(d):
    data = yaml.safe_load((d / "params.yaml").read_text())
    data["nb03"]["som"]["sigmaa"] = 1.0
    (d / "params.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return lambda: load_params("nb03"), "params.yaml: nb03.som.sigmaa", "did you mean 'sigma'?"


def ablation_typo(d):
    _edit(d / "params_real.yaml", "nb02", ablations={"x": {"learning_rat": 0.1}})
    return lambda: load_params("nb02", run="real"), "params_real.yaml: nb02.ablations.x.learning_rat", "did you mean"


def exponent_without_point(d):
    _edit(d / "params.yaml", "nb02", learning_rate="1e-3")
    return lambda: load_params("nb02"), "params.yaml: nb02.learning_rate", "write it with a decimal point"


def missing_key(d):
    data = yaml.safe_load((d / "params.yaml").read_text())
    del data["nb04"]["seeds"]
    (d / "params.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return lambda: load_params("nb04"), "params.yaml: nb04", "missing key(s) seeds"


def arxiv_config_typo(d):
    """The module CLIs load their section through the same checked loader (here lib.arxiv's Config)."""
    from lib.arxiv import experiment

    _edit(d / "params_real.yaml", "nb02", epoch=10)
    return lambda: experiment.load_config("real"), "params_real.yaml: nb02.epoch", "did you mean 'epochs'?"


PARAMS_CASES = [
    typo_key,
    negative_epochs,
    epochs_as_text,
    yaml_syntax_error_in_override,
    typo_in_override_section,
    unknown_section,
    wrong_choice,
    nested_typo,
    ablation_typo,
    exponent_without_point,
    missing_key,
    arxiv_config_typo,
]


@pytest.mark.parametrize("case", PARAMS_CASES, ids=[c.__name__ for c in PARAMS_CASES])
def test_bad_parameters_are_one_clear_params_error(params_copy, case):
    action, where, problem = case(params_copy)
    with pytest.raises(ParamsError) as err:
        action()
    message = str(err.value)
    assert isinstance(err.value, ValueError)
    assert message.startswith(f"{params_copy / where}") or message.startswith(where), message
    assert problem in message, message


def test_module_cli_with_a_typo_prints_the_file_key_and_problem(tmp_path):
    """``python -m lib.arxiv.embed --run real`` (the embed command, formerly ``lib.arxiv.encoder embed``) with
    ``epoch: 10`` in params_real.yaml (the issue's case)."""
    bad = tmp_path / "params_real.yaml"
    shutil.copyfile(paths.PARAMS_REAL, bad)
    _edit(bad, "nb02", epoch=10)
    driver = tmp_path / "driver.py"
    driver.write_text(
        textwrap.dedent(
            f"""
            import sys
            from pathlib import Path
            from lib.core import paths
            paths.PARAMS_REAL = Path({str(bad)!r})
            from lib.arxiv import embed
            sys.exit(embed.main(["--run", "real"]))
            """
        )
    )
    out = subprocess.run(
        [sys.executable, str(driver)], env={**os.environ, "PYTHONPATH": str(paths.ROOT)}, capture_output=True, text=True
    )
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert last == f"lib.core.schema.ParamsError: {bad}: nb02.epoch: unknown key (did you mean 'epochs'?)", last


# ------------------------------------------------------------------------------------------------ verified folders
def _digest(folder: Path) -> dict:
    return {
        p.relative_to(folder).as_posix(): (
            p.is_symlink(),
            hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() and not p.is_symlink() else "",
        )
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture
def verified(tmp_path):
    """A verified folder (SHA256SUMS + marker) and a secret file outside it."""
    folder = tmp_path / "data"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "0_1_1.png").write_bytes(b"\x89PNG" + bytes(range(200)))
    (folder / "100.dat").write_bytes(np.arange(500, dtype=np.int16).tobytes())
    write_sha256sums(folder)
    write_verified_marker(folder)
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"secret")
    return folder, secret


def planted_symlink(folder, secret):
    link = folder / "a" / "9_1_1.png"
    link.symlink_to(secret)
    return link, "a symbolic link inside a verified folder: refused"


def planted_symlink_over_a_listed_file(folder, secret):
    victim = folder / "a" / "0_1_1.png"
    victim.unlink()
    victim.symlink_to(secret)
    return victim, "a symbolic link inside a verified folder"


def planted_symlinked_folder(folder, secret):
    (folder / "b").symlink_to(secret.parent)
    return folder / "b", "a symbolic link inside a verified folder"


def unlisted_file(folder, secret):
    extra = folder / "a" / "7_1_1.png"
    extra.write_bytes(b"\x89PNG extra")
    return extra, "not listed in SHA256SUMS: not part of the verified import"


def same_size_change(folder, secret):
    victim = folder / "100.dat"
    data = bytearray(victim.read_bytes())
    data[7] ^= 0xFF
    victim.write_bytes(bytes(data))
    return victim, "changed since the folder was verified: the copy changed"


def same_size_change_mtime_kept(folder, secret):
    """Size, mtime and inode all kept (edited in place, mtime restored): a small folder is rehashed in full."""
    victim = folder / "100.dat"
    st = victim.stat()
    with open(victim, "r+b") as fh:
        fh.seek(11)
        fh.write(b"\x00\x7f")
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (victim.stat().st_ino, victim.stat().st_size, victim.stat().st_mtime_ns) == (
        st.st_ino,
        st.st_size,
        st.st_mtime_ns,
    )
    return victim, "changed since the folder was verified"


def listed_file_deleted(folder, secret):
    (folder / "100.dat").unlink()
    return folder / "100.dat", "missing or changed since the folder was verified"


def marker_removed(folder, secret):
    (folder / ".verified.json").unlink()
    return folder, "not a verified import"


def checksum_list_edited(folder, secret):
    sums = folder / "SHA256SUMS"
    sums.write_text(sums.read_text().replace("100.dat", "101.dat"))
    return sums, "changed since the folder was verified"


FOLDER_CASES = [
    planted_symlink,
    planted_symlink_over_a_listed_file,
    planted_symlinked_folder,
    unlisted_file,
    same_size_change,
    same_size_change_mtime_kept,
    listed_file_deleted,
    marker_removed,
    checksum_list_edited,
]


@pytest.mark.parametrize("case", FOLDER_CASES, ids=[c.__name__ for c in FOLDER_CASES])
def test_verified_folder_bad_input(verified, case, monkeypatch):
    folder, secret = verified
    named, problem = case(folder, secret)
    before = _digest(folder)
    opened = []
    real_open = open

    def spy(file, *args, **kwargs):
        opened.append(Path(file).resolve() if not isinstance(file, int) else file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spy)
    with pytest.raises(DataError) as err:
        check_verified(folder)
    monkeypatch.undo()
    assert str(err.value).startswith(f"{named}: "), str(err.value)
    assert problem in str(err.value), str(err.value)
    assert secret.resolve() not in opened, "a file outside the folder was read"
    assert _digest(folder) == before


def test_large_folder_checks_stat_and_rehashes_on_demand(verified, monkeypatch):
    """Above AUTO_REHASH_BYTES the check is size + mtime + inode (as DVC); rehash=True (or REPRO_REHASH=1) reads all."""
    from lib.core import checksums

    folder, secret = verified
    monkeypatch.setattr(checksums, "AUTO_REHASH_BYTES", 10)
    same_size_change_mtime_kept(folder, secret)
    assert check_verified(folder) == 2  # undetectable by stat alone (documented)
    with pytest.raises(DataError, match="changed since the folder was verified"):
        check_verified(folder, rehash=True)
    monkeypatch.setenv("REPRO_REHASH", "1")
    with pytest.raises(DataError, match="changed since the folder was verified"):
        check_verified(folder)


def test_rewritten_with_the_same_content_passes(verified):
    """A file recreated with identical bytes (e.g. by ``dvc checkout``: new inode and mtime) is still verified."""
    folder, _ = verified
    victim = folder / "100.dat"
    data = victim.read_bytes()
    victim.unlink()
    victim.write_bytes(data)
    assert check_verified(folder, rehash=False) == 2


# the package loaders use the same check (a planted link in a DisEnt build, a tampered fundus image)
def test_symlink_in_a_verified_disent_build_is_refused(tmp_path):
    from lib.bias import data as bd

    root = bd.generate(tmp_path / "biased", seed=1, n_train=20, n_valid=10, n_test=10, datasets=["cmnist"])
    secret = tmp_path / "outside.png"
    shutil.copyfile(next((root / "cmnist" / "test").rglob("*.png")), secret)
    link = root / "cmnist" / "5pct" / "align" / "0" / "999_0_0.png"
    link.symlink_to(secret)
    with pytest.raises(DataError, match="a symbolic link inside a verified folder") as err:
        bd.load(root, "cmnist", "5pct", "train")
    assert Path(err.value.path) == link


def test_tampered_fundus_image_of_the_same_size_is_refused(tmp_path):
    from lib.eye import data as eye_data
    from lib.eye import synth

    root = synth.generate(tmp_path / "eye", seed=1, n_per_class=2, size=48, progress=False)
    victim = sorted(root.rglob("*.jpg"))[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x55
    victim.write_bytes(bytes(data))
    with pytest.raises(DataError, match="changed since the folder was verified") as err:
        eye_data.check_import(root)
    assert Path(err.value.path) == victim


# ------------------------------------------------------------------------------------------------ weights (.h5)
def _keras_h5(path: Path) -> Path:
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"Conv1", b"Conv_1"]
        f.create_group("Conv1").attrs["weight_names"] = [b"Conv1/kernel:0"]
        f["Conv1"].create_dataset("Conv1/kernel:0", data=np.zeros((3, 3, 3, 8), np.float32))
        f.create_group("Conv_1")
    return path


def truncated_h5(tmp):
    path = _keras_h5(tmp / "w.h5")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path, "unreadable HDF5 weights file (truncated file)"


def not_hdf5(tmp):
    path = tmp / "w.h5"
    path.write_bytes(b"\x80\x04\x95" + b"\0" * 600)  # a pickle header
    return path, "not an HDF5 file (no HDF5 signature)"


def foreign_hdf5(tmp):
    import h5py

    path = tmp / "w.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.arange(4))
    return path, "without Keras 'layer_names': not a Keras weights file"


def other_models_weights(tmp):
    return _keras_h5(tmp / "w.h5"), "Keras weights of another model: no layer(s) block_16_project"


def empty_h5(tmp):
    (tmp / "w.h5").write_bytes(b"")
    return tmp / "w.h5", "empty weights file"


H5_CASES = [truncated_h5, not_hdf5, foreign_hdf5, other_models_weights, empty_h5]


@pytest.mark.parametrize("case", H5_CASES, ids=[c.__name__ for c in H5_CASES])
def test_bad_weights_file_is_one_data_error_naming_it(tmp_path, case):
    path, problem = case(tmp_path)
    with pytest.raises(DataError) as err:
        checked_keras_h5(path, expect_layers=("Conv1", "block_16_project"))
    assert str(err.value).startswith(f"{path}: "), str(err.value)
    assert problem in str(err.value), str(err.value)


@pytest.mark.slow
def test_truncated_keras_cache_file_is_named_by_the_eye_extractor(tmp_path, monkeypatch):
    """The eye extractor opens its ImageNet weights through the checked loader (the Keras cache: alpha 1.0)."""
    from lib.eye import features

    cache = tmp_path / "keras" / "models"
    cache.mkdir(parents=True)
    bad = cache / features._keras_name(1.0, 224)
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    cfg = features.FeatureConfig(weights="imagenet", alpha=1.0, image_size=160, batch_size=8)
    with pytest.raises(DataError) as err:
        features.build_extractor(cfg, seed=0)
    assert str(err.value).startswith(f"{bad}: unreadable HDF5 weights file"), str(err.value)
