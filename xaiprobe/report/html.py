"""Self-contained HTML report of a run directory: figures inline, no network.

Every stage saves its :class:`~xaiprobe.report.Section` as ``RUN/<stage>/section.json``. The
report reads every section a run has, orders them by ``Section.order`` (the data flow), puts each
headline in the "In brief" list at the top with a link to its section, and renders findings,
figures, tables and the reproducing command. It never computes a number itself.
"""
from __future__ import annotations

import base64
import datetime
import html
import json
import logging
import math
import os
from pathlib import Path

from .._utils.errors import XaiprobeError
from .._utils.io import atomic_path
from ._section import SECTION_FILE, Section

log = logging.getLogger(__name__)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:18px 32px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#c9cfdb;font-size:13px}
nav{padding:8px 32px;background:#e9ecf2;font-size:13px}nav a{margin-right:14px;color:#1d4ed8;text-decoration:none}
main{padding:8px 32px 40px;max-width:1200px}
section{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:14px 20px;margin:18px 0}
h2{margin:4px 0 10px;font-size:19px}h3{font-size:15px;margin:14px 0 6px}
ul.findings{margin:6px 0 10px;padding-left:20px}ul.findings li{margin:2px 0}
figure{display:inline-block;vertical-align:top;margin:8px 12px 8px 0;max-width:100%}
figure img{max-width:100%;max-height:520px;border:1px solid #eee}
figcaption{font-size:13px;color:#39404d;max-width:560px;margin-top:4px}
figcaption b{display:block;color:#1d2330}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0 12px}
th,td{border:1px solid #dde1e8;padding:3px 8px;text-align:right}th{background:#f0f2f6}
td:first-child,th:first-child{text-align:left}
code,pre{background:#f0f2f6;border-radius:4px;font-size:12.5px}pre{padding:8px;overflow-x:auto}
.muted{color:#6b7280;font-size:12.5px}
td.cmd,th.cmd{text-align:left}td.cmd code{background:none;white-space:pre-wrap;overflow-wrap:anywhere}
tfoot th.cmd{font-weight:normal}pre{white-space:pre-wrap;overflow-wrap:anywhere}
tfoot th{background:#f7f8fa}
"""


def _fmt(v) -> str:
    if isinstance(v, bool) or v is None:
        return "—" if v is None else str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "—"
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.3g}"
        return f"{v:.4f}".rstrip("0").rstrip(".") if abs(v) < 10 else f"{v:.1f}"
    return html.escape(str(v))


def _table(columns, rows, title: str | None = None) -> str:
    out = [f"<h3>{html.escape(title)}</h3>"] if title else []
    out.append("<table><thead><tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in columns) + "</tr></thead><tbody>")
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in r) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _scalars_table(d: dict) -> str:
    rows = [(k, v) for k, v in d.items() if isinstance(v, (int, float, str, bool)) or v is None]
    rows = [r for r in rows if r[0] not in ("stage", "command", "title")]
    return _table(["quantity", "value"], rows) if rows else ""


def _records_table(name: str, recs: list) -> str:
    cols: list = []
    for r in recs:
        for k, v in r.items():
            if k not in cols and (isinstance(v, (int, float, str, bool)) or v is None):
                cols.append(k)
    return _table(cols, [[r.get(c) for c in cols] for r in recs], name.replace("_", " "))


#: PNGs larger than this are embedded as JPEG (image grids compress ~5x; plots stay PNG)
JPEG_ABOVE_BYTES = 300_000


def _image_bytes(path: Path) -> tuple[bytes, str]:
    """The bytes and MIME type to embed for ``path``; large PNGs (image grids) become JPEG."""
    raw = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix == ".svg":
        return raw, "image/svg+xml"
    if suffix != ".png":
        return raw, "image/jpeg"
    if len(raw) <= JPEG_ABOVE_BYTES:
        return raw, "image/png"
    import io

    from PIL import Image

    with Image.open(io.BytesIO(raw)) as im:
        rgba = im.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
    buf = io.BytesIO()
    flat.save(buf, format="JPEG", quality=90, optimize=True)
    jpeg = buf.getvalue()
    return (jpeg, "image/jpeg") if len(jpeg) < len(raw) else (raw, "image/png")


def _img_tag(path: Path, alt: str) -> str:
    raw, mime = _image_bytes(path)
    data = base64.b64encode(raw).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:{mime};base64,{data}">'


def _read_json(path: Path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("report: skipping unreadable %s (%s)", path, exc)
        return None


def render_section(sec: Section, stage_dir: Path, anchor: str) -> str:
    """HTML of a stage's Section (figure files relative to ``stage_dir``): findings, figures with
    captions, tables, the reproducing command; "" when it has nothing to show."""
    parts = []
    if sec.findings:
        parts.append('<ul class="findings">' + "".join(f"<li>{html.escape(str(x))}</li>" for x in sec.findings)
                     + "</ul>")
    for fig in sec.figures:
        p = stage_dir / fig.file
        if not p.is_file():
            log.warning("report: figure %s listed but missing", p)
            continue
        try:
            img = _img_tag(p, fig.title or p.stem)
        except (OSError, ValueError) as exc:
            log.warning("report: skipping unreadable figure %s (%s)", p, exc)
            continue
        parts.append(f"<figure>{img}<figcaption><b>{html.escape(fig.title)}</b>{html.escape(fig.caption)}"
                     "</figcaption></figure>")
    for tb in sec.tables:
        parts.append(_table(tb.columns, tb.rows, tb.title))
    if sec.command:
        parts.append("<h3>Reproduce</h3><pre>" + html.escape("\n".join(map(str, sec.command))) + "</pre>")
    if not parts:
        return ""
    return f'<section id="{anchor}"><h2>{html.escape(sec.title)}</h2>' + "".join(parts) + "</section>"


def _headlines(entries) -> str:
    """The top of the report: one line per stage with its headline finding, linked to its section."""
    rows = [f'<li><a href="#{a}">{html.escape(t)}</a>: {html.escape(h)}</li>' for _, a, t, h in entries if h]
    return f'<section id="summary"><h2>In brief</h2><ul class="findings">{"".join(rows)}</ul></section>' if rows else ""


def _flatten(d: dict, prefix: str = "") -> dict:
    """Nested dicts -> dotted scalar keys; lists of scalars joined with ", "."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, (list, tuple)) and all(not isinstance(x, (dict, list, tuple)) for x in v):
            out[key] = ", ".join(map(str, v))
        elif isinstance(v, (list, tuple)):
            out[key] = json.dumps(v)
        else:
            out[key] = v
    return out


def _stages_table(stages: list, total=None) -> str:
    """The stages a run was made by: stage, seconds, command (as code), then the total time."""
    rows = []
    for st in stages:
        secs = st.get("seconds")
        rc = st.get("exit_code")
        status = "" if rc in (None, 0) else f' <span class="muted">(exit code {html.escape(str(rc))})</span>'
        rows.append(f"<tr><td>{_fmt(st.get('stage', ''))}{status}</td><td>{_fmt(secs)}</td>"
                    f"<td class=\"cmd\"><code>{html.escape(str(st.get('command', '')))}</code></td></tr>")
    known = [float(st["seconds"]) for st in stages if isinstance(st.get("seconds"), (int, float))]
    foot = f"<tr><th>stages</th><th>{_fmt(round(sum(known), 1))}</th><th></th></tr>"
    if isinstance(total, (int, float)):
        foot += (f"<tr><th>total</th><th>{_fmt(float(total))}</th><th class=\"cmd\">"
                 "wall time of the run: the stages and the work between them</th></tr>")
    return ("<h3>Stages</h3><table><thead><tr><th>stage</th><th>seconds</th><th class=\"cmd\">command</th></tr></thead><tbody>"
            + "".join(rows) + f"</tbody><tfoot>{foot}</tfoot></table>")


def render_overview(config: dict) -> str:
    """The "Run" section from RUN/config.json: scalars, then the stages table when there is one."""
    stages = config.get("stages")
    stages = stages if isinstance(stages, list) and all(isinstance(s, dict) for s in stages) else None
    records = {k: v for k, v in config.items() if k != "stages" and isinstance(v, list) and v
               and all(isinstance(r, dict) for r in v)}
    shown = {"stages", "seconds"} if stages else set()  # the stages table shows them (with the total)
    rest = {k: v for k, v in config.items() if k not in records and k not in shown}
    parts = [_scalars_table(_flatten(rest))]
    if stages:
        parts.append(_stages_table(stages, config.get("seconds")))
    parts += [_records_table(k, v) for k, v in records.items()]
    cmd = config.get("command")
    if isinstance(cmd, str) and cmd:
        parts.append(f"<h3>Reproduce</h3><pre>{html.escape(cmd)}</pre>")
    body = "".join(p for p in parts if p)
    return f'<section id="overview"><h2>Run</h2>{body}</section>' if body else ""


def build_report(run_dir: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Write RUN/report/index.html from every artifact the run has; return its path."""
    run = Path(run_dir)
    if not run.is_dir():
        raise XaiprobeError(f"run directory {run}: does not exist; pass the --out of `xaiprobe demo` or `xaiprobe train`")
    config = _read_json(run / "config.json") if (run / "config.json").exists() else {}
    entries = []  # (order, anchor, title, headline, html)
    for p in sorted(run.iterdir()):
        if not (p.is_dir() and (p / SECTION_FILE).is_file()):
            continue
        try:
            sec = Section.load(p)
        except XaiprobeError as exc:
            log.warning("report: skipping %s", exc)
            continue
        s = render_section(sec, p, p.name)
        if s:
            entries.append((sec.order, p.name, sec.title, sec.headline, s))
    entries.sort(key=lambda e: e[0])
    sections = [e[4] for e in entries]
    nav = [f'<a href="#{e[1]}">{html.escape(e[2])}</a>' for e in entries]
    brief = _headlines([(e[0], e[1], e[2], e[3]) for e in entries])
    if not sections:
        raise XaiprobeError(f"run directory {run}: has no stage results (no */section.json); "
                            "run `xaiprobe demo` or the stage commands first")
    overview = render_overview(config) if isinstance(config, dict) and config else ""
    if overview:
        nav.insert(0, '<a href="#overview">Run</a>')
    if brief:
        nav.insert(0, '<a href="#summary">In brief</a>')
    from .. import __version__
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    doc = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>xaiprobe report — {html.escape(run.name)}</title>"
           f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{_CSS}</style></head><body>"
           f"<header><h1>What the discriminator knows — {html.escape(run.name)}</h1>"
           f"<p>xaiprobe {__version__} · {now} · {html.escape(str(run.resolve()))}</p></header>"
           f"<nav>{''.join(nav)}</nav><main>{brief}{overview}{''.join(sections)}</main></body></html>")
    out = Path(out) if out else run / "report" / "index.html"
    with atomic_path(out) as tmp:
        tmp.write_text(doc, encoding="utf-8")
    return out
