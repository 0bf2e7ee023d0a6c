"""Chart renderers behind one interface: `get_renderer(name).render(data, width, height, style)`."""

from __future__ import annotations

from typing import Literal

from monitor.ui.render.base import ChartInput, ChartStyle, Overlay, Pane, Renderer, Zoom
from monitor.ui.render.geometry import Geometry, visible_candles
from monitor.ui.render.native import NativeRenderer

RendererName = Literal["native", "plotext"]
RENDERERS: tuple[RendererName, ...] = ("native", "plotext")


def get_renderer(name: str) -> Renderer:
    """A new renderer by its settings name (`ui.renderer`): "native" or "plotext".

    Raises:
        ValueError: for any other name.
    """
    if name == "native":
        return NativeRenderer()
    if name == "plotext":
        # Imported on demand: plotext is slow to import and only this renderer needs it.
        from monitor.ui.render.plotext_renderer import PlotextRenderer

        return PlotextRenderer()
    raise ValueError(f"unknown renderer {name!r}; expected one of {', '.join(RENDERERS)}")


__all__ = [
    "RENDERERS",
    "ChartInput",
    "ChartStyle",
    "Geometry",
    "NativeRenderer",
    "Overlay",
    "Pane",
    "Renderer",
    "RendererName",
    "Zoom",
    "get_renderer",
    "visible_candles",
]
