"""Start-up: garbage collection paused for the heavy imports, resumed for the work, frozen at exit."""

import contextlib
import gc
import json
import subprocess
import sys

import pytest

from galaxy_dl import runtime
from tests.conftest import invoke


@pytest.fixture
def fresh_freeze(monkeypatch):
    """Let imports_done() freeze again in this process, and thaw afterwards."""
    monkeypatch.setattr(runtime, "_frozen", False)
    yield
    gc.unfreeze()


def test_start_up_pauses_collection_and_restores_it():
    assert gc.isenabled()
    with runtime.start_up():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_start_up_restores_collection_when_the_program_fails():
    with pytest.raises(ValueError), runtime.start_up():
        raise ValueError("bad input")
    assert gc.isenabled()


def test_start_up_leaves_a_disabled_collector_disabled():
    gc.disable()
    try:
        with runtime.start_up():
            runtime.imports_done()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_imports_done_freezes_what_was_imported_and_resumes(fresh_freeze):
    gc.unfreeze()
    with runtime.start_up():
        imported = [object() for _ in range(10)]  # stands in for a library's module objects
        runtime.imports_done()
        assert gc.isenabled()
        assert gc.get_freeze_count() > len(imported)
    assert gc.isenabled()


def test_imports_done_freezes_once_per_process(fresh_freeze):
    with runtime.start_up():
        runtime.imports_done()
    first = gc.get_freeze_count()
    later = [[] for _ in range(100)]
    with runtime.start_up():
        runtime.imports_done()
    assert gc.get_freeze_count() == first
    assert later


def test_import_keras_resumes_collection():
    with runtime.start_up():
        runtime.import_keras()
        assert gc.isenabled()


def test_the_interpreter_exits_with_everything_frozen():
    # atexit runs handlers last-in first-out: the probe registered first runs after start_up's freeze
    code = (
        "import atexit, gc\n"
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
        "from galaxy_dl import runtime\n"
        "with runtime.start_up():\n"
        "    pass\n"
        "assert gc.get_freeze_count() == 0\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "frozen at exit: True"


def test_a_deferred_module_is_imported_when_a_name_of_it_is_first_used(tmp_path, monkeypatch):
    ran = tmp_path / "ran"
    (tmp_path / "deferred_probe.py").write_text(f"open({str(ran)!r}, 'a').write('imported ')\nVALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with runtime.deferred("deferred_probe"):
            import deferred_probe as stand_in
        assert not ran.exists() and "deferred_probe" not in sys.modules
        assert stand_in.VALUE == 42
        assert ran.read_text() == "imported "
        assert sys.modules["deferred_probe"] is not stand_in and sys.modules["deferred_probe"].VALUE == 42
        assert stand_in.VALUE == 42 and ran.read_text() == "imported "  # once
    finally:
        sys.modules.pop("deferred_probe", None)
    with runtime.deferred("json"):
        import json as already
    assert already is sys.modules["json"]


def test_programs_leave_collection_on_in_the_calling_process(tmp_path, golub):
    from galaxy_dl.cli import build_arch, plot_cm

    failed = invoke(build_arch.main, ["--input-shape", "3", "--layer", "Dense(", "-o", tmp_path / "a.json"])
    assert failed.exit_code != 0
    assert gc.isenabled()
    plotted = invoke(plot_cm.main, ["--y-true", golub / "y_test.tsv", "--y-pred", golub / "y_test.tsv",
                                    "-o", tmp_path / "cm.png"])
    assert plotted.exit_code == 0, plotted.stderr
    assert gc.isenabled()


def test_seeding_hides_native_start_up_chatter(capfd, monkeypatch):
    # On JAX, keras.utils.set_random_seed imports TensorFlow, whose C++ layer writes to fd 2.
    import os

    import keras

    def noisy_seed(value):
        os.write(2, b"I0000 cudart_stub.cc:31] Could not find cuda drivers\n")

    monkeypatch.setattr(keras.utils, "set_random_seed", noisy_seed)
    runtime.seed(3)
    assert "cuda" not in capfd.readouterr().err


@pytest.fixture
def fresh_interrupt_state(monkeypatch):
    """No interrupt seen yet; the signal handlers as they were afterwards."""
    import signal

    monkeypatch.setattr(runtime, "_interrupted", False)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in handlers.items():
        signal.signal(signum, handler)


def test_a_swallowed_interrupt_is_raised_again_at_the_next_check(fresh_interrupt_state):
    try:  # noqa: SIM105 (spelled out: this is the library code under test)
        runtime.interrupt()
    except KeyboardInterrupt:
        pass  # what a library's bare except does
    with pytest.raises(KeyboardInterrupt):
        runtime.check_interrupted(3, logs={})


def test_what_a_library_raises_while_interrupted_is_the_interrupt(fresh_interrupt_state):
    with pytest.raises(KeyboardInterrupt), runtime.interruptible():
        try:
            runtime.interrupt()
        except KeyboardInterrupt:
            raise RuntimeError("Exiting device scope without proper scope nesting") from None
    with pytest.raises(ValueError):  # without an interrupt, errors stay what they are
        runtime._interrupted = False
        with runtime.interruptible():
            raise ValueError("a bug")


def test_training_stops_after_the_batch_of_a_swallowed_interrupt(fresh_interrupt_state):
    import numpy as np

    from galaxy_dl.model.estimator import KerasClassifier

    runtime.import_keras()
    from galaxy_dl.model.architecture import build_sequential, to_json
    from galaxy_dl.model.layerspec import parse_layer

    model = build_sequential((3,), [parse_layer('Dense(1, activation="sigmoid")')])
    estimator = KerasClassifier(architecture=json.loads(to_json(model)), epochs=50, batch_size=2, verbose=0, seed=0)
    with contextlib.suppress(KeyboardInterrupt):
        runtime.interrupt()
    X = np.random.default_rng(0).normal(size=(20, 3)).astype("float32")
    with pytest.raises(KeyboardInterrupt):
        estimator.fit(X, np.arange(20) % 2)
