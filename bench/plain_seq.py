"""The same DNA classification as a plain Keras script a user would write: parse FASTA, encode, fit, predict, score.

python bench/plain_seq.py DIR cnn|lstm: DIR holds train.fa, train_labels.tsv (id, label), test.fa, test_labels.tsv
(label, in record order). One-hot (length x 4) for the CNN; overlapping 3-mers numbered from 2 in sorted order (0
padding, 1 unknown) for the LSTM, the vocabulary from the training sequences. Models, epochs, batch and the 10% of
validation rows as in bench/seq_compare.py. Prints one JSON line: accuracy and macro F1 on the test sequences.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

DIR, MODEL = Path(sys.argv[1]), sys.argv[2]
BASES = "ACGT"


def read_fasta(path):
    names, seqs = [], []
    for block in path.read_text().split(">")[1:]:
        header, *lines = block.splitlines()
        names.append(header.split()[0])
        seqs.append("".join(lines).upper())
    return names, seqs


def one_hot(seqs):
    table = np.zeros((256, 4), dtype=np.float32)
    for i, base in enumerate(BASES):
        table[ord(base), i] = 1
    table[ord("N")] = 0.25
    return table[np.frombuffer("".join(seqs).encode(), dtype=np.uint8)].reshape(len(seqs), -1, 4)


def kmers(seqs, vocabulary=None):
    grams = [[s[i : i + 3] for i in range(len(s) - 2)] for s in seqs]
    if vocabulary is None:
        seen = sorted({g for row in grams for g in row if set(g) <= set(BASES)})
        vocabulary = {g: i + 2 for i, g in enumerate(seen)}
    return np.array([[vocabulary.get(g, 1) for g in row] for row in grams], dtype=np.int32), vocabulary


import keras  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score  # noqa: E402

keras.utils.set_random_seed(0)
train_names, train_seqs = read_fasta(DIR / "train.fa")
test_names, test_seqs = read_fasta(DIR / "test.fa")
labels = pd.read_csv(DIR / "train_labels.tsv", sep="\t").set_index("id")["label"].loc[train_names].to_numpy()
truth = pd.read_csv(DIR / "test_labels.tsv", sep="\t")["label"].to_numpy()
classes = np.unique(labels)
y = np.searchsorted(classes, labels)
if MODEL == "cnn":
    X, X_test = one_hot(train_seqs), one_hot(test_seqs)
    model = keras.Sequential([keras.Input(X.shape[1:]), keras.layers.Conv1D(64, 15, activation="relu"),
                              keras.layers.GlobalMaxPooling1D(), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(len(classes), activation="softmax")])
else:
    X, vocabulary = kmers(train_seqs)
    X_test, _ = kmers(test_seqs, vocabulary)
    model = keras.Sequential([keras.Input(X.shape[1:]), keras.layers.Embedding(130, 128),
                              keras.layers.LSTM(256, return_sequences=True), keras.layers.LSTM(256),
                              keras.layers.Dense(64, activation="elu"),
                              keras.layers.Dense(len(classes), activation="softmax")])
model.compile(optimizer=keras.optimizers.Adam(0.001), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(X, y, epochs=10, batch_size=32, validation_split=0.1, verbose=0)
predicted = classes[model.predict(X_test, verbose=0).argmax(axis=1)]
print(json.dumps({"accuracy": accuracy_score(truth, predicted), "macro_f1": f1_score(truth, predicted, average="macro")}))
