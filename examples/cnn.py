"""A convolutional network: convolution and pooling.

A convolution slides a small learned filter (here 3×3) over the image; each output pixel is
the dot product of the filter with the patch under it, plus a bias:

    out[c, i, j] = b[c] + Σ_{k, u, v} W[c, k, u, v] · in[k, i + u, j + v]

so the same feature detector (an edge, a stroke) is looked for everywhere, with few
weights. Max-pooling then keeps the largest value of each 2×2 block, halving height and
width: the network becomes tolerant to small shifts and sees larger regions layer by layer.
A small fully connected head turns the last feature maps into class scores.

This script writes scikit-learn's 8×8 handwritten digits as PNG files, one folder per
digit, zips them (the image-folder format), trains a CNN on three quarters, and asks the
service to classify the held-out images sent as base64 PNGs.
"""

from __future__ import annotations

import base64
import io
import zipfile

import numpy as np
from aimaas_client import check, client, predict, train, upload
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def png(pixels: np.ndarray) -> bytes:
    """An 8×8 grey PNG; the digits' 0..16 intensities scaled to 0..255."""
    out = io.BytesIO()
    Image.fromarray((pixels * 255 / 16).astype(np.uint8), mode="L").save(out, "PNG")
    return out.getvalue()


def image_folders(images: np.ndarray, labels: np.ndarray) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for i, (image, label) in enumerate(zip(images, labels, strict=True)):
            archive.writestr(f"{label}/{i:04d}.png", png(image))
    return out.getvalue()


def main() -> None:
    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.images, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    with client() as http:
        file_id = upload(http, "digits.zip", image_folders(x_train, y_train))
        train(
            http,
            model="digits-cnn",
            algorithm="cnn",
            training_file=file_id,
            hyperparameters={"channels": [16, 32], "epochs": 10, "learning_rate": 0.003},
            seed=0,
        )
        images = [base64.b64encode(png(image)).decode() for image in x_test]
        predictions = predict(http, "digits-cnn", images)
    accuracy = float(np.mean([int(p["label"]) for p in predictions] == y_test))
    print(f"held-out accuracy on {len(y_test)} digits: {accuracy:.4f}")
    check(accuracy >= 0.95, "the CNN should classify at least 95% of held-out digits")


if __name__ == "__main__":
    main()
