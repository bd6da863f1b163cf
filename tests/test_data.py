"""d2lconv.data: the DataModule and its loader, the IDX reader, Fashion-MNIST (the real files, and
small ones the tests write: damaged, missing, downloaded from a local server) and MNIST."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import re
import threading
from pathlib import Path

import numpy as np
import pytest

import d2lconv as d2l
from d2lconv.backend import pinned
from d2lconv.data import fashion_mnist as fm
from d2lconv.data.fashion_mnist import FILES, MNIST, DataNotFoundError, FashionMNIST, bilinear_matrix
from d2lconv.data.idx import DataFileError, idx_bytes, read_idx
from d2lconv.data.module import DataModule, TensorLoader
from d2lconv.registry import PUBLIC

CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]


# ---- the real Fashion-MNIST --------------------------------------------------------------------

@pytest.fixture(scope="module")
def real() -> FashionMNIST:
    try:
        return FashionMNIST(batch_size=128, download=False)
    except DataNotFoundError as exc:
        if FashionMNIST.system_dir.exists():
            raise
        pytest.skip(f"Fashion-MNIST is not installed here (sudo apt-get install dataset-fashion-mnist): {exc}")


def expected_batch(split, order, batch_size=128):
    X = (split.images[order].astype(np.float32) / 255).reshape(len(order), 1, 28, 28)
    return X, split.labels[order]


def test_the_real_splits(real):
    assert (len(real.train), len(real.val)) == (60000, 10000)
    for split, n in ((real.train, 60000), (real.val, 10000)):
        assert split.images.shape == (n, 28, 28) and split.images.dtype == np.uint8
        assert split.labels.shape == (n,) and split.labels.dtype == np.int64
        assert split.images.max() == 255 and split.images.min() == 0
        np.testing.assert_array_equal(np.bincount(split.labels, minlength=10), [n // 10] * 10)
    image, label = real.train[0]
    assert d2l.shape(image) == (1, 28, 28) and d2l.dtype_name(image) == "float32" and label == 9


def test_the_same_batches_on_every_backend(backend, real):
    """After d2l.seed(0) every backend gets the batches of numpy's default_rng(0).permutation."""
    d2l.seed(0)
    order = np.random.default_rng(0).permutation(60000)
    batches = iter(real.train_dataloader())
    for k in range(3):
        X, y = next(batches)
        assert backend.is_tensor(X) and backend.is_tensor(y)
        assert (d2l.dtype_name(X), d2l.dtype_name(y)) == ("float32", "int64")
        hx, hy = d2l.numpy(X), d2l.numpy(y)
        assert hx.shape == (128, 1, 28, 28) and 0.0 <= hx.min() and hx.max() <= 1.0
        want_x, want_y = expected_batch(real.train, order[128 * k: 128 * (k + 1)])
        np.testing.assert_array_equal(hx, want_x)
        np.testing.assert_array_equal(hy, want_y)


def test_every_pass_is_a_new_permutation_and_the_seed_repeats_them(real):
    loader = real.train_dataloader()
    d2l.seed(3)
    first, second = (d2l.numpy(next(iter(loader))[1]) for _ in range(2))
    d2l.seed(3)
    again = d2l.numpy(next(iter(loader))[1])
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, again)


def test_the_last_batch_is_the_remainder(real):
    train, val = real.train_dataloader(), real.val_dataloader()
    assert (len(train), len(val)) == (469, 79)  # 60000 = 468 * 128 + 96, 10000 = 78 * 128 + 16
    sizes = [len(d2l.numpy(y)) for _, y in train]
    assert sizes == [128] * 468 + [96]
    seen = np.concatenate([d2l.numpy(y) for _, y in val])
    np.testing.assert_array_equal(seen, real.val.labels)  # every example once, in order


def test_validation_is_not_shuffled_and_draws_no_random_numbers(real):
    d2l.seed(0)
    batches = list(real.val_dataloader())[:2] + list(real.val_dataloader())[:1]
    for (X, y), start in zip(batches, (0, 128, 0)):
        want_x, want_y = expected_batch(real.val, np.arange(start, start + 128))
        np.testing.assert_array_equal(d2l.numpy(X), want_x)
        np.testing.assert_array_equal(d2l.numpy(y), want_y)
    np.testing.assert_array_equal(d2l.numpy(d2l.rand(3)), np.random.default_rng(0).random(3, dtype=np.float32))


def test_a_batch_size_larger_than_a_split_names_both_numbers(real):
    with pytest.raises(ValueError, match=r"FashionMNIST: batch_size 20000 is larger than the validation split "
                                         r"\(10000 examples\)"):
        FashionMNIST(batch_size=20000, download=False)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "64", None])
def test_a_bad_batch_size_is_an_error_at_construction(bad):
    with pytest.raises(ValueError, match=rf"FashionMNIST: batch_size must be a positive int, got "
                                         rf"{re.escape(repr(bad))}"):
        FashionMNIST(batch_size=bad)


@pytest.mark.parametrize("bad", [0, (32,), (32, 0), "32", 2.5, (32, 32, 1)])
def test_a_bad_resize_is_an_error_at_construction(bad):
    with pytest.raises(ValueError, match=rf"FashionMNIST: resize must be None .* got {re.escape(repr(bad))}"):
        FashionMNIST(resize=bad)


def test_resize_gives_the_asked_size(backend, real):
    data = FashionMNIST(batch_size=8, resize=(32, 24), download=False)
    X, y = next(iter(data.val_dataloader()))
    assert d2l.shape(X) == (8, 1, 32, 24) and d2l.dtype_name(X) == "float32"
    want = bilinear_matrix(32, 28) @ (real.val.images[:8] / np.float32(255)) @ bilinear_matrix(24, 28).T
    np.testing.assert_allclose(d2l.numpy(X)[:, 0], want, atol=1e-6)
    assert d2l.shape(FashionMNIST(batch_size=8, resize=16, download=False).val[0][0]) == (1, 16, 16)


def test_resize_agrees_with_torch_bilinear_without_antialias(real):
    torch = pytest.importorskip("torch")
    images = real.val.images[:16].astype(np.float32)[:, None] / 255
    for size in ((32, 32), (224, 224), (14, 20)):
        mine = bilinear_matrix(size[0], 28) @ images @ bilinear_matrix(size[1], 28).T
        theirs = torch.nn.functional.interpolate(torch.from_numpy(images), size=size, mode="bilinear",
                                                 align_corners=False, antialias=False).numpy()
        np.testing.assert_allclose(mine, theirs, atol=2e-6)


def test_text_labels(backend, real):
    assert real.text_labels(list(range(10))) == CLASSES
    assert real.text_labels(d2l.tensor([9, 0, 0])) == ["ankle boot", "t-shirt", "t-shirt"]
    assert real.text_labels(3) == ["dress"]
    _, y = next(iter(real.val_dataloader()))
    assert real.text_labels(y) == [CLASSES[i] for i in real.val.labels[:128]]
    with pytest.raises(ValueError, match=r"FashionMNIST.text_labels: 10 is not a class index; valid ones are 0 to 9"):
        real.text_labels([1, 10])
    with pytest.raises(ValueError, match=r"-1 is not a class index"):
        real.text_labels([-1])
    with pytest.raises(ValueError, match=r"must be integer class indices"):
        real.text_labels([0.5])


def test_visualize_returns_a_figure_titled_with_the_labels(real):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    batch = next(iter(real.val_dataloader()))
    fig = real.visualize(batch, nrows=2, ncols=4)
    try:
        assert isinstance(fig, Figure) and len(fig.axes) == 8
        assert [ax.get_title() for ax in fig.axes] == [CLASSES[i] for i in real.val.labels[:8]]
        assert fig.axes[0].images[0].get_array().shape == (28, 28)
    finally:
        plt.close(fig)
    fig = real.visualize(batch, ncols=2, labels=["a", "b"])
    try:
        assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match=r"visualize: nrows must be a positive int, got 0"):
        real.visualize(batch, nrows=0)


def test_the_names_are_registered():
    for name, value in (("DataModule", DataModule), ("FashionMNIST", FashionMNIST), ("MNIST", MNIST),
                        ("DataFileError", DataFileError), ("DataNotFoundError", DataNotFoundError)):
        assert PUBLIC[name] is value
    assert issubclass(DataNotFoundError, FileNotFoundError) and issubclass(DataFileError, ValueError)


# ---- small data sets the tests write -----------------------------------------------------------

def tiny_arrays(n_train=12, n_val=6, size=(28, 28), seed=0):
    g = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": g.integers(0, 256, (n_train, *size), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": g.integers(0, 256, (n_val, *size), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_val)[::-1] % 10).astype(np.uint8),
    }


def sums_of(raw: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest() for name, data in raw.items()}


def write_set(directory: Path, arrays=None, gz=True, raw=None) -> dict[str, bytes]:
    """Write the four files (IDX bytes of ``arrays``, or ``raw`` bytes where given); their IDX bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    data = {name: idx_bytes(a) for name, a in (arrays or tiny_arrays()).items()}
    data.update(raw or {})
    for name, content in data.items():
        path = directory / (f"{name}.gz" if gz else name)
        path.write_bytes(gzip.compress(content, mtime=0) if gz else content)
    return data


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No $D2LCONV_DATA, an empty user cache, no Debian directory, no download URL override."""
    for name in ("D2LCONV_DATA", "D2LCONV_FASHION_MNIST_URL", "D2LCONV_MNIST_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setattr(FashionMNIST, "system_dir", tmp_path / "no-debian" / "fashion-mnist")
    monkeypatch.setattr(MNIST, "system_dir", tmp_path / "no-debian" / "mnist")
    return tmp_path


@pytest.fixture
def tiny(isolated, monkeypatch):
    """A valid small Fashion-MNIST in tmp/tiny, with the checksum constants patched to its files."""
    data = write_set(isolated / "tiny")
    monkeypatch.setattr(FashionMNIST, "sha256", sums_of(data))
    return isolated / "tiny"


def test_a_small_set_reads_as_written(backend, tiny):
    data = FashionMNIST(batch_size=5, root=tiny, download=False)
    arrays = tiny_arrays()
    np.testing.assert_array_equal(data.train.images, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(data.val.labels, arrays["t10k-labels-idx1-ubyte"])
    assert data.directory == tiny and len(data.train_dataloader()) == 3
    X, y = list(data.val_dataloader())[1]  # 6 = 5 + 1: the remainder
    assert d2l.shape(X) == (1, 1, 28, 28) and backend.is_tensor(y)
    np.testing.assert_array_equal(d2l.numpy(X)[0, 0], arrays["t10k-images-idx3-ubyte"][5] / np.float32(255))


def test_resize_by_hand():
    """2x2 images to 4x4: pixel centres line up (align_corners=False), edges clamp."""
    np.testing.assert_allclose(bilinear_matrix(4, 2), [[1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]])
    np.testing.assert_allclose(bilinear_matrix(2, 4), [[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]])
    np.testing.assert_array_equal(bilinear_matrix(5, 5), np.eye(5))
    assert bilinear_matrix(3, 7).dtype == np.float32
    np.testing.assert_allclose(bilinear_matrix(3, 7).sum(axis=1), 1, rtol=1e-6)


def test_resize_by_hand_through_the_loader(isolated, monkeypatch):
    image = np.array([[0, 51], [102, 153]], np.uint8)  # /255: [[0, .2], [.4, .6]] = .4 * row + .2 * col
    arrays = {name: (np.stack([image] * 2) if "images" in name else np.array([1, 2], np.uint8))
              for name in FILES}
    monkeypatch.setattr(FashionMNIST, "sha256", None)
    write_set(isolated / "two", arrays)
    data = FashionMNIST(batch_size=2, resize=4, root=isolated / "two", download=False)
    X, _ = next(iter(data.val_dataloader()))
    at = np.array([0, 0.25, 0.75, 1.0])  # where the output rows (and columns) sample the input
    np.testing.assert_allclose(d2l.numpy(X)[0, 0], 0.4 * at[:, None] + 0.2 * at[None, :], atol=1e-6)


DAMAGE = {
    "not gzip": ("train-images-idx3-ubyte", lambda b: b"<html>Not Found</html>", False,
                 r"is not a gzip file \(it starts with 3c 68 74 6d; gzip files start with 1f 8b\)"),
    "truncated gzip": ("train-images-idx3-ubyte", lambda b: gzip.compress(b)[: len(gzip.compress(b)) // 2], False,
                       r"is a truncated gzip file"),
    "wrong magic": ("train-images-idx3-ubyte", lambda b: b"\x00\x00\x08\x01" + b[4:], True,
                    r"has the magic number 0x00000801, not an IDX file's \(0x00000803 for uint8 data in 3 "
                    r"dimensions\)"),
    "not idx at all": ("t10k-labels-idx1-ubyte", lambda b: b"GIF89a" + b, True, r"has the magic number 0x47494638"),
    "truncated payload": ("t10k-images-idx3-ubyte", lambda b: b[:-100], True,
                          r"is truncated: its header announces \(6, 28, 28\) values \(4,704 bytes\) but only "
                          r"4,604 bytes follow"),
    "extra bytes": ("train-labels-idx1-ubyte", lambda b: b + b"\0" * 5, True,
                    r"has 5 extra bytes after the 12 bytes of data its header announces for shape \(12,\)"),
    "header cut": ("train-labels-idx1-ubyte", lambda b: b[:6], True, r"is truncated: 6 bytes, fewer than its IDX "
                                                                      r"header's 8"),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_file_is_named_with_its_problem_and_fix(isolated, monkeypatch, case):
    name, damage, compress, problem = DAMAGE[case]
    monkeypatch.setattr(FashionMNIST, "sha256", None)  # the structure checks alone
    root = isolated / "set"
    good = write_set(root)
    content = damage(good[name])
    (root / f"{name}.gz").write_bytes(gzip.compress(content) if compress else content)
    with pytest.raises(DataFileError) as info:
        FashionMNIST(batch_size=2, root=root, download=False)
    message = str(info.value)
    assert message.startswith(f"FashionMNIST: {root / name}.gz ")
    assert re.search(problem, message), message
    assert message.endswith("delete it and download it again from http://fashion-mnist.s3-website.eu-central-1."
                            "amazonaws.com/, or use Debian's copy (sudo apt-get install dataset-fashion-mnist)")
    assert info.value.path == root / f"{name}.gz"


def test_a_damaged_file_in_debians_directory_says_reinstall(isolated, monkeypatch):
    monkeypatch.setattr(FashionMNIST, "sha256", None)
    debian = FashionMNIST.system_dir
    good = write_set(debian)
    (debian / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(good["t10k-images-idx3-ubyte"][:-1]))
    with pytest.raises(DataFileError, match=r"t10k-images-idx3-ubyte.gz is truncated: .*; reinstall the package: "
                                            r"sudo apt-get install --reinstall dataset-fashion-mnist$"):
        FashionMNIST(batch_size=2, download=False)


@pytest.mark.parametrize("split, images, labels", [("train", 12, 11), ("val", 5, 6)])
def test_image_and_label_counts_that_differ_name_both_files(isolated, monkeypatch, split, images, labels):
    monkeypatch.setattr(FashionMNIST, "sha256", None)
    arrays = tiny_arrays()
    image_name, label_name = fm.SPLIT_FILES[split]
    arrays[image_name] = arrays[image_name][:images]
    arrays[label_name] = np.resize(arrays[label_name], labels)
    write_set(isolated / "set", arrays)
    with pytest.raises(DataFileError) as info:
        FashionMNIST(batch_size=2, root=isolated / "set", download=False)
    image_path, label_path = (isolated / "set" / f"{n}.gz" for n in (image_name, label_name))
    assert str(info.value).startswith(f"FashionMNIST: {image_path} holds {images} images but {label_path} holds "
                                      f"{labels} labels; the two files of the {split} split must hold the same "
                                      f"number of examples")


def test_a_label_outside_the_classes_is_an_error(isolated, monkeypatch):
    monkeypatch.setattr(FashionMNIST, "sha256", None)
    arrays = tiny_arrays()
    arrays["t10k-labels-idx1-ubyte"][2] = 10
    write_set(isolated / "set", arrays)
    with pytest.raises(DataFileError, match=r"t10k-labels-idx1-ubyte.gz holds the label 10, but Fashion-MNIST has "
                                            r"10 classes \(0 to 9\)"):
        FashionMNIST(batch_size=2, root=isolated / "set", download=False)


def test_the_checksums_check_the_data(isolated):
    """Valid IDX files that are not Fashion-MNIST's data: the real checksums refuse them."""
    write_set(isolated / "set")
    want = fm.FASHION_MNIST_SHA256["train-images-idx3-ubyte"]
    with pytest.raises(DataFileError, match=rf"train-images-idx3-ubyte.gz is not the file it should be: the SHA-256 "
                                            rf"of its decompressed data is [0-9a-f]{{64}}, expected {want}"):
        FashionMNIST(batch_size=2, root=isolated / "set", download=False)


def test_the_checksums_are_of_the_decompressed_data(tiny):
    """Compressed differently (or not at all), the same data passes."""
    other = tiny.parent / "other"
    other.mkdir()
    for name in FILES:
        (other / f"{name}.gz").write_bytes(gzip.compress(gzip.decompress((tiny / f"{name}.gz").read_bytes()),
                                                         compresslevel=1, mtime=12345))
    assert len(FashionMNIST(batch_size=2, root=other, download=False).train) == 12
    raw = tiny.parent / "raw"
    write_set(raw, gz=False)
    assert len(FashionMNIST(batch_size=2, root=raw, download=False).val) == 6


def test_read_idx_raw_and_other_types(tmp_path):
    values = np.arange(6, dtype=">i4").reshape(2, 3)
    path = tmp_path / "ints"
    path.write_bytes(b"\x00\x00\x0c\x02" + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + values.tobytes())
    out = read_idx(path, ndim=2)
    np.testing.assert_array_equal(out, values)
    assert out.dtype == np.int32 and out.dtype.isnative and not out.flags.writeable
    gz_without_suffix = tmp_path / "labels"
    gz_without_suffix.write_bytes(gzip.compress(idx_bytes(np.array([3, 1], np.uint8))))
    np.testing.assert_array_equal(read_idx(gz_without_suffix, ndim=1), [3, 1])
    with pytest.raises(DataFileError, match=r"magic number 0x00000801, not an IDX file's \(0x00000803"):
        read_idx(gz_without_suffix, ndim=3)


# ---- where the files are looked for ------------------------------------------------------------

def test_not_found_lists_every_place_and_both_ways(isolated):
    with pytest.raises(DataNotFoundError) as info:
        FashionMNIST(download=False)
    message = str(info.value)
    cache, debian = isolated / "cache" / "d2lconv" / "fashion-mnist", FashionMNIST.system_dir
    assert message.startswith("FashionMNIST: the Fashion-MNIST files (train-images-idx3-ubyte, ")
    assert "  - $D2LCONV_DATA: not set\n" in message
    assert f"  - the user cache: {cache} (does not exist)\n" in message
    assert f"  - Debian's dataset-fashion-mnist: {debian} (does not exist)\n" in message
    assert "Downloads are off (download=False)." in message
    assert "  - on Debian or Ubuntu: sudo apt-get install dataset-fashion-mnist\n" in message
    assert ("from http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/ into a directory, then pass "
            "root='that/directory' or make it $D2LCONV_DATA or $D2LCONV_DATA/fashion-mnist") in message
    assert info.value.places == [cache, debian] and isinstance(info.value, FileNotFoundError)


def test_not_found_says_what_each_place_holds(isolated, monkeypatch):
    partial = isolated / "partial"
    write_set(partial)
    for name in FILES[1:3]:
        (partial / f"{name}.gz").unlink()
    monkeypatch.setenv("D2LCONV_DATA", str(partial))
    (isolated / "root").mkdir()
    with pytest.raises(DataNotFoundError) as info:
        FashionMNIST(root=isolated / "root", download=False)
    message = str(info.value)
    root = isolated / "root"
    assert f"  - root={str(root)!r}: {root} (holds none of them)\n" in message
    assert f"  - root={str(root)!r}: {root / 'fashion-mnist'} (does not exist)\n" in message
    assert f"  - root={str(root)!r}: {root / 'FashionMNIST' / 'raw'} (does not exist)\n" in message
    assert (f"  - $D2LCONV_DATA: {partial} (holds 2 of the 4; missing: train-labels-idx1-ubyte, "
            f"t10k-images-idx3-ubyte)\n") in message
    assert f"  - $D2LCONV_DATA: {partial / 'fashion-mnist'} (does not exist)\n" in message
    assert message.index(f"{root} (holds") < message.index("$D2LCONV_DATA") < message.index("the user cache")


def test_a_root_that_does_not_exist_is_an_error_at_construction(isolated):
    with pytest.raises(DataNotFoundError, match=r"FashionMNIST: root='\.\./nowhere' does not exist \(.*nowhere\); "
                                                r"pass the directory that holds the four Fashion-MNIST files"):
        FashionMNIST(root="../nowhere")
    (isolated / "file").write_text("x")
    with pytest.raises(DataNotFoundError, match=r"is a file, not a directory"):
        FashionMNIST(root=isolated / "file")
    with pytest.raises(TypeError, match=r"root must be a directory \(a str or a path\) or None, got 3"):
        FashionMNIST(root=3)
    with pytest.raises(ValueError, match=r"download must be True or False, got 'no'"):
        FashionMNIST(download="no")


def test_the_search_order(isolated, monkeypatch):
    monkeypatch.setattr(FashionMNIST, "sha256", None)
    debian, cache = FashionMNIST.system_dir, isolated / "cache" / "d2lconv" / "fashion-mnist"
    env = isolated / "env"
    root = isolated / "root"
    for directory in (debian, cache, env / "fashion-mnist", root / "FashionMNIST" / "raw"):
        write_set(directory)
    assert FashionMNIST(batch_size=2, download=False).directory == cache
    monkeypatch.setenv("D2LCONV_DATA", str(env))
    assert FashionMNIST(batch_size=2, download=False).directory == env / "fashion-mnist"
    write_set(env, gz=False)  # directly in $D2LCONV_DATA, uncompressed: before its subfolder
    data = FashionMNIST(batch_size=2, download=False)
    assert data.directory == env and data.files[FILES[0]] == env / FILES[0]
    assert FashionMNIST(batch_size=2, root=root, download=False).directory == root / "FashionMNIST" / "raw"


# ---- downloads from a local server -------------------------------------------------------------

class Server:
    """Serves ``files`` (path -> bytes) on 127.0.0.1; ``cut`` paths stop halfway and close the connection
    (``with_length``: after announcing the full Content-Length)."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.cut: set[str] = set()
        self.with_length = True
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404, "File not found")
                    return
                self.send_response(200)
                if self.path not in server.cut or server.with_length:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path in server.cut:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/fmnist/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def serve(self, data: dict[str, bytes]) -> None:
        self.files = {f"/fmnist/{name}.gz": gzip.compress(content) for name, content in data.items()}

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(isolated, monkeypatch):
    served = Server()
    monkeypatch.setenv("D2LCONV_FASHION_MNIST_URL", served.url)
    yield served
    served.close()


def cache_of(isolated: Path, folder: str = "fashion-mnist") -> Path:
    return isolated / "cache" / "d2lconv" / folder


def cache_listing(isolated: Path) -> list[str]:
    return sorted(p.name for p in (isolated / "cache").rglob("*") if p.is_file())


def test_a_download_lands_verified_in_the_cache(backend, isolated, server, monkeypatch):
    data = {name: idx_bytes(a) for name, a in tiny_arrays().items()}
    monkeypatch.setattr(FashionMNIST, "sha256", sums_of(data))
    server.serve(data)
    got = FashionMNIST(batch_size=3)
    assert got.directory == cache_of(isolated)
    assert cache_listing(isolated) == sorted(f"{n}.gz" for n in FILES)  # no temporary file left
    np.testing.assert_array_equal(got.val.images, tiny_arrays()["t10k-images-idx3-ubyte"])
    assert sorted(server.requests) == sorted(f"/fmnist/{n}.gz" for n in FILES)
    FashionMNIST(batch_size=3)  # from the cache now: no new request
    assert len(server.requests) == 4


def test_only_the_missing_files_are_downloaded(isolated, server, monkeypatch):
    data = write_set(cache_of(isolated))
    monkeypatch.setattr(FashionMNIST, "sha256", sums_of(data))
    (cache_of(isolated) / "t10k-labels-idx1-ubyte.gz").unlink()
    server.serve(data)
    assert len(FashionMNIST(batch_size=3).val) == 6
    assert server.requests == ["/fmnist/t10k-labels-idx1-ubyte.gz"]


def test_a_download_that_fails_its_checksum_leaves_nothing(isolated, server, monkeypatch):
    data = {name: idx_bytes(a) for name, a in tiny_arrays().items()}
    other = {name: idx_bytes(a) for name, a in tiny_arrays(seed=1).items()}
    monkeypatch.setattr(FashionMNIST, "sha256", sums_of(other))
    server.serve(data)
    with pytest.raises(DataNotFoundError) as info:
        FashionMNIST(batch_size=3)
    message = str(info.value)
    assert (f"Downloading them into {cache_of(isolated)} failed: {server.url}train-images-idx3-ubyte.gz is not the "
            f"file it should be: the SHA-256 of its decompressed data is") in message
    assert "nothing was saved" in message and "sudo apt-get install dataset-fashion-mnist" in message
    assert cache_listing(isolated) == []


@pytest.mark.parametrize("with_length", [True, False], ids=["content-length", "no-length"])
def test_an_interrupted_download_leaves_nothing(isolated, server, monkeypatch, with_length):
    data = {name: idx_bytes(a) for name, a in tiny_arrays(n_train=200).items()}
    monkeypatch.setattr(FashionMNIST, "sha256", sums_of(data))
    server.serve(data)
    server.cut = {"/fmnist/t10k-images-idx3-ubyte.gz"}  # the third of four: the first two were fine
    server.with_length = with_length
    with pytest.raises(DataNotFoundError) as info:
        FashionMNIST(batch_size=3)
    message = str(info.value)
    assert f"{server.url}t10k-images-idx3-ubyte.gz" in message
    assert ("IncompleteRead" in message) if with_length else ("is a truncated gzip file" in message), message
    assert cache_listing(isolated) == []
    server.cut = set()
    assert len(FashionMNIST(batch_size=3).train) == 200  # and the next try succeeds


def test_a_download_killed_while_writing_is_cleaned_up_next_time(isolated, server, monkeypatch, capsys):
    data = {name: idx_bytes(a) for name, a in tiny_arrays().items()}
    monkeypatch.setattr(FashionMNIST, "sha256", sums_of(data))
    server.serve(data)
    partial = cache_of(isolated) / ".train-images-idx3-ubyte.gz.k1ll3d.tmp"  # what write_bytes_atomic leaves
    partial.parent.mkdir(parents=True)
    partial.write_bytes(gzip.compress(data["train-images-idx3-ubyte"])[:50])
    assert len(FashionMNIST(batch_size=3).train) == 12
    assert cache_listing(isolated) == sorted(f"{n}.gz" for n in FILES)
    assert f"removing {partial}, left by a download that was interrupted while writing" in capsys.readouterr().err


def test_a_missing_file_on_the_server_leaves_nothing(isolated, server, monkeypatch):
    data = {name: idx_bytes(a) for name, a in tiny_arrays().items()}
    monkeypatch.setattr(FashionMNIST, "sha256", sums_of(data))
    server.serve({name: content for name, content in data.items() if name != FILES[3]})
    with pytest.raises(DataNotFoundError, match=rf"{re.escape(server.url)}{FILES[3]}.gz: HTTP Error 404"):
        FashionMNIST(batch_size=3)
    assert cache_listing(isolated) == []


def test_download_false_asks_nothing(isolated, server):
    with pytest.raises(DataNotFoundError, match=r"Downloads are off"):
        FashionMNIST(download=False)
    assert server.requests == []


def test_no_network_reports_the_failure_and_the_ways(isolated, monkeypatch):
    monkeypatch.setenv("D2LCONV_FASHION_MNIST_URL", "http://127.0.0.1:9/")  # the discard port: refused
    with pytest.raises(DataNotFoundError) as info:
        FashionMNIST()
    message = str(info.value)
    assert "failed: http://127.0.0.1:9/train-images-idx3-ubyte.gz: <urlopen error" in message
    assert "sudo apt-get install dataset-fashion-mnist" in message and "root='that/directory'" in message


# ---- MNIST -------------------------------------------------------------------------------------

def test_mnist_through_the_same_reader(isolated, monkeypatch):
    write_set(isolated / "data" / "mnist")
    monkeypatch.setenv("D2LCONV_DATA", str(isolated / "data"))
    write_set(isolated / "data")  # Fashion-MNIST's place: MNIST does not take it
    data = MNIST(batch_size=4, download=False)
    assert data.directory == isolated / "data" / "mnist"
    assert data.text_labels([0, 7, 9]) == ["0", "7", "9"]
    assert len(data.train) == 12 and len(data.train_dataloader()) == 3


def test_mnist_downloads_only_from_a_url_it_is_given(isolated, monkeypatch):
    with pytest.raises(DataNotFoundError) as info:
        MNIST()
    message = str(info.value)
    assert "MNIST has no address to download them from: pass url='...' or set $D2LCONV_MNIST_URL" in message
    assert f"  - the system's data sets: {MNIST.system_dir} (does not exist)" in message
    assert "apt-get" not in message and "make it $D2LCONV_DATA/mnist" in message
    served = Server()
    try:
        served.serve({name: idx_bytes(a) for name, a in tiny_arrays().items()})
        data = MNIST(batch_size=2, url=served.url)
    finally:
        served.close()
    assert data.directory == cache_of(isolated, "mnist") and len(data.val) == 6


# ---- DataModule, the loader and backends -------------------------------------------------------

class Pairs(DataModule):
    def __init__(self, X, y, batch_size):
        super().__init__()
        self.X, self.y, self.batch_size = X, y, batch_size

    def get_dataloader(self, train):
        i = slice(0, 8) if train else slice(8, None)
        return self.get_tensorloader((self.X, self.y), train, i)


def test_get_tensorloader_on_backend_tensors(backend):
    X = d2l.reshape(d2l.arange(36, dtype=d2l.float32), (12, 3))
    y = d2l.arange(12)
    data = Pairs(X, y, batch_size=3)
    train, val = data.train_dataloader(), data.val_dataloader()
    assert (len(train), len(val)) == (3, 2)
    d2l.seed(5)
    order = np.random.default_rng(5).permutation(8)
    batches = list(train)
    assert [len(d2l.numpy(b)) for _, b in batches] == [3, 3, 2]
    np.testing.assert_array_equal(np.concatenate([d2l.numpy(b) for _, b in batches]), order)
    np.testing.assert_array_equal(d2l.numpy(batches[0][0]), np.arange(36, dtype=np.float32).reshape(12, 3)[order[:3]])
    (vx, vy), (_, last) = list(val)  # in order; the remainder last
    assert backend.is_tensor(vx) and d2l.numpy(vy).tolist() == [8, 9, 10] and d2l.numpy(last).tolist() == [11]


def test_a_loader_makes_tensors_of_the_backend_in_force_when_iterating(other_backend):
    loader = TensorLoader((np.arange(4.0),), 2)
    with d2l.use_backend(other_backend.NAME):
        (x,) = next(iter(loader))
    assert other_backend.is_tensor(x)
    assert isinstance(next(iter(loader))[0], np.ndarray)


def test_a_data_set_made_on_a_pinned_backend_keeps_it(other_backend, tiny):
    """What ``from d2lconv import torch as d2l`` does: construction runs pinned; a plain for loop
    afterwards still gets that backend's tensors (a use_backend block open then wins)."""
    with pinned(other_backend):
        data = FashionMNIST(batch_size=4, root=tiny, download=False)
        loader = data.train_dataloader()
    X, y = next(iter(loader))
    assert other_backend.is_tensor(X) and other_backend.is_tensor(y) and other_backend.is_tensor(data.val[0][0])
    with d2l.use_backend("numpy"):
        assert isinstance(next(iter(loader))[0], np.ndarray)
    name = other_backend.NAME
    if hasattr(d2l, "FashionMNIST"):  # once d2lconv's root imports the data package
        pinned_data = getattr(d2l, name).FashionMNIST(batch_size=4, root=tiny, download=False)
        assert other_backend.is_tensor(next(iter(pinned_data.val_dataloader()))[0])


def test_loader_and_data_module_errors():
    with pytest.raises(ValueError, match=r"TensorLoader: batch_size 11 is larger than the data set \(10 examples\); "
                                         r"use a batch_size of at most 10"):
        TensorLoader((np.zeros(10),), 11)
    with pytest.raises(ValueError, match=r"TensorLoader: batch_size must be a positive int, got 0"):
        TensorLoader((np.zeros(10),), 0)
    with pytest.raises(ValueError, match=r"the same number of examples \(first dimension\), got \[10, 9\]"):
        TensorLoader((np.zeros(10), np.zeros(9)), 2)
    with pytest.raises(ValueError, match=r"hold no examples"):
        Pairs(np.zeros((10, 2)), np.zeros(10), 2).get_tensorloader((np.zeros(3), np.zeros(3)), False, slice(5, None))
    with pytest.raises(NotImplementedError, match=r"DataModule must define get_dataloader\(self, train\)"):
        DataModule().train_dataloader()
    with pytest.raises(AttributeError, match=r"set self.batch_size"):
        DataModule().get_tensorloader((np.zeros(3),), True)
    with pytest.raises(TypeError, match=r"got a single tensor; pass \(X,\) for one"):
        Pairs(np.zeros(3), np.zeros(3), 1).get_tensorloader(np.zeros(3), True)
    with pytest.raises(ValueError, match=r"num_workers must be a non-negative int, got -1"):
        DataModule(num_workers=-1)
