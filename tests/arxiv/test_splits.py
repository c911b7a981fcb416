"""Tests of lib.arxiv.splits: label encoding, rare-category policy, stratified split."""

import numpy as np
import pytest

from lib.arxiv.splits import encode_labels, stratified_split, subsample_stratified

CATS = ["a"] * 6 + ["b"] * 4 + ["c"] * 6 + ["d"] * 2 + ["e"] * 1 + ["f"] * 1


def test_encode_labels_exact_and_in_label_encoder_order():
    from sklearn.preprocessing import LabelEncoder

    cats = ["b"] * 4 + ["a"] * 6 + ["c"] * 6 + ["d"] * 2 + ["e"] * 1 + ["f"] * 1
    lab = encode_labels(cats, min_count=3, rare_policy="drop")
    assert lab.names == ["a", "b", "c"]
    assert lab.counts == [6, 4, 6]
    assert lab.keep.tolist() == [True] * 16 + [False] * 4
    assert lab.y.tolist() == [1] * 4 + [0] * 6 + [2] * 6
    kept = np.asarray(cats)[lab.keep]
    np.testing.assert_array_equal(lab.y, LabelEncoder().fit_transform(kept))  # the paper's codes
    assert (lab.n_rare_classes, lab.n_rare_records) == (3, 4)


def test_label_encoding_stable_under_row_order():
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(CATS))
    shuffled = [CATS[i] for i in perm]
    a = encode_labels(CATS, min_count=3)
    b = encode_labels(shuffled, min_count=3)
    assert a.names == b.names
    mapping_a = dict(zip(np.asarray(CATS)[a.keep], a.y))
    mapping_b = dict(zip(np.asarray(shuffled)[b.keep], b.y))
    assert mapping_a == mapping_b


def test_rare_policy_other_merges():
    lab = encode_labels(CATS, min_count=3, rare_policy="other")
    assert lab.names == ["a", "b", "c", "other"]
    assert lab.counts == [6, 4, 6, 4]
    assert lab.keep.all()


def test_rare_policy_validation():
    with pytest.raises(ValueError, match="rare_policy"):
        encode_labels(CATS, rare_policy="merge")
    with pytest.raises(ValueError, match="min_count"):
        encode_labels(CATS, min_count=2)


def test_stratified_split_exact_sizes_disjoint_and_seeded():
    y = np.repeat([0, 1, 2], [10, 5, 3])
    s = stratified_split(y, test_frac=0.2, val_frac=0.1, seed=1)
    allidx = np.concatenate([s["train"], s["val"], s["test"]])
    assert sorted(allidx.tolist()) == list(range(len(y)))
    # per class: test max(1, round(m*0.2)), val max(1, round(m*0.1))
    assert np.bincount(y[s["test"]]).tolist() == [2, 1, 1]
    assert np.bincount(y[s["val"]]).tolist() == [1, 1, 1]
    assert np.bincount(y[s["train"]]).tolist() == [7, 3, 1]
    s2 = stratified_split(y, test_frac=0.2, val_frac=0.1, seed=1)
    assert all(np.array_equal(s[k], s2[k]) for k in s)
    s3 = stratified_split(y, test_frac=0.2, val_frac=0.1, seed=2)
    assert not np.array_equal(s["test"], s3["test"])


def test_stratified_split_rejects_tiny_class():
    with pytest.raises(ValueError, match="too few"):
        stratified_split(np.array([0, 0, 0, 1, 1]), 0.2, 0.1)


def test_subsample_stratified_keeps_every_class():
    y = np.repeat([0, 1, 2], [50, 20, 2])
    idx = subsample_stratified(y, 20, seed=0)
    assert set(y[idx]) == {0, 1, 2}
    assert np.bincount(y[idx]).tolist() == [14, 6, 1]
    assert np.array_equal(idx, subsample_stratified(y, 20, seed=0))


def test_paper_split_80_20_monitor_is_test_val_carved_from_train_and_seeded():
    from lib.arxiv.splits import make_split

    y = np.repeat(np.arange(4), [10, 20, 30, 40])
    s = make_split(y, "paper_80_20", 0.2, 0.1, seed=777)
    assert len(s["test"]) == 20 and len(s["train"]) == 80
    np.testing.assert_array_equal(s["monitor"], s["test"])  # the paper's scheduler reads the test loss
    assert set(s["val"]) <= set(s["train"]) and not set(s["val"]) & set(s["tune"])
    assert np.bincount(y[s["val"]]).tolist() == [1, 2, 3, 4]  # 0.1 / 0.8 of each class's 8, 16, 24, 32 training rows
    np.testing.assert_array_equal(np.sort(np.concatenate([s["tune"], s["val"]])), s["train"])
    assert np.bincount(y[s["test"]]).tolist() == [2, 4, 6, 8]  # stratified
    assert not set(s["train"]) & set(s["test"])
    np.testing.assert_array_equal(s["test"], make_split(y, "paper_80_20", 0.2, 0.1, seed=777)["test"])
    with pytest.raises(ValueError, match="split"):
        make_split(y, "random", 0.2, 0.1, seed=0)


def test_cap_per_class_keeps_the_first_rows_in_file_order():
    from lib.arxiv.splits import cap_per_class

    cats = ["a", "b", "a", "a", "b", "c", "a"]
    assert cap_per_class(cats, 2).tolist() == [True, True, True, False, True, True, False]
    assert cap_per_class(cats, 0).all()
