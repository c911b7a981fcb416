"""Shared test helpers: the one marker for tests that need the real data copies in ``../shared/data``."""

from __future__ import annotations

import pytest

from lib.core import paths


def needs_shared(name: str, probe: str = "SHA256SUMS"):
    """Decorator: mark a test ``realdata`` and skip it when ``../shared/data/<name>/<probe>`` is absent."""
    present = (paths.shared_data(name) / probe).is_file()
    skip = pytest.mark.skipif(not present, reason=f"../shared/data/{name}/{probe} absent")

    def mark(test):
        return pytest.mark.realdata(skip(test))

    return mark
