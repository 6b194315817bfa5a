"""plot-cm: a confusion matrix of true vs predicted labels as PNG, SVG or PDF. Never imports Keras."""

import click

from galaxy_dl.cli.common import figure_options, no_header_option, program, table_options, table_spec
from galaxy_dl.limits import DEFAULT_MAX_CLASSES
from galaxy_dl.report.plots import NORMALIZE


@program(
    "plot-cm",
    help="""Plot the confusion matrix of true vs predicted labels.

\b
  plot-cm --y-true y_test.tsv --y-pred predictions.tsv -o cm.png
  plot-cm --y-true y.tsv --y-pred p.tsv --labels 0=ALL,1=AML --normalize true -o cm.svg

Rows are true labels, columns predicted labels, both the sorted union of the labels
in the two files unless --labels orders or renames them. A one-line summary
(accuracy, per-class recall) goes to stderr.""",
)
@click.option("--y-true", "true_path", required=True, metavar="PATH", help="True labels (one column, or choose it).")
@click.option("--y-pred", "pred_path", required=True, metavar="PATH", help="Predicted labels, e.g. predict's output.")
@table_options("y-true", "the true-label table")
@table_options("y-pred", "the predicted-label table")
@no_header_option
@click.option(
    "--labels", default=None, metavar="L=NAME,…", help="Order and/or rename labels, e.g. 0=ALL,1=AML or AML,ALL."
)
@click.option(
    "--normalize",
    type=click.Choice(NORMALIZE),
    default="none",
    show_default=True,
    help="none: counts; true/pred/all: fractions over rows/columns/everything (scikit-learn's meanings).",
)
@click.option(
    "--cmap", default="Blues", show_default=True, help="Any matplotlib colormap (Galaxy-ML's names work too)."
)
@figure_options("Confusion matrix")
@click.option("--xlabel", default="Predicted label", show_default=True)
@click.option("--ylabel", default="True label", show_default=True)
@click.option(
    "--max-classes",
    type=click.IntRange(min=2),
    default=DEFAULT_MAX_CLASSES,
    show_default=True,
    metavar="N",
    help="Refuse label files with more classes (a matrix of N x N cells).",
)
@click.option(
    "--matrix-out",
    default=None,
    metavar="PATH",
    help="Also write the matrix as a table (rows true, columns predicted).",
)
@click.option(
    "--metrics-out",
    default=None,
    metavar="PATH",
    help="Also write precision, recall, F1 and support per class, their macro and weighted averages, and accuracy.",
)
@click.option("-o", "--output", required=True, metavar="PATH", help="Image to write.")
def main(
    true_path,
    pred_path,
    no_header,
    labels,
    normalize,
    cmap,
    fmt,
    dpi,
    title,
    xlabel,
    ylabel,
    max_classes,
    matrix_out,
    metrics_out,
    output,
    **table_params,
):
    from galaxy_dl.data.fileio import check_writable
    from galaxy_dl.report.plots import plot_confusion

    check_writable(output, "-o/--output")
    for option, path in (("--matrix-out", matrix_out), ("--metrics-out", metrics_out)):
        if path:
            check_writable(path, option)
    true_spec = table_spec(true_path, "y-true", table_params, no_header)
    pred_spec = table_spec(pred_path, "y-pred", table_params, no_header)
    summary = plot_confusion(
        true_spec,
        pred_spec,
        output,
        labels=labels,
        normalize=normalize,
        cmap=cmap,
        fmt=fmt,
        dpi=dpi,
        title=title,
        xlabel=xlabel,
        ylabel=ylabel,
        matrix_out=matrix_out,
        max_classes=max_classes,
        metrics_out=metrics_out,
    )
    click.echo(summary, err=True)
