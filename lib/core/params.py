"""Parameters: ``params.yaml`` defaults with a run's override file applied, checked against the schema.

Every load checks the files it reads (:mod:`lib.core.schema`): ``params.yaml`` in full (every key of every
section, types, ranges), an override file for what it names. A bad file is one :class:`ParamsError`
naming the file, ``section.key`` (or the line of a YAML syntax error) and the problem.
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

from lib.core import paths
from lib.core.schema import ParamsError, check_file, load_yaml

__all__ = ["ParamsError", "config", "load_params", "overrides", "read_checked"]

_CHECKED: dict[tuple, object] = {}


def read_checked(path: Path, *, partial: bool) -> dict:
    """The parameter file ``path`` as a dict, checked (the check is cached per file content)."""
    path = Path(path)
    stamp = (str(path), hashlib.sha256(path.read_bytes()).hexdigest(), partial)
    if stamp not in _CHECKED:
        params = load_yaml(path) or {}
        check_file(params, path, partial=partial)
        _CHECKED.clear() if len(_CHECKED) > 16 else None
        _CHECKED[stamp] = params
    return copy.deepcopy(_CHECKED[stamp])


def overrides(run: str) -> dict:
    """The override file of ``run`` (``params_real.yaml``, ``params_paper.yaml``) as a dict; {} for default."""
    if run not in paths.RUNS:
        raise ValueError(f"run must be one of {paths.RUNS}, got {run!r}")
    if run == "default":
        return {}
    path = getattr(paths, paths.OVERRIDES[run])
    return read_checked(path, partial=True) if path.exists() else {}


def load_params(section: str | None = None, run: str = "default") -> dict:
    """``params.yaml`` (optionally one section) with the run's override file applied section by section.

    The override files hold only what changes; a section they do not name keeps its defaults.
    """
    params = read_checked(paths.PARAMS, partial=False)
    for key, value in overrides(run).items():
        if isinstance(value, dict) and isinstance(params.get(key), dict):
            params[key] = {**params[key], **value}
        else:
            params[key] = value
    if section is None:
        return params
    if section not in params:
        raise ValueError(f"params section {section!r} not found; have {sorted(params)}")
    return params[section]


def config(cls, section: str, run: str = "default", **extra):
    """``cls(**params[section], **extra)``: a section maps one to one onto a dataclass config."""
    return cls(**load_params(section, run), **extra)
