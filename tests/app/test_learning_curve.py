"""The Models tab's learning curve says only what is measured."""

from __future__ import annotations

from matplotlib.figure import Figure

from app.domain.records import ModelVersion
from app.learning.learning_curve import CURVE_TITLE, SMALL_VALIDATION, draw_curves, version_series


def _version(id_: int, labels: int, metrics: dict, evaluations: list | None = None
             ) -> ModelVersion:
    return ModelVersion(
        id=id_, created_at="2026-01-01T00:00:00Z", creator="t", arch="small_cnn",
        input_shape=(3, 16, 16), classes=["a", "b"], seed=0, hyperparameters={},
        torch_version="", torchvision_version="", checkpoint_path="", checkpoint_sha256="",
        data_version="", n_train=labels, n_labels=labels, metrics=metrics, parent_id=None,
        duration_s=1.0, evaluations=evaluations or [])


NOT_VALIDATED = {"split": "none", "n": 0, "accuracy": None, "macro_f1": None}


def test_held_out_results_come_first_and_unvalidated_versions_claim_nothing():
    versions = [
        _version(1, 30, NOT_VALIDATED,
                 [{"test_set": "/data/test/", "n": 500, "accuracy": 0.61, "macro_f1": 0.6}]),
        _version(2, 80, {"split": "validation", "n": 16, "accuracy": 1.0, "macro_f1": 1.0}),
        _version(3, 400, {"split": "validation", "n": 80, "accuracy": 0.9, "macro_f1": 0.88},
                 [{"test_set": "/data/test", "n": 500, "accuracy": 0.70, "macro_f1": 0.7},
                  {"test_set": "/data/test", "n": 500, "accuracy": 0.85, "macro_f1": 0.84}]),
    ]
    series = version_series(versions)
    assert list(series) == ["test accuracy · test", "validation accuracy",
                            "validation macro-F1"]
    test = series["test accuracy · test"]
    assert [(p["labels"], p["accuracy"]) for p in test] == [(30, 0.61), (400, 0.85)]
    validation = series["validation accuracy"]
    assert [p["version"] for p in validation] == [2, 3]  # version 1 had no validation split
    assert [p["small"] for p in validation] == [16 < SMALL_VALIDATION, False]


def test_small_validation_points_are_hollow_and_named_in_the_legend():
    versions = [_version(1, 60, {"split": "validation", "n": 12, "accuracy": 0.75,
                                 "macro_f1": 0.7}),
                _version(2, 600, {"split": "validation", "n": 120, "accuracy": 0.9,
                                  "macro_f1": 0.9})]
    figure = Figure()
    draw_curves(figure, version_series(versions), title=CURVE_TITLE)
    axes = figure.axes[0]
    hollow = [line for line in axes.lines if line.get_markerfacecolor() == "none"
              and len(line.get_xdata())]
    assert [list(line.get_xdata()) for line in hollow] == [[60], [60]]  # accuracy, macro-F1
    labels = [text.get_text() for text in axes.get_legend().get_texts()]
    assert any("under 30 samples" in label for label in labels)
    figure.canvas.draw()  # the legend sits beside the plot, covering none of it
    legend_box = axes.get_legend().get_window_extent()
    assert legend_box.x0 >= axes.get_window_extent().x1
    assert axes.get_title() == CURVE_TITLE


def test_an_empty_chart_says_why():
    figure = Figure()
    draw_curves(figure, version_series([_version(1, 30, NOT_VALIDATED)]), title=CURVE_TITLE,
                empty_note="No held-out results yet")
    assert [t.get_text() for t in figure.axes[0].texts] == ["No held-out results yet"]
