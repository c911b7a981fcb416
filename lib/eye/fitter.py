"""One model setting fitted on a training part (:mod:`lib.eye.protocols` runs the nested selection around it):
standardization, SOM, k-means and networks fitted on the training part only; SOMs cached per (part, side)."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from lib.eye.cluster_net import ClusterNetwork
from lib.eye.som import SOMClassifier

#: model -> (clusters, network input) of the cluster-based networks and the features-only ablation
NETWORKS = {
    "cbnn": ("som", "features+onehot"),
    "cbnn_onehot": ("som", "onehot"),
    "cbnn_soft": ("som", "soft"),
    "cbnn_centroid": ("som", "centroid"),
    "cbnn_kmeans": ("kmeans", "onehot"),
    "net_features": ("none", "features"),
}


class Fitter:
    """Fits one model setting on a training part and returns test probabilities; SOMs cached per (part, side)."""

    def __init__(self, X, y, cfg, seed: int, n_classes: int, test: np.ndarray):
        """cfg: a :class:`lib.eye.protocols.EyeCVConfig`; test: (n,) bool, the images inner validation may score."""
        self.X, self.y, self.cfg, self.seed, self.c, self.test = X, y, cfg, seed, n_classes, test
        self.soms: dict = {}

    def som(self, key, tr, side: int) -> SOMClassifier:
        if (key, side) not in self.soms:
            self.soms[(key, side)] = SOMClassifier(replace(self.cfg.som, side=side), self.seed).fit(
                self.X[tr], self.y[tr], self.c
            )
        return self.soms[(key, side)]

    def proba(self, model: str, setting: dict, key, tr, te) -> np.ndarray:
        X, y, t = self.X, self.y, self.cfg.tuning
        if model == "som":
            pred = self.som(key, tr, setting["side"]).predict(X[te])
            return np.eye(self.c)[pred]
        if model in NETWORKS:
            clusters, inputs = NETWORKS[model]
            net_cfg = replace(self.cfg.cbnn, hidden=(setting["width"],))
            if clusters == "none":
                sc = StandardScaler().fit(X[tr])
                Xtr, Xte, cent, m = sc.transform(X[tr]), sc.transform(X[te]), None, None
            else:
                som = self.som(key, tr, setting["side"])
                Xtr, Xte, m = som.transform(X[tr]), som.transform(X[te]), setting["side"] ** 2
                cent = som.codebook if clusters == "som" else None
            net = ClusterNetwork(
                net_cfg,
                clusters,
                inputs,
                self.seed,
                n_clusters=m if clusters == "kmeans" else None,
                bandwidth_factor=setting.get("bandwidth", 1.0),
            )
            return net.fit(Xtr, y[tr], centroids=cent, n_classes=self.c).predict_proba(Xte)
        sc = StandardScaler().fit(X[tr])
        if model == "logreg":
            clf = LogisticRegression(C=setting["C"], max_iter=t.logreg_max_iter)
        elif model == "knn":
            clf = KNeighborsClassifier(n_neighbors=min(setting["k"], len(tr)))
        else:
            clf = MLPClassifier(
                hidden_layer_sizes=(setting["width"],),
                alpha=setting["alpha"],
                max_iter=t.mlp_max_iter,
                random_state=self.seed,
            )
        # the MLP fits in float32 (scikit-learn keeps the input's precision: half the time of float64)
        dtype = np.float32 if model == "mlp" else np.float64
        with warnings.catch_warnings():  # the MLP runs a fixed iteration budget (max_iter) by design
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(sc.transform(X[tr]).astype(dtype), y[tr])
        out = np.zeros((len(te), self.c))
        out[:, clf.classes_] = clf.predict_proba(sc.transform(X[te]).astype(dtype))
        return out
