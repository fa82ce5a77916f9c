"""``labelloop train``, a training job and the library read one set of defaults."""

from __future__ import annotations

import argparse
from dataclasses import replace

from app.cli import training as training_cli
from app.learning import job_worker
from models.train_config import DEFAULT_INPUT_SIZE, JOB_DEFAULTS, JOB_MIN_STEPS, TrainConfig


def parsed_train_command(*args: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="labelloop")
    training_cli.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["train", "project", *args])


def test_the_train_command_defaults_are_a_jobs_defaults():
    args = parsed_train_command()
    assert (args.arch, args.seed, args.val_fraction, args.weights, args.input_size) == (
        JOB_DEFAULTS.arch, JOB_DEFAULTS.seed, JOB_DEFAULTS.val_fraction,
        JOB_DEFAULTS.weights, None)
    # The recipe options are left to the job: the project's settings, else the defaults.
    assert (args.epochs, args.patience, args.min_steps, args.lr, args.batch_size,
            args.augment) == (None,) * 6
    config = job_worker.training_config(vars(args), [])
    assert (config.epochs, config.patience, config.min_steps, config.lr, config.batch_size,
            config.augment) == (JOB_DEFAULTS.epochs, JOB_DEFAULTS.patience, JOB_MIN_STEPS,
                                JOB_DEFAULTS.lr, JOB_DEFAULTS.batch_size, JOB_DEFAULTS.augment)


def test_a_job_without_params_trains_with_the_library_settings_but_the_floor_and_no_early_stop():
    config = job_worker.training_config({}, [])
    expected_size = DEFAULT_INPUT_SIZE[JOB_DEFAULTS.arch]
    assert config == replace(JOB_DEFAULTS, input_size=expected_size)
    # A job runs its whole learning-rate schedule (no early stopping), and
    # decides from the labels whether to add the semi-supervised phase.
    assert config == replace(TrainConfig(), min_steps=JOB_MIN_STEPS, patience=0,
                             semi_supervised=None, input_size=expected_size)


def test_a_job_started_by_the_command_without_options_gets_the_same_config():
    args = parsed_train_command()
    # The parameters run_train sends with the job.
    params = {"arch": args.arch, "epochs": args.epochs, "seed": args.seed,
              "val_fraction": args.val_fraction, "input_size": args.input_size,
              "patience": args.patience, "weights": args.weights, "min_steps": args.min_steps}
    assert job_worker.training_config(params, [(40, 40)]) == job_worker.training_config(
        {}, [(40, 40)])


def test_options_given_override_the_defaults():
    args = parsed_train_command("--epochs", "3", "--min-steps", "0", "--patience", "0")
    config = job_worker.training_config(
        {"epochs": args.epochs, "min_steps": args.min_steps, "patience": args.patience}, [])
    assert (config.epochs, config.min_steps, config.patience) == (3, 0, 0)
    assert config.lr == JOB_DEFAULTS.lr


def test_the_simulate_command_defaults_are_the_recipes():
    from app.cli import simulate as simulate_cli
    from app.learning.simulation import Recipe

    parser = argparse.ArgumentParser(prog="labelloop")
    simulate_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["simulate", "--pool", "pool", "--test", "test", "--out", "out",
                              "--init", "10", "--step", "10", "--rounds", "2"])
    recipe = Recipe()
    assert (args.arch, args.epochs, args.min_steps, args.batch_size, args.lr,
            args.mc_samples) == (recipe.arch, recipe.epochs, recipe.min_steps,
                                 recipe.batch_size, recipe.lr, recipe.mc_samples)


def test_the_projects_recipe_fills_in_what_the_job_leaves_out():
    project = {"epochs": 12, "lr": 0.01, "augment": False, "batch_size": 16}
    config = job_worker.training_config({"epochs": 4, "min_steps": None}, [], project)
    assert (config.epochs, config.lr, config.augment, config.batch_size) == (4, 0.01, False, 16)
    assert config.min_steps == JOB_MIN_STEPS and config.patience == JOB_DEFAULTS.patience
