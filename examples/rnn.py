"""A recurrent network: the recurrence.

An RNN reads a sequence one step at a time and carries a hidden state h that summarises
what it has seen so far:

    h_t = tanh(W x_t + U h_{t-1} + b)

The same W, U and b are used at every step, so one small set of weights handles sequences
of any length. Plain tanh RNNs forget quickly (gradients vanish over many steps); the LSTM
and GRU cells add gates that decide what to keep, overwrite and output. A classifier reads
the last hidden state.

This script makes a small text-classification task (is a sentence about sport, weather or
food?), uploads it as JSON lines, trains an LSTM with a tokenizer fitted on the training
text, and classifies new sentences through the service.
"""

from __future__ import annotations

import random

from aimaas_client import check, client, jsonl_bytes, predict, train, upload

TOPICS = {
    "sport": ["goal", "match", "team", "score", "coach", "league", "striker", "referee"],
    "weather": ["rain", "sunny", "storm", "cloud", "forecast", "wind", "snow", "humid"],
    "food": ["pasta", "recipe", "bake", "spicy", "dinner", "sauce", "bread", "salad"],
}
FILLER = ["the", "a", "today", "was", "very", "and", "then", "we", "saw", "some", "really"]


def sentence(topic: str, rng: random.Random) -> str:
    words = rng.sample(TOPICS[topic], 3) + rng.sample(FILLER, 4)
    rng.shuffle(words)
    return " ".join(words)


def main() -> None:
    rng = random.Random(0)
    records = [{"text": sentence(t, rng), "label": t} for t in TOPICS for _ in range(150)]
    tests = [(sentence(t, rng), t) for t in TOPICS for _ in range(20)]
    with client() as http:
        file_id = upload(http, "topics.jsonl", jsonl_bytes(records))
        train(
            http,
            model="topics-lstm",
            algorithm="rnn",
            training_file=file_id,
            hyperparameters={"cell": "lstm", "epochs": 12, "hidden_size": 64},
            seed=0,
        )
        predictions = predict(http, "topics-lstm", [text for text, _ in tests])
    correct = sum(p["label"] == topic for p, (_, topic) in zip(predictions, tests, strict=True))
    print(f"'{tests[0][0]}' -> {predictions[0]['label']}")
    print(f"held-out accuracy: {correct / len(tests):.4f}")
    check(correct / len(tests) >= 0.9, "the LSTM should classify at least 90% of sentences")


if __name__ == "__main__":
    main()
