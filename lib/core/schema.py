"""The parameter schema: every section of ``params.yaml`` and of the override files, checked when loaded.

One schema per section, in one place (:data:`SECTIONS`):

- a section that maps one to one onto a package dataclass (``nb02`` -> ``lib.arxiv.experiment.Config``, ...)
  takes its keys and types from that dataclass. The dataclass is read from its source file (``ast``), never
  imported, so checking parameters loads no numeric library and the core imports no paper package;
- the other sections have an explicit schema here (``nb01``, ``nb03``, ``data_ecg``, ``data_eye``,
  ``nb02_paper_smoke``), built from the same small vocabulary (:func:`INT`, :func:`FLOAT`, :func:`STR`, ...);
- ranges shared by every section come from the key's name (:data:`NAME_RULES`: ``epochs >= 1``,
  ``learning_rate > 0``, ``seed >= 0``, fractions in [0, 1], ...) and per-section ranges or choices from
  :data:`SECTION_RULES`.

A variant section of an override file (``nb04_cifar10c``) is checked against its notebook's schema. Override
files may name any subset of a section's keys; ``params.yaml`` must give every key.

Every problem is one :class:`ParamsError` (a ``ValueError``) naming the file, ``section.key`` and the
problem; an unknown key names the nearest valid one (``difflib``); a YAML syntax error names the file and line.

To add a parameter: add the field to the section's dataclass (or to its explicit schema below) and the key
to ``params.yaml``; ``tests/core/test_schema.py`` checks every section under every run.
"""

from __future__ import annotations

import ast
import difflib
import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from lib.core import paths


class ParamsError(ValueError):
    """A bad parameter file: the message names the file, where in it (``section.key`` or line) and the problem."""

    def __init__(self, file: Path | str, where: str, problem: str):
        self.file = Path(file)
        self.where = where
        self.problem = problem
        shown = self.file.relative_to(paths.ROOT) if self.file.is_relative_to(paths.ROOT) else self.file
        super().__init__(f"{shown}: {where}: {problem}" if where else f"{shown}: {problem}")


# ------------------------------------------------------------------------------------------------- the vocabulary
@dataclass(frozen=True)
class Spec:
    """What one value may be. kind: int | float | str | bool | list | dict | any."""

    kind: str
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    min_open: bool = False  # min itself excluded
    max_open: bool = False
    choices: tuple | None = None
    items: Spec | None = None  # list items
    fields: Mapping[str, Spec] | None = None  # a dict with these keys (all required in params.yaml)
    values: Spec | None = None  # a dict name -> value (e.g. nb02.ablations)
    optional: frozenset = frozenset()  # keys of ``fields`` that may be left out


def INT(min=None, max=None, **kw) -> Spec:
    return Spec("int", min=min, max=max, **kw)


def FLOAT(min=None, max=None, **kw) -> Spec:
    return Spec("float", min=min, max=max, **kw)


def STR(*choices, **kw) -> Spec:
    return Spec("str", choices=tuple(choices) or None, **kw)


def BOOL(**kw) -> Spec:
    return Spec("bool", **kw)


def LIST(items: Spec | None = None, **kw) -> Spec:
    return Spec("list", items=items, **kw)


def DICT(fields: Mapping[str, Spec] | None = None, *, values: Spec | None = None, optional=(), **kw) -> Spec:
    return Spec(
        "dict", fields=dict(fields) if fields is not None else None, values=values, optional=frozenset(optional), **kw
    )


ANY = Spec("any")


@dataclass(frozen=True)
class FromDataclass:
    """The schema of a dataclass read from its source file: ``module`` (dotted), ``name``; ``nested`` maps a
    field to a schema that replaces the one its annotation gives (e.g. a nested dataclass)."""

    module: str
    name: str
    nested: Mapping[str, Any] = field(default_factory=dict)


# annotation -> Spec (the annotation's text, as written in the dataclass)
_SIMPLE = {
    "int": "int",
    "float": "float",
    "str": "str",
    "bool": "bool",
    "list": "list",
    "dict": "dict",
    "tuple": "list",
}


def _from_annotation(text: str) -> Spec:
    text = text.replace(" ", "")
    nullable = False
    m = re.fullmatch(r"(?:typing\.)?Optional\[(.+)\]", text)
    if m:
        text, nullable = m.group(1), True
    parts = text.split("|")
    if "None" in parts:
        nullable = True
        parts = [p for p in parts if p != "None"]
    if len(parts) != 1:
        return Spec("any", nullable=nullable)
    base = re.sub(r"\[.*\]$", "", parts[0]).split(".")[-1].lower()
    kind = _SIMPLE.get(base)
    if kind is None:
        return Spec("any", nullable=nullable)
    items = None
    inner = re.fullmatch(r"\w+\[(\w+)(?:,\.\.\.)?\]", parts[0])
    if kind == "list" and inner and inner.group(1) in ("int", "float", "str", "bool"):
        items = Spec(_SIMPLE[inner.group(1)])
    return Spec(kind, nullable=nullable, items=items)


@functools.cache
def dataclass_fields(module: str, name: str) -> tuple[tuple[str, str, bool], ...]:
    """(field, annotation text, has a default) of the dataclass ``module.name``, read from its source file."""
    path = paths.ROOT / Path(*module.split(".")).with_suffix(".py")
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            out = []
            for stmt in node.body:
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                    ann = ast.unparse(stmt.annotation)
                    if ann.startswith(("ClassVar", "typing.ClassVar")):
                        continue
                    out.append((stmt.target.id, ann, stmt.value is not None))
            return tuple(out)
    raise LookupError(f"{path}: no class {name} (named in lib.core.schema.SECTIONS)")


def resolve(schema) -> Spec:
    """A :class:`Spec` (dict) from a schema entry: a Spec or a :class:`FromDataclass`."""
    if isinstance(schema, Spec):
        return schema
    if isinstance(schema, FromDataclass):
        fields_, optional = {}, set()
        for name, ann, has_default in dataclass_fields(schema.module, schema.name):
            nested = schema.nested.get(name)
            fields_[name] = resolve(nested) if nested is not None else _from_annotation(ann)
            if has_default:
                optional.add(name)
        return DICT(fields_, optional=optional)
    raise TypeError(f"not a schema: {schema!r}")


# ------------------------------------------------------------------------------------------------- the sections
_SOM = FromDataclass("lib.eye.som", "SOMConfig")

#: section -> schema. The one place parameters are described (see the module docstring).
SECTIONS: dict[str, Any] = {
    "data_ecg": DICT({"seed": INT(), "n_patients": INT(min=12), "duration_s": FLOAT(min=0, min_open=True)}),
    "data_arxiv": FromDataclass("lib.arxiv.synth", "SynthConfig"),
    "data_eye": DICT({"seed": INT(), "n_per_class": INT(min=1), "size": INT(min=32)}),
    "data_biased": FromDataclass("lib.bias.data", "BuildConfig"),
    "data_cifar10c": FromDataclass("lib.bias.cifar10c", "BuildConfig"),
    "nb01": DICT(
        {
            "seed": INT(),
            "data_source": STR("synthetic", "mitdb"),
            "task": STR("rhythm", "aami", "nonsinus"),
            "window_before": INT(min=1),
            "window_after": INT(min=1),
            "decimate": INT(min=1),
            "context_beats": INT(min=1),
            "peaks": STR("reference", "xqrs"),
            "filter_order": INT(min=1),
            "normalisation": STR(),
            "rr_features": STR("record", "raw", "past"),
            "max_train": INT(min=0),
            "max_val": INT(min=0),
            "max_test": INT(min=0),
            "grouped_validation": BOOL(),
            "epochs": INT(min=1),
            "batch_size": INT(min=1),
            "patience": INT(min=0),
            "filters": LIST(INT(min=1)),
            "lstm_units": INT(min=1),
            "feature_units": INT(min=1),
            "dropout": FLOAT(min=0, max=1, max_open=True),
            "learning_rate": FLOAT(min=0, min_open=True),
            "class_weight": STR(nullable=True),
            "early_stopping": STR("val_loss", "val_macro_f1", "val_nonsinus_ap"),
            "rf_trees": INT(min=1),
            "al_splits": LIST(STR("interpatient", "random")),
            "al_pool_max": INT(min=0),
            "al_val_max": INT(min=0),
            "al_test_max": INT(min=0),
            "al_seeds": LIST(INT(min=0)),
            "al_seed_size": INT(min=1),
            "al_batch": INT(min=1),
            "al_budget": INT(min=1),
            "al_epochs": INT(min=1),
            "saving_fraction": FLOAT(min=0, max=1, min_open=True),
            "bootstrap_samples": INT(min=0),
            "rhythm_study": DICT(
                {
                    "variants": LIST(LIST()),
                    "seeds": LIST(INT(min=0)),
                    "max_train": INT(min=0),
                    "epochs": INT(min=1),
                    "patience": INT(min=0),
                }
            ),
            "label_reading_models": LIST(STR()),
            "importance_study": DICT({"n_repeats": INT(min=1), "max_test": INT(min=0)}),
            "label_reading": STR("statement", "episode"),
            "al_strategies": LIST(
                STR("random", "entropy", "margin", "least_confidence", "bald", "odal", "odal_no_fuzzy")
            ),
            "aami_kinds": LIST(STR()),
            "aami_hgb": DICT({"iters": LIST(INT(min=1)), "inner_k": INT(min=2)}),
            "checks": DICT({"aami_without": LIST(STR()), "rhythm_without": LIST(STR()), "episode_min_s": FLOAT(min=0)}),
            "aami_targets": DICT({k: FLOAT(min=0, max=1) for k in ("s_se", "s_ppv", "v_se", "v_ppv")}),
            "floor": DICT(
                {
                    "windows": LIST(INT(min=2)),
                    "large": FLOAT(min=0, min_open=True),
                    "exclude_ectopic": BOOL(),
                    "ectopic_row": BOOL(),
                    "feature_sets": LIST(LIST(STR("rr", "irregularity", "robust"))),
                    "target_roc_auc": FLOAT(min=0, max=1),
                    "trees": INT(min=1),
                    "min_leaf": INT(min=1),
                    "inner_k": INT(min=2),
                }
            ),
            "sequence": DICT(
                {
                    "inputs": LIST(STR("rr", "irregularity", "morphology", "robust")),
                    "alt_inputs": LIST(STR("rr", "irregularity", "morphology", "robust")),
                    "seq_len": INT(min=2),
                    "units": LIST(INT(min=1)),  # a DS1 grid (lib.ecg.rhythm_grid.sequence_grid), with lr
                    "dense": INT(min=1),
                    "dropout": FLOAT(min=0, max=1, max_open=True),
                    "lr": LIST(FLOAT(min=0, min_open=True)),
                    "batch_size": INT(min=1),
                    "inner_k": INT(min=2),
                    "max_epochs": INT(min=1),
                    "patience": INT(min=1),
                    "smooth_epochs": INT(min=1),  # moving-mean window of the inner-CV PR-AUC (lib.ecg.rhythm)
                    "grid_on": STR("each_seed", "first_seed"),
                }
            ),
            "sequence_seeds": LIST(INT(min=0)),
            "headline_seeds": LIST(INT(min=0)),
            "patient_cv_folds": INT(min=2),
            "forest_al": DICT(
                {
                    "strategies": LIST(STR("random", "entropy", "odal", "odal_no_fuzzy")),
                    "seeds": LIST(INT(min=0)),
                    "seed_size": INT(min=1),
                    "batch": INT(min=1),
                    "budget": INT(min=1),
                    "trees": INT(min=1),
                    "val_size": INT(min=1),
                }
            ),
        }
    ),
    "nb02": FromDataclass("lib.arxiv.experiment", "Config"),
    "nb03": DICT(
        {
            "data_source": STR("synthetic", "eye", "eye_full"),
            "seed": INT(),
            "features": FromDataclass("lib.eye.features", "FeatureConfig"),
            "control_features": FromDataclass("lib.eye.features", "FeatureConfig"),  # or null (below)
            "models": LIST(STR()),
            "cv": FromDataclass("lib.eye.protocols", "CVConfig"),
            "copies": FromDataclass("lib.eye.copies", "CopyConfig"),
            "som": _SOM,
            "cbnn": FromDataclass("lib.eye.cluster_net", "CBNNConfig"),
            "tuning": FromDataclass("lib.eye.protocols", "TuneConfig"),
        }
    ),
    "nb04": FromDataclass("lib.bias.experiment", "ExperimentConfig"),
    # params_paper.yaml only: the paper-configuration smoke run of notebook 02 (lib.arxiv.paper_smoke)
    "nb02_paper_smoke": DICT(
        {
            "data": ANY,  # partial data_arxiv (below)
            "tokenizer_vocab_size": INT(min=100),
            "init_seed": INT(),
            "nb02": ANY,  # partial nb02 (below)
        }
    ),
}

#: sub-blocks whose items/values are partial sections: (section, key) -> (schema of each item/value, label)
PARTIAL_BLOCKS = {
    ("nb02", "ablations"): ("nb02", "values"),
    ("nb02_paper_smoke", "data"): ("data_arxiv", "self"),
    ("nb02_paper_smoke", "nb02"): ("nb02", "self"),
}

#: sections that may be null in a file (the key itself, e.g. ``nb03.control_features: null``)
NULLABLE = {("nb03", "control_features")}

#: ranges by key name, in every section and block (first match wins; numbers only)
NAME_RULES: tuple[tuple[str, dict], ...] = (
    (r"(^|_)seed$", {"min": 0}),
    (r"(^|_)epochs$", {"min": 1}),
    (r"^max_epochs$", {"min": 1}),
    (r"(^|_)batch(_size)?$", {"min": 1}),
    (r"learning_rate$", {"min": 0, "min_open": True}),
    (r"(^|_)frac$", {"min": 0, "max": 1, "max_open": True}),
    (r"^dropout$", {"min": 0, "max": 1, "max_open": True}),
    (r"_pct$", {"min": 0, "max": 100}),
    (r"(^|_)patience$", {"min": 0}),
    (r"max_length$", {"min": 1}),
    (r"^(n|max|min)_|_(max|samples|size|bootstrap|threads|trees|iter|units)$|^bootstrap$", {"min": 0}),
    (r"(^|_)width$", {"min": 0, "min_open": True}),
)

#: extra rules per section.key (choices, ranges the key's name does not give)
SECTION_RULES: dict[str, dict] = {
    "nb02.pooling": {"choices": ("cls", "mean")},
    "nb02.rare_policy": {"choices": ("drop", "other")},
    "nb02.split": {"choices": ("train_val_test", "paper_80_20")},
    "nb02.text_format": {"choices": ("clean", "paper")},
    "nb02.lr_schedule": {"choices": ("constant", "plateau")},
    "nb02.activation": {"choices": ("relu", "gelu", "tanh", "identity")},
    "nb02.test_frac": {"min": 0, "max": 1, "min_open": True, "max_open": True},
    "nb02.epochs": {"min": 1},
    "nb02.n_bootstrap": {"min": 0},
    "nb04.stem": {"choices": ("cifar", "standard")},
    "nb04.max_epochs": {"min": 1},
    "nb04.torch_threads": {"min": 1},
    "nb04.cka_samples": {"min": 2},
}


def _canonical(where: str) -> str:
    """``where`` with a variant section (``nb04_cifar10c.x``) named as its notebook's (``nb04.x``)."""
    section, _, rest = where.partition(".")
    if section not in SECTIONS:
        for base in paths.NOTEBOOK_IDS:
            if section.startswith(f"{base}_"):
                return f"{base}.{rest}" if rest else base
    return where


def _rules_for(where: str, key: str) -> dict:
    where = re.sub(r"\[\d+\]", "", _canonical(where))
    rules = {}
    for pattern, rule in NAME_RULES:
        if re.search(pattern, key):
            rules = dict(rule)
            break
    if where not in SECTION_RULES:  # a key inside a partial block (nb02.ablations.x.pooling): its section's rule
        parts = where.split(".")
        sections = [p for p in parts[:-1] if p in SECTIONS]
        where = f"{sections[-1]}.{key}" if sections else where
    rules.update(SECTION_RULES.get(where, {}))
    return rules


# ------------------------------------------------------------------------------------------------- checking
def _type_name(value) -> str:
    return "null" if value is None else type(value).__name__


def _check_value(value, spec: Spec, file: Path, where: str, *, partial: bool) -> None:
    spec = resolve(spec)
    key = where.rsplit(".", 1)[-1].split("[")[0]
    rules = _rules_for(where, key) if spec.kind in ("int", "float", "str") else {}
    if rules:
        spec = replace(spec, **{k: v for k, v in rules.items() if getattr(spec, k) in (None, False)})
    if value is None:
        if spec.nullable or spec.kind == "any":
            return
        raise ParamsError(file, where, f"must not be null (expected {spec.kind})")
    if spec.kind == "any":
        return
    if spec.kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            hint = ""
            if isinstance(value, str) and re.fullmatch(r"[-+]?\d+(\.\d*)?[eE][-+]?\d+", value.strip()):
                hint = f" (YAML reads {value} as text: write it with a decimal point, e.g. 1.0e-3)"
            raise ParamsError(
                file,
                where,
                f"expected {'an integer' if spec.kind == 'int' else 'a number'}, "
                f"got {_type_name(value)} {value!r}{hint}",
            )
        if spec.kind == "int" and not isinstance(value, int):
            raise ParamsError(file, where, f"expected an integer, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ParamsError(file, where, f"must be a finite number, got {value!r}")
        lo_bad = spec.min is not None and (value <= spec.min if spec.min_open else value < spec.min)
        hi_bad = spec.max is not None and (value >= spec.max if spec.max_open else value > spec.max)
        if lo_bad or hi_bad:
            lo = "" if spec.min is None else f"{'>' if spec.min_open else '>='} {spec.min:g}"
            hi = "" if spec.max is None else f"{'<' if spec.max_open else '<='} {spec.max:g}"
            raise ParamsError(file, where, f"must be {' and '.join(x for x in (lo, hi) if x)}, got {value!r}")
        return
    if spec.kind == "str":
        if not isinstance(value, str):
            raise ParamsError(file, where, f"expected a string, got {_type_name(value)} {value!r}")
        if spec.choices and value not in spec.choices:
            near = difflib.get_close_matches(value, spec.choices, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ParamsError(file, where, f"must be one of {list(spec.choices)}, got {value!r}{hint}")
        return
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise ParamsError(file, where, f"expected true or false, got {_type_name(value)} {value!r}")
        return
    if spec.kind == "list":
        if not isinstance(value, list):
            raise ParamsError(file, where, f"expected a list, got {_type_name(value)} {value!r}")
        if spec.items is not None:
            for i, item in enumerate(value):
                _check_value(item, spec.items, file, f"{where}[{i}]", partial=partial)
        return
    if spec.kind == "dict":
        if not isinstance(value, dict):
            raise ParamsError(file, where, f"expected a mapping (key: value lines), got {_type_name(value)} {value!r}")
        if spec.fields is not None:
            check_mapping(value, spec, file, where, partial=partial)
        if spec.values is not None:
            for name, item in value.items():
                _check_value(item, spec.values, file, f"{where}.{name}", partial=partial)
        return
    raise TypeError(f"unknown spec kind {spec.kind!r}")


def check_mapping(value: Mapping, spec: Spec, file: Path, where: str, *, partial: bool) -> None:
    """Check a mapping against a dict spec: unknown keys (nearest valid key named), missing keys, each value."""
    fields_ = spec.fields or {}
    for key in value:
        if key not in fields_:
            near = difflib.get_close_matches(str(key), list(fields_), n=1, cutoff=0.5)
            hint = f" (did you mean {near[0]!r}?)" if near else f" (valid keys: {', '.join(sorted(fields_))})"
            raise ParamsError(file, f"{where}.{key}", f"unknown key{hint}")
    if not partial:
        missing = [k for k in fields_ if k not in value and k not in spec.optional]
        if missing:
            raise ParamsError(file, where, f"missing key(s) {', '.join(missing)}")
    for key, item in value.items():
        sub = f"{where}.{key}"
        block = PARTIAL_BLOCKS.get((_canonical(where), key))
        if block is not None:
            _check_partial_block(item, block, file, sub)
            continue
        fspec = resolve(fields_[key])
        if (_canonical(where), key) in NULLABLE:
            fspec = replace(fspec, nullable=True)
        _check_value(item, fspec, file, sub, partial=partial)


def _check_partial_block(value, block: tuple[str, str], file: Path, where: str) -> None:
    target, how = block
    base, *path = target.split(".")
    spec = resolve(SECTIONS[base])
    for p in path:
        spec = resolve(_raw_field(base, p))
    label = target
    if how == "self":
        items = [(where, value)]
    elif how == "values":
        if not isinstance(value, dict):
            raise ParamsError(file, where, f"expected a mapping of name -> {label} overrides, got {value!r}")
        items = [(f"{where}.{k}", v) for k, v in value.items()]
    else:  # items
        if not isinstance(value, list):
            raise ParamsError(file, where, f"expected a list of {label} overrides, got {value!r}")
        items = [(f"{where}[{i}]", v) for i, v in enumerate(value)]
    for sub, item in items:
        if not isinstance(item, dict):
            raise ParamsError(file, sub, f"expected a mapping of {label} keys, got {item!r}")
        if how == "items":  # som_grid: a label plus som keys
            item = {k: v for k, v in item.items() if k != "label"}
        check_mapping(item, spec, file, sub, partial=True)


def _raw_field(section: str, key: str):
    sch = SECTIONS[section]
    if isinstance(sch, Spec):
        return sch.fields[key]
    return sch.nested.get(key) or _from_annotation(
        dict((n, a) for n, a, _ in dataclass_fields(sch.module, sch.name))[key]
    )


def section_schema(name: str) -> tuple[str, Spec]:
    """(the schema's section, its Spec) for a section name: itself, or ``<notebook>_<variant>``'s notebook."""
    if name in SECTIONS:
        return name, resolve(SECTIONS[name])
    for base in paths.NOTEBOOK_IDS:
        if name.startswith(f"{base}_") and base in SECTIONS:
            return base, resolve(SECTIONS[base])
    raise KeyError(name)


def check_file(params: Any, file: Path, *, partial: bool) -> None:
    """Check one loaded parameter file (``partial``: an override file naming only what changes)."""
    if params is None:
        return
    if not isinstance(params, dict):
        raise ParamsError(file, "", f"expected sections (name: mapping), got {_type_name(params)}")
    for name, value in params.items():
        try:
            base, spec = section_schema(str(name))
        except KeyError:
            near = difflib.get_close_matches(str(name), list(SECTIONS), n=1, cutoff=0.5)
            hint = f" (did you mean {near[0]!r}?)" if near else f" (sections: {', '.join(SECTIONS)})"
            raise ParamsError(file, str(name), f"unknown section{hint}") from None
        if not isinstance(value, dict):
            raise ParamsError(
                file, str(name), f"expected a mapping (key: value lines), got {_type_name(value)} {value!r}"
            )
        check_mapping(value, spec, file, str(name), partial=partial or base != name)


def load_yaml(file: Path) -> Any:
    """``yaml.safe_load`` of ``file``; a syntax error is a :class:`ParamsError` naming the file and line."""
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ParamsError(file, "", f"not UTF-8 text ({err.reason} at byte {err.start})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = " ".join(str(x) for x in (getattr(err, "context", None), getattr(err, "problem", None)) if x)
        raise ParamsError(file, where, f"YAML syntax error: {problem or err}") from None
