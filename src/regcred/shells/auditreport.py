"""`regcred audit --report FILE`: the audit as one self-contained HTML page that opens offline.

Jinja2 renders src/regcred/data/audit_report.html.j2 with autoescaping on (namespace, object and Secret names and
finding messages are hostile input); pygal draws the plots as inline SVG. Both load only when --report is given.
The page holds no credential value: the model (core.audit.reportmodel) carries keys, sources and user names only.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from regcred.core.audit.reportmodel import (
    BROKEN,
    COVERED,
    MISSING,
    NONE,
    NOT_NEEDED,
    STATES,
    ReportModel,
    build,
)

if TYPE_CHECKING:
    from regcred.core.audit.findings import AuditReport

LABELS = {COVERED: "covered", MISSING: "missing", BROKEN: "broken", NOT_NEEDED: "not needed", NONE: ""}
COLOURS = {COVERED: "#4caf50", MISSING: "#ffb300", BROKEN: "#e53935", NOT_NEEDED: "#9e9e9e", NONE: "#e0e0e0"}
AGE_BUCKETS = ((30, "< 30 days"), (90, "30–90 days"), (180, "90–180 days"), (365, "180–365 days"),
               (float("inf"), "over a year"))
EXPIRY_BUCKETS = ((0, "expired"), (3600, "< 1 hour"), (86400, "< 1 day"), (7 * 86400, "< 1 week"),
                  (float("inf"), "later"))
# pygal's per-chart config script only feeds its tooltip JavaScript, which the page does not load
_PYGAL_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S)


@dataclass(frozen=True, slots=True)
class Plot:
    name: str
    caption: str
    svg: str


def write_report(path: Path, report: AuditReport, *, source: str, verified: bool,
                 now: dt.datetime | None = None) -> None:
    """Render the report of `report` into `path` atomically (0644: it holds no secret)."""
    from regcred.shells.files import atomic_write  # lazy: loaded only with --report

    moment = now or dt.datetime.now(dt.UTC)
    html = render_html(build(report, moment, verified=verified), source=source, generated=moment)
    atomic_write(path, html.encode(), mode=0o644)


def render_html(model: ReportModel, *, source: str, generated: dt.datetime) -> str:
    import jinja2  # lazy: the templating engine loads only with --report

    env = jinja2.Environment(loader=jinja2.PackageLoader("regcred", "data"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["duration"] = duration
    template = env.get_template("audit_report.html.j2")
    return template.render(model=model, source=source, generated=generated.strftime("%Y-%m-%d %H:%M:%S UTC"),
                           labels=LABELS, plots=plots(model))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if abs(seconds) >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def bucket(value: float, buckets: tuple[tuple[float, str], ...]) -> str:
    return next(label for limit, label in buckets if value < limit or limit == float("inf"))


def plots(model: ReportModel) -> list[Plot]:
    """The pictures that read faster than the tables; each only when it has something to show."""
    from markupsafe import Markup  # lazy: comes with jinja2, loaded only with --report

    found: list[Plot] = []
    by_state = model.namespaces_by_state()
    if model.matrix:
        found.append(Plot("namespaces", "Namespaces by their worst cell", _bar(
            "Namespaces by coverage", [LABELS[s] or "nothing pulled" for s in by_state], list(by_state.values()),
            [COLOURS[s] for s in by_state])))
    if model.registries:
        found.append(Plot("registries", "Per registry: namespaces in each state", _stacked(model)))
    if model.ages:
        ages = [bucket(a.age_days, AGE_BUCKETS) for a in model.ages]
        found.append(Plot("ages", "Age of the pull Secrets (creationTimestamp)", _bar(
            "Pull Secrets by age", [label for _, label in AGE_BUCKETS], [ages.count(label) for _, label in AGE_BUCKETS])))
    expiring = [c.expires_in_s for c in model.credentials if c.expires_in_s is not None]
    if expiring:
        spans = [bucket(s, EXPIRY_BUCKETS) for s in expiring]
        found.append(Plot("expiry", "Registry tokens by time to expiry (--verify)", _bar(
            "Tokens by expiry", [label for _, label in EXPIRY_BUCKETS],
            [spans.count(label) for _, label in EXPIRY_BUCKETS])))
    return [Plot(p.name, p.caption, Markup(p.svg)) for p in found]  # pygal escapes its text (etree)


def _config(title: str, **extra: object) -> object:
    import pygal  # lazy: the plotting library loads only with --report
    from pygal.style import Style  # lazy: as above

    colours = extra.pop("colours", None)
    style = Style(background="white", plot_background="white", font_family="system-ui, sans-serif",
                  colors=tuple(colours) if isinstance(colours, list) else Style.colors)
    return pygal.Config(title=title, js=[], disable_xml_declaration=True, width=480, height=300, style=style,
                        legend_at_bottom=True, truncate_label=-1, **extra)


def _counts_axis(highest: int) -> list[int]:
    """Whole numbers on the count axis (pygal would label 0.1, 0.2, ... for small counts)."""
    step = max(1, -(-highest // 5))
    return list(range(0, highest + step, step))


def _render(chart: object) -> str:
    svg = chart.render(is_unicode=True)  # type: ignore[attr-defined]
    return _PYGAL_SCRIPT.sub("", str(svg))


def _bar(title: str, labels: list[str], values: list[int], colours: list[str] | None = None) -> str:
    import pygal  # lazy: the plotting library loads only with --report

    chart = pygal.Bar(_config(title, colours=colours or ["#5c6bc0"], show_legend=colours is not None,
                              y_labels=_counts_axis(max(values, default=0))))
    if colours is None:
        chart.x_labels = labels
        chart.add("count", values)
    else:  # one series per bar, so each state keeps its colour (and the legend names it)
        for label, value in zip(labels, values, strict=True):
            chart.add(label, [value])
    return _render(chart)


def _stacked(model: ReportModel) -> str:
    import pygal  # lazy: the plotting library loads only with --report

    per_registry = model.registry_states()
    highest = max((sum(states.values()) for states in per_registry.values()), default=0)
    chart = pygal.HorizontalStackedBar(_config("Namespaces per registry", colours=[COLOURS[s] for s in STATES],
                                               y_labels=_counts_axis(highest)))
    chart.x_labels = model.registries
    for state in STATES:
        chart.add(LABELS[state], [per_registry[r][state] for r in model.registries])
    return _render(chart)
