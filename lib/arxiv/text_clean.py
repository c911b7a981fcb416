"""Text normalisation and arXiv category codes for notebook 02.

The paper (Sec. 4.1.2) lower-cases titles and abstracts and removes "service
characters (punctuation and the like)". We make that precise:

1. lower-case (Unicode ``str.lower``);
2. every character that is not a Unicode letter, digit or whitespace (punctuation,
   LaTeX ``$ \\ { } ^ _``, symbols) is replaced by a space, so ``"well-known"``
   becomes ``"well known"`` rather than ``"wellknown"``;
3. runs of whitespace (including the snapshot's line breaks) collapse to one space,
   leading/trailing spaces are stripped.

The model input is ``clean(title) + " " + clean(abstract)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

_NON_WORD = re.compile(r"[^\w\s]|_", flags=re.UNICODE)
_SPACES = re.compile(r"\s+", flags=re.UNICODE)

#: arXiv archives, current and legacy (https://arxiv.org/category_taxonomy and the
#: pre-2009 archives that still appear in old records' category lists).
ARXIV_ARCHIVES = frozenset(
    {
        "astro-ph",
        "cond-mat",
        "cs",
        "econ",
        "eess",
        "gr-qc",
        "hep-ex",
        "hep-lat",
        "hep-ph",
        "hep-th",
        "math",
        "math-ph",
        "nlin",
        "nucl-ex",
        "nucl-th",
        "physics",
        "q-bio",
        "q-fin",
        "quant-ph",
        "stat",
        # legacy archives
        "acc-phys",
        "adap-org",
        "alg-geom",
        "ao-sci",
        "atom-ph",
        "bayes-an",
        "chao-dyn",
        "chem-ph",
        "cmp-lg",
        "comp-gas",
        "dg-ga",
        "funct-an",
        "mtrl-th",
        "patt-sol",
        "plasm-ph",
        "q-alg",
        "solv-int",
        "supr-con",
    }
)
#: archives whose subject classes are two upper-case letters (``math.AG``, ``cs.LG``, ...)
_UPPER_SUBJECT = frozenset({"cs", "econ", "eess", "math", "nlin", "q-bio", "q-fin", "stat"})
_UPPER_RE = re.compile(r"^[A-Z]{2}$")
_LOWER_RE = re.compile(r"^[a-z]{2,}(-[a-z]{2,})?$|^[A-Z]{2}$")


def clean_text(text: str) -> str:
    """Lower-case, punctuation/special characters -> space, whitespace collapsed.

    >>> clean_text("Calculation of $\\\\gamma\\\\gamma$-production, (NLO)!")
    'calculation of gamma gamma production nlo'
    """
    if not isinstance(text, str):
        raise TypeError(f"clean_text expects str, got {type(text).__name__}")
    text = _NON_WORD.sub(" ", text.lower())
    return _SPACES.sub(" ", text).strip()


def model_input(title: str, abstract: str) -> str:
    """The text the models see: ``clean(title) + " " + clean(abstract)``."""
    return f"{clean_text(title)} {clean_text(abstract)}".strip()


def model_inputs(titles: Iterable[str], abstracts: Iterable[str]) -> list[str]:
    """Vectorised :func:`model_input` over two equal-length sequences -> list of n strings."""
    titles, abstracts = list(titles), list(abstracts)
    if len(titles) != len(abstracts):
        raise ValueError(f"titles ({len(titles)}) and abstracts ({len(abstracts)}) differ in length")
    return [model_input(t, a) for t, a in zip(titles, abstracts)]


def is_arxiv_category(code: str) -> bool:
    """True for a well-formed arXiv category code of a known archive.

    ``hep-th``, ``math.AG``, ``cond-mat.str-el``, ``astro-ph.CO``, ``physics.atom-ph``: True;
    ``Physics``, ``math.ag``, ``foo.BAR``, ``cs.``: False.
    """
    if not isinstance(code, str) or not code:
        return False
    archive, dot, subject = code.partition(".")
    if archive not in ARXIV_ARCHIVES:
        return False
    if not dot:
        return True
    if archive in _UPPER_SUBJECT:
        return bool(_UPPER_RE.match(subject))
    return bool(_LOWER_RE.match(subject))


def primary_category(categories: str) -> str:
    """First entry of the space-separated ``categories`` field (the paper's target).

    >>> primary_category("hep-ph hep-ex")
    'hep-ph'
    """
    parts = str(categories).split()
    if not parts:
        raise ValueError("empty categories field")
    return parts[0]


def primary_categories(categories: Iterable[str]) -> np.ndarray:
    """Vectorised :func:`primary_category`: (n,) strings -> (n,) object array."""
    return np.array([primary_category(c) for c in categories], dtype=object)


def paper_inputs(titles: Iterable[str], abstracts: Iterable[str]) -> list[str]:
    """The paper's model input: ``title + " # " + abstract``, whitespace collapsed, nothing else changed.

    (Its Kaggle ``arxiv_data.csv`` was already lower-cased with punctuation stripped.)

    >>> paper_inputs(["a  Title"], ["line one\\nline two"])
    ['a Title # line one line two']
    """
    titles, abstracts = list(titles), list(abstracts)
    if len(titles) != len(abstracts):
        raise ValueError(f"titles ({len(titles)}) and abstracts ({len(abstracts)}) differ in length")
    return [f"{' '.join(t.split())} # {' '.join(a.split())}" for t, a in zip(titles, abstracts)]
