"""The one run system: a YAML config -> a run directory, trained, evaluated and plotted through the run's task.

    from sciml.runs import load_config, train_run, evaluate_run, plot_run
    cfg = load_config("examples/configs/fno_darcy.yaml", ["train.epochs=5"])
    train_run(cfg, "runs/fno")                      # or train_run(cfg, "runs/fno", resume=True)
    evaluate_run("runs/fno", resolutions=[32, 64])  # the task's metrics -> runs/fno/eval.json
    plot_run("runs/fno")                            # runs/fno/plots/*.png

Modules: ``config`` (ExperimentConfig, load_config), ``tasks`` (the Task contract and registry), ``run`` (train,
load, evaluate, plot), ``operator`` and ``rollout`` (the built-in tasks).
"""

from sciml.runs.config import DataConfig, ExperimentConfig, load_config
from sciml.runs.run import evaluate_run, load_run, load_run_model, plot_run, train_run
from sciml.runs.tasks import TASKS, Prepared, Task, get_task, register_task

__all__ = [
    "ExperimentConfig",
    "DataConfig",
    "load_config",
    "train_run",
    "load_run",
    "load_run_model",
    "evaluate_run",
    "plot_run",
    "Task",
    "Prepared",
    "TASKS",
    "get_task",
    "register_task",
]
