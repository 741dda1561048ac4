"""The stored form of one evaluation: the engine's match table plus the ids that map its
indices back to rows, as one npz blob (so every replica can load it from the database)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from sliceboard.evaluation import MatchTable
from sliceboard.evaluation.semantic import SemanticTable


@dataclass(frozen=True, eq=False)
class Snapshot:
    table: MatchTable
    item_ids: np.ndarray  # int64 (n_items,) item row ids in tie order (``item_order``)
    gt_ids: np.ndarray  # int64 (G,) annotation row ids, ascending
    dt_ids: np.ndarray  # int64 (P,) prediction row ids, ascending
    label_names: list[str]
    kind: str  # bbox | segm | keypoints
    family: str
    #: The semantic masks' table and labels (None: the run has no semantic mask).
    semantic: SemanticTable | None = None
    semantic_labels: tuple[str, ...] = ()

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Every field as a named numpy array (the table's prefixed ``table.``)."""
        arrays = {f"table.{k}": v for k, v in self.table.to_arrays().items()}
        arrays.update(
            item_ids=self.item_ids,
            gt_ids=self.gt_ids,
            dt_ids=self.dt_ids,
            label_names=np.array(self.label_names, dtype=np.str_),
            kind=np.array(self.kind),
            family=np.array(self.family),
        )
        if self.semantic is not None:
            arrays.update({f"semantic.{k}": v for k, v in self.semantic.to_arrays().items()})
            arrays["semantic_labels"] = np.array(self.semantic_labels, dtype=np.str_)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> Snapshot:
        """Inverse of :meth:`to_arrays`; the arrays are used as they are, not copied."""
        table = MatchTable.from_arrays(
            {k.removeprefix("table."): arrays[k] for k in arrays if k.startswith("table.")}
        )
        return cls(
            table=table,
            item_ids=np.asarray(arrays["item_ids"], dtype=np.int64),
            gt_ids=np.asarray(arrays["gt_ids"], dtype=np.int64),
            dt_ids=np.asarray(arrays["dt_ids"], dtype=np.int64),
            label_names=[str(x) for x in arrays["label_names"]],
            kind=str(arrays["kind"]),
            family=str(arrays["family"]),
            semantic=SemanticTable.from_arrays(
                {
                    k.removeprefix("semantic."): arrays[k]
                    for k in arrays
                    if k.startswith("semantic.")
                }
            )
            if "semantic.shape" in arrays
            else None,
            semantic_labels=tuple(str(x) for x in arrays["semantic_labels"])
            if "semantic_labels" in arrays
            else (),
        )

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        # An npz file, deflated at level 1: most arrays are runs of -1/0 and shrink ~10x at a
        # fraction of the cost of numpy's default level.
        with zipfile.ZipFile(
            buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1
        ) as archive:
            for name, array in self.to_arrays().items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as entry:
                    np.lib.format.write_array(entry, np.asanyarray(array), allow_pickle=False)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Snapshot:
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            return cls.from_arrays({name: data[name] for name in data.files})
