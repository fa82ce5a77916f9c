"""The engineer's tab: model versions, comparison, architecture, learning curves."""

from __future__ import annotations

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.gui.charts import ChartCanvas
from app.gui.project_model import ProjectModel
from app.gui.versions_model import VersionIdRole, VersionsTableModel
from app.learning.learning_curve import CURVE_TITLE, load_simulation_curves, version_series
from app.learning.model_comparison import compare_versions
from app.project.workspace import WorkspaceError


class ModelsTab(QWidget):
    def __init__(self, project: ProjectModel) -> None:
        super().__init__()
        self.project = project
        self.table_model = VersionsTableModel(project.workspace)
        self.proxy = QSortFilterProxyModel()
        self.proxy.setSourceModel(self.table_model)
        self.proxy.setSortRole(Qt.ItemDataRole.EditRole)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter versions (creator, hash, accuracy…)")
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = QTableView()
        self.table.setObjectName("versionsTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setStretchLastSection(True)

        self.delete_button = QPushButton("Delete version…")
        self.export_button = QPushButton("Export learning curve PNG…")
        self.simulation_button = QPushButton("Open simulation results…")
        buttons = QHBoxLayout()
        for button in (self.delete_button, self.export_button, self.simulation_button):
            buttons.addWidget(button)
        buttons.addStretch(1)

        self.curve = ChartCanvas()
        self.compare_a, self.compare_b = QComboBox(), QComboBox()
        self.compare_table = QTableWidget()
        self.confusions = ChartCanvas(8, 3.5)
        self.architecture_choice = QComboBox()
        self.architecture = QPlainTextEdit()
        self.architecture.setReadOnly(True)
        self.architecture.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.simulation = ChartCanvas()
        self.details = QTabWidget()
        self.details.addTab(self.curve, "Learning curve")
        self.details.addTab(self._compare_page(), "Compare")
        self.details.addTab(self._architecture_page(), "Architecture")
        self.details.addTab(self.simulation, "Simulation")

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.addWidget(self.filter)
        top_layout.addWidget(self.table)
        top_layout.addLayout(buttons)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setObjectName("modelsSplitter")  # its sizes are remembered
        splitter.addWidget(top)
        splitter.addWidget(self.details)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        self.delete_button.clicked.connect(lambda: self.delete_selected())
        self.export_button.clicked.connect(self._ask_export)
        self.simulation_button.clicked.connect(self._ask_simulation)
        self.compare_a.activated.connect(lambda _i: self.show_comparison())
        self.compare_b.activated.connect(lambda _i: self.show_comparison())
        self.architecture_choice.activated.connect(lambda _i: self.show_architecture())
        # The pre-selected versions are shown when their page first shows, not
        # only after a pick; the architecture loads a checkpoint, so only then.
        self.details.currentChanged.connect(lambda _i: self._fill_visible_page())
        self.reload()

    def _compare_page(self) -> QWidget:
        page = QWidget()
        pick = QHBoxLayout()
        pick.addWidget(QLabel("A"))
        pick.addWidget(self.compare_a)
        pick.addWidget(QLabel("B"))
        pick.addWidget(self.compare_b)
        pick.addStretch(1)
        body = QSplitter(Qt.Orientation.Horizontal)
        body.setObjectName("compareSplitter")  # its sizes are remembered
        body.addWidget(self.compare_table)
        body.addWidget(self.confusions)
        body.setStretchFactor(0, 0)
        body.setStretchFactor(1, 1)
        self.compare_table.verticalHeader().hide()  # row numbers say nothing here
        layout = QVBoxLayout(page)
        layout.addLayout(pick)
        layout.addWidget(body)
        return page

    def _architecture_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(self.architecture_choice)
        layout.addWidget(self.architecture)
        return page

    # -- refresh --------------------------------------------------------------

    def reload(self) -> None:
        self.table_model.reload()
        self.table.resizeColumnsToContents()
        versions = self.table_model.versions
        for combo in (self.compare_a, self.compare_b, self.architecture_choice):
            combo.clear()
            for v in versions:
                combo.addItem(f"v{v.id} · {v.n_labels} labels", v.id)
        if len(versions) >= 2:
            self.compare_a.setCurrentIndex(len(versions) - 2)
            self.compare_b.setCurrentIndex(len(versions) - 1)
        self.curve.plot_curves(
            version_series(versions), CURVE_TITLE, ylabel="accuracy",
            empty_note="No held-out results yet: run `labelloop evaluate PROJECT TEST_DIR` on a "
                       "labeled test folder (versions trained on few labels have no "
                       "validation split).")
        if versions:
            self.architecture_choice.setCurrentIndex(len(versions) - 1)
        self._shown_architecture: int | None = None
        self._fill_visible_page()

    def _fill_visible_page(self) -> None:
        page = self.details.currentIndex()
        if page == 1:
            self.show_comparison(switch_page=False)
        elif page == 2 and self.architecture_choice.currentData() != self._shown_architecture:
            self.show_architecture()

    def selected_version(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(VersionIdRole) if rows else None

    # -- compare / architecture ------------------------------------------------

    def show_comparison(self, *, switch_page: bool = True) -> dict | None:
        a_id, b_id = self.compare_a.currentData(), self.compare_b.currentData()
        if a_id is None or b_id is None:
            self.compare_table.setRowCount(0)
            return None
        a = self.project.workspace.model_version(a_id)
        b = self.project.workspace.model_version(b_id)
        result = compare_versions(a, b)
        rows = [("accuracy", a.metrics.get("accuracy"), b.metrics.get("accuracy")),
                ("macro-F1", a.metrics.get("macro_f1"), b.metrics.get("macro_f1"))]
        for name, diff in result["per_class"].items():
            rows.append((f"{name} precision", diff["precision"]["a"], diff["precision"]["b"]))
            rows.append((f"{name} recall", diff["recall"]["a"], diff["recall"]["b"]))
        self.compare_table.setColumnCount(4)
        self.compare_table.setHorizontalHeaderLabels(["metric", f"v{a.id}", f"v{b.id}", "Δ"])
        self.compare_table.setRowCount(len(rows))
        for r, (name, x, y) in enumerate(rows):
            cells = [name, _fmt(x), _fmt(y),
                     _fmt(y - x, signed=True) if x is not None and y is not None else "–"]
            for c, text in enumerate(cells):
                self.compare_table.setItem(r, c, QTableWidgetItem(text))
        _fit_width_to_columns(self.compare_table)
        self.confusions.plot_confusions(
            {f"v{a.id}": a.metrics.get("confusion_matrix"),
             f"v{b.id}": b.metrics.get("confusion_matrix")}, a.classes)
        if switch_page:
            self.details.setCurrentIndex(1)
        return result

    def show_architecture(self) -> str:
        from app.learning.model_registry import load_network
        from models.summary import describe_network, format_summary

        version_id = self.architecture_choice.currentData()
        if version_id is None:
            self.architecture.clear()
            return ""
        version = self.project.workspace.model_version(version_id)
        try:
            rows = describe_network(load_network(self.project.workspace, version),
                                    version.input_shape)
        except WorkspaceError as exc:
            self.project.error.emit(str(exc))
            return ""
        text = (f"Model v{version.id}: {version.arch}, input shape {tuple(version.input_shape)}\n\n"
                + format_summary(rows, version.input_shape))
        self.architecture.setPlainText(text)
        self._shown_architecture = version_id
        return text

    # -- actions -----------------------------------------------------------------

    def delete_selected(self, *, confirm: bool = True) -> bool:
        from app.learning.model_registry import delete_version

        version_id = self.selected_version()
        if version_id is None:
            return False
        if confirm and QMessageBox.question(
                self, "Delete model version",
                f"Delete model v{version_id}? Its checkpoint and caches are removed; "
                "the registry keeps a row marked deleted.") != QMessageBox.StandardButton.Yes:
            return False
        delete_version(self.project.workspace, version_id)
        self.reload()
        self.project.labelsChanged.emit()
        return True

    def export_curve(self, path: str) -> None:
        self.curve.lay_out_if_due()  # the tab may never have been shown
        self.curve.figure.savefig(path, dpi=120)

    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export learning curve",
                                              "learning-curve.png", "PNG (*.png)")
        if path:
            self.export_curve(path)

    def show_simulation(self, path: str) -> None:
        try:
            curves = load_simulation_curves(path)
        except WorkspaceError as exc:
            self.project.error.emit(str(exc))
            return
        self.simulation.plot_curves(curves, "Simulated A/B: accuracy against labels")
        self.details.setCurrentWidget(self.simulation)

    def _ask_simulation(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open simulation results", "",
                                              "curves.json (curves.json);;JSON (*.json)")
        if path:
            self.show_simulation(path)


def _fmt(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _fit_width_to_columns(table: QTableWidget) -> None:
    """Make ``table`` exactly wide enough for its columns: no sideways scrolling."""
    table.resizeColumnsToContents()
    header = table.horizontalHeader()
    width = (header.length() + table.frameWidth() * 2
             + table.verticalScrollBar().sizeHint().width())
    table.setMinimumWidth(width)
