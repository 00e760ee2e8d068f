"""The synthetic images of the last few generator steps, with the teacher's answers to them.

The image generator is most of an iteration's cost on small models (benchmarks/speed.py): its
pass costs 70× the bundled CNN's. Drawing a fresh batch at each of the five student steps and at
the trigger step spent six of its seven passes on images nobody learns the generator from. The
generator step's own images are drawn anyway, and the teacher has already answered them there,
so they are kept, and the other steps draw from the last `batches` of them.
"""

from __future__ import annotations

import torch


class ImagePool:
    def __init__(self, batches: int):
        self.batches = batches
        self.images: list[torch.Tensor] = []    # normalised, as the model takes them
        self.answers: list[torch.Tensor] = []   # the teacher's logits on them
        self._joined = None                      # both, concatenated once per add for the draws

    def __len__(self) -> int:
        return sum(len(x) for x in self.images)

    def add(self, images: torch.Tensor, answers: torch.Tensor) -> None:
        self.images.append(images.detach())
        self.answers.append(answers.detach())
        del self.images[: -self.batches], self.answers[: -self.batches]
        self._joined = None

    def draw(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """n images without repeats (all of them if the pool holds fewer), and their answers."""
        if self._joined is None:
            self._joined = torch.cat(self.images), torch.cat(self.answers)
        images, answers = self._joined
        pick = torch.randperm(len(images), device=images.device)[:n]
        return images[pick], answers[pick]

    def state_dict(self) -> dict:
        return {"images": list(self.images), "answers": list(self.answers)}

    def load_state_dict(self, state: dict) -> None:
        self.images, self.answers = list(state["images"]), list(state["answers"])
        self._joined = None
