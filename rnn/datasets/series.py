"""Time series: sunspots, Mauna Loa CO2, airline passengers, Seattle weather.

Each loader returns the values oldest first with their dates (numpy datetime64), as
float64: convert with ``.astype(np.float32)`` where a model wants float32. The files
are small exports that ship inside the package (``rnn/datasets/data/``), so they load
without a download; ``path=`` reads your own copy in the same format instead.
"""
from typing import NamedTuple

import numpy as np

from .files import locate
from .parse import CsvTable


class Series(NamedTuple):
    """values: (T,) float64, oldest first; dates: (T,) datetime64, one per value."""
    values: np.ndarray
    dates: np.ndarray


def load_sunspots(freq="monthly", path=None, download=True):
    """Sunspot numbers: "monthly" (1749-01 .. 1983-12) or "yearly" (1700 .. 2008) means.

    Returns ``Series(values, dates)``:

    * monthly: values (2820,) monthly mean relative sunspot number (58.0 in 1749-01,
      33.4 in 1983-12); dates (2820,) datetime64[M]. File ``sunspots_monthly.csv``
      (``month,sunspots``), exported from pmdarima 2.1.1's ``load_sunspots``: R's
      ``sunspots`` data set, from the Swiss Federal Observatory, Zurich, until 1960 and
      the Tokyo Astronomical Observatory after.
    * yearly: values (309,) yearly mean sunspot activity (5.0 in 1700, 2.9 in 2008);
      dates (309,) datetime64[Y]. File ``sunspots_yearly.csv`` (``year,sunactivity``),
      exported from statsmodels 0.15.0's ``datasets.sunspots`` (NOAA National
      Geophysical Data Center).

    No missing values. The cycle is about 11 years (~132 months). License: public-domain
    observations.
    """
    caller = "rnn.datasets.load_sunspots"
    forms = {"monthly": ("sunspots_monthly.csv", ("month", "sunspots"), "M"),
             "yearly": ("sunspots_yearly.csv", ("year", "sunactivity"), "Y")}
    if freq not in forms:
        raise ValueError(f"{caller}: freq={freq!r}; expected 'monthly' or 'yearly'")
    name, header, unit = forms[freq]
    table = CsvTable(locate(name, path, download, caller=caller), caller, header)
    return Series(table.floats(header[1]), table.dates(header[0], unit))


def load_co2(fill=None, path=None, download=True):
    """Weekly atmospheric CO2 at Mauna Loa in ppm, 1958-03-29 .. 2001-12-29 (every Saturday).

    Returns ``Series(values, dates)``: values (2284,) float64 in ppm (316.1 first, 371.5
    last); dates (2284,) datetime64[D]. 59 weeks have no measurement in the source; they
    are NaN, or with ``fill="interpolate"`` the straight line between the weeks on either
    side (all 59 lie inside the series). Whatever is done with NaN, a model must not see it.

    File ``co2_weekly.csv`` (``date,co2``, missing weeks as empty cells), exported from
    statsmodels 0.15.0's ``datasets.co2``: Keeling & Whorf (2004), SIO flask network, CDIAC.
    License: public domain (statsmodels' COPYRIGHT field).
    """
    caller = "rnn.datasets.load_co2"
    if fill not in (None, "interpolate"):
        raise ValueError(f"{caller}: fill={fill!r}; expected None (missing weeks are NaN) or 'interpolate'")
    table = CsvTable(locate("co2_weekly.csv", path, download, caller=caller), caller, ("date", "co2"))
    values, dates = table.floats("co2", missing=True), table.dates("date", "D")
    if fill == "interpolate":
        t, known = np.arange(len(values)), ~np.isnan(values)
        values = np.interp(t, t[known], values[known])
    return Series(values, dates)


def load_airline_passengers(path=None, download=True):
    """Box & Jenkins' airline data: monthly international airline passengers, 1949-01 .. 1960-12.

    Returns ``Series(values, dates)``: values (144,) float64 in thousands of passengers
    (112 in 1949-01, 432 in 1960-12); dates (144,) datetime64[M]. A rising trend with a
    yearly cycle that grows with it (multiplicative: model its log).

    File ``airline_passengers_monthly.csv`` (``month,passengers``), exported from
    pmdarima 2.1.1's ``load_airpassengers`` (R's ``AirPassengers``), with the month labels
    added. License: a classic published data set (Box & Jenkins 1976), distributed freely
    with R.
    """
    caller = "rnn.datasets.load_airline_passengers"
    table = CsvTable(locate("airline_passengers_monthly.csv", path, download, caller=caller), caller,
                     ("month", "passengers"))
    return Series(table.floats("passengers"), table.dates("month", "M"))


class Weather(NamedTuple):
    """values: (T, 4) float64 in the order of ``columns``; weather: (T,) str; dates: (T,) datetime64[D]."""
    values: np.ndarray
    weather: np.ndarray
    dates: np.ndarray
    columns: tuple


WEATHER = ("drizzle", "fog", "rain", "snow", "sun")


def load_seattle_weather(path=None, download=True):
    """Daily weather in Seattle, 2012-01-01 .. 2015-12-31 (1,461 days, none missing).

    Returns ``Weather(values, weather, dates, columns)``: values (1461, 4) float64, the
    columns ``("precipitation", "temp_max", "temp_min", "wind")`` in mm, °C, °C and m/s
    (the first day: 0.0, 12.8, 5.0, 4.7); weather (1461,) str, one of drizzle, fog, rain,
    snow, sun; dates (1461,) datetime64[D].

    File ``seattle_weather_daily.csv``, exported from vega_datasets 0.9.0's
    ``seattle_weather()`` with the dates rewritten as ISO. License: public-domain NOAA
    data (vega_datasets is MIT).
    """
    caller = "rnn.datasets.load_seattle_weather"
    columns = ("precipitation", "temp_max", "temp_min", "wind")
    table = CsvTable(locate("seattle_weather_daily.csv", path, download, caller=caller), caller,
                     ("date", *columns, "weather"))
    values = np.stack([table.floats(c) for c in columns], axis=1)
    return Weather(values, table.strings("weather", WEATHER), table.dates("date", "D"), columns)
