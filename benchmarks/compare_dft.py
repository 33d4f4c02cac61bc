"""Where is the default calculator trustworthy? GPAW (PBE) single points on CHGNet-relaxed structures.

    make setup-dft && make compare-dft                     (Ca-, La-, Y-H at 50 and 150 GPa)
    .venv/bin/python benchmarks/compare_dft.py Ca          (one system)

For each system, CHGNet relaxes (result store, shared with tier 2a) a lower hydride, a higher hydride and
H2 at 50 and 150 GPa; GPAW evaluates the same geometries (stored too, so an interrupted run resumes). Reported:

* P_GPAW − P_CHGNet at each CHGNet geometry: how far CHGNet's equation of state is from PBE there;
* the reaction energy MH_low + (x_high − x_low)/2 H2 -> MH_high at fixed geometries, CHGNet vs GPAW (eV per metal).

Metal cells are left out: CHGNet's Ca collapses under pressure (PBE's SCF does not converge at its 150 GPa
geometry, and gives 103 GPa at its 50 GPa one), and 1–2-atom metal cells need many k-points.
"""

from __future__ import annotations

import sys
import time
import warnings

warnings.filterwarnings("ignore")

import pandas as pd  # noqa: E402

from screening.calculators import get_calculator  # noqa: E402
from screening.proxies.enthalpy import BUILDER_VERSION  # noqa: E402
from screening.relax import EV_PER_GPA_A3, RelaxSettings, cached_relaxation  # noqa: E402
from screening.store import ResultStore  # noqa: E402
from screening.structures import build_structure, h2_structure, load_templates  # noqa: E402

CASES = {"Ca": ("cotunnite", "sodalite"), "La": ("bif3", "fcc_clathrate"), "Y": ("bif3", "sodalite")}
PRESSURES = (50.0, 150.0)


def main() -> None:
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    store = ResultStore()
    chg_calc, chg = get_calculator("chgnet")
    dft, dft_info = get_calculator("gpaw")
    settings = RelaxSettings()
    print(f"reference: {dft_info.label} {dft_info.settings}", flush=True)
    metals = sys.argv[1:] or list(CASES)
    rows = []
    for metal in metals:
        for p in PRESSURES:
            per_fu = {}
            phases = [(f"{metal}H{load_templates()[t].h_per_metal:g}/{t}", t) for t in CASES[metal]] + [("H2", "mhcp")]
            for phase, template in phases:
                label = {"phase": phase, "template": template, "metal": metal, "builder": BUILDER_VERSION}
                factory = (lambda p=p: h2_structure(p)) if phase == "H2" else \
                    (lambda p=p, t=template: build_structure(load_templates()[t], metal, p))
                t0 = time.perf_counter()
                res, _ = cached_relaxation(store, label, factory, p, chg_calc, chg, settings)
                t_chg = time.perf_counter() - t0
                atoms = AseAtomsAdaptor.get_atoms(Structure.from_dict(res["structure"]))
                n_fu = len(atoms) / 2 if phase == "H2" else sum(1 for s in atoms.get_chemical_symbols() if s != "H")

                def single_point(atoms=atoms) -> dict:
                    atoms.calc = dft
                    t1 = time.perf_counter()
                    try:
                        energy = float(atoms.get_potential_energy())
                        pressure = float(-atoms.get_stress(voigt=True)[:3].mean() / EV_PER_GPA_A3)
                    except Exception as exc:  # e.g. SCF not converged at an unphysical geometry
                        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "seconds": time.perf_counter() - t1}
                    return {"status": "ok", "energy_ev": energy, "pressure_gpa": pressure, "seconds": time.perf_counter() - t1}

                sp, _ = store.get_or_compute("dft-single-point", {"structure": res["structure"], "calculator": dft_info.as_dict()},
                                             single_point)
                row = {"system": f"{metal}-H", "phase": phase, "pressure_gpa": p, "n_atoms": len(atoms),
                       "chgnet_converged": res["converged"], "P_chgnet_gpa": res["achieved_pressure_gpa"],
                       "P_gpaw_gpa": sp.get("pressure_gpa", float("nan")), "gpaw_status": sp["status"],
                       "chgnet_s": t_chg, "gpaw_s": sp["seconds"]}
                row["P_diff_gpa"] = row["P_gpaw_gpa"] - row["P_chgnet_gpa"]
                rows.append(row)
                if sp["status"] == "ok":
                    per_fu[phase] = (sp["energy_ev"] / n_fu, res["energy_ev"] / n_fu)
                print({k: (round(v, 2) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
            low, high = phases[0][0], phases[1][0]
            if all(k in per_fu for k in (low, high, "H2")):
                dx = load_templates()[CASES[metal][1]].h_per_metal - load_templates()[CASES[metal][0]].h_per_metal
                de = {src: per_fu[high][i] - per_fu[low][i] - dx / 2 * per_fu["H2"][i] for i, src in enumerate(("gpaw", "chgnet"))}
                print(f"REACTION {metal} {p:g} GPa {low} + {dx / 2:g} H2 -> {high}: dE GPAW {de['gpaw']:+.3f}, "
                      f"CHGNet {de['chgnet']:+.3f}, CHGNet-GPAW {de['chgnet'] - de['gpaw']:+.3f} eV/metal", flush=True)
    print("\nPressure at CHGNet-relaxed geometries (GPa):")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.1f}"))


if __name__ == "__main__":
    main()
