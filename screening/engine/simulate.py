"""MD of a precursor-slab / dense-H2 interface at (P, T) and the analysis of hydrogen uptake.

:func:`simulate_interface` runs NPT with the barostat along z only (the slab keeps its lateral
lattice; the box length along the normal absorbs the volume changes of slab and fluid) through
:func:`screening.md.open_session`, so LAMMPS specs and ASE calculators both work:

* ``relax``: FIRE minimisation of the positions (fixed cell, at most ``relax_steps``): removes the
  stress of the random H2 packing and of the unrelaxed surface;
* ``ramp``: NPT from ``min(T, 300 K)`` to T over ``ramp_ps`` (velocities drawn at the start);
* ``production``: NPT at T for ``time_ps``; with ``checkpoint_ps`` in segments of that length, each in a new
  MD session from the state the segment before ended with, checkpointed beside the result store
  (:mod:`screening.md.checkpoint`), so a killed run resumes from its last segment.

Every sampled frame is analysed with the pure functions below (each usable on any frame):

Slab region (:func:`slab_region`)
    The metal number density along the normal is a sum of Gaussians of σ = 1 Å on a periodic 0.1 Å
    grid (about one interlayer spacing: the planes of a crystal merge into a
    plateau). The slab is the longest periodic run where the smoothed density exceeds half of the
    mean density inside that run (iterated to self-consistency): its ends are the half-density points
    of the metal profile. Metal atoms dissolved in the fluid never reach half the slab density, so
    they do not split or extend the slab. Because surface H of a hydride lies outside its outermost
    metal plane by an amount that depends on the termination, each end is moved outwards by a fixed
    offset calibrated once on the first frame (:func:`calibrate_region`): the offsets make the region
    coincide with the slab of the built interface (``InterfaceInfo.slab_z_range_a``, the cut planes
    halfway between atomic planes). Membership is tested with a further ``SLAB_MARGIN_A`` = 0.25 Å
    (thermal vibration of surface H); the builder keeps every fluid atom at least half the H–H floor
    (0.68 Å at 40 GPa) beyond the slab, so the first frame gives exactly the precursor's H/M.

H/M in the slab (:func:`slab_h_per_metal`)
    Number of H atoms inside the region over the number of metal atoms inside it.

Liquid-like fraction at the surface (:func:`screening.md.analysis.solid_like_atoms`, :func:`surface_liquid_fraction`)
    The melting tier's order parameter per atom: Steinhardt q6 vectors, ten Wolde-Frenkel solid bonds
    (normalised q6(i)·q6*(j) > 0.7), an atom is solid-like when at least half of its bonds are solid.
    The melting tier uses the ``k`` nearest metal neighbours (``k`` = first-shell size of the
    reference crystal); at a free surface the k nearest reach past the missing half-shell and even a
    perfect surface reads as 25-50 % liquid. Here the neighbours are the k nearest *within the
    first-shell cutoff* of the precursor (midway between its k-th and (k+1)-th neighbour distances,
    scaled with the slab's volume per metal), and "half of its bonds" counts the atom's own bonds.
    In a bulk crystal this is identical to the melting tier (checked in the tests); a perfect surface
    reads 0 % liquid. The surface set is every metal atom less than ``SURFACE_DEPTH_A`` = 4 Å inside
    either end of the slab region (about two metal planes) plus every metal atom outside it
    (dissolved); liquid fraction = 1 - solid-like fraction of that set.

Depth profile (:func:`depth_profile`, :func:`analyse_frame`)
    The same solid-like flags binned by the metal atom's depth below the nearer end of the region
    (bins of ``DEPTH_BIN_A`` = 2 Å down to the deepest metal atom of the built slab, the last bin
    holding the core; dissolved atoms count in the outermost bin): ``InterfaceResult.liquid_fraction_by_depth``,
    frames x bins. :mod:`screening.engine.depth` applies it to any slab trajectory and draws it.

Product phase (:func:`slab_metal_structure`, :func:`match_product_phase`)
    The slab's metal atoms become a bulk periodic crystal (the region's extent is the c axis, which
    for a perfect slab is exactly its periodic repeat) and are compared with pymatgen's
    StructureMatcher (metal only, ``scale=True``, ``attempt_supercell=True``) against the metal
    sublattice of every template in data/structure_templates.json; the lowest-RMS match wins, else
    ``"no match / disordered"``. Templates that share a metal sublattice (rock salt, fluorite, BiF3
    and the fcc clathrate are all fcc) cannot be told apart and are all listed.

Uptake rate (:func:`linear_rate`)
    Ordinary least-squares slope of H/M(slab) vs time over the production stage, in (H/M)/ps, with
    its OLS standard error (consecutive frames are correlated, so this error is a lower bound).
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from screening.errors import CandidateError
from screening.md.analysis import solid_like_atoms
from screening.provenance import save_figure

#: Blow-up limits on the NPT conserved energy. Looser than the melting tier's (0.02 per frame): an
#: interface starts away from the potential's equilibrium density and the z barostat shrinks the box
#: by up to ~25 % in the first picosecond, which moves the conserved quantity by ~0.02 eV/atom per
#: 50-fs frame with no atom overlap. Real blow-ups are caught by the distance and lost-atom checks.
MAX_JUMP_EV_PER_ATOM = 0.05
MAX_DRIFT_EV_PER_ATOM = 0.1

SLAB_BIN_A = 0.1
SLAB_SMOOTH_A = 1.0
SLAB_MARGIN_A = 0.25
SURFACE_DEPTH_A = 4.0
LIQUID_SKIP_MATCH = 0.6  # slab liquid fraction above which the product is "disordered" without matching
FRAME_SPACING_FS = 50.0  # default sampling interval
NO_MATCH = "no match / disordered"
DEPTH_BIN_A = 2.0  # width of the depth bins of the liquid-like profile (about one metal plane at 40 GPa)
PROTOCOL_VERSION = "interface-v4"
KIND = "engine.interface_md"  # ResultStore kind of an interface run


# --------------------------------------------------------------------------- geometry along the normal
def normal_heights(positions: np.ndarray, cell: np.ndarray) -> tuple[np.ndarray, float]:
    """Heights along the slab normal (perpendicular to a and b) and the cell height ``L_z``.

    ``z = s_c * L_z`` with ``s_c`` the (unwrapped) fractional c coordinate and ``L_z = V / |a x b|``.
    """
    cell = np.asarray(cell, dtype=float)
    frac = np.asarray(positions, dtype=float).reshape(-1, 3) @ np.linalg.inv(cell)
    lz = abs(np.linalg.det(cell)) / np.linalg.norm(np.cross(cell[0], cell[1]))
    return frac[:, 2] * lz, float(lz)


@dataclass(frozen=True)
class SlabRegion:
    """A periodic interval along the normal.

    ``lo``/``hi`` are the half-density points of the metal profile (``lo`` in ``[0, lz)``, ``hi``
    may exceed ``lz`` when the slab crosses the periodic boundary); the region proper is
    ``[lo - offset_lo, hi + offset_hi]`` and membership adds ``margin`` on both sides.
    """

    lo: float
    hi: float
    lz: float
    offset_lo: float = 0.0
    offset_hi: float = 0.0
    margin: float = SLAB_MARGIN_A

    @property
    def start(self) -> float:
        """Lower end of the region (Å)."""
        return self.lo - self.offset_lo

    @property
    def thickness(self) -> float:
        """Extent of the region without the margin (Å)."""
        return self.hi + self.offset_hi - self.start

    def depth(self, z: np.ndarray) -> np.ndarray:
        """Signed distance inside the region from its nearer end (negative: outside), periodic."""
        t = np.mod(np.asarray(z, dtype=float) - self.start, self.lz)
        inside = t < self.thickness
        return np.where(inside, np.minimum(t, self.thickness - t), -np.minimum(t - self.thickness, self.lz - t))

    def contains(self, z: np.ndarray, margin: float | None = None) -> np.ndarray:
        """True for heights inside the region widened by ``margin`` (default ``self.margin``)."""
        return self.depth(z) >= -(self.margin if margin is None else margin)

    def as_dict(self) -> dict:
        return asdict(self)


def _smoothed_profile(z: np.ndarray, lz: float, bin_a: float, smooth_a: float) -> tuple[np.ndarray, float]:
    """Metal density on a periodic grid (points at ``(i + 0.5) * width``): a sum of Gaussians, no binning error."""
    nb = max(16, int(round(lz / bin_a)))
    width = lz / nb
    x = (np.arange(nb) + 0.5) * width
    d = x[:, None] - np.mod(np.asarray(z, dtype=float), lz)[None, :]
    d -= lz * np.round(d / lz)  # nearest periodic image
    return np.exp(-0.5 * (d / smooth_a) ** 2).sum(axis=1) / (math.sqrt(2 * math.pi) * smooth_a), width


def _longest_run(mask: np.ndarray) -> tuple[int, int]:
    """(start, length) of the longest periodic run of True (mask must contain a True)."""
    n = len(mask)
    if mask.all():
        return 0, n
    first_false = int(np.argmin(mask))  # runs cannot wrap past a False entry
    rolled = np.roll(mask, -first_false)
    best, cur, cur_start = (0, 0), 0, 0
    for i, m in enumerate(rolled):
        if m:
            if cur == 0:
                cur_start = i
            cur += 1
            if cur > best[1]:
                best = (cur_start, cur)
        else:
            cur = 0
    return (best[0] + first_false) % n, best[1]


def slab_region(z_metal: np.ndarray, lz: float, *, offsets: tuple[float, float] = (0.0, 0.0),
                margin_a: float = SLAB_MARGIN_A, bin_a: float = SLAB_BIN_A,
                smooth_a: float = SLAB_SMOOTH_A) -> SlabRegion:
    """The slab: the longest periodic run of smoothed metal density above half its own mean.

    Args:
        z_metal: heights of the metal atoms along the normal (Å; any periodic image).
        lz: cell height along the normal (Å).
        offsets: outward shifts of the lower and upper ends (from :func:`calibrate_region`).
        margin_a: extra width used by :meth:`SlabRegion.contains`.

    Raises:
        CandidateError: no metal atoms, or a non-positive cell height.
    """
    z_metal = np.asarray(z_metal, dtype=float)
    if len(z_metal) == 0:
        raise CandidateError("slab_region needs at least one metal atom, got none")
    if not (math.isfinite(lz) and lz > 0):
        raise CandidateError(f"cell height lz must be positive, got {lz!r}")
    from scipy.special import erf

    smooth, width = _smoothed_profile(z_metal, lz, bin_a, smooth_a)
    nb = len(smooth)
    zm = np.mod(z_metal, lz)
    norm = math.sqrt(2 * math.pi) * smooth_a

    def density(x: float) -> float:
        d = x - zm
        d -= lz * np.round(d / lz)
        return float(np.exp(-0.5 * (d / smooth_a) ** 2).sum() / norm)

    def amount(x0: float, x1: float) -> float:
        """Integral of the smoothed profile over [x0, x1] (nearest images; x1 - x0 <= lz)."""
        c = 0.5 * (x0 + x1)
        d = zm - c
        d -= lz * np.round(d / lz)
        r = math.sqrt(2.0) * smooth_a
        return float(0.5 * (erf((0.5 * (x1 - x0) - d) / r) + erf((0.5 * (x1 - x0) + d) / r)).sum())

    def crossing(x_out: float, x_in: float, threshold: float) -> float:
        """Bisection for the threshold crossing of the exact profile between two grid points."""
        for _ in range(30):
            mid = 0.5 * (x_out + x_in)
            if density(mid) >= threshold:
                x_in = mid
            else:
                x_out = mid
        return 0.5 * (x_out + x_in)

    threshold = 0.5 * smooth.max()
    lo = hi = 0.0
    for _ in range(50):  # threshold = half the mean density between the crossings, self-consistently
        start, length = _longest_run(smooth >= threshold)
        if length == nb:  # metal everywhere: no fluid gap
            return SlabRegion(0.0, lz, lz, 0.0, 0.0, margin_a)
        end = start + length - 1
        lo = crossing((start - 0.5) * width, (start + 0.5) * width, threshold)  # grid points at (i + 0.5) * width
        hi = crossing((end + 1.5) * width, (end + 0.5) * width, threshold)
        new = 0.5 * amount(lo, hi) / (hi - lo)
        if abs(new - threshold) <= 1e-10 * threshold:
            break
        threshold = new
    shift = math.floor((lo - offsets[0]) / lz) * lz  # region start in [0, lz)
    return SlabRegion(float(lo - shift), float(hi - shift), float(lz), float(offsets[0]), float(offsets[1]),
                      float(margin_a))


def calibrate_region(z_metal: np.ndarray, lz: float, slab_range: tuple[float, float], **kwargs) -> SlabRegion:
    """:func:`slab_region` with offsets chosen so that its ends coincide with ``slab_range`` on this frame.

    ``slab_range`` is the slab of the built interface (``InterfaceInfo.slab_z_range_a``). The offsets
    (one per side, Å, positive = outwards) are then kept fixed for the whole run.
    """
    base = slab_region(z_metal, lz, **kwargs)
    s_lo, s_hi = float(slab_range[0]), float(slab_range[1])
    centre = 0.5 * (base.lo + base.hi)
    # bring the reference slab to the periodic image nearest the detected one
    shift = lz * round((centre - 0.5 * (s_lo + s_hi)) / lz)
    s_lo, s_hi = s_lo + shift, s_hi + shift
    return slab_region(z_metal, lz, offsets=(base.lo - s_lo, s_hi - base.hi), **kwargs)


def slab_h_per_metal(z: np.ndarray, is_metal: np.ndarray, region: SlabRegion) -> tuple[float, int, int]:
    """(H/M, n_H, n_metal) of the atoms inside ``region`` (heights ``z``; non-metal atoms are H)."""
    is_metal = np.asarray(is_metal, dtype=bool)
    inside = region.contains(z)
    n_m = int((inside & is_metal).sum())
    n_h = int((inside & ~is_metal).sum())
    return (n_h / n_m if n_m else math.nan), n_h, n_m


# --------------------------------------------------------------------------- order parameter per atom
def first_shell_cutoff(positions: np.ndarray, cell: np.ndarray, k: int) -> float:
    """Median over atoms of the midpoint between the k-th and (k+1)-th neighbour distance (reference crystal)."""
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    positions = np.asarray(positions, dtype=float)
    cell = np.asarray(cell, dtype=float)
    scale = (abs(np.linalg.det(cell)) / len(positions)) ** (1 / 3)
    i, d = neighbor_list("id", Atoms(positions=positions, cell=cell, pbc=True), 2.5 * scale)
    mids = []
    for a in range(len(positions)):
        da = np.sort(d[i == a])
        if len(da) > k:
            mids.append(0.5 * (da[k - 1] + da[k]))
    if not mids:
        raise CandidateError(f"fewer than {k + 1} neighbours within {2.5 * scale:.2f} Å: not a crystal")
    return float(np.median(mids))


def surface_liquid_fraction(z_metal: np.ndarray, solid_like: np.ndarray, region: SlabRegion,
                            depth_a: float = SURFACE_DEPTH_A) -> tuple[float, int]:
    """(liquid-like fraction, count) of the surface metal atoms: < ``depth_a`` inside an end, or outside."""
    surface = region.depth(z_metal) < depth_a
    n = int(surface.sum())
    if n == 0:
        return math.nan, 0
    return float(1.0 - np.asarray(solid_like, dtype=bool)[surface].mean()), n


def depth_bins(max_depth_a: float, bin_a: float = DEPTH_BIN_A) -> np.ndarray:
    """Lower edges (Å) of the depth bins: ``0, bin_a, 2 bin_a, ...`` up to the bin of ``max_depth_a``.

    ``max_depth_a`` is the depth of the deepest metal atom of the built slab, so every bin holds
    atoms at the start (a two-plane slab has one bin and no core). The last bin is open (it holds
    the core, whatever its depth later).
    """
    if not (math.isfinite(bin_a) and bin_a > 0):
        raise CandidateError(f"bin_a must be a positive length in Å, got {bin_a!r}")
    n = int(math.floor(max(max_depth_a, 0.0) / bin_a)) + 1
    return np.arange(n) * float(bin_a)


def depth_profile(depth_a: np.ndarray, solid_like: np.ndarray, bins_a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Liquid-like fraction and number of metal atoms per depth bin (depth from the nearer slab surface).

    ``depth_a`` is :meth:`SlabRegion.depth` of the metal atoms; atoms outside the slab (negative
    depth: dissolved in the fluid) count in the outermost bin, as in :func:`surface_liquid_fraction`.
    Empty bins have a NaN fraction.
    """
    bins_a = np.asarray(bins_a, dtype=float)
    idx = np.clip(np.searchsorted(bins_a, np.maximum(np.asarray(depth_a, dtype=float), 0.0), side="right") - 1, 0,
                  len(bins_a) - 1)
    counts = np.bincount(idx, minlength=len(bins_a))
    liquid = np.bincount(idx, weights=~np.asarray(solid_like, dtype=bool), minlength=len(bins_a))
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(counts > 0, liquid / np.maximum(counts, 1), np.nan)
    return frac, counts


def analyse_frame(positions: np.ndarray, cell: np.ndarray, is_metal: np.ndarray, offsets: tuple[float, float],
                  k: int, cutoff_ref_a: float, v_metal_ref_a3: float, bins_a: np.ndarray | None = None) -> dict:
    """The per-frame interface analysis (see the module docstring): slab region, H/M in it, solid-like
    metal atoms, liquid-like fractions of the surface, of the whole slab and (with ``bins_a``) per depth bin.

    ``cutoff_ref_a`` is the first-shell cutoff of the precursor crystal at its volume per metal
    ``v_metal_ref_a3``; it is scaled with the slab's current volume per metal.
    """
    z, lz = normal_heights(positions, cell)
    zm = z[is_metal]
    region = slab_region(zm, lz, offsets=offsets, margin_a=SLAB_MARGIN_A)
    hm, nh, nm = slab_h_per_metal(z, is_metal, region)
    area = abs(np.linalg.det(cell)) / lz
    v_metal = area * region.thickness / max(nm, 1)
    cutoff = cutoff_ref_a * (v_metal / v_metal_ref_a3) ** (1 / 3)
    solid = solid_like_atoms(np.asarray(positions)[is_metal], cell, k, cutoff=cutoff)
    liq_surface, _ = surface_liquid_fraction(zm, solid, region)
    depth = region.depth(zm)
    in_slab = depth >= 0.0
    out = {"region": region, "h_per_metal_slab": hm, "n_h_slab": nh, "n_metal_slab": nm,
           "liquid_fraction_surface": liq_surface,
           "liquid_fraction_slab": float(1.0 - solid[in_slab].mean()) if in_slab.any() else math.nan,
           "box_z_a": lz, "slab_start_a": region.start, "slab_thickness_a": region.thickness,
           "solid_like": solid, "depth_a": depth}
    if bins_a is not None:
        out["liquid_fraction_by_depth"], out["metal_count_by_depth"] = depth_profile(depth, solid, bins_a)
    return out


# --------------------------------------------------------------------------- product phase
def slab_metal_structure(positions_metal: np.ndarray, cell: np.ndarray, region: SlabRegion, species: str = "Ca"):
    """The metal atoms inside ``region`` as a bulk periodic pymatgen Structure whose c axis is the region.

    The in-plane lattice is the cell's; c is along the normal with the region's thickness, so a
    perfect slab cut from a crystal (region calibrated on the built interface) gives back that
    crystal's metal sublattice.
    """
    from pymatgen.core import Lattice, Structure

    cell = np.asarray(cell, dtype=float)
    z, lz = normal_heights(positions_metal, cell)
    inside = region.depth(z) >= 0.0
    if inside.sum() < 2:
        raise CandidateError(f"the slab region holds {int(inside.sum())} metal atoms; cannot build a sublattice")
    t = np.mod(z[inside] - region.start, lz) / region.thickness
    ab = np.mod((np.asarray(positions_metal, dtype=float).reshape(-1, 3) @ np.linalg.inv(cell))[inside, :2], 1.0)
    a, b = cell[0].copy(), cell[1].copy()
    a[2] = b[2] = 0.0  # slab cells have a, b in the plane; drop round-off
    lattice = Lattice([a, b, [0.0, 0.0, region.thickness]])
    return Structure(lattice, [species] * int(inside.sum()), np.column_stack([ab, np.mod(t, 1.0)]))


def match_product_phase(structure, candidates: Mapping[str, Any] | None = None, *, h_per_metal: float | None = None,
                        ltol: float = 0.2, stol: float = 0.3, angle_tol: float = 5.0, tie_rms: float = 0.01) -> dict:
    """The template whose metal sublattice best matches ``structure``'s (pymatgen StructureMatcher).

    Args:
        structure: pymatgen Structure; H is removed and all other species are treated as one.
        candidates: name -> Structure to compare with (default
            :func:`screening.structures.sublattice.template_metal_sublattices`).
        h_per_metal: measured H/M of the structure. Templates that share a metal sublattice match
            equally well (rock salt, fluorite, BiF3 and the fcc clathrate are all fcc); among matches
            within ``tie_rms`` of the best, the template with the H/M closest to this value wins.
        ltol, stol, angle_tol: StructureMatcher tolerances (pymatgen defaults).

    Returns:
        ``{"phase": best name or NO_MATCH, "rms": its normalised RMS displacement (None without a
        match), "matches": {name: rms} of every matching candidate, best first,
        "equivalent": names within tie_rms of the best}``.
    """
    from screening.structures.sublattice import metal_sublattice as metal_only
    from screening.structures.sublattice import sublattice_matcher, template_metal_sublattices

    s = metal_only(structure)
    if len(s) == 0:
        raise CandidateError("structure has no metal atoms to match")
    cands = template_metal_sublattices() if candidates is None else dict(candidates)
    matcher = sublattice_matcher(ltol, stol, angle_tol)
    matches = {}
    for name, ref in cands.items():
        try:
            rms = matcher.get_rms_dist(s, metal_only(ref))
        except Exception:  # degenerate lattices make pymatgen raise: no match
            rms = None
        if rms is not None:
            matches[name] = float(rms[0])
    if not matches:
        return {"phase": NO_MATCH, "rms": None, "matches": {}, "equivalent": []}
    ordered = dict(sorted(matches.items(), key=lambda kv: kv[1]))
    lowest = next(iter(ordered.values()))
    tied = [name for name, rms in ordered.items() if rms <= lowest + tie_rms]
    best = tied[0]
    if h_per_metal is not None and math.isfinite(h_per_metal) and len(tied) > 1:
        from screening.structures import load_templates

        lib = load_templates()
        known = [n for n in tied if n in lib]
        if known:
            best = min(known, key=lambda n: (abs(lib[n].h_per_metal - h_per_metal), ordered[n]))
    return {"phase": best, "rms": ordered[best], "matches": ordered, "equivalent": tied}


def is_best_match(match: Mapping[str, Any], template: str) -> bool:
    """Whether ``template`` is the best match of a :func:`match_product_phase` result, or tied with it.

    Being within the StructureMatcher tolerances is not enough: a distorted cotunnite sublattice also
    matches the ThCr2Si2 (I4/mmm) one, only worse, so "the product is CaH4" needs the best match.
    """
    return template in (match.get("equivalent") or [])


# --------------------------------------------------------------------------- rate
def linear_rate(t: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """OLS slope of ``y`` vs ``t`` and its standard error (NaNs dropped; ``(nan, nan)`` with < 3 points)."""
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(t) & np.isfinite(y)
    t, y = t[ok], y[ok]
    if len(t) < 3 or np.ptp(t) == 0:
        return math.nan, math.nan
    tc = t - t.mean()
    slope = float((tc * (y - y.mean())).sum() / (tc ** 2).sum())
    resid = y - y.mean() - slope * tc
    return slope, float(math.sqrt((resid ** 2).sum() / (len(t) - 2) / (tc ** 2).sum()))


# --------------------------------------------------------------------------- result
SERIES = ("time_ps", "stage", "h_per_metal_slab", "n_h_slab", "n_metal_slab", "liquid_fraction_surface",
          "liquid_fraction_slab", "temperature_k", "pressure_gpa", "box_z_a", "slab_start_a", "slab_thickness_a")


@dataclass
class InterfaceResult:
    """Outcome of :func:`simulate_interface`: time series, uptake rate, product phase, provenance.

    ``status`` is ``"ok"`` or ``"failed"`` (``message`` says why: blow-up, lost atoms, NaN, engine
    error); a failed run keeps the series up to the failure but has no product phase.
    """

    status: str
    message: str
    target_pressure_gpa: float
    target_temperature_k: float
    production_start_ps: float
    uptake_rate_per_ps: float
    uptake_rate_err_per_ps: float
    h_per_metal_initial: float
    h_per_metal_final: float
    initial_phase: str
    product_phase: str
    product_matches: dict
    calculator: dict
    settings: dict
    interface: dict
    n_atoms: int
    time_ps: list = field(default_factory=list)
    stage: list = field(default_factory=list)
    h_per_metal_slab: list = field(default_factory=list)
    n_h_slab: list = field(default_factory=list)
    n_metal_slab: list = field(default_factory=list)
    liquid_fraction_surface: list = field(default_factory=list)
    liquid_fraction_slab: list = field(default_factory=list)
    temperature_k: list = field(default_factory=list)
    pressure_gpa: list = field(default_factory=list)
    box_z_a: list = field(default_factory=list)
    slab_start_a: list = field(default_factory=list)
    slab_thickness_a: list = field(default_factory=list)
    region_offsets_a: list = field(default_factory=list)
    depth_bins_a: list = field(default_factory=list)
    liquid_fraction_by_depth: list = field(default_factory=list)
    metal_count_by_depth: list = field(default_factory=list)
    trajectory: str | None = None
    wall_s: float = 0.0
    cached: bool = False

    def as_dict(self) -> dict:
        """JSON-serialisable dict (non-finite floats become None)."""
        return _json_clean(asdict(self))

    @classmethod
    def from_dict(cls, d: Mapping) -> "InterfaceResult":
        """Inverse of :meth:`as_dict` (None in float fields and series becomes NaN)."""
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in dict(d).items() if k in names}
        for k in ("uptake_rate_per_ps", "uptake_rate_err_per_ps", "h_per_metal_initial", "h_per_metal_final",
                  "production_start_ps"):
            if kw.get(k) is None:
                kw[k] = math.nan
        for k in SERIES:
            if k != "stage" and k in kw:
                kw[k] = [math.nan if v is None else v for v in kw[k]]
        if "liquid_fraction_by_depth" in kw:
            kw["liquid_fraction_by_depth"] = [[math.nan if v is None else v for v in row]
                                              for row in kw["liquid_fraction_by_depth"]]
        return cls(**kw)

    def depth_map(self) -> np.ndarray:
        """Liquid-like fraction of the metal, frames x depth bins (``depth_bins_a``; NaN: empty bin)."""
        return np.asarray(self.liquid_fraction_by_depth, dtype=float).reshape(len(self.liquid_fraction_by_depth),
                                                                              len(self.depth_bins_a))

    def series(self, key: str) -> np.ndarray:
        """One time series as a float array."""
        return np.asarray(getattr(self, key), dtype=float)


def _json_clean(obj):
    if isinstance(obj, dict):
        return {str(k): _json_clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


# --------------------------------------------------------------------------- the run
class _FrameAnalyser:
    """Frame callback: blow-up checks (the melting tier's Recorder), interface analysis, trajectory."""

    def __init__(self, atoms, info: dict, k: int, cutoff: float, v_metal_ref: float, min_distance_a: float,
                 keep_frames: bool = False) -> None:
        from screening.md.analysis import metal_mask

        self.symbols = tuple(atoms.get_chemical_symbols())
        self.masses = np.asarray(atoms.get_masses(), dtype=float)
        self.is_metal = metal_mask(self.symbols)
        self.metal_species = next(s for s in self.symbols if s != "H")
        self.tags = atoms.get_tags()
        self.info = info
        self.k, self.cutoff, self.v_metal_ref = k, cutoff, v_metal_ref
        self.min_distance_a = min_distance_a
        self.offsets: tuple[float, float] | None = None
        self.bins: np.ndarray | None = None
        self.series: dict = {key: [] for key in (*SERIES, "liquid_fraction_by_depth", "metal_count_by_depth")}
        self.failure: str | None = None
        self.last = None
        self.first = None
        self.keep_frames = keep_frames
        self.frames: list = []
        self.label = ""
        self.recorder = None
        self.resume_time_ps: float | None = None  # skip the frame at this time (already analysed)

    def new_stage(self, label: str, energy_checks: bool) -> None:
        """Start a stage: a fresh Recorder (used only for its blow-up checks; order parameter off).

        ``energy_checks=False`` (the thermostat ramp, where the extended-system energy is not conserved)
        keeps the overlap, lost-atom and NaN checks and drops the conserved-energy ones.
        """
        from screening.md.analysis import Recorder

        self.label = label
        self.recorder = Recorder(self.symbols, self.masses, shell=self.k, min_distance_a=self.min_distance_a,
                                 lag_frames=1, order_every=10 ** 9,
                                 max_jump_ev_per_atom=MAX_JUMP_EV_PER_ATOM if energy_checks else None,
                                 max_drift_ev_per_atom=MAX_DRIFT_EV_PER_ATOM if energy_checks else None)

    def calibrate(self, positions: np.ndarray, cell: np.ndarray) -> None:
        """Fix the region offsets (the region is the built slab on this configuration) and the depth bins."""
        z, lz = normal_heights(positions, cell)
        region = calibrate_region(z[self.is_metal], lz, self.info["slab_z_range_a"], margin_a=SLAB_MARGIN_A)
        self.offsets = (region.offset_lo, region.offset_hi)
        self.bins = depth_bins(float(region.depth(z[self.is_metal]).max()))

    def analyse(self, positions: np.ndarray, cell: np.ndarray) -> dict:
        if self.offsets is None:
            self.calibrate(positions, cell)
        return analyse_frame(positions, cell, self.is_metal, self.offsets, self.k, self.cutoff, self.v_metal_ref,
                             self.bins)

    def __call__(self, frame) -> bool:
        if frame.positions.shape[0] != len(self.symbols):
            self.failure = f"lost atoms: {frame.positions.shape[0]} of {len(self.symbols)} left at t = {frame.time_ps:.3f} ps"
            return True
        if self.recorder(frame):
            self.failure = self.recorder.failure or "stopped by the recorder"
            return True
        if self.resume_time_ps is not None and abs(frame.time_ps - self.resume_time_ps) < 1e-9:
            self.resume_time_ps = None  # a segment's first frame is the last one of the segment before
            return False
        a = self.analyse(frame.positions, frame.cell)
        s = self.series
        s["time_ps"].append(frame.time_ps)
        s["stage"].append(self.label)
        s["temperature_k"].append(frame.temperature_k)
        s["pressure_gpa"].append(frame.pressure_gpa)
        for key in ("h_per_metal_slab", "n_h_slab", "n_metal_slab", "liquid_fraction_surface", "liquid_fraction_slab",
                    "box_z_a", "slab_start_a", "slab_thickness_a"):
            s[key].append(a[key])
        s["liquid_fraction_by_depth"].append([float(x) for x in a["liquid_fraction_by_depth"]])
        s["metal_count_by_depth"].append([int(x) for x in a["metal_count_by_depth"]])
        self.last = (frame.positions.copy(), frame.cell.copy(), a["region"])
        if self.first is None:
            self.first = self.last
        if self.keep_frames:
            self.frames.append(self._atoms(frame, a))
        return False

    def state(self) -> tuple[dict, dict]:
        """``(JSON-able document, arrays)`` of everything analysed so far (for a checkpoint; frames apart)."""
        from dataclasses import asdict

        doc = {"series": self.series, "offsets": list(self.offsets) if self.offsets is not None else None}
        arrays = {} if self.bins is None else {"bins": self.bins}
        for name in ("first", "last"):
            value = getattr(self, name)
            if value is not None:
                doc[f"{name}_region"] = asdict(value[2])
                arrays[f"{name}_positions"], arrays[f"{name}_cell"] = value[0], value[1]
        return doc, arrays

    def restore(self, doc: dict, arrays: dict, frames: list) -> None:
        """The inverse of :meth:`state` (``frames``: the trajectory frames kept with the checkpoint)."""
        self.series = {key: list(v) for key, v in doc["series"].items()}
        self.offsets = tuple(doc["offsets"]) if doc["offsets"] is not None else None
        self.bins = arrays.get("bins")
        for name in ("first", "last"):
            if f"{name}_region" in doc:
                setattr(self, name, (arrays[f"{name}_positions"], arrays[f"{name}_cell"],
                                     SlabRegion(**doc[f"{name}_region"])))
        self.frames = list(frames)

    def _atoms(self, frame, a: dict):
        """The frame as wrapped ASE Atoms with its analysis in ``info`` (for the trajectory)."""
        from ase import Atoms

        atoms = Atoms(symbols=list(self.symbols), positions=frame.positions, cell=frame.cell, pbc=True, tags=self.tags)
        atoms.wrap()
        atoms.info.update(time_ps=frame.time_ps, stage=self.label, temperature_k=frame.temperature_k,
                          pressure_gpa=frame.pressure_gpa, h_per_metal_slab=a["h_per_metal_slab"],
                          liquid_fraction_surface=a["liquid_fraction_surface"], slab_start_a=a["slab_start_a"],
                          slab_thickness_a=a["slab_thickness_a"])
        return atoms


def write_trajectory(frames, path: str | Path) -> Path:
    """Write frames to an extxyz file atomically (a temporary file renamed onto ``path``)."""
    from ase.io import write

    from screening.provenance import atomic_write

    return atomic_write(path, lambda tmp: write(tmp, list(frames), format="extxyz"))


def _phase_of(positions, cell, region: SlabRegion, is_metal, species: str, liquid_fraction_slab: float,
              h_per_metal: float) -> dict:
    if math.isfinite(liquid_fraction_slab) and liquid_fraction_slab > LIQUID_SKIP_MATCH:
        return {"phase": NO_MATCH, "rms": None, "matches": {}, "equivalent": [],
                "note": f"slab {liquid_fraction_slab:.0%} liquid-like: not matched"}
    try:
        return match_product_phase(slab_metal_structure(positions[is_metal], cell, region, species),
                                   h_per_metal=h_per_metal)
    except CandidateError as exc:
        return {"phase": NO_MATCH, "rms": None, "matches": {}, "equivalent": [], "note": str(exc)}


def _check_run_inputs(atoms, info: dict, pressure_gpa, temperature_k, time_ps, timestep_fs, ramp_ps) -> None:
    from ase import Atoms

    if not isinstance(atoms, Atoms):
        raise CandidateError(f"atoms must be the ASE Atoms from build_interface, got {type(atoms).__name__}")
    if len(atoms) != info["n_atoms"]:
        raise CandidateError(f"atoms has {len(atoms)} atoms but the InterfaceInfo describes {info['n_atoms']}")
    n_metal = sum(s != "H" for s in atoms.get_chemical_symbols())
    if n_metal != info["n_metal"]:
        raise CandidateError(f"atoms has {n_metal} metal atoms but the InterfaceInfo describes {info['n_metal']}")
    for name, value, lo in (("pressure_gpa", pressure_gpa, 0.0), ("temperature_k", temperature_k, 0.0),
                            ("time_ps", time_ps, 0.0), ("timestep_fs", timestep_fs, 0.0)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= lo:
            raise CandidateError(f"{name} must be a positive number, got {value!r}")
    if ramp_ps is not None and (not isinstance(ramp_ps, (int, float)) or not math.isfinite(ramp_ps) or ramp_ps < 0):
        raise CandidateError(f"ramp_ps must be >= 0, got {ramp_ps!r}")


def simulate_interface(atoms, info, calculator: Any, pressure_gpa: float, temperature_k: float, *, time_ps: float,
                       timestep_fs: float = 0.5, sample_every: int | None = None, ramp_ps: float | None = None,
                       seed: int = 0, trajectory: str | Path | None = None, progress: bool = True,
                       relax_steps: int = 200, relax_fmax: float = 0.2, store: Any = None,
                       n_threads: int = 1, checkpoint_ps: float | None = None) -> InterfaceResult:
    """NPT MD (barostat along z only) of an interface from :func:`~screening.engine.interface.build_interface`.

    Args:
        atoms, info: the interface and its :class:`~screening.engine.interface.InterfaceInfo` (or its dict).
        calculator: registry name/spec (``"chgnet"``, ``"lammps:<style>:<file>:<El,...>"``, ``"emt"``)
            or an ASE calculator.
        pressure_gpa, temperature_k: barostat and thermostat targets.
        time_ps: length of the production stage at T.
        timestep_fs: MD timestep (0.5 fs resolves H2 vibrations).
        sample_every: steps between analysed frames (default: every 50 fs).
        ramp_ps: length of the NPT ramp from min(T, 300 K) to T before production (default
            ``min(1 ps, time_ps / 5)``; 0 skips it).
        seed: velocities and thermostat noise.
        trajectory: write every frame (wrapped, tags 0 slab / 1 fluid) as extxyz to this path, atomically
            when the run ends (a killed run leaves no torn file).
        progress: tqdm progress bars.
        relax_steps, relax_fmax: FIRE minimisation of the positions (fixed cell) before the MD, at most
            this many steps or until every force is below ``relax_fmax`` eV/Å (0 skips it). It removes
            the stress of the random H2 packing and of the unrelaxed surface.
        store: a :class:`~screening.store.ResultStore` to cache the result in (None: no caching). A
            cached result is returned as is; the run's trajectory is kept in ``trajectories/`` beside
            the store and copied to ``trajectory`` on every call (a cached run without a kept
            trajectory is recomputed when one is asked for).
        n_threads: OpenMP threads for LAMMPS.
        checkpoint_ps: run the production as segments of this length (ps), each in a new MD session started from
            the positions, velocities and box the segment before ended with (thermostat and barostat restart at
            every boundary: part of the protocol and of the cache key, interrupted or not). With a ``store``,
            the state and the analysis so far are saved beside it after every segment (``checkpoints/``), a rerun
            of an interrupted run continues from the last segment, and the checkpoint is removed once the
            result is stored. None: one production stage, no checkpoints.

    Returns:
        :class:`InterfaceResult` (``status="failed"`` with a reason if the run blew up).
    """
    from screening.engine.interface import InterfaceInfo
    from screening.md import backend_name, resolve_calculator

    info_d = info.as_dict() if isinstance(info, InterfaceInfo) else dict(info)
    _check_run_inputs(atoms, info_d, pressure_gpa, temperature_k, time_ps, timestep_fs, ramp_ps)
    calc, cinfo = resolve_calculator(calculator)
    if backend_name(calculator) == "lammps":
        from screening.calculators import parse_lammps_spec
        from screening.md.lammps_backend import check_structure

        check_structure(parse_lammps_spec(calculator.strip()), atoms)  # elements; POD: no sparse atoms
    steps_per_ps = 1000.0 / timestep_fs
    if sample_every is None:
        sample_every = max(1, int(round(FRAME_SPACING_FS / timestep_fs)))
    if not isinstance(relax_steps, (int, np.integer)) or relax_steps < 0:
        raise CandidateError(f"relax_steps must be a non-negative integer, got {relax_steps!r}")
    if not isinstance(sample_every, (int, np.integer)) or sample_every < 1:
        raise CandidateError(f"sample_every must be a positive integer, got {sample_every!r}")
    if checkpoint_ps is not None and not (isinstance(checkpoint_ps, (int, float)) and math.isfinite(checkpoint_ps)
                                          and checkpoint_ps > 0):
        raise CandidateError(f"checkpoint_ps must be a positive number of ps or None, got {checkpoint_ps!r}")
    ramp_ps = min(1.0, time_ps / 5.0) if ramp_ps is None else float(ramp_ps)
    n_ramp = int(round(ramp_ps * steps_per_ps))
    n_prod = max(1, int(round(time_ps * steps_per_ps)))
    t_start = min(float(temperature_k), 300.0)
    settings = {"protocol": PROTOCOL_VERSION, "time_ps": float(time_ps), "ramp_ps": ramp_ps,
                "timestep_fs": float(timestep_fs), "sample_every": int(sample_every), "seed": int(seed),
                "barostat": "z", "ramp_start_k": t_start, "relax_steps": int(relax_steps),
                "relax_fmax": float(relax_fmax), "backend": backend_name(calculator),
                "slab_margin_a": SLAB_MARGIN_A, "surface_depth_a": SURFACE_DEPTH_A, "smooth_a": SLAB_SMOOTH_A,
                "depth_bin_a": DEPTH_BIN_A}
    segment_steps = None
    if checkpoint_ps is not None:  # only then in the key: runs without segments keep their cached results
        settings["checkpoint_ps"] = float(checkpoint_ps)
        segment_steps = max(1, int(round(float(checkpoint_ps) * steps_per_ps)))
    checkpoint = None

    def compute(traj_path) -> dict:
        return _run(atoms, info_d, calculator, calc, cinfo, float(pressure_gpa), float(temperature_k), settings,
                    n_ramp, n_prod, t_start, traj_path, progress, n_threads, segment_steps, checkpoint).as_dict()

    if store is None:
        return InterfaceResult.from_dict(compute(trajectory))
    from screening.provenance import sha256_text
    from screening.store import input_key

    geometry = repr((atoms.get_chemical_symbols(), np.round(np.array(atoms.cell), 6).tolist(),
                     np.round(atoms.positions, 5).tolist()))
    inputs = {"structure_sha256": sha256_text(geometry), "interface": info_d, "calculator": cinfo.as_dict(),
              "pressure_gpa": float(pressure_gpa), "temperature_k": float(temperature_k), **settings}
    # the run's own trajectory is kept beside the store, so any later request gets a copy of it
    kept = Path(store.path).parent / "trajectories" / f"{input_key(KIND, inputs)}.extxyz"
    if segment_steps is not None:
        checkpoint = Path(store.path).parent / "checkpoints" / f"{input_key(KIND, inputs)}"
    result = store.get(KIND, inputs)
    cached = result is not None and (trajectory is None or kept.is_file())
    if not cached:  # new run, or a cached run whose trajectory was never kept: (re)compute, deterministic
        t0 = time.perf_counter()
        result = compute(kept if trajectory is not None else None)
        store.put(KIND, inputs, result, str(result.get("status", "ok")), time.perf_counter() - t0)
        if checkpoint is not None:
            from screening.md.checkpoint import clear_checkpoint

            clear_checkpoint(checkpoint)
    out = InterfaceResult.from_dict(result)
    out.cached = bool(cached)
    if trajectory is not None:
        from screening.provenance import atomic_write

        atomic_write(trajectory, lambda tmp: shutil.copyfile(kept, tmp))
        out.trajectory = str(trajectory)
    return out


def _session(state, calculator, calc, settings: dict, n_threads: int, keep_velocities: bool = False):
    """An MD session of the run's calculator on ``state`` (the built ASE calculator is reused on the ASE back end)."""
    from screening.md import open_session

    return open_session(state, calculator, settings["timestep_fs"], calc=calc if settings["backend"] == "ase" else None,
                        n_threads=n_threads, keep_velocities=keep_velocities)


def _stage_error(session, stage, analyser, energy_checks: bool, progress: bool) -> str | None:
    """Run one stage with the analyser as its frame callback; the engine's or the analyser's error, if any."""
    analyser.new_stage(stage.label, energy_checks)
    outcome = session.run(stage, analyser, progress=progress)
    return outcome.error or analyser.failure


def _run_in_one_session(atoms, calc, calculator, settings, analyser, ramp, production, progress,
                        n_threads) -> tuple[str | None, float, dict]:
    """Relax, then ramp and production in one MD session; returns ``(error, production start in ps, relax report)``."""
    from screening.md.relax_positions import relax_positions

    start_atoms, relax = relax_positions(atoms, calc, settings["relax_steps"], settings["relax_fmax"])
    if relax.get("error"):
        return relax["error"], math.nan, relax
    production_start = math.nan
    with _session(start_atoms, calculator, calc, settings, n_threads) as session:
        for stage in ([ramp] if ramp is not None else []) + [production]:
            if stage is production:
                production_start = session.time_ps
            error = _stage_error(session, stage, analyser, stage is production, progress)
            if error:
                return error, production_start, relax
    return None, production_start, relax


def _run_segments(atoms, calc, calculator, settings, analyser, ramp, production, n_prod: int, segment_steps: int,
                  checkpoint: Path | None, progress: bool, n_threads: int) -> tuple[str | None, float, dict, float]:
    """Relax and ramp in one session, then the production in segments of ``segment_steps``, each in a new session
    from the state the one before ended with, checkpointed after each segment when ``checkpoint`` is a path (a
    saved checkpoint is continued). Returns ``(error, production start in ps, relax report, compute seconds of the
    earlier processes a resumed run continues)``; each checkpoint records the compute seconds up to it."""
    from screening.md.checkpoint import load_checkpoint, save_checkpoint
    from screening.md.relax_positions import relax_positions

    started = time.perf_counter()
    earlier_s = 0.0

    def save(state, clock: float, done: int) -> None:
        if checkpoint is None:
            return
        doc, arrays = analyser.state()
        save_checkpoint(checkpoint, state, clock, {"analyser": doc, "relax": relax, "production_start_ps": production_start,
                                                   "production_steps_done": done,
                                                   "compute_s": earlier_s + time.perf_counter() - started},
                        arrays, analyser.frames if analyser.keep_frames else None)

    saved = load_checkpoint(checkpoint) if checkpoint is not None else None
    if saved is not None:
        analyser.restore(saved.meta["analyser"], saved.arrays, saved.frames)
        state, clock, done = saved.state, saved.time_ps, int(saved.meta["production_steps_done"])
        relax, production_start = saved.meta["relax"], float(saved.meta["production_start_ps"])
        earlier_s = float(saved.meta.get("compute_s", 0.0))
    else:
        state, relax = relax_positions(atoms, calc, settings["relax_steps"], settings["relax_fmax"])
        if relax.get("error"):
            return relax["error"], math.nan, relax, earlier_s
        clock, done = 0.0, 0
        if ramp is not None:
            with _session(state, calculator, calc, settings, n_threads) as session:
                error = _stage_error(session, ramp, analyser, False, progress)
                if error:
                    return error, math.nan, relax, earlier_s
                state, clock = session.get_state(), session.time_ps
        production_start = clock
        save(state, clock, done)
    while done < n_prod:
        steps = min(segment_steps, n_prod - done)
        analyser.resume_time_ps = clock if analyser.series["time_ps"] else None
        with _session(state, calculator, calc, settings, n_threads, keep_velocities=True) as session:
            session.time_ps = clock
            error = _stage_error(session, production(steps, done == 0), analyser, True, progress)
            if error:
                return error, production_start, relax, earlier_s
            state, clock = session.get_state(), session.time_ps
        done += steps
        if done < n_prod:
            save(state, clock, done)
    return None, production_start, relax, earlier_s


def _run(atoms, info_d, calculator, calc, cinfo, pressure_gpa, temperature_k, settings, n_ramp, n_prod, t_start,
         trajectory, progress, n_threads, segment_steps=None, checkpoint=None) -> InterfaceResult:
    """The protocol behind :func:`simulate_interface` (arguments already validated)."""
    from screening.md import Stage
    from screening.md.analysis import metal_mask, shell_size
    from screening.md.runner import blowup_distance

    start_wall = time.perf_counter()
    n_slab = info_d["n_metal"] + info_d["n_h_slab"]
    bulk = atoms[:n_slab].copy()  # the precursor crystal: the slab with its periodic repeat along c
    cell = np.array(atoms.cell)
    lz0 = normal_heights(atoms.positions[:1], cell)[1]
    thickness = info_d["slab_z_range_a"][1] - info_d["slab_z_range_a"][0]
    bulk.set_cell(np.vstack([cell[0], cell[1], cell[2] * thickness / lz0]), scale_atoms=False)
    bm = metal_mask(bulk.get_chemical_symbols())
    k = shell_size(bulk.positions[bm], np.array(bulk.cell))
    cutoff = first_shell_cutoff(bulk.positions[bm], np.array(bulk.cell), k)
    v_metal_ref = abs(np.linalg.det(np.array(bulk.cell))) / int(bm.sum())
    analyser = _FrameAnalyser(atoms, info_d, k, cutoff, v_metal_ref, blowup_distance(atoms),
                              keep_frames=trajectory is not None)
    analyser.calibrate(atoms.positions, cell)  # region offsets from the built (unrelaxed) interface
    seed = settings["seed"]
    every = settings["sample_every"]
    ramp = None
    if n_ramp > 0:
        ramp = Stage("npt", n_ramp, t_start, temperature_k, pressure_gpa=pressure_gpa, sample_every=every,
                     barostat="z", init_velocities_k=t_start, seed=seed, label="ramp")

    def production(steps: int, first: bool) -> Stage:
        return Stage("npt", steps, temperature_k, pressure_gpa=pressure_gpa, sample_every=every, barostat="z",
                     init_velocities_k=temperature_k if first and ramp is None else None, seed=seed + 1,
                     label="production")

    if segment_steps is not None:
        error, production_start, relax, earlier_s = _run_segments(atoms, calc, calculator, settings, analyser, ramp,
                                                                  production, n_prod, segment_steps, checkpoint,
                                                                  progress, n_threads)
    else:
        error, production_start, relax = _run_in_one_session(atoms, calc, calculator, settings, analyser, ramp,
                                                             production(n_prod, True), progress, n_threads)
        earlier_s = 0.0
    if trajectory is not None:  # also after a failure: the frames up to it
        write_trajectory(analyser.frames, trajectory)
    s = analyser.series
    t = np.asarray(s["time_ps"], dtype=float)
    hm = np.asarray(s["h_per_metal_slab"], dtype=float)
    prod = np.array([lab == "production" for lab in s["stage"]], dtype=bool)
    rate, rate_err = linear_rate(t[prod], hm[prod]) if prod.any() else (math.nan, math.nan)
    tail = hm[prod][-max(1, prod.sum() // 10):] if prod.any() else hm[-1:]
    is_metal = metal_mask(atoms.get_chemical_symbols())
    species = info_d["metal"]
    initial = final = {"phase": NO_MATCH, "rms": None, "matches": {}, "equivalent": []}
    if analyser.first is not None:
        pos, c, region = analyser.first
        initial = _phase_of(pos, c, region, is_metal, species, s["liquid_fraction_slab"][0], float(hm[0]))
    h_final = float(np.nanmean(tail)) if len(tail) else math.nan
    if not error and analyser.last is not None:
        pos, c, region = analyser.last
        final = _phase_of(pos, c, region, is_metal, species, s["liquid_fraction_slab"][-1], h_final)
    return InterfaceResult(
        status="failed" if error else "ok", message=error or "", target_pressure_gpa=pressure_gpa,
        target_temperature_k=temperature_k, production_start_ps=float(production_start),
        uptake_rate_per_ps=rate, uptake_rate_err_per_ps=rate_err,
        h_per_metal_initial=float(hm[0]) if len(hm) else math.nan,
        h_per_metal_final=h_final,
        initial_phase=initial["phase"], product_phase=final["phase"] if not error else NO_MATCH,
        product_matches={"initial": initial, "final": final}, calculator=cinfo.as_dict(),
        settings={**settings, "shell_k": int(k), "first_shell_cutoff_a": cutoff, "metal_volume_ref_a3": v_metal_ref,
                  "relax": relax}, interface=info_d,
        n_atoms=len(atoms), region_offsets_a=list(analyser.offsets or (math.nan, math.nan)),
        depth_bins_a=[float(x) for x in (analyser.bins if analyser.bins is not None else [])],
        liquid_fraction_by_depth=s["liquid_fraction_by_depth"], metal_count_by_depth=s["metal_count_by_depth"],
        trajectory=str(trajectory) if trajectory is not None else None,
        wall_s=time.perf_counter() - start_wall + earlier_s, **{key: list(s[key]) for key in SERIES})


# --------------------------------------------------------------------------- figure
def plot_uptake(results: Mapping[str, InterfaceResult], path: str | Path) -> Path:
    """H/M in the slab (top) and liquid-like fraction of the surface metal (bottom) vs time for several runs.

    ``results`` maps a label (e.g. ``"1473 K"``, ``"control 300 K"``) to an :class:`InterfaceResult`.
    The production start of each run is marked; the calculators are named in the title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not results:
        raise CandidateError("plot_uptake needs at least one result")
    fig, (ax_h, ax_l) = plt.subplots(2, 1, figsize=(7.0, 6.0), sharex=True, constrained_layout=True)
    calculators, titles = [], set()
    for label, r in results.items():
        t = r.series("time_ps")
        rate = (f", {r.uptake_rate_per_ps:+.3f} ± {r.uptake_rate_err_per_ps:.3f} /ps"
                if math.isfinite(r.uptake_rate_per_ps) else "")
        line, = ax_h.plot(t, r.series("h_per_metal_slab"), label=f"{label} ({r.target_temperature_k:.0f} K{rate})"
                          + ("" if r.status == "ok" else " [failed]"))
        ax_l.plot(t, r.series("liquid_fraction_surface"), color=line.get_color(), label=f"{label}: surface")
        ax_l.plot(t, r.series("liquid_fraction_slab"), ":", color=line.get_color(), label=f"{label}: whole slab")
        if math.isfinite(r.production_start_ps):
            for ax in (ax_h, ax_l):
                ax.axvline(r.production_start_ps, color=line.get_color(), lw=0.6, ls="--")
        cal = r.calculator
        text = f"{cal.get('name')} {cal.get('version', '')} ({cal.get('kind', '')})"
        if text not in calculators:
            calculators.append(text)
        iface = r.interface
        titles.add(f"{iface.get('precursor_formula')} ({iface.get('template')}) / H2 at {r.target_pressure_gpa:g} GPa")
    ax_h.set_ylabel("H/M in slab region")
    ax_h.legend(fontsize=7)
    ax_l.set_ylabel("liquid-like fraction of metal")
    ax_l.set_xlabel("time (ps)  [dashed: start of production]")
    ax_l.set_ylim(-0.02, 1.02)
    ax_l.legend(fontsize=7, ncol=2)
    import textwrap

    title = "; ".join(sorted(titles)) + "\n" + textwrap.fill("calculator: " + "; ".join(calculators), 95)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)
    plt.close(fig)
    return path


__all__ = ["DEPTH_BIN_A", "InterfaceResult", "NO_MATCH", "SlabRegion", "analyse_frame", "calibrate_region", "depth_bins",
           "depth_profile", "first_shell_cutoff", "linear_rate",
           "match_product_phase", "normal_heights", "plot_uptake", "save_figure", "simulate_interface", "slab_h_per_metal",
           "slab_metal_structure", "slab_region", "surface_liquid_fraction"]
