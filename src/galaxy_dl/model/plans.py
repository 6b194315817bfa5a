"""The plan an estimator trains under: how its model is built, fed and handed back.

The estimator asks :func:`current`; the default, :class:`Local`, changes nothing. A run that trains on several
devices or processes (:mod:`galaxy_dl.runs.distribution`) makes its own plan, a subclass of Local, and trains inside
:func:`using` it: so the model knows the interface, never the engines.
"""

import contextlib

_current = None


def current():
    """The plan the estimator trains under: :class:`Local` outside :func:`using`."""
    return _current or Local()


@contextlib.contextmanager
def using(plan):
    """Every estimator fit inside trains under ``plan``; an error that means a lost peer becomes the plan's error."""
    global _current
    saved, _current = _current, plan
    try:
        yield plan
        plan.finish()
    except Exception as exc:
        if (lost := plan.lost_peer(exc)) is not None:
            raise lost from None
        raise
    finally:
        _current = saved


class Local:
    """One device, one process: Keras as usual."""

    process_id = 0
    num_processes = 1
    shards_data = False

    @property
    def writes_outputs(self) -> bool:
        return self.process_id == 0

    def scope(self):
        return contextlib.nullcontext()

    def prepare(self, estimator) -> None:
        """Settle, before any fit, what the processes must agree on."""

    def replica(self, estimator, model):
        return model

    def finish(self) -> None:
        """Training is over: the peers are no longer needed."""

    def lost_peer(self, exc: BaseException):
        """The error to raise instead of ``exc`` when it means another process was lost (none: one process)."""
        return None
