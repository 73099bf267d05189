"""OCR benchmark: the candidate engines on generated scans of petition letters.

Letters of the benchmark corpus (``benchmarks.corpus``, both scripts) are rendered to A4
page images at 200 dpi with the installed Noto CJK fonts (sans and serif, 12 pt), in two
conditions:

* **clean**: the rendered page, PNG;
* **noisy**: scanner speckle, a slight blur, a 2° skew, uneven grey background and JPEG
  compression at quality 55.

Each engine runs through ``records.intake.ocr.recognise_page`` (the same preparation as in
production: grey, bounded, upright, deskewed) with 2 threads. Reported per engine and
condition:

* **character accuracy** = 1 − edit distance / reference length, over the text without
  whitespace after NFKC (full-width punctuation and its half-width form count as equal);
* **seconds per page** (wall clock, 2 threads, the engine loaded beforehand), and the CPU
  seconds the page cost (all threads; CPU seconds / 2 is the wall time of an idle 2-core
  machine, a figure that a busy shared machine does not distort);
* **search recall**: 4-character phrases cut at random from each original letter, searched
  as the index does (``search.analysis`` streams: an exact substring after normalisation and
  Traditional/Simplified folding) in the recognised text.

Usage::

    .venv/bin/python -m benchmarks.ocr_bench                       # 10 letters, both engines
    .venv/bin/python -m benchmarks.ocr_bench --letters 4 --engines rapidocr

Tesseract needs Debian's ``tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-chi-tra``
(skipped with a note when missing). Everything stays in memory.
"""
from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import statistics
import time
import unicodedata

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from benchmarks.corpus import letter
from records.intake import ocr
from search import analysis

FONTS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
         "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc")
DPI = 200
A4 = (int(8.27 * DPI), int(11.69 * DPI))
#: 12 pt at 200 dpi.
FONT_PX = round(12 * DPI / 72)


def _wrap(text: str, font, width: int, draw) -> list[str]:
    lines, current = [], ""
    for ch in text:
        if ch == "\n":
            lines.append(current)
            current = ""
            continue
        if draw.textlength(current + ch, font=font) > width:
            lines.append(current)
            current = ch
        else:
            current += ch
    if current:
        lines.append(current)
    return lines


def render(text: str, font_path: str, traditional: bool) -> Image.Image:
    """An A4 page of ``text`` (margins 2.5 cm, line spacing 1.6), in the SC or TC face."""
    img = Image.new("L", A4, 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(font_path, FONT_PX, index=3 if traditional else 2)
    margin = int(DPI * 2.5 / 2.54)
    y = margin
    for line in _wrap(text, font, A4[0] - 2 * margin, draw):
        if y > A4[1] - margin:
            break
        draw.text((margin, y), line, font=font, fill=0)
        y += int(FONT_PX * 1.6)
    return img


def degrade(img: Image.Image, seed: int) -> Image.Image:
    """Speckle, uneven background, blur, a 2° skew and JPEG at quality 55."""
    rnd = random.Random(seed)
    img = img.copy()
    px = img.load()
    w, h = img.size
    for _ in range(w * h // 300):
        px[rnd.randrange(w), rnd.randrange(h)] = rnd.choice((0, 90, 200))
    gradient = Image.linear_gradient("L").resize((w, h)).point(lambda v: 255 - v // 8)
    img = Image.composite(img, gradient, img.point(lambda v: 255 if v < 128 else 0))
    img = img.filter(ImageFilter.GaussianBlur(0.8))
    img = img.rotate(2.0 if seed % 2 else -2.0, resample=Image.BICUBIC, expand=True, fillcolor=235)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=55)
    return Image.open(io.BytesIO(buf.getvalue())).convert("L")


def _norm(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def edit_distance(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def accuracy(reference: str, recognised: str) -> float:
    ref, hyp = _norm(reference), _norm(recognised)
    return max(0.0, 1 - edit_distance(ref, hyp) / max(len(ref), 1))


def phrases(reference: str, n: int, seed: int) -> list[str]:
    """``n`` 4-character phrases of the original (no spaces, at least one CJK character)."""
    text = _norm(reference)
    rnd = random.Random(seed)
    out = []
    for _ in range(n * 10):
        if len(out) == n or len(text) < 4:
            break
        i = rnd.randrange(len(text) - 3)
        p = text[i:i + 4]
        if any(analysis.is_cjk(c) for c in p):
            out.append(p)
    return out


def found(phrase: str, recognised: str) -> bool:
    needle = analysis.query_stream(phrase)
    return any(needle in s for s in analysis.streams(recognised.replace("\n", " ")))


def engines(names: list[str]) -> dict[str, ocr.Engine]:
    out: dict[str, ocr.Engine] = {}
    for name in names:
        if name.startswith("rapidocr"):
            # rapidocr@1600: detection on at most 1600 pixels of the long side (default 1200)
            side = int(name.partition("@")[2] or 1200)
            out[name] = ocr.RapidOcrEngine(threads=2, det_side=side)
        elif name == "tesseract":
            if shutil.which("tesseract") is None:
                print("tesseract: not installed (apt-get install tesseract-ocr tesseract-ocr-chi-sim "
                      "tesseract-ocr-chi-tra); skipped")
                continue
            out[name] = ocr.TesseractEngine(threads=2, timeout=900)
        else:
            raise SystemExit(f"unknown engine {name!r}")
    return out


def run(n_letters: int, names: list[str], n_phrases: int) -> None:
    pages = []
    for i in range(n_letters):
        doc = letter(7, i)
        text = doc["subject"] + "\n" + doc["body"]
        clean = render(text, FONTS[(i // 2) % 2], doc["traditional"])
        pages.append((text, {"clean": clean, "noisy": degrade(clean, i)}))
    warm = pages[0][1]["clean"].crop((0, 0, A4[0], 400))
    for name, engine in engines(names).items():
        if name != "tesseract":  # a new Tesseract process reads its models for every page
            engine.recognise(warm)  # load the models before timing
        for condition in ("clean", "noisy"):
            accs, secs, cpu, hits, asked = [], [], [], 0, 0
            for i, (text, variants) in enumerate(pages):
                t0, c0 = time.perf_counter(), _cpu()
                recognised = ocr.recognise_page(engine, variants[condition])
                secs.append(time.perf_counter() - t0)
                cpu.append(_cpu() - c0)
                accs.append(accuracy(text, recognised))
                for p in phrases(text, n_phrases, seed=i):
                    asked += 1
                    hits += found(p, recognised)
            print(f"| {name} | {condition} | {len(pages)} | {statistics.mean(accs):.1%} | {min(accs):.1%} | "
                  f"{statistics.mean(secs):.2f} | {max(secs):.2f} | {statistics.mean(cpu):.2f} | "
                  f"{hits / max(asked, 1):.1%} ({hits}/{asked}) |",
                  flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--letters", type=int, default=10)
    parser.add_argument("--engines", default="rapidocr,tesseract")
    parser.add_argument("--phrases", type=int, default=20, help="4-character phrases per letter")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} (2 cores)")
    print("| engine | pages | n | char accuracy (mean) | worst page | s/page (mean) | s/page (max) | "
          "CPU s/page | 4-char phrase recall |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    run(args.letters, args.engines.split(","), args.phrases)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


def _cpu() -> float:
    """CPU seconds of this process and its children (Tesseract runs as a child)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


if __name__ == "__main__":
    main()
