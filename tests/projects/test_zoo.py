"""aejax.projects.zoo: the zoo's pieces without training (quantisation, baselines, anomaly splits /
AUC, sequences, zoo types and code sizes, each experiment's after_sweep on synthetic rows), and
`aejax sweep ae_zoo --quick` (one shard). The experiments' --quick runs: tests/test_cli.py."""
import csv

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from aejax import data as data_lib
from aejax import models
from aejax.errors import UserError
from aejax.projects.zoo import anomaly, compression, sequences, zoo
from aejax.run import experiment as experiment_lib
from aejax.train.step import Task


def test_quantize_error_is_at_most_half_a_level():
    rng = np.random.default_rng(0)
    z = rng.uniform(-2, 3, (200, 4)).astype(np.float32)
    lo, hi = z.min(0), z.max(0)
    for bits in (1, 2, 4, 8):
        q = compression.quantize(z, lo, hi, bits)
        assert np.all(np.abs(q - z) <= (hi - lo) / 2 ** bits / 2 + 1e-5)
        assert all(len(np.unique(q[:, j])) <= 2 ** bits for j in range(4))


def test_sequence_baselines():
    rng = np.random.default_rng(1)
    tr, te = rng.normal(size=(300, 20)), rng.normal(size=(50, 20))
    b = sequences.baselines(tr, te, k=20)
    assert b["mse_pca"] < 1e-10  # all components: exact
    np.testing.assert_allclose(b["mse_mean_trace"], np.mean(np.square(te - tr.mean(0))))
    assert sequences.baselines(tr, te, k=3)["mse_pca"] < b["mse_mean_trace"]


def test_columns_view_and_rows_view():
    ds = data_lib.load("digits", seed=0, limit=20)
    cols = sequences.as_sequences(ds, {"seq": sequences.seq_section("columns", 2)})
    assert cols.train.x.shape == (len(ds.train) * 4, 8)                 # 8x8 images, every 2nd column
    np.testing.assert_array_equal(cols.train.x[1], ds.train.x[0, :, 2, 0])
    np.testing.assert_array_equal(cols.train.y[:4], [ds.train.y[0]] * 4)
    assert sequences.as_sequences(ds, {"seq": sequences.seq_section("rows")}) is ds
    with pytest.raises(UserError, match="seq.view"):
        sequences.as_sequences(ds, {"seq": {"view": "diagonal", "stride": 1}})


def test_keep_normal_and_auc():
    ds = data_lib.load("digits", seed=0)
    kept = anomaly.keep_normal(ds, {"anomaly": anomaly.anomaly_section([3, 4])})
    assert not np.isin(kept.train.y, [3, 4]).any() and not np.isin(kept.val.y, [3, 4]).any()
    assert len(kept.test) == len(ds.test)
    with pytest.raises(UserError, match="anomaly.classes"):
        anomaly.keep_normal(ds, {"anomaly": {"classes": [42]}})
    y = np.array([0, 0, 1, 1, 0, 1], bool)
    assert anomaly.roc(y, np.array([0.1, 0.2, 0.9, 0.8, 0.3, 0.7]))[2] == 1.0
    assert anomaly.roc(y, np.array([0.9, 0.8, 0.1, 0.2, 0.7, 0.3]))[2] == 0.0


def test_zoo_type_errors():
    with pytest.raises(UserError, match="zoo.type"):
        zoo.apply_type({"zoo": {"type": "gan", "latent_dim": 8}})
    with pytest.raises(UserError, match="zoo.latent_dim"):
        zoo.apply_type({"zoo": {"type": "vae", "latent_dim": 0}})
    cfg = {"zoo": {"type": "custom"}, "model": {"name": "conv"}}
    assert zoo.apply_type(cfg) == cfg


@pytest.mark.parametrize("type_", list(zoo.TYPES))
def test_every_zoo_type_builds_and_has_an_objective(type_):
    cfg = zoo.apply_type({"zoo": zoo.zoo_section(type_, latent_dim=32), "model": {}, "data": {"noise_std": 0.0},
                          "train": {}})
    model = models.build(cfg["model"], (28, 28, 1))
    task = Task(model, optax.adam(1e-3))
    x = jnp.zeros((2, 28, 28, 1))
    params = jax.eval_shape(model.init, jax.random.key(0), x)["params"]
    loss, metrics = jax.eval_shape(lambda p: task.objective(p, x, x, jax.random.key(1), step=jnp.int32(0)), params)
    code = jax.eval_shape(lambda p: model.apply({"params": p}, x, method="encode"), params)
    assert loss.shape == (2,) and "mse" in metrics
    assert int(np.prod(code.shape[1:])) == 32
    assert (cfg["data"]["noise_std"] > 0) == (type_ == "denoising")


def test_unknown_zoo_type_exits_2(tmp_path, cli):
    out = cli("run", "ae_anomaly", "--quick", "--workdir", tmp_path, "--set", "zoo.type=gan")
    assert out.returncode == 2 and "zoo.type" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("quick", [False, True])
def test_zoo_code_size_from_model_latent_dim(quick):
    """`--set model.latent_dim=8` trains 8 units (as zoo.latent_dim=8 does) or is refused naming the key,
    with and without --quick."""
    from aejax.run.resolve import resolve_config
    exp = experiment_lib.load("ae_zoo")
    for overrides in (["model.latent_dim=8"], ["zoo.latent_dim=8"], ["model.latent_dim=8", "zoo.latent_dim=8"]):
        cfg = resolve_config(exp, overrides, quick=quick)
        assert cfg["model"]["latent_dim"] == 8 and cfg["zoo"]["latent_dim"] == 8, overrides
    assert resolve_config(exp, ["model.latent_dim=8", "zoo.type=vae"], quick=quick)["model"] == \
        {"name": "vae", "hidden": [256], "latent_dim": 8}
    assert resolve_config(exp, [], quick=quick) == resolve_config(exp, ["model.latent_dim=32"], quick=quick)
    for overrides, key in ((["model.latent_dim=8", "zoo.latent_dim=16"], "model.latent_dim=8 and zoo.latent_dim=16"),
                           (["model.latent_dim=8", "zoo.type=conv"], "model.latent_dim=8"),
                           (["model.hidden=[64]"], "model.hidden")):
        with pytest.raises(UserError, match=key):
            resolve_config(exp, overrides, quick=quick)


def test_seed_table_mean_and_std():
    rows = [{"t": "a", "m": 1.0}, {"t": "a", "m": 3.0}, {"t": "b", "m": 2.0}]
    md = zoo.seed_table(rows, "t", [("m", "metric")], "title")
    assert "| a | 2 | 2 ± 1.4 |" in md and "| b | 1 | 2 |" in md


def _fake_run(run_dir, files):
    (run_dir / "analysis").mkdir(parents=True)
    for name, arrays in files.items():
        np.savez(run_dir / "analysis" / name, **arrays) if name.endswith(".npz") else \
            np.save(run_dir / "analysis" / name, arrays)


@pytest.mark.parametrize("experiment", ["ae_zoo", "ae_denoising", "ae_anomaly", "seismic_anomaly",
                                        "ae_compression", "lstm_seismic", "ae_sparse"])
def test_after_sweep_writes_its_table_and_figures(experiment, tmp_path):
    """Each experiment's after_sweep on synthetic rows (what the runs' summaries would hold)."""
    exp = experiment_lib.load(experiment)
    configs = exp.sweep(quick=False)
    rng = np.random.default_rng(0)
    rows = []
    for i, c in enumerate(configs):
        run = f"run{i}"
        digits = rng.uniform(size=(8, 28, 28, 1)).astype(np.float32)
        score = rng.uniform(size=50)
        _fake_run(tmp_path / run, {"examples.npz": {"test_x": digits, "test_input": digits,
                                                    "test_recon": digits},
                                   "anomaly.npz": {"score": score, "is_anomaly": np.arange(50) % 5 == 0},
                                   "latents.npy": rng.uniform(size=(50, 32))})
        d = c.get("zoo.latent_dim", 32)
        rows.append({**c, "run": run, "seed": c.get("seed", 0), "code_dim": d,
                     **{k: float(rng.uniform(0.01, 1)) for k in (
                         "test/recon_mse", "test/recon_psnr", "test/psnr_noisy", "test/roc_auc", "test/mse",
                         "test/code_mean", "test/mse_model", "test/mse_mean_trace", "test/mse_pca",
                         "margin_vs_mean_trace", "margin_vs_pca", "test/mse_float", "test/pca_mse_float",
                         *[f"test/mse_{b}bit" for b in compression.BITS],
                         *[f"test/pca_mse_{b}bit" for b in compression.BITS])}})
    exp.after_sweep(sweep_dir=tmp_path, configs=configs, rows=rows)
    md = (tmp_path / "sweep.md").read_text()
    assert md.startswith("# ") and md.count("\n|") >= 3  # title, header, rule and at least one row
    figs = list((tmp_path / "figures").glob("*.png"))
    assert figs, "no figure written"


def test_ae_zoo_sweep_shard_names_each_type(tmp_path, cli):
    """`aejax sweep ae_zoo --quick` (one shard of it) end to end: sweep.csv names each type."""
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
