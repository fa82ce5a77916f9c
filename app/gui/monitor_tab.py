"""The monitoring tab: live accuracy of the model in use, alerts, drift per import batch."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.charts import ChartCanvas
from app.gui.project_model import ProjectModel
from app.labeling.queues import QueueSpec
from app.labeling.session import acceptance_rate
from app.learning.learning_curve import place_legend
from app.monitor.live_accuracy import DEFAULT_WINDOW, live_accuracy
from app.monitor.live_series import running_accuracy

DRIFT_COLUMNS = ("Batch", "Imported", "Added", "MMD p", "PSI", "Δ confidence", "Verdict")


class MonitorTab(QWidget):
    driftChecked = Signal(int)  # batch id, after its report arrived

    def __init__(self, project: ProjectModel, open_queue) -> None:
        super().__init__()
        self.project = project
        self.open_queue = open_queue  # callable(QueueSpec): shows a queue in the Label tab
        self.reports: dict[int, object] = {}
        # A version the user picked on purpose; None: follow the latest (the one in use).
        self._pinned: int | None = None

        self.version = QComboBox()
        self.window_size = QSpinBox()
        self.window_size.setRange(10, 100_000)
        self.window_size.setValue(DEFAULT_WINDOW)
        self.refresh_button = QPushButton("Refresh")
        self.summary = QLabel()
        self.summary.setObjectName("liveSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.alert = QLabel()
        self.alert.setObjectName("liveAlert")
        self.alert.setWordWrap(True)
        self.chart = ChartCanvas(6, 3)

        pick = QHBoxLayout()
        pick.addWidget(QLabel("Model"))
        pick.addWidget(self.version)
        pick.addWidget(QLabel("Window"))
        pick.addWidget(self.window_size)
        pick.addWidget(self.refresh_button)
        pick.addStretch(1)
        live = QWidget()
        live_layout = QVBoxLayout(live)
        live_layout.addWidget(QLabel("<b>Live accuracy</b> — every new label checks the "
                                     "model's prediction for that sample"))
        live_layout.addLayout(pick)
        live_layout.addWidget(self.alert)
        live_layout.addWidget(self.summary)
        live_layout.addWidget(self.chart, 1)

        self.batches = QTableWidget(0, len(DRIFT_COLUMNS))
        self.batches.setObjectName("driftTable")
        self.batches.setHorizontalHeaderLabels(DRIFT_COLUMNS)
        self.batches.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.batches.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.batches.horizontalHeader().setStretchLastSection(True)
        self.batches.verticalHeader().hide()  # row numbers say nothing: the batch id does
        self.check_button = QPushButton("Check drift of selected batch")
        self.open_button = QPushButton("Open drifted samples as a queue")
        self.open_button.setEnabled(False)
        drift_buttons = QHBoxLayout()
        drift_buttons.addWidget(self.check_button)
        drift_buttons.addWidget(self.open_button)
        drift_buttons.addStretch(1)
        drift = QWidget()
        drift_layout = QVBoxLayout(drift)
        explained = QLabel("<b>Data drift per import batch</b> — MMD permutation test on "
                           "embeddings against the pool the model was trained for (the import "
                           "batches that existed when it was trained); before the first model, "
                           "on the label-free embedding against the batches imported earlier")
        explained.setWordWrap(True)  # a long line would widen the whole window
        drift_layout.addWidget(explained)
        drift_layout.addWidget(self.batches)
        drift_layout.addLayout(drift_buttons)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setObjectName("monitorSplitter")  # its sizes are remembered
        splitter.addWidget(live)
        splitter.addWidget(drift)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        self.refresh_button.clicked.connect(self.refresh)
        self.version.activated.connect(lambda _i: self._pick_version())
        self.check_button.clicked.connect(self.check_selected)
        self.open_button.clicked.connect(self.open_selected)
        self.batches.itemSelectionChanged.connect(self._selection_changed)
        self.refresh()

    # -- live accuracy --------------------------------------------------------

    def refresh(self) -> None:
        self.version.clear()
        for v in reversed(self.project.workspace.model_versions()):  # newest first
            label = f"v{v.id} (in use)" if self.version.count() == 0 else f"v{v.id}"
            self.version.addItem(label, v.id)
        pinned = self.version.findData(self._pinned) if self._pinned is not None else -1
        self.version.setCurrentIndex(max(0, pinned))
        self.refresh_live()
        self.refresh_batches()

    def _pick_version(self) -> None:
        index = self.version.currentIndex()
        self._pinned = self.version.currentData() if index > 0 else None
        self.refresh_live()

    def refresh_live(self) -> None:
        version_id = self.version.currentData()
        if version_id is None:
            self.summary.setText("No model yet: train one, then every label checks it.")
            self.alert.hide()
            self.chart.plot_curves({}, "Live accuracy")
            return
        report = live_accuracy(self.project.workspace, version_id, self.window_size.value())
        self.summary.setText(_summary_html(report, acceptance_rate(self.project.workspace)))
        if report.alert is not None:
            self.alert.setText(f"⚠ {report.alert.message}")
            self.alert.show()
        else:
            self.alert.hide()
        window = self.window_size.value()
        series = {"all labels (biased: queues pick hard samples)":
                  [{"labels": p["n"], "accuracy": p["accuracy"]}
                   for p in running_accuracy(report.predictions, window)],
                  "random queue (unbiased)":
                  [{"labels": p["n"], "accuracy": p["accuracy"]}
                   for p in running_accuracy(report.predictions, window, random_only=True)]}
        self.chart.plot_curves({k: v for k, v in series.items() if v},
                               f"Model v{version_id}: accuracy over the last {window} labels",
                               empty_note=f"No labels given since model v{version_id}: each "
                                          "new label checks its prediction")
        if report.validation_accuracy is not None and self.chart.figure.axes:
            axes = self.chart.figure.axes[0]
            axes.axhline(report.validation_accuracy, color="grey", linestyle="--",
                         label="validation accuracy")
            axes.axhline(report.validation_accuracy - report.margin, color="red",
                         linestyle=":", label="alert threshold")
            place_legend(axes)  # beside the plot, as on every chart: it covers no line
            self.chart.lay_out_if_visible()
            self.chart.apply_colors()  # the new legend in the theme's colours

    # -- drift ----------------------------------------------------------------

    def refresh_batches(self) -> None:
        batches = [b for b in self.project.workspace.list_batches() if b.added]
        self.batches.setRowCount(len(batches))
        for row, batch in enumerate(batches):
            cells = [str(batch.id), batch.created_at[:19].replace("T", " "), str(batch.added)]
            report = self.reports.get(batch.id)
            if report is not None:
                # A label-free report (no model yet) has no PSI and no confidence.
                model_figures = ([f"{report.psi:.3f}", f"{report.mean_confidence_delta:+.3f}"]
                                 if report.model is not None else ["–", "–"])
                cells += [f"{report.mmd_p_value:.4f}", *model_figures,
                          "DRIFT" if report.drift else "no drift"]
            else:
                cells += ["", "", "", "not checked"]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, batch.id)
                if report is not None:
                    item.setToolTip(f"Reference: {report.reference.describe()}")
                self.batches.setItem(row, column, item)

    def selected_batch(self) -> int | None:
        items = self.batches.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def _selection_changed(self) -> None:
        self.open_button.setEnabled(self.selected_batch() in self.reports)

    def check_selected(self) -> None:
        batch = self.selected_batch()
        if batch is not None:
            self.check_batch(batch)

    def check_batch(self, batch: int) -> None:
        """Run the drift test off the UI thread (it may score new samples first)."""
        from app.monitor.batch_drift import batch_drift

        project = self.project

        def done(report) -> None:
            project.idle.emit()
            self.reports[batch] = report
            self.refresh_batches()
            self._selection_changed()
            verdict = "drift" if report.drift else "no drift"
            against = ("half against half: it was the whole pool" if report.reference.halves
                       else "against batch(es) " + ", ".join(map(str, report.reference.batches)))
            features = "" if report.model is not None else f", {report.features}"
            project.message.emit(f"Batch {batch}: {verdict} (MMD p = {report.mmd_p_value:.4f}, "
                                 f"{against}{features})")
            self.driftChecked.emit(batch)

        def failed(text: str) -> None:
            project.idle.emit()
            project.error.emit(f"Drift check of batch {batch} failed: {text}")

        project.busy.emit(f"Checking drift of batch {batch}…", 0, 0)
        project.run_in_background(lambda ws, _progress: batch_drift(ws, batch), done, failed)

    def open_selected(self) -> None:
        batch = self.selected_batch()
        if batch is not None:
            self.open_queue(QueueSpec(kind="drift", batch=batch))


def _summary_html(report, acceptance: dict) -> str:
    def tally(figures) -> str:
        t = figures.overall
        if not t.n:
            return "no labels yet"
        low, high = t.interval
        return f"{t.accuracy:.3f} (95% CI {low:.3f}–{high:.3f}, n={t.n})"

    validation = (f"{report.validation_accuracy:.3f}" if report.validation_accuracy is not None
                  else "not validated (too few labels to hold some out; no alert threshold)"
                  if report.validation_split == "none" else "–")
    rate = acceptance["rate"]
    suggested = (f"{acceptance['accepted']}/{acceptance['suggested']} accepted ({rate:.0%})"
                 if rate is not None else "not used yet")
    return (f"Validation accuracy: <b>{validation}</b><br>"
            f"All labels: {tally(report.overall)} · last {report.window}: "
            f"{tally(report.windowed)}<br>"
            f"Random queue (the unbiased estimate): {tally(report.random_overall)} · "
            f"last {report.window}: {tally(report.random_windowed)}<br>"
            f"Suggestions: {suggested}")
