"""LSTM sequence autoencoder on seismic traces (image columns), against the mean-trace baseline.

    aejax run lstm_seismic                                  # seismic_synth columns, LSTM 64, code 16
    aejax sweep lstm_seismic                                # 3 seeds: margin mean ± std
    aejax run lstm_seismic --set data.name=mnist5k --set 'data.options={}' --set seq.view=rows  # image rows

Data: ``seismic_synth`` (300 patches of 101x101), every 4th column of each
patch as one sequence of 101 samples (aejax/projects/zoo/sequences.py): 5,460 training
traces. Model: bidirectional encoder LSTM (64 each way) -> code 16 -> decoder
LSTM (64) fed the code and 8 sin/cos features of the step index at every step
-> Dense(1) sigmoid per step (aejax/models/lstm.py); MSE, Adam 3e-3, batch 128,
40 epochs. The plain variant (``--set model.bidirectional=false --set
model.time_features=0``: one-way encoder, code alone fed to the decoder) gets
stuck at the mean trace on these signals. Reports ``test/mse_model`` against
``test/mse_mean_trace`` (every trace predicted by the mean training trace) and
``test/mse_pca`` (16 principal components), with ``margin_vs_mean_trace`` =
1 - MSE_lstm / MSE_mean_trace. Figures: traces with reconstructions, the first
test patch rebuilt from its reconstructed columns. Expected: well below the
mean trace's error, but above 16 principal components' (measured:
benchmarks/README.md#lstm_seismic).

Code: :mod:`aejax.projects.zoo.sequences`.
"""
from aejax.projects.zoo import sequences
from aejax.config import base_config


def get_config() -> dict:
    cfg = base_config()
    cfg["data"]["name"] = "seismic_synth"
    cfg["data"]["options"] = {"n": 300}
    cfg["seq"] = sequences.seq_section("columns", stride=4)
    cfg["model"] = {"name": "lstm", "hidden": 64, "latent_dim": 16, "layers": 1, "bidirectional": True,
                    "time_features": 8}
    cfg["train"].update(epochs=40, batch_size=128, learning_rate=3e-3)
    return cfg


def quick(cfg: dict) -> dict:
    from aejax.run.resolve import quick_config
    cfg["data"]["options"] = {"n": 40}
    cfg["seq"]["stride"] = 4
    return quick_config(cfg, limit=None, analysis=False, progress=False)


prepare_data = sequences.as_sequences
after_training = sequences.sequence_after_training


def sweep(quick: bool = False):
    from aejax import hyper
    return hyper.sweep("seed", [0] if quick else [0, 1, 2])


def after_sweep(*, sweep_dir, configs, rows) -> None:
    sequences.sequence_after_sweep(sweep_dir=sweep_dir, configs=configs, rows=rows,
                                   title="LSTM autoencoder on seismic traces")
