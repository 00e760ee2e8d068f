"""Findings as SARIF 2.1.0, the format code-scanning services (GitHub, GitLab, Azure) show.

One result per finding, each pointing at the model file as its artifact; a scan without a
finding is a run with no results, so the service closes an earlier alert.
"""

from __future__ import annotations

from pathlib import Path

from . import __version__

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
RULES = {
    "backdoor-suspected": (
        "A class is abnormally easy to reach from noise",
        "For each class, noise images took a few steps up that class's logit margin (small "
        "steps on every pixel, or large ones on a few pixels); one "
        "class's mean margin is improbably far above the other classes' (after MM-BD). A "
        "backdoor target behaves this way. Clean the model (auditor clean) or reject it."),
    "residual-backdoor": (
        "The cleaned model still shows backdoor evidence",
        "auditor clean scanned its own output and one class is still abnormally easy to reach "
        "from noise, or the output still follows the shortcut the original model was suspected "
        "of. Inspect the model before shipping it."),
}


def sarif_log(model_path: Path, findings: list[dict]) -> dict:
    """findings: dicts with rule (a key of RULES), message, and properties."""
    uri = Path(model_path).as_posix()
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "auditor", "version": __version__, "semanticVersion": __version__,
                "rules": [{"id": rule, "name": rule.title().replace("-", ""),
                           "shortDescription": {"text": short}, "fullDescription": {"text": full},
                           "defaultConfiguration": {"level": "error"}}
                          for rule, (short, full) in RULES.items()],
            }},
            "artifacts": [{"location": {"uri": uri}}],
            "results": [{
                "ruleId": f["rule"], "ruleIndex": list(RULES).index(f["rule"]), "level": "error",
                "message": {"text": f["message"]},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri, "index": 0}}}],
                "properties": f.get("properties", {}),
            } for f in findings],
        }],
    }
