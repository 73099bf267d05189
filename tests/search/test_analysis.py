"""Normalisation, tokenisation and blind tokens."""
import pickle
import secrets

import pytest

from records.errors import ValidationError
from search import analysis, blind, query
from search.interface import And, CharTerm, Phrase


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


def test_units_bigrams_chars_and_words():
    units = analysis.units(analysis.normalise("拖欠工資3個月，iPhone15手機。好"))
    assert [(u.kind, u.tokens) for u in units] == [
        ("cjk", ("拖欠", "欠工", "工资")), ("word", ("3",)), ("cjk", ("个月",)),
        ("word", ("iphone15",)), ("cjk", ("手机",)), ("char", ("好",)),
    ]


def test_analyse_positions_are_consecutive_and_chars_distinct():
    a = analysis.analyse("拖欠工資三個月 back pay 2026")
    assert a.tokens == ["拖欠", "欠工", "工资", "资三", "三个", "个月", "back", "pay", "2026"]
    assert a.chars == set("拖欠工资三个月")


@pytest.mark.parametrize("text", [
    "本人於某建築公司工作，公司拖欠工資三個月，請求協調解決。",
    "小区 iPhone15 手機壞了3次，要求退款 refund now",
])
def test_every_substring_is_a_run_of_consecutive_tokens(text):
    """The property phrase search rests on: a substring's tokens appear at consecutive
    positions of the text's tokens."""
    doc = analysis.analyse(text).tokens
    for i in range(len(text)):
        for j in range(i + 2, min(len(text), i + 8) + 1):
            piece = text[i:j]
            units = analysis.units(analysis.normalise(piece))
            if len(units) != 1 or units[0].kind != "cjk":
                continue
            toks = list(units[0].tokens)
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
    # a lone character at the edge of a mixed term may be the edge of a longer run in a letter
    node = query.text_node("3元", b, None)
    assert node == And((Phrase((b.text_one("3"),)), CharTerm(b.char_one("元"))))
    # inside, it is bounded on both sides, so it stays in the phrase
    node = query.text_node("3元5角", b, None)
    assert node == And((Phrase(tuple(b.text(["3", "元", "5"]))), CharTerm(b.char_one("角"))))
    assert query.text_node("。，！", b, None) is None


def test_highlight_maps_back_to_the_original_characters():
    from search import highlight

    terms = query.Terms(phrases=[("拖欠", "欠工", "工资")], chars={"月"})
    html = str(highlight.mark("公司拖欠工資三個月", terms))
    assert html == "公司<mark>拖欠工資</mark>三個<mark>月</mark>"
    assert "&lt;script&gt;" in str(highlight.snippet("<script>拖欠工資</script>", terms))
    with pytest.raises(ValidationError):
        query.parse("工*")
