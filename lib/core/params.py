"""Parameters: ``params.yaml`` defaults with a run's override file applied."""

from __future__ import annotations

import yaml

from lib.core import paths


def overrides(run: str) -> dict:
    """The override file of ``run`` (``params_real.yaml``, ``params_paper.yaml``) as a dict; {} for default."""
    if run not in paths.RUNS:
        raise ValueError(f"run must be one of {paths.RUNS}, got {run!r}")
    if run == "default":
        return {}
    path = getattr(paths, paths.OVERRIDES[run])
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def load_params(section: str | None = None, run: str = "default") -> dict:
    """``params.yaml`` (optionally one section) with the run's override file applied section by section.

    The override files hold only what changes; a section they do not name keeps its defaults.
    """
    params = yaml.safe_load(paths.PARAMS.read_text()) or {}
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
