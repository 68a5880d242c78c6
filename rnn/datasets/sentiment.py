"""Sentiment data: labelled review sentences, as texts and 0/1 labels.

* ``load_polarity``: Pang & Lee's movie-review polarity data (10,662 Rotten Tomatoes snippets);
* ``load_labelled_sentences``: the UCI "Sentiment Labelled Sentences" (1,000 sentences each
  from imdb.com, amazon.com and yelp.com).
"""
import os
from typing import NamedTuple

import numpy as np

from .files import locate
from .parse import DataFormatError, read_lines


class Sentences(NamedTuple):
    """texts: (N,) object array of str; labels: (N,) int64, 1 = positive, 0 = negative."""
    texts: np.ndarray
    labels: np.ndarray


def _folder_only(path, caller, what):
    if path is not None and os.path.isfile(path):
        raise ValueError(f"{caller}: path={os.fspath(path)!r} is a file; expected the folder holding {what}")


def load_polarity(path=None, download=True):
    """Sentence polarity v1.0 (Pang & Lee 2005): 5,331 positive then 5,331 negative snippets.

    Returns ``Sentences(texts, labels)``: texts (10662,) str, lower-cased and tokenized
    by the authors (tokens separated by spaces, e.g. "the rock is destined to be the 21st
    century's new \\" conan \\" ..."), stripped of the trailing space every line has;
    labels (10662,) int64, 1 for the 5,331 lines of ``rt-polarity.pos`` (first), 0 for
    the 5,331 of ``rt-polarity.neg``. The files are sorted by label: shuffle before splitting.

    path: a folder holding ``rt-polarity.pos`` and ``rt-polarity.neg`` (directly or in
    ``rt-polaritydata/``). The files are UTF-8; the Cornell original release is
    Windows-1252 (``iconv -f cp1252 -t utf-8`` turns it into exactly these files).

    Source: http://www.cs.cornell.edu/people/pabo/movie-review-data/ (rt-polaritydata);
    the published UTF-8 copies are GitHub dennybritz/cnn-text-classification-tf,
    ``data/rt-polaritydata/`` at commit 18762b45. License: no license in the original
    release; NLTK distributes it as CC BY 4.0 with attribution to Bo Pang and Lillian Lee.
    Cite Pang & Lee, "Seeing stars", ACL 2005.
    """
    caller = "rnn.datasets.load_polarity"
    _folder_only(path, caller, "rt-polarity.pos and rt-polarity.neg")
    texts, labels = [], []
    for label, name in ((1, "rt-polaritydata/rt-polarity.pos"), (0, "rt-polaritydata/rt-polarity.neg")):
        file = locate(name, path, download, caller=caller)
        try:
            lines = read_lines(file, caller)
        except DataFormatError as e:
            if "not valid utf-8" not in e.problem:
                raise
            raise DataFormatError(caller, file, e.line, e.problem + " (the Cornell original is Windows-1252: "
                                                                   "convert it with iconv -f cp1252 -t utf-8)") from None
        for number, line in lines:
            if not line.strip():
                raise DataFormatError(caller, file, number, "an empty line (every line is one snippet)")
            texts.append(line.strip())
            labels.append(label)
    return Sentences(np.array(texts, dtype=object), np.array(labels, dtype=np.int64))


SOURCES = {"imdb": "imdb_labelled.txt", "amazon": "amazon_cells_labelled.txt", "yelp": "yelp_labelled.txt"}

# Windows-1252 punctuation that reached the imdb file as C1 control characters:
# U+0085 "…", U+0096 "–", U+0097 "—" (e.g. line 179: "The script is\x85was there a script?").
_C1_TO_CP1252 = {}
for _code in range(0x80, 0xA0):
    try:
        _C1_TO_CP1252[_code] = bytes([_code]).decode("cp1252")
    except UnicodeDecodeError:  # 0x81, 0x8d, 0x8f, 0x90, 0x9d: not characters in cp1252
        pass


def load_labelled_sentences(source="imdb", path=None, download=True, raw=False):
    """UCI Sentiment Labelled Sentences (Kotzias et al. 2015): review sentences labelled 0/1.

    source: "imdb" (movie reviews), "amazon" (cell phones), "yelp" (restaurants): 1,000
    sentences each, 500 positive and 500 negative, in file order; or "all": the three
    concatenated in that order (3,000; rows 0-999 imdb, 1000-1999 amazon, 2000-2999 yelp).

    Returns ``Sentences(texts, labels)``: texts (N,) str with the spaces around each
    sentence stripped; labels (N,) int64, 1 = positive, 0 = negative.

    Each line is ``sentence<TAB>label``. Read here as the format is, not as a CSV: split
    on "\\n" only (``imdb_labelled.txt`` has two U+0085 NEL characters inside sentences,
    which ``str.splitlines`` would treat as line ends), the label after the last tab,
    and quote characters left alone (pandas' default quoting reads only 824 of the
    imdb file's 1,000 lines). raw: False turns the C1 control characters U+0080-U+009F,
    which are Windows-1252 punctuation decoded wrongly upstream (eight in the imdb file:
    U+0085 "…", U+0096 "–", U+0097 "—"), into the characters they stand for; True keeps
    the file's characters.

    path: for one source, its file or a folder holding it; for "all", a folder holding
    the three (directly or in ``sentiment_labelled_sentences/``).

    Source: UCI ML Repository dataset 331 (DOI 10.24432/C57604); the published copies are
    GitHub Shubhammawa/Sentiment-analysis-cnn, ``Datasets/sentiment labelled sentences/``
    at commit a698f984. License: CC BY 4.0 (UCI); cite Kotzias, Denil, de Freitas and
    Smyth, "From Group to Individual Labels using Deep Features", KDD 2015.
    """
    caller = "rnn.datasets.load_labelled_sentences"
    if source not in (*SOURCES, "all"):
        raise ValueError(f"{caller}: source={source!r}; expected one of {', '.join(SOURCES)} or 'all'")
    if source == "all":
        _folder_only(path, caller, ", ".join(SOURCES.values()))
    texts, labels = [], []
    for name in (SOURCES.values() if source == "all" else [SOURCES[source]]):
        file = locate(f"sentiment_labelled_sentences/{name}", path, download, caller=caller)
        for number, line in read_lines(file, caller):
            sentence, tab, label = line.rpartition("\t")
            if not line.strip():
                raise DataFormatError(caller, file, number, "an empty line")
            if not tab:
                raise DataFormatError(caller, file, number, "no tab: expected 'sentence<TAB>label'")
            if label.strip() not in ("0", "1"):
                raise DataFormatError(caller, file, number, f"the label is {label!r}; expected 0 or 1")
            if not sentence.strip(" "):
                raise DataFormatError(caller, file, number, "an empty sentence before the tab")
            texts.append(sentence.strip(" ") if raw else sentence.strip(" ").translate(_C1_TO_CP1252))
            labels.append(int(label))
    return Sentences(np.array(texts, dtype=object), np.array(labels, dtype=np.int64))
