"""train-eval --report: HTML and PDF reports of real runs hold every section, their images decode, the same
seed gives the same report, and a real browser (headless Chromium, JavaScript off) renders the page."""

import base64
import io
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from galaxy_dl.cli import train_eval
from galaxy_dl.errors import ExitStatus

from ..conftest import TEST_DATA, build_model_zip, invoke

COMMON = ("run", "data", "model", "parameters", "scores", "curves", "heldout")


class Page(HTMLParser):
    """What a reader sees: section ids and titles, images, table captions and header cells, text."""

    def __init__(self, text: str):
        super().__init__()
        self.sections, self.images, self.captions, self.headers, self.scripts = {}, [], [], [], 0
        self._in, self._section, self.text = None, None, []
        self.links = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self._section = attrs["id"]
        elif tag == "img":
            self.images.append(attrs)
        elif tag == "script":
            self.scripts += 1
        elif tag in ("link", "a") and attrs.get("href", "").startswith(("http", "//")):
            self.links.append(attrs["href"])
        self._in = tag

    def handle_data(self, data):
        self.text.append(data)
        if self._in == "h2" and self._section:
            self.sections[self._section] = data
        elif self._in == "caption":
            self.captions.append(data)
        elif self._in == "th":
            self.headers.append(data)

    def handle_endtag(self, tag):
        self._in = None


def pdf_text(path) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def decoded(page: Page) -> list:
    """Every image's pixels size, decoding each data URI."""
    from PIL import Image

    sizes = []
    for img in page.images:
        head, data = img["src"].split(",", 1)
        assert head == "data:image/png;base64"
        with Image.open(io.BytesIO(base64.b64decode(data))) as image:
            image.load()
            sizes.append(image.size)
    return sizes


def without_varying(text: str) -> str:
    """The report less its date and wall-time values (they differ from run to run)."""
    text = re.sub(r"<dd class=\"varies\">[^<]*</dd>", "", text)
    return re.sub(r"(?m)^(date|wall time):.*$", "", text)


def run(tmp, args, name="report"):
    html, pdf = Path(tmp) / f"{name}.html", Path(tmp) / f"{name}.pdf"
    result = invoke(train_eval.main, [*args, "--scores", Path(tmp) / f"{name}-scores.tsv",
                                      "--report", html, "--report", pdf])
    assert result.exit_code == 0, result.stderr
    return Page(html.read_text()), pdf_text(pdf), html, pdf


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory):
    d = tmp_path_factory.mktemp("tutorial-report")
    args = ["--model", TEST_DATA / "tutorial_model.zip", "--x", TEST_DATA / "X_train.tsv", "--y", TEST_DATA / "y_train.tsv"]
    first = run(d, args)
    kept = (Path(shutil.copy(first[2], d / "first.html")), Path(shutil.copy(first[3], d / "first.pdf")))
    again = run(d, args)  # the same command line again
    return (first[0], first[1], *kept), again


@pytest.fixture(scope="module")
def iris(iris_data, tmp_path_factory):
    """Three classes, a test holdout, early stopping on a validation split."""
    d = tmp_path_factory.mktemp("iris-report")
    model = build_model_zip(d, "4", ['Dense(8, activation="relu")', 'Dense(3, activation="softmax")'],
                            "--loss", "sparse_categorical_crossentropy", "--optimizer", "adam", "--learning-rate", "0.05",
                            "--epochs", "60", "--batch-size", "16", "--seed", "3", "--metrics", "accuracy",
                            "--callback", 'EarlyStopping(monitor="val_loss", patience=1, min_delta=0.02, restore_best_weights=True)')
    return run(d, ["--model", model, "--x", iris_data["x"], "--y", iris_data["y"], "--scheme", "train_val_test"])


@pytest.fixture(scope="module")
def regression(diabetes_data, tmp_path_factory):
    d = tmp_path_factory.mktemp("regression-report")
    model = build_model_zip(d, "10", ['Dense(8, activation="relu")', "Dense(1)"], "--task", "regression",
                            "--loss", "mse", "--epochs", "5", "--batch-size", "32", "--seed", "2")
    return run(d, ["--model", model, "--x", diabetes_data["x"], "--y", diabetes_data["y"]])


@pytest.fixture(scope="module")
def cv(binary_data, binary_model, tmp_path_factory):
    d = tmp_path_factory.mktemp("cv-report")
    return run(d, ["--model", binary_model, "--x", binary_data["x"], "--y", binary_data["y"], "--scheme", "cv",
                   "--folds", "3", "--scoring", "accuracy,roc_auc"])


def assert_common(page: Page, text: str, scheme: str):
    assert set(COMMON) <= set(page.sections), page.sections
    assert page.scripts == 0 and page.links == []
    assert all(w > 100 and h > 100 for w, h in decoded(page))
    for title in ("Run", "Data", "Model", "Parameters", "Scores", "Learning curves", "Held-out predictions"):
        assert f"\n{title}\n" in f"\n{text}\n", f"PDF lacks the section {title}"
    for fact in ("seed:", "backend:", "versions:", "wall time:", "scheme:", f"{scheme}:", "trainable:"):
        assert fact in text, fact
    assert "Layers" in page.captions and "The scores table as written" in page.captions


def test_tutorial_report_holds_every_section(tutorial):
    (page, text, _html, _), _ = tutorial
    assert_common(page, text, "train_val")
    assert list(page.sections) == [*COMMON]  # no search section without a search
    assert list(page.headers[:4]) == ["class", "rows", "share", "layer"]
    assert "7129 columns" in text and "114,369" in text  # the Golub table, the model's parameter count
    assert "On the validation holdout (8 rows)." in text
    assert "ROC AUC" in text and "average precision" in text
    assert len(page.images) == 4  # curves, confusion matrices, ROC + PR, probability histograms
    assert "Predicted probabilities by true class." in text


def test_the_pdf_embeds_the_html_images_pixels_as_they_are(tutorial):
    from pypdf import PdfReader

    (page, _, _, pdf), _ = tutorial
    embedded = {}  # matplotlib lists every image in each page's resources: one entry per PDF object
    for pdf_page in PdfReader(pdf).pages:
        embedded.update({image.indirect_reference.idnum: image.image.size for image in pdf_page.images})
    assert [embedded[k] for k in sorted(embedded)] == decoded(page)  # not resampled to the page's resolution


def test_same_seed_gives_the_same_report(tutorial):
    (_, text_a, html_a, _), (_, text_b, html_b, _) = tutorial
    a, b = html_a.read_text(), html_b.read_text()
    assert a != b  # the wall time differs ...
    assert without_varying(a) == without_varying(b)  # ... and nothing else, images included
    assert without_varying(text_a) == without_varying(text_b)


def test_three_classes_one_vs_rest_and_early_stopping(iris):
    page, text, *_ = iris
    assert_common(page, text, "train_val_test")
    assert "On the test holdout (30 rows)." in text
    for species in ("setosa", "versicolor", "virginica"):
        assert re.search(rf"{species}\s+\d+\s+[01]\.\d{{4}}\s+[01]\.\d{{4}}", text), species
    assert "macro average" in text and "(one-vs-rest)" not in text  # titles are in the images, not the text
    assert re.search(r"early stopping:\s+model: stopped after epoch \d+; best val_loss at epoch \d+", text)
    assert "accuracy" in page.headers


def test_regression_report(regression):
    page, text, *_ = regression
    assert_common(page, text, "train_val")
    assert "Target range" in page.captions and "Errors on these rows" in page.captions
    assert re.search(r"(?m)^\s*target\s+-?\d+\.\d+\s+\d+(\.\d+)?\s+\d+(\.\d+)?$", text)  # r2, RMSE, MAE
    assert "ROC AUC" not in text
    assert len(page.images) == 2  # curves, the three regression panels


def test_cv_report_pools_the_folds(cv):
    page, text, *_ = cv
    assert_common(page, text, "cv")
    assert "every fold's held-out rows, pooled (3 folds, 80 rows)" in text
    for name in ("fold1", "fold2", "fold3", "mean", "std", "refit_train"):
        assert re.search(rf"(?m)^\s*{name}\s", text), name


def test_search_report_shows_the_results(binary_data, binary_model, tmp_path):
    page, text, *_ = run(tmp_path, ["--model", binary_model, "--x", binary_data["x"], "--y", binary_data["y"],
                                    "--search", "grid", "--param", "dense.units=2,8", "--folds", "2"])
    assert "search" in page.sections
    assert "Every setting, best first (the search results table)" in page.captions
    assert "dense.units" in page.headers and "mean_accuracy" in page.headers
    assert re.search(r"search:\s+grid over dense.units=2,8", text)
    assert "No held-out predictions: a search over folds keeps no fold models" in text
    assert len(page.images) == 2  # the refit's curves, the score against dense.units


def test_format_by_option_and_bad_report_paths(binary_data, binary_model, tmp_path):
    base = ["--model", binary_model, "--x", binary_data["x"], "--y", binary_data["y"], "--scores", tmp_path / "s.tsv"]
    result = invoke(train_eval.main, [*base, "--report", tmp_path / "r.txt"])
    assert result.exit_code == ExitStatus.USAGE
    assert "--report" in result.stderr and "r.txt" in result.stderr and "--report-format" in result.stderr
    result = invoke(train_eval.main, [*base, "--report", tmp_path / "a.dat", "--report", tmp_path / "b.dat",
                                      "--report-format", "pdf"])
    assert result.exit_code == ExitStatus.USAGE and "one per --report (2 reports, 1 formats)" in result.stderr
    result = invoke(train_eval.main, [*base, "--report", tmp_path / "missing" / "r.html"])
    assert result.exit_code == ExitStatus.OUTPUT and "--report" in result.stderr
    assert not list(tmp_path.iterdir())
    result = invoke(train_eval.main, [*base, "--report", tmp_path / "a.dat", "--report-format", "pdf"])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "a.dat").read_bytes().startswith(b"%PDF-")


def test_a_drawing_failure_leaves_no_output(binary_data, binary_model, tmp_path, monkeypatch):
    from galaxy_dl.report import figures

    def broken(*args, **kwargs):
        raise ValueError("no room for the legend")

    monkeypatch.setattr(figures, "roc_pr", broken)
    result = invoke(train_eval.main, ["--model", binary_model, "--x", binary_data["x"], "--y", binary_data["y"],
                                      "--scores", tmp_path / "s.tsv", "--fitted-model", tmp_path / "f.zip",
                                      "--report", tmp_path / "r.html"])
    assert result.exit_code == ExitStatus.OUTPUT
    assert result.stderr.strip().splitlines()[-1] == "train-eval: error: --report: drawing the report failed: no room for the legend"
    assert sorted(p.name for p in tmp_path.iterdir()) == []


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here: apt-get install chromium (.ci/run does)")
@pytest.mark.parametrize("width", [1280, 390])
def test_chromium_renders_the_report_without_javascript(tutorial, width, tmp_path):
    from playwright.sync_api import sync_playwright

    (page, _, html, _), _ = tutorial
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], timeout=60_000)
        try:
            context = browser.new_context(java_script_enabled=False, viewport={"width": width, "height": 900},
                                          offline=True)
            tab = context.new_page()
            tab.set_default_timeout(30_000)
            tab.goto(html.as_uri(), wait_until="load")
            widths = tab.evaluate("() => Array.from(document.images, i => i.complete ? i.naturalWidth : 0)")
            shown = tab.evaluate("() => Array.from(document.images, i => i.getBoundingClientRect().width)")
            text = tab.evaluate("() => document.body.innerText")
            scroll = tab.evaluate("() => document.documentElement.scrollWidth")
            shot = tmp_path / f"report-{width}.png"
            tab.screenshot(path=str(shot), full_page=True)
            tab.emulate_media(media="print")
            printed = tab.evaluate("() => [getComputedStyle(document.querySelector('nav')).display, "
                                   "getComputedStyle(document.querySelector('figure')).breakInside]")
        finally:
            browser.close()
    assert len(widths) == len(page.images) == 4 and all(w > 0 for w in widths)
    assert all(0 < w <= width for w in shown)  # scaled into the column, never wider than the screen
    assert scroll <= width  # nothing pushes the page sideways (wide tables scroll inside their box)
    assert "Training report" in text and "Held-out predictions" in text
    assert printed == ["none", "avoid"]  # printed: no navigation, no figure split over two pages
    from PIL import Image

    with Image.open(shot) as image:
        assert image.width == width and len(image.convert("L").getcolors(maxcolors=65536) or ()) > 10  # not a blank page
