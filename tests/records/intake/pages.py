"""Small generated scans for the intake tests: text rendered with the installed Noto CJK
font, optionally skewed, noisy and JPEG-compressed, all in memory."""
from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


def page(lines: list[str], *, size: int = 30, width: int = 900, skew: float = 0.0, noise: bool = False,
         seed: int = 1) -> Image.Image:
    font = ImageFont.truetype(FONT, size, index=0)
    height = 40 + len(lines) * int(size * 1.8) + 40
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((40, 40 + i * int(size * 1.8)), line, font=font, fill=0)
    if skew:
        img = img.rotate(skew, resample=Image.BICUBIC, expand=True, fillcolor=255)
    if noise:
        rnd = random.Random(seed)
        px = img.load()
        for _ in range(img.width * img.height // 200):
            px[rnd.randrange(img.width), rnd.randrange(img.height)] = rnd.choice((0, 255))
        img = img.filter(ImageFilter.GaussianBlur(0.6))
    return img


def encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def tiff(pages: list[Image.Image]) -> bytes:
    buf = io.BytesIO()
    pages[0].save(buf, format="TIFF", save_all=True, append_images=pages[1:], compression="tiff_deflate")
    return buf.getvalue()


def pdf_of_images(pages: list[Image.Image]) -> bytes:
    buf = io.BytesIO()
    pages[0].convert("RGB").save(buf, format="PDF", save_all=True, append_images=[p.convert("RGB") for p in pages[1:]],
                                 resolution=150)
    return buf.getvalue()
