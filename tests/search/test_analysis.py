"""Normalisation, tokenisation and blind tokens."""
import pickle
import secrets

import pytest

from records.errors import ValidationError
from search import analysis, blind, query
from search.interface import CharTerm, Phrase


def test_normalise_width_case_and_script():
    assert analysis.normalise("ＡＢＣ１２３") == "abc123"
    assert analysis.normalise("Back PAY") == "back pay"
    assert analysis.normalise("拖欠工資") == analysis.normalise("拖欠工资") == "拖欠工资"
    assert analysis.normalise("這裡　後來") == "这里 后来"   # ideographic space → space
    assert analysis.normalise("ｉＰｈｏｎｅ１５") == "iphone15"


def test_t2s_is_character_by_character():
    # context-free: a character folds the same way inside a phrase and alone
    assert analysis.normalise("乾隆") == analysis.normalise("乾") + analysis.normalise("隆")
    assert analysis.normalise("頭髮") == analysis.normalise("頭") + analysis.normalise("髮")


def test_pairs_of_every_adjacent_character_whatever_the_script():
    a = analysis.analyse("拖欠工資3個月，iPhone15手機。好")
    assert a.tokens == ["拖欠", "欠工", "工资", "资3", "3个", "个月", "月,", ",i", "ip", "ph", "ho", "on", "ne",
                        "e1", "15", "5手", "手机", "机。", "。好"]
    assert a.chars == set("拖欠工资3个月,iphone15手机。好")


def test_whitespace_next_to_cjk_is_typographic_and_fields_do_not_join():
    a = analysis.analyse("共 3 次  back\tpay" + analysis.FIELD_BREAK + "下一欄")
    assert a.tokens == ["共3", "3次", "次b", "ba", "ac", "ck", "k ", " p", "pa", "ay", "下一", "一栏"]
    assert analysis.query_stream(" 共 3\u3000次 ") == "共3次"
    assert analysis.query_stream("a\u200bb") == "ab"       # invisible characters are dropped


@pytest.mark.parametrize("text", [
    "本人於某建築公司工作，公司拖欠工資三個月，請求協調解決。",
    "小区 iPhone15 手機壞了3次，要求退款 refund now 3000元 2025-03-14",
])
def test_every_substring_is_a_run_of_consecutive_tokens(text):
    """The property phrase search rests on: a substring's pairs appear at consecutive
    positions of the text's tokens."""
    doc = analysis.analyse(text).tokens
    stream = analysis.streams(text)[0]
    for i in range(len(stream)):
        for j in range(i + 2, min(len(stream), i + 8) + 1):
            piece = stream[i:j]
            if piece != piece.strip():
                continue
            toks = analysis.pairs(analysis.query_stream(piece))
            assert any(doc[k:k + len(toks)] == toks for k in range(len(doc))), piece


def test_blind_tokens_are_keyed_truncated_and_separated_by_field():
    key = secrets.token_bytes(32)
    b = blind.Blinder(key)
    t = b.text(["拖欠", "欠工", "拖欠"])
    assert t[0] == t[2] != t[1]
    assert all(len(x) == 11 and x.isascii() for x in t)
    assert b.char_one("拖") != b.text_one("拖")                   # field tag
    assert blind.Blinder(secrets.token_bytes(32)).text_one("拖欠") != t[0]   # keyed
    assert blind.Blinder(key).text_one("拖欠") == t[0]            # deterministic
    assert b.key_id == blind.key_id(key) and key.hex()[:12] not in b.key_id


def test_blinder_never_pickles_and_needs_a_real_key():
    b = blind.Blinder(secrets.token_bytes(32))
    with pytest.raises(TypeError):
        pickle.dumps(b)
    with pytest.raises(ValueError):
        blind.Blinder(b"short")


def test_memo_is_bounded(monkeypatch):
    monkeypatch.setattr(blind, "MEMO_LIMIT", 10)
    b = blind.Blinder(secrets.token_bytes(32))
    first = b.text([f"w{i}" for i in range(50)])
    assert b.text([f"w{i}" for i in range(50)]) == first


def test_one_character_queries_use_the_character_field():
    b = blind.Blinder(secrets.token_bytes(32))
    assert query.text_node("欠", b, None) == CharTerm(b.char_one("欠"))
    assert query.text_node("8", b, None) == CharTerm(b.char_one("8"))
    # two characters or more: the phrase of their pairs, whatever the scripts
    assert query.text_node("3元", b, None) == Phrase((b.text_one("3元"),))
    assert query.text_node("3元5角", b, None) == Phrase(tuple(b.text(["3元", "元5", "5角"])))
    assert query.text_node("。，！", b, None) is None   # punctuation alone


def test_highlight_maps_back_to_the_original_characters():
    from search import highlight

    terms = query.Terms(needles={"拖欠工资", "月"})
    html = str(highlight.mark("公司拖欠工資三個月", terms))
    assert html == "公司<mark>拖欠工資</mark>三個<mark>月</mark>"
    assert "&lt;script&gt;" in str(highlight.snippet("<script>拖欠工資</script>", terms))
    assert str(highlight.mark("答覆：共 3 次", query.Terms(needles={"答复:共3"}))) == "<mark>答覆：共 3</mark> 次"
    with pytest.raises(ValidationError):
        query.parse("工*")


def test_highlighting_sees_the_stream_the_index_is_built_from():
    """``stream_with_offsets`` (highlighting, one character at a time, cached) gives the same
    searchable string as the index's analysis, invisible characters and whitespace included,
    and each offset points at the character it came from."""
    import random

    rng = random.Random(7)
    pool = ("本人於某建築公司工作拖欠工資三個月請求協調解決臺灣台湾後裏㎏ＡＢｃ１２①Ⅻ…、。「」😀𠀋"
            "ABCdef xyz 　\t\n\u200b\u00ad\ufeff\u2061\x01\x7f")
    for _ in range(2000):
        text = "".join(rng.choice(pool) for _ in range(rng.randrange(0, 40)))
        stream, origin = analysis.stream_with_offsets(text)
        assert stream == analysis.streams(text)[0], repr(text)
        assert len(origin) == len(stream) and origin == sorted(origin)
        assert all(c == " " or c in analysis.normalise(text[o]) for c, o in zip(stream, origin)), repr(text)
        assert all(c != " " or analysis.normalise(text[o]).isspace() for c, o in zip(stream, origin)), repr(text)
    assert all((chr(c) in analysis._DROP) == bool(analysis._DROP_RE.match(chr(c))) for c in range(0x10000))


def test_highlighting_offsets_hold_when_the_character_table_starts_afresh(monkeypatch):
    """The process's table of normalised characters is bounded: text of more distinct
    characters than it holds empties it and goes on, with the same streams and offsets
    (an expansion such as ``㎏`` -> ``kg`` still maps both letters to the one character)."""
    import random

    monkeypatch.setattr(analysis._CharTable, "LIMIT", 8)
    analysis._CHARS.clear()   # a cache: what earlier tests left in it would not be looked up again
    rng = random.Random(11)
    pool = "拖欠工資臺灣㎏ＡＢｃ１２ﬁß 　\t\u200bxyz①"
    for _ in range(300):
        text = "".join(rng.choice(pool) for _ in range(rng.randrange(0, 30)))
        stream, origin = analysis.stream_with_offsets(text)
        assert stream == analysis.streams(text)[0], repr(text)
        assert all(c == " " or c in analysis.normalise(text[o]) for c, o in zip(stream, origin)), repr(text)
        assert len(analysis._CHARS) <= 8
    assert analysis.stream_with_offsets("a㎏b") == ("akgb", [0, 1, 1, 2])
