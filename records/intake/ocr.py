"""Optical character recognition behind a small seam, on images held in memory only.

* ``Engine`` is the seam: ``recognise(image) -> str``. ``RapidOcrEngine`` (the chosen one:
  PP-OCR models run by ONNX Runtime, shipped inside the ``rapidocr`` wheel, nothing
  downloaded at run time) and ``TesseractEngine`` (Debian's ``tesseract-ocr`` with
  ``chi_sim``/``chi_tra``, fed over a pipe, kept for the benchmark) implement it. Why the
  first was chosen: ``benchmarks/README.md``.
* ``prepare`` turns a page into what recognition wants: grey, a bounded size, turned upright
  when it was scanned sideways, and deskewed (a projection-profile search over small angles).
* No image ever reaches a file: pages are decoded from bytes into memory, and Tesseract
  reads its image from standard input and writes its text to standard output.
"""
from __future__ import annotations

import io
import logging
import subprocess
import threading
from typing import Protocol

import numpy as np
from PIL import Image

log = logging.getLogger("xinfang.intake")

#: Longest side of a page given to the engine (about A4 at 200 dpi).
MAX_SIDE = 2400
#: Skew angles tried by ``deskew`` (degrees); scanners rarely do worse than 5°.
MAX_SKEW = 5.0
SKEW_STEP = 0.25
#: Width of the thumbnail the skew and orientation are measured on.
_PROBE_WIDTH = 600


class Engine(Protocol):
    """What recognises the text of one prepared page image."""

    name: str

    def recognise(self, image: Image.Image) -> str: ...


# -- preparation ------------------------------------------------------------------------
def _ink(image: Image.Image) -> np.ndarray:
    """A small boolean ink mask of ``image`` (dark pixels), for measuring lines."""
    probe = image.convert("L")
    if probe.width > _PROBE_WIDTH:
        probe = probe.resize((_PROBE_WIDTH, max(1, round(probe.height * _PROBE_WIDTH / probe.width))))
    arr = np.asarray(probe, dtype=np.uint8)
    threshold = min(160, int(arr.mean()) - 30) if arr.size else 128
    return arr < max(threshold, 40)


def _line_score(mask: np.ndarray) -> float:
    """How line-like the rows of ``mask`` are: text rows alternate full and empty, so the
    variance of the row sums peaks when the lines are horizontal."""
    if mask.size == 0:
        return 0.0
    rows = mask.sum(axis=1).astype(np.float64)
    return float(np.var(rows))


def _rotated_mask(mask: np.ndarray, angle: float) -> np.ndarray:
    img = Image.fromarray((mask * 255).astype(np.uint8))
    return np.asarray(img.rotate(angle, resample=Image.NEAREST, expand=True, fillcolor=0)) > 127


def skew_angle(image: Image.Image) -> float:
    """The rotation (degrees, counter-clockwise) that makes the text lines horizontal."""
    mask = _ink(image)
    if mask.sum() < 50:
        return 0.0
    best, best_score = 0.0, _line_score(mask)
    steps = int(MAX_SKEW / SKEW_STEP)
    for i in range(-steps, steps + 1):
        angle = i * SKEW_STEP
        if angle == 0:
            continue
        score = _line_score(_rotated_mask(mask, angle))
        if score > best_score * 1.0001:
            best, best_score = angle, score
    return best


def sideways(image: Image.Image) -> bool:
    """Whether the page was scanned a quarter turn off (its lines run vertically). Upside-down
    lines are turned by the engine's own direction classifier."""
    mask = _ink(image)
    if mask.sum() < 50:
        return False
    return _line_score(mask.T) > 1.5 * _line_score(mask)


def upside_down(image: Image.Image) -> bool:
    """Whether the page is upside down: a letter's lines start at the left margin and its text
    at the top, so its ink leans left and up; turned over, it leans right and down. (The
    engine turns each upside-down line itself, but would read the lines bottom to top.)"""
    mask = _ink(image)
    total = mask.sum()
    if total < 50:
        return False
    h, w = mask.shape
    cx = float((mask.sum(axis=0) * np.arange(w)).sum() / total / max(w - 1, 1))
    cy = float((mask.sum(axis=1) * np.arange(h)).sum() / total / max(h - 1, 1))
    return cx > 0.53 and cy > 0.53


def prepare(image: Image.Image) -> Image.Image:
    """Grey, bounded, upright and deskewed copy of a page image (all in memory)."""
    img = image.convert("L") if image.mode != "L" else image.copy()
    if max(img.size) > MAX_SIDE:
        img.thumbnail((MAX_SIDE, MAX_SIDE))
    if sideways(img):
        img = img.transpose(Image.Transpose.ROTATE_90)
    angle = skew_angle(img)
    if angle:
        img = img.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=255)
    if upside_down(img):
        img = img.transpose(Image.Transpose.ROTATE_180)
    return img


def _lines(boxes, texts) -> str:
    """Recognised boxes put back into reading order: rows top to bottom (boxes whose vertical
    centres are within half a line height are one row), each row left to right."""
    items = []
    for box, text in zip(boxes, texts):
        ys = [p[1] for p in box]
        xs = [p[0] for p in box]
        items.append(((min(ys) + max(ys)) / 2, max(ys) - min(ys), min(xs), text))
    items.sort()
    rows: list[list] = []
    for cy, h, x, text in items:
        if rows and abs(cy - rows[-1][0][0]) <= max(h, rows[-1][0][1]) / 2:
            rows[-1].append((cy, h, x, text))
        else:
            rows.append([(cy, h, x, text)])
    return "\n".join("".join(t for *_, t in sorted(row, key=lambda r: r[2])) for row in rows)


# -- engines ------------------------------------------------------------------------------
class RapidOcrEngine:
    """PP-OCR (detection, direction classification, recognition) on ONNX Runtime; the models
    come inside the ``rapidocr`` wheel. Loaded on first use, once per process."""

    name = "rapidocr"

    def __init__(self, threads: int = 2, det_side: int = 1200):
        self.threads, self.det_side = threads, det_side
        self._engine = None
        self._lock = threading.Lock()

    def _load(self):
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    from rapidocr import RapidOCR

                    self._engine = RapidOCR(params={
                        "Global.log_level": "warning",
                        "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
                        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                        # detection on at most det_side pixels of the long side: the default
                        # ("min" side 736) blows a small image up to thousands of pixels; on A4
                        # pages 1200 was as accurate as 1600 and 20 % cheaper (benchmarks/README.md)
                        "Det.limit_type": "max",
                        "Det.limit_side_len": self.det_side,
                    })
                    # its own logger says what it loaded at INFO; never what it read
                    logging.getLogger("RapidOCR").setLevel(logging.WARNING)
        return self._engine

    def recognise(self, image: Image.Image) -> str:
        engine = self._load()
        result = engine(np.asarray(image.convert("RGB")))
        boxes, texts = getattr(result, "boxes", None), getattr(result, "txts", None)
        if boxes is None or not texts:
            return ""
        return _lines(boxes, texts)


class TesseractEngine:
    """Debian's Tesseract 5 with the Chinese language data; the image goes in on standard
    input and the text comes out on standard output (no file)."""

    name = "tesseract"

    def __init__(self, languages: str = "chi_sim+chi_tra", threads: int = 2, timeout: float = 120.0):
        self.languages, self.threads, self.timeout = languages, threads, timeout

    def recognise(self, image: Image.Image) -> str:
        buf = io.BytesIO()
        image.convert("L").save(buf, format="PNG")
        proc = subprocess.run(
            ["tesseract", "stdin", "stdout", "-l", self.languages, "--psm", "6"],
            input=buf.getvalue(), capture_output=True, timeout=self.timeout, check=False,
            env={"OMP_THREAD_LIMIT": str(self.threads), "PATH": "/usr/bin:/bin"})
        if proc.returncode != 0:
            raise RuntimeError(f"tesseract exited with status {proc.returncode}")
        text = proc.stdout.decode("utf-8", "replace")
        # Tesseract puts a space between CJK characters: they carry no meaning there
        return "\n".join("".join(line.split()) if _mostly_cjk(line) else line.strip()
                         for line in text.splitlines() if line.strip())


def _mostly_cjk(line: str) -> bool:
    chars = [c for c in line if not c.isspace()]
    return bool(chars) and sum("\u3400" <= c <= "\u9fff" for c in chars) * 2 >= len(chars)


def recognise_page(engine: Engine, image: Image.Image) -> str:
    """Prepare and recognise one page."""
    return engine.recognise(prepare(image))
