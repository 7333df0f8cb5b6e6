"""Execute the notebooks (jupytext percent-format ``notebooks/*.py``) into ``results/notebooks/*.ipynb``.

    make notebooks                       # every notebook, full configurations (reuses finished runs)
    AEJAX_QUICK=1 make notebooks         # the --quick configurations (what CI runs)
    python notebooks/_execute.py notebooks/course.py    # some of them

Each notebook runs in a fresh kernel (nbclient) from the repository root, importing this checkout.
A cell that raises stops that notebook; its partly executed .ipynb is still written, the error is
printed and the command exits 1 after the others have run. Prints the seconds each one took.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "results" / "notebooks"


def notebooks(args: list[str]) -> list[Path]:
    """The notebooks named on the command line, else every ``notebooks/*.py`` not starting with ``_``."""
    if args:
        return [Path(a).resolve() for a in args]
    return sorted(p for p in (ROOT / "notebooks").glob("*.py") if not p.name.startswith("_"))


def execute(path: Path, out_dir: Path = OUT) -> tuple[Path, str | None]:
    """Run one notebook; returns (the written .ipynb, the error text or None)."""
    nb = jupytext.read(path)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = NotebookClient(nb, kernel_name="python3", timeout=None,
                            resources={"metadata": {"path": str(ROOT)}})
    error = None
    try:
        client.execute()
    except CellExecutionError as e:
        error = str(e)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{path.stem}.ipynb"
    tmp = out.with_name(f".{out.name}.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, out)
    return out, error


def main(argv: list[str]) -> int:
    # The kernel imports this checkout (not another install of aejax) and sees AEJAX_QUICK.
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    quick = os.environ.get("AEJAX_QUICK", "") not in ("", "0")
    failed = []
    t_all = time.perf_counter()
    for path in notebooks(argv):
        t = time.perf_counter()
        out, error = execute(path)
        took = time.perf_counter() - t
        print(f"{'FAILED' if error else 'ok':6s} {path.name} -> {out.relative_to(ROOT)} ({took:.0f} s"
              f"{', --quick configurations' if quick else ''})", flush=True)
        if error:
            print(error, file=sys.stderr)
            failed.append(path.name)
    print(f"notebooks: {len(failed)} failed, {time.perf_counter() - t_all:.0f} s in all", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
