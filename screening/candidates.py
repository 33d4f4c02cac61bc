"""The candidate grid: (metal system, H per metal, pressure) and its validation.

A candidate is a hydride ``(M1_a M2_b ...) H_x`` at pressure ``P``:

* ``metals``          comma-separated metal symbols, e.g. ``"La"`` or ``"La,Y"``;
* ``metal_fractions`` matching comma-separated fractions of the metal sublattice (sum 1);
* ``h_per_metal``     x, H atoms per metal atom;
* ``pressure_gpa``    P in GPa.

Binaries are the one-metal case, so ternaries (``"La,Y"``, ``"0.5,0.5"``) need no
other schema. Derived columns: ``candidate_id``, ``formula`` (reduced, metal first and H
last as chemists write it, :func:`screening.formulas.chemical_formula`), ``chemsys``, ``metal`` (majority metal) and ``metal_family``.
"""

from __future__ import annotations

import functools
import math
import numbers
import warnings
from typing import Iterable, Sequence

import pandas as pd

from screening.elements import FAMILY_OF, SUPPORTED_METALS, valid_choices_text
from screening.errors import CandidateError, DuplicateCandidateWarning

#: Default H/M ratios: the issue's 1-12 set plus the experimentally made 2.5 (Ca2H5),
#: 5.75 (A15 M4H23/M8H46) and 7 (NaH7, UH7).
DEFAULT_H_PER_METAL: tuple[float, ...] = (1, 2, 2.5, 3, 4, 5, 5.75, 6, 7, 8, 9, 10, 12)
DEFAULT_PRESSURES_GPA: tuple[float, ...] = (0, 25, 50, 100, 150, 200, 300)

CANDIDATE_COLUMNS = (
    "candidate_id",
    "formula",
    "chemsys",
    "metal",
    "metal_family",
    "metals",
    "metal_fractions",
    "h_per_metal",
    "pressure_gpa",
)

MetalSystem = tuple[tuple[str, ...], tuple[float, ...]]


# --------------------------------------------------------------------------- validation
def _check_number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise CandidateError(f"{what} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        raise CandidateError(f"{what} must be finite, got {value!r}")
    return value


def validate_pressures(pressures_gpa: Iterable[object]) -> list[float]:
    """Return pressures as floats; reject non-numeric, NaN, infinite and negative values."""
    out = []
    for p in _as_list(pressures_gpa, "pressures_gpa"):
        p = _check_number(p, "pressure_gpa")
        if p < 0:
            raise CandidateError(f"pressure_gpa must be >= 0 GPa, got {p!r}")
        out.append(p)
    return out


def validate_h_per_metal(ratios: Iterable[object]) -> list[float]:
    """Return H/M ratios as floats; reject non-numeric, NaN and values <= 0."""
    out = []
    for x in _as_list(ratios, "h_per_metal"):
        x = _check_number(x, "h_per_metal")
        if x <= 0:
            raise CandidateError(f"h_per_metal must be > 0 (H atoms per metal atom), got {x!r}")
        out.append(x)
    return out


def _as_list(values: object, what: str) -> list:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        values = [values]
    values = list(values)
    if not values:
        raise CandidateError(f"{what} is empty: the candidate grid would have no rows")
    return values


def _check_element(symbol: str, context: str) -> None:
    if symbol not in FAMILY_OF:
        from pymatgen.core.periodic_table import Element

        known = symbol in {e.symbol for e in Element}
        why = "is not a supported hydride-forming metal" if known else "is not a chemical element"
        raise CandidateError(f"{symbol!r} in {context!r} {why}. Valid choices: {valid_choices_text()}")


@functools.lru_cache(maxsize=4096)
def parse_metal_system(spec: str) -> MetalSystem:
    """Parse ``"La"``, ``"LaY"`` or ``"La0.75Y0.25"`` into (metals, sublattice fractions).

    Raises:
        CandidateError: unknown element, H in the spec, or unparsable text.
    """
    from pymatgen.core import Composition

    text = str(spec).strip()
    if text in FAMILY_OF:
        return (text,), (1.0,)
    try:
        comp = Composition(text)
    except Exception as exc:  # pymatgen raises several types for garbage
        raise CandidateError(
            f"cannot parse metal system {spec!r} ({exc}). Valid choices: {valid_choices_text()}"
        ) from None
    els = [str(e) for e in comp.elements]
    if not els:
        raise CandidateError(f"metal system {spec!r} is empty. Valid choices: {valid_choices_text()}")
    if "H" in els:
        raise CandidateError(f"metal system {spec!r} contains H; give metals only (H/M is set separately)")
    for el in els:
        _check_element(el, spec)
    frac = comp.fractional_composition
    return tuple(els), tuple(float(frac[e]) for e in els)


# --------------------------------------------------------------------------- formulas
@functools.lru_cache(maxsize=65536)
def _formula(metals: tuple[str, ...], fractions: tuple[float, ...], h: float) -> tuple[str, str]:
    """(chemists' formula, chemsys) of a candidate composition (:func:`screening.formulas.chemical_formula`)."""
    from pymatgen.core import Composition

    from screening.formulas import chemical_formula

    mapping = dict(zip([*metals, "H"], [*fractions, h]))
    return chemical_formula(mapping), Composition(mapping).chemical_system


def parse_formula(formula: str) -> tuple[MetalSystem, float]:
    """Parse a hydride formula such as ``"LaH10"``, ``"La4H23"`` or ``"H3S"``.

    Returns:
        ``((metals, fractions), h_per_metal)``.

    Raises:
        CandidateError: unparsable text, no H, no metal, or an unsupported element.
    """
    from pymatgen.core import Composition

    try:
        comp = Composition(str(formula))
    except Exception as exc:
        raise CandidateError(f"cannot parse formula {formula!r}: {exc}") from None
    amounts = comp.get_el_amt_dict()
    n_h = amounts.pop("H", 0.0)
    if n_h <= 0:
        raise CandidateError(f"formula {formula!r} contains no H; a hydride candidate needs hydrogen")
    if not amounts:
        raise CandidateError(f"formula {formula!r} has no metal; give e.g. 'LaH10'")
    for el in amounts:
        _check_element(el, formula)
    n_m = sum(amounts.values())
    metals = tuple(amounts)
    return (metals, tuple(amounts[m] / n_m for m in metals)), n_h / n_m


# --------------------------------------------------------------------------- grids
def _rows(systems: Sequence[MetalSystem], ratios_by_system: Sequence[Sequence[float]], pressures: Sequence[float]):
    for (metals, fracs), ratios in zip(systems, ratios_by_system):
        main = metals[max(range(len(metals)), key=lambda i: fracs[i])]
        metals_txt = ",".join(metals)
        fracs_txt = ",".join(f"{f:.12g}" for f in fracs)
        for h in ratios:
            formula, chemsys = _formula(metals, fracs, float(h))
            for p in pressures:
                yield (
                    f"{formula}@{p:g}GPa",
                    formula,
                    chemsys,
                    main,
                    FAMILY_OF[main] if len(metals) == 1 else "mixed",
                    metals_txt,
                    fracs_txt,
                    float(h),
                    float(p),
                )


def _finish(rows: Iterable[tuple]) -> pd.DataFrame:
    df = pd.DataFrame(list(rows), columns=list(CANDIDATE_COLUMNS))
    if df.empty:
        raise CandidateError("the candidate grid is empty; give at least one metal, H/M ratio and pressure")
    return deduplicate(df)


def deduplicate(candidates: pd.DataFrame) -> pd.DataFrame:
    """Drop repeated (metals, fractions, H/M, P) candidates with a :class:`DuplicateCandidateWarning`."""
    key = pd.DataFrame(
        {
            "m": candidates["metals"],
            "f": candidates["metal_fractions"],
            "h": candidates["h_per_metal"].round(9),
            "p": candidates["pressure_gpa"].round(9),
        }
    )
    dup = key.duplicated()
    if dup.any():
        names = ", ".join(candidates.loc[dup, "candidate_id"].head(5))
        more = "" if dup.sum() <= 5 else f" and {dup.sum() - 5} more"
        warnings.warn(
            f"dropped {int(dup.sum())} duplicated candidate(s): {names}{more}",
            DuplicateCandidateWarning,
            stacklevel=3,
        )
        candidates = candidates.loc[~dup]
    return candidates.reset_index(drop=True)


def candidate_grid(
    metals: Iterable[str] | None = None,
    h_per_metal: Iterable[float] | None = None,
    pressures_gpa: Iterable[float] | None = None,
) -> pd.DataFrame:
    """Cartesian grid of metal systems x H/M ratios x pressures.

    Args:
        metals: metal systems, each a symbol (``"La"``) or an H-free formula for
            mixed-metal hydrides (``"LaY"``, ``"La0.75Y0.25"``). Default: every
            element of :data:`screening.elements.FAMILIES`.
        h_per_metal: H atoms per metal atom. Default :data:`DEFAULT_H_PER_METAL`.
        pressures_gpa: pressures in GPa. Default :data:`DEFAULT_PRESSURES_GPA`.

    Returns:
        One row per candidate with the columns :data:`CANDIDATE_COLUMNS`.

    Raises:
        CandidateError: bad element, ratio or pressure, or an empty grid.
    """
    specs = SUPPORTED_METALS if metals is None else _as_list(metals, "metals")
    systems = [parse_metal_system(s) for s in specs]
    ratios = validate_h_per_metal(DEFAULT_H_PER_METAL if h_per_metal is None else h_per_metal)
    pressures = validate_pressures(DEFAULT_PRESSURES_GPA if pressures_gpa is None else pressures_gpa)
    return _finish(_rows(systems, [ratios] * len(systems), pressures))


def candidates_from_formulas(formulas: Iterable[str], pressures_gpa: Iterable[float]) -> pd.DataFrame:
    """Candidates for given hydride formulas (``"LaH10"``, ``"H3S"``), each at every pressure."""
    parsed = [parse_formula(f) for f in _as_list(formulas, "formulas")]
    pressures = validate_pressures(pressures_gpa)
    return _finish(_rows([s for s, _ in parsed], [[h] for _, h in parsed], pressures))


def parse_list(text: str | None, flag: str = "list") -> list[object] | None:
    """Split a comma/space separated list; numbers become floats, anything else stays text
    so that validation can name the offending value. ``None`` (flag not given) means the default;
    an empty value is an error (it would otherwise silently mean the whole default grid)."""
    if text is None:
        return None
    items = [t for t in text.replace(",", " ").split() if t]
    if not items:
        raise CandidateError(f"{flag} is empty ({text!r}); give at least one value or leave the flag out for the default")
    out: list[object] = []
    for t in items:
        try:
            out.append(float(t))
        except ValueError:
            out.append(t)
    return out
