import numpy as np
import pytest

from auditor.errors import DataFileError
from auditor.evaluation import LabelledImages, PixelTrigger, evaluate, load_images, load_trigger


def test_asr_counts_only_correct_non_target_images():
    images = np.zeros((6, 2, 2, 1), np.float32)
    images[:, 0, 0, 0] = np.arange(6) / 10          # each image knows its index
    labels = np.array([0, 1, 1, 2, 2, 2])
    clean_predictions = np.array([0, 1, 0, 2, 2, 2])   # image 2 is misclassified
    flips_to_target = {3, 4}                            # the trigger flips images 3 and 4 only

    def predict(x):
        index = np.rint(x[:, 0, 0, 0] * 10).astype(int)
        triggered = x[:, 1, 1, 0] > 0.5
        return np.where(triggered & np.isin(index, list(flips_to_target)), 0, clean_predictions[index])

    mask = np.zeros((2, 2, 1), np.float32)
    mask[1, 1] = 1
    trigger = PixelTrigger(pattern=np.ones((2, 2, 1), np.float32), mask=mask, target=0)
    scores = evaluate(predict, LabelledImages(images, labels), trigger)
    assert scores.acc == pytest.approx(5 / 6)
    # eligible: labels != 0 and correct -> images 1, 3, 4, 5; flipped: 3, 4
    assert scores.n_attack_images == 4 and scores.asr == pytest.approx(0.5)


def test_npz_files_are_checked(tmp_path):
    good = tmp_path / "data.npz"
    np.savez(good, images=np.zeros((3, 4, 4), np.uint8), labels=np.array([0, 1, 2]))
    data = load_images(good, (4, 4, 1))
    assert data.images.shape == (3, 4, 4, 1) and data.images.dtype == np.float32
    with pytest.raises(DataFileError, match="model takes"):
        load_images(good, (8, 8, 1))
    bad = tmp_path / "bad.npz"
    np.savez(bad, images=np.full((2, 4, 4, 1), 3.0), labels=np.array([0, 1]))
    with pytest.raises(DataFileError, match=r"\[0, 1\]"):
        load_images(bad, (4, 4, 1))
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, images=np.array([object()], dtype=object), labels=np.array([0]))
    with pytest.raises(DataFileError, match="not a readable"):
        load_images(pickled, (4, 4, 1))
    trigger = tmp_path / "trigger.npz"
    np.savez(trigger, pattern=np.ones((4, 4)), mask=np.zeros((4, 4)))
    loaded = load_trigger(trigger, (4, 4, 1))
    assert loaded.target is None and loaded.mask.shape == (4, 4, 1)
    with pytest.raises(DataFileError, match="no target"):
        evaluate(lambda x: np.zeros(len(x), int), data, loaded)
