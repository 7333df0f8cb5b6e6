"""Train 1..N prepared run directories with the one loop, then write each run's results.

:func:`train` takes runs that may share one compiled program: configurations equal but for
the seed and the experiment's ``GROUP_KEYS`` (e.g. ``model.latent_dim``). One run trains
through :class:`~aejax.train.programs.Single` (data parallel over every device), several through
:class:`~aejax.train.programs.Group` (vmapped seeds x unrolled configurations). Either way the
loop, its policies (early stopping, divergence, checkpoints, resume, metrics.jsonl) and each
run's files are the same; see :mod:`aejax.train.loop`.
"""
from __future__ import annotations

import json
import time
from typing import Callable, Mapping, Sequence

import jax
import numpy as np

from aejax import config as config_lib
from aejax import jaxsetup
from aejax.errors import TrainingDiverged, UserError
from aejax.run import builder, sinks
from aejax.run.experiment import Experiment
from aejax.run.rundir import RunDir
from aejax.train import loop as loop_lib
from aejax.train.programs import Group, Single
from aejax.train.step import host

Finish = Callable[[RunDir, Mapping], None]


def group_key(cfg: Mapping, keys: Sequence[str]) -> str:
    """Configs with equal keys (all but ``keys``) can train in one program."""
    return json.dumps({k: v for k, v in config_lib.flatten(cfg).items() if k not in keys}, sort_keys=True)


def train(exp: Experiment | None, cfgs: Sequence[Mapping], run_dirs: Sequence[RunDir], *,
          finish: Finish | None = None, t_start: float | None = None,
          stop_after_epoch: int | None = None, datasets: Mapping | None = None,
          on_epoch: Callable[[RunDir, dict], str | None] | None = None) -> list[dict]:
    """Train (or resume) the runs ``cfgs`` in their prepared ``run_dirs``; returns their summaries.

    Every run that completes gets summary.json, analysis/examples.npz and latents.npy, the
    experiment's ``after_training`` outputs, then ``finish(run_dir, cfg)`` (analysis, figures,
    report). A diverged run is reported and gets no summary; the others finish; then
    :class:`~aejax.errors.TrainingDiverged` names every diverged run. ``datasets``: {seed:
    dataset} already loaded by the caller (the others are loaded here). ``on_epoch(run_dir, row)``
    is called after each metrics.jsonl row; a string it returns stops that run with that reason.
    """
    t_start = time.perf_counter() if t_start is None else t_start
    cfgs, run_dirs = list(cfgs), list(run_dirs)
    keys = ("seed", *(exp.group_keys if exp else ()))
    if len({group_key(c, keys) for c in cfgs}) > 1:
        raise UserError(f"runs trained in one program may differ only in {', '.join(keys)}")
    t = cfgs[0]["train"]
    seeds = sorted({int(c["seed"]) for c in cfgs})
    datasets = dict(datasets or {})  # {seed: dataset} the caller already loaded
    for s in seeds:
        if s not in datasets:
            datasets[s] = builder.load_data(next(c for c in cfgs if int(c["seed"]) == s), exp)
    sizes = {s: tuple(len(getattr(ds, k)) for k in ("train", "val", "test")) for s, ds in datasets.items()}
    if len(set(sizes.values())) > 1:
        raise UserError(f"seeds {seeds}: their splits differ in size ({sizes}); train them one by one")
    ds0 = datasets[seeds[0]]
    shape, n_train = ds0.example_shape, len(ds0.train)
    t_setup = time.perf_counter()

    if len(cfgs) == 1:
        built = builder.build(cfgs[0], shape, n_train)
        programs = Single(built.trainer, builder.inputs(ds0, cfgs[0]), shape, cfgs[0]["seed"])
        slot = [0]
    else:
        by_task: dict[str, Mapping] = {}
        for c in cfgs:
            by_task.setdefault(group_key(c, ("seed",)), c)
        tasks = [builder.build(c, shape, n_train).task for c in by_task.values()]
        host_arrays = [builder.inputs(datasets[s], next(c for c in cfgs if int(c["seed"]) == s)) for s in seeds]
        stacked = {k: np.stack([a[k] for a in host_arrays]) for k in host_arrays[0]}  # [S, N, ...]
        programs = Group(tasks, seeds, stacked, shape, batch_size=t["batch_size"],
                         eval_batch_size=t["eval_batch_size"])
        task_index = {k: j for j, k in enumerate(by_task)}
        slot = [task_index[group_key(c, ("seed",))] * len(seeds) + seeds.index(int(c["seed"])) for c in cfgs]
    runs: list = [None] * programs.n
    for k, rd in zip(slot, run_dirs):
        runs[k] = rd
    state, best = programs.init()
    t_ready = time.perf_counter()
    live: dict = {}  # run slot -> its live sink (TensorBoard), per its log section
    try:
        state, best, loops = loop_lib.restore(programs, state, best, runs)
        live = _live_sinks(cfgs, run_dirs, slot, loops, datasets, programs)

        def each_epoch(i, row, params):
            if i in live:
                live[i].write(row, params)
            return None if on_epoch is None else on_epoch(runs[i], row)

        samples = (n_train // t["batch_size"]) * t["batch_size"]
        state, best, diverged = loop_lib.fit(
            programs, state, best, loops, runs, epochs=t["epochs"], patience=t["patience"],
            samples_per_epoch=samples, checkpoint_every_s=t["checkpoint_every_s"],
            progress=t["progress"] and jaxsetup.is_primary(),
            stop_after_epoch=stop_after_epoch,
            on_epoch=each_epoch if live or on_epoch is not None else None)
    finally:
        for sink in live.values():
            sink.close()
        for rd in run_dirs:
            rd.close()
    if stop_after_epoch is not None and any(loops[k]["epoch"] < t["epochs"] and not loops[k]["stopped"]
                                            for k in slot):
        return [{"stopped_after_epoch": stop_after_epoch}]

    summaries = []
    for c, rd, k in zip(cfgs, run_dirs, slot):
        if k in diverged or not rd.writes:  # process i > 0 of a multi-process run: process 0 finishes
            continue
        timing = {"t_start": t_start, "setup_s": t_ready - t_setup, "ready_s": t_ready - t_start,
                  "steps_per_epoch": n_train // t["batch_size"],
                  "runs_in_program": len(cfgs)}
        summaries.append(_finish_run(exp, c, rd, datasets[int(c["seed"])], programs, best, k, loops[k], timing,
                                     finish))
    if diverged:
        raise TrainingDiverged(" ".join(diverged.values()) if len(cfgs) == 1 else
                                        f"{len(diverged)} of {len(cfgs)} runs diverged: "
                                        + "; ".join(diverged.values()))
    return summaries


def _live_sinks(cfgs, run_dirs, slot, loops, datasets, programs) -> dict:
    """{run slot: its TensorBoard sink} for the runs whose ``log`` section asks for one."""
    live = {}
    for c, rd, k in zip(cfgs, run_dirs, slot):
        ds = datasets[int(c["seed"])]

        def examples(ds=ds, c=c):
            # Image data only ([H, W, C]); and not over many processes: the grid's prediction would be
            # a computation on every process's devices, which only process 0 (the writer) would run.
            if len(ds.example_shape) != 3 or jaxsetup.process_count() > 1:
                return None
            n = int(c.get("figures", {}).get("examples", 10))
            arrays = builder.inputs(ds, c)
            return {"input": arrays["val_in"][:n],
                    "target": arrays["val"][:n] if c["data"]["noise_std"] > 0 else None}

        def predict(params, x, k=k):
            trainer = programs.view(k)[0]
            return np.asarray(trainer.predict(params, trainer.put(x)))

        sink = sinks.open_sinks(c, rd.path, first_epoch=loops[k]["epoch"] + 1, examples=examples, predict=predict)
        if sink is not None:
            live[k] = sink
    return live


def _finish_run(exp, cfg, rd: RunDir, ds, programs, best, k: int, loop: dict, timing: dict,
                finish: Finish | None) -> dict:
    """One trained run's results: test numbers, examples and codes, the experiment's outputs,
    summary.json, then ``finish`` (analysis, figures, report)."""
    trainer, arrays, eval_key = programs.view(k)
    params = programs.member(best, k).params
    n_dev = trainer.n_dev
    if jaxsetup.process_count() > 1:  # the other processes are done: this process's devices from here on
        trainer = builder.build(cfg, ds.example_shape, len(ds.train), devices=jax.local_devices()).trainer
        arrays, eval_key, params = trainer.put((builder.inputs(ds, cfg), eval_key, params))
    test = host(trainer.evaluate(params, arrays["test_in"], arrays["test"], eval_key))
    train_s = loop["train_s"]
    epochs = max(loop["epoch"], 1)
    first_step_s = timing["ready_s"] + (train_s / epochs) / max(timing["steps_per_epoch"], 1)
    summary = make_summary(ds, loop, test, n_params=builder.n_params(params),
                           wall_s=time.perf_counter() - timing["t_start"], train_s=train_s,
                           setup_s=timing["setup_s"], first_step_s=first_step_s, n_dev=n_dev,
                           **({"runs_in_program": timing["runs_in_program"]} if timing["runs_in_program"] > 1
                              else {}),
                           **({"processes": jaxsetup.process_count()} if jaxsetup.process_count() > 1 else {}))
    n_show = int(cfg.get("figures", {}).get("examples", 10))
    codes = np.asarray(trainer.predict(params, arrays["test_in"], method="encode"))
    examples = {"test_x": ds.test.x[:n_show], "test_input": np.asarray(arrays["test_in"][:n_show]),
                "test_code": codes[:n_show],
                "test_recon": np.asarray(trainer.predict(params, arrays["test_in"][:n_show])),
                "train_x": ds.train.x[:n_show], "train_input": builder.train_inputs_shown(ds, cfg, n_show)}
    if ds.test.y is not None:
        examples["test_y"] = np.asarray(ds.test.y[:n_show])
    rd.write_examples(examples, codes)
    if cfg["data"]["noise_std"] > 0:
        summary["test/psnr_noisy"] = psnr(np.asarray(arrays["test_in"]), ds.test.x)
        summary["test/psnr_denoised"] = summary["test/psnr"]
    if exp is not None and exp.after_training is not None:
        summary.update(exp.after_training(cfg=cfg, workdir=rd.path, trainer=trainer, params=params, data=ds,
                                          arrays=arrays) or {})
    rd.write_summary(summary)
    if finish is not None:
        finish(rd, cfg)
    return summary


def make_summary(ds, loop: Mapping, test: Mapping, *, n_params: int, wall_s: float | None, train_s: float,
                 setup_s: float, first_step_s: float, n_dev: int = 1, **extra) -> dict:
    """summary.json's fields (DESIGN.md) for one run: data sizes, the loop record (epochs run,
    best epoch, why it stopped, samples), timings, ``extra`` fields, then ``test/<metric>``."""
    return {
        "params": n_params,
        "train_examples": len(ds.train),
        "val_examples": len(ds.val),
        "test_examples": len(ds.test),
        "epochs_run": loop["epoch"],
        "best_epoch": loop["best_epoch"],
        "stopped": loop["stopped"] or "completed all epochs",
        "wall_s": None if wall_s is None else round(wall_s, 3),
        "train_s": round(train_s, 3),
        "setup_s": round(setup_s, 3),
        "time_to_first_step_s": round(first_step_s, 3),
        "train_samples_per_s": round(loop["train_samples"] / max(train_s, 1e-9), 1),
        "devices": f"{n_dev} x {jax.devices()[0].platform}",
        **extra,
        **{f"test/{k}": v for k, v in test.items()},
    }


def psnr(noisy: np.ndarray, clean: np.ndarray) -> float:
    """Mean over examples of per-example PSNR (dB, data range 1)."""
    err = ((noisy - clean) ** 2).reshape(len(clean), -1).mean(axis=1)
    return float(np.mean(10 * np.log10(1.0 / np.maximum(err, 1e-12))))
