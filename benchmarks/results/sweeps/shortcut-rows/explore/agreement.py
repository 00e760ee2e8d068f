"""Does the loop's agreement with the teacher track the accuracy a clean lost? Per in-process
run of this folder: ACC before and after, and the mean agreement over its last ten iterations.

    python agreement.py > agreement.txt"""
import json
from pathlib import Path


def main():
    for path in sorted(Path(__file__).parent.glob("digits-*.json")):
        run = json.loads(path.read_text())
        agreement = [f["agreement"] for f in run.get("figures", []) if "agreement" in f]
        if len(agreement) < 10:
            continue
        print(f"{path.stem:45} ACC {100 * run['before']['acc']:5.1f} -> {100 * run['after']['acc']:5.1f}"
              f"  agreement, last 10 iterations {100 * sum(agreement[-10:]) / 10:5.1f}")


if __name__ == "__main__":
    main()
