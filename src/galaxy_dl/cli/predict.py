"""predict: apply a fitted estimator (and optionally a weights file) to new rows."""

import click

from galaxy_dl.cli.common import (
    backend_option,
    load_keras,
    max_params_option,
    no_header_option,
    program,
    setup_runtime,
    table_options,
    table_spec,
    threads_option,
)
from galaxy_dl.runs.prediction import CHUNK_ROWS, METHODS


@program(
    "predict",
    help="""Predict labels, probabilities or values for the rows of a table.

\b
  predict --model fitted.zip --weights weights.h5 --x X_test.tsv -o predictions.tsv

The fitted archive carries its weights; --weights (Keras 3 or Keras 2 HDF5) replaces
them. Rows are read and predicted in chunks, so memory stays bounded; given more than
one thread, the next chunk is read while the current one is predicted. Columns are
matched to training by name when both have names (an .h5ad's genes are reordered,
missing ones named); sparse input is densified one batch at a time.""",
)
@click.option("--model", "model_path", required=True, metavar="PATH", help="Fitted estimator archive from train-eval.")
@click.option(
    "--weights", "weights_path", default=None, metavar="PATH", help="HDF5 weights to use instead of the archive's."
)
@click.option(
    "--x",
    "x_path",
    required=True,
    metavar="PATH",
    help="Features: table ('-' for stdin), Matrix Market, .h5ad, FASTA, or BED intervals with --genome.",
)
@click.option("--x-layer", default=None, metavar="NAME", help="Use this layer of an .h5ad --x instead of X.")
@click.option(
    "--genome",
    default=None,
    metavar="PATH",
    help="--x is a BED file of intervals: read their windows (as wide as in training) from this FASTA genome.",
)
@table_options("x", "the feature table")
@no_header_option
@click.option(
    "--method",
    type=click.Choice(METHODS),
    default="predict",
    show_default=True,
    help="predict: labels (or values); predict_proba: one probability column per class.",
)
@click.option(
    "--chunk-rows", type=click.IntRange(min=1), default=CHUNK_ROWS, show_default=True, help="Rows per prediction chunk."
)
@click.option("-o", "--output", required=True, metavar="PATH", help="Predictions table to write ('-' for stdout).")
@max_params_option
@backend_option
@threads_option
def main(
    model_path,
    weights_path,
    x_path,
    x_layer,
    genome,
    no_header,
    method,
    chunk_rows,
    output,
    threads,
    backend,
    **table_params,
):
    setup_runtime(threads, backend)
    from galaxy_dl.data.fileio import check_writable

    check_writable(output, "-o/--output")
    spec = table_spec(x_path, "x", table_params, no_header)
    load_keras()
    from galaxy_dl.model.archive import load
    from galaxy_dl.runs.prediction import predict_table
    from galaxy_dl.runtime import thread_budget

    weights = (weights_path, f"--weights {weights_path}") if weights_path else None
    estimator = load(model_path, f"--model {model_path}", require_fitted=True, weights=weights)
    predict_table(
        estimator,
        spec,
        output,
        method=method,
        chunk_rows=chunk_rows,
        read_ahead=thread_budget() > 1,
        layer=x_layer,
        genome=genome,
    )
