"""Vocabulary and sampling for the embedded synthetic arXiv generator (notebook 02).

Synthetic abstracts are word sequences drawn from three pools:

- ``GENERIC``: academic filler shared by every class ("we", "show", "method", ...);
- a *group* pool shared by related classes (e.g. hep-th / hep-ph / gr-qc / hep-ex /
  hep-lat / nucl-th share "gauge", "quark", "lagrangian", ...), which makes these
  classes genuinely confusable, as on arXiv;
- a small *class* pool of words typical of that category only.

Class sizes follow a Zipf law (imbalanced), so the category distribution looks like
the real one. :func:`synthetic_records` draws records in the Kaggle snapshot schema from a
:class:`SynthConfig` (the params.yaml section ``data_arxiv``, one to one). Nothing here reads or
writes files; :mod:`lib.arxiv.data` writes the records in the Kaggle JSON-lines format.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

GENERIC = (
    "we study the problem of a new approach based on results show that this paper present method "
    "model analysis propose using general framework case also can which these first both provide "
    "approach two three recent data show derive obtain find investigate novel standard simple "
    "various different large small high low order number function system structure properties "
    "effect effects role evidence within between under over via towards"
).split()

GROUPS: dict[str, list[str]] = {
    "hep": (
        "gauge quark lagrangian symmetry boson fermion coupling field theory string loop "
        "scattering amplitude renormalization supersymmetry higgs neutrino hadron lattice qcd "
        "spacetime curvature black hole energy mass cross section collider"
    ).split(),
    "astro": (
        "galaxy galaxies star stars stellar cluster redshift luminosity telescope survey "
        "emission halo dark matter cosmological supernova accretion disk observations solar "
        "spectra radio xray"
    ).split(),
    "condmat": (
        "lattice electron spin phase transition magnetic superconducting temperature "
        "crystal band insulator phonon doping quantum hall graphene transport conductivity "
        "magnetization ordered disorder"
    ).split(),
    "math": (
        "theorem prove proof space algebra group manifold operator equation bounded finite "
        "infinite prime polynomial integral dimension category lemma conjecture variety "
        "measure"
    ).split(),
    "ml": (
        "learning neural network training classification dataset algorithm features "
        "optimization inference prediction deep gradient kernel regression supervised "
        "representation benchmark accuracy loss"
    ).split(),
    "bio": (
        "protein cell cells gene species population evolution neuron neurons brain "
        "dynamics fitness selection genome molecular biological"
    ).split(),
    "fin": ("market price prices volatility stock returns risk portfolio trading financial option asset").split(),
}

#: (arXiv category code, group, class-specific words). 28 real category codes.
CLASSES: list[tuple[str, str, list[str]]] = [
    ("astro-ph", "astro", "cosmic microwave background pulsar quasar".split()),
    ("hep-ph", "hep", "phenomenology lhc decay mixing parton".split()),
    ("hep-th", "hep", "brane duality conformal holographic moduli".split()),
    ("quant-ph", "condmat", "qubit entanglement decoherence teleportation photon".split()),
    ("gr-qc", "hep", "gravitational waves einstein relativity cosmological constant".split()),
    ("cond-mat.str-el", "condmat", "hubbard kondo correlated fermi liquid".split()),
    ("cond-mat.mtrl-sci", "condmat", "thin films alloy oxide dft".split()),
    ("math.AG", "math", "curves sheaves schemes moduli divisor".split()),
    ("cs.LG", "ml", "reinforcement generalization stochastic minibatch overfitting".split()),
    ("cond-mat.mes-hall", "condmat", "quantum dot nanowire tunneling mesoscopic".split()),
    ("math.NT", "math", "diophantine modular forms primes zeta".split()),
    ("hep-ex", "hep", "detector measured luminosity events tevatron".split()),
    ("cond-mat.stat-mech", "condmat", "entropy fluctuation equilibrium ising brownian".split()),
    ("math.PR", "math", "random walk brownian martingale stochastic".split()),
    ("stat.ML", "ml", "bayesian posterior sparse estimator lasso".split()),
    ("cs.CV", "ml", "image images segmentation pixel convolutional".split()),
    ("nucl-th", "hep", "nuclei nuclear nucleon heavy ion".split()),
    ("math.CO", "math", "graph graphs combinatorial permutations coloring".split()),
    ("astro-ph.CO", "astro", "inflation baryon acoustic clustering lensing".split()),
    ("cs.CL", "ml", "language text translation word sentence".split()),
    ("hep-lat", "hep", "lattice simulations monte carlo wilson".split()),
    ("math.AP", "math", "elliptic parabolic sobolev pde regularity".split()),
    ("cond-mat.supr-con", "condmat", "cuprate pairing superconductor vortex".split()),
    ("q-bio.PE", "bio", "epidemic mutation ecological predator".split()),
    ("astro-ph.SR", "astro", "convection asteroseismology magnetic sunspot".split()),
    ("cs.AI", "ml", "planning agents reasoning knowledge logic".split()),
    ("q-bio.NC", "bio", "spiking synaptic cortex neural coding".split()),
    ("q-fin.ST", "fin", "econophysics heavy tails correlations time series".split()),
]


def class_sizes(n_records: int, n_classes: int, zipf_exponent: float, min_per_class: int) -> np.ndarray:
    """Zipf-imbalanced class sizes ``(n_classes,)`` summing exactly to ``n_records``.

    Size of rank r is proportional to ``r ** -zipf_exponent`` with a floor of
    ``min_per_class``; rounding leftovers go to the largest classes.
    """
    if not 2 <= n_classes <= len(CLASSES):
        raise ValueError(f"n_classes must be in [2, {len(CLASSES)}], got {n_classes}")
    if n_records < n_classes * min_per_class:
        raise ValueError(f"n_records={n_records} < n_classes * min_per_class = {n_classes * min_per_class}")
    weights = np.arange(1, n_classes + 1, dtype=float) ** (-float(zipf_exponent))
    extra = n_records - n_classes * min_per_class
    sizes = min_per_class + np.floor(weights / weights.sum() * extra).astype(int)
    sizes[: n_records - sizes.sum()] += 1
    return sizes


def sample_words(
    rng: np.random.Generator, n_words: int, group: str, own: list[str], p_own: float, p_group: float
) -> list[str]:
    """``n_words`` words: class-specific with prob p_own, group-shared with p_group, else generic."""
    pools = (own, GROUPS[group], GENERIC)
    which = rng.choice(3, size=n_words, p=[p_own, p_group, 1.0 - p_own - p_group])
    return [pools[k][rng.integers(len(pools[k]))] for k in which]


def sentences(words: list[str], rng: np.random.Generator) -> str:
    """Glue words into capitalised sentences of 8-16 words with punctuation (so cleaning matters)."""
    out, i = [], 0
    while i < len(words):
        k = int(rng.integers(8, 17))
        chunk = words[i : i + k]
        i += k
        text = " ".join(chunk)
        if len(chunk) > 4 and rng.random() < 0.3:
            text = text.replace(" ", ", ", 1)
        out.append(text[:1].upper() + text[1:] + ".")
    return " ".join(out)


@dataclass(frozen=True)
class SynthConfig:
    """The params.yaml section ``data_arxiv`` (one field per key; the values live only there).

    label_noise: probability that the primary category is swapped for another class of the
    same group (ambiguous papers); cross_list: probability of a second (cross-listed) category;
    the last ``n_rare_classes`` classes get only ``rare_class_size`` records each (like the real
    tail of arXiv categories, to exercise the rare-category policy).
    """

    seed: int
    n_records: int
    n_classes: int
    n_rare_classes: int
    rare_class_size: int
    zipf_exponent: float
    min_per_class: int
    p_own: float
    p_group: float
    label_noise: float
    cross_list: float

    def as_dict(self) -> dict:
        return asdict(self)


def synthetic_records(cfg: SynthConfig) -> list[dict]:
    """Deterministic synthetic records in the Kaggle snapshot schema (list of ``cfg.n_records`` dicts)."""
    if cfg.n_classes < 20:
        raise ValueError(f"n_classes must be >= 20 (real arXiv codes), got {cfg.n_classes}")
    if not 0 <= cfg.n_rare_classes <= cfg.n_classes - 2:
        raise ValueError(f"n_rare_classes must be in [0, n_classes - 2], got {cfg.n_rare_classes}")
    rng = np.random.default_rng(cfg.seed)
    classes = CLASSES[: cfg.n_classes]
    n_common = cfg.n_classes - cfg.n_rare_classes
    sizes = np.concatenate(
        [
            class_sizes(
                cfg.n_records - cfg.n_rare_classes * cfg.rare_class_size, n_common, cfg.zipf_exponent, cfg.min_per_class
            ),
            np.full(cfg.n_rare_classes, cfg.rare_class_size, dtype=int),
        ]
    )
    labels = rng.permutation(np.repeat(np.arange(cfg.n_classes), sizes))
    by_group: dict[str, list[int]] = {}
    for k, (_, group, _) in enumerate(classes):
        by_group.setdefault(group, []).append(k)
    records = []
    for i, k in enumerate(labels):
        code, group, own = classes[k]
        n_abs = int(rng.integers(30, 60))
        title = sample_words(rng, int(rng.integers(6, 12)), group, own, 2 * cfg.p_own, cfg.p_group)
        abstract = sample_words(rng, n_abs, group, own, cfg.p_own, cfg.p_group)
        primary = code
        siblings = [j for j in by_group[group] if j != k]
        if siblings and rng.random() < cfg.label_noise:
            primary = classes[siblings[rng.integers(len(siblings))]][0]
        cats = [primary]
        if siblings and rng.random() < cfg.cross_list:
            other = classes[siblings[rng.integers(len(siblings))]][0]
            cats.append(other if other != primary else code)
        records.append(
            {
                "id": f"2001.{i + 1:05d}",
                "submitter": "Synthetic Author",
                "authors": "A. Synthetic, B. Generated",
                "title": " ".join(title).capitalize(),
                "comments": f"{int(rng.integers(4, 40))} pages",
                "journal-ref": None,
                "doi": None,
                "report-no": None,
                "categories": " ".join(dict.fromkeys(cats)),
                "license": None,
                "abstract": "  " + sentences(abstract, rng) + "\n",
                "versions": [{"version": "v1", "created": "Wed, 1 Jan 2020 00:00:00 GMT"}],
                "update_date": "2020-01-01",
                "authors_parsed": [["Synthetic", "A.", ""], ["Generated", "B.", ""]],
            }
        )
    return records
