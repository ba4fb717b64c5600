"""A self-attention encoder: softmax(QKᵀ/√d_k)V.

Each position of a sequence is projected three ways, into a query q, a key k and a value v.
A position attends to every other by comparing its query with their keys, and takes the
weighted average of their values:

    Attention(Q, K, V) = softmax(QKᵀ / √d_k) V

Dividing by √d_k keeps the dot products from growing with the width, so the softmax stays
smooth. Several heads do this in parallel on slices of the width ("multi-head"), and a
positional encoding added to the inputs tells the model where each step is, since
attention by itself ignores order. Encoder layers stack attention and a small feed-forward
network, each with a residual connection and layer normalisation.

This script reads each 8×8 digit as a sequence of 8 rows of 8 pixels, uploads it as NPZ
(arrays x [N, 8, 8] and y [N]), trains a transformer encoder, and classifies held-out
digits through the Open Inference Protocol (POST /v2/models/{name}/infer).
"""

from __future__ import annotations

import io

import numpy as np
from aimaas_client import check, client, infer, train, upload
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def main() -> None:
    digits = load_digits()
    sequences = (digits.images / 16.0).astype(np.float32)  # (N, 8 steps, 8 features)
    x_train, x_test, y_train, y_test = train_test_split(
        sequences, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    npz = io.BytesIO()
    np.savez(npz, x=x_train, y=y_train)
    with client() as http:
        file_id = upload(http, "digit-rows.npz", npz.getvalue())
        train(
            http,
            model="digits-transformer",
            algorithm="transformer",
            training_file=file_id,
            hyperparameters={"d_model": 64, "num_heads": 4, "num_layers": 2, "epochs": 12},
            seed=0,
        )
        outputs = infer(
            http,
            "digits-transformer",
            [
                {
                    "name": "input",
                    "shape": list(x_test.shape),
                    "datatype": "FP32",
                    "data": x_test.ravel().tolist(),
                }
            ],
        )
    labels = np.array(outputs["label"]["data"]).astype(int)
    accuracy = float(np.mean(labels == y_test))
    print(f"probabilities shape {outputs['probabilities']['shape']}; accuracy {accuracy:.4f}")
    check(accuracy >= 0.9, "the transformer should classify at least 90% of held-out digits")


if __name__ == "__main__":
    main()
