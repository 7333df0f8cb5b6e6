"""`aejax sweep ae_zoo --quick` (one shard of it) end to end: sweep.csv names each type."""
import csv


def test_ae_zoo_sweep_shard_names_each_type(tmp_path, cli):
    # shard 0/5 of the quick sweep: types dense and vae (every 5th of the ten)
    out = cli("sweep", "ae_zoo", "--quick", "--workdir", tmp_path, "--shard", "0/5")
    assert out.returncode == 0, out.stderr[-3000:]
    rows = list(csv.DictReader(open(tmp_path / "sweep.csv")))
    assert sorted(r["zoo.type"] for r in rows) == ["dense", "vae"]
    assert {r["model_name"] for r in rows} == {"undercomplete", "vae"}
    md = (tmp_path / "sweep.md").read_text()
    assert "| dense |" in md and "| vae |" in md
    for f in ("zoo_comparison", "zoo_reconstructions"):
        assert (tmp_path / "figures" / f"{f}.png").exists(), f
    assert "zoo_comparison" in (tmp_path / "report.html").read_text()
