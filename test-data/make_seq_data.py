"""DNA sequence classification data from real ChIP-seq peaks carried by a PyPI package (janggu 0.10.2's sdist).

janggu ships, for its tutorial, 200 bp sequences around ChIP-seq peaks of two transcription factors in mouse
embryonic stem cells: Oct4 (``resources/sample.fa``, 3,897 training and ``sample_test.fa``, 100 test sequences) and
MafK (``sample2.fa``, 3,900, and ``sample2_test.fa``, 100). Three classes, as the published Galaxy workflow has
(Dense 3 softmax): ``Oct4``, ``MafK`` and ``background``, each background sequence a seeded shuffle of one peak's
own letters (the same composition, no motif: the usual negative set). Record ids are janggu's (chrom:start-end);
a background record is its peak's id with ``:shuffled``.

Written: ``dna_train.fa`` with ``dna_train_labels.tsv`` (columns id and label, rows in another order than the
records: matched by id) and ``dna_test.fa`` with ``dna_test_labels.tsv`` (label, in record order). Records are
shuffled with numpy's seeded generator. ``--rows N`` keeps N training and N/4 test records (the files in
test-data/); without it every record is written (the README's scores).

    pip download --no-deps --no-binary :all: janggu==0.10.2 -d wheels
    python test-data/make_seq_data.py wheels/janggu-0.10.2.tar.gz --out test-data --rows 900
"""

import argparse
import tarfile
from pathlib import Path

import numpy as np

SEED = 0
RESOURCES = "janggu-0.10.2/src/janggu/resources/"


def records(text: str) -> list[tuple[str, str]]:
    out = []
    for block in text.split(">")[1:]:
        header, *lines = block.splitlines()
        out.append((header.split()[0], "".join(lines).upper()))
    return out


def with_background(oct4, mafk, rng) -> list[tuple[str, str, str]]:
    rows = [(name, seq, "Oct4") for name, seq in oct4] + [(name, seq, "MafK") for name, seq in mafk]
    peaks = oct4 + mafk
    chosen = rng.choice(len(peaks), size=(len(peaks)) // 2, replace=False)
    for i in sorted(chosen):
        name, seq = peaks[i]
        rows.append((f"{name}:shuffled", "".join(rng.permutation(list(seq))), "background"))
    return [rows[i] for i in rng.permutation(len(rows))]


def write_fasta(rows, path: Path) -> None:
    with open(path, "w") as fh:
        for name, seq, _ in rows:
            fh.write(f">{name}\n" + "".join(seq[i : i + 60] + "\n" for i in range(0, len(seq), 60)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sdist")
    parser.add_argument("--out", required=True)
    parser.add_argument("--rows", type=int, default=None)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(args.sdist) as tar:
        files = {name: records(tar.extractfile(RESOURCES + name).read().decode()) for name in
                 ("sample.fa", "sample2.fa", "sample_test.fa", "sample2_test.fa")}
    rng = np.random.default_rng(SEED)
    train = with_background(files["sample.fa"], files["sample2.fa"], rng)
    test = with_background(files["sample_test.fa"], files["sample2_test.fa"], rng)
    if args.rows:
        train, test = train[: args.rows], test[: args.rows // 4]
    write_fasta(train, out / "dna_train.fa")
    write_fasta(test, out / "dna_test.fa")
    order = rng.permutation(len(train))
    with open(out / "dna_train_labels.tsv", "w") as fh:
        fh.write("id\tlabel\n" + "".join(f"{train[i][0]}\t{train[i][2]}\n" for i in order))
    with open(out / "dna_test_labels.tsv", "w") as fh:
        fh.write("label\n" + "".join(f"{label}\n" for _, _, label in test))


if __name__ == "__main__":
    main()
