"""The learning loop: training and scoring jobs, the model registry, ranking strategies, evaluation, simulation."""
