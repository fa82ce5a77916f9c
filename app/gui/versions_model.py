"""The model registry as a sortable, filterable Qt table."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from app.domain.records import ModelVersion
from app.project.workspace import Workspace

COLUMNS = ("Version", "Created", "Creator", "Labels", "Accuracy", "Macro-F1", "Test sets",
           "Data version", "Checkpoint sha256", "Parent", "Backbone")
VersionIdRole = Qt.ItemDataRole.UserRole + 1


class VersionsTableModel(QAbstractTableModel):
    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self.versions: list[ModelVersion] = []
        self.reload()

    def reload(self) -> None:
        self.beginResetModel()
        self.versions = self.workspace.model_versions()
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:  # noqa: N802
        return 0 if parent is not None and parent.isValid() else len(self.versions)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:  # noqa: N802
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        version = self.versions[index.row()]
        column = index.column()
        if role == VersionIdRole:
            return version.id
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == 7:
                return version.data_version
            if column == 8:
                return version.checkpoint_sha256
            if column in (4, 5) and version.metrics.get("not_validated"):
                return version.metrics["not_validated"]
            if column in (4, 5) and version.metrics.get("n"):
                return f"on {version.metrics['n']} validation samples"
            if column == 6:
                return "\n".join(f"{e['test_set']}: {e['accuracy']:.4f} (n={e['n']})"
                                 for e in version.evaluations) or None
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self._cell(version, column, sortable=role == Qt.ItemDataRole.EditRole)
        return None

    @staticmethod
    def _cell(v: ModelVersion, column: int, *, sortable: bool) -> Any:
        accuracy, macro_f1 = v.metrics.get("accuracy"), v.metrics.get("macro_f1")
        # Too few labels to hold some out: say so rather than show a blank.
        missing = "not validated" if v.metrics.get("not_validated") else "–"
        values = (
            v.id, v.created_at[:19].replace("T", " "), v.creator, v.n_labels,
            accuracy if sortable else (f"{accuracy:.4f}" if accuracy is not None else missing),
            macro_f1 if sortable else (f"{macro_f1:.4f}" if macro_f1 is not None else missing),
            "; ".join(f"{e['accuracy']:.3f}" for e in v.evaluations) or "–",
            v.data_version[:12], v.checkpoint_sha256[:12],
            v.parent_id if sortable else (f"v{v.parent_id}" if v.parent_id else "–"),
            # Lineage: the pretrained backbone the network started from.
            v.backbone_id if sortable else (f"b{v.backbone_id}" if v.backbone_id else "–"),
        )
        return values[column]
