"""Plain-numpy (float64) oracles for padding, stride, channels and pooling, independent of d2lconv."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def pad4(x: np.ndarray, padding: tuple[int, int], value: float = 0.0) -> np.ndarray:
    (ph, pw) = padding
    widths = [(0, 0)] * (x.ndim - 2) + [(ph, ph), (pw, pw)]
    return np.pad(x.astype(np.float64), widths, constant_values=value)


def windows(x: np.ndarray, size: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """``(..., oh, ow, kh, kw)``: every window of the last two axes, taken with the stride."""
    view = sliding_window_view(x, size, axis=(-2, -1))
    return view[..., ::stride[0], ::stride[1], :, :]


def corr(x: np.ndarray, k: np.ndarray, padding=(0, 0), stride=(1, 1)) -> np.ndarray:
    """Multi-channel cross-correlation: x (..., ci, h, w), k (co, ci, kh, kw) -> (..., co, h', w')."""
    w = windows(pad4(x, padding), k.shape[-2:], stride)  # (..., ci, oh, ow, kh, kw)
    return np.einsum("...cijab,ocab->...oij", w, k.astype(np.float64))


def corr2d(x: np.ndarray, k: np.ndarray, padding=(0, 0), stride=(1, 1)) -> np.ndarray:
    return corr(x[None], k[None, None], padding, stride)[0]


def pool(x: np.ndarray, size, mode="max", padding=(0, 0), stride=(1, 1)) -> np.ndarray:
    fill = -np.inf if mode == "max" else 0.0
    w = windows(pad4(x, padding, fill), size, stride)
    return w.max(axis=(-2, -1)) if mode == "max" else w.mean(axis=(-2, -1))


def pool_grad(x: np.ndarray, weights: np.ndarray, size, mode="max", padding=(0, 0),
              stride=(1, 1)) -> np.ndarray:
    """d sum(pool(x) * weights) / dx by explicit scattering (max: to each window's argmax)."""
    fill = -np.inf if mode == "max" else 0.0
    padded = pad4(x, padding, fill)
    grad = np.zeros_like(padded)
    lead = padded.shape[:-2]
    kh, kw = size
    oh, ow = weights.shape[-2:]
    for idx in np.ndindex(*lead):
        for i in range(oh):
            for j in range(ow):
                r, c = i * stride[0], j * stride[1]
                window = padded[idx][r:r + kh, c:c + kw]
                if mode == "max":
                    a, b = np.unravel_index(np.argmax(window), window.shape)
                    grad[idx][r + a, c + b] += weights[idx][i, j]
                else:
                    grad[idx][r:r + kh, c:c + kw] += weights[idx][i, j] / (kh * kw)
    (ph, pw) = padding
    return grad[..., ph:grad.shape[-2] - ph, pw:grad.shape[-1] - pw]
