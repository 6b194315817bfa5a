"""train-eval: train an estimator under a scheme, score it, write the fitted estimator and weights."""

import os
import shlex
import sys
import time

import click

from galaxy_dl.cli.common import (
    backend_option,
    load_keras,
    lost_peer_handler,
    max_params_option,
    no_header_option,
    program,
    setup_runtime,
    split_list,
    table_options,
    table_spec,
    threads_option,
)
from galaxy_dl.limits import DEFAULT_MAX_SETTINGS, MAX_LOCAL_PROCESSES
from galaxy_dl.report import FORMATS as REPORT_FORMATS
from galaxy_dl.runs.distribution import DEFAULT_PEER_TIMEOUT
from galaxy_dl.runs.schemes import CV_KINDS, SCHEMES, SPLITS
from galaxy_dl.runs.search import SEARCHES

DEFAULT_WINDOW = 1000  # bp around each interval (DeepSEA's)


def _size(ctx, param, value):
    if value is None:
        return None
    if value <= 0 or (value >= 1 and value != int(value)):
        raise click.BadParameter("a fraction in (0, 1) or a whole number of rows")
    return value


SECTIONS = {
    "Inputs": [
        "model_path",
        "x_path",
        "y_path",
        "target",
        "y_obs",
        "x_layer",
        "x_cols",
        "x_cols_except",
        "x_names",
        "x_names_except",
        "x_no_header",
        "y_cols",
        "y_cols_except",
        "y_names",
        "y_names_except",
        "y_no_header",
        "no_header",
        "missing",
        "groups_path",
        "groups_column",
    ],
    "Sequences (FASTA, or BED intervals of a genome)": [
        "encoding",
        "alphabet",
        "seq_length",
        "seq_side",
        "genome",
        "window",
        "revcomp",
    ],
    "Scheme": [
        "scheme",
        "split",
        "val_size",
        "test_size",
        "cv_kind",
        "folds",
        "repeats",
        "refit",
        "val_groups",
        "test_groups",
        "scoring",
        "seed",
    ],
    "Search": ["search", "params", "n_iter", "halving_factor", "refit_metric", "jobs", "max_settings", "list_params"],
    "Outputs": [
        "scores_path",
        "fitted_model",
        "weights_path",
        "predictions_out",
        "history_out",
        "search_results",
        "reports",
        "report_formats",
    ],
    "Runtime": ["stream", "memory_budget", "cache_dir", "threads", "max_params", "debug", "version", "help"],
    "Distribution": [
        "backend",
        "distribute",
        "devices",
        "coordinator",
        "num_processes",
        "process_id",
        "peer_timeout",
        "local_processes",
        "timeout",
    ],
}


@program(
    "train-eval",
    sections=SECTIONS,
    help="""Train and evaluate an estimator archive on a table.

\b
  train-eval --model model.zip --x X_train.tsv --y y_train.tsv \\
             --scores scores.tsv --fitted-model fitted.zip --weights weights.h5
\b
Schemes: train_val (default: a seeded, stratified 20% holdout is the validation
data), train_val_test (plus a test holdout scored after fitting), cv (k-fold
cross-validation; every fold, mean and std are scored, then the final model is
refitted on all rows unless --no-refit).

Inputs: tab-separated tables (plain or gzip), Matrix Market (.mtx, kept sparse),
AnnData (.h5ad: X or --x-layer, labels from an obs column with --y-obs) and FASTA
(DNA, RNA, protein: one-hot or k-mer tokens, learned with the model, so predict
encodes new sequences the same way; labels in record order, or matched by the
record ids in the label table's first column).
Data larger than --memory-budget is parsed once into a float32 cache on disk
and streamed in shuffled batches (--stream / --no-stream force either).

Data-parallel training: --distribute over this machine's devices (TensorFlow's
MirroredStrategy, or JAX), and with --backend jax over several processes:
started by srun under SLURM, or given --coordinator/--num-processes/--process-id,
or all on this machine with --local-processes N.

Search: --search grid|random|halving tries settings given by --param (one per
name; see them all with --list-params) and keeps the best, refitted:
\b
  train-eval --model model.zip --x X.tsv --y y.tsv --search grid \\
             --param dense.units=8,16,32 --param learning_rate=0.001,0.01 \\
             --scores scores.tsv --search-results search.tsv --fitted-model best.zip""",
)
@click.option("--model", "model_path", required=True, metavar="PATH", help="Estimator archive from build-model.")
@click.option(
    "--x",
    "x_path",
    default=None,
    metavar="PATH",
    help="Features: table ('-' for stdin), Matrix Market or .h5ad. [required]",
)
@click.option(
    "--y", "y_path", default=None, metavar="PATH", help="Label table (one column, or choose with --y-cols/--y-names)."
)
@click.option(
    "--target",
    default=None,
    metavar="NAME",
    help="Take the labels from this column of --x (an obs column of an .h5ad).",
)
@click.option(
    "--y-obs", default=None, metavar="NAME", help="Labels from this obs column of an .h5ad --x (same as --target)."
)
@click.option("--x-layer", default=None, metavar="NAME", help="Use this layer of an .h5ad --x instead of X.")
@table_options("x", "the feature table")
@table_options("y", "the label table")
@no_header_option
@click.option(
    "--encoding",
    default=None,
    metavar="onehot|kmer:K",
    help="How sequences become input: one-hot (length x alphabet) or overlapping K-mer token ids for an "
    "Embedding (0 padding, 1 unknown; the vocabulary from the training rows) [default: onehot].",
)
@click.option(
    "--alphabet",
    type=click.Choice(["auto", "dna", "rna", "protein"]),
    default=None,
    help="The sequences' letters [default: auto, detected].",
)
@click.option(
    "--seq-length",
    default=None,
    metavar="N|longest",
    help="Pad or cut every sequence to N residues, or pad to the longest [default: all must be equal].",
)
@click.option(
    "--seq-side",
    type=click.Choice(["end", "start", "both"]),
    default=None,
    help="Where sequences are padded or cut: at the end, the start, or both (centred) [default: end].",
)
@click.option(
    "--genome",
    default=None,
    metavar="PATH",
    help="--x is a BED file of intervals (BED3+, narrowPeak): read windows of this FASTA genome (indexed; a "
    "missing .fai is built in a temporary folder).",
)
@click.option(
    "--window",
    type=click.IntRange(min=1),
    default=None,
    metavar="BP",
    help="With --genome: windows of BP bases centred on each interval (a narrowPeak's summit) [default: 1000].",
)
@click.option("--revcomp", is_flag=True, help="Also train on each sequence's reverse complement (DNA, RNA).")
@click.option("--scheme", type=click.Choice(SCHEMES), default="train_val", show_default=True)
@click.option(
    "--split",
    type=click.Choice(SPLITS),
    default="stratified",
    show_default=True,
    help="How holdouts are drawn (stratified falls back to shuffle for regression).",
)
@click.option(
    "--val-size",
    type=float,
    default=0.2,
    show_default=True,
    callback=_size,
    help="Validation holdout: fraction or rows.",
)
@click.option(
    "--test-size",
    type=float,
    default=0.2,
    show_default=True,
    callback=_size,
    help="Test holdout (train_val_test): fraction or rows.",
)
@click.option(
    "--cv",
    "cv_kind",
    type=click.Choice(CV_KINDS),
    default=None,
    help="Fold kind for --scheme cv [default: stratified / kfold by task].",
)
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True)
@click.option(
    "--repeats", type=click.IntRange(min=1), default=3, show_default=True, help="For repeated cross-validation."
)
@click.option("--refit/--no-refit", default=True, show_default=True, help="With cv: fit the final model on all rows.")
@click.option(
    "--groups", "groups_path", default=None, metavar="PATH", help="One-column table of group labels, for group splits."
)
@click.option("--groups-column", default=None, metavar="NAME", help="Take group labels from this column of --x.")
@click.option(
    "--val-groups", default=None, metavar="G1,G2", help="With --split group: hold out these groups as validation data."
)
@click.option(
    "--test-groups", default=None, metavar="G1,G2", help="With --split group: hold out these groups as test data."
)
@click.option("--scoring", multiple=True, metavar="LIST", help="scikit-learn scorer names [default: accuracy / r2].")
@click.option(
    "--missing",
    type=click.Choice(["error", "drop"]),
    default="error",
    show_default=True,
    help="Rows with missing values.",
)
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Override the estimator's seed.")
@click.option(
    "--search",
    type=click.Choice(SEARCHES),
    default=None,
    help="Try the --param settings and keep the best (each scored on every fold: --scheme is cv unless given).",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUES",
    help="A searched name and its values: dense.units=16,32 · activation=relu,elu · "
    "learning_rate=loguniform(1e-4,1e-1) (random, halving); repeatable.",
)
@click.option(
    "--n-iter",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Settings random search draws (halving: starts with) [default: 10].",
)
@click.option(
    "--halving-factor",
    type=click.IntRange(min=2),
    default=None,
    metavar="F",
    help="Halving keeps the best 1/F of the settings each round and trains them F times longer [default: 3].",
)
@click.option(
    "--refit-metric",
    default=None,
    metavar="NAME",
    help="The --scoring metric that picks the best setting [default: the first].",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Settings trained at once, in processes of one thread each [default: $GALAXY_SLOTS, else 1].",
)
@click.option(
    "--max-settings",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_SETTINGS,
    show_default=True,
    metavar="N",
    help="Refuse a search that would try more settings.",
)
@click.option(
    "--list-params", is_flag=True, help="Print every name --param can search, with its current value, and exit."
)
@click.option("--scores", "scores_path", default=None, metavar="PATH", help="Scores table to write. [required]")
@click.option("--fitted-model", default=None, metavar="PATH", help="Fitted estimator archive to write.")
@click.option("--weights", "weights_path", default=None, metavar="PATH", help="Model weights (HDF5) to write.")
@click.option("--predictions-out", default=None, metavar="PATH", help="Held-out rows' true and predicted labels.")
@click.option("--history-out", default=None, metavar="PATH", help="Per-epoch training history.")
@click.option(
    "--search-results",
    default=None,
    metavar="PATH",
    help="Every setting a search tried: its values, mean and std of each score, rank, fit time, error.",
)
@click.option(
    "--report",
    "reports",
    multiple=True,
    metavar="PATH",
    help="A training report: the run, scores, learning curves, held-out predictions (and a search's "
    "results); HTML or PDF by the suffix; repeatable.",
)
@click.option(
    "--report-format",
    "report_formats",
    multiple=True,
    type=click.Choice(REPORT_FORMATS),
    help="The format of each --report, in order (for paths whose suffix does not tell).",
)
@click.option(
    "--stream/--no-stream",
    default=None,
    help="Stream the features from a disk cache, or hold them in memory [default: by --memory-budget].",
)
@click.option(
    "--memory-budget",
    type=click.IntRange(min=1),
    default=None,
    metavar="MB",
    help=(
        "Memory the features may take before they are streamed [default: half of $GALAXY_MEMORY_MB, else of free RAM]."
    ),
)
@click.option(
    "--cache-dir", default=None, metavar="DIR", help="Where a streamed run's row cache goes [default: $TMPDIR, else .]."
)
@threads_option
@max_params_option
@backend_option
@click.option(
    "--distribute", is_flag=True, help="Train data-parallel over every local device (or --devices) and process."
)
@click.option(
    "--devices",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Devices per process [default: every accelerator; without one, N splits the CPU, for testing].",
)
@click.option(
    "--coordinator", default=None, metavar="HOST:PORT", help="Process 0's address (not needed under SLURM's srun)."
)
@click.option("--num-processes", type=click.IntRange(min=1), default=None, metavar="N", help="Processes in the run.")
@click.option(
    "--process-id", type=click.IntRange(min=0), default=None, metavar="I", help="This process's number, 0 to N-1."
)
@click.option(
    "--peer-timeout",
    type=click.IntRange(min=1),
    default=DEFAULT_PEER_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="How long processes wait for each other before giving up.",
)
@click.option(
    "--local-processes",
    type=click.IntRange(min=1, max=MAX_LOCAL_PROCESSES),
    default=None,
    metavar="N",
    help="Start N processes on 127.0.0.1 and watch them as one job (implies --distribute --backend jax).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="With --local-processes: stop every process when the run takes longer.",
)
def main(
    model_path,
    x_path,
    y_path,
    target,
    y_obs,
    x_layer,
    stream,
    memory_budget,
    cache_dir,
    no_header,
    scheme,
    split,
    val_size,
    test_size,
    cv_kind,
    folds,
    repeats,
    refit,
    groups_path,
    groups_column,
    val_groups,
    test_groups,
    scoring,
    missing,
    seed,
    scores_path,
    fitted_model,
    weights_path,
    predictions_out,
    history_out,
    threads,
    backend,
    distribute,
    devices,
    coordinator,
    num_processes,
    process_id,
    peer_timeout,
    local_processes,
    timeout,
    search,
    params,
    n_iter,
    halving_factor,
    refit_metric,
    jobs,
    max_settings,
    list_params,
    search_results,
    reports,
    report_formats,
    encoding,
    alphabet,
    seq_length,
    seq_side,
    genome,
    window,
    revcomp,
    **table_params,
):
    started = time.time()
    ctx = click.get_current_context()
    if list_params:
        return _list_params(model_path, threads, backend)
    for option, value in (("--x", x_path), ("--scores", scores_path)):
        if value is None:
            raise click.UsageError(f"Missing option '{option}'.")
    scheme = _search_options(ctx, search, scheme, distribute or local_processes, predictions_out)
    if local_processes:
        if backend == "tensorflow":
            raise click.UsageError("--local-processes trains with JAX: drop --backend tensorflow")
        if coordinator or num_processes is not None or process_id is not None:
            raise click.UsageError(
                "--local-processes chooses the coordinator and process ids: drop --coordinator, "
                "--num-processes and --process-id"
            )
        setup_runtime(threads, "jax")
        from galaxy_dl.runs.launcher import run
        from galaxy_dl.runtime import thread_budget

        ctx.exit(run("train-eval", __name__, ctx.meta["argv"], local_processes, timeout, thread_budget()))
    if timeout is not None:
        raise click.UsageError("--timeout applies to --local-processes")
    if distribute and coordinator is None and backend != "tensorflow":
        from galaxy_dl.runs import launcher

        if (tasks := launcher.slurm_batch_tasks()) > 1:
            from galaxy_dl.runtime import thread_budget

            setup_runtime(threads, "jax")
            launcher.srun(__name__, ctx.meta["argv"], tasks, thread_budget())
    from galaxy_dl.model import plans
    from galaxy_dl.runs import distribution

    cluster = distribution.Cluster(distribute, devices, coordinator, num_processes, process_id, peer_timeout)
    if cluster.multi_process and backend is None and not os.environ.get("KERAS_BACKEND"):
        backend = "jax"  # the only engine for several processes: srun train-eval --distribute needs no more
    backend = setup_runtime(threads, backend)
    from galaxy_dl.data.features import Streaming
    from galaxy_dl.data.fileio import check_writable, together
    from galaxy_dl.data.tables import TableSpec
    from galaxy_dl.runs.training import TrainingData, run_scheme, write_outputs

    if target and y_obs:
        raise click.UsageError("--y-obs and --target name the same thing: give one")
    target = target or y_obs
    if (y_path is None) == (target is None):
        raise click.UsageError("give the labels with --y, --target or --y-obs (one of them)")
    if cache_dir is not None and not os.path.isdir(cache_dir):
        raise click.BadParameter(f"{cache_dir} is not a directory", param_hint="--cache-dir")
    if groups_path and groups_column:
        raise click.UsageError("give --groups or --groups-column, not both")
    if scheme == "cv" and not refit and (fitted_model or weights_path):
        raise click.UsageError("--no-refit leaves no final model: drop --fitted-model/--weights")
    outputs = {
        "--scores": scores_path,
        "--fitted-model": fitted_model,
        "--weights": weights_path,
        "--predictions-out": predictions_out,
        "--history-out": history_out,
        "--search-results": search_results,
    }
    from galaxy_dl import report as training_report

    report_targets = training_report.targets(reports, report_formats)
    for option, path in [*outputs.items(), *(("--report", path) for path, _ in report_targets)]:
        if path:
            check_writable(path, option)
    distribution.prepare(cluster, backend)
    x_spec = table_spec(x_path, "x", table_params, no_header)
    y_spec = table_spec(y_path, "y", table_params, no_header) if y_path else None
    groups_spec = TableSpec(groups_path, header=not no_header, option="--groups") if groups_path else None
    how = Streaming(stream, memory_budget, cache_dir)
    sequence_options = (encoding, alphabet, seq_length, seq_side)
    sequences = None
    if any(o is not None for o in sequence_options) or revcomp or genome:
        sequences = _encoding(*sequence_options, revcomp=revcomp)
    if sequences is not None and genome:
        sequences = sequences.for_intervals(window or DEFAULT_WINDOW)
    elif window:
        raise click.UsageError("--window applies to genomic intervals: give --genome too")
    data = TrainingData.read(
        x_spec,
        y_spec,
        target=target,
        groups=groups_spec,
        groups_column=groups_column,
        missing=missing,
        layer=x_layer,
        how=how,
        encoding=sequences,
        genome=genome,
    )
    from galaxy_dl.runtime import quiet_native_stderr

    with quiet_native_stderr():
        plan = distribution.start(cluster, backend, lost_peer_handler("train-eval"))
    load_keras()
    from galaxy_dl.model.archive import load

    estimator = load(model_path, f"--model {model_path}")
    if seed is not None:
        estimator.set_params(seed=seed)
    if cluster.distribute:
        plan.prepare(estimator)
        if plan.writes_outputs:
            print(plan.note(), file=sys.stderr)
    scheme_options = {
        "scheme": scheme,
        "split": split,
        "val_size": val_size,
        "test_size": test_size,
        "cv_kind": cv_kind,
        "folds": folds,
        "repeats": repeats,
        "refit": refit,
        "scoring": split_list(scoring),
        "val_groups": split_list(val_groups),
        "test_groups": split_list(test_groups),
    }
    with plans.using(plan):
        if search:
            from galaxy_dl.runs.search import run_search
            from galaxy_dl.runtime import default_threads

            report = run_search(
                estimator,
                data,
                params,
                search=search,
                n_iter=n_iter or 10,
                factor=halving_factor or 3,
                jobs=jobs or default_threads() or 1,
                refit_metric=refit_metric,
                max_settings=max_settings,
                **scheme_options,
            )
        else:
            report = run_scheme(estimator, data, **scheme_options)
    if plan.writes_outputs:
        rendered = {}
        if report_targets:  # drawn before anything is written: a drawing failure leaves no output
            run_info = training_report.Run(
                command=shlex.join(["train-eval", *ctx.meta["argv"]]),
                scheme=scheme_options,
                started=time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)),
                wall_time_s=time.time() - started,
                search=_searched(search, params),
            )
            rendered = training_report.render(report, data, estimator, run_info, [fmt for _, fmt in report_targets])
        with together():  # every output, or none
            write_outputs(
                report,
                data,
                scores=scores_path,
                fitted_model=fitted_model,
                weights=weights_path,
                predictions=predictions_out,
                history=history_out,
                search_results=search_results,
            )
            training_report.write(rendered, report_targets)


def _encoding(encoding, alphabet, length, side, *, revcomp):
    from galaxy_dl.data.seqcoding import Encoding

    return Encoding.parse(encoding or "onehot", alphabet or "auto", length, side or "end", revcomp=revcomp)


def _searched(search, params) -> str | None:
    return f"{search} over {'; '.join(params)}" if search else None


def _search_options(ctx, search, scheme, distributed, predictions_out) -> str:
    """Check the search options against each other; returns the scheme: with --search, cv unless given."""
    given = [
        f"--{name.replace('_', '-')}"
        for name in ("params", "n_iter", "halving_factor", "refit_metric", "jobs", "search_results")
        if ctx.params.get(name)
    ]
    if not search:
        if given:
            raise click.UsageError(f"{given[0].replace('--params', '--param')} applies to --search")
        return scheme
    if not ctx.params["params"]:
        raise click.UsageError("--search needs at least one --param NAME=VALUES (see them with --list-params)")
    if distributed:
        raise click.UsageError("--search trains many small models: run it without --distribute/--local-processes")
    if ctx.params["n_iter"] and search == "grid":
        raise click.UsageError("--n-iter applies to --search random and halving (grid search tries every setting)")
    if ctx.params["halving_factor"] and search != "halving":
        raise click.UsageError("--halving-factor applies to --search halving")
    chosen = scheme if ctx.get_parameter_source("scheme") != click.core.ParameterSource.DEFAULT else "cv"
    if predictions_out and chosen == "cv":
        raise click.UsageError(
            "--predictions-out: a search over folds keeps no fold models; use --scheme "
            "train_val_test to predict the test rows with the best setting"
        )
    return chosen


def _list_params(model_path, threads, backend) -> None:
    """--list-params: every searchable name with its current value, as a table on standard output."""
    setup_runtime(threads, backend)
    load_keras()
    from galaxy_dl.data.tables import write_table
    from galaxy_dl.model.archive import load
    from galaxy_dl.runs.searchspace import params_table

    write_table(params_table(load(model_path, f"--model {model_path}")), "-")


if __name__ == "__main__":  # the processes that --local-processes starts
    main()
