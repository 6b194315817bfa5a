"""plot-reg: regression predictions against the truth, as figures (PNG, SVG or PDF) and a metrics table.

Never imports Keras."""

import click

from galaxy_dl.cli.common import figure_options, no_header_option, program, table_options, table_spec


@program(
    "plot-reg",
    help="""Plot actual vs predicted values and residuals, and score the predictions.

\b
  plot-reg --y-true y_test.tsv --y-pred predictions.tsv -o regression.png --metrics-out metrics.tsv

Three panels: actual and predicted values along the rows, predicted against actual
(with the identity line) and residuals against predicted values. R2, RMSE, MAE,
explained variance and the row count go to --metrics-out and, in one line, to stderr.
Class labels are plot-cm's.""",
)
@click.option("--y-true", "true_path", required=True, metavar="PATH", help="True values (one column, or choose it).")
@click.option("--y-pred", "pred_path", required=True, metavar="PATH", help="Predicted values, e.g. predict's output.")
@table_options("y-true", "the true-value table")
@table_options("y-pred", "the predicted-value table")
@no_header_option
@figure_options("Regression: actual vs predicted")
@click.option("--metrics-out", default=None, metavar="PATH", help="Also write the metrics as a table (metric, value).")
@click.option("-o", "--output", required=True, metavar="PATH", help="Image to write.")
def main(true_path, pred_path, no_header, fmt, dpi, title, metrics_out, output, **table_params):
    from galaxy_dl.data.fileio import check_writable
    from galaxy_dl.report.regression import evaluate

    check_writable(output, "-o/--output")
    if metrics_out:
        check_writable(metrics_out, "--metrics-out")
    true_spec = table_spec(true_path, "y-true", table_params, no_header)
    pred_spec = table_spec(pred_path, "y-pred", table_params, no_header)
    click.echo(evaluate(true_spec, pred_spec, output, fmt=fmt, title=title, dpi=dpi, metrics_out=metrics_out), err=True)
