"""The ``aejax`` command line: run, sweep, tune, analyze, list.

Exit status: 0 success; 2 bad input or usage (one message naming the file /
key / value, no traceback); 1 a failed run (a diverged run; its earlier checkpoints kept);
130 / 143 interrupted by SIGINT / SIGTERM (training saves its checkpoints first).
"""
from __future__ import annotations

import argparse
import signal
import sys

from aejax.errors import Interrupted, RunFailed, UserError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aejax", description="Autoencoders in JAX/Flax.")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        sp.add_argument("experiment", help="module name under experiments/ or a path to a .py file")
        sp.add_argument("--workdir", help="run directory (default results/<experiment>/<run-name>)")
        sp.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key by its dotted path (repeatable)")
        sp.add_argument("--quick", action="store_true", help="a smoke run of seconds: tiny data, few steps")

    r = sub.add_parser("run", help="train one configuration")
    common(r)
    r.add_argument("--overwrite", action="store_true", help="start afresh instead of resuming")
    many = r.add_argument_group("one run over many processes / hosts (jax.distributed.initialize)")
    many.add_argument("--coordinator", metavar="HOST:PORT", help="process 0's address (every process gives it)")
    many.add_argument("--num-processes", type=int, metavar="N", help="how many processes take part")
    many.add_argument("--process-id", type=int, metavar="I", help="this process's index, 0..N-1")
    many.add_argument("--distributed", action="store_true",
                      help="take the three from the cluster (SLURM, Open MPI, Cloud TPU, Kubernetes)")
    s = sub.add_parser("sweep", help="run every configuration of the experiment's sweep()")
    common(s)
    s.add_argument("--shard", default="0/1", metavar="I/N|auto",
                   help="I/N: a static split, only every N-th group of runs from I; auto: every run, starting "
                        "where this job-array task's share begins ($SLURM_ARRAY_TASK_ID of "
                        "$SLURM_ARRAY_TASK_COUNT, or $JOB_COMPLETION_INDEX of $AEJAX_SHARD_COUNT), a hint "
                        "only. Either way any number of workers share the sweep directory as a work queue")
    s.add_argument("--collect", action="store_true",
                   help="train nothing: write sweep.csv, sweep.md and report.html from the finished runs "
                        "(and name the missing ones)")
    t = sub.add_parser("tune", help="hyperparameter search (Optuna) over the experiment's search_space()")
    common(t)  # --workdir: the tune directory (default results/<experiment>/tune)
    t.add_argument("--trials", type=int, required=True, metavar="N", help="finished trials the study should hold")
    t.add_argument("--storage", help="Optuna storage shared by the workers: sqlite:///PATH, postgresql://..., "
                                     "journal:PATH (default: a journal file in the tune directory)")
    t.add_argument("--study", help="study name (default <experiment>/<tune directory name>)")
    t.add_argument("--sampler", choices=["tpe", "random", "grid"], default="tpe")
    t.add_argument("--pruner", choices=["median", "hyperband", "none"], default="median")
    a = sub.add_parser("analyze", help="latent-space analysis of a finished run directory")
    a.add_argument("run_dir")
    a.add_argument("--experiment", help="the experiment file the run used, when config.json names a path "
                                        "(paths read from a run directory are never imported)")
    sub.add_parser("list", help="list experiments and data sources")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command != "list":
        from aejax import jaxsetup  # imports no JAX
        jaxsetup.tune_malloc()  # XLA's per-step scratch stays mapped (fewer page faults per step)
    signal.signal(signal.SIGTERM, _terminated)  # outside training (which saves first): exit 143 with a message
    try:
        if args.command == "list":  # without importing JAX
            _list()
            return 0
        from aejax import api  # jax, flax, optax, orbax: not counted as start-up by `run`
        if args.command == "run":
            if args.distributed or args.coordinator or args.num_processes is not None or args.process_id is not None:
                jaxsetup.start_distributed(args.coordinator, args.num_processes, args.process_id)
            summary = api.run(args.experiment, workdir=args.workdir, overrides=args.overrides,
                              quick=args.quick, overwrite=args.overwrite)
            if _primary():
                _print_summary(summary)
        elif args.command == "sweep":
            api.sweep(args.experiment, workdir=args.workdir, overrides=args.overrides,
                      quick=args.quick, shard=args.shard, collect=args.collect)
        elif args.command == "tune":
            from aejax import tune
            tune.tune(args.experiment, trials=args.trials, storage=args.storage, study=args.study,
                      sampler=args.sampler, pruner=args.pruner, workdir=args.workdir,
                      overrides=args.overrides, quick=args.quick)
        elif args.command == "analyze":
            api.analyze(args.run_dir, experiment=args.experiment)
    except UserError as e:
        print(f"aejax: error: {e}", file=sys.stderr)
        return 2
    except Interrupted as e:
        print(f"aejax: {e}", file=sys.stderr)
        return e.exit_status
    except KeyboardInterrupt:
        print("aejax: interrupted (SIGINT) before or after training; checkpoints already written are kept "
              "(rerun to resume)", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `aejax list | head`
        sys.stderr.close()
        return 0
    except RunFailed as e:
        print(f"aejax: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # the filesystem failed under a valid request: a full disk, a lost mount, ...
        print(f"aejax: error: {e} (files already written, checkpoints included, are kept; rerun to resume "
              "once it is mended)", file=sys.stderr)
        return 1
    return 0


def _primary() -> bool:
    """Whether this process prints results (process 0 of a multi-process run, or the only one)."""
    from aejax import jaxsetup
    return jaxsetup.is_primary()


def _terminated(signum, frame):
    raise Interrupted(signum, "SIGTERM: stopped before or after training; checkpoints already written are kept "
                              "(rerun to resume)")


def _print_summary(summary: dict) -> None:
    keys = [k for k in summary if k.startswith("test/")] + [
        "stopped", "epochs_run", "best_epoch", "train_samples_per_s", "time_to_first_step_s", "wall_s"]
    width = max(len(k) for k in keys)
    for k in keys:
        if k in summary:
            v = summary[k]
            print(f"{k:<{width}}  {v:.6g}" if isinstance(v, float) else f"{k:<{width}}  {v}")


def _list() -> None:
    from aejax import data
    from aejax.run import experiment
    print("experiments:")
    for name in experiment.list_names():
        print(f"  {name:<22} {experiment.summary_line(name)}")
    print("data sources:")
    for src in data.list_sources():
        label = src.name + (":ARG" if src.takes_arg else "")
        print(f"  {label:<22} {src.doc}")


if __name__ == "__main__":
    raise SystemExit(main())
