"""Where a data set's files come from: found on disk, shipped in the package, or downloaded.

Every file the loaders read is listed in ``FILES`` with its sha256. ``locate`` looks for
a file in this order and returns the first copy it finds:

1. ``path=``: a file, or a folder holding it (read as it is, without a checksum: that is
   how you load your own copy or a newer export in the same format);
2. ``$MINIGRAD_DATA``;
3. ``~/.cache/minigrad``;
4. the repository's ``examples/data/``, when the package runs from a checkout;
5. the package's own ``rnn/datasets/data/`` (the small exported series ship there);
6. a download from raw.githubusercontent.com at a fixed commit, for the files that are
   byte-for-byte copies of a public file, into ``$MINIGRAD_DATA`` or else
   ``~/.cache/minigrad``.

A file found in places 2-5 must have the sha256 written here, and a download is kept
only if it does: the bytes go to a temporary file next to the destination, which is
renamed into place once checked, so an interrupted or corrupted download never leaves
a file that looks finished.

``urlopen`` is a module attribute so that a test (or a proxy setup) can replace it:
``rnn.datasets.files.urlopen = fake``, called as ``urlopen(url, timeout=...)``.
"""
import contextlib
import hashlib
import os
import tempfile
import urllib.parse
import urllib.request
from typing import NamedTuple, Optional

urlopen = urllib.request.urlopen  # replaceable: tests serve bytes from a local fake
TIMEOUT = 30  # seconds without an answer before a download gives up

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_DATA = os.path.join(HERE, "data")
EXAMPLES_DATA = os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples", "data")


class DataFile(NamedTuple):
    """One file a loader reads.

    name: its path relative to a data folder (the same layout everywhere: the cache,
    $MINIGRAD_DATA, examples/data/); sha256 and size: of the exact bytes; url: where a
    byte-identical copy is published (None for the files shipped in the package).
    """
    name: str
    sha256: str
    size: int
    url: Optional[str] = None


def _github(repo, commit, path):
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{urllib.parse.quote(path)}"


_CHAR_RNN = ("karpathy/char-rnn", "6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e")
_CNN_TEXT = ("dennybritz/cnn-text-classification-tf", "18762b459e21d9c70e5c242f8d43fc4e6db37a0d")
_UCI = ("Shubhammawa/Sentiment-analysis-cnn", "a698f9843338fab51afab9a23680ed08e5edde3b")
_PLOTLY = ("plotly/datasets", "0c447c47b757ad74edecab31f0d72f849d2e67c2")

FILES = {f.name: f for f in (
    DataFile("tinyshakespeare.txt", "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed", 1115394,
             _github(*_CHAR_RNN, "data/tinyshakespeare/input.txt")),
    DataFile("rt-polaritydata/rt-polarity.pos", "4134882974a28d0c7b5151256f0e33a6169984ee7372c279e673f1114f475d58",
             626395, _github(*_CNN_TEXT, "data/rt-polaritydata/rt-polarity.pos")),
    DataFile("rt-polaritydata/rt-polarity.neg", "2d11cfbc790f1cd96d78339f41ce53ced1efa83cd22d37d6788fa3fe3d17e2fd",
             612506, _github(*_CNN_TEXT, "data/rt-polaritydata/rt-polarity.neg")),
    DataFile("sentiment_labelled_sentences/imdb_labelled.txt",
             "a5851cfed830b68d4b18fa11f7e9fa85debee7566be0933c9a679ce747c86d67", 85283,
             _github(*_UCI, "Datasets/sentiment labelled sentences/imdb_labelled.txt")),
    DataFile("sentiment_labelled_sentences/amazon_cells_labelled.txt",
             "47003fc0a0d4840b00e96e715b6189bad09e7443a3da41c4cbe12ffc79f86ae3", 58226,
             _github(*_UCI, "Datasets/sentiment labelled sentences/amazon_cells_labelled.txt")),
    DataFile("sentiment_labelled_sentences/yelp_labelled.txt",
             "c76468b7b5c6e56a0804d728345c5f84aa2142ddb214420f61cc9cfd4c00d2ea", 61320,
             _github(*_UCI, "Datasets/sentiment labelled sentences/yelp_labelled.txt")),
    DataFile("stockdata.csv", "60bf505fec160ce05ba959382adee32ea6e53ce14fe22886db27c58fe1b0d26b", 151626,
             _github(*_PLOTLY, "stockdata.csv")),
    DataFile("finance-charts-apple.csv", "24c7604edfd5afe862ddb9f9535e2fd7351f43711bfc442bca52055e15e37bcd", 60220,
             _github(*_PLOTLY, "finance-charts-apple.csv")),
    # Exported from pip packages (statsmodels, pmdarima, vega_datasets): no byte-identical
    # public URL, so they ship in rnn/datasets/data/.
    DataFile("sunspots_monthly.csv", "5af2ea985a3ee4c120f5825c9d028a3cff35d4b30d470896e2e7876575723f27", 36576),
    DataFile("sunspots_yearly.csv", "508bdf84f8976d8ea08f3730690b7a51f586a12bd867e9284b2be4097f78a2aa", 3104),
    DataFile("co2_weekly.csv", "2737f74222cf1fb702d41058927d2b8d2a34778d519bfa6b1dea2f1b47c234f4", 38542),
    DataFile("airline_passengers_monthly.csv", "d27dd74f3654ab4c688afccf2348870410902f480cea900d872be2ae33184411",
             1745),
    DataFile("seattle_weather_daily.csv", "5c822be5f9b70c9180dff922d1b43bcfaff89b48250215bef9a4d9465f356a89", 47838),
)}


class DataNotFoundError(FileNotFoundError):
    """No copy of a data file was found (or could be downloaded); the message lists every place looked."""


class ChecksumError(ValueError):
    """A file's bytes are not the published ones (a corrupted download, an edited or different copy)."""


def data_home():
    """The folder downloads go to: ``$MINIGRAD_DATA`` if set, else ``~/.cache/minigrad``."""
    return os.environ.get("MINIGRAD_DATA") or cache_dir()


def cache_dir():
    return os.path.join(os.path.expanduser("~"), ".cache", "minigrad")


def search_places(name):
    """[(description, path)] for places 2-5 of the search order, in order."""
    places = []
    if os.environ.get("MINIGRAD_DATA"):
        places.append(("$MINIGRAD_DATA", os.path.join(os.environ["MINIGRAD_DATA"], name)))
    places.append(("the cache", os.path.join(cache_dir(), name)))
    if os.path.isdir(EXAMPLES_DATA):
        places.append(("the repository's examples/data/", os.path.join(EXAMPLES_DATA, name)))
    packaged = os.path.join(PACKAGE_DATA, os.path.basename(name))
    if FILES[name].url is None and os.path.isfile(packaged):
        places.append(("the package data", packaged))
    return places


def locate(name, path=None, download=True, progress=True, caller="rnn.datasets.locate"):
    """The path of data file ``name`` (a key of ``FILES``), found, checked or downloaded.

    path: a file (returned as it is), or a folder holding ``name`` or its base name.
    download: False never touches the network (an error if no copy is found).
    progress: show a tqdm bar while downloading.
    Raises DataNotFoundError (listing every place looked and how to get the file), or
    ChecksumError for a copy whose sha256 is not the published one.
    """
    if name not in FILES:
        raise KeyError(f"{caller}: unknown data file {name!r}; known: {', '.join(FILES)}")
    if path is not None:
        return _in_given_path(name, os.fspath(path), caller)
    looked = []
    for where, candidate in search_places(name):
        looked.append(f"{where}: {candidate}")
        if os.path.isfile(candidate):
            verify(candidate, FILES[name], caller)
            return candidate
    url = FILES[name].url
    failure = None
    if url and download:
        try:
            return fetch(name, progress=progress, caller=caller)
        except OSError as e:  # no network, HTTP error, unwritable cache
            failure = f"{type(e).__name__}: {e}"
    raise DataNotFoundError(_not_found(name, looked, url, download, failure, caller))


def _in_given_path(name, path, caller):
    if os.path.isfile(path):
        return path
    tried = [os.path.join(path, name), os.path.join(path, os.path.basename(name))]
    for candidate in tried:
        if os.path.isfile(candidate):
            return candidate
    shown = "\n  ".join(dict.fromkeys(tried if os.path.isdir(path) else [path]))
    raise DataNotFoundError(f"{caller}: path={path!r} does not hold {name}; looked at:\n  {shown}")


def _not_found(name, looked, url, download, failure, caller):
    lines = [f"{caller}: no copy of {name} found. Looked in:"] + [f"  {place}" for place in looked]
    if url and failure:
        lines.append(f"  the download from {url}: {failure}")
    elif url:
        lines.append(f"  (download=False: {url} was not tried)")
    dest = os.path.join(data_home(), name)
    if url:
        lines.append(f"To get it, download {url} (sha256 {FILES[name].sha256}) to {dest}, "
                     f"or pass path= to where you keep a copy.")
    else:
        lines.append(f"It ships with the package (rnn/datasets/data/) and was not there: reinstall minigrad, "
                     f"or put a copy at {dest}, or pass path=.")
    return "\n".join(lines)


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path, expected, caller="rnn.datasets.verify"):
    """Raise ChecksumError unless the file at ``path`` has the sha256 of ``expected`` (a DataFile)."""
    got = sha256_of(path)
    if got != expected.sha256:
        size = os.path.getsize(path)
        raise ChecksumError(
            f"{caller}: {path} is not the published {expected.name}: sha256 {got} ({size:,} bytes), expected "
            f"{expected.sha256} ({expected.size:,} bytes). Delete it to use another copy"
            f"{' or download it again' if expected.url else ''}, or pass path={path!r} to read it unchecked.")


def fetch(name, root=None, progress=True, caller="rnn.datasets.fetch"):
    """Download ``name`` from its URL into ``root`` (default ``data_home()``); return the new path.

    The bytes are written to a temporary file in the destination folder while their
    sha256 is computed; only a file with the published sha256 is renamed into place.
    Anything else (a mismatch, an error, Ctrl-C) removes the temporary file.
    """
    from tqdm.auto import tqdm  # imported here: only a download needs it

    f = FILES[name]
    if f.url is None:
        raise ValueError(f"{caller}: {name} has no download URL (it ships with the package)")
    dest = os.path.join(root or data_home(), f.name)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), prefix=f".{os.path.basename(dest)}.", suffix=".part")
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urlopen(f.url, timeout=TIMEOUT) as response:
            total = int(getattr(response, "headers", {}).get("Content-Length") or f.size)
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=os.path.basename(dest),
                      disable=not progress) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    digest.update(block)
                    bar.update(len(block))
        if digest.hexdigest() != f.sha256:
            raise ChecksumError(f"{caller}: the download of {f.url} is not the published {name}: sha256 "
                                f"{digest.hexdigest()} ({os.path.getsize(tmp):,} bytes), expected {f.sha256} "
                                f"({f.size:,} bytes); nothing was kept. Try again, or fetch the file by hand "
                                f"and pass path=.")
        os.chmod(tmp, 0o644)  # mkstemp's file is private (0600); a data file need not be
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return dest
