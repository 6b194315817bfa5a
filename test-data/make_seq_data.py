"""DNA sequence classification data from real ChIP-seq peaks carried by a PyPI package (janggu 0.10.2's sdist).

janggu ships, for its tutorial, 200 bp sequences around ChIP-seq peaks of two transcription factors in mouse
embryonic stem cells: Oct4 (``resources/sample.fa``, 3,897 training and ``sample_test.fa``, 100 test sequences) and
MafK (``sample2.fa``, 3,900, and ``sample2_test.fa``, 100). Three classes, as the published Galaxy workflow has
(Dense 3 softmax): ``Oct4``, ``MafK`` and ``background``, each background sequence a seeded shuffle of one peak's
own letters (the same composition, no motif: the usual negative set). Record ids are janggu's (chrom:start-end);
a background record is its peak's id with ``:shuffled``.

Genomic intervals: janggu's ``sample_genome.fa`` (two 30 kb stretches of a real genome, named chr1 and chr2, repeats
soft-masked in lowercase as genome builds ship them) is written as ``genome.fa``, tiled into 200 bp intervals every
100 bp: ``regions_train.bed`` (BED6; chr1 and the first 80% of chr2) and ``regions_test.bed`` (the rest), the name
column holding the label ``repeat`` (more than half of the interval soft-masked) or ``unique``, the score column
the masked share x 1000; ``regions_train_targets.tsv`` has three 0/1 targets per interval in BED order, DeepSEA-style
(repeat, gc_rich: GC above 50%, cpg: CpG observed/expected above 0.6 with GC above 50%).

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
TILE, STEP = 200, 100
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


def intervals(genome_text: str, out: Path) -> None:
    chromosomes = dict(records_keeping_case(genome_text))
    (out / "genome.fa").write_text(genome_text)
    train, test, targets = [], [], []
    for chrom in sorted(chromosomes):
        seq = chromosomes[chrom]
        for start in range(0, len(seq) - TILE + 1, STEP):
            window = seq[start : start + TILE]
            masked = sum(c.islower() for c in window) / TILE
            upper = window.upper()
            gc = (upper.count("G") + upper.count("C")) / TILE
            expected = upper.count("C") * upper.count("G") / TILE
            cpg = upper.count("CG") / expected if expected else 0.0
            line = f"{chrom}\t{start}\t{start + TILE}\t{'repeat' if masked > 0.5 else 'unique'}\t{round(masked * 1000)}\t+\n"
            if chrom == "chr2" and start >= 0.8 * len(seq):
                test.append(line)
            else:
                train.append(line)
                targets.append(f"{int(masked > 0.5)}\t{int(gc > 0.5)}\t{int(cpg > 0.6 and gc > 0.5)}\n")
    (out / "regions_train.bed").write_text("track name=tiles description=\"200 bp tiles\"\n" + "".join(train))
    (out / "regions_test.bed").write_text("".join(test))
    (out / "regions_train_targets.tsv").write_text("repeat\tgc_rich\tcpg\n" + "".join(targets))


def records_keeping_case(text: str) -> list[tuple[str, str]]:
    return [(block.splitlines()[0].split()[0], "".join(block.splitlines()[1:])) for block in text.split(">")[1:]]


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
        intervals(tar.extractfile(RESOURCES + "sample_genome.fa").read().decode(), out)
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
