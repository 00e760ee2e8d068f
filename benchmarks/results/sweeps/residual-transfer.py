"""(2026-11-29, scratch, kept as it ran.) After a clean: does the student still follow the
teacher where the teacher's backdoor would send it? (issue 11, the residual check)

For each zoo model cleaned through the CLI (CLEANED_DIR/NAME.onnx): the scan's four looks run on
the TEACHER (the original), and the STUDENT scored on the images each look reached for each class:
the share it also gives that class, and its mean margin there over the teacher's. If the backdoor
was erased, the target's images (reached through the trigger's shortcut) should transfer less than
the other classes'; if it survived, about as well. Also the actual ASR after cleaning, on the zoo's
triggered test images (onnxruntime), for the ground truth.

    python residual-transfer.py CLEANED_DIR NAME...
"""
import sys, json, numpy as np, torch
from pathlib import Path
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / "benchmarks"))
import zoo
from auditor.detection import invert_classes, looks, verdict, class_margin
from auditor.evaluation import load_images
from auditor.loading import load_model, Classifier
from auditor.recipe import ScanSettings
from auditor.runtime import ModelRunner
torch.set_num_threads(1)


def net_of(path):
    loaded = load_model(path, mean=(zoo.MEAN,), std=(zoo.STD,))
    return Classifier(loaded.net, loaded.spec, loaded.output_index).eval().requires_grad_(False), loaded.spec


def main():
    folder = Path(sys.argv[1])
    settings = ScanSettings()
    for name in sys.argv[2:]:
        info = json.loads((zoo.CACHE / name / "meta.json").read_text())
        cleaned = folder / f"{name}.onnx"
        teacher, spec = net_of(info["model"])
        student, _ = net_of(str(cleaned))
        shape = (info["size"], info["size"], 1)
        test, trig = load_images(info["test"], shape), load_images(info["triggered"], shape)
        tgt = info.get("target", zoo.TARGET)
        after = zoo.scores(info["attack"], ModelRunner.open(str(cleaned), mean=(zoo.MEAN,), std=(zoo.STD,)).predict,
                           test.images, trig.images, test.labels, tgt)
        report = json.loads((folder / f"{name}.json").read_text())
        row = {"name": name, "attack": info["attack"], "target": tgt, "acc_after": after["acc"],
               "asr_after": after["asr"], "residual_p": (report.get("residual") or {}).get("p_value"),
               "looks": {}}
        for starts, search in looks(settings):
            inv = invert_classes(teacher, spec, settings, starts=starts, search=search)
            k, n = inv.margins.shape
            x = inv.images.flatten(0, 1)
            labels = torch.arange(k).repeat_interleave(n)
            with torch.no_grad():
                out = student(spec.normalise(x))
                m_s = class_margin(out, labels).view(k, n)
                share = (out.argmax(1) == labels).float().view(k, n).mean(1)
            v = verdict(inv.statistics, 0.05)
            row["looks"][f"{starts}/{search}"] = {
                "teacher_top": v.suspect, "teacher_p": v.p_value,
                "teacher_margin": inv.margins.mean(1).tolist(),
                "student_margin": m_s.mean(1).tolist(), "student_share": share.tolist()}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
