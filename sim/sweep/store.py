"""Sweep results on disk: a Parquet dataset folder (``RESULTS.parquet/``) that grows by one
part file per flush as samples finish.

Each part is written atomically (a crash leaves whole parts only), so an interrupted sweep is
resumed by reading the parts back and skipping the samples they hold. ``_sweep.json`` records
which sweep the folder belongs to. pandas, pyarrow, DuckDB and Spark all read the folder as
one table (files starting with ``_`` or ``.`` are ignored by them). Owner-only: a cohort's
results describe patients.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sim.errors import FileFormatError, InputError
from sim.model.atomic import private_dir, write_file_atomic
from sim.sweep.spec import SweepSpec

META = "_sweep.json"


def schema_of(spec: SweepSpec) -> pa.Schema:
    fields = [pa.field("sample", pa.int64()), pa.field("member", pa.string())]
    for p in spec.parameters:
        numeric = p.dist != "discrete" or all(isinstance(v, int | float) and not isinstance(v, bool)
                                              for v in p.values)
        fields.append(pa.field(f"p.{p.name}", pa.float64() if numeric else pa.string()))
    fields += [pa.field(f"q.{q.name}", pa.float64()) for q in spec.qois]
    fields += [pa.field("error", pa.string()), pa.field("worker", pa.string()),
               pa.field("wall_time_s", pa.float64())]
    return pa.schema(fields)


class ResultStore:
    """Append-only writer of a sweep's results folder."""

    def __init__(self, folder: str | Path, spec: SweepSpec) -> None:
        self.folder = Path(folder)
        self.spec = spec
        self.schema = schema_of(spec)
        self._seq = 0
        if self.folder.exists() and not self.folder.is_dir():
            raise InputError(f"'{self.folder}' exists and is not a results folder.")
        meta = self.folder / META
        if meta.is_file():
            old = read_meta(self.folder)
            if old.get("fingerprint") != spec.fingerprint:
                raise InputError(f"'{self.folder}' holds results of a different sweep (its base, "
                                 "parameters, cohort, sampler or quantities differ); choose "
                                 "another output or delete it.")
        else:
            private_dir(self.folder)
            body = json.dumps({"format": "twinsight-sweep/1", "name": spec.name,
                               "fingerprint": spec.fingerprint, "spec": spec.raw,
                               "folder": str(spec.folder)}, indent=1, default=str).encode()
            write_file_atomic(meta, lambda fh: fh.write(body))

    def done_ids(self, retry_failed: bool = False) -> set[int]:
        """Samples already recorded (with or without an error unless ``retry_failed``)."""
        table = read_table(self.folder, columns=["sample", "error"])
        if table is None:
            return set()
        df = table.to_pandas()
        if retry_failed:
            df = df[df["error"].isna()]
        return set(int(s) for s in df["sample"])

    def append(self, records: list[dict[str, Any]]) -> Path | None:
        if not records:
            return None
        cols: dict[str, list] = {f.name: [] for f in self.schema}
        for r in records:
            for name in cols:
                v = r.get(name)
                if name.startswith("p.") and self.schema.field(name).type == pa.string() and v is not None:
                    v = str(v)
                cols[name].append(v)
        table = pa.table(cols, schema=self.schema)
        self._seq += 1
        path = self.folder / f"part-{time.time_ns():020d}-{os.getpid()}-{self._seq:05d}.parquet"
        write_file_atomic(path, lambda fh: pq.write_table(table, fh))
        return path


def read_meta(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / META
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FileFormatError(path, f"it cannot be read ({exc.strerror or exc}); is "
                                    f"'{folder}' a sweep results folder?") from None
    except ValueError:
        raise FileFormatError(path, "it is not valid JSON") from None


def _parts(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("part-*.parquet") if not p.name.startswith("."))


def read_table(folder: str | Path, columns: list[str] | None = None) -> pa.Table | None:
    """Every part in write order (None when there is none yet)."""
    folder = Path(folder)
    parts = _parts(folder) if folder.is_dir() else []
    if not parts:
        return None
    try:
        return pa.concat_tables([pq.read_table(p, columns=columns) for p in parts])
    except (OSError, pa.ArrowException) as exc:
        raise FileFormatError(folder, f"a results part is damaged ({exc})") from None


def read_results(folder: str | Path) -> Any:
    """The results as a pandas DataFrame, one row per sample (a retried sample's latest row),
    sorted by sample id."""
    import pandas as pd

    table = read_table(folder)
    if table is None:
        return pd.DataFrame()
    df = table.to_pandas()
    return df.drop_duplicates("sample", keep="last").sort_values("sample").reset_index(drop=True)


def spec_of_results(folder: str | Path) -> SweepSpec:
    """The sweep spec a results folder was written for (as recorded in it)."""
    from sim.sweep.spec import parse_sweep

    meta = read_meta(folder)
    return parse_sweep(meta["spec"], Path(meta["folder"]))
