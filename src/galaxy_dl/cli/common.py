"""What every program shares: error handling and exit codes, --debug, table options.

Nothing heavy is imported here, so ``--help`` and option errors answer in milliseconds.
"""

import errno
import functools
import os
import sys
import threading

import click

from galaxy_dl import __version__, limits
from galaxy_dl.data.tables import Columns, TableSpec
from galaxy_dl.errors import ExitStatus, GalaxyDLError, OutputError, first_line
from galaxy_dl.runtime import BACKENDS, JAX_EXTRA

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class GroupedCommand(click.Command):
    """A command whose --help lists its options in sections by purpose (``sections``: title -> option names);
    it keeps its raw arguments in ``ctx.meta["argv"]`` for the local launcher."""

    def __init__(self, *args, sections: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.sections = sections or {}

    def parse_args(self, ctx, args):
        ctx.meta["argv"] = list(args)
        return super().parse_args(ctx, args)

    def main(self, args=None, prog_name=None, **extra):  # type: ignore[override]  # click's is overloaded on standalone_mode
        """click's own usage errors as one line too (its standalone mode prints a usage block). A limit an option
        sets in the environment lasts for this command (a notebook or test may run several in one process)."""
        saved = os.environ.get(limits.MAX_PARAMS_VARIABLE)
        try:
            result = super().main(args, prog_name, standalone_mode=False, **extra)
        except click.ClickException as exc:
            _fail(self.name or "galaxy-dl", f"{exc.format_message()} (see {self.name} --help)", exc.exit_code)
        except click.Abort:
            _fail(self.name or "galaxy-dl", "interrupted", ExitStatus.INTERRUPTED)
        finally:
            if saved is None:
                os.environ.pop(limits.MAX_PARAMS_VARIABLE, None)
            else:
                os.environ[limits.MAX_PARAMS_VARIABLE] = saved
        sys.exit(result if isinstance(result, int) else ExitStatus.SUCCESS)

    def format_options(self, ctx, formatter):
        records = {param.name: param.get_help_record(ctx) for param in self.get_params(ctx)}
        placed = set()
        for title, names in self.sections.items():
            rows = [records[n] for n in names if records.get(n)]
            placed.update(names)
            with formatter.section(title):
                formatter.write_dl(rows)
        rest = [record for n, record in records.items() if record and n not in placed]
        if rest:
            with formatter.section("Other options" if self.sections else "Options"):
                formatter.write_dl(rest)


def program(name: str, sections: dict | None = None, **command_kwargs):
    """Decorate a function as a click command that maps errors to one line and an exit code;
    ``sections`` groups the options in --help by purpose."""

    def decorate(fn):
        @click.command(name=name, context_settings=CONTEXT, cls=GroupedCommand, sections=sections, **command_kwargs)
        @click.option("--debug", is_flag=True, help="Show the full traceback when something fails.")
        @click.version_option(__version__, "-V", "--version", prog_name=name)
        @functools.wraps(fn)
        def command(debug: bool, **params):
            from galaxy_dl.runtime import interruptible, start_up

            try:
                with interruptible(), start_up():
                    fn(**params)
            except (click.ClickException, click.exceptions.Exit, click.Abort):
                raise
            except GalaxyDLError as exc:
                if debug:
                    raise
                _fail(name, str(exc), exc.exit_status)
            except KeyboardInterrupt:
                _fail(name, "interrupted", ExitStatus.INTERRUPTED)
            except MemoryError:
                if debug:
                    raise
                _fail(name, "out of memory", ExitStatus.ERROR)
            except BrokenPipeError:
                sys.stderr.close()
                sys.exit(ExitStatus.OUTPUT)
            except Exception as exc:  # a full disk, or a bug: say so in one line, traceback on --debug
                if debug:
                    raise
                if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    _fail(name, str(OutputError(first_line(exc))), ExitStatus.OUTPUT)
                _fail(
                    name,
                    f"internal error: {type(exc).__name__}: {first_line(exc)} (run again with --debug)",
                    ExitStatus.ERROR,
                )

        return command

    return decorate


def _fail(name: str, message: str, status: int):
    distribution = sys.modules.get("galaxy_dl.runs.distribution")
    leaving = distribution is not None and distribution.exit_now()
    if leaving:  # the peer watchdog's thread and the main thread may both fail: one line, from the first
        _last_words.acquire()
    message = " ".join(
        part.strip() for part in message.splitlines() if part.strip()
    )  # one line, whatever the cause said
    click.echo(f"{name}: error: {message}", err=True)
    if leaving:  # JAX's shutdown would wait for the lost peer
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(status))
    sys.exit(int(status))


_last_words = threading.Lock()  # never released: the holder ends the process


def lost_peer_handler(name: str):
    """What a multi-process run does when its watchdog loses a peer: the command's one line, exit 7."""
    return lambda error: _fail(name, str(error), error.exit_status)


def threads_option(fn):
    return click.option(
        "--threads",
        type=click.IntRange(min=1),
        default=None,
        help="CPU threads for TensorFlow and BLAS [default: $GALAXY_SLOTS, else all].",
    )(fn)


def _set_max_params(ctx, param, value):
    if value is not None:  # read where models are built, here and in the processes a run starts
        os.environ[limits.MAX_PARAMS_VARIABLE] = str(value)
    return value


max_params_option = click.option(
    "--max-params",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    expose_value=False,
    callback=_set_max_params,
    help=(
        f"Refuse models with more parameters [default: ${limits.MAX_PARAMS_VARIABLE}, else "
        f"{limits.DEFAULT_MAX_PARAMS:,}]."
    ),
)


backend_option = click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    default=None,
    help=f"Keras backend [default: $KERAS_BACKEND, else tensorflow]; jax needs {JAX_EXTRA}.",
)


def setup_runtime(threads, backend=None) -> str:
    """Choose the backend, cap threads and quiet TensorFlow: first thing in a command, before NumPy loads;
    returns the backend."""
    from galaxy_dl import runtime

    return runtime.configure(threads or runtime.default_threads(), backend)


def load_keras():
    """Import Keras (and TensorFlow) quietly, once the cheap checks have passed."""
    from galaxy_dl.runtime import import_keras

    return import_keras()


def split_list(values) -> tuple[str, ...]:
    """Comma-separated values from one option or a repeated one: ('a,b', 'c') -> ('a', 'b', 'c')."""
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for value in values or ():
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return tuple(out)


def table_options(prefix: str, what: str):
    """Column selection in Galaxy's five ways, plus a per-table --PREFIX-no-header, for one input."""
    key = prefix.replace("-", "_")

    def decorate(fn):
        options = [
            click.option(
                f"--{prefix}-cols",
                f"{key}_cols",
                multiple=True,
                metavar="LIST",
                help=f"Use only these 1-based columns of {what} (e.g. 1,3-5).",
            ),
            click.option(
                f"--{prefix}-cols-except",
                f"{key}_cols_except",
                multiple=True,
                metavar="LIST",
                help=f"Use all columns of {what} except these 1-based ones.",
            ),
            click.option(
                f"--{prefix}-names",
                f"{key}_names",
                multiple=True,
                metavar="LIST",
                help=f"Use only the columns of {what} with these header names.",
            ),
            click.option(
                f"--{prefix}-names-except",
                f"{key}_names_except",
                multiple=True,
                metavar="LIST",
                help=f"Use all columns of {what} except those with these header names.",
            ),
            click.option(
                f"--{prefix}-no-header",
                f"{key}_no_header",
                is_flag=True,
                help=f"{what[0].upper() + what[1:]} has no header row.",
            ),
        ]
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


no_header_option = click.option("--no-header", is_flag=True, help="No input table has a header row.")


def figure_options(title: str):
    """--format, --dpi and --title, as the plotting programs share them."""
    from galaxy_dl.report.plots import FORMATS

    options = [
        click.option(
            "--format",
            "fmt",
            type=click.Choice(FORMATS),
            default=None,
            help="Image format [default: from the suffix, else png].",
        ),
        click.option("--dpi", type=click.IntRange(min=30, max=1200), default=150, show_default=True),
        click.option("--title", default=title, show_default=True),
    ]

    def decorate(function):
        for option in reversed(options):  # as if written one above the other
            function = option(function)
        return function

    return decorate


def table_spec(path: str, prefix: str, params: dict, no_header: bool = False, option: str | None = None) -> TableSpec:
    """Pop one table's options from ``params`` and describe how to read it."""
    key = prefix.replace("-", "_")
    chosen = [
        (mode, split_list(params.pop(f"{key}_{suffix}")))
        for mode, suffix in (
            ("index", "cols"),
            ("index_except", "cols_except"),
            ("name", "names"),
            ("name_except", "names_except"),
        )
    ]
    given = [(mode, values) for mode, values in chosen if values]
    if len(given) > 1:
        raise click.UsageError(f"choose the columns of --{prefix} one way only (got {len(given)} selections)")
    columns = Columns(*given[0]) if given else Columns()
    header = not (no_header or params.pop(f"{key}_no_header"))
    return TableSpec(path=path, header=header, columns=columns, option=option or f"--{prefix}")
