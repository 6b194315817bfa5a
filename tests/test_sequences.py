"""Sequences: codes, one-hot and k-mer encodings, FASTA reading and its refusals, labels matched by id."""

import gzip

import numpy as np
import pandas as pd
import pytest

from galaxy_dl.data import fasta
from galaxy_dl.data.features import Streaming
from galaxy_dl.data.seqcoding import Encoding, SequenceRows, code_table, detect, one_hot_table
from galaxy_dl.errors import DataError, ModelError, UsageError


def write_fasta(path, records, compress=False):
    text = "".join(f">{name} some description\n{seq[:60]}\n{seq[60:]}\n" if len(seq) > 60 else f">{name}\n{seq}\n"
                   for name, seq in records)
    if compress:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return str(path)


def read(path, encoding=None, how=None):
    return fasta.read(str(path), f"--x {path}", encoding or Encoding(), how or Streaming())


def test_one_hot_letters_ambiguity_codes_and_soft_masking():
    table = code_table("dna")
    onehot = one_hot_table("dna")
    rows = onehot[table[np.frombuffer(b"ACgtNRn", dtype=np.uint8)]]
    assert rows[:4].tolist() == np.eye(4).tolist()  # lowercase reads as uppercase
    assert rows[4].tolist() == [0.25] * 4 and rows[6].tolist() == [0.25] * 4
    assert rows[5].tolist() == [0.5, 0, 0.5, 0]  # R = A or G
    assert onehot[0].tolist() == [0] * 4  # padding
    protein = one_hot_table("protein")[code_table("protein")[np.frombuffer(b"XB*", dtype=np.uint8)]]
    assert np.allclose(protein[0], 1 / 20) and protein[1].sum() == 1 and protein[1].max() == 0.5
    assert protein[2].sum() == 0


def test_alphabet_is_detected():
    assert detect(b"ACGTNNACGTacgt") == "dna"
    assert detect(b"ACGUUACGU") == "rna"
    assert detect(b"MKTAYIAKQRQISFVKSHFSRQ") == "protein"


def test_kmer_tokens_vocabulary_from_the_rows_learned_on_only():
    encoding = Encoding.parse("kmer:2").settled("dna", 4)
    codes = code_table("dna")[np.frombuffer(b"ACGTAAAACGNT", dtype=np.uint8)].reshape(3, 4)
    rows = SequenceRows(codes, encoding)
    learned = rows.learn([0])  # only the first sequence: AC CG GT
    assert learned.vocabulary == ("AC", "CG", "GT") and learned.tokens == 5
    tokens = rows[np.arange(3)]
    assert tokens.tolist() == [[2, 3, 4], [1, 1, 1], [3, 1, 1]]  # AA unseen; GN and NT hold N: unknown
    padded = np.array([[1, 2, 0, 0]], dtype=np.uint8)  # "AC" padded to 4
    assert learned.transform(padded).tolist() == [[2, 0, 0]]
    # the vocabulary is sorted, so the ids do not depend on the order records come in
    assert SequenceRows(codes[::-1].copy(), encoding).learn([0, 1, 2]).vocabulary == ("AA", "AC", "CG", "GT")


def test_encoding_options_are_checked():
    with pytest.raises(UsageError, match="kmer:K"):
        Encoding.parse("kmer")
    with pytest.raises(UsageError, match="kmer:K"):
        Encoding.parse("onehot:3")
    with pytest.raises(UsageError, match="--seq-length"):
        Encoding.parse(length="0")
    with pytest.raises(UsageError, match="longer than the sequences"):
        Encoding.parse("kmer:5").settled("dna", 4)
    with pytest.raises(UsageError, match="too long"):
        Encoding.parse("kmer:40").settled("dna", 100)
    state = Encoding.parse("kmer:3", length="50").settled("dna", 0).to_dict()
    assert Encoding.from_dict(state, "m").to_dict() == state
    with pytest.raises(ModelError, match="sequence encoding"):
        Encoding.from_dict({**state, "side": "middle"}, "m")


def test_fasta_is_read_plain_or_gzip_with_ids_and_lengths(tmp_path):
    records = [("r1", "ACGT" * 20), ("r2", "acgt" * 20), ("r3", "NNNN" * 20)]
    for compress in (False, True):
        path = write_fasta(tmp_path / f"s{compress}.fa.gz", records, compress)
        data = read(path)
        assert data.ids.tolist() == [b"r1", b"r2", b"r3"] and data.lengths.tolist() == [80, 80, 80]
        assert data.rows.encoding.alphabet == "dna" and data.rows.shape == (3, 320)
        assert np.array_equal(data.rows[np.arange(2)][0], data.rows[np.arange(2)][1])


def test_length_rules_pad_and_cut_on_the_chosen_side(tmp_path):
    path = write_fasta(tmp_path / "s.fa", [("a", "ACGTA"), ("b", "CC")])
    ends = {side: read(path, Encoding.parse(length="4", side=side)).rows.codes.tolist() for side in ("end", "start", "both")}
    assert ends["end"] == [[1, 2, 3, 4], [2, 2, 0, 0]]
    assert ends["start"] == [[2, 3, 4, 1], [0, 0, 2, 2]]
    assert ends["both"] == [[1, 2, 3, 4], [0, 2, 2, 0]]
    assert read(path, Encoding.parse(length="longest")).rows.codes.tolist() == [[1, 2, 3, 4, 1], [2, 2, 0, 0, 0]]


def test_streamed_codes_live_in_a_byte_cache_and_read_the_same(tmp_path):
    rng = np.random.default_rng(0)
    records = [(f"s{i}", "".join(rng.choice(list("ACGT"), 30))) for i in range(50)]
    path = write_fasta(tmp_path / "s.fa", records)
    memory = read(path, how=Streaming(stream=False)).rows
    cached = read(path, how=Streaming(stream=True, cache_dir=str(tmp_path))).rows
    assert isinstance(memory.codes, np.ndarray) and not isinstance(cached.codes, np.ndarray)
    assert cached.codes[np.arange(50)].dtype == np.uint8
    assert np.array_equal(memory[np.arange(50)], cached[np.arange(50)])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (">a\nACGT\n>b\n\n>c\nACGT\n", "record 'b' (record 2) has no sequence"),
        (">a\nACGTACGTACGT\n>b\nACGTACZTACGT\n", "record 'b' (record 2): 'Z' at position 7 is not a dna letter"),
        (">a\nACGT\n>a\nACGT\n", "record id 'a' occurs more than once"),
        (">a\nACGT\n>b\nACG\n", "record 'b' is 3 long, but the sequences before it are 4: give --seq-length"),
        ("x\ty\n1\t2\n", "is not FASTA"),
        ("@a\nACGT\n+\nIIII\n", "is not FASTA"),
        (">a\n", "has no sequence"),
    ],
)
def test_bad_fasta_is_one_line_naming_the_record(tmp_path, content, message):
    path = tmp_path / "bad.fasta"
    path.write_text(content)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")) as raised:
        read(path)
    assert str(raised.value).startswith(f"--x {path}: ") and "\n" not in str(raised.value)


def test_a_gzip_fasta_cut_short_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    whole = write_fasta(tmp_path / "w.fa.gz", [(f"s{i}", "".join(rng.choice(list("ACGT"), 200))) for i in range(500)], True)
    cut = tmp_path / "cut.fa.gz"
    cut.write_bytes(open(whole, "rb").read()[:5000])
    with pytest.raises(DataError, match="corrupt gzip data: Compressed file ended"):
        read(cut)


def test_characters_outside_the_alphabet_given_are_named(tmp_path):
    path = write_fasta(tmp_path / "p.faa", [("p1", "MKTAYIAKQR")])
    with pytest.raises(DataError, match="'I' at position 6 is not a dna letter"):  # M, K, Y, R: ambiguity codes
        read(path, Encoding.parse(alphabet="dna"))
    assert read(path).rows.encoding.alphabet == "protein"


def test_labels_are_matched_by_the_ids_in_the_first_column(tmp_path):
    ids = np.array([b"r1", b"r2", b"r3"])
    frame = pd.DataFrame({"id": ["r3", "r1", "r2"], "label": ["c", "a", "b"]})
    assert fasta.labels_by_id(frame, ids, "--y l.tsv")["label"].tolist() == ["a", "b", "c"]
    in_order = pd.DataFrame({"label": ["a", "b", "c"]})
    assert fasta.labels_by_id(in_order, ids, "--y l.tsv") is in_order
    with pytest.raises(DataError, match=r"1 records have no label \('r3'\); 1 ids are not records of the FASTA file \('r9'\)"):
        fasta.labels_by_id(pd.DataFrame({"id": ["r1", "r2", "r9"], "label": [1, 2, 3]}), ids, "--y l.tsv")
    with pytest.raises(DataError, match=r"'r1' .* labels more than one row"):
        fasta.labels_by_id(pd.DataFrame({"id": ["r1", "r1", "r2", "r3"], "label": [1, 2, 3, 4]}), ids, "--y l.tsv")


def test_reverse_complement_augmentation_doubles_the_rows_fitted_on():
    from galaxy_dl.data.seqcoding import Augmented, letters

    encoding = Encoding.parse(revcomp=True).settled("dna", 4)
    codes = code_table("dna")[np.frombuffer(b"AACGGTNR", dtype=np.uint8)].reshape(2, 4)
    both = Augmented(SequenceRows(codes, encoding))
    assert both.shape == (4, 16)
    as_text = ["".join(letters("dna")[c - 1] for c in row) for row in both._codes(np.arange(4))]
    assert as_text == ["AACG", "GTNR", "CGTT", "YNAC"]
    with pytest.raises(UsageError, match="--revcomp applies to DNA and RNA"):
        Encoding.parse(alphabet="protein", revcomp=True)


def write_genome(tmp_path):
    genome = tmp_path / "genome.fa"
    genome.write_text(">chrA\n" + "ACGT" * 25 + "\n>chrB\n" + "GGGGGccccc" * 3 + "\n")  # 100 and 30 bp
    return str(genome)


def test_intervals_are_windows_of_the_genome_padded_with_n_at_chromosome_ends(tmp_path):
    from galaxy_dl.data import bed

    genome = write_genome(tmp_path)
    regions = tmp_path / "r.bed"
    regions.write_text("track name=x\n# a comment\nchrA\t0\t4\tfirst\t0\t+\nchrA\t10\t14\nchrB\t26\t30\n")
    sequences, taken = bed.read(str(regions), "--x r.bed", genome, Encoding().for_intervals(8), take={"--target": "4"})
    assert sequences.ids.tolist() == [b"chrA:0-4", b"chrA:10-14", b"chrB:26-30"]
    text = ["".join("-ACGTNRYSWKMBDHV"[c] for c in row) for row in sequences.rows.codes]
    assert text == ["NNACGTAC", "ACGTACGT", "GCCCCCNN"]  # centred 8 bp windows; soft-masked c read as C
    assert taken["--target"].tolist()[0] == "first"
    assert not (tmp_path / "genome.fa.fai").exists()  # the index is built elsewhere: an input's folder is not written


def test_a_narrowpeak_window_is_centred_on_its_summit(tmp_path):
    from galaxy_dl.data import bed

    peaks = tmp_path / "p.narrowPeak"
    peaks.write_text("chrA\t0\t40\tp1\t0\t.\t5.0\t3.0\t2.0\t10\nchrA\t0\t40\tp2\t0\t.\t5.0\t3.0\t2.0\t-1\n")
    intervals = bed.read_intervals(str(peaks), "--x p")
    assert bed.centres(intervals).tolist() == [10, 20]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("chrZ\t0\t10\n", "line 1: chromosome 'chrZ' is not in --genome"),
        ("chrB\t0\t10\nchrB\t20\t31\n", "line 2: end 31 is past the end of chrB (30 bp"),
        ("chrA\t5\t5\n", "line 1: the interval 5-5 is empty or negative"),
        ("chrA\tfive\t9\n", "line 1: start 'five' is not a whole number"),
        ("chrA\t5\n", "has 2 columns; BED has at least 3"),
    ],
)
def test_bad_intervals_name_the_line(tmp_path, content, message):
    from galaxy_dl.data import bed

    genome = write_genome(tmp_path)
    regions = tmp_path / "r.bed"
    regions.write_text(content)
    with pytest.raises(DataError, match=message.replace("(", r"\(")):
        bed.read(str(regions), "--x r.bed", genome, Encoding().for_intervals(8))


def test_a_gzip_genome_is_refused_with_what_to_do(tmp_path):
    from galaxy_dl.data import bed

    genome = tmp_path / "g.fa.gz"
    with gzip.open(genome, "wt") as fh:
        fh.write(">chrA\nACGT\n")
    regions = tmp_path / "r.bed"
    regions.write_text("chrA\t0\t4\n")
    with pytest.raises(DataError, match="gzip-compressed, which allows no random access"):
        bed.read(str(regions), "--x r.bed", str(genome), Encoding().for_intervals(8))


def test_a_gzip_fasta_bomb_is_refused_before_pysam_reads_it(tmp_path):
    bomb = tmp_path / "bomb.fa.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as fh:
        fh.write(b">one\n")
        for _ in range(64):
            fh.write(b"A" * (1 << 20))  # one 64 MB record from a file of about 64 kB
    with pytest.raises(DataError, match="a gzip bomb"):
        read(bomb)
