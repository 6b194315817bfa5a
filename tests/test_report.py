"""The report package without training: choosing formats, early-stopping marks, pooled folds, figures on edge
cases, and both writers on a hand-made document (escaping, wrapping, every block kind)."""

import io
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from galaxy_dl.errors import UsageError
from galaxy_dl.report import content, figures, targets, to_html, to_pdf
from galaxy_dl.report.document import Document, Facts, Figure, Note, Section, Table
from galaxy_dl.runs.schemes import Heldout, Report


def test_formats_by_suffix_or_by_option_in_order():
    assert targets(["a.html", "b.PDF", "c.htm"]) == [("a.html", "html"), ("b.PDF", "pdf"), ("c.htm", "html")]
    assert targets(["x.dat", "y.dat"], ["PDF", "html"]) == [("x.dat", "pdf"), ("y.dat", "html")]
    with pytest.raises(UsageError, match=r"--report dir.v2/report: the suffix tells neither html nor pdf"):
        targets(["dir.v2/report"])
    with pytest.raises(UsageError, match=r"one per --report \(1 reports, 2 formats\)"):
        targets(["a.html"], ["html", "pdf"])


def test_early_stopping_marks_the_stop_and_the_best_epoch():
    history = {"loss": [1.0, 0.5, 0.4, 0.45], "val_loss": [1.1, 0.6, 0.7, 0.8], "val_accuracy": [0.5, 0.9, 0.8, 0.7]}
    stopping = [{"class_name": "EarlyStopping", "config": {"patience": 2}}]
    estimator = SimpleNamespace(callbacks=stopping, epochs=10)
    assert content.early_stopping(estimator, [("fold1", history)]) == {"fold1": (4, 2, "val_loss")}
    estimator.callbacks = [{"class_name": "EarlyStopping", "config": {"monitor": "val_accuracy"}}]
    assert content.early_stopping(estimator, [("m", history)]) == {"m": (4, 2, "val_accuracy")}  # accuracy: max
    estimator.epochs = 4  # ran every epoch: no stop to mark
    assert content.early_stopping(estimator, [("m", history)])["m"][0] is None
    estimator.callbacks = [{"class_name": "ReduceLROnPlateau", "config": {}}]
    assert content.early_stopping(estimator, [("m", history)]) == {}


def test_held_out_rows_prefer_test_then_validation_then_pooled_folds():
    def held(name, n, proba=True):
        return Heldout(name, np.arange(n), np.zeros(n), np.zeros(n), np.full((n, 2), 0.5) if proba else None)

    report = Report(heldout=[held("validation", 3), held("test", 4)])
    assert content.held_out(report)[0] == "the test holdout (4 rows)"
    report = Report(heldout=[held("fold1", 3), held("fold2", 2)])
    what, true, _predicted, proba = content.held_out(report)
    assert what == "every fold's held-out rows, pooled (2 folds, 5 rows)" and len(true) == 5 and proba.shape == (5, 2)
    report = Report(heldout=[held("fold1", 3), held("fold2", 2, proba=False)])
    assert content.held_out(report)[3] is None
    assert content.held_out(Report()) is None


def test_versions_of_loaded_libraries_are_their_own(monkeypatch):
    import sklearn

    assert content._version("scikit-learn") == sklearn.__version__
    # the loaded module's own version, not the distribution's (TensorFlow's distribution may be tensorflow-cpu)
    monkeypatch.setitem(sys.modules, "h5py", SimpleNamespace(__version__="9.9.9"))
    assert content._version("h5py") == "9.9.9"
    assert content._version("no-such-distribution-here") is None


def test_describe_scheme_in_words():
    assert content.describe_scheme({"scheme": "cv", "cv_kind": "repeated_stratified", "folds": 3, "repeats": 2,
                                    "refit": False}, "classification") == "cv: repeated_stratified, 3 folds x 2 repeats; no refit"
    assert content.describe_scheme({"scheme": "train_val_test", "split": "group", "val_groups": ["a"], "test_size": 8},
                                   "regression") == ("train_val_test: group split; validation groups a, test 8 rows "
                                                     "(set apart first)")


def test_roc_leaves_out_a_class_absent_from_the_rows():
    rng = np.random.default_rng(0)
    true = np.array(["a", "b"] * 10)
    proba = rng.dirichlet(np.ones(3), size=20)
    fig, rows = figures.roc_pr(true, proba, ["a", "b", "c"])
    assert [r[0] for r in rows] == ["a", "b", "c"]
    assert np.isnan(rows[2][2]) and np.isnan(rows[2][3]) and rows[2][1] == 0
    assert all(0 <= r[2] <= 1 for r in rows[:2])
    assert len(fig.axes[0].get_lines()) == 3  # a and b, and the chance line once
    # axes say what they show; the classes are in the legends (not scikit-learn's "Positive label: 1" of a mask)
    assert [(ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes] == [
        ("False positive rate", "True positive rate"), ("Recall", "Precision")]
    assert next(t.get_text() for t in fig.axes[0].get_legend().get_texts()).startswith("a (AUC = ")


def test_many_classes_get_one_panel_each_against_the_rest():
    classes = [f"c{i}" for i in range(10)]
    true = np.array(classes * 3)
    proba = np.random.default_rng(1).dirichlet(np.ones(10), size=30)
    fig = figures.probability_histograms(true, proba, classes)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 10
    assert [t.get_text() for t in visible[0].get_legend().get_texts()] == ["true c0", "other classes"]


def test_search_scores_halving_rounds_and_words():
    results = pd.DataFrame({"rank": [1, 2, 3], "setting": [2, 1, 3], "round": [2, 1, 1], "epochs": [9, 3, 3],
                            "activation": ["relu", "elu", '"tanh"'], "learning_rate": [1e-2, 1e-4, 1e-3],
                            "mean_accuracy": [0.9, 0.7, 0.6], "std_accuracy": [0.01, 0.02, 0.03]})
    fig = figures.search_scores(results, ["activation", "learning_rate"], "accuracy")
    words, numbers = fig.axes[:2]
    assert [t.get_text() for t in words.get_xticklabels()] == ['"tanh"', "elu", "relu"]
    assert numbers.get_xscale() == "log"  # 1e-4 .. 1e-2
    assert {t.get_text() for t in numbers.get_legend().get_texts()} == {"round 1", "round 2", "best"}


def test_regression_panels_and_learning_curves_on_a_log_scale():
    fig = figures.regression(np.arange(50.0), np.arange(50.0) * 0.9, "target")
    assert len(fig.axes) == 3 and fig.axes[0].get_xlabel() == "true target"
    fig = figures.learning_curves([("model", {"loss": [3000.0, 2.0, 1.0], "val_loss": [10.0, 3.0, 2.0]})], {})
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_title() == "loss (log scale)"
    figures.raster(fig)
    labels = [label.get_text() for label in ax.get_yticklabels() if label.get_text()]
    assert {"1", "10", "100", "1000"} <= set(labels)  # plain numbers, not mathtext's 10^3
    assert len(ax.yaxis.get_minorticklocs()) == 0 and [t for t in ax.get_xticks() if 1 <= t <= 3] == [1, 2, 3]


def test_drawing_freezes_older_objects_and_thaws_only_what_it_froze(monkeypatch):
    import gc

    from galaxy_dl import runtime
    from galaxy_dl.report import _young_objects_only

    monkeypatch.setattr(runtime, "_frozen", False)  # as in a notebook: nothing frozen by our programs
    was_frozen = gc.get_freeze_count()  # a CLI test in this process froze its imports (runtime.imports_done)
    gc.unfreeze()
    with _young_objects_only():
        assert gc.get_freeze_count() > 0  # the collector skips them while matplotlib allocates
    assert gc.get_freeze_count() == 0
    gc.freeze()  # as our programs do once their imports are done
    try:
        frozen = gc.get_freeze_count()
        with _young_objects_only():
            pass
        assert gc.get_freeze_count() >= frozen  # the caller's frozen objects stay frozen
        monkeypatch.setattr(runtime, "_frozen", True)  # our programs froze their imports: never thawed, not counted
        gc.unfreeze()
        with _young_objects_only():
            pass
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        if was_frozen:
            gc.freeze()


def small_document():
    fig = figures.regression(np.arange(10.0), np.arange(10.0), "y")
    wide = pd.DataFrame({f"column_{i}": ["<b>x</b>" * 3] for i in range(12)})
    return Document("Training report", "a <test> & more", [
        Section("run", "Run", [Facts([("date", "today"), ("seed", "7")], frozenset({"date"}))]),
        Section("scores", "Scores", [Table(wide, "Wide & tall"), Note("A note with <script>alert(1)</script>.")]),
        Section("figs", "Figures", [Figure(fig, "Three panels.", "regression plots")]),
    ])


def test_html_escapes_text_and_inlines_the_figure():
    text = to_html.render(small_document())
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "a &lt;test&gt; &amp; more" in text and "&lt;b&gt;x&lt;/b&gt;" in text
    assert '<dd class="varies">today</dd>' in text and "<dd>7</dd>" in text
    assert text.count('<img src="data:image/png;base64,') == 1 and 'alt="regression plots"' in text
    assert "@media print" in text and "@media (max-width" in text and "http" not in text


def test_pdf_keeps_text_wraps_wide_tables_and_places_the_figure():
    from pypdf import PdfReader

    data = to_pdf.render(small_document())
    assert data.startswith(b"%PDF-") and b"CreationDate" not in data
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for words in ("Training report", "date:", "Wide & tall", "A note with <script>alert(1)</script>.", "Three panels."):
        assert words in text, words
    assert "column_11" in text  # the wide table is wrapped, not cut off
    assert any("/XObject" in page["/Resources"] for page in reader.pages)  # the figure, as an image
    assert to_pdf.render(small_document()) == data  # no date inside: the same document, the same bytes


def test_pdf_of_greek_text_embeds_a_font_quietly(caplog):
    from pypdf import PdfReader

    doc = small_document()
    doc.title = "Αναφορά εκπαίδευσης"
    with caplog.at_level("WARNING", logger="matplotlib"):
        data = to_pdf.render(doc)
    assert not caplog.records, [r.getMessage() for r in caplog.records]  # no "failed to find font weight"
    assert b"/FontFile" in data or b"/CharProcs" in data  # DejaVu embedded: the core fonts have no Greek
    assert "Αναφορά εκπαίδευσης" in PdfReader(io.BytesIO(data)).pages[0].extract_text()


def test_the_pdf_backend_leaves_the_font_subsetter_until_a_type_42_font_needs_it():
    # a fresh process: this one may have imported fontTools.subset already
    code = (
        "import io, sys, matplotlib\n"
        "from tests.test_report import small_document\n"
        "from galaxy_dl.report import to_pdf\n"
        "doc = small_document()\n"
        "to_pdf.render(doc)\n"
        "print('after core fonts:', 'fontTools.subset' in sys.modules)\n"
        "doc.title = 'Αναφορά'\n"
        "with matplotlib.rc_context({'pdf.fonttype': 42}):\n"
        "    data = to_pdf.render(doc)\n"
        "print('after type 42:', 'fontTools.subset' in sys.modules, b'/FontFile2' in data)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).parent.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["after core fonts: False", "after type 42: True True"]
