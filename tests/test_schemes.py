import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from galaxy_dl.errors import DataError, UsageError
from galaxy_dl.runs.schemes import Split, check_scoring, holdout


def test_stratified_holdout_keeps_class_proportions_and_is_seeded():
    y = np.array([0] * 27 + [1] * 11)  # the Golub training labels
    kept, held = holdout(Split("stratified", 0.2), y, None, 42, "--split")
    assert len(held) == 8 and sorted(np.bincount(y[held])) == [2, 6]
    assert np.array_equal(held, holdout(Split("stratified", 0.2), y, None, 42, "--split")[1])
    assert not np.array_equal(held, holdout(Split("stratified", 0.2), y, None, 7, "--split")[1])
    assert sorted(np.concatenate([kept, held]).tolist()) == list(range(38))


def test_row_count_and_ordered_split():
    _kept, held = holdout(Split("none", 5), np.arange(20), None, 0, "--split")
    assert held.tolist() == [15, 16, 17, 18, 19]


def test_group_holdout_keeps_groups_whole():
    groups = np.repeat(np.arange(10), 3)
    kept, held = holdout(Split("group", 0.2), np.zeros(30), groups, 1, "--split")
    assert set(groups[held]).isdisjoint(groups[kept]) and len(set(groups[held])) == 2


def test_named_groups():
    groups = np.array(["a", "b", "c"] * 4)
    _kept, held = holdout(Split("group", 0.2, ("b",)), np.zeros(12), groups, 0, "--split")
    assert set(groups[held]) == {"b"} and len(held) == 4
    with pytest.raises(DataError, match="no rows in group 'd'"):
        holdout(Split("group", 0.2, ("d",)), np.zeros(12), groups, 0, "--split")
    with pytest.raises(DataError, match="every row"):
        holdout(Split("group", 0.2, ("a", "b", "c")), np.zeros(12), groups, 0, "--split")


def test_impossible_split_is_a_data_error():
    with pytest.raises(DataError, match="cannot split 3 rows"):
        holdout(Split("stratified", 0.2), np.array([0, 1, 1]), None, 0, "--split")
    with pytest.raises(UsageError, match="needs --groups"):
        holdout(Split("group", 0.2), np.zeros(5), None, 0, "--split")


def test_scoring_defaults_and_names():
    assert check_scoring((), "classification") == ("accuracy",)
    assert check_scoring((), "regression") == ("r2",)
    with pytest.raises(UsageError, match="did you mean roc_auc"):
        check_scoring(("roc_acu",), "classification")


@settings(max_examples=200, deadline=None)
@given(n=st.integers(4, 2000), k=st.integers(2, 6), kind=st.sampled_from(["int", "str", "float"]),
       size=st.sampled_from([0.2, 0.33, 0.5, 3, 7]), seed=st.integers(0, 2**31 - 1), data=st.data())
def test_stratified_split_is_scikit_learns_split_at_a_few_bytes_a_row(n, k, kind, size, seed, data):
    """The lean stratified holdout draws what train_test_split(stratify=...) draws: the same rows (sorted) for the
    same seed, or the same error."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    from galaxy_dl.runs.schemes import stratified_split

    codes = np.asarray(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    y = {"int": codes * 3 - 2, "str": np.array(["a", "bb", "c", "dd", "e", "f"])[codes], "float": codes * 0.5}[kind]
    try:
        expected = tuple(np.sort(part) for part in train_test_split(np.arange(n), test_size=size, stratify=y, random_state=seed))
    except ValueError as exc:
        with pytest.raises(ValueError) as raised:
            stratified_split(y, size, seed)
        assert str(raised.value) == str(exc)
        return
    kept, held = stratified_split(y, size, seed)
    assert kept.dtype == np.int32 and np.array_equal(kept, expected[0]) and np.array_equal(held, expected[1])
