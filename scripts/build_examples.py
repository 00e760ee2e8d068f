"""Rebuild the bundled example in auditor/examples/ (needs the dev extra: scikit-learn)."""

import json


import torch

from auditor.examples import HERE, digits

ATTACK = "badnets"


def main():
    model, test, trigger = digits.train_backdoored(ATTACK, seed=0)
    digits.export_onnx(model, HERE / "digits-badnets.onnx")
    digits.save_test_set(test, HERE / "digits-test.npz")
    trigger.save(HERE / "digits-badnets-trigger.npz")
    with torch.no_grad():
        images, labels = test
        acc = float((model(digits.normalise(images)).argmax(1).numpy() == labels).mean())
    manifest = {"model": "digits-badnets.onnx", "test_set": "digits-test.npz",
                "trigger": "digits-badnets-trigger.npz", "attack": ATTACK,
                "target": trigger.target, "mean": list(digits.MEAN), "std": list(digits.STD),
                "built_by": "scripts/build_examples.py", "seed": 0,
                "clean_accuracy_at_build": round(acc, 4)}
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
