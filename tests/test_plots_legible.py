"""wsm.report.plots' figures are legible at the book's width: about as wide as the text column, no text
smaller than the style's smallest size, the legend under the panels (hiding no bar) and the caption
under the legend."""

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text
from PIL import Image

from wsm.report import plots

TITLES = {"a": "MLP-4 classification", "b": "PlainNet-5 classification",
          "c": "MLP-4 retrieval", "d": "PlainNet-5 retrieval"}
SUPTITLE = ("Fig. 4, CIFAR-100 STAND-IN (Tiny ImageNet classes): five zoos, ours (profile smoke: 4 tasks x 5 "
            "runs per zoo; Baseline, Depth, Res5, Leaky 1 epoch; Adam 1 epoch, 50 images/class; device cpu)")


def _cell(rng, **keys):
    ours = float(rng.uniform(20, 100))
    return dict(keys, ours=ours, ci_low=max(0.0, ours - 20), ci_high=min(100.0, ours + 10),
                null_low=10.0, null_mean=25.0, null_high=40.0)


def _protocol_figure():
    rng = np.random.default_rng(0)
    rows = pd.DataFrame([_cell(rng, panel=p, kind=k, depth=d, paper=[np.nan, 99.0, 100.0][d - 1])
                         for p in "abcd" for k in ("normalized", "unnormalized") for d in (1, 2, 3)])
    return plots.protocol_panels(rows, TITLES, 0.05, SUPTITLE)


def _one_panel_of_ten_figure():
    """Table 2's layout: one panel, five layers and five chains, the paper's 100% beside ours."""
    rng = np.random.default_rng(2)
    rows = pd.DataFrame([_cell(rng, panel="a", kind=k, depth=d, paper=100.0 if k == "normalized" else np.nan)
                         for k in ("normalized", "unnormalized") for d in (3, 5, 7, 9, 11)])
    return plots.protocol_panels(rows, {"a": "ResNet-MLP-12 classification"}, 0.05, SUPTITLE)


def _variant_figure():
    rng = np.random.default_rng(1)
    rows = pd.DataFrame([_cell(rng, zoo=z, protocol=p, kind=k, depth=d)
                         for z in ("Baseline", "Depth", "Res5", "Leaky", "Adam")
                         for p in ("classification", "retrieval") for k in ("normalized", "unnormalized")
                         for d in (1, 2, 3)])
    return plots.variant_panels(rows, "zoo", 0.05, SUPTITLE)


FIGURES = {"protocol_panels": _protocol_figure, "variant_panels": _variant_figure,
           "one_panel_of_ten": _one_panel_of_ten_figure}


@pytest.fixture(params=sorted(FIGURES))
def figure(request):
    fig = FIGURES[request.param]()
    fig.wide = request.param != "one_panel_of_ten"         # two panels side by side: as wide as the column
    fig.numbered = request.param != "variant_panels"       # numbers on its bars (the paper's and ours)
    yield fig
    plt.close(fig)


def _width_px(fig) -> int:
    """The figure's width as a page shows it: the inline backend's PNG (figure.dpi, tight box)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, bbox_inches="tight")
    buf.seek(0)
    return Image.open(buf).size[0]


def test_figure_is_about_as_wide_as_the_column(figure):
    assert figure.dpi == 100
    width = _width_px(figure)
    assert width <= plots.COLUMN_PX * 1.1 and (width >= plots.COLUMN_PX * 0.8 or not figure.wide), width
    scale = min(1.0, plots.COLUMN_PX / width)            # what the page shrinks it by
    texts = [t for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()]
    numbers = [t for t in texts if t.get_text().replace(".", "").isdigit() or t.get_text() == "n/r"]
    words = [t for t in texts if t not in numbers]
    assert min(t.get_fontsize() for t in numbers) >= plots.NUMBER
    assert min(t.get_fontsize() for t in words) >= plots.SMALL
    assert min(t.get_fontsize() for t in words) * scale >= 8.5      # shrunk to the column, still 8.5 pt or more


def test_numbers_on_bars_do_not_run_together(figure):
    renderer = figure.canvas.get_renderer()
    figure.canvas.draw()
    numbers = 0
    for ax in figure.axes:
        boxes = [t.get_window_extent(renderer) for t in ax.texts if t.get_text().strip().isdigit()]
        numbers += len(boxes)
        overlapping = [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:]
                       if a.x0 < b.x1 - 0.5 and b.x0 < a.x1 - 0.5 and a.y0 < b.y1 - 0.5 and b.y0 < a.y1 - 0.5]
        assert not overlapping
    assert (numbers > 0) == figure.numbered


def test_legend_is_under_the_panels_and_the_caption_under_the_legend(figure):
    renderer = figure.canvas.get_renderer()
    figure.canvas.draw()
    [legend] = figure.legends
    assert all(ax.get_legend() is None for ax in figure.axes)       # no legend over the bars
    box = legend.get_window_extent(renderer)
    panels = [ax.get_tightbbox(renderer) for ax in figure.axes]     # with their tick and axis labels
    assert box.y1 <= min(p.y0 for p in panels) + 1
    assert box.x0 >= figure.bbox.x0 - 1 and box.x1 <= figure.bbox.x1 + 1    # within the figure's width
    [caption] = [t for t in figure.texts if t.get_text().startswith("Error bars")]
    assert caption.get_window_extent(renderer).y1 <= box.y0 + 1
    assert caption.get_window_extent(renderer).x1 <= figure.bbox.x1 + 1      # wrapped to the figure's width
