"""Argument checks shared by the indicator functions and the streaming state.

Every failure raises :class:`nija.core.errors.IndicatorError` whose ``field`` names the
offending argument; nothing here lets a bad input reach the native kernels.
"""

from __future__ import annotations

import numbers
import os

import numpy as np

from nija.core.errors import IndicatorError

MAX_PERIOD = 100_000  # TA-Lib's upper bound for every period parameter
MATYPES = {0: "SMA", 1: "EMA"}  # the moving-average types the kernels implement

_num_threads = 0  # 0: not set yet, resolved lazily


def as_float64(name: str, value: object) -> np.ndarray:
    """Return ``value`` as a C-contiguous float64 array of 1 or 2 dimensions."""
    try:
        arr = np.ascontiguousarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise IndicatorError(f"{name} must be an array of numbers: {exc}", field=name) from exc
    if arr.ndim not in (1, 2):
        raise IndicatorError(
            f"{name} must be 1-D (time) or 2-D (markets x time), got {arr.ndim}-D", field=name
        )
    return arr


def as_inputs(**arrays: object) -> list[np.ndarray]:
    """Convert the named inputs and check that they all have the first one's shape."""
    out: list[np.ndarray] = []
    for name, value in arrays.items():
        arr = as_float64(name, value)
        if out and arr.shape != out[0].shape:
            first = next(iter(arrays))
            raise IndicatorError(
                f"{name} has shape {arr.shape} but {first} has shape {out[0].shape}", field=name
            )
        out.append(arr)
    return out


def period(name: str, value: object, minimum: int) -> int:
    """Check an integer period against TA-Lib's bounds [minimum, 100000]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise IndicatorError(f"{name} must be an integer, got {value!r}", field=name)
    value = int(value)
    if value < minimum:
        raise IndicatorError(f"{name} must be at least {minimum}, got {value}", field=name)
    if value > MAX_PERIOD:
        raise IndicatorError(f"{name} must be at most {MAX_PERIOD}, got {value}", field=name)
    return value


def real(name: str, value: object) -> float:
    """Check a real-valued parameter (e.g. a number of standard deviations)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise IndicatorError(f"{name} must be a number, got {value!r}", field=name)
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise IndicatorError(f"{name} must be finite, got {value}", field=name)
    return value


def matype(name: str, value: object) -> int:
    """Check a TA-Lib moving-average type; only SMA (0) and EMA (1) are implemented."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) not in MATYPES:
        supported = ", ".join(f"{k} ({v})" for k, v in MATYPES.items())
        raise IndicatorError(f"{name}={value!r} is not supported; use {supported}", field=name)
    return int(value)


def length(func: str, name: str, arr: np.ndarray, lookback: int) -> None:
    """Require at least one computable point: more than ``lookback`` samples in time."""
    n = arr.shape[-1]
    if n <= lookback:
        raise IndicatorError(
            f"{func}: {name} has {n} points, needs at least {lookback + 1} "
            f"(the lookback is {lookback})",
            field=name,
        )


def as_2d(arr: np.ndarray) -> np.ndarray:
    return arr if arr.ndim == 2 else arr.reshape(1, -1)


def num_threads() -> int:
    """Threads the 2-D calls and the streaming updates may use."""
    global _num_threads
    if _num_threads == 0:
        env = os.environ.get("NIJA_NUM_THREADS", "")
        _num_threads = int(env) if env.isdigit() and int(env) > 0 else (os.cpu_count() or 1)
    return _num_threads


def set_num_threads(n: int) -> None:
    """Set how many threads the 2-D calls and streaming updates may use (1 = serial)."""
    global _num_threads
    _num_threads = period("n", n, 1)


def outputs(func: str, out: object, count: int, inputs: list[np.ndarray]) -> tuple[np.ndarray, ...] | None:
    """Check caller-supplied output buffers (``out=``) and return them as a tuple.

    ``out`` is one array for a one-output function and a tuple of ``count`` arrays
    otherwise. Each must be a writeable, C-contiguous float64 ndarray with the
    inputs' shape, sharing no memory with an input or with another output (the
    kernels read inputs while they write outputs). Nothing is converted: a buffer
    that does not fit raises :class:`IndicatorError` with ``field="out"``.
    """
    if out is None:
        return None
    if count == 1:
        if isinstance(out, tuple):
            if len(out) != 1:
                raise IndicatorError(f"{func}: out must be one array, got a tuple of {len(out)}", field="out")
            out = out[0]
        bufs = (out,)
    else:
        if not isinstance(out, tuple) or len(out) != count:
            raise IndicatorError(f"{func}: out must be a tuple of {count} arrays", field="out")
        bufs = out
    shape = inputs[0].shape
    for k, buf in enumerate(bufs):
        label = "out" if count == 1 else f"out[{k}]"
        if not isinstance(buf, np.ndarray):
            raise IndicatorError(f"{func}: {label} must be a numpy array, got {type(buf).__name__}", field="out")
        if buf.dtype != np.float64:
            raise IndicatorError(f"{func}: {label} must be float64, got {buf.dtype}", field="out")
        if buf.shape != shape:
            raise IndicatorError(f"{func}: {label} has shape {buf.shape}, the input has {shape}", field="out")
        if not buf.flags.c_contiguous:
            raise IndicatorError(f"{func}: {label} must be C-contiguous", field="out")
        if not buf.flags.writeable:
            raise IndicatorError(f"{func}: {label} is read-only", field="out")
        # contiguous arrays overlap exactly when their address ranges do
        for arr in inputs:
            if np.may_share_memory(buf, arr):
                raise IndicatorError(f"{func}: {label} shares memory with an input", field="out")
        for other in bufs[:k]:
            if np.may_share_memory(buf, other):
                raise IndicatorError(f"{func}: {label} shares memory with another output", field="out")
    return tuple(bufs)
