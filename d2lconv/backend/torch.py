"""The PyTorch backend: ``torch.Tensor`` on the CPU; gradients by ``torch.autograd``."""

from __future__ import annotations

from typing import Any, Callable

import numpy as _np
import torch

from . import _common
from ._common import block_until_ready, seed  # noqa: F401  (re-exported backend names)

NAME = "torch"
float32 = torch.float32
float64 = torch.float64
int32 = torch.int32
int64 = torch.int64
Tensor = torch.Tensor

_TO_TORCH = {_np.dtype(_np.float32): torch.float32, _np.dtype(_np.float64): torch.float64,
             _np.dtype(_np.int32): torch.int32, _np.dtype(_np.int64): torch.int64,
             _np.dtype(_np.float16): torch.float16, _np.dtype(_np.bool_): torch.bool,
             _np.dtype(_np.uint8): torch.uint8, _np.dtype(_np.int8): torch.int8,
             _np.dtype(_np.int16): torch.int16}


def _torch_dtype(dtype: Any) -> Any:
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    return _TO_TORCH[_np.dtype(dtype)]


def tensor(data: Any, dtype: Any = None) -> torch.Tensor:
    """A new tensor from nested lists/scalars/arrays; floats default to float32, ints to int64."""
    if isinstance(data, torch.Tensor):
        return data.detach().clone().to(_torch_dtype(dtype) or data.dtype)
    array = _common.host_array(data, None if dtype is None or isinstance(dtype, torch.dtype) else dtype)
    out = torch.from_numpy(_np.array(array, copy=True))
    return out.to(dtype) if isinstance(dtype, torch.dtype) else out


def from_numpy(array: _np.ndarray) -> torch.Tensor:
    return torch.from_numpy(_np.ascontiguousarray(array))


abs = torch.abs
exp = torch.exp
log = torch.log
sin = torch.sin
cos = torch.cos
tanh = torch.tanh
sqrt = torch.sqrt
sigmoid = torch.sigmoid
matmul = torch.matmul
maximum = torch.maximum
reshape = torch.reshape
expand_dims = torch.unsqueeze


def zeros(shape, dtype=float32):
    return torch.zeros(shape, dtype=dtype if type(dtype) is torch.dtype else _torch_dtype(dtype))


def ones(shape, dtype=float32):
    return torch.ones(shape, dtype=dtype if type(dtype) is torch.dtype else _torch_dtype(dtype))


def zeros_like(x, dtype=None):
    return torch.zeros_like(x, dtype=_torch_dtype(dtype))


def ones_like(x, dtype=None):
    return torch.ones_like(x, dtype=_torch_dtype(dtype))


def arange(start, stop=None, step=1, dtype=None):
    if stop is None:
        start, stop = 0, start
    return torch.arange(start, stop, step, dtype=_torch_dtype(dtype or _common.arange_dtype(start, stop, step)))


def linspace(start, stop, num=50, dtype=float32):
    return torch.linspace(start, stop, num, dtype=_torch_dtype(dtype))


def eye(n, m=None, dtype=float32):
    return torch.eye(n, n if m is None else m, dtype=_torch_dtype(dtype))


def transpose(x, axes=None):
    """numpy's meaning: reverse all axes (any rank), or permute by ``axes``."""
    if axes is None:
        return x.t() if x.dim() == 2 else x.permute(*range(x.dim() - 1, -1, -1))
    return x.permute(_common.normalize_axes(axes, x.dim()))


def reduce_sum(x, axis=None, keepdims=False):
    if axis is None:
        total = torch.sum(x)
        return total.reshape((1,) * x.dim()) if keepdims else total
    return torch.sum(x, dim=axis, keepdim=keepdims)


def reduce_mean(x, axis=None, keepdims=False):
    if axis is None:
        total = torch.mean(x)
        return total.reshape((1,) * x.dim()) if keepdims else total
    return torch.mean(x, dim=axis, keepdim=keepdims)


def stack(xs, axis=0):
    return torch.stack(list(xs), dim=axis)


def concat(xs, axis=0):
    return torch.cat(list(xs), dim=axis)


def swapaxes(x, axis1, axis2):
    return torch.swapaxes(x, axis1, axis2)


def repeat(x, repeats, axis=None):
    """numpy's meaning: repeat each element (``torch.repeat_interleave``), not tile."""
    return torch.repeat_interleave(x, repeats, dim=axis)


def flip(x, axis=None):
    dims = list(range(x.dim())) if axis is None else [axis] if isinstance(axis, int) else list(axis)
    return torch.flip(x, dims)


def argmax(x, axis=None):
    return torch.argmax(x, dim=axis)


def astype(x, dtype):
    return x.to(_torch_dtype(dtype))


def size(x) -> int:
    return x.numel()


def numpy(x) -> _np.ndarray:
    """The values as a host numpy array, detached from any autograd graph."""
    return x.detach().cpu().numpy()


rand, normal = _common.make_random(from_numpy)



def is_tensor(x: Any) -> bool:
    return isinstance(x, torch.Tensor)


def shape(x) -> tuple[int, ...]:
    return tuple(x.shape)


def is_floating(x) -> bool:
    return x.is_floating_point()


def dtype_name(x) -> str:
    return str(x.dtype).replace("torch.", "")


def compile(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Eager torch is already fast for shift-and-add; ``torch.compile`` costs seconds per shape."""
    return fn


def value_and_grad(fn: Callable[..., Any], argnums: int | tuple[int, ...] = 0):
    """``fn``'s value and its gradient with respect to the positional args ``argnums``."""
    many = isinstance(argnums, tuple)
    nums = argnums if many else (argnums,)

    def run(*args):
        full = list(args)
        inputs = []
        for i in nums:
            leaf = args[i].detach().requires_grad_(True)
            full[i] = leaf
            inputs.append(leaf)
        with torch.enable_grad():
            value = fn(*full)
            grads = torch.autograd.grad(value, inputs, allow_unused=True)
        grads = tuple(torch.zeros_like(x) if g is None else g for g, x in zip(grads, inputs))
        return value.detach(), (grads if many else grads[0])

    return run


def native_corr2d(X, K):
    """The framework's own 2-D cross-correlation: for benchmarks and as an oracle."""
    return torch.nn.functional.conv2d(X[None, None], K[None, None])[0, 0]


#: Direct framework calls equivalent to d2lconv ops, for measuring dispatch overhead.
NATIVE_OPS = {
    "zeros": lambda shape: torch.zeros(shape),
    "reduce_sum": torch.sum,
    "reshape": torch.reshape,
    "transpose": lambda x: x.permute(1, 0),
}


def multiply_add(y, a, x):
    """``y + a * x`` in one fused pass (``torch.addcmul``): less memory traffic than two ops."""
    return torch.addcmul(y, a, x)
