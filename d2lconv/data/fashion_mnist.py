"""Fashion-MNIST (d2l 1.0's ``FashionMNIST``) and MNIST, read from their four IDX files with numpy.

The files are looked for, in this order, in ``root``; in ``$D2LCONV_DATA`` (directly, or in a
``fashion-mnist`` subfolder); in the user cache (``$XDG_CACHE_HOME/d2lconv/fashion-mnist``,
default ``~/.cache/d2lconv/fashion-mnist``); in Debian's ``/usr/share/datasets/fashion-mnist``
(``apt-get install dataset-fashion-mnist``). The first directory that holds all four wins. If
none does, the four ``.gz`` files are downloaded into the cache: each is verified before it is
written (atomically), so a failed or interrupted download leaves the cache as it was.

Fashion-MNIST's data is checked against SHA-256 sums of the decompressed files (the data, not
its compression); MNIST, which d2lconv ships no sums for, gets the IDX structure checks only.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import threading
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_bytes_atomic
from ..base.checks import check_pair
from ..registry import public
from .idx import DataFileError, decompress, parse_idx, read_bytes
from .module import DataModule, TensorLoader, backend_for, check_batch_size, host_array, made_in

#: The four files, without ``.gz`` (a directory may hold them gzipped or not), by split.
SPLIT_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "val": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FILES: tuple[str, ...] = (*SPLIT_FILES["train"], *SPLIT_FILES["val"])

#: SHA-256 of each file's *decompressed* IDX bytes: the data, not its gzip wrapping. Debian's
#: dataset-fashion-mnist recompressed the .gz files, so their bytes (and upstream's md5 sums of
#: them) differ, but the decompressed data is upstream's byte for byte; these sums, computed from
#: Debian's files, therefore hold for upstream's files too.
FASHION_MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

DATA_ENV = "D2LCONV_DATA"
#: Seconds a download may wait for the server before it gives up.
DOWNLOAD_TIMEOUT = 60

# Decoded files, shared by every instance in this process (read-only arrays): reading and
# verifying a file happens once per path, inode, mtime, size and expected checksum.
_CACHE: OrderedDict[tuple[Any, ...], np.ndarray] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_ENTRIES = 8


@public
class DataNotFoundError(FileNotFoundError):
    """A data set's files are in none of the places searched (and could not be downloaded); the
    message lists every place and how to get the files. ``places`` holds the directories."""

    def __init__(self, message: str, places: Sequence[Path] = ()):
        super().__init__(message)
        self.places = list(places)

    def __str__(self) -> str:
        return str(self.args[0])


def bilinear_matrix(size_out: int, size_in: int) -> np.ndarray:
    """The ``(size_out, size_in)`` float32 matrix of 1-D bilinear interpolation, ``align_corners=False``.

    Output pixel ``i`` samples the input at ``(i + 0.5) * size_in / size_out - 0.5`` (pixel centres
    line up, as in ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False,
    antialias=False)``, TensorFlow's ``tf.image.resize`` and torchvision's ``Resize`` on tensors),
    clamped to the first pixel on the left and the last on the right; it weighs the two input
    pixels around that point by their nearness. Enlarging (d2l's 28 -> 32 or 224) gives PIL's
    bilinear resize too, except that PIL rounds its result to uint8 (at most 0.5/255 off); when
    shrinking, PIL averages over more pixels (antialias) and this does not.
    """
    scale = size_in / size_out
    source = np.maximum((np.arange(size_out) + 0.5) * scale - 0.5, 0.0)
    low = np.minimum(np.floor(source).astype(np.int64), size_in - 1)
    high = np.minimum(low + 1, size_in - 1)
    weight = source - low
    matrix = np.zeros((size_out, size_in), np.float64)
    rows = np.arange(size_out)
    np.add.at(matrix, (rows, low), 1.0 - weight)
    np.add.at(matrix, (rows, high), weight)
    return matrix.astype(np.float32)


class ImageSplit:
    """One split of an image data set, on the host: ``images`` (uint8, ``(n, rows, cols)``, read-only)
    and ``labels`` (int64, ``(n,)``). ``len(split)`` is ``n``; ``split[i]`` is example ``i`` as
    torchvision's data sets give it: ``(image, label)``, the image a float32 tensor ``(1, h, w)`` in
    [0, 1] (resized if the data set resizes) of the backend a loader would use (see ``TensorLoader``),
    the label an int."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, prepare: Any):
        self.images = images
        self.labels = labels
        self._prepare = prepare
        self._made_in = made_in()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        n = len(self)
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool) or not -n <= index < n:
            raise IndexError(f"an example index must be an int in [{-n}, {n}), got {index!r}")
        index = int(index) % n
        image, label = self._prepare(self.images[index:index + 1], self.labels[index:index + 1])
        return backend_for(self._made_in).from_numpy(image[0]), int(label[0])

    def subset(self, n: int) -> ImageSplit:
        """The first ``n`` examples (the classes are evenly mixed in the files), for short runs."""
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not 1 <= n <= len(self):
            raise ValueError(f"subset: n must be an int in [1, {len(self)}], got {n!r}")
        return ImageSplit(self.images[:n], self.labels[:n], self._prepare)

    def __repr__(self) -> str:
        return f"ImageSplit({len(self)} images of {self.images.shape[1]}x{self.images.shape[2]})"


def _read_verified(path: Path, ndim: int, sha256: str | None, caller: str, fix: str) -> np.ndarray:
    """The file's array, decompressed, checksummed and parsed once per process (see ``_CACHE``)."""
    info = path.stat()
    key = (str(path.resolve()), info.st_ino, info.st_mtime_ns, info.st_size, ndim, sha256)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    data = read_bytes(path, caller, fix)
    _check_sha256(data, path, sha256, caller, fix)
    array = parse_idx(data, path, ndim, caller, fix)
    with _CACHE_LOCK:
        _CACHE[key] = array
        while len(_CACHE) > _CACHE_ENTRIES:
            _CACHE.popitem(last=False)
    return array


def _check_sha256(data: bytes, where: Any, expected: str | None, caller: str, fix: str) -> None:
    if expected is None:
        return
    got = hashlib.sha256(data).hexdigest()
    if got != expected:
        raise DataFileError(f"{caller}: {where} is not the file it should be: the SHA-256 of its decompressed data "
                            f"is {got}, expected {expected}; the file is damaged, or another data set's file "
                            f"under the same name (MNIST's files are named like Fashion-MNIST's); {fix}", where)


def _check_resize(resize: Any, caller: str) -> tuple[int, int] | None:
    if resize is None:
        return None
    try:
        return check_pair(resize, "resize", caller, 1)
    except ValueError:
        raise ValueError(f"{caller}: resize must be None (keep the images' size), a positive int or a pair "
                         f"(height, width) of them, e.g. resize=(32, 32), got {resize!r}") from None


def _user_cache_home() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    return Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"


@public
class FashionMNIST(DataModule):
    """Fashion-MNIST: 60,000 training and 10,000 validation (test) images of clothes, 28x28, 10 classes.

    ``train_dataloader()`` and ``val_dataloader()`` give batches ``(X, y)`` of backend tensors (see
    :class:`~d2lconv.data.module.TensorLoader` for which backend): ``X`` float32 ``(batch_size, 1, h, w)``
    in [0, 1] (the uint8 pixels divided by 255; ``resize=(h, w)`` or ``resize=n`` resizes them bilinearly
    with ``align_corners=False`` and no antialias, torch's and TensorFlow's convention, see
    :func:`bilinear_matrix`; ``None`` keeps 28x28), ``y`` int64 class indices. Training batches are
    shuffled anew each pass from d2lconv's seeded generator (``d2l.seed``); validation batches come in
    the files' order. The last batch of a pass holds the remainder (60,000 = 468 * 128 + 96) and is
    never dropped.

    Where the files are looked for and how they are downloaded: see the module's docstring.
    ``root`` is searched first (directly, or its ``fashion-mnist`` or torchvision's
    ``FashionMNIST/raw`` subfolder); ``download=False`` refuses to download; ``url`` (else
    ``$D2LCONV_FASHION_MNIST_URL``, else upstream's mirror) is where the ``.gz`` files are downloaded
    from. ``self.train`` and ``self.val`` are the splits (:class:`ImageSplit`); ``self.directory``
    is where they were read from.
    """

    #: How the data set is named in messages, and its folder in $D2LCONV_DATA and the cache.
    title = "Fashion-MNIST"
    folder = "fashion-mnist"
    root_subfolders: tuple[str, ...] = ("", "fashion-mnist", "FashionMNIST/raw")
    env_subfolders: tuple[str, ...] = ("", "fashion-mnist")
    system_dir = Path("/usr/share/datasets/fashion-mnist")
    apt_package: str | None = "dataset-fashion-mnist"
    sha256: dict[str, str] | None = FASHION_MNIST_SHA256
    url_env = "D2LCONV_FASHION_MNIST_URL"
    #: Upstream's mirror (plain http only; the checksums make up for it).
    default_url: str | None = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
    #: Where a person can download the files by hand (messages only).
    mirror_hint = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
    classes: tuple[str, ...] = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                                "sneaker", "bag", "ankle boot")

    def __init__(self, batch_size: int = 64, resize: Any = None, root: Any = None, *, download: bool = True,
                 url: str | None = None):
        super().__init__(root=root)
        caller = type(self).__name__
        self.batch_size = check_batch_size(batch_size, caller=caller)
        self.resize = _check_resize(resize, caller)
        if not isinstance(download, bool):
            raise ValueError(f"{caller}: download must be True or False, got {download!r}")
        if url is not None and (not isinstance(url, str) or not url.strip()):
            raise ValueError(f"{caller}: url must be the address of a directory holding the four .gz files "
                             f"(e.g. {self.mirror_hint!r}) or None, got {url!r}")
        self.download = download
        self.url = url
        root_dir = self._check_root(root)
        self.directory, self.files = self._locate(root_dir)
        train, val = self._load_split("train"), self._load_split("val")
        if train[0].shape[1:] != val[0].shape[1:]:
            first, second = (self.files[SPLIT_FILES[s][0]] for s in ("train", "val"))
            raise DataFileError(f"{caller}: {first} holds images of {train[0].shape[1:]} pixels but {second} "
                                f"of {val[0].shape[1:]}; both splits must come from the same data set; "
                                f"{self._fix(self.directory)}", second)
        for split, (_, labels) in (("training split", train), ("validation split", val)):
            check_batch_size(self.batch_size, len(labels), caller, f"the {split}")
        rows, cols = train[0].shape[1:]
        self._rows = self._cols_t = None
        if self.resize is not None and self.resize != (rows, cols):
            self._rows = bilinear_matrix(self.resize[0], rows)
            self._cols_t = np.ascontiguousarray(bilinear_matrix(self.resize[1], cols).T)
        self.train = ImageSplit(*train, self._prepare)
        self.val = ImageSplit(*val, self._prepare)

    # ---- the data -----------------------------------------------------------------------------

    def _prepare(self, images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One batch, host to host: uint8 ``(b, rows, cols)`` -> float32 ``(b, 1, h, w)`` in [0, 1]."""
        x = images.astype(np.float32) / np.float32(255)
        if self._rows is not None:
            x = self._rows @ x @ self._cols_t
        return x.reshape(x.shape[0], 1, *x.shape[1:]), labels

    def get_dataloader(self, train: bool) -> TensorLoader:
        data = self.train if train else self.val
        return TensorLoader((data.images, data.labels), self.batch_size, shuffle=train, transform=self._prepare,
                            caller=f"{type(self).__name__}.get_dataloader")

    def text_labels(self, indices: Any) -> list[str]:
        """The class names of label indices (a tensor, array, list or one int): a list of strings."""
        caller = f"{type(self).__name__}.text_labels"
        values = np.asarray(host_array(indices)).reshape(-1)
        if values.size and not np.issubdtype(values.dtype, np.integer):
            if not (np.issubdtype(values.dtype, np.floating) and np.all(values == np.round(values))):
                raise ValueError(f"{caller}: indices must be integer class indices, got {values.dtype} "
                                 f"values {values[:5].tolist()}")
        bad = values[(values < 0) | (values >= len(self.classes))]
        if bad.size:
            raise ValueError(f"{caller}: {int(bad[0])} is not a class index; valid ones are 0 to "
                             f"{len(self.classes) - 1} ({', '.join(self.classes)})")
        return [self.classes[int(i)] for i in values]

    def visualize(self, batch: Any, nrows: int = 1, ncols: int = 8, labels: Sequence[str] = ()):
        """Draw the first ``nrows * ncols`` images of a batch ``(X, y)``, titled with ``labels`` (default:
        their class names); returns the matplotlib figure."""
        caller = f"{type(self).__name__}.visualize"
        for name, value in (("nrows", nrows), ("ncols", ncols)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{caller}: {name} must be a positive int, got {value!r}")
        try:
            X, y = batch
        except (TypeError, ValueError):
            raise ValueError(f"{caller}: batch must be a pair (X, y), as a data loader gives, got "
                             f"{type(batch).__name__}") from None
        images = host_array(X)
        if images.ndim == 4 and images.shape[1] == 1:
            images = images[:, 0]
        if images.ndim != 3:
            raise ValueError(f"{caller}: X must be images (n, 1, h, w) or (n, h, w), got shape {images.shape}")
        titles = list(labels) if len(labels) else self.text_labels(y)
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(nrows, ncols, figsize=(1.5 * ncols, 1.75 * nrows), squeeze=False)
        for k, ax in enumerate(axes.flat):
            ax.set_axis_off()
            if k < len(images):
                ax.imshow(images[k], cmap="gray", vmin=0.0, vmax=1.0)
                if k < len(titles):
                    ax.set_title(titles[k], fontsize=9)
        fig.tight_layout()
        return fig

    def __repr__(self) -> str:
        size = "x".join(map(str, self.resize)) if self.resize else "x".join(map(str, self.train.images.shape[1:]))
        return (f"{type(self).__name__}(batch_size={self.batch_size}, {size} images: {len(self.train)} train, "
                f"{len(self.val)} val, from {self.directory})")

    # ---- finding, verifying, downloading ------------------------------------------------------

    def _check_root(self, root: Any) -> Path | None:
        caller = type(self).__name__
        if root is None:
            return None
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"{caller}: root must be a directory (a str or a path) or None, got {root!r}")
        path = Path(root).expanduser()
        if not path.exists():
            raise DataNotFoundError(f"{caller}: root={os.fspath(root)!r} does not exist ({path.absolute()}); pass the "
                                    f"directory that holds the four {self.title} files ({', '.join(FILES)}, "
                                    f".gz or not), or root=None to search {self._default_places_text()}", [path])
        if not path.is_dir():
            raise DataNotFoundError(f"{caller}: root={os.fspath(root)!r} is a file, not a directory; pass the "
                                    f"directory that holds the four {self.title} files", [path])
        return path

    def cache_dir(self) -> Path:
        """Where downloads go: ``$XDG_CACHE_HOME/d2lconv/<folder>``, default ``~/.cache/d2lconv/<folder>``."""
        return _user_cache_home() / "d2lconv" / self.folder

    def download_url(self) -> str | None:
        """The base URL downloads come from: ``url=``, else its environment variable, else the default."""
        return self.url or os.environ.get(self.url_env, "").strip() or self.default_url

    def search_places(self, root: Path | None = None) -> list[tuple[str, Path]]:
        """``(what, directory)`` in the order they are searched."""
        places = [(f"root={os.fspath(self.root)!r}", root / sub if sub else root) for sub in self.root_subfolders
                  ] if root is not None else []
        env = os.environ.get(DATA_ENV, "").strip()
        if env:
            base = Path(env).expanduser()
            places += [(f"${DATA_ENV}", base / sub if sub else base) for sub in self.env_subfolders]
        places.append(("the user cache", self.cache_dir()))
        places.append((f"Debian's {self.apt_package}" if self.apt_package else "the system's data sets",
                       self.system_dir))
        return places

    def _env_text(self) -> str:
        """Where in $D2LCONV_DATA the files go: ``$D2LCONV_DATA`` or ``$D2LCONV_DATA/mnist``, ..."""
        return " or ".join(f"${DATA_ENV}/{s}" if s else f"${DATA_ENV}" for s in self.env_subfolders)

    def _default_places_text(self) -> str:
        return f"{self._env_text()}, {self.cache_dir()} and {self.system_dir}"

    @staticmethod
    def _files_in(directory: Path) -> tuple[dict[str, Path], list[str]]:
        """The four files found in ``directory`` (uncompressed preferred, being faster to read), and the missing."""
        found, missing = {}, []
        for name in FILES:
            for candidate in (directory / name, directory / f"{name}.gz"):
                if candidate.is_file():
                    found[name] = candidate
                    break
            else:
                missing.append(name)
        return found, missing

    def _locate(self, root: Path | None) -> tuple[Path, dict[str, Path]]:
        caller = type(self).__name__
        places = self.search_places(root)
        report = []
        for what, directory in places:
            if not directory.is_dir():
                report.append(f"  - {what}: {directory} (does not exist)")
                continue
            found, missing = self._files_in(directory)
            if not missing:
                return directory, found
            state = "holds none of them" if not found else \
                f"holds {len(found)} of the 4; missing: {', '.join(missing)}"
            report.append(f"  - {what}: {directory} ({state})")
        if not os.environ.get(DATA_ENV, "").strip():
            report.insert(len(self.root_subfolders) if root is not None else 0, f"  - ${DATA_ENV}: not set")
        url, cache = self.download_url(), self.cache_dir()
        if not self.download:
            attempt = "Downloads are off (download=False)."
        elif url is None:
            attempt = (f"{caller} has no address to download them from: pass url='...' or set ${self.url_env} "
                       f"to a directory URL holding the four .gz files.")
        else:
            try:
                self._download(url, cache)
            except _DownloadFailed as exc:
                attempt = (f"Downloading them into {cache} failed: {exc} (another mirror: url='...' or "
                           f"${self.url_env})")
            else:
                found, missing = self._files_in(cache)
                if not missing:
                    return cache, found
                attempt = f"Downloading them into {cache} left these missing: {', '.join(missing)}"
        ways = []
        if self.apt_package:
            ways.append(f"  - on Debian or Ubuntu: sudo apt-get install {self.apt_package}")
        ways.append(f"  - download the four files ({', '.join(n + '.gz' for n in FILES)}) from {self.mirror_hint} "
                    f"into a directory, then pass root='that/directory' or make it {self._env_text()}")
        message = (f"{caller}: the {self.title} files ({', '.join(FILES)}, each .gz or uncompressed) are in none of "
                   f"the places searched, in this order:\n" + "\n".join(report) + f"\n{attempt}\n"
                   f"Get them {'one of two ways' if len(ways) == 2 else 'this way'}:\n" + "\n".join(ways))
        raise DataNotFoundError(message, [d for _, d in places])

    def _fix(self, directory: Path) -> str:
        """What to do about a damaged file in ``directory``."""
        if self.apt_package and directory == self.system_dir:
            return f"reinstall the package: sudo apt-get install --reinstall {self.apt_package}"
        if directory == self.cache_dir():
            return f"delete it, and {type(self).__name__}() downloads it again"
        source = f" from {self.mirror_hint}"
        debian = f", or use Debian's copy (sudo apt-get install {self.apt_package})" if self.apt_package else ""
        return f"delete it and download it again{source}{debian}"

    def _load_split(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        caller, fix = type(self).__name__, self._fix(self.directory)
        image_name, label_name = SPLIT_FILES[split]
        image_path, label_path = self.files[image_name], self.files[label_name]
        sums = self.sha256 or {}
        images = _read_verified(image_path, 3, sums.get(image_name), caller, fix)
        labels = _read_verified(label_path, 1, sums.get(label_name), caller, fix)
        if len(images) != len(labels):
            raise DataFileError(f"{caller}: {image_path} holds {len(images)} images but {label_path} holds "
                                f"{len(labels)} labels; the two files of the {split} split must hold the same "
                                f"number of examples (one is damaged, or they come from different data sets); "
                                f"{fix}", label_path)
        if labels.size and int(labels.max()) >= len(self.classes):
            raise DataFileError(f"{caller}: {label_path} holds the label {int(labels.max())}, but {self.title} has "
                                f"{len(self.classes)} classes (0 to {len(self.classes) - 1}); {fix}", label_path)
        labels = labels.astype(np.int64)
        labels.flags.writeable = False
        return images, labels

    def _download(self, base_url: str, target: Path) -> None:
        """Download the files ``target`` lacks; all are verified before any is written (atomically)."""
        caller = type(self).__name__
        for partial in sorted(target.glob(".*.gz.*.tmp")) if target.is_dir() else []:
            print(f"{caller}: removing {partial}, left by a download that was interrupted while writing; "
                  f"downloading the file again", file=sys.stderr)
            partial.unlink(missing_ok=True)
        _, missing = self._files_in(target) if target.is_dir() else ({}, list(FILES))
        fetched = {}
        fix = "nothing was saved; try again later, or get the files another way (below)"
        for name in missing:
            url = f"{base_url.rstrip('/')}/{name}.gz"
            print(f"{caller}: downloading {url}", file=sys.stderr)
            try:
                with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
                    data = response.read()
            except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
                raise _DownloadFailed(f"{url}: {exc}; nothing was saved") from exc
            try:
                raw = decompress(data, url, caller, fix)
                _check_sha256(raw, url, (self.sha256 or {}).get(name), caller, fix)
                parse_idx(raw, url, 3 if "images" in name else 1, caller, fix)
            except DataFileError as exc:
                raise _DownloadFailed(str(exc).removeprefix(f"{caller}: ")) from exc
            fetched[name] = data
        for name, data in fetched.items():
            try:
                write_bytes_atomic(target / f"{name}.gz", data)
            except OSError as exc:
                raise _DownloadFailed(f"writing {target / (name + '.gz')} failed: {exc}") from exc


class _DownloadFailed(Exception):
    """Why a download did not give the files (reported inside a DataNotFoundError)."""


@public
class MNIST(FashionMNIST):
    """MNIST, the handwritten digits, through the same reader: the same four file names, 10 classes '0'..'9'.

    Looked for in ``root`` (directly, or its ``mnist`` or torchvision's ``MNIST/raw`` subfolder),
    ``$D2LCONV_DATA/mnist``, the user cache's ``d2lconv/mnist`` and ``/usr/share/datasets/mnist``.
    d2lconv ships no checksums for it (the IDX structure is checked) and downloads it only from a
    URL you give: ``url=`` or ``$D2LCONV_MNIST_URL``.
    """

    title = "MNIST"
    folder = "mnist"
    root_subfolders = ("", "mnist", "MNIST/raw")
    env_subfolders = ("mnist",)
    system_dir = Path("/usr/share/datasets/mnist")
    apt_package = None
    sha256 = None
    url_env = "D2LCONV_MNIST_URL"
    default_url = None
    mirror_hint = "an MNIST mirror (e.g. https://storage.googleapis.com/cvdf-datasets/mnist/)"
    classes = tuple(str(i) for i in range(10))
