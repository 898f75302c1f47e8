"""The report as one self-contained HTML page: inline CSS, charts drawn as inline SVG, a few
lines of JavaScript to sort tables. Nothing is fetched when it is viewed."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from html import escape

from crawler.observe.report.data import HOSTS, Report

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:0 16px 40px;color:#222}
h1{font-size:22px;margin:20px 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px}
.card b{display:block;font-size:20px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(360px,1fr));gap:16px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{padding:3px 6px;border-bottom:1px solid #eee;
text-align:left}td.n,th.n{text-align:right}th[data-sort]{cursor:pointer;user-select:none}
th[data-sort]:after{content:" ↕";color:#aaa}.muted{color:#777}.url{word-break:break-all}
svg text{font-size:11px;fill:#444}
"""
SORT_JS = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th[data-sort]").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var numeric = th.dataset.sort === "n", down = th.dataset.dir !== "down";
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.v || a.cells[col].textContent;
        var y = b.cells[col].dataset.v || b.cells[col].textContent;
        var r = numeric ? (parseFloat(x) || 0) - (parseFloat(y) || 0) : x.localeCompare(y);
        return down ? -r : r;
      });
      th.dataset.dir = down ? "down" : "up";
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def render(r: Report) -> str:
    state = "running or stopped before its end" if r.running else "finished"
    parts = [
        f"<h1>Crawl report: {escape(str(r.out))}</h1>",
        f"<p class=muted>crawl {r.crawl} · {state} · written {time.strftime('%Y-%m-%d %H:%M:%S')}</p>",
        _cards(
            [
                ("URLs", f"{r.urls:,}"),
                ("pages", f"{r.pages:,}"),
                ("errors", f"{sum(r.errors.values()):,}"),
                ("MB", f"{r.bytes / 1e6:,.1f}"),
                ("hosts", f"{len(r.hosts):,}"),
                ("items", f"{sum(r.items.values()):,}"),
                *([("rendered in the browser", f"{r.rendered:,}")] if r.rendered else []),
            ]
        ),
        "<h2>Over time</h2>",
        _line_chart(r.timeline) if r.timeline else "<p class=muted>no stats.jsonl yet</p>",
        "<div class=grid>",
        _section("Status codes", _bars(r.statuses.most_common())),
        _section("Error kinds", _bars(r.errors.most_common())),
        _section("Depth", _bars(sorted(r.depths.items()))),
        _section("Content types", _bars(r.types.most_common(12))),
    ]
    if r.crawl > 1:
        parts.append(_section(f"Changes in crawl {r.crawl}", _bars(r.changes.most_common())))
    parts += ["</div>", "<h2>Hosts</h2>", _hosts_table(r)]
    parts += [
        "<div class=grid>",
        _section("Slowest pages", _table(["URL", "ms"], [(u, f"{ms:,.0f}") for ms, u in r.slowest])),
        _section("Largest pages", _table(["URL", "bytes"], [(u, f"{b:,}") for b, u in r.largest])),
        "</div>",
        "<h2>Errors</h2>",
        _errors(r),
    ]
    if r.blocked or any(h.blocked_urls for h in r.hosts.values()):
        parts.append(_blocked(r))
    if r.proxies:
        rows = [
            (p, *(f"{c.get(k, 0):,}" for k in ("requests", "failures", "bans"))) for p, c in sorted(r.proxies.items())
        ]
        parts.append(_section("Proxies", _table(["proxy", "requests", "failures", "bans"], rows)))
    if r.dns.get("lookups"):
        d = r.dns
        rows = [
            ("lookups", f"{d['lookups']:,}"),
            ("answered from the cache", f"{d['cached']:,}"),
            ("names not found", f"{d['not_found']:,}"),
            ("failed (timeouts, server failures)", f"{d['failures']:,}"),
            ("ms per lookup", f"{d['seconds'] / d['lookups'] * 1000:,.1f}"),
        ]
        parts.append(_section("Name lookups (DNS)", _table(["", ""], rows)))
    if r.identities_made or sum(r.retired.values()) or sum(r.logins.values()):
        parts.append(_section("Identities and logins", _table(["", ""], _identity_rows(r))))
    if r.items or r.extract_errors:
        parts += [
            "<div class=grid>",
            _section("Items per rule", _bars(r.items.most_common())),
            _section(
                "Commonest extraction errors",
                _table(["problem", "pages"], [(p, f"{n:,}") for p, n in r.extract_errors.most_common(15)]),
            ),
            "</div>",
        ]
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Crawl report</title>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'><style>{CSS}</style></head>"
        f"<body>{''.join(parts)}<script>{SORT_JS}</script></body></html>"
    )


def _cards(cards: Iterable[tuple[str, str]]) -> str:
    return (
        "<div class=cards>"
        + "".join(f"<div class=card>{escape(k)}<b>{escape(v)}</b></div>" for k, v in cards)
        + "</div>"
    )


def _section(title: str, body: str) -> str:
    return f"<section><h2>{escape(title)}</h2>{body}</section>"


def _bars(rows: Sequence[tuple[object, int]]) -> str:
    """A horizontal bar chart (SVG), one bar per row."""
    if not rows:
        return "<p class=muted>none</p>"
    top = max(n for _, n in rows) or 1
    height = 22 * len(rows)
    bars = []
    for i, (label, n) in enumerate(rows):
        y = 22 * i
        width = max(1.0, 250 * n / top)
        bars.append(
            f"<text x=0 y={y + 15}>{escape(str(label))[:28]}</text>"
            f"<rect class=bar x=130 y={y + 4} width={width:.1f} height=14 fill='#4a7fc1'/>"
            f"<text x={136 + width:.1f} y={y + 15}>{n:,}</text>"
        )
    return f"<svg class=chart viewBox='0 0 460 {height}' width='100%' role=img>{''.join(bars)}</svg>"


def _line_chart(points: Sequence[tuple[float, float, float]]) -> str:
    """Pages/s (blue) and errors/s (red) over wall-clock time."""
    t0, t1 = points[0][0], points[-1][0]
    top = max(max(p for _, p, _ in points), max(e for _, _, e in points), 1e-9)
    w, h, left = 900.0, 200.0, 50.0

    def xy(t: float, v: float) -> str:
        x = left + (w - left) * ((t - t0) / (t1 - t0) if t1 > t0 else 0.5)
        return f"{x:.1f},{h - 20 - (h - 40) * v / top:.1f}"

    pages = " ".join(xy(t, p) for t, p, _ in points)
    errors = " ".join(xy(t, e) for t, _, e in points)
    dots = (
        "".join(
            f"<circle cx={xy(t, p).split(',')[0]} cy={xy(t, p).split(',')[1]} r=3 fill='#4a7fc1'/>"
            for t, p, _ in points
        )
        if len(points) <= 60
        else ""
    )
    start, end = (time.strftime("%H:%M:%S", time.localtime(t)) for t in (t0, t1))
    return (
        f"<svg class=chart viewBox='0 0 {w:.0f} {h:.0f}' width='100%' role=img>"
        f"<line x1={left} y1={h - 20} x2={w} y2={h - 20} stroke='#999'/>"
        f"<text x=0 y=24>{top:,.0f}/s</text><text x=0 y={h - 22}>0</text>"
        f"<text x={left} y={h - 4}>{start}</text><text x={w - 60} y={h - 4}>{end}</text>"
        f"<polyline class=series points='{pages}' fill=none stroke='#4a7fc1' stroke-width=2/>"
        f"<polyline class=series points='{errors}' fill=none stroke='#c14a4a' stroke-width=1.5/>{dots}"
        f"<text x={w - 220} y=14 fill='#4a7fc1'>pages/s</text><text x={w - 150} y=14 fill='#c14a4a'>errors/s</text>"
        "</svg>"
    )


def _hosts_table(r: Report) -> str:
    hosts = sorted(r.hosts.items(), key=lambda kv: kv[1].urls, reverse=True)
    rows = []
    for name, h in hosts[:HOSTS]:
        p50, p95 = h.percentile(50), h.percentile(95)
        rows.append(
            f"<tr><td>{escape(name)}</td>"
            + "".join(
                f"<td class=n data-v='{v}'>{shown}</td>"
                for v, shown in (
                    (h.urls, f"{h.urls:,}"),
                    (h.pages, f"{h.pages:,}"),
                    (h.errors, f"{h.errors:,}"),
                    (p50 or 0, f"{p50:,.0f}" if p50 is not None else "–"),
                    (p95 or 0, f"{p95:,.0f}" if p95 is not None else "–"),
                    (h.bytes, f"{h.bytes / 1e6:,.2f}"),
                    (h.throttles, f"{h.throttles:,}"),
                    (h.robots, f"{h.robots:,}"),
                )
            )
            + "</tr>"
        )
    heads = "<th data-sort=s>host</th>" + "".join(
        f"<th class=n data-sort=n>{escape(c)}</th>"
        for c in ("URLs", "pages", "errors", "p50 ms", "p95 ms", "MB", "throttled", "robots disallowed")
    )
    more = f"<p class=muted>and {len(hosts) - HOSTS:,} more hosts</p>" if len(hosts) > HOSTS else ""
    return f"<table class='sortable hosts'><thead><tr>{heads}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"


def _errors(r: Report) -> str:
    if not r.errors:
        return "<p class=muted>no errors</p>"
    rows = [(kind, f"{n:,}", "<br>".join(escape(e) for e in r.examples[kind])) for kind, n in r.errors.most_common()]
    return _table(["kind", "URLs", "examples"], rows, raw_last=True)


def _blocked(r: Report) -> str:
    """Blocked pages by host (answers, and URLs that ended blocked) and by proxy."""
    hosts = sorted(
        ((h.blocked, h.blocked_urls, name) for name, h in r.hosts.items() if h.blocked or h.blocked_urls), reverse=True
    )
    rows = [(name, f"{answers:,}", f"{urls:,}") for answers, urls, name in hosts]
    if r.blocked > sum(answers for answers, _, _ in hosts):  # hosts past the stats lines' busiest
        rows.append(("other hosts", f"{r.blocked - sum(answers for answers, _, _ in hosts):,}", ""))
    proxies = [
        (p, f"{c['blocked']:,}", f"{c.get('bans', 0):,}") for p, c in sorted(r.proxies.items()) if c.get("blocked")
    ]
    return (
        "<h2>Blocked pages</h2><div class=grid>"
        + _section("By host", _table(["host", "blocked answers", "URLs ended blocked"], rows))
        + (_section("By proxy", _table(["proxy", "blocked answers", "bans"], proxies)) if proxies else "")
        + "</div>"
    )


def _identity_rows(r: Report) -> list[tuple[str, str]]:
    """Identities made and retired (by why), and logins when the job logged in."""
    rows = [("identities made", f"{r.identities_made:,}")]
    rows += [(f"retired: {why}", f"{n:,}") for why, n in r.retired.items() if n]
    if sum(r.logins.values()):
        rows += [
            ("logins", f"{r.logins['ok']:,}"),
            ("of those, after a session expired", f"{r.logins['relogins']:,}"),
            ("failed logins", f"{r.logins['failed']:,}"),
        ]
    return rows


def _table(heads: Sequence[str], rows: Iterable[tuple[str, ...]], raw_last: bool = False) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in heads)
    body = []
    for row in rows:
        cells = [f"<td class=url>{escape(str(c))}</td>" for c in row[:-1]]
        last = f"<td class=url>{row[-1]}</td>" if raw_last else f"<td class=n>{escape(str(row[-1]))}</td>"
        body.append("<tr>" + "".join(cells) + last + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body) or '<tr><td>none</td></tr>'}</tbody></table>"
