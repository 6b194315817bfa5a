"""File-format names and versions, defined once.

A reader refuses a container whose format name differs or whose version is newer
than the one it knows; older versions are read (there are none yet).
"""

ESTIMATOR_FORMAT = "galaxy-dl-estimator"
ESTIMATOR_VERSION = 1

# Members of the estimator archive, in the order they are written.
MANIFEST = "manifest.json"
ARCHITECTURE = "architecture.json"
PARAMS = "params.json"
STATE = "state.json"
WEIGHTS = "model.weights.h5"

# Every HDF5 file starts so: Keras weights, and Galaxy-ML's h5mlm estimators.
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
