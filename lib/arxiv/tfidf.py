"""TF-IDF baselines on the same split as the BERT head, tuned on the validation part (notebook 02).

Word uni- and bigrams of the model input, sublinear tf, vocabulary fitted on the training part
only, then one of :data:`MODELS`:

- ``logreg``: multinomial logistic regression (lbfgs, L2), strength ``C``;
- ``linear_svm``: one-vs-rest linear SVM (``LinearSVC``), strength ``C``; its decision values are the
  class scores (they rank the classes; they are not probabilities);
- ``complement_nb``: complement naive Bayes, smoothing ``alpha``.

:func:`tune` fits each value of a model's grid on the training part and keeps the one with the best
validation accuracy (ties: the first in the grid), the same budget for every model. Deterministic.
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.svm import LinearSVC

MODELS = ("logreg", "linear_svm", "complement_nb")


def make_model(kind: str, value: float, *, max_features: int, ngram_max: int) -> Pipeline:
    """An unfitted TfidfVectorizer -> classifier pipeline; ``value`` is C (logreg, linear_svm) or alpha (NB)."""
    if ngram_max not in (1, 2, 3):
        raise ValueError(f"ngram_max must be one of (1, 2, 3), got {ngram_max!r}")
    if kind == "logreg":
        clf = LogisticRegression(C=value, max_iter=2000)
    elif kind == "linear_svm":
        clf = LinearSVC(C=value, max_iter=5000)
    elif kind == "complement_nb":
        clf = ComplementNB(alpha=value)
    else:
        raise ValueError(f"kind must be one of {MODELS}, got {kind!r}")
    vec = TfidfVectorizer(ngram_range=(1, ngram_max), max_features=max_features, sublinear_tf=True, min_df=1)
    return make_pipeline(vec, clf)


def class_scores(model: Pipeline, texts, n_classes: int) -> np.ndarray:
    """Scores (n, n_classes) of a fitted pipeline: probabilities, or decision values for the SVM.

    Columns follow labels 0..n_classes-1; a class absent from training gets -inf (never ranked first).
    """
    texts = list(texts)
    clf = model[-1]
    raw = model.predict_proba(texts) if hasattr(clf, "predict_proba") else model.decision_function(texts)
    raw = np.asarray(raw, dtype=float)
    if raw.ndim == 1:  # a binary SVM gives one column: the score of classes_[1]
        raw = np.stack([-raw, raw], axis=1)
    out = np.full((raw.shape[0], n_classes), -np.inf)
    out[:, clf.classes_] = raw
    return out


def tune(
    kind: str, grid, texts_train, y_train, texts_val, y_val, n_classes: int, *, max_features: int, ngram_max: int
) -> tuple[float, dict[float, float]]:
    """(best value, {value: validation accuracy}) over ``grid`` (fit on the training part only)."""
    scores = {}
    for value in grid:
        model = make_model(kind, value, max_features=max_features, ngram_max=ngram_max)
        model.fit(list(texts_train), np.asarray(y_train))
        pred = class_scores(model, texts_val, n_classes).argmax(1)
        scores[float(value)] = float(np.mean(pred == np.asarray(y_val)))
    best = max(scores, key=lambda v: (scores[v], -list(scores).index(v)))
    return best, scores


def fit_scores(
    kind: str, value: float, texts_train, y_train, texts_test, n_classes: int, *, max_features: int, ngram_max: int
) -> np.ndarray:
    """Fit on (texts_train, y_train) and return test scores (n_test, n_classes)."""
    model = make_model(kind, value, max_features=max_features, ngram_max=ngram_max)
    model.fit(list(texts_train), np.asarray(y_train))
    return class_scores(model, texts_test, n_classes)
