"""lib.core.datacli: the one data command-line shape."""

import pytest

from lib.core import datacli
from lib.core.checksums import DataError


def _main(argv, calls, tmp_path):
    def generate(out):
        calls.append(("generate", out))
        return tmp_path

    def import_local(src, out):
        calls.append(("import", src, out))
        return tmp_path

    def fetch(out, allow_unverified=False):
        calls.append(("fetch", out, allow_unverified))
        if out == tmp_path / "bad":
            raise DataError(tmp_path / "bad" / "SHA256SUMS", "checksum mismatch")
        return tmp_path

    return datacli.main(
        argv, description="t", generate=generate, import_local=import_local, fetch=fetch, default_src=tmp_path / "src"
    )


def test_commands_and_defaults(tmp_path, capsys):
    calls = []
    assert _main(["generate"], calls, tmp_path) == 0
    assert _main(["import"], calls, tmp_path) == 0
    assert _main(["import", "--src", str(tmp_path / "x"), "--out", str(tmp_path / "o")], calls, tmp_path) == 0
    assert _main(["fetch", "--allow-unverified"], calls, tmp_path) == 0
    assert calls == [
        ("generate", None),
        ("import", tmp_path / "src", None),
        ("import", tmp_path / "x", tmp_path / "o"),
        ("fetch", None, True),
    ]


def test_bad_usage_and_data_error(tmp_path, capsys):
    calls = []
    with pytest.raises(SystemExit):
        _main(["generate", "--src", "x"], calls, tmp_path)
    with pytest.raises(SystemExit):
        _main(["import", "--allow-unverified"], calls, tmp_path)
    with pytest.raises(SystemExit):
        _main(["build"], calls, tmp_path)
    assert _main(["fetch", "--out", str(tmp_path / "bad")], calls, tmp_path) == 2
    assert "checksum mismatch" in capsys.readouterr().out
