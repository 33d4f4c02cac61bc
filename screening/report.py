"""Offline HTML report of a screen: ``python -m screening report`` (``make report``).

One self-contained page (no external CSS, JS or fonts; figures embedded as base64 data URIs) with

* a header: package version, date, the command that produced the page, git commit, input file hashes;
* the ranking table: the top ``N`` rows and a chosen subset of columns (candidate, prior score, every
  tier-2/3 result column present), sortable by clicking a column header (a few lines of vanilla JS);
* the provenance recorded in the ranking's provenance columns (calculators, settings, model ids);
* every figure found in the reports folder, grouped by tier, each captioned with the calculator and
  settings that produced it;
* the validation figures, ``validation.csv`` and ``validation_summary.json`` when present.

Figure provenance ("sidecar" convention): next to ``<name>.png`` a file ``<name>.json`` (or
``<name>.png.json``) holding a JSON object with the keys ``"calculator"`` (e.g.
:meth:`screening.calculators.CalculatorInfo.as_dict`), ``"settings"`` and ``"caption"``. Code that
makes a figure writes it with :func:`write_plot_provenance`. Without a sidecar, the caption repeats what
the ranking's provenance columns say for that figure's tier and says "provenance: see ranking columns".
"""

from __future__ import annotations

import base64
import datetime as _dt
import fnmatch
import html
import json
import math
import numbers
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd

from screening.errors import CandidateError
from screening.provenance import atomic_write, git_state, package_version, sha256_file

DEFAULT_TOP = 200
MAX_VALIDATION_ROWS = 1000

#: Ranking columns always shown (when present), in this order.
BASE_COLUMNS = ("rank", "candidate_id", "formula", "metal", "metal_family", "h_per_metal", "pressure_gpa",
                "prior_score", "rank_in_metal", "prior_training_positive")
#: Tier-2 result columns shown when present and not empty (tier 2a: PROXY_COLUMNS, tier 2b: MELTING_COLUMNS,
#: without their provenance columns, which get their own section).
TIER2_COLUMNS = ("enthalpy_phase", "e_above_hull_ev_per_atom", "dH_f_ev_per_atom", "precursor", "dH_r_kj_per_mol_h2",
                 "dH_r_ev_per_metal", "dV_r_a3_per_metal", "onset_pressure_gpa", "onset_status", "enthalpy_converged",
                 "enthalpy_status", "tm_metal_k", "tm_metal_err_k", "h_diffusion_onset_k", "superionic",
                 "melting_method", "melting_status", "engine_status", "engine_uptake_rate_per_ps",
                 "engine_uptake_rate_err_per_ps", "engine_h_per_metal_final", "engine_product_phase",
                 "engine_control_uptake_rate_per_ps")
#: Column added by the report: which tiers have physics results for the row (see :func:`physics_tiers`).
PHYSICS_COLUMN = "physics"
#: Columns shown before "all columns" is ticked (when present): the rank, the candidate, the physics mark, the
#: score and the synthesis window side by side, then the prior and the headline tier-2/3 numbers. The other
#: chosen columns are in the page and appear with the "all columns" box; every column of a row is in its panel.
COMPACT_COLUMNS = ("synth_rank", "rank", "candidate_id", PHYSICS_COLUMN, "synth_score", "synth_score_sigma", "p_min_gpa",
                   "pressure_margin_gpa", "t_min_k", "t_max_k", "recommended_precursor", "prior_score",
                   "e_above_hull_ev_per_atom", "dH_r_kj_per_mol_h2", "onset_pressure_gpa", "tm_metal_k",
                   "engine_uptake_rate_per_ps")
#: Short header text for the compact view (the full name is the header's tooltip and data-col).
SHORT_HEADERS = {"synth_rank": "rank", "rank": "prior rank", "candidate_id": "candidate", "synth_score": "score",
                 "synth_score_sigma": "±σ", "p_min_gpa": "p_min GPa", "pressure_margin_gpa": "P−p_min",
                 "t_min_k": "T_min K", "t_max_k": "T_max K", "recommended_precursor": "precursor",
                 "prior_score": "prior", "e_above_hull_ev_per_atom": "E_hull eV/at",
                 "dH_r_kj_per_mol_h2": "ΔH_r kJ/mol", "onset_pressure_gpa": "onset GPa", "tm_metal_k": "T_m K",
                 "engine_uptake_rate_per_ps": "uptake /ps"}
#: Tier marks: (label, column that holds that tier's headline number).
PHYSICS_TIERS = (("2a", "dH_r_kj_per_mol_h2"), ("2b", "tm_metal_k"), ("3", "engine_uptake_rate_per_ps"))
#: Combined score and synthesis window (screening.score SCORE_COLUMNS, screening.window WINDOW_COLUMNS), when present.
SCORE_WINDOW_COLUMNS = ("synth_score", "synth_score_sigma", "synth_rank_in_metal", "synth_terms_present", "p_min_gpa",
                        "pressure_margin_gpa", "t_min_k", "t_max_k", "recommended_precursor")
#: Further result columns are picked up by prefix.
EXTRA_PREFIXES = ("score", "window", "p_min", "synth_")
#: Columns that record what produced the numbers (shown in the provenance section, not in the table).
PROVENANCE_COLUMNS = ("prior_model", "prior_training_data_sha256", "software_versions",
                      "enthalpy_calculator", "enthalpy_settings", "melting_calculator", "score_weights",
                      "lab_temperature_k")
PROVENANCE_SUFFIXES = ("_calculator", "_settings", "_provenance", "_potential", "_model", "_sha256", "_versions",
                       "_source", "_weights")
#: Row order of the table: the first of these present (the combined score's rank, else the prior's).
ORDER_COLUMNS = ("synth_rank", "rank")
ORDER_TEXT = {"synth_rank": "the combined synthesizability score", "rank": "the tier-1 prior"}

COLUMN_HELP = {
    "rank": "1 = highest tier-1 prior score",
    "synth_rank": "1 = highest combined synthesizability score",
    "synth_score": "combined synthesizability score (weighted terms; see README)",
    "p_min_gpa": "lowest pressure at which this H/M is expected to form, GPa",
    "candidate_id": "<formula>@<P>GPa",
    "h_per_metal": "H atoms per metal atom",
    "pressure_gpa": "pressure, GPa",
    "prior_score": "tier-1 positive-unlabeled prior score in [0, 1] (resemblance to made hydrides, not a probability)",
    "rank_in_metal": "rank among candidates of the same metal system",
    "prior_training_positive": "an experimental training positive: its score is in-sample",
    "enthalpy_phase": "lowest-enthalpy template for this H/M at P (tier 2a)",
    "e_above_hull_ev_per_atom": "distance to the convex hull at P, eV/atom (tier 2a)",
    "dH_f_ev_per_atom": "formation enthalpy from M + H2, eV/atom (tier 2a)",
    "precursor": "highest hull stoichiometry below x at P (tier 2a)",
    "dH_r_kj_per_mol_h2": "reaction enthalpy precursor + H2 -> MH_x per H2, kJ/mol (negative = favourable; tier 2a)",
    "dH_r_ev_per_metal": "reaction enthalpy per metal atom, eV (tier 2a)",
    "dV_r_a3_per_metal": "reaction volume, A^3 per metal (negative = pressure helps; tier 2a)",
    "onset_pressure_gpa": "pressure where the reaction enthalpy changes sign, GPa (tier 2a)",
    "tm_metal_k": "melting temperature of the metal sublattice, K (tier 2b)",
    "tm_metal_err_k": "uncertainty of T_m, K (tier 2b)",
    "h_diffusion_onset_k": "onset of H diffusion (superionic), K (tier 2b)",
    "t_min_k": "lower end of the synthesis temperature window, K",
    "t_max_k": "upper end of the synthesis temperature window, K",
    "recommended_precursor": "starting material of the synthesis window",
    "pressure_margin_gpa": "candidate pressure minus p_min, GPa",
    "synth_score_sigma": "uncertainty of the combined score",
    PHYSICS_COLUMN: "tiers with physics results for this row: 2a enthalpy proxy, 2b melting, 3 engine MD "
                    "(empty: tier-1 estimates only)",
    "engine_uptake_rate_per_ps": "H uptake rate of the precursor slab in the interface MD, (H/M)/ps (tier 3)",
}


@dataclass(frozen=True)
class Tier:
    """A group of figures: file patterns and the ranking columns that hold its provenance."""

    key: str
    title: str
    patterns: tuple[str, ...]
    provenance_columns: tuple[str, ...]


TIERS = (
    Tier("tier1", "Tier 1: learned prior", ("prior_*.png",),
         ("prior_model", "prior_training_data_sha256", "software_versions")),
    Tier("tier2a", "Tier 2a: pressure-enthalpy proxy", ("enthalpy_*.png", "hydrogenation_*.png"),
         ("enthalpy_calculator", "enthalpy_settings")),
    Tier("tier2b", "Tier 2b: melting temperature", ("melting_*.png",), ("melting_calculator", "melting_method")),
    Tier("tier3", "Tier 3: engine (fitted potential, interface MD)", ("engine_*.png",), ()),
    Tier("validation", "Validation", ("validation*.png",), ()),
)


# --------------------------------------------------------------------------- sidecars
from screening.figure_provenance import read_plot_provenance, sidecar_paths, write_plot_provenance  # noqa: E402,F401

# --------------------------------------------------------------------------- header facts
# --------------------------------------------------------------------------- formatting
def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _format_number(v: float) -> str:
    if v == int(v) and abs(v) < 1e6:
        return str(int(v))
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.3g}"
    return f"{v:.4g}"


def _cell(value: Any, hidden: bool = False) -> str:
    """One ``<td>``: numbers carry their raw value in ``data-v`` for sorting; missing values are empty;
    ``hidden`` adds class ``x`` (shown only with "all columns")."""
    x = " x" if hidden else ""
    plain = '<td class="x">' if hidden else "<td>"
    if _is_missing(value):
        return f'<td data-v="" class="na{x}"></td>'
    if isinstance(value, (bool,)) or str(value) in ("True", "False"):
        return f"{plain}{'yes' if str(value) == 'True' else 'no'}</td>"
    if isinstance(value, numbers.Real):
        v = float(value)
        if math.isfinite(v):
            return f'<td data-v="{v!r}" class="num{x}">{_format_number(v)}</td>'
        return f'<td data-v="" class="na{x}">{_esc(value)}</td>'
    return f"{plain}{_esc(value)}</td>"


#: Columns whose first click sorts descending (bigger is better); all others sort ascending first.
DESCENDING_FIRST = ("prior_score", "score", "synth_score", "tm_", "window", "t_max")


def physics_tiers(frame: pd.DataFrame) -> pd.Series:
    """Per row, the tiers with a physics result (``"2a 2b"``; empty for tier-1-only rows)."""
    marks = pd.Series("", index=frame.index, dtype=object)
    for label, col in PHYSICS_TIERS:
        if col in frame.columns:
            has = pd.to_numeric(frame[col], errors="coerce").notna()
            marks[has] = (marks[has] + " " + label).str.strip()
    return marks


def _table(frame: pd.DataFrame, table_id: str, sortable: bool = True, help_: dict | None = None,
           sorted_by: str | None = None, compact: Sequence[str] | None = None, row_ids: Sequence[str] | None = None
           ) -> str:
    """A data table. With ``compact``, columns not in it get class ``x`` (hidden until "all columns" is ticked)
    and headers show :data:`SHORT_HEADERS`; with ``row_ids`` every row carries ``data-id`` (click: its panel)."""
    help_ = help_ or {}
    keep = None if compact is None else set(compact)
    heads = []
    for c in frame.columns:
        tip = f"{c}: {help_[c]}" if c in help_ else str(c)
        attrs = f' title="{_esc(tip)}"'
        attrs += f' data-first="{"desc" if str(c).startswith(DESCENDING_FIRST) else "asc"}"'
        if c == sorted_by:
            attrs += ' aria-sort="ascending"'
        if keep is not None and c not in keep:
            attrs += ' class="x"'
        label = SHORT_HEADERS.get(c, c) if keep is not None else c
        heads.append(f'<th data-col="{_esc(c)}"{attrs}>{_esc(label)}</th>')
    hidden = [keep is not None and c not in keep for c in frame.columns]
    rows = []
    for k, row in enumerate(frame.itertuples(index=False)):
        cells = "".join(_cell(v, h) if c != PHYSICS_COLUMN else _cell(v, h).replace("<td", '<td data-c="physics"', 1)
                        for c, v, h in zip(frame.columns, row, hidden))
        if row_ids is None:
            rows.append(f"<tr>{cells}</tr>")
        else:
            phys = PHYSICS_COLUMN in frame.columns and str(row[list(frame.columns).index(PHYSICS_COLUMN)] or "")
            cls = ' class="phys"' if phys and phys != "nan" else ""
            rows.append(f'<tr data-id="{_esc(row_ids[k])}"{cls}>{cells}</tr>')
    cls = "data sortable" if sortable else "data"
    if keep is not None:
        cls += " compact"
    return (f'<div class="scroll"><table id="{table_id}" class="{cls}" data-rows="{len(frame)}">'
            f'<thead><tr>{"".join(heads)}</tr></thead>\n<tbody>\n' + "\n".join(rows) + "\n</tbody></table></div>")


def _kv_table(pairs: Iterable[tuple[str, Any]], table_id: str | None = None) -> str:
    ident = f' id="{table_id}"' if table_id else ""
    rows = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in pairs)
    return f'<table class="kv"{ident}>{rows}</table>'


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested dicts as ``a.b.c`` keys; lists of scalars joined, other lists as JSON."""
    if isinstance(obj, dict):
        out = []
        for k, v in obj.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(obj, list):
        if all(not isinstance(x, (dict, list)) for x in obj):
            return [(prefix, ", ".join(str(x) for x in obj))]
        return [(prefix, json.dumps(obj, default=str))]
    return [(prefix, obj)]


def _format_calculator(calc: Any) -> str:
    if isinstance(calc, dict):
        parts = [str(calc.get(k)) for k in ("name", "version") if calc.get(k)]
        label = " ".join(parts) or json.dumps(calc, default=str)
        if calc.get("kind"):
            label += f" ({calc['kind']})"
        extra = {k: v for k, v in calc.items() if k not in ("name", "version", "kind") and v not in (None, {}, [], "")}
        if extra:
            label += "; " + json.dumps(extra, default=str, sort_keys=True)
        return label
    return str(calc)


# --------------------------------------------------------------------------- ranking
def choose_columns(ranking: pd.DataFrame, extra: Sequence[str] = (), order_by: str = "rank"
                   ) -> tuple[list[str], list[str]]:
    """The table's columns, and the tier-2/3 columns left out because every value is empty.

    Order: ``order_by``, :data:`BASE_COLUMNS`, :data:`SCORE_WINDOW_COLUMNS`, :data:`TIER2_COLUMNS`, columns
    starting with :data:`EXTRA_PREFIXES` (in file order, provenance-like names excluded), then ``extra``.
    Unknown ``extra`` names raise :class:`CandidateError`.
    """
    missing = [c for c in extra if c not in ranking.columns]
    if missing:
        raise CandidateError(f"column(s) {missing} not in the ranking; it has {len(ranking.columns)} columns, "
                             f"e.g. {list(ranking.columns)[:10]}")
    cols = [order_by] + [c for c in BASE_COLUMNS if c in ranking.columns and c != order_by]
    prov = set(provenance_columns(ranking))
    optional = [c for c in (*SCORE_WINDOW_COLUMNS, *TIER2_COLUMNS) if c in ranking.columns and c not in cols]
    optional += [c for c in ranking.columns if c.startswith(EXTRA_PREFIXES) and c not in optional and c not in cols
                 and c not in prov]
    empty = [c for c in optional if ranking[c].isna().all()]
    cols += [c for c in optional if c not in empty]
    cols += [c for c in extra if c not in cols]
    return cols, empty


def provenance_columns(ranking: pd.DataFrame) -> list[str]:
    """The ranking's provenance columns: the known ones plus any ``*_calculator``/``*_settings``/... column."""
    cols = [c for c in PROVENANCE_COLUMNS if c in ranking.columns]
    cols += [c for c in ranking.columns if c.endswith(PROVENANCE_SUFFIXES) and c not in cols]
    return cols


def _distinct(series: pd.Series) -> list[tuple[str, int]]:
    counts = series.dropna().astype(str).value_counts(sort=True)
    return [(str(v), int(n)) for v, n in counts.items()]


def _pretty_settings(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=1, sort_keys=True)
    except (TypeError, ValueError):
        return text


def _provenance_section(ranking: pd.DataFrame) -> str:
    cols = provenance_columns(ranking)
    if not cols:
        return "<p>The ranking has no provenance columns.</p>"
    parts = ['<table class="kv" id="provenance"><tr><th>column</th><th>rows</th><th>distinct values (rows)</th></tr>']
    for c in cols:
        values = _distinct(ranking[c])
        if not values:
            cell = '<span class="na">empty</span>'
        else:
            items = []
            for v, n in values[:20]:
                shown = _pretty_settings(v) if c.endswith("_settings") else v
                items.append(f"<li><code>{_esc(shown)}</code> ({n})</li>" if len(shown) < 160
                             else f"<li><details><summary>{_esc(shown[:100])}... ({n})</summary><pre>{_esc(shown)}</pre>"
                                  f"</details></li>")
            more = f"<li>... and {len(values) - 20} more</li>" if len(values) > 20 else ""
            cell = f"<ul>{''.join(items)}{more}</ul>"
        parts.append(f"<tr><th>{_esc(c)}</th><td>{int(ranking[c].notna().sum())}</td><td>{cell}</td></tr>")
    parts.append("</table>")
    return "\n".join(parts)


# --------------------------------------------------------------------------- figures
def classify_figure(name: str) -> Tier | None:
    """The tier of a figure file name (``None`` for figures of no known tier)."""
    for tier in TIERS:
        if any(fnmatch.fnmatch(name, pat) for pat in tier.patterns):
            return tier
    return None


def _rows_for_figure(ranking: pd.DataFrame, tier: Tier, stem: str) -> pd.DataFrame:
    """Ranking rows that the figure is about, from its name (``enthalpy_Ca-H`` -> metal Ca)."""
    if tier.key == "tier2a" and "metals" in ranking.columns:
        m = re.match(r"(?:enthalpy|hydrogenation)_(.+)-H$", stem)
        if m:
            return ranking[ranking["metals"].astype(str) == m.group(1)]
    if tier.key == "tier2b" and "formula" in ranking.columns:
        m = re.match(r"melting_(.+)_([0-9.eE+-]+)GPa$", stem)
        if m:
            return ranking[ranking["formula"].astype(str) == m.group(1)]
    return ranking.iloc[0:0]


def fallback_caption(ranking: pd.DataFrame | None, tier: Tier | None, stem: str) -> tuple[str, str]:
    """(calculator text, note) for a figure without a sidecar, from the ranking's provenance columns."""
    if ranking is None or tier is None or not tier.provenance_columns:
        return "not recorded", "no sidecar and no provenance columns for this tier; provenance not recorded"
    cols = [c for c in tier.provenance_columns if c in ranking.columns]
    if not cols:
        return "not recorded", (f"no sidecar, and the ranking has none of the columns {list(tier.provenance_columns)}; "
                                "provenance not recorded")
    rows = _rows_for_figure(ranking, tier, stem)
    scope = "rows of this system"
    if tier.key == "tier1":
        rows, scope = ranking, "all rows"
    elif rows[cols].isna().all().all():
        rows, scope = ranking, "all rows of the ranking (no row matched this figure's system)"
    texts = []
    for c in cols:
        values = [v for v, _ in _distinct(rows[c])]
        if values:
            texts.append(f"{c}: " + " | ".join(values[:3]) + (" | ..." if len(values) > 3 else ""))
    if not texts:
        return "not recorded", f"no sidecar, and the columns {cols} are empty; provenance not recorded"
    return "; ".join(texts), f"provenance: see ranking columns {', '.join(cols)} ({scope})"


@dataclass
class Figure:
    """One embedded figure and its caption parts."""

    path: Path
    tier: Tier | None
    calculator: str
    settings: str
    caption: str
    source: str
    warnings: list[str] = field(default_factory=list)


def collect_figures(reports_dir: Path, ranking: pd.DataFrame | None, exclude: Iterable[Path] = ()) -> list[Figure]:
    """Every ``*.png`` of ``reports_dir`` (sorted), with provenance from its sidecar or the ranking."""
    skip = {Path(p).resolve() for p in exclude}
    figures = []
    for png in sorted(Path(reports_dir).glob("*.png")):
        if png.resolve() in skip:
            continue
        tier = classify_figure(png.name)
        side = read_plot_provenance(png)
        warnings: list[str] = []
        if side is not None:
            settings = side.get("settings")
            fig = Figure(png, tier, _format_calculator(side.get("calculator", "not recorded")),
                         json.dumps(settings, indent=1, sort_keys=True, default=str) if settings not in (None, "") else "",
                         str(side.get("caption", "")), f"sidecar {side['_path']}")
            recorded = side.get("png_sha256")
            if recorded and recorded != sha256_file(png):
                fig.warnings.append("the figure changed after its sidecar was written (SHA-256 differs): caption may be stale")
        else:
            calc, note = fallback_caption(ranking, tier, png.stem)
            fig = Figure(png, tier, calc, "", "", note, warnings)
        figures.append(fig)
    return figures


def _figure_html(fig: Figure, index: int) -> str:
    data = base64.b64encode(fig.path.read_bytes()).decode("ascii")
    settings = (f"<details><summary>settings</summary><pre>{_esc(fig.settings)}</pre></details>"
                if fig.settings else "")
    warn = "".join(f'<p class="warn">{_esc(w)}</p>' for w in fig.warnings)
    caption = f"{_esc(fig.caption)} " if fig.caption else ""
    return (f'<figure id="fig-{index}"><img src="data:image/png;base64,{data}" alt="{_esc(fig.path.name)}">'
            f"<figcaption><b>{_esc(fig.path.name)}</b>. {caption}<br><b>Calculator / model:</b> {_esc(fig.calculator)}"
            f' <span class="src">[{_esc(fig.source)}]</span>{settings}{warn}</figcaption></figure>')


# --------------------------------------------------------------------------- validation
def _validation_section(reports_dir: Path, figures: list[Figure], start: int) -> tuple[str, int]:
    parts = []
    for fig in figures:
        parts.append(_figure_html(fig, start))
        start += 1
    csv = reports_dir / "validation.csv"
    if csv.is_file():
        try:
            from screening.tables import read_table

            table = read_table(csv, what="validation table")
            cut = f" Showing the first {MAX_VALIDATION_ROWS}." if len(table) > MAX_VALIDATION_ROWS else ""
            parts.append(f"<p><code>{_esc(csv.name)}</code>: {len(table)} rows, {len(table.columns)} columns "
                         f"(sha256 {sha256_file(csv)[:12]}).{cut}</p>"
                         + _table(table.head(MAX_VALIDATION_ROWS), "validation-table"))
        except (OSError, ValueError) as exc:
            parts.append(f'<p class="warn">could not read {_esc(csv.name)}: {_esc(exc)}</p>')
    summary = reports_dir / "validation_summary.json"
    if summary.is_file():
        try:
            data = json.loads(summary.read_text())
            parts.append(f"<p><code>{_esc(summary.name)}</code>:</p>" + _kv_table(_flatten(data), "validation-summary"))
        except (OSError, ValueError) as exc:
            parts.append(f'<p class="warn">could not read {_esc(summary.name)}: {_esc(exc)}</p>')
    if not parts:
        parts.append("<p>No validation results in the reports folder (<code>validation.csv</code>, "
                     "<code>validation_summary.json</code>, <code>validation*.png</code>).</p>")
    return "\n".join(parts), start


# --------------------------------------------------------------------------- page
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:1.2em 2em;color:#111;
 background:#fff;font-size:14px;line-height:1.35}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.25em;border-bottom:1px solid #bbb;margin-top:1.6em}h3{font-size:1.05em}
table.kv{border-collapse:collapse;margin:.5em 0}table.kv th,table.kv td{border:1px solid #ccc;padding:2px 6px;
 text-align:left;vertical-align:top}table.kv th{background:#f2f2f2;font-weight:600}
table.kv ul{margin:0;padding-left:1.2em}
.scroll{overflow:auto;max-width:100%;max-height:80vh;border:1px solid #ccc}
table.data{border-collapse:collapse;font-size:12px;white-space:nowrap}
table.data th{position:sticky;top:0;background:#e8eef6;border-bottom:2px solid #789;padding:3px 6px;text-align:left}
table.sortable th{cursor:pointer;user-select:none}table.sortable th:hover{background:#d3deec}
table.data th[aria-sort=ascending]::after{content:" \\25B2"}table.data th[aria-sort=descending]::after{content:" \\25BC"}
table.data td{border-bottom:1px solid #e3e3e3;padding:2px 6px}table.data td.num{text-align:right;
 font-variant-numeric:tabular-nums}table.data tbody tr:nth-child(even){background:#fafafa}
td.na{color:#999}figure{margin:1em 0;max-width:1100px}figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:13px;color:#222}.src{color:#555}.warn{color:#a40000}.note{color:#333;background:#f7f7e8;
 padding:4px 8px;border-left:3px solid #cc9}pre{white-space:pre-wrap;font-size:12px;background:#f6f6f6;padding:4px}
nav a{margin-right:1em}
table.compact .x{display:none}
table.data tr[data-id]{cursor:pointer}table.data tbody tr[data-id]:hover{background:#eaf2ff}
table.data tr.phys td:first-child{box-shadow:inset 4px 0 0 #1a8a4a}
table.data td[data-c=physics]{color:#1a6a3a;font-weight:700}
table.data tr.sel{outline:2px solid #3a6fb0}
.controls{margin:.4em 0}.controls input[type=search]{font-size:13px;padding:2px 4px}#filter-count{color:#555;margin-left:1em}
#panel{position:fixed;top:0;right:0;width:min(600px,46vw);height:100vh;overflow:auto;background:#fff;z-index:10;
 border-left:2px solid #789;box-shadow:-4px 0 14px rgba(0,0,0,.25);padding:6px 14px;box-sizing:border-box}
#panel h3{margin:.3em 0 .4em}#panel h4{margin:.8em 0 .2em;font-size:13px}#panel-close{float:right;font-size:20px;
 border:0;background:none;cursor:pointer}#panel img{max-width:100%;border:1px solid #ddd}#panel table.kv{font-size:12px}
#panel table.kv th{font-weight:400;font-family:ui-monospace,monospace}#panel{overflow-x:hidden}
#panel table.kv td{word-break:break-word}
"""

#: Sorting: click a header (again to reverse); numbers by value, text naturally, empty cells always last.
#: Filter box: rows containing every typed word (any column, shown or not). "all columns" shows the hidden ones.
#: Click a row: the side panel with all its columns (from the ``row-data`` JSON) and its system's figures.
#: URL fragment, ``&``-separated: ``sort=<column>:<asc|desc>``, ``filter=<words>``, ``cols=all``, ``row=<candidate_id>``.
#: After load each table and each ranking-table header gets ``data-rendered-rect`` (x,y,w,h in CSS px), sortable
#: tables ``data-sort-ready``, each image ``data-decoded``.
JS = """
(function(){
function key(td){var v=td.getAttribute('data-v');if(v!==null){return v===''?null:parseFloat(v);}
 var t=td.textContent;return t===''?null:t;}
function sortBy(table,col,dir){var tb=table.tBodies[0];var rows=Array.prototype.slice.call(tb.rows);
 rows.forEach(function(r,i){r._i=i;});
 rows.sort(function(a,b){var x=key(a.cells[col]),y=key(b.cells[col]);
  if(x===null&&y===null)return a._i-b._i;if(x===null)return 1;if(y===null)return -1;var c;
  if(typeof x==='number'&&typeof y==='number'){c=x-y;}else{c=String(x).localeCompare(String(y),undefined,{numeric:true});}
  return c!==0?(dir==='asc'?c:-c):a._i-b._i;});
 var f=document.createDocumentFragment();rows.forEach(function(r){f.appendChild(r);});tb.appendChild(f);
 Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
  if(i===col){th.setAttribute('aria-sort',dir==='asc'?'ascending':'descending');}else{th.removeAttribute('aria-sort');}});}
function init(){var tables=document.querySelectorAll('table.sortable');
 Array.prototype.forEach.call(tables,function(table){
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
   th.addEventListener('click',function(){var cur=th.getAttribute('aria-sort');
    sortBy(table,i,cur==='ascending'?'desc':(cur==='descending'?'asc':(th.getAttribute('data-first')||'asc')));});});
  table.setAttribute('data-sort-ready','1');});
 var m=/sort=([^:&]+):(asc|desc)/.exec(decodeURIComponent(location.hash||''));
 if(m){Array.prototype.forEach.call(tables,function(table){
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
   if(th.getAttribute('data-col')===m[1]){sortBy(table,i,m[2]);}});});}}
function rect(el){var r=el.getBoundingClientRect();el.setAttribute('data-rendered-rect',
  [Math.round(r.left+window.scrollX),Math.round(r.top+window.scrollY),Math.round(r.width),Math.round(r.height)].join(','));}
function mark(){Array.prototype.forEach.call(document.querySelectorAll('table.data, #ranking-table th'),rect);
 Array.prototype.forEach.call(document.images,function(im){rect(im);
  im.setAttribute('data-decoded',(im.complete&&im.naturalWidth>0)?'1':'0');});}
function hashArg(name){var m=new RegExp('(?:^|[#&])'+name+'=([^&]*)').exec(location.hash||'');
 return m?decodeURIComponent(m[1]):null;}
function initFilter(){var box=document.getElementById('filter');if(!box)return;
 var tables=['ranking-table','tier2-table'].map(function(i){return document.getElementById(i);}).filter(Boolean);
 function apply(){var terms=box.value.toLowerCase().split(/\\s+/).filter(Boolean);var shown=0,total=0;
  tables.forEach(function(t){Array.prototype.forEach.call(t.tBodies[0].rows,function(r){total++;
   var text=r.textContent.toLowerCase();var ok=terms.every(function(q){return text.indexOf(q)>=0;});
   r.style.display=ok?'':'none';if(ok)shown++;});});
  document.getElementById('filter-count').textContent=terms.length?(shown+' of '+total+' rows match'):(total+' rows');}
 box.addEventListener('input',apply);var f=hashArg('filter');if(f!==null){box.value=f;}apply();
 var all=document.getElementById('allcols');
 function cols(){tables.forEach(function(t){t.classList.toggle('compact',!all.checked);});}
 all.addEventListener('change',cols);if(hashArg('cols')==='all'){all.checked=true;}cols();}
function el(tag,text,attrs){var e=document.createElement(tag);if(text!==null&&text!==undefined)e.textContent=text;
 for(var k in (attrs||{}))e.setAttribute(k,attrs[k]);return e;}
function initPanel(){var node=document.getElementById('row-data');if(!node)return;var data=JSON.parse(node.textContent);
 var panel=document.getElementById('panel');
 function show(id){var r=data.rows[id];if(!r)return;
  document.getElementById('panel-title').textContent=id+(r.physics?'  [tier '+r.physics+' physics]':'  [tier-1 estimates only]');
  var figs=document.getElementById('panel-figs');figs.innerHTML='';
  r.figures.forEach(function(fid){var f=document.getElementById(fid);if(!f)return;var img=f.querySelector('img');
   var a=el('a',null,{href:'#'+fid});a.appendChild(img.cloneNode(false));figs.appendChild(a);
   figs.appendChild(el('div',f.querySelector('figcaption b').textContent+' (click for its caption and provenance)'));});
  if(!r.figures.length)figs.appendChild(el('p','No figure of this system in the reports folder.'));
  var body=document.getElementById('panel-body');body.innerHTML='';var k=0;
  data.groups.forEach(function(g){body.appendChild(el('h4',g[0]+' ('+g[1]+')'));var t=el('table',null,{'class':'kv'});
   for(var j=0;j<g[1];j++,k++){var c=data.columns[k],v=r.values[k];var tr=el('tr');
    tr.appendChild(el('th',c,data.help[c]?{title:data.help[c]}:{}));tr.appendChild(el('td',v===null?'':String(v)));
    t.appendChild(tr);}body.appendChild(t);});
  panel.hidden=false;panel.setAttribute('data-shown',id);
  Array.prototype.forEach.call(document.querySelectorAll('tr.sel'),function(t){t.classList.remove('sel');});
  Array.prototype.forEach.call(document.querySelectorAll('tr[data-id]'),function(t){
   if(t.getAttribute('data-id')===id)t.classList.add('sel');});}
 Array.prototype.forEach.call(document.querySelectorAll('tr[data-id]'),function(tr){
  tr.addEventListener('click',function(){show(tr.getAttribute('data-id'));});});
 document.getElementById('panel-close').addEventListener('click',function(){panel.hidden=true;});
 document.addEventListener('keydown',function(e){if(e.key==='Escape')panel.hidden=true;});
 var id=hashArg('row');if(id!==null)show(id);}
document.addEventListener('DOMContentLoaded',function(){init();initFilter();initPanel();});
window.addEventListener('load',mark);
})();
"""


PANEL = ('<aside id="panel" hidden aria-label="candidate details"><button id="panel-close" type="button" '
         'title="close (Esc)">&times;</button><h3 id="panel-title"></h3><div id="panel-body"></div>'
         '<h4>figures of this system</h4><div id="panel-figs"></div></aside>')


def figure_ids(figures: Sequence["Figure"]) -> list[tuple[str, "Figure"]]:
    """``(element id, figure)`` in the order the page renders them (tier groups, other, validation)."""
    order = [f for t in TIERS if t.key != "validation" for f in figures if f.tier is t]
    order += [f for f in figures if f.tier is None]
    order += [f for f in figures if f.tier is not None and f.tier.key == "validation"]
    return [(f"fig-{k}", f) for k, f in enumerate(order)]


def _figures_for_row(row: pd.Series, figs: Sequence[tuple[str, "Figure"]]) -> list[str]:
    """Ids of the figures about this row's system (tier 2a/3 by metal, tier 2b by formula and pressure)."""
    from screening.proxies.melting import plot_path

    metals, ids = str(row.get("metals", "")), []
    try:
        melting = plot_path(".", str(row.get("formula", "")), float(row.get("pressure_gpa", math.nan))).stem
    except CandidateError:  # no usable formula: no melting figure
        melting = None
    for fid, fig in figs:
        stem = fig.path.stem
        m = re.match(r"(?:enthalpy|hydrogenation|engine)_(.+?)-H(?:_|$)", stem)
        if (m and m.group(1) == metals) or stem == melting:
            ids.append(fid)
    return ids


def _json_value(v: Any) -> Any:
    if _is_missing(v):
        return None
    if isinstance(v, numbers.Real) and not isinstance(v, bool):
        v = float(v)
        return v if math.isfinite(v) else str(v)
    return str(v) if not isinstance(v, (bool, str)) else v


def _row_data_script(rows: pd.DataFrame, table_cols: Sequence[str], prov_cols: Sequence[str],
                     all_cols: Sequence[str], figs: Sequence[tuple[str, "Figure"]]) -> str:
    """Every column of the rows in the tables, as JSON for the per-candidate panel, grouped into the table's
    columns, provenance columns and the rest (descriptors); ``</`` is escaped so the data cannot end the script."""
    groups = [("results (table columns)", [c for c in table_cols if c != PHYSICS_COLUMN]),
              ("provenance", [c for c in prov_cols if c not in table_cols]),
              ("other columns (candidate, descriptors)", [c for c in all_cols if c not in table_cols
                                                          and c not in prov_cols])]
    columns = [c for _, cs in groups for c in cs]
    payload = {
        "groups": [[title, len(cs)] for title, cs in groups],
        "columns": columns,
        "help": {c: COLUMN_HELP[c] for c in columns if c in COLUMN_HELP},
        "rows": {str(r["candidate_id"]): {"values": [_json_value(r[c]) for c in columns],
                                          "physics": str(r.get(PHYSICS_COLUMN, "") or ""),
                                          "figures": _figures_for_row(r, figs)}
                 for _, r in rows.iterrows()},
    }
    text = json.dumps(payload, allow_nan=False, separators=(",", ":")).replace("</", "<\\/")
    return f'<script type="application/json" id="row-data">{text}</script>'


def _read_ranking(ranking_csv: Path) -> pd.DataFrame:
    from screening.tables import read_table

    return read_table(ranking_csv, required=("candidate_id", "rank"), what="ranking", hint="run 'make screen' first")


def build_report(
    ranking_csv: str | Path,
    reports_dir: str | Path | None = None,
    out_html: str | Path = "reports/report.html",
    top: int = DEFAULT_TOP,
    *,
    extra_columns: Sequence[str] = (),
    order_by: str | None = None,
    command: str | None = None,
) -> Path:
    """Write the self-contained HTML report and return its path.

    Args:
        ranking_csv: the ranking (``reports/ranking.csv`` from ``make screen``, with any tier-2/3 columns merged in).
        reports_dir: folder searched for figures and validation files (default: the folder of ``out_html``).
        out_html: the page to write (atomically).
        top: rows of the ranking table (the ``top`` best ranks); the page says how many of how many are shown.
        extra_columns: further ranking columns to show in the table.
        order_by: a rank column (1 = best) to order the rows by; default ``synth_rank`` (combined score) when the
            ranking has it, else ``rank`` (tier-1 prior).
        command: the command to print in the header (default: the equivalent ``python -m screening report`` call).

    Raises:
        CandidateError: missing ranking file, no ``candidate_id``/``rank`` column, ``top`` < 1, unknown extra column,
            or a missing reports folder.
    """
    ranking_csv, out_html = Path(ranking_csv), Path(out_html)
    reports_dir = Path(reports_dir) if reports_dir is not None else out_html.parent
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise CandidateError(f"top must be a positive integer, got {top!r}")
    if not reports_dir.is_dir():
        raise CandidateError(f"reports folder {str(reports_dir)!r} does not exist")
    ranking = _read_ranking(ranking_csv)
    if order_by is None:
        order_by = next((c for c in ORDER_COLUMNS if c in ranking.columns and ranking[c].notna().any()), "rank")
    if order_by not in ranking.columns:
        raise CandidateError(f"order_by column {order_by!r} not in the ranking; rank columns present: "
                             f"{[c for c in ranking.columns if 'rank' in c]}")
    ranking = ranking.sort_values(order_by, kind="stable", na_position="last").reset_index(drop=True)
    if command is None:
        command = "python -m screening report " + shlex.join(
            ["--ranking", str(ranking_csv), "--reports", str(reports_dir), "--out", str(out_html), "--top", str(top)])

    original_columns = list(ranking.columns)
    cols, empty = choose_columns(ranking, extra_columns, order_by)
    ranking[PHYSICS_COLUMN] = physics_tiers(ranking)
    cols.insert(cols.index("candidate_id") + 1, PHYSICS_COLUMN)
    compact = [c for c in COMPACT_COLUMNS if c in cols]
    shown = ranking.head(top)[cols]
    # Sparse result columns (tier 2/3 run on a shortlist): rows with any of them but outside the top get their own table.
    tier_cols = [c for c in cols if c not in BASE_COLUMNS and ranking[c].notna().mean() < 0.5]
    has_result = ranking[tier_cols].notna().any(axis=1) if tier_cols else pd.Series(False, index=ranking.index)
    outside = ranking.loc[has_result & (ranking.index >= top), cols]

    figures = collect_figures(reports_dir, ranking, exclude=[out_html])
    now = _dt.datetime.now(_dt.timezone.utc)
    header = _kv_table([
        ("package", f"superhydride-screening {package_version()}"),
        ("generated", now.strftime("%Y-%m-%d %H:%M:%S UTC")),
        ("command", command),
        ("git commit", git_state()),
        ("ranking", f"{ranking_csv} ({len(ranking)} rows x {len(ranking.columns)} columns; "
                    f"sha256 {sha256_file(ranking_csv)[:16]}; modified "
                    f"{_dt.datetime.fromtimestamp(ranking_csv.stat().st_mtime, _dt.timezone.utc):%Y-%m-%d %H:%M UTC})"),
        ("reports folder", f"{reports_dir} ({len(figures)} figures)"),
    ], "header")

    n_tier = {f"tier {label}": int(pd.to_numeric(ranking[c], errors="coerce").notna().sum())
              for label, c in PHYSICS_TIERS if c in ranking.columns}
    coverage = "; ".join(f"{k} results for {v} candidate{'s' if v != 1 else ''}" for k, v in n_tier.items())
    coverage = (coverage[:1].upper() + coverage[1:]) if coverage else "No tier-2 columns"
    note = (f'<p class="note" id="table-note">Showing the <b>top {len(shown)}</b> of <b>{len(ranking)}</b> candidates '
            f"(by <code>{_esc(order_by)}</code>, {_esc(ORDER_TEXT.get(order_by, 'ascending'))}) and <b>{len(cols)}</b> of <b>{len(ranking.columns)}</b> columns; "
            f"the full table is <code>{_esc(ranking_csv)}</code>. The compact view puts the score beside the synthesis "
            f"window; tick <i>all columns</i> for the rest. Click a column header to sort (click again to reverse; "
            f"empty cells sort last), a row for all of its columns, provenance and figures. Rows marked in the "
            f"<code>{PHYSICS_COLUMN}</code> column (green edge) have tier-2/3 physics; the others are tier-1 estimates. "
            f"{coverage}."
            + (f" Tier-2/3 columns present but empty everywhere (not shown): {_esc(', '.join(empty))}." if empty else "")
            + "</p>")

    outside = outside.head(top)
    controls = ('<div class="controls"><input id="filter" type="search" placeholder="filter rows: e.g. La 150 CaH6" '
                'aria-label="filter rows" size="36"> <label><input type="checkbox" id="allcols"> all columns</label> '
                '<span id="filter-count"></span></div>')
    sections = [f"<h2 id=\"ranking\">Ranking</h2>{note}{controls}"
                + _table(shown, "ranking-table", help_=COLUMN_HELP, sorted_by=order_by, compact=compact,
                         row_ids=shown["candidate_id"].astype(str).tolist())]
    if len(outside):
        sections.append(f"<h3>Candidates with tier-2/3 results outside the top {top} ({len(outside)})</h3>"
                        + _table(outside, "tier2-table", help_=COLUMN_HELP, sorted_by=order_by, compact=compact,
                                 row_ids=outside["candidate_id"].astype(str).tolist()))
    details = ranking.loc[list(shown.index) + list(outside.index)]
    sections.append(_row_data_script(details, cols, provenance_columns(ranking), original_columns,
                                     figure_ids(figures)))
    sections.append(f'<h2 id="provenance-h">Provenance recorded in the ranking</h2>{_provenance_section(ranking)}')

    index = 0
    validation_figs = [f for f in figures if f.tier is not None and f.tier.key == "validation"]
    sections.append('<h2 id="figures">Figures</h2><p>Captions come from each figure\'s provenance sidecar '
                    "(<code>&lt;name&gt;.json</code>) when present, otherwise from the ranking's provenance columns.</p>")
    groups = [(t.title, [f for f in figures if f.tier is t]) for t in TIERS if t.key != "validation"]
    groups.append(("Other figures", [f for f in figures if f.tier is None]))
    for title, figs in groups:
        if not figs:
            continue
        body = []
        for fig in figs:
            body.append(_figure_html(fig, index))
            index += 1
        sections.append(f"<h3>{_esc(title)} ({len(figs)})</h3>" + "\n".join(body))
    if not figures:
        sections.append("<p>No figures in the reports folder.</p>")
    validation_html, index = _validation_section(reports_dir, validation_figs, index)
    sections.append('<h2 id="validation">Validation</h2><p>Made by <code>make validate</code> (leave-one-metal-out '
                    "recall of the prior, <code>reports/prior_lomo.csv</code>, and the score and synthesis window against "
                    "experiment, <code>reports/validation.*</code>; <code>make validate DATA=other.csv</code> for another "
                    f"table); run <code>make report</code> again afterwards.</p>{validation_html}")

    nav = ('<nav><a href="#ranking">Ranking</a><a href="#provenance-h">Provenance</a><a href="#figures">Figures</a>'
           '<a href="#validation">Validation</a></nav>')
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>Superhydride screening report</title><style>{CSS}</style>"
            f"<script>{JS}</script></head>\n<body>\n<h1>Superhydride screening report</h1>\n{header}\n{nav}\n"
            + "\n".join(sections) + f"\n{PANEL}\n</body></html>\n")
    return atomic_write(out_html, lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))


# --------------------------------------------------------------------------- CLI
def main(argv: Sequence[str] | None = None) -> int:
    """The old entry point: ``python -m screening.report`` is now ``python -m screening report`` (same flags)."""
    print("error: 'python -m screening.report' is now 'python -m screening report' (same flags)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
