"""`xaiprobe report --run DIR`: rebuild the HTML report from a run's artifacts."""
from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser("report", help="rebuild RUN/report/index.html from whatever artifacts a run has",
                       description="Rebuild a self-contained HTML report (figures inline) from a run directory.")
    p.add_argument("--run", dest="run_dir", required=True, help="run directory (e.g. runs/demo)")
    p.add_argument("--out", default=None, help="output HTML file (default RUN/report/index.html)")
    return p


def run(args) -> int:
    from ..report.html import build_report

    path = build_report(args.run_dir, args.out)
    print(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0
