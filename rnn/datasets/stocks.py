"""Daily stock prices: closes of four stocks and the S&P 500 (stockdata.csv), Apple OHLC (finance-charts-apple.csv).

Both files are Plotly's tutorial data, downloaded at a fixed commit when not found
locally. Rows are trading days, oldest first; values are float64 US dollars (index
points for ^GSPC, shares for volume).
"""
from typing import NamedTuple

import numpy as np

from .files import locate
from .parse import CsvTable


class Table(NamedTuple):
    """values: (T, C) float64 in the order of ``columns`` ((T,) when one column was asked
    for by a plain string); dates: (T,) datetime64[D]; columns: the names, a tuple."""
    values: np.ndarray
    dates: np.ndarray
    columns: tuple


def _pick(table, available, wanted, caller, argument):
    """Columns ``wanted`` (None: all ``available``; a str: that one, values (T,)) as a Table's values."""
    names = available if wanted is None else (wanted,) if isinstance(wanted, str) else tuple(wanted)
    unknown = [n for n in names if n not in available]
    if unknown or not names:
        raise ValueError(f"{caller}: {argument}={wanted!r}; available: {', '.join(available)}")
    values = np.stack([table.floats(n) for n in names], axis=1)
    return (values[:, 0] if isinstance(wanted, str) else values), names


def load_stocks(symbols=None, path=None, download=True):
    """Daily closing prices 2007-01-03 .. 2016-03-01 (2,306 trading days, none missing).

    symbols: None for all five, ``("MSFT", "IBM", "SBUX", "AAPL", "GSPC")`` (GSPC is the
    S&P 500 index), a list of some of them (values (2306, S) in that order), or one name
    as a str (values (2306,)).

    Returns ``Table(values, dates, columns)``: split-adjusted closes in US dollars (AAPL:
    11.086612 on 2007-01-03, 100.529999 on 2016-03-01); dates (2306,) datetime64[D].

    File ``stockdata.csv`` (``"MSFT","IBM","SBUX","AAPL","GSPC","Date"``, quoted, CRLF).
    A file of your own given by ``path=`` may hold any symbols next to its ``Date`` column.
    Source: GitHub plotly/datasets, ``stockdata.csv`` at commit 0c447c47. License: the
    repository is MIT (Plotly); the upstream source of the prices is not stated.
    """
    caller = "rnn.datasets.load_stocks"
    table = CsvTable(locate("stockdata.csv", path, download, caller=caller), caller)
    available = tuple(c for c in table.columns if c != "Date")
    if "Date" not in table.columns or not available:
        raise table.error(1, f"the header is {','.join(table.columns)!r}; expected a Date column and one "
                             f"column per symbol")
    values, names = _pick(table, available, symbols, caller, "symbols")
    return Table(values, table.dates("Date", "D"), names)


APPLE_HEADER = ("Date", "AAPL.Open", "AAPL.High", "AAPL.Low", "AAPL.Close", "AAPL.Volume", "AAPL.Adjusted",
                "dn", "mavg", "up", "direction")
APPLE_COLUMNS = ("Open", "High", "Low", "Close", "Volume", "Adjusted", "dn", "mavg", "up")


def load_apple(columns=("Open", "High", "Low", "Close", "Volume", "Adjusted"), path=None, download=True):
    """AAPL daily prices 2015-02-17 .. 2017-02-16 (506 trading days, none missing).

    columns: any of Open, High, Low, Close, Volume, Adjusted (the default: all six) and
    the Bollinger-band columns dn, mavg, up the file also holds; one name as a str gives
    values (506,). The file's ``direction`` column (Increasing/Decreasing) is left out.

    Returns ``Table(values, dates, columns)``: values (506, C) float64, prices in US
    dollars (Close 127.830002 on 2015-02-17, 135.350006 on 2017-02-16), Volume in shares;
    dates (506,) datetime64[D].

    File ``finance-charts-apple.csv`` (Plotly's candlestick tutorial data). Source: GitHub
    plotly/datasets, ``finance-charts-apple.csv`` at commit 0c447c47. License: the
    repository is MIT (Plotly); the upstream source of the prices is not stated.
    """
    caller = "rnn.datasets.load_apple"
    table = CsvTable(locate("finance-charts-apple.csv", path, download, caller=caller), caller, APPLE_HEADER)
    table.columns = tuple(c.removeprefix("AAPL.") for c in table.columns)
    table.strings("direction", {"Increasing", "Decreasing"})
    values, names = _pick(table, APPLE_COLUMNS, columns, caller, "columns")
    return Table(values, table.dates("Date", "D"), names)
