"""Reading IDX files (MNIST's and Fashion-MNIST's format), gzip-compressed or raw, with numpy.

An IDX file is a 4-byte magic number ``00 00 TT NN`` (``TT`` the element type, ``0x08`` for
uint8; ``NN`` the number of dimensions: 3 for images, 1 for labels), then ``NN`` big-endian
uint32 dimensions, then exactly ``prod(dims)`` elements. Every way a file can break (not gzip, a
cut-off gzip stream, another magic number, too few or too many bytes) is a :class:`DataFileError`
that names the file, the problem and the fix.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from ..registry import public

#: IDX element type byte -> numpy dtype (big-endian where it matters).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"
#: What to do about a damaged file, unless the caller knows better (a packaged file, say).
DEFAULT_FIX = "delete the file and download it again"


@public
class DataFileError(ValueError):
    """A data file is damaged or is not what it should be; the message names it, the problem and the fix.

    ``path`` is the file (or the URL a download came from)."""

    def __init__(self, message: str, path: str | os.PathLike[str] | None = None):
        super().__init__(message)
        self.path = path


def _fail(caller: str, where: str | os.PathLike[str], problem: str, fix: str) -> DataFileError:
    return DataFileError(f"{caller}: {where} {problem}; {fix}", where)


def decompress(data: bytes, where: str | os.PathLike[str], caller: str = "read_idx", fix: str = DEFAULT_FIX) -> bytes:
    """``data`` (the bytes of file or URL ``where``), gunzipped if it is gzip: a name ending in
    ``.gz`` must be gzip, anything else is taken as it is unless it starts with gzip's magic bytes."""
    gz_name = os.fspath(where).endswith(".gz")
    if not gz_name and not data.startswith(GZIP_MAGIC):
        return data
    if not data.startswith(GZIP_MAGIC):
        raise _fail(caller, where, f"is not a gzip file (it starts with {data[:4].hex(' ') or 'nothing'}; "
                                   f"gzip files start with 1f 8b)", fix)
    try:
        return gzip.decompress(data)
    except EOFError:
        raise _fail(caller, where, f"is a truncated gzip file (its {len(data):,} bytes end before the "
                                   f"compressed data does: an interrupted download?)", fix) from None
    except (gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise _fail(caller, where, f"is a damaged gzip file ({exc})", fix) from None


def read_bytes(path: str | os.PathLike[str], caller: str = "read_idx", fix: str = DEFAULT_FIX) -> bytes:
    """The file's bytes, decompressed if it is gzip (see :func:`decompress`)."""
    return decompress(Path(path).read_bytes(), path, caller, fix)


def parse_idx(data: bytes, where: str | os.PathLike[str], ndim: int | None = None, caller: str = "read_idx",
              fix: str = DEFAULT_FIX) -> np.ndarray:
    """The array that the IDX bytes ``data`` (read from ``where``, named in errors) hold: read-only,
    native byte order. ``ndim`` (3 for images, 1 for labels) is the number of dimensions the magic
    number must announce."""
    wanted = "" if ndim is None else f" (0x000008{ndim:02x} for uint8 data in {ndim} dimensions)"
    if len(data) < 4:
        raise _fail(caller, where, f"holds {len(data)} bytes, too few for an IDX header", fix)
    zero, kind, dims_count = int.from_bytes(data[:2], "big"), data[2], data[3]
    if zero != 0 or kind not in IDX_DTYPES or (ndim is not None and dims_count != ndim):
        raise _fail(caller, where, f"has the magic number 0x{data[:4].hex()}, not an IDX file's{wanted}: "
                                   f"another file under this name?", fix)
    header = 4 + 4 * dims_count
    if len(data) < header:
        raise _fail(caller, where, f"is truncated: {len(data)} bytes, fewer than its IDX header's {header}", fix)
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims_count))
    dtype = IDX_DTYPES[kind]
    expected = math.prod(dims) * dtype.itemsize
    payload = len(data) - header
    if payload < expected:
        raise _fail(caller, where, f"is truncated: its header announces {dims} values ({expected:,} bytes) but "
                                   f"only {payload:,} bytes follow", fix)
    if payload > expected:
        raise _fail(caller, where, f"has {payload - expected:,} extra bytes after the {expected:,} bytes of data "
                                   f"its header announces for shape {dims}", fix)
    array = np.frombuffer(data, dtype=dtype, count=math.prod(dims), offset=header).reshape(dims)
    if not dtype.isnative:
        array = array.astype(dtype.newbyteorder("="))
        array.flags.writeable = False
    return array


def read_idx(path: str | os.PathLike[str], ndim: int | None = None, caller: str = "read_idx",
             fix: str = DEFAULT_FIX) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw) into a read-only numpy array; see :func:`parse_idx`."""
    return parse_idx(read_bytes(path, caller, fix), path, ndim, caller, fix)


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array (what tests and tools write)."""
    array = np.asarray(array)
    if array.dtype != np.uint8 or not 1 <= array.ndim <= 255:
        raise ValueError(f"idx_bytes: need a uint8 array of 1 to 255 dimensions, got {array.dtype} "
                         f"of shape {array.shape}")
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array).tobytes()
