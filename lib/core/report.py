"""The reproduction report: the papers' claims beside our numbers, generated.

    python -m lib.core.report      # writes report/REPORT.md and report/claims_vs_ours.csv

Inputs: ``claims.yaml`` (the papers' numbers, typed once, with their source)
and every ``metrics/<run>/<notebook>.json`` present. Nothing in the output is
typed by hand: each "ours" cell is read from a metrics file by the claim's
dotted ``metric`` key, and each verdict follows from the rule in ``verdict``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from lib.core import paths
from lib.core.io import atomic_write_text, read_json, to_markdown
from lib.core.provenance import data_kind

REQUIRED = ("id", "notebook", "claim", "paper_value", "source", "metric")


@dataclass(frozen=True)
class Claim:
    id: str
    notebook: str
    claim: str
    paper_value: Any
    source: str
    metric: str
    tolerance: float | None = None
    higher_is_better: bool | None = None
    note: str = ""
    #: set when our real-data setting cannot test the claim (e.g. random instead of ImageNet
    #: weights): the verdict then says "not comparable: <reason>" whatever the numbers.
    not_comparable: str = ""
    #: the protocol ``metric`` is measured under (e.g. "random 70/15/15 beat split (the paper's, optimistic)")
    paper_protocol: str = ""
    #: the same quantity under the field's honest protocol (dotted key), and that protocol's name
    honest_metric: str = ""
    honest_protocol: str = ""
    #: a variant run of the notebook (``runner --variant``): its metrics are ``metrics/<run>/<notebook>_<variant>.json``
    variant: str = ""


def load_claims(path: Path = paths.CLAIMS) -> list[Claim]:
    """Parse and validate ``claims.yaml`` (a ``claims:`` list)."""
    doc = yaml.safe_load(Path(path).read_text()) or {}
    items = doc.get("claims") or []
    claims, seen = [], set()
    for i, item in enumerate(items):
        missing = [k for k in REQUIRED if k not in item]
        if missing:
            raise ValueError(f"{path}: claim #{i} lacks {missing}")
        unknown = set(item) - set(Claim.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{path}: claim {item['id']!r} has unknown fields {sorted(unknown)}")
        if item["id"] in seen:
            raise ValueError(f"{path}: duplicate claim id {item['id']!r}")
        if item["notebook"] not in paths.NOTEBOOK_IDS.values():
            raise ValueError(
                f"{path}: claim {item['id']!r}: notebook must be one of {sorted(paths.NOTEBOOK_IDS.values())}"
            )
        seen.add(item["id"])
        claims.append(Claim(**item))
    return claims


def paper_values(notebook: str, path: Path = paths.CLAIMS) -> dict[str, Any]:
    """``{claim id: paper_value}`` of one notebook's claims: notebooks read the papers' numbers here,
    never retype them."""
    if notebook not in paths.NOTEBOOK_IDS.values():
        raise ValueError(f"notebook must be one of {sorted(paths.NOTEBOOK_IDS.values())}, got {notebook!r}")
    return {c.id: c.paper_value for c in load_claims(path) if c.notebook == notebook}


def lookup_ci(metrics: dict, dotted: str) -> tuple[float, float] | None:
    """The 95% CI of a metric, stored beside it as ``<key>_ci: [low, high]``, or as a half-width
    ``<key>_ci95`` around the value (notebook 04's seed t-intervals); None when absent, null or [null, null]."""
    try:
        ci = lookup(metrics, dotted + "_ci")
    except KeyError:
        try:
            half, value = lookup(metrics, dotted + "_ci95"), lookup(metrics, dotted)
        except KeyError:
            return None
        if not isinstance(half, (int, float)) or not isinstance(value, (int, float)) or isinstance(value, bool):
            return None
        return float(value) - float(half), float(value) + float(half)
    if ci is None:
        return None
    if not (isinstance(ci, (list, tuple)) and len(ci) == 2):
        raise ValueError(f"metric {dotted + '_ci'!r} must be [low, high], got {ci!r}")
    if ci[0] is None or ci[1] is None:  # an interval that could not be computed (e.g. fewer than two seeds)
        return None
    return float(ci[0]), float(ci[1])


def lookup(metrics: dict, dotted: str) -> Any:
    """``lookup({'a': {'b': 1}}, 'a.b') == 1``; raises KeyError naming the missing part."""
    node: Any = metrics
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"metric key {dotted!r}: no {part!r}")
        node = node[part]
    return node


def verdict(claim: Claim, ours: Any, kind: str, *, missing: bool = True) -> str:
    """The plain verdict for one claim and one run.

    - no value: "not measured" (metric absent) or "no value (see note)" (metric written as null,
      e.g. a target that a learning curve never reached)
    - synthetic data: "not comparable (synthetic data)"
    - a claim with ``not_comparable`` set: "not comparable: <reason>"
    - boolean claims: "reproduced" if equal, else "not reproduced"
    - text claims (a test's verdict word, e.g. "supported"): "reproduced" if equal, else "not reproduced (<ours>)"
    - numbers: "reproduced (within ±tol)" if |ours - paper| <= tolerance; "reproduced (ours higher
      by +d)" if ``higher_is_better`` and ours exceeds the paper by more than the tolerance (the gap
      stays visible); else "not reproduced (off by d)". No tolerance: "not comparable".
    """
    if ours is None:
        return "not measured" if missing else "no value (null in metrics; see note)"
    if kind == "synthetic":
        return "not comparable (synthetic data)"
    if claim.not_comparable:
        return f"not comparable: {claim.not_comparable}"
    if isinstance(claim.paper_value, bool) or isinstance(ours, bool):
        return "reproduced" if bool(ours) == bool(claim.paper_value) else "not reproduced"
    if isinstance(claim.paper_value, str) and isinstance(ours, str):
        return "reproduced" if ours == claim.paper_value else f"not reproduced ({ours})"
    if claim.tolerance is None:
        return "not comparable"
    diff = float(ours) - float(claim.paper_value)
    if abs(diff) <= claim.tolerance:
        return f"reproduced (within ±{claim.tolerance:g})"
    if claim.higher_is_better and diff > 0:
        return f"reproduced (ours higher by {diff:+.3g})"
    return f"not reproduced (off by {diff:+.3g})"


def combined_verdict(claim: Claim, paper_protocol: str, honest: str | None) -> str:
    """The verdict under the paper's protocol, qualified by the honest protocol's when there is one.

    "reproduced only under the paper's protocol (...)" when the paper-protocol verdict reproduces
    the claim and the honest one does not; otherwise both verdicts, the paper's first.
    """
    if honest is None:
        return paper_protocol
    name = claim.honest_protocol or "the honest protocol"
    where = f" ({claim.paper_protocol})" if claim.paper_protocol else ""
    if paper_protocol.startswith("reproduced") and honest.startswith("not reproduced"):
        return f"reproduced only under the paper's protocol{where}; {name}: {honest}"
    return f"paper's protocol{where}: {paper_protocol}; {name}: {honest}"


def _fmt_ci(value: Any, ci: tuple[float, float] | None) -> str:
    return _fmt(value) if ci is None or value is None else f"{_fmt(value)} [{ci[0]:.3g}, {ci[1]:.3g}]"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return f"{value:.4g}"
    return str(value)


def _describe(meta: dict) -> str:
    """One-line description of data/config/seeds/split from a metrics ``meta`` block."""
    bits = [str(meta.get("data", "unknown")), f"config {meta.get('config', '?')}"]
    if "seeds" in meta:
        bits.append(f"seeds {meta['seeds']}")
    if "split" in meta:
        bits.append(f"split: {meta['split']}")
    return "; ".join(bits)


def build_table(claims: list[Claim], metrics_root: Path = paths.METRICS) -> pd.DataFrame:
    """One row per (claim, run with a metrics file for the claim's notebook)."""
    rows = []
    for claim in claims:
        for run in paths.RUNS:
            mfile = metrics_root / run / f"{claim.notebook}{'_' + claim.variant if claim.variant else ''}.json"
            if not mfile.exists():
                continue
            metrics = read_json(mfile)
            kind, described = data_kind(run), _describe(metrics.get("meta", {}))
            values = {}
            for which, key in (("paper", claim.metric), ("honest", claim.honest_metric)):
                if not key:
                    continue
                try:
                    value, missing = lookup(metrics, key), False
                except KeyError:
                    value, missing = None, True
                if isinstance(value, dict):
                    raise ValueError(f"{mfile}: metric {key!r} is a mapping, not a value")
                values[which] = (value, lookup_ci(metrics, key), verdict(claim, value, kind, missing=missing))
            ours, ci, paper_verdict = values["paper"]
            honest = values.get("honest")
            rows.append(
                {
                    "claim": claim.id,
                    "notebook": claim.notebook,
                    "what": claim.claim,
                    "paper": _fmt(claim.paper_value),
                    "source": claim.source,
                    "ours": _fmt_ci(ours, ci),
                    "ours (honest protocol)": _fmt_ci(honest[0], honest[1]) if honest else "",
                    "run": run,
                    "variant": claim.variant,
                    "data / configuration": described,
                    "verdict": combined_verdict(claim, paper_verdict, honest[2] if honest else None),
                    "note": claim.note,
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "claim",
            "notebook",
            "what",
            "paper",
            "source",
            "ours",
            "ours (honest protocol)",
            "run",
            "variant",
            "data / configuration",
            "verdict",
            "note",
        ],
    )


def render(df: pd.DataFrame) -> str:
    """Markdown: per notebook, one row per claim (paper | ours per run | verdict), then the
    data/configuration of each run and the notes, each stated once."""
    lines = [
        "# Reproduction report: the papers' claims and our numbers",
        "",
        "Generated by `python -m lib.core.report` (the `report` stage of `dvc repro`) from `claims.yaml` and",
        "`metrics/<run>/*.json`. Do not edit by hand. Runs: `default` = embedded synthetic data (never",
        "comparable with the papers; it checks that the pipeline works), `real` = the real-data",
        "configuration (`python -m lib.core.runner <nb> --run real`), `paper` = the paper's own configuration",
        "(`--run paper`, where run). Numbers in brackets are 95% confidence intervals. Where a claim has an",
        "honest protocol beside the paper's (e.g. patients unseen in training), both are shown and the verdict",
        "says under which one the claim holds. The verdict is for the real run.",
        "",
    ]
    if df.empty:
        lines.append("No metrics files found yet.")
        return "\n".join(lines) + "\n"
    real = df[df.run == "real"]
    if len(real):
        counts = real.verdict.str.extract(r"^(reproduced|not reproduced|not comparable|not measured|no value)")[
            0
        ].value_counts()
        lines += ["Real-data verdicts over all claims: " + ", ".join(f"{k}: {v}" for k, v in counts.items()) + ".", ""]
    for nb, part in df.groupby("notebook", sort=True):
        rows = []
        for claim_id, c in part.groupby("claim", sort=False):
            by_run = {r["run"]: r for _, r in c.iterrows()}
            first = c.iloc[0]
            row = {
                "claim": claim_id,
                "what": first["what"],
                "paper": first["paper"],
                "source": first["source"],
                "ours (synthetic)": by_run["default"]["ours"] if "default" in by_run else "-",
                "ours (real, paper's protocol)": by_run["real"]["ours"] if "real" in by_run else "-",
            }
            if part["ours (honest protocol)"].astype(bool).any():
                row["ours (real, honest protocol)"] = (
                    by_run["real"]["ours (honest protocol)"] or "-" if "real" in by_run else "-"
                )
            if "paper" in by_run:
                row["ours (paper configuration)"] = by_run["paper"]["ours"]
            row["verdict (real)"] = by_run["real"]["verdict"] if "real" in by_run else "no real run yet"
            rows.append(row)
        lines += [f"## {nb}", "", to_markdown(pd.DataFrame(rows)), "", "Data and configuration:", ""]
        runs = part.drop_duplicates(["run", "variant"])[["run", "variant", "data / configuration"]]
        for run, variant, desc in runs.itertuples(index=False):
            lines.append(f"- `{run}`{f' ({variant})' if variant else ''}: {desc}")
        notes = part.drop_duplicates("claim")[["claim", "note"]]
        notes = notes[notes.note.astype(bool)]
        if len(notes):
            lines += ["", "Notes:", ""] + [f"- `{cid}`: {note}" for cid, note in notes.itertuples(index=False)]
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=paths.REPORT)
    args = parser.parse_args(argv)
    df = build_table(load_claims())
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "claims_vs_ours.csv", df.to_csv(index=False))
    atomic_write_text(args.out / "REPORT.md", render(df))
    print(f"[report] {len(df)} rows -> {args.out / 'REPORT.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
