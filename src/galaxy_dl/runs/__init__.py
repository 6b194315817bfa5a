"""Runs: holdouts and cross-validation, train-eval's and predict's work, hyperparameter search, several
devices and processes. Imports model and data; the report and cli import it."""
