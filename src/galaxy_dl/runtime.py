"""Process set-up that must happen before TensorFlow is imported: threads, logging, seeds, garbage collection,
and imports held back (hidden, or deferred to first use)."""

import atexit
import contextlib
import gc
import importlib
import os
import sys
import types

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)


_interrupted = False


def interrupt(signum=None, frame=None) -> None:
    """Signal handler for Ctrl-C and SIGTERM: remember the interrupt, then raise KeyboardInterrupt.

    A library may swallow that exception (TensorFlow's tracing of the first step has bare ``except``
    clauses), so training also asks :func:`check_interrupted` after every batch.
    """
    global _interrupted
    _interrupted = True
    raise KeyboardInterrupt


def check_interrupted(*_args, **_kwargs) -> None:
    """Raise KeyboardInterrupt if an interrupt arrived, even one a library swallowed."""
    if _interrupted:
        raise KeyboardInterrupt


@contextlib.contextmanager
def interruptible():
    """Ctrl-C and SIGTERM (how Galaxy stops a job) end a program as KeyboardInterrupt, so outputs are cleaned
    up the same way; whatever a library raises while the interrupt unwinds it is reported as the interrupt."""
    import signal

    signal.signal(signal.SIGTERM, interrupt)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not where Ctrl-C is ignored
        signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    except Exception:
        if _interrupted:
            raise KeyboardInterrupt from None
        raise


def return_large_buffers(threshold: int = 1 << 20) -> None:
    """Have glibc map buffers above ``threshold`` bytes on their own and unmap them when freed.

    By default glibc raises its mmap threshold after the first large free and then keeps later large
    blocks in its per-thread arenas: a streamed run, which allocates a fresh 32 MB block again and again
    on tf.data's threads, grew by 100-300 MB that way. No-op where the C library is not glibc.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-3, threshold)  # M_MMAP_THRESHOLD (a fixed value also turns off glibc's raising of it)
    except (OSError, AttributeError):
        pass


def default_threads() -> int | None:
    """Galaxy tells a job its cores in GALAXY_SLOTS."""
    slots = os.environ.get("GALAXY_SLOTS", "")
    return int(slots) if slots.isdigit() and int(slots) > 0 else None


_threads: int | None = None


BACKENDS = ("tensorflow", "jax")
JAX_EXTRA = "pip install 'galaxy-dl[jax]'"


def configure(threads: int | None = None, backend: str | None = None) -> str:
    """Quiet TensorFlow's C++ logging, choose the Keras backend (returned) and cap the thread pools; call
    before importing NumPy or Keras.

    BLAS pools that are already loaded are capped too (threadpoolctl); TensorFlow's own pools
    are set when Keras is imported (:func:`import_keras`).
    """
    global _threads
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    chosen = select_backend(backend)
    if threads:
        _threads = threads
        for name in THREAD_VARIABLES:
            os.environ[name] = str(threads)
        if "numpy" in sys.modules:
            from threadpoolctl import threadpool_limits

            threadpool_limits(threads)
    return chosen


@contextlib.contextmanager
def child_threads(threads: int):
    """Processes started inside (a search's workers) cap every thread pool at ``threads``, TensorFlow's too:
    they read the variables at start-up. This process's own pools are left as they are."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def select_backend(name: str | None) -> str:
    """Keras' backend: ``name`` (--backend), else $KERAS_BACKEND, else TensorFlow; jax must be installed
    for JAX (checked without importing it, so that --help and option errors stay fast)."""
    from galaxy_dl.errors import UsageError

    name = name or os.environ.get("KERAS_BACKEND") or "tensorflow"
    if name not in BACKENDS:
        raise UsageError(f"--backend: {name!r} is not one of {', '.join(BACKENDS)} (from $KERAS_BACKEND)")
    loaded = sys.modules.get("keras")
    if loaded is not None and loaded.backend.backend() != name:
        raise UsageError(f"--backend {name}: Keras is already loaded on {loaded.backend.backend()} in this process")
    if name == "jax" and not _importable("jax"):
        raise UsageError(f"--backend jax needs jax, which is not installed: {JAX_EXTRA}")
    os.environ["KERAS_BACKEND"] = name
    return name


def _importable(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a module set to None in sys.modules, or without a spec
        return False


def thread_budget() -> int:
    """CPU threads this process may use: --threads / GALAXY_SLOTS once configured, else every CPU."""
    return _threads or os.cpu_count() or 1


def seed(value: int) -> None:
    """Seed Python, NumPy and the backend; on TensorFlow also make ops deterministic.

    Must run before any model is built or deserialized: weights are initialised then.
    """
    import keras

    # On JAX, Keras would import TensorFlow here only to seed it: 3 s of a JAX program's start-up, for tf.data
    # pipelines that JAX runs do not use. Keras then takes TensorFlow for absent, which changes nothing that works
    # on JAX (its TensorFlow-only lookup layers cannot run inside a JAX model in any case).
    hide = keras.backend.backend() != "tensorflow"
    with quiet_native_stderr(), _hidden("tensorflow") if hide else contextlib.nullcontext():
        keras.utils.set_random_seed(value)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


@contextlib.contextmanager
def quiet_native_stderr():
    """Hide what TensorFlow's C++ layer prints at import (oneDNN and CUDA notices, which
    TF_CPP_MIN_LOG_LEVEL does not silence). Python errors still propagate normally.
    Set GALAXY_DL_BACKEND_LOGS=1 to see them."""
    if os.environ.get("GALAXY_DL_BACKEND_LOGS"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_paused = False  # start_up() paused the collector and imports_done() has not resumed it yet
_frozen = False
atexit.register(gc.freeze)  # see start_up(): the interpreter need not walk every object on its way out


@contextlib.contextmanager
def start_up():
    """Run a program with the cyclic garbage collector paused until its heavy imports are done.

    Importing TensorFlow, pandas and scikit-learn creates millions of long-lived objects. The
    collector would walk them again and again during the imports and once more at exit: about
    1.5 s of a 4 s Keras start-up on two cores. :func:`imports_done` freezes them (frozen
    objects are never examined) and resumes collection before any real work; at exit the
    remaining objects are frozen too, so the interpreter does not traverse them on the way out.
    """
    global _paused
    if not gc.isenabled():  # someone else turned it off: leave it so
        yield
        return
    gc.disable()
    _paused = True
    try:
        yield
    finally:
        _paused = False
        gc.enable()


def imports_done() -> None:
    """Freeze what start-up imported (once per process) and resume garbage collection."""
    global _frozen, _paused
    if not _paused:
        return
    if not _frozen:
        gc.freeze()
        _frozen = True
    _paused = False
    gc.enable()


def imports_frozen() -> bool:
    """Whether :func:`imports_done` froze this process's imports."""
    return _frozen


@contextlib.contextmanager
def _in_place_of(module: str, stand_in):
    """``stand_in`` is what ``import module`` gives inside, unless the module is already imported; afterwards
    it leaves ``sys.modules`` (if it is still there: a deferred module may have been imported for real)."""
    if module in sys.modules:
        yield
        return
    sys.modules[module] = stand_in
    try:
        yield
    finally:
        if module in sys.modules and sys.modules[module] is stand_in:
            del sys.modules[module]


def _hidden(module: str):
    """``import module`` raises ImportError inside (unless it is already imported)."""
    return _in_place_of(module, None)


class _OnFirstUse(types.ModuleType):
    """Stands in for a module until one of its names is first asked for, then imports it and answers from it."""

    def __getattr__(self, name: str):
        real = self.__dict__.get("_module")
        if real is None:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
            real = self._module = importlib.import_module(self.__name__)
        return getattr(real, name)


def deferred(module: str):
    """``import module`` inside gives a stand-in that imports the module when one of its names is first used
    (unless it is already imported): for a library that imports at module level what it needs only sometimes."""
    return _in_place_of(module, _OnFirstUse(module))


def _without_jax():
    """On TensorFlow, keep jax (when installed) from being imported with Keras: TensorFlow's lite
    converter imports it if it can, for nothing here, at 0.8 s of every program's start-up."""
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return contextlib.nullcontext()
    return _hidden("jax")


_keras_ready = False


def import_keras():
    """Import Keras (and its backend) quietly, then resume garbage collection; later calls are free.

    Also where a search's worker process first imports Keras (through the estimator). TensorFlow's Python
    warnings are hidden: a search or cross-validation builds many models, and TensorFlow warns about
    "retracing" for each one after the fifth.
    """
    global _keras_ready
    if _keras_ready:
        import keras

        imports_done()
        return keras
    with quiet_native_stderr(), _without_jax():
        import keras
    _keras_ready = True
    imports_done()
    if keras.backend.backend() == "tensorflow":
        import logging

        import tensorflow as tf

        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        if _threads:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(_threads)
                tf.config.threading.set_inter_op_parallelism_threads(_threads)
            except RuntimeError:  # TensorFlow was already initialised in this process: the env vars apply
                pass
    return keras
