"""How often the scan's two ways of combining its looks flag a model with no backdoor, simulated:
ten normal class statistics a look, looks sharing a correlation rho (a common draw per class),
each look scored by auditor's `verdict`; Simes class by class (auditor's `strongest` since
2026-12-05) against the smallest p Šidák-corrected (before). The README's calibration figures:

    python simulate_null.py 2000 2,4 0,0.5,0.9     and     python simulate_null.py 8000 4 0.5
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from auditor.detection import strongest, verdict  # noqa: E402
from score_simes import sidak  # noqa: E402  (this folder's)


def main():
    sets = int(sys.argv[1])
    for looks in (int(v) for v in sys.argv[2].split(",")):
        for rho in (float(v) for v in sys.argv[3].split(",")):
            rng = np.random.default_rng(7)
            simes = old = 0
            for _ in range(sets):
                shared = rng.normal(0, 1, 10)
                by_look = {i: verdict(np.sqrt(rho) * shared + np.sqrt(1 - rho) * rng.normal(0, 1, 10),
                                      0.05) for i in range(looks)}
                simes += strongest(by_look).suspected
                old += sidak(by_look).suspected
            print(f"{looks} looks, rho {rho}: Simes {simes / sets:.4f}, Šidák {old / sets:.4f} ({sets} sets)")


if __name__ == "__main__":
    main()
