"""Tiny Shakespeare: the character-level language-modelling corpus of char-rnn."""
from .files import locate
from .parse import read_text


def load_shakespeare(path=None, download=True):
    """Karpathy's "tiny Shakespeare": 1,115,394 characters of Shakespeare's plays, as one str.

    Returns the text exactly as in the file: ASCII, 65 distinct characters, 40,000
    lines ending in "\\n", beginning "First Citizen:". Make ids with
    ``rnn.data.Vocab.from_text(text, level="char")``.

    File: ``tinyshakespeare.txt`` (sha256 86c4e6aa...), found or downloaded as described
    in ``rnn.datasets.files``. Source: GitHub karpathy/char-rnn,
    ``data/tinyshakespeare/input.txt`` at commit 6f9487a6. License: the text is
    Shakespeare, public domain (the repository's Readme says MIT).
    """
    caller = "rnn.datasets.load_shakespeare"
    return read_text(locate("tinyshakespeare.txt", path, download, caller=caller), caller)
