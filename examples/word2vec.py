"""Word vectors: skip-gram with negative sampling.

"You shall know a word by the company it keeps." Skip-gram learns a vector for each word
by predicting the words around it: for a centre word w and a context word c within the
window, it raises σ(v_w · u_c); for k random "negative" words n, drawn by frequency, it
lowers σ(v_w · u_n). The loss per pair is

    -log σ(v_w · u_c) - Σ_{n} log σ(-v_w · u_n)

so words that appear in the same contexts end up with nearby vectors, without ever
computing a softmax over the whole vocabulary.

This script writes a corpus in which animals, vehicles and fruits each appear in their own
kinds of sentences, trains word2vec on it, and asks /v1/embeddings (the OpenAI embeddings
API) for word vectors: each word's nearest neighbour should be of its own kind.
"""

from __future__ import annotations

import random

import numpy as np
from aimaas_client import check, client, jsonl_bytes, train, upload

KINDS = {
    "animal": (["cat", "dog", "horse", "cow", "sheep"], ["feeds", "pets", "walks", "brushes"]),
    "vehicle": (["car", "bus", "truck", "bike", "train"], ["drives", "parks", "repairs", "rides"]),
    "fruit": (["apple", "pear", "plum", "mango", "cherry"], ["eats", "peels", "slices", "picks"]),
}
PEOPLE = ["anna", "ben", "chris", "dora", "eli"]


def corpus(rng: random.Random, sentences: int = 3000) -> list[dict[str, str]]:
    lines = []
    for _ in range(sentences):
        words, verbs = KINDS[rng.choice(list(KINDS))]
        lines.append({"text": f"{rng.choice(PEOPLE)} {rng.choice(verbs)} the {rng.choice(words)}"})
    return lines


def main() -> None:
    with client() as http:
        file_id = upload(http, "corpus.jsonl", jsonl_bytes(corpus(random.Random(0))))
        train(
            http,
            model="toy-word2vec",
            algorithm="word2vec",
            training_file=file_id,
            hyperparameters={"embedding_dim": 16, "window": 2, "epochs": 5},
            seed=0,
        )
        words = [w for ws, _ in KINDS.values() for w in ws]
        response = http.post("/v1/embeddings", json={"model": "toy-word2vec", "input": words})
        check(response.status_code == 200, f"/v1/embeddings answered {response.text[:200]}")
    vectors = np.array([item["embedding"] for item in response.json()["data"]])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -1)
    kind = {w: k for k, (ws, _) in KINDS.items() for w in ws}
    right = sum(kind[words[int(similarity[i].argmax())]] == kind[w] for i, w in enumerate(words))
    print(f"nearest neighbour of 'cat': {words[int(similarity[0].argmax())]}")
    print(f"{right}/{len(words)} words have a nearest neighbour of their own kind")
    check(right >= 0.9 * len(words), "word2vec should group words that share contexts")


if __name__ == "__main__":
    main()
