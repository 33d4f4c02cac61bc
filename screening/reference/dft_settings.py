"""The plane-wave DFT settings of every GPAW number the project computes.

:data:`DEFAULT_DFT_SETTINGS` was chosen by the convergence test of :mod:`screening.reference.convergence`
(``make dft-convergence``; table in ``data/dft/convergence.csv``): the cheapest cutoff and k-point density at
which the formation enthalpies of I4/mmm CaH4 at 40 GPa and Fm-3m LaH10 at 150 GPa are within 5 meV/atom, and
the hydride pressures within 1 GPa, of the most converged setting tested.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from screening.errors import CandidateError

SMEARINGS = ("fermi-dirac", "marzari-vanderbilt", "methfessel-paxton")


@dataclass(frozen=True)
class DFTSettings:
    """GPAW PBE plane-wave settings (a maker in the spirit of atomate2: defaults a user can override).

    Args:
        ecut_ev: plane-wave cutoff (eV).
        kpt_density: Monkhorst–Pack density, k-points per Å⁻¹ (GPAW's ``kpts={"density": ...}``), Γ-centred,
            of every cell that contains hydrogen.
        metal_kpt_density: the same for cells of metal atoms only (the elemental references: one- and two-atom
            metallic cells converge far more slowly in k than the hydrides; see the convergence table).
        smearing: occupation smearing (``fermi-dirac``, ``marzari-vanderbilt``, ``methfessel-paxton``).
        smearing_width_ev: smearing width (eV); energies are extrapolated to zero width by GPAW.
        spinpol: spin-polarised calculation (off: compressed hydrides are non-magnetic; metals with
            local moments at ambient pressure are the exception, and their rows say spinpol=False).
        scf_energy_tol_ev: SCF convergence of the energy per valence electron (eV).
        max_scf_iterations: SCF iterations before a label is reported as failed.
    """

    ecut_ev: float = 600.0
    kpt_density: float = 4.0
    metal_kpt_density: float = 6.0
    smearing: str = "fermi-dirac"
    smearing_width_ev: float = 0.1
    spinpol: bool = False
    scf_energy_tol_ev: float = 1e-4
    max_scf_iterations: int = 200

    def __post_init__(self) -> None:
        if not self.ecut_ev > 100:
            raise CandidateError(f"DFT ecut_ev={self.ecut_ev!r} must be > 100 eV")
        for name in ("kpt_density", "metal_kpt_density"):
            if not getattr(self, name) > 0:
                raise CandidateError(f"DFT {name}={getattr(self, name)!r} must be > 0")
        if self.smearing not in SMEARINGS:
            raise CandidateError(f"DFT smearing {self.smearing!r} unknown; valid: {', '.join(SMEARINGS)}")
        if not self.smearing_width_ev > 0:
            raise CandidateError(f"DFT smearing_width_ev={self.smearing_width_ev!r} must be > 0")

    def as_dict(self) -> dict:
        return asdict(self)

    def with_(self, **changes) -> "DFTSettings":
        """A copy with some fields changed (validated)."""
        return replace(self, **changes)

    def calculator_settings(self, atoms=None) -> dict:
        """Keyword settings for ``get_calculator("gpaw", **settings)`` (they enter every cache key).

        ``atoms``: the cell to compute; a cell without hydrogen gets ``metal_kpt_density``. Where GPAW's density
        rule would give a mesh that breaks the cell's point group, ``kpts_size`` names the symmetric mesh used
        instead (:func:`screening.structures.symmetry.kpoint_mesh`; at least as dense in every direction).
        """
        metal_only = atoms is not None and "H" not in atoms.get_chemical_symbols()
        density = float(self.metal_kpt_density if metal_only else self.kpt_density)
        out = {
            "ecut_ev": float(self.ecut_ev),
            "kpt_density": density,
            "occupations": {"name": self.smearing, "width": float(self.smearing_width_ev)},
            "spinpol": bool(self.spinpol),
            "convergence": {"energy": float(self.scf_energy_tol_ev)},
            "maxiter": int(self.max_scf_iterations),
        }
        if atoms is not None:  # a mesh that keeps the point group, where the density rule would break it
            from ase.calculators.calculator import kptdensity2monkhorstpack

            from screening.structures.symmetry import symmetric_mesh

            rule = [int(n) for n in kptdensity2monkhorstpack(atoms, density, even=False)]
            mesh = list(symmetric_mesh(atoms, rule))
            if mesh != rule:
                out["kpts_size"] = mesh
        return out


#: The settings chosen by the convergence test (``data/dft/convergence.csv``).
DEFAULT_DFT_SETTINGS = DFTSettings()

__all__ = ["DEFAULT_DFT_SETTINGS", "DFTSettings", "SMEARINGS"]
