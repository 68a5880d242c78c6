"""rnn.datasets: the real data sets of the examples, as numpy arrays.

=============================  ==============================================================
``load_shakespeare()``         tiny Shakespeare, one str of 1,115,394 characters
``load_polarity()``            10,662 movie-review snippets, texts (N,) and 0/1 labels (N,)
``load_labelled_sentences()``  UCI sentences: imdb, amazon, yelp (1,000 each) or all
``load_sunspots()``            monthly (2,820) or yearly (309) sunspot numbers, with dates
``load_co2()``                 weekly Mauna Loa CO2 (2,284, 59 NaN or interpolated), dates
``load_airline_passengers()``  monthly airline passengers (144), dates
``load_seattle_weather()``     daily weather (1,461 x 4) and its category, dates
``load_stocks()``              daily closes of MSFT, IBM, SBUX, AAPL, S&P 500 (2,306), dates
``load_apple()``               AAPL daily OHLC + volume (506), dates
=============================  ==============================================================

Every loader takes ``path=`` (a file or folder of your own, read without a checksum)
and ``download=`` (False: never use the network). Where a file is looked for, how it is
checked and downloaded: ``rnn.datasets.files``. A malformed file raises
``DataFormatError`` naming the file, the line and the problem. docs/datasets.md has
each data set's shape, source and license.
"""
from .files import FILES, ChecksumError, DataNotFoundError, data_home, fetch, locate
from .parse import DataFormatError
from .sentiment import Sentences, load_labelled_sentences, load_polarity
from .series import Series, Weather, load_airline_passengers, load_co2, load_seattle_weather, load_sunspots
from .stocks import Table, load_apple, load_stocks
from .text import load_shakespeare

__all__ = ["load_shakespeare", "load_polarity", "load_labelled_sentences", "load_sunspots", "load_co2",
           "load_airline_passengers", "load_seattle_weather", "load_stocks", "load_apple",
           "Sentences", "Series", "Weather", "Table", "FILES", "locate", "fetch", "data_home",
           "DataNotFoundError", "ChecksumError", "DataFormatError"]
