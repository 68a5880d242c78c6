"""Reading the data files strictly: any problem is reported with the file, the line and what is wrong.

A loader that guesses (skips a bad line, reads "n/a" as NaN, takes the first 824 rows
of a file a quote character confused) hands a model different data than its author
thinks; these readers refuse instead, with an error a person can act on:

    rnn.datasets.load_co2: /data/co2_weekly.csv, line 7: column 'co2': '317,5' is not a number
"""
import csv
import io
import math
import re

import numpy as np


class DataFormatError(ValueError):
    """A data file that does not have the expected format; ``path``, ``line`` (from 1) and ``problem`` say where and what."""

    def __init__(self, caller, path, line, problem):
        self.path, self.line, self.problem = path, line, problem
        super().__init__(f"{caller}: {path}, line {line}: {problem}")


def read_text(path, caller, encoding="utf-8"):
    """The whole file decoded as ``encoding``; an empty file or an undecodable byte is an error."""
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise DataFormatError(caller, path, 1, "the file is empty")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DataFormatError(caller, path, line, f"byte 0x{data[e.start]:02x} is not valid {e.encoding} "
                                                  f"({e.reason}); the file is expected in {encoding}") from None


def read_lines(path, caller, encoding="utf-8"):
    """[(line number, line)] of a text file, split on "\\n" only.

    Not ``str.splitlines()``: that also splits on U+0085 (NEL), U+2028 and others, which
    occur inside sentences of some review files. A final "\\r" (a CRLF copy) is dropped.
    """
    lines = read_text(path, caller, encoding).split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    return [(i, line[:-1] if line.endswith("\r") else line) for i, line in enumerate(lines, start=1)]


_DATE_FORMS = {"Y": (re.compile(r"\d{4}"), "YYYY"), "M": (re.compile(r"\d{4}-\d{2}"), "YYYY-MM"),
               "D": (re.compile(r"\d{4}-\d{2}-\d{2}"), "YYYY-MM-DD")}


class CsvTable:
    """A CSV file with a header line, every row the header's width; columns converted by name.

    ``header``: the exact column names expected, or None to accept any (the caller checks
    ``columns``). Quoted fields and CRLF line ends are read as the csv module reads them;
    a UTF-8 byte order mark is ignored.
    """

    def __init__(self, path, caller, header=None):
        self.path, self.caller = path, caller
        reader = csv.reader(io.StringIO(read_text(path, caller, "utf-8-sig"), newline=""), strict=True)
        try:
            self.columns = tuple(next(reader, ()))
            if not self.columns:
                raise self.error(1, "the header line is empty")
            if header is not None and self.columns != tuple(header):
                raise self.error(1, f"the header is {','.join(self.columns)!r}; expected {','.join(header)!r}")
            self.rows, self.lines = [], []
            for fields in reader:
                if not fields:
                    raise self.error(reader.line_num, "an empty line")
                if len(fields) != len(self.columns):
                    raise self.error(reader.line_num, f"{len(fields)} fields; expected {len(self.columns)} "
                                                      f"({','.join(self.columns)})")
                self.rows.append(fields)
                self.lines.append(reader.line_num)
        except csv.Error as e:
            raise self.error(reader.line_num, f"not valid CSV: {e}") from None
        if not self.rows:
            raise self.error(2, "no data rows after the header")

    def error(self, line, problem):
        return DataFormatError(self.caller, self.path, line, problem)

    def _cells(self, column):
        if column not in self.columns:
            raise self.error(1, f"no column {column!r} in the header {','.join(self.columns)!r}")
        j = self.columns.index(column)
        return zip(self.lines, (row[j] for row in self.rows))

    def floats(self, column, missing=False):
        """The column as float64 (N,). Empty cells are NaN when ``missing``, else an error;
        text, "nan" and "inf" are always errors (a missing value is an empty cell)."""
        out = np.empty(len(self.rows))
        for i, (line, cell) in enumerate(self._cells(column)):
            if cell.strip() == "":
                if not missing:
                    raise self.error(line, f"column {column!r} is empty (this file has no missing values)")
                out[i] = np.nan
                continue
            try:
                value = float(cell)
            except ValueError:
                raise self.error(line, f"column {column!r}: {cell!r} is not a number") from None
            if not math.isfinite(value):
                raise self.error(line, f"column {column!r}: {cell!r} is not a finite number")
            out[i] = value
        return out

    def dates(self, column, unit="D"):
        """The column as datetime64[unit] (N,): "Y" years YYYY, "M" months YYYY-MM, "D" days
        YYYY-MM-DD; each must come after the previous row's (the rows are in time order)."""
        pattern, form = _DATE_FORMS[unit]
        out = np.empty(len(self.rows), dtype=f"datetime64[{unit}]")
        for i, (line, cell) in enumerate(self._cells(column)):
            try:
                if not pattern.fullmatch(cell):
                    raise ValueError
                out[i] = np.datetime64(cell, unit)
            except ValueError:
                raise self.error(line, f"column {column!r}: {cell!r} is not a date {form}") from None
            if i and out[i] <= out[i - 1]:
                raise self.error(line, f"column {column!r}: {cell} does not come after the previous row's "
                                       f"{out[i - 1]} (the rows must be in time order)")
        return out

    def strings(self, column, allowed=None):
        """The column as an object array of str (N,); each value one of ``allowed`` when given."""
        cells = list(self._cells(column))
        for line, cell in cells:
            if allowed is not None and cell not in allowed:
                raise self.error(line, f"column {column!r}: {cell!r} is not one of {', '.join(sorted(allowed))}")
        return np.array([cell for _, cell in cells], dtype=object)
