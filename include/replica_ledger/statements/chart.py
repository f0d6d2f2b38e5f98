"""The month of one API as a static SVG chart: matplotlib, deterministic, reused figure.

Daily desired replicas, HPA max and intra-day peak (one point per snapshot day), against
the approved max drawn as a step at each PED change (the moment the version took effect,
not the next snapshot), breach days marked. The legend and the title are the statement's
HTML (one legend for every chart); the SVG carries its own <title> and an aria-label.

Why matplotlib: a well-kept library already pinned for the product, which writes static
SVG with no JavaScript (the HTML must open offline and print), and whose output can be
made byte-for-byte deterministic (`svg.hashsalt`, no `Date` metadata, text kept as text).
Drawing a figure from scratch costs about three times as much as updating one, so one
figure and its artists are built once per process and only their data change per API
(bench/bench_statements.py holds the figures).
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import escape

#: The series' colours, shared with the HTML legend (render.py).
COLOURS = {
    "desired": "#1f77b4",
    "hpa_max": "#ff7f0e",
    "peak": "#9467bd",
    "approved": "#2ca02c",
    "breach": "#d62728",
}
_WIDTH_IN, _HEIGHT_IN = 7.0, 2.1
# No date, no creator (matplotlib's version), no RDF block: the bytes depend on the data only.
_NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


@dataclass(frozen=True)
class ChartData:
    """One API's month: the days and the approved max's steps (moment, max)."""

    month_start: date
    days_in_month: int
    days: tuple[date, ...]
    desired: tuple[int | None, ...]
    hpa_max: tuple[int | None, ...]
    peak: tuple[int | None, ...]
    breach_days: tuple[date, ...]
    approved_steps: tuple[tuple[datetime, int | None], ...]


def _x_of_day(day: date, month_start: date) -> float:
    """Day numbers as x: the 1st is 1.0; a day's point sits at its number."""
    return float((day - month_start).days + 1)


def _x_of_moment(moment: datetime, month_start: date) -> float:
    start = datetime(month_start.year, month_start.month, month_start.day)
    naive = moment.replace(tzinfo=None) if moment.tzinfo is None else moment.astimezone(None).replace(tzinfo=None)
    return 1.0 + (naive - start) / timedelta(days=1)


class _Figure:
    """The one figure of a process and its artists, built on first use."""

    def __init__(self) -> None:
        import matplotlib

        matplotlib.use("svg", force=False)
        from matplotlib.backends.backend_svg import FigureCanvasSVG
        from matplotlib.figure import Figure
        from matplotlib.ticker import FixedLocator, NullLocator

        self.rc = {
            "svg.hashsalt": "replica-ledger",
            "svg.fonttype": "none",
            "svg.id": None,
            "font.family": "DejaVu Sans",
            "font.size": 7.0,
        }
        with matplotlib.rc_context(self.rc):
            figure = Figure(figsize=(_WIDTH_IN, _HEIGHT_IN))
            FigureCanvasSVG(figure)
            axes = figure.add_axes((0.05, 0.12, 0.935, 0.84))
            for side in ("top", "right"):
                axes.spines[side].set_visible(False)
            self.approved = axes.step([], [], where="post", color=COLOURS["approved"], linewidth=1.6)[0]
            # Small markers: a day between two missing days is a point, not a line.
            dot = {"marker": "o", "markersize": 1.8}
            self.hpa_max = axes.plot([], [], color=COLOURS["hpa_max"], linewidth=1.2, **dot)[0]
            self.peak = axes.plot([], [], color=COLOURS["peak"], linewidth=1.0, linestyle=":", **dot)[0]
            self.desired = axes.plot([], [], color=COLOURS["desired"], linewidth=1.2, **dot)[0]
            self.breach = axes.plot(
                [], [], color=COLOURS["breach"], linestyle="none", marker="x", markersize=6, markeredgewidth=1.5
            )[0]
            axes.xaxis.set_minor_locator(NullLocator())
            axes.yaxis.set_minor_locator(NullLocator())
        self.figure, self.axes, self._fixed = figure, axes, FixedLocator
        self._frames: dict[tuple[int, int], str] = {}
        self.lock = threading.Lock()

    def svg(self, data: ChartData) -> str:

        start = data.month_start
        xs = [_x_of_day(day, start) for day in data.days]

        def series(values):
            return [x for x, v in zip(xs, values, strict=True) if v is not None], [v for v in values if v is not None]

        self.desired.set_data(*series(data.desired))
        self.hpa_max.set_data(*series(data.hpa_max))
        self.peak.set_data(*series(data.peak))
        step_x = [_x_of_moment(moment, start) for moment, _ in data.approved_steps]
        step_y = [float("nan") if value is None else value for _, value in data.approved_steps]
        last = data.days_in_month + 1.0
        if step_x:
            step_x, step_y = [*(max(1.0, x) for x in step_x), last], [*step_y, step_y[-1]]
        self.approved.set_data(step_x, step_y)
        breach_x = [_x_of_day(day, start) for day in data.breach_days]
        by_day = dict(zip(data.days, zip(data.desired, data.hpa_max, data.peak, strict=True), strict=True))
        breach_y = [max((v for v in by_day.get(day, ()) if v is not None), default=0) for day in data.breach_days]
        self.breach.set_data(breach_x, breach_y)
        values = [v for v in (*data.desired, *data.hpa_max, *data.peak, *step_y) if v is not None and v == v]
        top = int(max([8, *values])) + 1
        frame = self._frame(data.days_in_month, top)
        # The lines alone: axes, ticks and labels come from the frame drawn once for this
        # month length and height (they are most of a figure's drawing time).
        self.axes.set_axis_off()
        self.figure.patch.set_visible(False)
        try:
            lines = self._draw()
        finally:
            self.axes.set_axis_on()
            self.figure.patch.set_visible(True)
        return frame.replace("</svg>", _inner(lines) + "</svg>")

    def _frame(self, days_in_month: int, top: int) -> str:
        key = (days_in_month, top)
        if key not in self._frames:
            self.axes.set_xlim(0.5, days_in_month + 0.5)
            self.axes.set_ylim(0, top)
            self.axes.xaxis.set_major_locator(self._fixed([1, 5, 10, 15, 20, 25, days_in_month]))
            step = 2 if top <= 12 else max(2, top // 6)
            self.axes.yaxis.set_major_locator(self._fixed(list(range(0, top + 1, step))))
            artists = (self.desired, self.hpa_max, self.peak, self.approved, self.breach)
            for artist in artists:
                artist.set_visible(False)
            try:
                self._frames[key] = self._draw()
            finally:
                for artist in artists:
                    artist.set_visible(True)
        self.axes.set_xlim(0.5, days_in_month + 0.5)
        self.axes.set_ylim(0, top)
        return self._frames[key]

    def _draw(self) -> str:
        import matplotlib

        buffer = io.StringIO()
        with matplotlib.rc_context(self.rc):
            self.figure.savefig(buffer, format="svg", metadata=_NO_METADATA)
        return buffer.getvalue()


def _inner(svg: str) -> str:
    """What an SVG document holds between its <svg ...> and </svg>."""
    start = svg.index(">", svg.index("<svg")) + 1
    return svg[start : svg.rindex("</svg>")]


_figure: _Figure | None = None
_figure_lock = threading.Lock()


def chart_svg(data: ChartData, title: str, description: str) -> str:
    """The chart as an inline <svg> element (no XML prolog), with role="img", an aria-label
    and a <title> (`title` and `description` are raw text, escaped here)."""
    global _figure
    with _figure_lock:
        if _figure is None:
            _figure = _Figure()
        figure = _figure
        with figure.lock:
            svg = figure.svg(data)
    start = svg.index("<svg")
    svg = svg[start:]
    head_end = svg.index(">") + 1
    head = svg[:head_end]
    label = escape(f"{title}: {description}", quote=True)
    head = head.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)
    return f"{head}\n<title>{escape(title)}</title>\n<desc>{escape(description)}</desc>{svg[head_end:]}"
