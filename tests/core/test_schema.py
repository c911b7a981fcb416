"""The parameter schema (lib.core.schema): every section of every parameter file is valid under every run,
and each section's schema matches its dataclass config one to one (drift between the two is caught here)."""

from __future__ import annotations

import dataclasses
import importlib

import pytest
import yaml

from lib.core import paths, schema
from lib.core.params import load_params, overrides

RUNS = ("default", "real", "paper")


def _variants(run: str) -> list[tuple[str, str]]:
    """(notebook key, variant) of every variant section in the run's override file."""
    out = []
    for name in overrides(run):
        for key in paths.NOTEBOOK_IDS:
            if name.startswith(f"{key}_") and name != "nb02_paper_smoke":
                out.append((key, name[len(key) + 1 :]))
    return out


@pytest.mark.parametrize("run", RUNS)
def test_every_section_is_valid_under_every_run(run):
    params = load_params(run=run)  # raises ParamsError naming file, section.key and problem
    for section in params:
        base, spec = schema.section_schema(section)
        # the merged section also passes the full check (params.yaml + overrides: nothing missing)
        partial = base != section or section not in yaml.safe_load(paths.PARAMS.read_text())
        schema.check_mapping(params[section], spec, paths.PARAMS, section, partial=partial)


@pytest.mark.parametrize("run", ["real", "paper"])
def test_every_variant_section_applies_to_its_notebook(run):
    from lib.core.runner import notebook_parameters

    for key, variant in _variants(run):
        notebook_parameters(key, run, variant)


def test_every_params_section_has_a_schema():
    for file in (paths.PARAMS, paths.PARAMS_REAL, paths.PARAMS_PAPER):
        for section in yaml.safe_load(file.read_text()) or {}:
            schema.section_schema(section)


# sections that map one to one onto a dataclass: the schema is read from its source; here the dataclass is
# imported and compared, and the section's keys must be exactly the dataclass's fields
DATACLASS_SECTIONS = {name: sch for name, sch in schema.SECTIONS.items() if isinstance(sch, schema.FromDataclass)} | {
    f"nb03.{key}": sch for key, sch in schema.SECTIONS["nb03"].fields.items() if isinstance(sch, schema.FromDataclass)
}


@pytest.mark.parametrize("name", sorted(DATACLASS_SECTIONS))
def test_schema_fields_equal_the_dataclass_fields(name):
    sch = DATACLASS_SECTIONS[name]
    cls = getattr(importlib.import_module(sch.module), sch.name)
    assert [f.name for f in dataclasses.fields(cls)] == [n for n, _, _ in schema.dataclass_fields(sch.module, sch.name)]
    section, *key = name.split(".")
    values = yaml.safe_load(paths.PARAMS.read_text())[section]
    for k in key:
        values = values[k]
    if values is None:  # nb03.control_features: null (allowed: lib.core.schema.NULLABLE)
        return
    required = {f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING}
    assert required <= set(values) <= {f.name for f in dataclasses.fields(cls)}


def test_the_dataclass_configs_accept_the_default_sections():
    """The schema and the configs agree: a section that passes the schema builds its dataclass."""
    for name in ("data_arxiv", "data_biased", "data_cifar10c", "nb02", "nb04"):
        sch = schema.SECTIONS[name]
        cls = getattr(importlib.import_module(sch.module), sch.name)
        cls(**load_params(name))
