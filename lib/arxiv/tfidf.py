"""TF-IDF + logistic regression baseline on the same split as the BERT head (notebook 02).

Word uni- and bigrams on the cleaned text (:func:`lib.arxiv.text_clean.model_input`), sublinear
tf, vocabulary fitted on the training part only; multinomial logistic regression
(lbfgs, L2, ``C``). Deterministic: no randomness in either step.
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline


def make_model(max_features: int = 50000, ngram_max: int = 2, C: float = 10.0, max_iter: int = 1000) -> Pipeline:
    """An unfitted TfidfVectorizer -> LogisticRegression pipeline."""
    if ngram_max not in (1, 2, 3):
        raise ValueError(f"ngram_max must be one of (1, 2, 3), got {ngram_max!r}")
    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, ngram_max), max_features=max_features, sublinear_tf=True, min_df=1),
        LogisticRegression(C=C, max_iter=max_iter),
    )


def fit_predict_proba(texts_train, y_train, texts_test, n_classes: int, **kwargs) -> np.ndarray:
    """Fit on (texts_train, y_train) and return probabilities (n_test, n_classes).

    Columns follow labels 0..n_classes-1 (a class absent from training gets probability 0).
    """
    model = make_model(**kwargs).fit(list(texts_train), np.asarray(y_train))
    proba = model.predict_proba(list(texts_test))
    out = np.zeros((proba.shape[0], n_classes))
    out[:, model.classes_] = proba
    return out
