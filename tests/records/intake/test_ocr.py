"""The engine seam and page preparation: skew measured and corrected, pages scanned sideways
or upside down turned upright before recognition, lines read top to bottom."""
from __future__ import annotations

import pytest

from records.intake import ocr

from .pages import page

LINES = ["關於科技項目經費撥付問題", "申请人反映专利奖励未发放", "金额三万元"]


@pytest.mark.parametrize("angle", [-3.0, -2.0, 2.0, 3.5])
def test_skew_is_measured(angle):
    assert abs(ocr.skew_angle(page(LINES, skew=angle)) + angle) <= 0.5


@pytest.mark.parametrize("turn", [90, 180, 270])
def test_turned_pages_are_detected(turn):
    img = page(LINES).rotate(turn, expand=True, fillcolor=255)
    upright = ocr.prepare(img)
    assert not ocr.sideways(upright) and not ocr.upside_down(upright)


@pytest.fixture(scope="module")
def engine():
    return ocr.RapidOcrEngine()


@pytest.mark.parametrize("turn", [0, 180])
def test_recognised_in_reading_order(engine, turn):
    img = page(LINES, skew=2.0, noise=True).rotate(turn, expand=True, fillcolor=255)
    text = ocr.recognise_page(engine, img)
    assert text.splitlines() == LINES
