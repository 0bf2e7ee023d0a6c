"""Chart colours taken from the Textual theme, so that a theme change recolours the panels."""

from __future__ import annotations

from collections.abc import Mapping

from textual.color import Color, ColorParseError

from monitor.settings import UISettings
from monitor.ui.render.base import ChartStyle

FALLBACK = ChartStyle()
"""Colours used where the theme has no usable value (ANSI themes give "ansi_default 50%")."""
GAP_ALPHA = 0.3
"""How strongly a missed slot's hatching shows: the theme's foreground at this opacity."""


def _parse(value: str | None) -> Color | None:
    if not value:
        return None
    try:
        return Color.parse(value)
    except ColorParseError:
        return None


def rich_color(value: str | None, background: str | None = None, alpha: float = 1.0) -> str | None:
    """A theme colour value (`#4EBF71`, `#E0E0E099`, `ansi_green`) as a Rich colour name.

    A translucent colour (or any colour with `alpha` < 1) is blended over `background`, because
    a Rich style has no opacity; None when the value cannot be turned into a solid colour.
    """
    color = _parse(value)
    if color is None:
        return None
    if color.ansi is not None:
        # ANSI themes keep the terminal's own palette; a translucent ANSI colour cannot be blended.
        return color.rich_color.name if alpha >= 1.0 else None
    color = color.multiply_alpha(alpha)
    if color.a < 1.0:
        under = _parse(background)
        if under is None or under.ansi is not None or under.a < 1.0:
            return None
        color = under + color
    return color.hex


def chart_style(variables: Mapping[str, str], ui: UISettings) -> ChartStyle:
    """The colours of the candle panels under the theme whose CSS variables are `variables`.

    Rising and falling candles take the theme's success and error colours, unless `ui.up_color` or
    `ui.down_color` was set (in the file, the environment or a flag): a colour the user chose is
    kept under every theme. The background is left to the panel (its own theme surface).
    """
    background = variables.get("background")
    pinned = ui.model_fields_set

    def pick(value: str | None, fallback: str, alpha: float = 1.0) -> str:
        return rich_color(value, background, alpha) or fallback

    return ChartStyle(
        up=ui.up_color if "up_color" in pinned else pick(variables.get("success"), ui.up_color),
        down=ui.down_color if "down_color" in pinned else pick(variables.get("error"), ui.down_color),
        forming_dim=FALLBACK.forming_dim,
        axis=pick(variables.get("foreground-muted"), FALLBACK.axis),
        gap=pick(variables.get("foreground"), FALLBACK.gap, GAP_ALPHA),
        backfill=pick(variables.get("primary"), FALLBACK.backfill),
        last_price=pick(variables.get("warning"), FALLBACK.last_price),
        cursor=pick(variables.get("foreground"), FALLBACK.cursor),
        lines=_line_colors(variables, background),
    )


LINE_VARIABLES = ("primary", "secondary", "accent")
"""Theme colours indicator lines take in order (then the fallback's), readable on its background."""


def _line_colors(variables: Mapping[str, str], background: str | None) -> tuple[str, ...]:
    picked = [rich_color(variables.get(name), background) for name in LINE_VARIABLES]
    colors = [color for color in picked if color is not None]
    unique = list(dict.fromkeys(colors))
    return tuple(unique + [c for c in FALLBACK.lines if c not in unique])
