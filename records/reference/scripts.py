"""Traditional <-> Simplified conversion of reference names (OpenCC, mainland usage), so a
name typed in either script finds the other and a name entered once has both."""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=2)
def _converter(config: str):
    import opencc

    return opencc.OpenCC(config)


def to_hans(text: str) -> str:
    return _converter("t2s").convert(text) if text else text


def to_hant(text: str) -> str:
    return _converter("s2t").convert(text) if text else text
