"""One HTML page per run (and per sweep): every figure and the summary table."""
from __future__ import annotations

import html
import json
from pathlib import Path


def _table(rows: dict) -> str:
    cells = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
                    for k, v in rows.items())
    return f"<table>{cells}</table>"


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;}"
         "table{border-collapse:collapse;margin:1em 0;}th,td{border:1px solid #ccc;padding:3px 8px;"
         "text-align:left;font-size:13px;}img{max-width:100%;border:1px solid #eee;margin:6px 0;}")


def write_run_report(run_dir: Path) -> Path:
    """Write ``report.html``: the summary table, every figure, the config."""
    run_dir = Path(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text()) if (run_dir / "summary.json").exists() else {}
    cfg = json.loads((run_dir / "config.json").read_text())
    parts = [f"<h1>{html.escape(run_dir.name)}</h1>", "<h2>Summary</h2>", _table(summary)]
    spectrum = run_dir / "analysis" / "spectrum.json"
    if spectrum.exists():
        spec = json.loads(spectrum.read_text())
        keep = {k: v for k, v in spec.items() if not isinstance(v, (list, dict))}
        parts += ["<h2>Latent spectrum</h2>", _table(keep)]
    for note in ("answer.md", "disentanglement.md", "summary.md"):  # from aejax.analysis (issue 6)
        if (run_dir / "analysis" / note).exists():
            from aejax.analysis.mdhtml import to_html
            parts.append(to_html((run_dir / "analysis" / note).read_text()))
    figs = sorted((run_dir / "figures").glob("*.png")) if (run_dir / "figures").is_dir() else []
    if figs:
        parts.append("<h2>Figures</h2>")
        parts += [f"<h3>{html.escape(f.stem)}</h3><img src='figures/{html.escape(f.name)}'>" for f in figs]
    parts += ["<h2>Config</h2>", f"<pre>{html.escape(json.dumps(cfg, indent=2))}</pre>"]
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(run_dir.name)}"
            f"</title><style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")
    out = run_dir / "report.html"
    out.write_text(page)
    return out
