"""Receptive fields: which input elements can affect one output element of a conv stack."""

from __future__ import annotations

from collections.abc import Sequence

from ..registry import public


def _pairs(values: Sequence[int | tuple[int, int]], what: str) -> list[tuple[int, int]]:
    pairs = []
    for v in values:
        pair = (v, v) if isinstance(v, int) else tuple(v)
        if len(pair) != 2 or not all(isinstance(p, int) and not isinstance(p, bool) and p > 0
                                     for p in pair):
            raise ValueError(f"receptive_field: each {what} must be a positive int or a pair of "
                             f"positive ints, got {v!r}")
        pairs.append(pair)
    return pairs


@public
def receptive_field(kernel_sizes: Sequence[int | tuple[int, int]],
                    strides: Sequence[int | tuple[int, int]] | None = None,
                    index: tuple[int, int] = (0, 0)) -> tuple[range, range]:
    """The input rows and columns that output element ``index`` of a stack of 'valid' convolutions
    depends on, as two ``range`` objects.

    Layer ``l`` has kernel ``k_l`` and stride ``s_l`` (default 1). The field spans
    ``1 + sum_l (k_l - 1) * prod_{m<l} s_m`` inputs per axis, starting at ``index * prod_l s_l``.
    """
    kernels = _pairs(kernel_sizes, "kernel size")
    steps = _pairs(strides, "stride") if strides is not None else [(1, 1)] * len(kernels)
    if not kernels:
        raise ValueError("receptive_field: give at least one kernel size")
    if len(steps) != len(kernels):
        raise ValueError(f"receptive_field: {len(kernels)} kernel sizes but {len(steps)} strides")
    if len(index) != 2 or any(not isinstance(i, int) or i < 0 for i in index):
        raise ValueError(f"receptive_field: index must be two non-negative ints, got {index!r}")
    spans = []
    for axis in range(2):
        size, jump = 1, 1
        for (k, s) in zip((k[axis] for k in kernels), (s[axis] for s in steps)):
            size += (k - 1) * jump
            jump *= s
        start = index[axis] * jump
        spans.append(range(start, start + size))
    return spans[0], spans[1]
