"""Tier-2a benchmark: CHGNet relaxations of one candidate on a 7-point pressure grid, and a rerun from cache.

    make bench        (part of it)

"Per candidate" = the candidate's own structure relaxed at all 7 pressures; the references
(metal, H2, lower hydrides) are shared by every candidate of a system and cached once.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import warnings

warnings.filterwarnings("ignore")

from screening.proxies.enthalpy import compute_system  # noqa: E402
from screening.store import ResultStore  # noqa: E402

PRESSURES = (0, 25, 50, 100, 150, 200, 300)
CASES = (("La", "fcc_clathrate"), ("Ca", "sodalite"))


def main() -> None:
    calc = sys.argv[1] if len(sys.argv) > 1 else "chgnet"
    print(f"calculator: {calc}; pressures: {PRESSURES}; cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        store = ResultStore(os.path.join(tmp, "bench.sqlite"))
        for metal, template in CASES:
            t0 = time.perf_counter()
            system = compute_system(metal, PRESSURES, calc, templates=[template], store=store, progress=False)
            t_all = time.perf_counter() - t0
            rows = system.relaxations
            cand = rows[rows["template"] == template]
            t_cand = float(cand["seconds"].sum())
            t1 = time.perf_counter()
            compute_system(metal, PRESSURES, calc, templates=[template], store=store, progress=False)
            t_cached = time.perf_counter() - t1
            n_atoms = system.relaxations["phase"].nunique()
            print(f"\n{metal}H{system.phases[cand['phase'].iloc[0]].h_per_metal:g} ({template}):")
            print(f"  candidate relaxations at 7 pressures: {t_cand:8.1f} s  (steps {int(cand['steps'].sum())}, "
                  f"converged {int(cand['converged'].sum())}/7)  target <= 120 s")
            print(f"  whole system incl. metal (3 lattices) and H2 references: {t_all:8.1f} s over {len(rows)} relaxations of {n_atoms} phases")
            print(f"  rerun from cache: {t_cached:8.3f} s  -> speedup {t_all / t_cached:8.0f}x  (target >= 100x)")


if __name__ == "__main__":
    main()
