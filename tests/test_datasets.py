"""rnn.datasets: every loader on the real files, the search order, downloads, malformed files.

The real files come from the repository: examples/data/ (the examples' copies), the
package data (rnn/datasets/data/) and tests/data/ (the UCI sentences and the Apple
prices, which nothing else ships). No test uses the network: downloads are served by a
local fake opener holding the real file's bytes.
"""
import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import rnn
from rnn import datasets as D
from rnn.datasets import files

REPO = Path(__file__).resolve().parent.parent
EXAMPLES_DATA = REPO / "examples" / "data"
TEST_DATA = REPO / "tests" / "data"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """A fresh home (so an empty ~/.cache/minigrad), no $MINIGRAD_DATA, and no network."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("MINIGRAD_DATA", raising=False)

    def no_network(url, timeout=None):
        raise AssertionError(f"a test tried to download {url}")
    monkeypatch.setattr(files, "urlopen", no_network)
    return home


@pytest.fixture
def test_data(monkeypatch):
    monkeypatch.setenv("MINIGRAD_DATA", str(TEST_DATA))


# ------------------------------------------------------------------ the real files
def test_shakespeare():
    text = D.load_shakespeare()
    assert isinstance(text, str) and len(text) == 1_115_394
    assert len(set(text)) == 65 and text.count("\n") == 40_000
    assert text.startswith("First Citizen:\nBefore we proceed") and text.endswith("Whiles thou art waking.\n")
    assert rnn.datasets is D  # imported with the package


def test_polarity():
    texts, labels = D.load_polarity()
    assert texts.shape == labels.shape == (10_662,) and texts.dtype == object and labels.dtype == np.int64
    assert (labels[:5331] == 1).all() and (labels[5331:] == 0).all()
    assert texts[0].startswith("the rock is destined to be the 21st century's new \" conan \"")
    assert texts[-1] == "enigma is well-made , but it's just too dry and too placid ."  # trailing space stripped
    assert all(t == t.strip() and t for t in texts)


@pytest.mark.parametrize("source, first, last, label_first", [
    ("imdb", "A very, very, very slow-moving, aimless movie about a distressed, drifting young man.",
     "All in all its an insult to one's intelligence and a huge waste of money.", 0),
    ("amazon", "So there is no way for me to plug it in here in the US unless I go by a converter.",
     "You can not answer calls with the unit, never worked once!", 0),
    ("yelp", "Wow... Loved this place.",
     "Then, as if I hadn't wasted enough of my life there, they poured salt in the wound by drawing out the "
     "time it took to bring the check.", 1),
])
def test_labelled_sentences(test_data, source, first, last, label_first):
    texts, labels = D.load_labelled_sentences(source)
    assert texts.shape == labels.shape == (1000,)
    assert (labels == 1).sum() == 500 and (labels == 0).sum() == 500
    assert (texts[0], texts[-1], labels[0], labels[-1]) == (first, last, label_first, 0)


def test_labelled_sentences_traps(test_data):
    texts, labels = D.load_labelled_sentences("imdb")
    # U+0085 (NEL) inside line 179 is no line end: 1,000 sentences, not 1,002.
    assert texts[178] == "The script is\u2026was there a script?" and labels[178] == 0
    # Quotes are part of the text: pandas' default quoting would merge lines here.
    assert texts[14] == 'This is a very "right on case" movie that delivers everything almost right in your face.'
    raw = D.load_labelled_sentences("imdb", raw=True).texts
    assert raw[178] == "The script is\x85was there a script?" and "\x96" in raw[18]
    assert not any(0x80 <= ord(c) < 0xA0 for t in texts for c in t)
    both = D.load_labelled_sentences("all")
    assert both.texts.shape == (3000,) and both.labels.sum() == 1500
    assert both.texts[1000].startswith("So there is no way") and both.texts[2000] == "Wow... Loved this place."


def test_sunspots():
    values, dates = D.load_sunspots()
    assert values.shape == dates.shape == (2820,) and values.dtype == np.float64
    assert (values[0], values[-1], str(dates[0]), str(dates[-1])) == (58.0, 33.4, "1749-01", "1983-12")
    assert dates.dtype == "datetime64[M]" and (np.diff(dates) == np.timedelta64(1, "M")).all()
    values, dates = D.load_sunspots("yearly")
    assert values.shape == (309,) and (values[0], values[-1]) == (5.0, 2.9)
    assert (str(dates[0]), str(dates[-1])) == ("1700", "2008")


def test_co2_missing_weeks():
    values, dates = D.load_co2()
    assert values.shape == dates.shape == (2284,) and np.isnan(values).sum() == 59
    assert (values[0], values[-1], str(dates[0]), str(dates[-1])) == (316.1, 371.5, "1958-03-29", "2001-12-29")
    assert (np.diff(dates) == np.timedelta64(7, "D")).all()  # every Saturday, none skipped
    assert np.isnan(values[6]) and not np.isnan(values[[5, 7]]).any()  # line 8, 1958-05-10
    filled, _ = D.load_co2(fill="interpolate")
    assert not np.isnan(filled).any()
    assert filled[6] == pytest.approx((values[5] + values[7]) / 2)
    known = ~np.isnan(values)
    assert (filled[known] == values[known]).all()
    with pytest.raises(ValueError, match="fill='mean'"):
        D.load_co2(fill="mean")


def test_airline_passengers():
    values, dates = D.load_airline_passengers()
    assert values.shape == (144,) and (values[0], values[-1], values.max()) == (112, 432, 622)
    assert (str(dates[0]), str(dates[-1])) == ("1949-01", "1960-12")


def test_seattle_weather():
    w = D.load_seattle_weather()
    assert w.values.shape == (1461, 4) and w.columns == ("precipitation", "temp_max", "temp_min", "wind")
    assert w.values[0].tolist() == [0.0, 12.8, 5.0, 4.7] and w.values[-1].tolist() == [0.0, 5.6, -2.1, 3.5]
    assert w.weather[0] == "drizzle" and (w.weather == "sun").sum() == 714
    assert (str(w.dates[0]), str(w.dates[-1])) == ("2012-01-01", "2015-12-31")


def test_stocks():
    t = D.load_stocks()
    assert t.values.shape == (2306, 5) and t.columns == ("MSFT", "IBM", "SBUX", "AAPL", "GSPC")
    assert t.values[0].tolist() == [23.950705, 80.517962, 16.149666, 11.086612, 1416.599976]
    assert (str(t.dates[0]), str(t.dates[-1])) == ("2007-01-03", "2016-03-01")
    aapl = D.load_stocks("AAPL")
    assert aapl.values.shape == (2306,) and (aapl.values[0], aapl.values[-1]) == (11.086612, 100.529999)
    two = D.load_stocks(["GSPC", "MSFT"])
    assert two.columns == ("GSPC", "MSFT") and (two.values == t.values[:, [4, 0]]).all()
    with pytest.raises(ValueError, match="symbols='GOOG'; available: MSFT, IBM, SBUX, AAPL, GSPC"):
        D.load_stocks("GOOG")


def test_apple(test_data):
    t = D.load_apple()
    assert t.values.shape == (506, 6) and t.columns == ("Open", "High", "Low", "Close", "Volume", "Adjusted")
    assert t.values[0, 3] == 127.830002 and t.values[-1, 3] == 135.350006 and t.values[0, 4] == 63152400
    assert (str(t.dates[0]), str(t.dates[-1])) == ("2015-02-17", "2017-02-16")
    assert (t.values[:, 1] >= t.values[:, 2]).all()  # High >= Low every day
    assert D.load_apple("mavg").values.shape == (506,)


# ------------------------------------------------------------------ where files are found
def put(folder, name, source=EXAMPLES_DATA):
    """Copy the real file ``name`` into ``folder`` (same layout); return its path."""
    dest = Path(folder) / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(source) / name, dest)
    return str(dest)


def test_search_order(tmp_path, monkeypatch, isolated):
    name = "co2_weekly.csv"
    in_path, in_env = put(tmp_path / "mine", name), put(tmp_path / "env", name)
    in_cache = put(isolated / ".cache" / "minigrad", name)
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path / "env"))
    assert D.locate(name, path=in_path) == in_path  # 1. path= (a file)
    assert D.locate(name, path=tmp_path / "mine") == in_path  # ... or a folder holding it
    assert D.locate(name) == in_env  # 2. $MINIGRAD_DATA
    monkeypatch.delenv("MINIGRAD_DATA")
    assert D.locate(name) == in_cache  # 3. ~/.cache/minigrad
    os.remove(in_cache)
    assert D.locate(name) == str(EXAMPLES_DATA / name)  # 4. the repository's examples/data/
    monkeypatch.setattr(files, "EXAMPLES_DATA", str(tmp_path / "no-checkout"))
    assert D.locate(name) == os.path.join(files.PACKAGE_DATA, name)  # 5. the package data
    assert D.load_co2().values.shape == (2284,)


def test_path_folder_for_a_multi_file_data_set(tmp_path):
    for name in ("rt-polaritydata/rt-polarity.pos", "rt-polaritydata/rt-polarity.neg"):
        put(tmp_path, name)
    assert D.load_polarity(path=tmp_path).texts.shape == (10_662,)
    assert D.load_polarity(path=tmp_path / "rt-polaritydata").labels.sum() == 5331  # the files directly inside
    with pytest.raises(ValueError, match="is a file; expected the folder"):
        D.load_polarity(path=tmp_path / "rt-polaritydata" / "rt-polarity.pos")
    with pytest.raises(D.DataNotFoundError, match="does not hold rt-polaritydata/rt-polarity.pos"):
        D.load_polarity(path=tmp_path / "elsewhere")


def test_a_changed_copy_is_refused_unless_named(tmp_path, monkeypatch):
    copy = put(tmp_path, "airline_passengers_monthly.csv")
    with open(copy, "a") as f:
        f.write("1961-01,450\n")
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path))
    with pytest.raises(D.ChecksumError) as e:
        D.load_airline_passengers()
    assert copy in str(e.value) and files.FILES["airline_passengers_monthly.csv"].sha256 in str(e.value)
    assert "rnn.datasets.load_airline_passengers" in str(e.value)
    values, dates = D.load_airline_passengers(path=copy)  # named by path=: read as it is
    assert values.shape == (145,) and values[-1] == 450 and str(dates[-1]) == "1961-01"


# ------------------------------------------------------------------ downloads
class FakeOpener:
    """Serves ``data`` for every URL, as urllib's response would (read, headers, with)."""

    def __init__(self, data, fail_after=None):
        self.data, self.fail_after, self.urls = data, fail_after, []

    def __call__(self, url, timeout=None):
        self.urls.append(url)
        response = io.BytesIO(self.data)
        response.headers = {"Content-Length": str(len(self.data))}
        if self.fail_after is not None:
            read = response.read

            def failing_read(n=-1):
                if response.tell() >= self.fail_after:
                    raise ConnectionResetError("connection reset by peer")
                return read(n)
            response.read = failing_read
        return response


def test_download(tmp_path, monkeypatch, capsys):
    real = (EXAMPLES_DATA / "tinyshakespeare.txt").read_bytes()
    opener = FakeOpener(real)
    monkeypatch.setattr(files, "urlopen", opener)
    monkeypatch.setattr(files, "EXAMPLES_DATA", str(tmp_path / "no-checkout"))
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path / "data"))
    text = D.load_shakespeare()
    assert len(text) == 1_115_394 and text.startswith("First Citizen:")
    assert opener.urls == ["https://raw.githubusercontent.com/karpathy/char-rnn/"
                           "6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/data/tinyshakespeare/input.txt"]
    saved = tmp_path / "data" / "tinyshakespeare.txt"
    assert saved.read_bytes() == real and os.listdir(tmp_path / "data") == ["tinyshakespeare.txt"]
    bar = capsys.readouterr().err
    assert "tinyshakespeare.txt" in bar and "100%" in bar and "1.06M" in bar  # 1,115,394 B = 1.06 MiB
    D.load_shakespeare()
    assert len(opener.urls) == 1  # found the second time: no second download


def test_download_goes_to_the_cache_without_minigrad_data(monkeypatch, isolated):
    real = (EXAMPLES_DATA / "stockdata.csv").read_bytes()
    monkeypatch.setattr(files, "urlopen", FakeOpener(real))
    monkeypatch.setattr(files, "EXAMPLES_DATA", "/nonexistent")
    assert D.load_stocks("AAPL").values.shape == (2306,)
    assert (isolated / ".cache" / "minigrad" / "stockdata.csv").read_bytes() == real


def test_download_with_the_url_quoted(tmp_path, monkeypatch):
    real = (TEST_DATA / "sentiment_labelled_sentences" / "yelp_labelled.txt").read_bytes()
    opener = FakeOpener(real)
    monkeypatch.setattr(files, "urlopen", opener)
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path))
    assert D.load_labelled_sentences("yelp").labels.sum() == 500
    assert opener.urls[0].endswith("/Datasets/sentiment%20labelled%20sentences/yelp_labelled.txt")


@pytest.mark.parametrize("damage", ["one byte changed", "truncated", "connection reset"])
def test_a_bad_download_leaves_nothing(tmp_path, monkeypatch, damage):
    real = bytearray((EXAMPLES_DATA / "tinyshakespeare.txt").read_bytes())
    if damage == "one byte changed":
        real[500_000] ^= 1
    served = bytes(real[:700_000]) if damage == "truncated" else bytes(real)
    monkeypatch.setattr(files, "urlopen", FakeOpener(served, 300_000 if damage == "connection reset" else None))
    monkeypatch.setattr(files, "EXAMPLES_DATA", str(tmp_path / "no-checkout"))
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path / "data"))
    if damage == "connection reset":
        with pytest.raises(D.DataNotFoundError, match="ConnectionResetError: connection reset by peer"):
            D.load_shakespeare()
    else:
        with pytest.raises(D.ChecksumError, match="is not the published tinyshakespeare.txt.*nothing was kept"):
            D.load_shakespeare()
    assert os.listdir(tmp_path / "data") == []  # no partial file, no temporary file


def test_offline_error_lists_every_place(tmp_path, monkeypatch, isolated):
    def offline(url, timeout=None):
        raise OSError("[Errno -3] Temporary failure in name resolution")
    monkeypatch.setattr(files, "urlopen", offline)
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path / "env"))
    with pytest.raises(D.DataNotFoundError) as e:
        D.load_apple()
    message = str(e.value)
    url = files.FILES["finance-charts-apple.csv"].url
    for place in (tmp_path / "env" / "finance-charts-apple.csv",
                  isolated / ".cache" / "minigrad" / "finance-charts-apple.csv",
                  EXAMPLES_DATA / "finance-charts-apple.csv", url, "Temporary failure in name resolution",
                  f"download {url} (sha256 {files.FILES['finance-charts-apple.csv'].sha256}) to "
                  f"{tmp_path / 'env' / 'finance-charts-apple.csv'}"):
        assert str(place) in message
    assert message.startswith("rnn.datasets.load_apple: no copy of finance-charts-apple.csv found")


def test_download_false_never_opens_a_url(isolated):
    with pytest.raises(D.DataNotFoundError, match=r"download=False: https://raw.githubusercontent.com/\S+ was not tried"):
        D.load_labelled_sentences("amazon", download=False)  # the autouse fixture fails any download


def test_packaged_file_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "EXAMPLES_DATA", str(tmp_path / "no-checkout"))
    monkeypatch.setattr(files, "PACKAGE_DATA", str(tmp_path / "no-package-data"))
    with pytest.raises(D.DataNotFoundError, match="ships with the package .* reinstall minigrad"):
        D.load_sunspots("yearly")


# ------------------------------------------------------------------ malformed files
def bad_file(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


def check_error(error, path, line, problem):
    assert (error.value.path, error.value.line) == (path, line)
    assert problem in error.value.problem
    assert str(error.value).startswith("rnn.datasets.") and f"{path}, line {line}: " in str(error.value)


def refused(tmp_path, name, content, loader, line, problem):
    """``loader(path=...)`` on a file holding ``content`` raises DataFormatError naming the line and problem."""
    path = bad_file(tmp_path, name, content)
    with pytest.raises(D.DataFormatError) as e:
        loader(path=path)
    check_error(e, path, line, problem)


@pytest.mark.parametrize("name, content, loader, line, problem", [
    ("co2.csv", "", D.load_co2, 1, "the file is empty"),
    ("co2.csv", "date,ppm\n1958-03-29,316.1\n", D.load_co2, 1, "the header is 'date,ppm'; expected 'date,co2'"),
    ("stocks.csv", '"MSFT","IBM","Day"\n1,2,"2007-01-03"\n', D.load_stocks, 1, "expected a Date column"),
    # a decimal comma: one field too many
    ("sunspots.csv", "month,sunspots\n1749-01,58.0\n1749-02,62,6\n", D.load_sunspots, 3,
     "3 fields; expected 2 (month,sunspots)"),
    ("sunspots.csv", "month,sunspots\n1749-01,58.0\n1749-02,n/a\n", D.load_sunspots, 3,
     "column 'sunspots': 'n/a' is not a number"),
    ("sunspots.csv", "month,sunspots\n1749-01,nan\n", D.load_sunspots, 2, "'nan' is not a finite number"),
    ("sunspots.csv", "month,sunspots\n1749-01,58.0\n1749-02,\n", D.load_sunspots, 3,
     "column 'sunspots' is empty (this file has no missing values)"),
], ids=["empty", "wrong-header", "no-date-column", "decimal-comma", "not-a-number", "nan", "empty-value"])
def test_malformed_files_name_the_line_and_the_problem(tmp_path, name, content, loader, line, problem):
    refused(tmp_path, name, content, loader, line, problem)


def test_wrong_number_of_fields(tmp_path):
    lines = (EXAMPLES_DATA / "stockdata.csv").read_bytes().decode().split("\r\n")
    lines[6] = lines[6].replace('"2007-01-10"', '"2007-01-10",1.0')
    refused(tmp_path, "stockdata.csv", "\r\n".join(lines), D.load_stocks, 7,
            "7 fields; expected 6 (MSFT,IBM,SBUX,AAPL,GSPC,Date)")


def test_wrong_encoding(tmp_path):
    text = "month,passengers\n1949-01,112\n1949-02,118\n".encode() + "1949-03,13\u00b2\n".encode("cp1252")
    refused(tmp_path, "airline.csv", text, D.load_airline_passengers, 4, "byte 0xb2 is not valid utf-8")
    # The Cornell original of the polarity data is Windows-1252: the error says how to convert it.
    (tmp_path / "rt").mkdir()
    bad_file(tmp_path, "rt/rt-polarity.pos", "a good film .\nsimply a delight .\n")
    neg = bad_file(tmp_path, "rt/rt-polarity.neg", "dull .\n".encode() + "a clich\u00e9 .\n".encode("cp1252"))
    with pytest.raises(D.DataFormatError) as e:
        D.load_polarity(path=tmp_path / "rt")
    check_error(e, neg, 2, "iconv -f cp1252 -t utf-8")


def test_bad_dates(tmp_path):
    refused(tmp_path, "co2.csv", "date,co2\n1958-03-29,316.1\n1958-13-05,317.3\n", D.load_co2, 3,
            "'1958-13-05' is not a date YYYY-MM-DD")
    # newest first, as some price exports are
    refused(tmp_path, "co2b.csv", "date,co2\n1958-04-05,317.3\n1958-03-29,316.1\n", D.load_co2, 3,
            "1958-03-29 does not come after the previous row's 1958-04-05")


def test_bad_category_and_no_rows(tmp_path):
    refused(tmp_path, "w.csv", "date,precipitation,temp_max,temp_min,wind,weather\n"
            "2012-01-01,0.0,12.8,5.0,4.7,drizzle\n2012-01-02,10.9,10.6,2.8,4.5,hail\n", D.load_seattle_weather, 3,
            "'hail' is not one of drizzle, fog, rain, snow, sun")
    refused(tmp_path, "only_header.csv", "month,passengers\n", D.load_airline_passengers, 2,
            "no data rows after the header")


def test_malformed_sentences(tmp_path):
    good = "Loved it.\t1\n"
    for content, line, problem in [("Loved it.\t1\nHated it. 0\n", 2, "no tab: expected 'sentence<TAB>label'"),
                                   (good + "Hated it.\tnegative\n", 2, "the label is 'negative'; expected 0 or 1"),
                                   (good + "\n" + good, 2, "an empty line"),
                                   (good + "  \t0\n", 2, "an empty sentence")]:
        refused(tmp_path, "imdb_labelled.txt", content, lambda path: D.load_labelled_sentences("imdb", path=path),
                line, problem)
    (tmp_path / "rt").mkdir()
    pos = bad_file(tmp_path, "rt/rt-polarity.pos", "a good film .\n\nsimply a delight .\n")
    bad_file(tmp_path, "rt/rt-polarity.neg", "dull .\n")
    with pytest.raises(D.DataFormatError) as e:
        D.load_polarity(path=tmp_path / "rt")
    check_error(e, pos, 2, "an empty line")


def test_bad_arguments():
    with pytest.raises(ValueError, match="source='twitter'; expected one of imdb, amazon, yelp or 'all'"):
        D.load_labelled_sentences("twitter")
    with pytest.raises(ValueError, match="freq='daily'; expected 'monthly' or 'yearly'"):
        D.load_sunspots("daily")
    with pytest.raises(KeyError, match="unknown data file 'mnist.csv'"):
        D.locate("mnist.csv")
