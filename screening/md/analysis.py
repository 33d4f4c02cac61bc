"""Analysis of MD frames: crystallinity of the metal sublattice, per-species MSD, blow-up checks.

Order parameter (structure-agnostic): Steinhardt q6 vectors on the ``k`` nearest metal
neighbours, with ten Wolde-Frenkel "solid bonds" (normalised q6(i)·q6*(j) > 0.7); an atom
is solid-like when at least half of its bonds are solid. ``k`` is the size of the first
coordination shell of the *reference* crystal (12 for fcc/hcp, 14 for bcc), detected
from the largest gap in its sorted neighbour distances. Crystals near T_m give a solid
fraction > 0.9, liquids < 0.05, for any lattice, so thresholds need no per-system tuning.

Mean-square displacements are computed per species, relative to the centre of mass,
over a sliding lag window so that a ramp gives a local diffusion coefficient
``D(T) = [MSD(2τ) - MSD(τ)] / 6τ`` (the vibrational plateau cancels).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from scipy.special import sph_harm_y

from screening.md.base import Frame

SOLID_BOND = 0.7
D_MIN_A2_PER_PS = 0.05  # 5e-6 cm^2/s: below this a sublattice counts as non-diffusive
MAX_JUMP_EV_PER_ATOM = 0.02  # conserved-energy change between two frames that signals a blow-up
_W = np.array([1.0] + [2.0] * 6)  # m = 0..6; negative m folded in by symmetry


def metal_mask(symbols) -> np.ndarray:
    """True for every atom that is not hydrogen (the metal sublattice)."""
    return np.array([s != "H" for s in symbols], dtype=bool)


def _orthorhombic(cell: np.ndarray) -> bool:
    return bool(np.allclose(cell - np.diag(np.diag(cell)), 0.0, atol=1e-8))


def _neighbours(positions: np.ndarray, cell: np.ndarray, cutoff: float, k: int | None = None):
    """Neighbour pairs sorted by (i, distance): ``(i, j, D, d)`` with ``D = r_j - r_i`` (minimum image).

    Orthorhombic cells use a periodic KD-tree (fast; the ``k`` nearest when ``k`` is given),
    other cells ASE's neighbour list within ``cutoff``.
    """
    n = len(positions)
    if _orthorhombic(cell) and k is not None and k < n:
        from scipy.spatial import cKDTree

        box = np.diag(cell).copy()
        wrapped = np.mod(positions, box)
        wrapped[wrapped >= box] = 0.0
        d, j = cKDTree(wrapped, boxsize=box).query(wrapped, k=k + 1)
        d, j = d[:, 1:].ravel(), j[:, 1:].ravel()
        i = np.repeat(np.arange(n), k)
        dvec = wrapped[j] - wrapped[i]
        dvec -= box * np.round(dvec / box)
        return i, j, dvec, d
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    atoms = Atoms(positions=positions, cell=cell, pbc=True)
    i, j, dvec = neighbor_list("ijD", atoms, cutoff)
    d = np.linalg.norm(dvec, axis=1)
    order = np.lexsort((d, i))
    return i[order], j[order], dvec[order], d[order]


def closest_pair_distance(positions: np.ndarray, cell: np.ndarray, cutoff: float) -> float:
    """Shortest interatomic distance if below ``cutoff`` (else inf), periodic."""
    if _orthorhombic(cell) and len(positions) > 1:
        _, _, _, d = _neighbours(positions, cell, cutoff, k=1)
        return float(d.min())
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    d = neighbor_list("d", Atoms(positions=positions, cell=cell, pbc=True), cutoff)
    return float(d.min()) if len(d) else math.inf


def shell_size(positions: np.ndarray, cell: np.ndarray, max_k: int = 16) -> int:
    """Size of the first coordination shell of a (reference) crystal: largest gap in neighbour distances."""
    n = len(positions)
    scale = (abs(np.linalg.det(cell)) / n) ** (1 / 3)
    i, _, _, d = _neighbours(positions, cell, 2.2 * scale)
    ks = []
    for a in range(n):
        da = d[i == a][: max_k + 1]
        if len(da) < 5:
            continue
        ratios = da[4:] / da[3:-1]  # gap after the n-th neighbour, n >= 4
        ks.append(4 + int(np.argmax(ratios)))
    if not ks:
        return 12
    vals, counts = np.unique(ks, return_counts=True)
    return int(vals[np.argmax(counts)])


def solid_like_atoms(positions: np.ndarray, cell: np.ndarray, k: int, cutoff: float | None = None,
                     return_q6: bool = False):
    """Per-atom solid-like flags from the q6 bond-order criterion (and, optionally, per-atom Q6).

    Neighbours are the ``k`` nearest; a bond is solid when the normalised q6·q6 product exceeds
    ``SOLID_BOND``. With ``cutoff=None`` an atom is solid-like with >= ceil(k/2) solid bonds (the
    melting tier's criterion). With a ``cutoff`` (Å) only the k nearest *within it* count and an
    atom is solid-like when at least half of its own bonds (and at least 3) are solid: the same in
    the bulk, but a perfect free surface stays solid.
    """
    positions = np.asarray(positions, dtype=float)
    cell = np.asarray(cell, dtype=float)
    n = len(positions)
    scale = (abs(np.linalg.det(cell)) / n) ** (1 / 3)
    i, j, dvec, d = _neighbours(positions, cell, max(1.9 * scale, cutoff or 0.0), k=k)
    counts = np.bincount(i, minlength=n)
    start = np.concatenate(([0], np.cumsum(counts)[:-1]))
    keep = (np.arange(len(i)) - start[i]) < k
    if cutoff is not None:
        keep &= d < cutoff
    i, j, dvec, d = i[keep], j[keep], dvec[keep], d[keep]
    nb = np.bincount(i, minlength=n).astype(float)
    theta = np.arccos(np.clip(dvec[:, 2] / np.maximum(d, 1e-12), -1.0, 1.0))
    phi = np.arctan2(dvec[:, 1], dvec[:, 0])
    ylm = np.stack([sph_harm_y(6, m, theta, phi) for m in range(7)], axis=1)
    q = np.zeros((n, 7), dtype=complex)
    np.add.at(q, i, ylm)
    q /= np.maximum(nb, 1.0)[:, None]
    norm = np.sqrt((_W * np.abs(q) ** 2).sum(axis=1))
    s = (_W * (q[i] * np.conj(q[j])).real).sum(axis=1) / np.maximum(norm[i] * norm[j], 1e-12)
    solid_bonds = np.bincount(i[s > SOLID_BOND], minlength=n)
    if cutoff is None:
        solid = solid_bonds >= math.ceil(k / 2)
    else:
        solid = (solid_bonds >= np.ceil(nb / 2)) & (nb >= 3)
    if return_q6:
        return solid, np.sqrt(4 * math.pi / 13) * norm
    return solid


def crystallinity(positions: np.ndarray, cell: np.ndarray, k: int) -> tuple[float, float]:
    """(solid-like fraction, mean local Q6) of a set of atoms (the metal sublattice)."""
    solid, q6 = solid_like_atoms(positions, cell, k, return_q6=True)
    return float(solid.mean()), float(q6.mean())


def block_sem(x: np.ndarray, n_blocks: int = 5) -> float:
    """Standard error of the mean of a correlated series from ``n_blocks`` block averages."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < 2 * n_blocks:
        return float(np.std(x) / math.sqrt(max(len(x) - 1, 1))) if len(x) > 1 else math.inf
    means = np.array([b.mean() for b in np.array_split(x, n_blocks)])
    return float(means.std(ddof=1) / math.sqrt(n_blocks))


@dataclass
class Recorder:
    """Frame callback that turns frames into time series and detects blown-up runs.

    Args:
        symbols: chemical symbols of all atoms.
        masses: atomic masses (for the centre-of-mass correction of MSDs).
        shell: first-shell size ``k`` of the metal sublattice (see :func:`shell_size`).
        min_distance_a: a frame with two atoms closer than this is a blow-up.
        lag_frames: MSD lag ``τ`` in frames (the window is ``2τ``).
        order_every: compute the order parameter every this many frames (NaN between).
        max_drift_ev_per_atom: allowed drift of the conserved energy within the stage (None: only
            frame-to-frame jumps are checked, e.g. in temperature ramps where it is not conserved).
        max_jump_ev_per_atom: allowed change of the conserved energy between two frames (None: not
            checked, e.g. in a thermostat ramp, where the extended-system energy is not conserved).
        stop_rule: optional ``f(recorder) -> bool`` evaluated after every frame.
    """

    symbols: tuple[str, ...]
    masses: np.ndarray
    shell: int
    min_distance_a: float
    lag_frames: int = 10
    order_every: int = 1
    max_drift_ev_per_atom: float | None = 0.05
    max_jump_ev_per_atom: float | None = MAX_JUMP_EV_PER_ATOM
    stop_rule: object = None
    series: dict = field(default_factory=dict)
    failure: str | None = None

    def __post_init__(self) -> None:
        self._metal = metal_mask(self.symbols)
        self.species = sorted(set(self.symbols))
        self._idx = {s: np.array([k for k, x in enumerate(self.symbols) if x == s]) for s in self.species}
        if self._metal.any():  # the whole metal sublattice as one group ("metal")
            self.species.append("metal")
            self._idx["metal"] = np.where(self._metal)[0]
        self._hist: deque = deque(maxlen=2 * self.lag_frames + 1)
        self._first: np.ndarray | None = None
        self._e0: float | None = None
        self._e_prev: float | None = None
        self._n = 0
        keys = ["time_ps", "target_t_k", "t_k", "p_gpa", "v_per_atom", "h_per_atom", "pe_per_atom", "solid_fraction",
                "q6"]
        for s in self.species:
            keys += [f"msd_{s}", f"msd_lag_{s}", f"d_{s}"]
        self.series = {k: [] for k in keys}

    def _com_free(self, pos: np.ndarray) -> np.ndarray:
        com = (self.masses[:, None] * pos).sum(axis=0) / self.masses.sum()
        return pos - com

    def __call__(self, frame: Frame) -> bool:
        self.failure = self._check(frame)
        if self.failure:
            return True
        n_at = len(self.symbols)
        pos = self._com_free(frame.positions)
        if self._first is None:
            self._first = pos.copy()
        self._hist.append(pos)
        s = self.series
        s["time_ps"].append(frame.time_ps)
        s["target_t_k"].append(frame.target_t_k)
        s["t_k"].append(frame.temperature_k)
        s["p_gpa"].append(frame.pressure_gpa)
        s["v_per_atom"].append(frame.volume_a3 / n_at)
        s["h_per_atom"].append(frame.enthalpy_ev / n_at)
        s["pe_per_atom"].append(frame.potential_ev / n_at)
        if self._n % self.order_every == 0:
            frac, q6 = crystallinity(frame.positions[self._metal], frame.cell, self.shell)
        else:
            frac, q6 = math.nan, math.nan
        s["solid_fraction"].append(frac)
        s["q6"].append(q6)
        full = len(self._hist) == self._hist.maxlen
        dt_lag = (s["time_ps"][-1] - s["time_ps"][-1 - self.lag_frames]) if full else math.nan
        for sp, idx in self._idx.items():
            s[f"msd_{sp}"].append(float(((pos[idx] - self._first[idx]) ** 2).sum(axis=1).mean()))
            if full:
                m1 = float(((pos[idx] - self._hist[-1 - self.lag_frames][idx]) ** 2).sum(axis=1).mean())
                m2 = float(((pos[idx] - self._hist[0][idx]) ** 2).sum(axis=1).mean())
                s[f"msd_lag_{sp}"].append(m1)
                s[f"d_{sp}"].append((m2 - m1) / (6.0 * dt_lag) if dt_lag > 0 else math.nan)
            else:
                s[f"msd_lag_{sp}"].append(math.nan)
                s[f"d_{sp}"].append(math.nan)
        self._n += 1
        return bool(self.stop_rule(self)) if self.stop_rule is not None else False

    def _check(self, frame: Frame) -> str | None:
        values = (frame.temperature_k, frame.potential_ev, frame.volume_a3, frame.kinetic_ev)
        if not all(math.isfinite(v) for v in values) or not np.isfinite(frame.positions).all():
            return f"blow-up: non-finite energy or positions at t = {frame.time_ps:.2f} ps"
        t_max = 3.0 * max(frame.target_t_k, 300.0) + 1000.0
        if frame.temperature_k > t_max:
            return (f"blow-up: temperature {frame.temperature_k:.0f} K exceeds {t_max:.0f} K "
                    f"(target {frame.target_t_k:.0f} K) at t = {frame.time_ps:.2f} ps")
        dmin = closest_pair_distance(frame.positions, frame.cell, self.min_distance_a)
        if dmin < self.min_distance_a:
            return (f"blow-up: two atoms {dmin:.2f} Å apart (physical minimum {self.min_distance_a:.2f} Å) "
                    f"at t = {frame.time_ps:.2f} ps")
        if math.isfinite(frame.conserved_ev):
            n_at = len(self.symbols)
            jump = abs(frame.conserved_ev - self._e_prev) / n_at if self._e_prev is not None else 0.0
            self._e_prev = frame.conserved_ev
            if self._e0 is None:
                self._e0 = frame.conserved_ev
            drift = abs(frame.conserved_ev - self._e0) / n_at
            if (self.max_jump_ev_per_atom is not None and jump > self.max_jump_ev_per_atom) or (self.max_drift_ev_per_atom is not None
                                               and drift > self.max_drift_ev_per_atom):
                return (f"blow-up: conserved energy drifted {drift:.3f} eV/atom (jump {jump:.3f} eV/atom in one "
                        f"frame) at t = {frame.time_ps:.2f} ps")
        return None

    def arrays(self) -> dict[str, np.ndarray]:
        """The series as float arrays."""
        return {k: np.asarray(v, dtype=float) for k, v in self.series.items()}


def tail_mean(x, fraction: float = 0.5) -> float:
    """Mean of the finite values in the last ``fraction`` of a series."""
    x = np.asarray(x, dtype=float)
    x = x[int(len(x) * (1 - fraction)):]
    x = x[np.isfinite(x)]
    return float(x.mean()) if len(x) else math.nan


def persistent_crossing(x, y, threshold: float, above: bool, hold: int = 3) -> float | None:
    """First ``x`` at which ``y`` crosses ``threshold`` (to above/below) and stays there for the rest.

    ``hold`` consecutive finite points past the crossing are required; NaNs are skipped.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(y)
    x, y = x[ok], y[ok]
    cond = y > threshold if above else y < threshold
    if len(cond) < hold or not cond[-hold:].all():
        return None
    bad = np.where(~cond)[0]
    first = 0 if len(bad) == 0 else bad[-1] + 1
    return float(x[first]) if len(cond) - first >= hold else None


def jump_location(x, y, window: int, rising: bool) -> tuple[float | None, float]:
    """Location of the largest step in ``y`` (a latent-heat or volume jump) and its significance.

    The step at ``i`` is ``y[i+w] - y[i-w]`` minus the median slope; significance is the step
    over the robust spread of all steps (a value > 4 is a clear jump).
    """
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    n = len(y)
    if n < 4 * window + 1:
        return None, 0.0
    steps = y[2 * window:] - y[:-2 * window]
    steps = steps - np.median(steps)
    if not rising:
        steps = -steps
    top = np.where(steps >= 0.9 * steps.max())[0]
    k = int(top[len(top) // 2])  # centre of the plateau that a sharp step produces
    spread = 1.4826 * np.median(np.abs(steps - np.median(steps))) + 1e-12
    return float(x[k + window]), float(steps[k] / spread)
