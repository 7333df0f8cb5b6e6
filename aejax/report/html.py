"""One HTML page per run (and per sweep): every figure and the summary table."""
from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Mapping

from aejax.report.mdhtml import to_html
from aejax.report.plots import DELIVERABLES
from aejax.run.rundir import RunDir, atomic_write, read_json


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


def _figure_order(path: Path, noisy: bool) -> tuple:
    """The course's deliverables first, in the seed's order (:data:`plots.DELIVERABLES`), then the
    run's other figures (by name), the latent analysis' last."""
    stem, order = path.stem, DELIVERABLES[noisy]
    return (stem.startswith("latent_"), order.index(stem) if stem in order else len(order), stem)


def key_settings(cfg: Mapping) -> str:
    """The settings that say which run this is: model, data, loss, optimiser, length, seed."""
    m, d, t = cfg.get("model", {}), cfg.get("data", {}), cfg.get("train", {})
    hidden = m.get("hidden", [])
    hidden = hidden if isinstance(hidden, list) else [hidden]  # a list of widths, or one (the LSTM's)
    arch = "-".join(str(h) for h in [*hidden, m["latent_dim"]]) if "latent_dim" in m else ""
    model = " ".join(str(p) for p in (m.get("name"), arch) if p)
    if d.get("name"):
        model += f" on {d['name']}" + (f" with noise σ={d['noise_std']:g}" if d.get("noise_std") else "")
    parts = [model.strip()]
    for key, text in (("loss", "{} loss"), ("optimizer", "{}"), ("learning_rate", "lr {:g}"),
                      ("batch_size", "batch {}"), ("epochs", "{} epochs"), ("patience", "patience {}")):
        if t.get(key) not in (None, "", 0):
            parts.append(text.format(t[key]))
    if "seed" in cfg:
        parts.append(f"seed {cfg['seed']}")
    return ", ".join(p for p in parts if p)


def _figures(run_dir: Path, names) -> list[str]:
    return [f"<h3>{html.escape(f.stem)}</h3><img src='figures/{html.escape(f.name)}'>" for f in names]


def write_run_report(run_dir: Path) -> Path:
    """Write ``report.html`` in reading order: summary, the run's figures, the latent analysis
    (its numbers, notes and figures), the config."""
    run_dir = Path(run_dir)
    rd = RunDir(run_dir)
    summary, cfg = rd.summary(), rd.config()
    experiment = str(cfg.get("experiment") or run_dir.parent.name)
    title = f"{Path(experiment).stem if experiment.endswith('.py') else experiment} / {run_dir.name}"
    settings = key_settings(cfg)
    noisy = bool(cfg.get("data", {}).get("noise_std", 0))
    figs = (sorted(rd.figures.glob("*.png"), key=lambda f: _figure_order(f, noisy)) if rd.figures.is_dir()
            else [])
    own = [f for f in figs if not f.stem.startswith("latent_")]
    latent = [f for f in figs if f.stem.startswith("latent_")]
    parts = [f"<h1>{html.escape(title)}</h1>", f"<p><b>{html.escape(settings)}</b></p>" if settings else "",
             "<h2>Summary</h2>", _table(summary)]
    if own:
        parts += ["<h2>Figures</h2>", *_figures(run_dir, own)]
    notes = [n for n in ("answer.md", "disentanglement.md", "summary.md") if (rd.analysis / n).exists()]
    spectrum = rd.analysis / "spectrum.json"
    if spectrum.exists() or notes or latent:
        parts.append("<h2>Latent analysis</h2>")
    if spectrum.exists():
        spec = read_json(spectrum)
        scalars = {k: v for k, v in spec.items() if not isinstance(v, (list, dict))}
        parts += ["<h3>Latent spectrum</h3>", _table(scalars)]
    parts += [to_html((rd.analysis / n).read_text()) for n in notes]
    parts += _figures(run_dir, latent)
    parts += ["<h2>Config</h2>", f"<pre>{html.escape(json.dumps(cfg, indent=2))}</pre>"]
    head = f"{title}: {settings}" if settings else title
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(head)}"
            f"</title><style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")
    out = run_dir / "report.html"
    atomic_write(out, page)
    return out


def write_sweep_report(sweep_dir: Path) -> Path:
    """report.html for a sweep: sweep.md as a table, the sweep's figures, links to runs."""
    sweep_dir = Path(sweep_dir)
    figs = sorted((sweep_dir / "figures").glob("*.png")) if (sweep_dir / "figures").is_dir() else []
    runs = sorted(p.parent.name for p in sweep_dir.glob("*/summary.json"))
    parts = [f"<h1>Sweep {html.escape(sweep_dir.parent.name)}/{html.escape(sweep_dir.name)}</h1>",
             to_html((sweep_dir / "sweep.md").read_text())]  # its notes and its table, as Markdown
    if (sweep_dir / "analysis").is_dir():  # e.g. latent_seeds.md from aejax.analysis.sweep_dir
        parts += [to_html(p.read_text()) for p in sorted((sweep_dir / "analysis").glob("*.md"))]
    parts += [f"<h3>{html.escape(f.stem)}</h3><img src='figures/{html.escape(f.name)}'>" for f in figs]
    parts += ["<h2>Runs</h2><ul>"] + [f"<li><a href='{html.escape(r)}/report.html'>{html.escape(r)}</a></li>"
                                      for r in runs] + ["</ul>"]
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>sweep</title><style>{STYLE}</style>"
            f"</head><body>{''.join(parts)}</body></html>")
    atomic_write(sweep_dir / "report.html", page)
    return sweep_dir / "report.html"
