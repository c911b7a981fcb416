"""The paper's Table 2: its layout per fold, what its values can be, and every model's readings against it.

- :func:`table2_consistency` / :func:`table2_fold_check`: the four per-class values cannot be one-vs-rest accuracies
  *if they come from one 4-class confusion matrix per fold* (then a class's one-vs-rest error is at most the total
  error, which is half the sum of the four class errors); four separate one-vs-rest classifiers, one per class, each
  with its own errors, escape this argument, so it rules out only the single-classifier reading.
- :func:`table2_vs_paper`: every model's three readings with their CIs against the paper's value, per class.
- :func:`per_class_table`: the paper's layout (fold rows, class columns, 'Avg.' row) of one run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

from lib.core.metrics import per_class_accuracy
from lib.eye.readings import READINGS

DEFINITIONS = ("recall", "one_vs_rest")

#: readings the paper's Table 2 may be (one-vs-rest accuracy is impossible: :func:`table2_consistency`)
PAPER_READINGS = ("recall", "confidence")


def paper_per_class(values: dict[str, float], notebook: str = "03_eye_mobilenet_som") -> dict[str, float]:
    """{class or 'mean': paper value} from the claims' ``{claim id: value}`` (ids ``nb03_acc_<class>``)."""
    prefix = "nb03_acc_"
    return {cid[len(prefix) :]: v for cid, v in values.items() if cid.startswith(prefix)}


def published_counts(values: dict, kaggle: dict[str, int], classes: list[str]) -> pd.DataFrame:
    """Class counts of the public Kaggle set beside the paper's (``values``: the claims' ``{claim id: value}``)."""
    paper = {c: values[f"nb03_count_{c}"] for c in classes}
    df = pd.DataFrame({"Kaggle eye_diseases_classification": kaggle, "paper (Sec. 2.1)": paper}).loc[classes]
    df.loc["sum of classes"] = df.sum()
    df.loc["total stated"] = [sum(kaggle.values()), values["nb03_count_total"]]
    return df


def table2_consistency(paper: dict[str, float], classes: list[str]) -> tuple[pd.DataFrame, str]:
    """Can the paper's per-class values be one-vs-rest accuracies? A class's one-vs-rest error (FN_c + FP_c) / N
    counts only errors that involve the class, so it cannot exceed the total error E; and every error is one FN and
    one FP, so E = (1/2) * sum_c (FN_c + FP_c) / N. Returns the check per class and a one-line conclusion."""
    err = {c: 1 - paper[c] for c in classes}
    total = 0.5 * sum(err.values())
    df = pd.DataFrame(
        {
            "paper value (%)": {c: 100 * paper[c] for c in classes},
            "one-vs-rest error if so (%)": {c: 100 * err[c] for c in classes},
            "total error these imply (%)": dict.fromkeys(classes, 100 * total),
            "possible (class error <= total)": {c: err[c] <= total for c in classes},
        }
    )
    bad = [c for c in classes if err[c] > total]
    if bad:
        text = (
            f"Read as one-vs-rest accuracies, the four values imply a total error of {100 * total:.2f}%, yet "
            + ", ".join(f"{c}'s own error is {100 * err[c]:.2f}%" for c in bad)
            + ": impossible under one confusion matrix, so Table 2 is not the one-vs-rest accuracy of one 4-class "
            "classifier."
        )
    else:
        text = f"The values are consistent with one-vs-rest accuracy (implied total error {100 * total:.2f}%)."
    return df, text


def paper_folds(values: dict) -> dict[str, list[float]]:
    """{class: the paper's ten Table 2 fold values (fractions)} from the claims' ``{claim id: value}``
    (ids ``nb03_folds_<class>``)."""
    prefix = "nb03_folds_"
    return {cid[len(prefix) :]: list(v) for cid, v in values.items() if cid.startswith(prefix)}


def count_candidates(values: dict, kaggle: dict[str, int], classes) -> dict[str, list[int]]:
    """{class: [the paper's count (claims ``nb03_count_<class>``), the Kaggle count]} (duplicates dropped)."""
    return {c: sorted({int(values[f"nb03_count_{c}"]), int(kaggle[c])}) for c in classes}


def count_recalls(n: int) -> np.ndarray:
    """Every recall k / n (k = 0..n) in % rounded to 2 decimals, as the paper prints them."""
    return np.round(100.0 * np.arange(n + 1) / n, 2)


def nearest_count_recall(v: float, sizes) -> str:
    """The count-based recall k/n nearest ``v`` (%) over the fold sizes ``sizes`` (one fold size: the smaller n on a
    tie), as "k/n = value"."""
    best = min((abs(count_recalls(n)[k] - v), n, k) for n in sizes for k in range(n + 1))
    _, n, k = best
    return f"{k}/{n} = {count_recalls(n)[k]:.2f}"


def fold_sizes(count: int, n_splits: int) -> list[int]:
    """The class sizes a stratified ``n_splits``-fold split gives a class of ``count`` images: floor and ceil."""
    return sorted({count // n_splits, -(-count // n_splits)})


def table2_fold_check(folds: dict[str, list[float]], counts: dict[str, list[int]], classes, n_splits: int):
    """The paper's Table 2 fold by fold against two readings.

    One-vs-rest: within a fold, class c's error 1 - v_c cannot exceed the fold's total error, which under that
    reading is half the sum of the four class errors. Count-based recall: with stratified ``n_splits``-fold CV a
    class of N images has floor(N/k) or ceil(N/k) images per fold (``counts``: the candidate N per class, e.g. the
    paper's and the Kaggle count), so a recall is k/n for one of those n; a value "fits" when some k/n printed to 2
    decimals equals it. ``chance`` is the share of all 2-decimal values in the fold values' range that fit by
    construction (how often a value fits by luck).

    Returns (per-fold DataFrame, {class: {"count_fits", "folds", "one_vs_rest_possible", "sizes", "chance"}}).
    """
    rows, summary = [], {}
    n_folds = len(next(iter(folds.values())))
    for k in range(n_folds):
        errs = {c: 1 - folds[c][k] for c in classes}
        total = 0.5 * sum(errs.values())
        for c in classes:
            sizes = sorted({n for N in counts[c] for n in fold_sizes(N, n_splits)})
            v = round(100 * folds[c][k], 2)
            fits = [n for n in sizes if v in set(count_recalls(n))]
            rows.append(
                {
                    "fold": k + 1,
                    "class": c,
                    "paper value (%)": v,
                    "class error (%)": 100 * errs[c],
                    "fold total error if one-vs-rest (%)": 100 * total,
                    "one-vs-rest possible": errs[c] <= total + 1e-12,
                    "images per fold (n)": "/".join(map(str, sizes)),
                    "nearest k/n (%)": nearest_count_recall(v, sizes),
                    "fits count-based recall": bool(fits),
                }
            )
    df = pd.DataFrame(rows)
    for c in classes:
        part = df[df["class"] == c]
        sizes = sorted({n for N in counts[c] for n in fold_sizes(N, n_splits)})
        lo, hi = np.floor(part["paper value (%)"].min()), np.ceil(part["paper value (%)"].max())
        grid = np.round(np.arange(lo * 100, hi * 100 + 1) / 100, 2)
        attainable = set().union(*[set(count_recalls(n)) for n in sizes])
        summary[c] = {
            "folds": int(len(part)),
            "count_fits": int(part["fits count-based recall"].sum()),
            "one_vs_rest_possible": int(part["one-vs-rest possible"].sum()),
            "sizes": sizes,
            "chance": float(np.mean([g in attainable for g in grid])),
        }
    return df, summary


def table2_fold_text(summary: dict, classes, n_splits: int) -> str:
    """Generated conclusion of :func:`table2_fold_check` (Markdown)."""
    n = sum(s["folds"] for s in summary.values())
    fits = sum(s["count_fits"] for s in summary.values())
    expect = sum(s["folds"] * s["chance"] for s in summary.values())
    bad = {
        c: s["folds"] - s["one_vs_rest_possible"] for c, s in summary.items() if s["one_vs_rest_possible"] < s["folds"]
    }
    sizes = "; ".join(f"{c} {'/'.join(map(str, summary[c]['sizes']))}" for c in classes)
    lines = [
        "- One-vs-rest: "
        + (
            ", ".join(
                f"{c}'s error exceeds the fold's total error in {k} of {summary[c]['folds']} folds"
                for c, k in bad.items()
            )
            + ": not the one-vs-rest accuracy of one 4-class confusion matrix per fold."
            if bad
            else "every fold value is possible as one-vs-rest accuracy."
        ),
        f"- Count-based recall: with stratified {n_splits}-fold CV the classes have {sizes} images per fold; "
        f"{fits} of the paper's {n} fold values equal a recall k/n printed to 2 decimals (by luck about "
        f"{expect:.1f} would: that share of 2-decimal values is attainable). "
        + (
            "The fold values are not count-based recalls on these folds; a mean probability (confidence) or an "
            "accuracy over another set (e.g. training images, or images of several folds) is not excluded."
            if fits <= max(1.0, 2 * expect)
            else "The fold values are consistent with count-based recall."
        ),
    ]
    return "\n".join(lines)


def fold_scores(y: np.ndarray, pred: np.ndarray, fold: np.ndarray, n_classes: int) -> dict[str, np.ndarray]:
    """Per-fold scores of one run: "accuracy" (k,), "recall" and "one_vs_rest" (k, c); images with fold < 0 are
    not in the protocol."""
    out = {"accuracy": [], "recall": [], "one_vs_rest": []}
    for k in np.unique(fold[fold >= 0]):
        idx = fold == k
        cm = confusion_matrix(y[idx], pred[idx], labels=list(range(n_classes)))
        pca = per_class_accuracy(cm)
        out["accuracy"].append(np.trace(cm) / cm.sum())
        out["recall"].append(pca["recall"])
        out["one_vs_rest"].append(pca["one_vs_rest"])
    return {key: np.asarray(v, dtype=float) for key, v in out.items()}


def per_class_table(scores: dict, classes: list[str], definition: str = "recall") -> pd.DataFrame:
    """Paper Table 2 layout: rows = folds 1..k and 'Avg.', columns = classes, values in %."""
    if definition not in DEFINITIONS:
        raise ValueError(f"definition must be one of {DEFINITIONS}, got {definition!r}")
    vals = 100.0 * scores[definition]
    df = pd.DataFrame(vals, columns=classes)
    df.insert(0, "Fold", [str(i + 1) for i in range(len(vals))])
    avg = pd.DataFrame([["Avg.", *np.nanmean(vals, axis=0)]], columns=df.columns)
    return pd.concat([df, avg], ignore_index=True).round(2)


def table2_vs_paper(read: dict, paper: dict[str, float], classes: list[str], label) -> pd.DataFrame:
    """Rows (model, reading), columns per class: ours (%) with its 95% CI and where the paper's value lies
    ('in CI', 'above', 'below'); ``label``: model -> display name."""
    rows = []
    for m, entry in read.items():
        for reading in READINGS:
            if reading not in entry:
                continue
            e = entry[reading]
            row = {
                "model": label(m),
                "reading": reading,
                "seeds": entry.get("n_seeds", 1),
                "CI resamples": entry.get("ci", ""),
            }
            inside = 0
            for c in [*classes, "mean"]:
                lo, hi = e[f"{c}_ci"]
                where = "in CI" if lo <= paper[c] <= hi else ("above" if paper[c] > hi else "below")
                inside += where == "in CI" and c != "mean"
                row[f"{c} (%)"] = f"{100 * e[c]:.2f} [{100 * lo:.2f}, {100 * hi:.2f}]"
                row[f"paper {c}"] = f"{100 * paper[c]:.2f} ({where})"
            row["classes with paper in CI"] = inside
            rows.append(row)
    return pd.DataFrame(rows)


def assumption_text(consistency_text: str, fold_text: str) -> str:
    """The impossibility argument stated with its assumption (Markdown)."""
    return (
        "*Assumption.* The argument below holds if the four per-class values of a fold come from *one* 4-class "
        "classifier's confusion matrix on that fold: then class c's one-vs-rest error (FN_c + FP_c) / N counts only "
        "errors that involve c, and every error is one false negative of its true class and one false positive of "
        "the predicted class, so the fold's total error is half the sum of the four class errors. Four separate "
        "one-vs-rest (binary) classifiers, one per class, each making its own errors, escape it: their errors "
        "need not add up to one matrix. So the check rules out one-vs-rest accuracy of the single 4-class network "
        "the paper describes, not one-vs-rest accuracy of four binary networks, which the paper does not "
        "describe.\n\n" + consistency_text + "\n\n" + fold_text
    )
