"""Tests of lib.arxiv.text_clean: exact cleaning outputs, category codes, primary category."""

import pytest

from lib.arxiv.text_clean import (
    clean_text,
    is_arxiv_category,
    model_input,
    model_inputs,
    primary_categories,
    primary_category,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hello, World!", "hello world"),
        ("Calculation of $\\gamma\\gamma$-production, (NLO)!", "calculation of gamma gamma production nlo"),
        ("  Line one\n  line   two\t", "line one line two"),
        ("well-known X_1 = 2.5%", "well known x 1 2 5"),
        ("Schrödinger's ÉQUATION", "schrödinger s équation"),
        ("[hep-th] {a}^{b} & c/d", "hep th a b c d"),
        ("", ""),
        ("!!!", ""),
    ],
)
def test_clean_text_exact(raw, expected):
    assert clean_text(raw) == expected


def test_clean_text_rejects_non_string():
    with pytest.raises(TypeError):
        clean_text(None)


def test_model_input_is_clean_title_plus_abstract():
    assert model_input("A Title.", "  The abstract;\n it ends.") == "a title the abstract it ends"
    assert model_inputs(["T1", "T2"], ["a.", "b!"]) == ["t1 a", "t2 b"]
    with pytest.raises(ValueError):
        model_inputs(["T1"], ["a", "b"])


@pytest.mark.parametrize(
    "code",
    [
        "hep-th",
        "hep-ph",
        "gr-qc",
        "astro-ph",
        "math.AG",
        "cs.LG",
        "cond-mat.str-el",
        "astro-ph.CO",
        "physics.atom-ph",
        "q-bio.PE",
        "q-fin.ST",
        "stat.ML",
        "math-ph",
        "cond-mat",
        "nlin.CD",
        "eess.SP",
        "econ.EM",
        "solv-int",
        "cmp-lg",
    ],
)
def test_valid_categories(code):
    assert is_arxiv_category(code)


@pytest.mark.parametrize(
    "code", ["", "Physics", "math.ag", "foo.BAR", "cs.", "cs.LGX", "hep_th", "HEP-TH", "cond-mat.Str-el", "biology"]
)
def test_invalid_categories(code):
    assert not is_arxiv_category(code)


def test_primary_category_is_first_entry():
    assert primary_category("hep-ph hep-ex") == "hep-ph"
    assert primary_category("  math.AG  math.NT") == "math.AG"
    assert primary_categories(["a b", "c"]).tolist() == ["a", "c"]
    with pytest.raises(ValueError):
        primary_category("   ")


def test_paper_inputs_title_hash_abstract_whitespace_collapsed():
    from lib.arxiv.text_clean import paper_inputs

    assert paper_inputs(["a  Title"], ["line one\nline  two "]) == ["a Title # line one line two"]
