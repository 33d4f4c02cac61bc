"""Where is the default calculator trustworthy? GPAW (PBE) single points on CHGNet-relaxed structures.

    make setup-dft && make compare-dft

For Ca–, La– and Y–H at 50 and 150 GPa: CHGNet relaxes a hydride, the metal (fcc/bcc/hcp, lowest H)
and H2 (cached in the result store); GPAW then evaluates the same geometries. Reported:

* pressure difference P_GPAW − P_CHGNet at each CHGNet geometry (how far CHGNet's EOS is from PBE);
* formation energy at fixed geometry, ΔE_f = E(MH_x) − E(M) − x/2 E(H2) per atom, CHGNet vs GPAW.
"""

from __future__ import annotations

import time
import warnings

warnings.filterwarnings("ignore")

import pandas as pd  # noqa: E402

from screening.calculators import get_calculator  # noqa: E402
from screening.proxies.enthalpy import BUILDER_VERSION, compute_system  # noqa: E402
from screening.relax import EV_PER_GPA_A3, RelaxSettings, relaxation_inputs  # noqa: E402
from screening.store import ResultStore  # noqa: E402

CASES = {  # metal: {pressure: (template, H/M)}
    "Ca": {50.0: ("cotunnite", 2.0), 150.0: ("sodalite", 6.0)},
    "La": {50.0: ("bif3", 3.0), 150.0: ("fcc_clathrate", 10.0)},
    "Y": {50.0: ("bif3", 3.0), 150.0: ("sodalite", 6.0)},
}


def main() -> None:
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    store = ResultStore()
    _, chg = get_calculator("chgnet")
    dft, dft_info = get_calculator("gpaw")
    print(f"reference: {dft_info.label} {dft_info.settings}", flush=True)
    prows, erows = [], []
    for metal, by_p in CASES.items():
        system = compute_system(metal, sorted(by_p), "chgnet", templates=sorted({t for t, _ in by_p.values()}), store=store)
        for p, (template, x) in by_p.items():
            hyd = f"{metal}H{x:g}/{template}"
            energies = {}
            for phase in (hyd, system.metal_ref(p).name, "H2"):
                row = system.relaxations.query("phase == @phase and pressure_gpa == @p").iloc[0]
                label = {"phase": phase, "template": row["template"], "metal": metal, "builder": BUILDER_VERSION}
                res = store.get("relax", relaxation_inputs(label, p, chg, RelaxSettings()))
                atoms = AseAtomsAdaptor.get_atoms(Structure.from_dict(res["structure"]))
                atoms.calc = dft
                t0 = time.perf_counter()
                e_dft = atoms.get_potential_energy()
                p_dft = -atoms.get_stress(voigt=True)[:3].mean() / EV_PER_GPA_A3
                n = len(atoms)
                energies[phase] = (e_dft / n, res["energy_ev"] / n)
                prows.append({"system": f"{metal}-H", "phase": phase, "pressure_gpa": p, "n_atoms": n,
                              "converged": res["converged"], "P_chgnet_gpa": res["achieved_pressure_gpa"], "P_gpaw_gpa": p_dft,
                              "P_diff_gpa": p_dft - res["achieved_pressure_gpa"], "gpaw_s": time.perf_counter() - t0})
                print(prows[-1], flush=True)
            fm, fh = 1.0 / (1.0 + x), x / (1.0 + x)  # atom fractions of M and H in MH_x
            ef = {src: energies[hyd][i] - fm * energies[system.metal_ref(p).name][i] - fh * energies["H2"][i]
                  for i, src in enumerate(("gpaw", "chgnet"))}
            erows.append({"system": f"{metal}-H", "phase": hyd, "pressure_gpa": p, "dE_f_gpaw_ev_per_atom": ef["gpaw"],
                          "dE_f_chgnet_ev_per_atom": ef["chgnet"], "diff_ev_per_atom": ef["chgnet"] - ef["gpaw"]})
    fmt = lambda v: f"{v:.3f}"  # noqa: E731
    print("\nPressure at CHGNet-relaxed geometries (GPa):")
    print(pd.DataFrame(prows).to_string(index=False, float_format=fmt))
    print("\nFormation energy at fixed CHGNet geometries, E(MH_x) - E(M) - x/2 E(H2), eV/atom:")
    print(pd.DataFrame(erows).to_string(index=False, float_format=fmt))


if __name__ == "__main__":
    main()
