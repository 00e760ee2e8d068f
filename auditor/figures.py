"""PNG pictures of what a scan found, for a person to look at.

- classes.png: for each class, the start that reached the largest margin (a row of tiles,
  each captioned with its class and the mean margin, the statistic);
- trigger-class-K.png, for a suspected target K: first the mean change every start needed to
  move towards K (grey is no change; what they share is the recovered trigger), then the
  starts that moved furthest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

TILE = 96   # pixels per tile side: small images are enlarged, nearest-neighbour, to be seen


def write_figures(folder: Path, inversion, verdict) -> list[Path]:
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    best = inversion.margins.argmax(1)
    tiles = [inversion.images[k, best[k]] for k in range(len(best))]
    captions = [f"{k}: {m:.1f}" for k, m in enumerate(verdict.statistics)]
    written = [folder / "classes.png"]
    _grid(tiles, captions, Image, ImageDraw).save(written[0])
    if verdict.suspected:
        k = verdict.suspect
        shift = inversion.mean_shift[k]
        order = inversion.margins[k].argsort(descending=True)[:7]
        tiles = [0.5 + 0.5 * shift / shift.abs().max().clamp(min=1e-12),
                 *(inversion.images[k, i] for i in order)]
        captions = ["mean change", *(f"{inversion.margins[k, i]:.1f}" for i in order)]
        written.append(folder / f"trigger-class-{k}.png")
        _grid(tiles, captions, Image, ImageDraw, columns=8).save(written[-1])
    return written


def _grid(tiles: list[torch.Tensor], captions: list[str], Image, ImageDraw, columns: int = 10):
    rows = -(-len(tiles) // columns)
    columns = min(columns, len(tiles))
    caption_height = 14
    sheet = Image.new("RGB", (columns * TILE, rows * (TILE + caption_height)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (tile, caption) in enumerate(zip(tiles, captions)):
        x, y = (i % columns) * TILE, (i // columns) * (TILE + caption_height)
        sheet.paste(_image(tile, Image), (x, y))
        draw.text((x + 3, y + TILE + 1), caption, fill="black")
    return sheet


def _image(pixels: torch.Tensor, Image):
    """C × H × W pixels in [0, 1] → a TILE × TILE RGB picture."""
    array = (pixels.clamp(0, 1).numpy() * 255).round().astype(np.uint8)
    array = array if array.shape[0] == 3 else np.repeat(array[:1], 3, 0)   # grey: one channel
    return Image.fromarray(array.transpose(1, 2, 0), "RGB").resize((TILE, TILE), Image.NEAREST)
