"""Limits that make hostile input cheap to refuse.

Every size an input declares (a header, a dataset's shape, a document's nesting, a ZIP member,
a model's parameter count, a search's settings, a plot's classes) is compared with one of these
before memory is spent on it, so refusing a bomb costs no more than starting the program. The
README's "Security" section lists them; the ones a real user may reach have an option to raise them.
"""

# Documents: JSON and YAML (architectures, archive members, Galaxy-ML parameters, --spec, --config).
MAX_NESTING = 100  # a Keras architecture nests about 15 levels deep
MAX_DOCUMENT_NODES = 1_000_000  # YAML values after aliases are expanded ("billion laughs")

# Containers: ZIP members (estimator archives) and HDF5 datasets that are read whole.
MAX_MEMBER_BYTES = 2 * 1024**3
MAX_JSON_BYTES = 64 * 1024**2
MAX_WHOLE_BYTES = 2 * 1024**3
# Inflated size over stored size, beyond 1 MiB: ZIP members, gzip streams, HDF5 datasets. Deflate itself
# cannot exceed about 1032; more means storage that was never written (an HDF5 fill value).
MAX_COMPRESSION_RATIO = 200
MAX_HDF5_RATIO = 1100
RATIO_FLOOR_BYTES = 1 << 20

# Text: one line (a header, a row) must fit pyarrow's parse block.
MAX_LINE_BYTES = 1 << 24

# Models: parameters (raise with --max-params) and the values one layer outputs for one row.
DEFAULT_MAX_PARAMS = 1_000_000_000
MAX_LAYER_OUTPUT = 1 << 28

# Runs and plots.
DEFAULT_MAX_SETTINGS = 10_000  # a search's settings (raise with --max-settings)
MAX_LOCAL_PROCESSES = 64  # train-eval --local-processes
DEFAULT_MAX_CLASSES = 200  # plot-cm's classes (raise with --max-classes)

# Where a limit with an option is read: the option sets the variable, so that the processes a run
# starts (a search's workers, --local-processes) apply the same limit.
MAX_PARAMS_VARIABLE = "GALAXY_DL_MAX_PARAMS"


def max_params() -> int:
    import os

    value = os.environ.get(MAX_PARAMS_VARIABLE, "")
    return int(value) if value.isdigit() else DEFAULT_MAX_PARAMS
