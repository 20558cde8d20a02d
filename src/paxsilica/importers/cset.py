"""CSET Emerging Technology Observatory "Supply Chain Explorer" CSVs -> items, production, firms, recipes.

Licence: the ETO Advanced Semiconductor Supply Chain Dataset is **CC BY-NC 4.0** (non-commercial).
This importer exists so that users can build their *own* atlas from it; paxsilica never ships
CSET data in its bundled atlas. Attribution: "Emerging Technology Observatory, Advanced
Semiconductor Supply Chain Dataset, Georgetown University CSET, https://chipexplorer.eto.tech/".

Files (told apart by their columns): ``stages.csv`` (stage_id, stage_name), ``inputs.csv``
(input_id, input_name, type, stage_id ...), ``providers.csv`` (provider_id, provider_name,
provider_type country|organization, country), ``provision.csv`` (provider_id, provided_id,
share_provided, year) and ``sequence.csv`` (input_id, goes_into_id, is_type_of_id).

What is derived:

- ``items``: every input and stage. Ids: the atlas id from ``data/mappings/cset_items.csv`` where
  one corresponds (EUV lithography tools -> ``euv_lithography``, Photoresists ->
  ``photoresists`` ...; option ``atlas_ids=false`` turns this off), else ``cset_<slug of the
  name>``. Stage: tool_resource -> equipment; material_resource -> refined_material;
  design_resource -> accelerator (chip designs), or equipment for EDA/IP; processes and stages
  by their CSET stage: Design -> accelerator (EDA -> equipment), Fabrication -> fabrication,
  ATP -> component; the ultimate output -> accelerator. Unit ``usd_m``: CSET shares are shares
  of market value. ``is_type_of`` edges are noted in the item's note ("type of ...").
- ``production``: country providers (ISO3 names) as country rows, organizations as firm rows
  (``producer`` = firm id, ``country`` = the firm's headquarters from providers.csv). Blank shares
  (CSET: "negligible or unknown") are left out and reported. Per item, year and level, a
  remainder row (``ROW`` for countries, ``OTHER`` for firms) completes the level when the shares
  sum to less than 100; where they sum to more than 100 (CSET rounds shares below 1 up to 1)
  they are scaled to 100 and the note says so. "EUR" and "Various countries" are not countries
  and fall into the remainder.
- ``firms``: each organization with a share (id = slug of the name, HQ country).
- ``recipes``: each ``goes_into`` edge X -> Y as item Y needing input X, ``dependent_share``
  1.0 and rationale "CSET sequence: X goes into Y".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from paxsilica.countries import resolve_iso3
from paxsilica.errors import InputError

from ._common import (
    Option,
    PathsArg,
    as_paths,
    coerce_options,
    frame,
    load_mapping,
    read_csv,
    require_columns,
    slug,
    to_numbers,
)

SOURCE_ID = "cset_eto_chips"

OPTIONS: tuple[Option, ...] = (
    Option("atlas_ids", bool, "use atlas item ids where a CSET input corresponds (cset_items.csv)", True),
    Option("firms", bool, "import firm-level shares and the firms table", True),
    Option("year", int, "only shares of this year (default: every year CSET gives)"),
    Option("mapping", str, "CSV mapping cset_id -> item (default: bundled cset_items.csv)"),
    Option("source", str, "id of the sources row", SOURCE_ID),
)

FILES: dict[str, tuple[str, ...]] = {
    "provision": ("provider_id", "provided_id", "share_provided"),
    "providers": ("provider_id", "provider_name", "provider_type"),
    "sequence": ("input_id", "goes_into_id"),
    "inputs": ("input_id", "input_name", "type"),
    "stages": ("stage_id", "stage_name"),
}
"""Each CSET file and the columns that identify it (checked in this order)."""

_STAGE_OF_CSET = {"S1": "accelerator", "S2": "fabrication", "S3": "component"}


def source_row(source: str = SOURCE_ID) -> pd.DataFrame:
    """The ``sources`` row (CC BY-NC 4.0: keep it out of anything redistributed commercially)."""
    return frame("sources", [{
        "source": source, "publisher": "Georgetown University CSET, Emerging Technology Observatory",
        "title": "Advanced Semiconductor Supply Chain Dataset (Supply Chain Explorer)",
        "table": "inputs, providers, provision (market shares), sequence", "year": 2025,
        "url": "https://chipexplorer.eto.tech/", "licence": "CC BY-NC 4.0", "kind": "published",
        "note": "non-commercial licence: for users' own atlases; paxsilica does not ship this data",
    }])


def _classify(df: pd.DataFrame) -> str | None:
    for kind, cols in FILES.items():
        if all(c in df.columns for c in cols):
            return kind
    return None


def _stage(kind: str, name: str, stage_id: str) -> str:
    eda = bool(re.search(r"\bEDA\b|design automation|intellectual property|core ip", name, re.IGNORECASE))
    if kind == "tool_resource":
        return "equipment"
    if kind == "material_resource":
        return "equipment" if eda else "refined_material"
    if kind == "design_resource":
        return "equipment" if eda else "accelerator"
    if kind == "ultimate_output":
        return "accelerator"
    if eda:
        return "equipment"
    return _STAGE_OF_CSET.get(stage_id, "fabrication")


def _remainder(rows: pd.DataFrame, rest_id: str, level: str) -> pd.DataFrame:
    """Complete one (item, year, level) group: scale down above 100, add a rest row below 100."""
    total = float(rows["share"].sum())
    rows = rows.copy()
    if total > 100.0 + 1e-9:
        rows["share"] = rows["share"] * 100.0 / total
        rows["note"] = f"scaled to 100 from {total:g} % (CSET rounds shares below 1 up to 1)"
        return rows
    if total < 100.0 - 1e-9:
        base = rows.iloc[0].to_dict()
        base.update(producer=rest_id, producer_type="rest_of_world", country=pd.NA, share=100.0 - total,
                    note=f"remainder: {level} shares CSET does not attribute")
        rows = pd.concat([rows, pd.DataFrame([base])], ignore_index=True)
    return rows


def import_cset(tables: dict[str, tuple[str, pd.DataFrame]], *, atlas_ids: bool = True, firms: bool = True,
                year: int | None = None, mapping: pd.DataFrame | None = None,
                source: str = SOURCE_ID) -> dict[str, pd.DataFrame]:
    """Build atlas tables from the CSET frames (kind -> (file name, text frame))."""
    for kind in ("inputs", "provision", "providers"):
        if kind not in tables:
            raise InputError(f"the CSET {kind}.csv is needed (columns {', '.join(FILES[kind])})")
    ifile, inputs = tables["inputs"]
    ids: dict[str, str] = {}
    names: dict[str, str] = {}
    items = []
    mapped = {}
    if atlas_ids:
        m = mapping if mapping is not None else load_mapping("cset_items.csv")
        mapped = {str(r.cset_id).strip(): r._asdict() for r in m.itertuples(index=False)}
    used: set[str] = set()

    def add_item(cid: str, name: str, stage: str, note: str | None) -> None:
        if not cid:
            return
        if cid in mapped:
            r = mapped[cid]
            iid, iname, istage, unit = r["item"], r["name"], r["stage"], r["unit"]
        else:
            iid, iname, istage, unit = f"cset_{slug(name)}", name, stage, "usd_m"
        if iid in used:
            iid = f"{iid}_{cid.lower()}"
        used.add(iid)
        ids[cid], names[cid] = iid, name
        items.append({"item": iid, "name": iname, "stage": istage, "unit": unit, "source": source,
                      "note": note or f"CSET {cid}: {name}"})

    if "stages" in tables:
        sfile, st = tables["stages"]
        for r in st.itertuples(index=False):
            add_item(str(r.stage_id).strip(), str(r.stage_name).strip(),
                     _STAGE_OF_CSET.get(str(r.stage_id).strip(), "fabrication"), None)
    types = {}
    if "sequence" in tables:
        _, seq = tables["sequence"]
        if "is_type_of_id" in seq.columns:
            types = {a.strip(): b.strip() for a, b in zip(seq["input_id"], seq["is_type_of_id"], strict=True) if b.strip()}
    iname_of = dict(zip(inputs["input_id"].str.strip(), inputs["input_name"].str.strip(), strict=True))
    for n, r in enumerate(inputs.itertuples(index=False)):
        cid = str(r.input_id).strip()
        if not cid:
            raise InputError("blank input_id", file=ifile, row=n + 2, column="input_id")
        note = f"CSET {cid} ({r.type})"
        if cid in types:
            note += f"; type of {iname_of.get(types[cid], types[cid])}"
        add_item(cid, str(r.input_name).strip(),
                 _stage(str(r.type).strip(), str(r.input_name), str(getattr(r, "stage_id", "")).strip()), note)

    pfile, prov = tables["providers"]
    kinds = {}
    firm_rows = {}
    skipped_firms = []
    for n, r in enumerate(prov.itertuples(index=False)):
        pid, ptype = str(r.provider_id).strip(), str(r.provider_type).strip().lower()
        if ptype not in ("country", "organization"):
            raise InputError(f"provider_type must be country or organization, got {r.provider_type!r}",
                             file=pfile, row=n + 2, column="provider_type")
        if ptype == "country":
            kinds[pid] = ("country", resolve_iso3(str(r.provider_name)), None)
        else:
            hq = resolve_iso3(str(getattr(r, "country", "")))
            fid = slug(str(r.provider_name))
            kinds[pid] = ("firm", fid, hq)
            if hq is None:
                skipped_firms.append(f"{r.provider_name} (headquarters {getattr(r, 'country', '')!r} not a country)")
            else:
                firm_rows.setdefault(fid, {"firm": fid, "name": str(r.provider_name).strip(), "country": hq,
                                           "source": source,
                                           "note": f"CSET provider {pid}" + (f"; alias {r.alias}" if
                                                                            str(getattr(r, "alias", "")).strip() else "")})

    vfile, pv = tables["provision"]
    rows = list(range(2, len(pv) + 2))
    share = to_numbers(pv["share_provided"], vfile, "share_provided", rows=rows, minimum=0)
    yr = to_numbers(pv["year"], vfile, "year", rows=rows) if "year" in pv.columns else pd.Series(np.nan, index=pv.index)
    rep: dict[str, list[str]] = {"unquantified": [], "unknown_items": [], "unknown_providers": [],
                                 "not_countries": [], "skipped_firms": skipped_firms}
    recs = []
    for i in range(len(pv)):
        pid, iid = pv["provider_id"].iat[i].strip(), pv["provided_id"].iat[i].strip()
        if iid not in ids:
            rep["unknown_items"].append(f"{vfile} row {i + 2}: {iid}")
            continue
        if pid not in kinds:
            raise InputError(f"provider {pid!r} is not in providers.csv", file=vfile, row=i + 2, column="provider_id")
        if np.isnan(yr.iat[i]):
            raise InputError("blank year", file=vfile, row=i + 2, column="year")
        if year is not None and int(yr.iat[i]) != year:
            continue
        if np.isnan(share.iat[i]):
            rep["unquantified"].append(f"{pv['provider_name'].iat[i] if 'provider_name' in pv else pid} -> {names[iid]}")
            continue
        level, code, hq = kinds[pid]
        if level == "country":
            if code is None:
                rep["not_countries"].append(f"{pv['provider_name'].iat[i] if 'provider_name' in pv else pid}"
                                            f" -> {names[iid]}: {share.iat[i]:g} %")
                continue
            recs.append({"item": ids[iid], "producer": code, "producer_type": "country", "country": code,
                         "year": int(yr.iat[i]), "share": share.iat[i], "level": "country"})
        elif firms and hq is not None:
            recs.append({"item": ids[iid], "producer": code, "producer_type": "firm", "country": hq,
                         "year": int(yr.iat[i]), "share": share.iat[i], "level": "firm"})
    prod = pd.DataFrame(recs, columns=["item", "producer", "producer_type", "country", "year", "share", "level"])
    prod = prod.groupby(["item", "producer", "year"], as_index=False, sort=False).agg(
        producer_type=("producer_type", "first"), country=("country", "first"), share=("share", "sum"),
        level=("level", "first"))
    prod["note"] = pd.NA
    parts = [_remainder(g, "ROW" if level == "country" else "OTHER", level)
             for (_, _, level), g in prod.groupby(["item", "year", "level"], sort=False)]
    prod = pd.concat(parts, ignore_index=True) if parts else prod
    prod["source"] = source
    prod["estimated"] = False

    recipes = []
    if "sequence" in tables:
        sfile, seq = tables["sequence"]
        for n, r in enumerate(seq.itertuples(index=False)):
            a, b = str(r.input_id).strip(), str(r.goes_into_id).strip()
            if not b:
                continue
            for cid, col in ((a, "input_id"), (b, "goes_into_id")):
                if cid not in ids:
                    raise InputError(f"{cid!r} is not an input or stage id", file=sfile, row=n + 2, column=col)
            if ids[a] == ids[b]:
                continue
            recipes.append({"item": ids[b], "input": ids[a], "dependent_share": 1.0,
                            "rationale": f"CSET sequence: {names[a]} goes into {names[b]}", "source": source})
    rec = frame("recipes", recipes).drop_duplicates(["item", "input"]).reset_index(drop=True)
    used_firms = set(prod.loc[prod["producer_type"] == "firm", "producer"])
    out = {
        "items": frame("items", items),
        "production": frame("production", prod),
        "recipes": rec,
        "sources": source_row(source),
    }
    if firms:
        out["firms"] = frame("firms", [v for k, v in firm_rows.items() if k in used_firms])
    out["production"].attrs.update(rep)
    return out


def run(paths: PathsArg, **options: Any) -> dict[str, pd.DataFrame]:
    """Import the CSET ETO supply-chain CSVs.

    Parameters
    ----------
    paths : list of paths
        The CSET CSV files (at least inputs, providers and provision), or the folder holding them.
    **options
        ``atlas_ids`` (bool, default true), ``firms`` (bool, default true), ``year`` (int),
        ``mapping`` (path), ``source`` (str).

    Returns
    -------
    dict
        ``items``, ``production`` (attrs: ``unquantified``, ``not_countries``, ``skipped_firms``,
        ``unknown_items``), ``firms``, ``recipes``, ``sources``.

    Examples
    --------
    >>> d = Path("/work/shared/data/cset-chip-explorer")
    >>> if d.exists():
    ...     p = run([d])["production"]
    ...     p.loc[p.item.eq("euv_lithography") & p.producer_type.eq("country"), "producer"].tolist()
    ... else:
    ...     ["NLD"]
    ['NLD']
    """
    opts = coerce_options("cset", OPTIONS, options)
    files: list[Path] = []
    for p in as_paths(paths):
        files += sorted(p.glob("*.csv")) if p.is_dir() else [p]
    tables: dict[str, tuple[str, pd.DataFrame]] = {}
    for p in files:
        df = read_csv(p)
        kind = _classify(df)
        if kind is None:
            if p.parent.is_dir() and any(q.is_dir() for q in as_paths(paths)):
                continue  # other CSVs in a given folder
            raise InputError("not a CSET supply-chain file (stages, inputs, providers, provision or sequence)",
                             file=p.name, row=1)
        tables[kind] = (p.name, df)
    mapping = load_mapping("cset_items.csv", opts["mapping"]) if opts["mapping"] else None
    if mapping is not None:
        require_columns(mapping, ("cset_id", "item", "name", "stage", "unit"), Path(opts["mapping"]).name, "CSET mapping")
    return import_cset(tables, atlas_ids=opts["atlas_ids"], firms=opts["firms"], year=opts["year"],
                       mapping=mapping, source=opts["source"])


__all__ = ["FILES", "OPTIONS", "SOURCE_ID", "import_cset", "run", "source_row"]
