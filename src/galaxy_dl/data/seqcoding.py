"""Biological sequences as model input: residues to one-byte codes, codes to one-hot rows or k-mer tokens.

A sequence is held as one byte per residue (code 0 is padding, 1..A the alphabet's letters in order, then its
ambiguity codes), so a million 200 bp sequences take 200 MB, not the 3.2 GB their float32 one-hot would: rows
are encoded a block at a time as Keras asks for them (:class:`SequenceRows`). An :class:`Encoding` says how
(alphabet, one-hot or k-mers, length rule) and, once learned from training rows, holds the k-mer vocabulary:
it is saved in the fitted archive, so predict encodes new sequences exactly as training did.

Ambiguity codes are never errors. One-hot gives them the share of each letter they stand for (DNA ``N`` is
0.25 of each base, ``R`` 0.5 A and 0.5 G; protein ``B``, ``Z``, ``J`` split between two amino acids, ``X`` a
twentieth of each); protein ``U``, ``O`` and ``*`` (selenocysteine, pyrrolysine, stop) are all zeros. A k-mer
holding an ambiguity code is the unknown token. Lowercase (soft-masked) letters read as uppercase.
"""

from dataclasses import dataclass, replace
from typing import Any

from galaxy_dl.errors import DataError, ModelError, UsageError

ALPHABETS = {"dna": "ACGT", "rna": "ACGU", "protein": "ACDEFGHIKLMNPQRSTVWY"}
_NUCLEOTIDE_AMBIGUITY = {
    "N": "ACGT",
    "R": "AG",
    "Y": "CT",
    "S": "CG",
    "W": "AT",
    "K": "GT",
    "M": "AC",
    "B": "CGT",
    "D": "AGT",
    "H": "ACT",
    "V": "ACG",
}
AMBIGUITY = {
    "dna": _NUCLEOTIDE_AMBIGUITY,
    "rna": {code: letters.replace("T", "U") for code, letters in _NUCLEOTIDE_AMBIGUITY.items()},
    "protein": {"B": "DN", "Z": "EQ", "J": "IL", "X": ALPHABETS["protein"], "U": "", "O": "", "*": ""},
}
ENCODINGS = ("onehot", "kmer")
SIDES = ("end", "start", "both")  # where padding is added and excess cut: after, before, or half each side
INVALID = 255
PADDING, UNKNOWN = 0, 1  # k-mer token ids; the vocabulary's k-mers are 2, 3, ...
MAX_KMER_SPACE = 1 << 62  # A**K must fit an int64 k-mer number


def letters(alphabet: str) -> str:
    """Every accepted letter, in code order (code = position + 1)."""
    return ALPHABETS[alphabet] + "".join(AMBIGUITY[alphabet])


def code_table(alphabet: str):
    """256 byte values to codes (upper and lower case alike); INVALID for any other byte."""
    import numpy as np

    table = np.full(256, INVALID, dtype=np.uint8)
    for code, letter in enumerate(letters(alphabet), start=1):
        table[ord(letter)] = table[ord(letter.lower())] = code
    return table


def one_hot_table(alphabet: str):
    """Codes to one-hot rows: padding all zeros, letters one 1, ambiguity codes the share of each letter."""
    import numpy as np

    base = ALPHABETS[alphabet]
    table = np.zeros((1 + len(letters(alphabet)), len(base)), dtype=np.float32)
    table[1 : 1 + len(base)] = np.eye(len(base), dtype=np.float32)
    for code, meant in enumerate(AMBIGUITY[alphabet].values(), start=1 + len(base)):
        for letter in meant:
            table[code, base.index(letter)] = 1.0 / len(meant)
    return table


def detect(sample: bytes) -> str:
    """DNA, RNA or protein from a sample of residues: nucleotides when at least 75% of them are A, C, G, T, U or N."""
    upper = sample.upper()
    if not upper:
        return "dna"
    nucleotide = sum(upper.count(c) for c in b"ACGTUN")
    if nucleotide >= 0.75 * len(upper):
        return "rna" if upper.count(b"U") > upper.count(b"T") else "dna"
    return "protein"


@dataclass(frozen=True)
class Encoding:
    """How sequences become model input; JSON-able (:meth:`to_dict`), stored in the fitted archive.

    ``length`` is every row's length in residues (None until the data sets it: the first record's under the
    ``equal`` rule, the longest training sequence's under ``longest``); ``vocabulary`` the k-mers seen in
    training, token ids 2.. in that (sorted) order.
    """

    kind: str = "onehot"
    k: int = 1
    alphabet: str | None = None  # None: detected from the data
    rule: str = "equal"  # equal (checked) | fixed (pad/truncate to length) | longest (pad to the longest)
    length: int | None = None
    side: str = "end"
    vocabulary: tuple[str, ...] | None = None
    window: int | None = None  # genomic intervals: windows of this many bp read from a reference genome
    revcomp: bool = False  # train on every sequence's reverse complement too (nucleotides only)

    @classmethod
    def parse(
        cls,
        encoding: str = "onehot",
        alphabet: str = "auto",
        length: str | None = None,
        side: str = "end",
        *,
        revcomp: bool = False,
    ):
        """From the command line: ``onehot`` or ``kmer:K``; ``auto`` or an alphabet; a length N or ``longest``."""
        kind, _, k_text = encoding.partition(":")
        if kind not in ENCODINGS or (kind == "onehot" and k_text) or (kind == "kmer" and not k_text.isdigit()):
            raise UsageError(f"--encoding: {encoding!r}: use onehot or kmer:K (K a whole number >= 1)")
        k = int(k_text) if kind == "kmer" else 1
        if k < 1:
            raise UsageError("--encoding: kmer:K needs K >= 1")
        if alphabet != "auto" and alphabet not in ALPHABETS:
            raise UsageError(f"--alphabet: {alphabet!r}: use auto, {', '.join(ALPHABETS)}")
        if side not in SIDES:
            raise UsageError(f"--seq-side: {side!r}: use {', '.join(SIDES)}")
        rule, size = "equal", None
        if length == "longest":
            rule = "longest"
        elif length is not None:
            if not length.isdigit() or int(length) < 1:
                raise UsageError(f"--seq-length: {length!r}: a whole number of residues >= 1, or longest")
            rule, size = "fixed", int(length)
        if revcomp and alphabet == "protein":
            raise UsageError("--revcomp applies to DNA and RNA, not protein")
        return cls(kind, k, None if alphabet == "auto" else alphabet, rule, size, side, revcomp=revcomp)

    def for_intervals(self, window: int) -> "Encoding":
        """Windows of ``window`` bp of a DNA genome: all one length, nothing to pad."""
        if self.alphabet not in (None, "dna") or self.rule != "equal":
            raise UsageError("genomic intervals are DNA windows of --window bp: drop --alphabet and --seq-length")
        return replace(self, alphabet="dna", window=window)

    @classmethod
    def from_dict(cls, state: dict, source: str) -> "Encoding":
        try:
            encoding = cls(**{**state, "vocabulary": tuple(state["vocabulary"]) if state.get("vocabulary") else None})
            encoding.check()
        except (TypeError, KeyError, ValueError, UsageError) as exc:
            raise ModelError(f"its sequence encoding cannot be read: {exc}", source=source) from None
        return encoding

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "k": self.k,
            "alphabet": self.alphabet,
            "rule": self.rule,
            "length": self.length,
            "side": self.side,
            "vocabulary": list(self.vocabulary) if self.vocabulary is not None else None,
            "window": self.window,
            "revcomp": self.revcomp,
        }

    def check(self) -> None:
        if self.kind not in ENCODINGS or self.rule not in ("equal", "fixed", "longest") or self.side not in SIDES:
            raise ValueError("unknown encoding, length rule or side")
        if self.alphabet is not None and self.alphabet not in ALPHABETS:
            raise ValueError(f"unknown alphabet {self.alphabet!r}")
        if self.alphabet is not None and len(ALPHABETS[self.alphabet]) ** self.k > MAX_KMER_SPACE:
            raise UsageError(f"--encoding kmer:{self.k} is too long for {self.alphabet} (at most {self.max_k()})")
        if self.revcomp and self.alphabet == "protein":
            raise UsageError("--revcomp applies to DNA and RNA, not protein")
        if self.length is not None and self.kind == "kmer" and self.length < self.k:
            raise UsageError(f"--encoding kmer:{self.k} is longer than the sequences ({self.length} residues)")

    def max_k(self) -> int:
        size, k = len(ALPHABETS[self.alphabet or "protein"]), 1
        while size ** (k + 1) <= MAX_KMER_SPACE:
            k += 1
        return k

    def settled(self, alphabet: str, length: int) -> "Encoding":
        """This encoding with the data's alphabet and row length filled in, checked."""
        settled = replace(self, alphabet=self.alphabet or alphabet, length=self.length or length)
        settled.check()
        return settled

    @property
    def width(self) -> int:
        """Values per encoded row: length x alphabet for one-hot (the model reshapes them), else one per k-mer."""
        assert self.alphabet is not None and self.length is not None, "settle the encoding first"
        if self.kind == "onehot":
            return self.length * len(ALPHABETS[self.alphabet])
        return self.length - self.k + 1

    @property
    def input_shape(self) -> tuple[int, ...]:
        assert self.alphabet is not None and self.length is not None, "settle the encoding first"
        return (self.length, len(ALPHABETS[self.alphabet])) if self.kind == "onehot" else (self.width,)

    @property
    def tokens(self) -> int:
        """An Embedding's smallest input_dim: padding, unknown and every k-mer of the vocabulary."""
        return 2 + len(self.vocabulary or ())

    def describe(self) -> str:
        shape = " x ".join(str(d) for d in self.input_shape)
        if self.kind == "onehot":
            return f"one-hot {self.alphabet}, {shape} per sequence"
        vocabulary = f", {len(self.vocabulary)} k-mers seen in training" if self.vocabulary is not None else ""
        return f"{self.k}-mer tokens ({self.alphabet}), {shape} per sequence{vocabulary}"

    # --- codes to model input ------------------------------------------------------------

    def _numbers(self, codes):
        """Each k-mer's number in base A (int64) and whether it holds padding or an ambiguity code."""
        import numpy as np

        size = len(ALPHABETS[self.alphabet or "dna"])
        windows = codes.shape[1] - self.k + 1
        numbers = np.zeros((codes.shape[0], windows), dtype=np.int64)
        padded = np.zeros((codes.shape[0], windows), dtype=bool)
        ambiguous = np.zeros((codes.shape[0], windows), dtype=bool)
        for i in range(self.k):
            part = codes[:, i : i + windows]
            numbers = numbers * size + np.minimum(part.astype(np.int64), size) - 1
            padded |= part == 0
            ambiguous |= part > size
        return numbers, padded, ambiguous

    def learn(self, blocks) -> "Encoding":
        """The k-mer vocabulary of the codes in ``blocks`` (training rows only), sorted; one-hot learns nothing."""
        import numpy as np

        if self.kind != "kmer":
            return self
        seen = np.empty(0, dtype=np.int64)
        for codes in blocks:
            numbers, padded, ambiguous = self._numbers(codes)
            seen = np.union1d(seen, numbers[~(padded | ambiguous)])
        base = ALPHABETS[self.alphabet or "dna"]
        vocabulary = []
        for number in seen.tolist():
            kmer = []
            for _ in range(self.k):
                number, digit = divmod(number, len(base))
                kmer.append(base[digit])
            vocabulary.append("".join(reversed(kmer)))
        return replace(self, vocabulary=tuple(vocabulary))

    def _known(self):
        """The vocabulary's k-mer numbers, ascending (the vocabulary is sorted, as its letters are)."""
        import numpy as np

        base = ALPHABETS[self.alphabet or "dna"]
        position = {letter: i for i, letter in enumerate(base)}
        numbers = np.zeros(len(self.vocabulary or ()), dtype=np.int64)
        for j, kmer in enumerate(self.vocabulary or ()):
            value = 0
            for letter in kmer:
                value = value * len(base) + position[letter]
            numbers[j] = value
        return numbers

    def transform(self, codes):
        """float32 model input for a block of codes (rows x length): flat one-hot rows, or k-mer token ids."""
        import numpy as np

        if self.kind == "onehot":
            return one_hot_table(self.alphabet or "dna")[codes].reshape(len(codes), -1)
        if self.vocabulary is None:
            raise ModelError("the k-mer vocabulary has not been learned: fit the estimator first")
        numbers, padded, ambiguous = self._numbers(codes)
        known = self._known_cache()
        position = np.minimum(np.searchsorted(known, numbers), max(len(known) - 1, 0))
        found = known[position] == numbers if len(known) else np.zeros(numbers.shape, dtype=bool)
        tokens = np.where(found & ~ambiguous, position + 2, UNKNOWN)
        tokens[padded] = PADDING
        return tokens.astype(np.float32)

    def _known_cache(self):
        cached = _KNOWN.get(self.vocabulary)
        if cached is None:
            _KNOWN.clear()  # one vocabulary at a time is in use
            cached = _KNOWN[self.vocabulary] = self._known()
        return cached


_KNOWN: dict[Any, Any] = {}
_COMPLEMENT = {
    "A": "T",
    "C": "G",
    "G": "C",
    "T": "A",
    "U": "A",
    "N": "N",
    "R": "Y",
    "Y": "R",
    "S": "S",
    "W": "W",
    "K": "M",
    "M": "K",
    "B": "V",
    "V": "B",
    "D": "H",
    "H": "D",
}


def complement_table(alphabet: str):
    """Codes to the codes of their complementary letters (padding stays padding); DNA and RNA only."""
    import numpy as np

    order = letters(alphabet)
    table = np.zeros(1 + len(order), dtype=np.uint8)
    for code, letter in enumerate(order, start=1):
        partner = _COMPLEMENT[letter]
        table[code] = 1 + order.index("U" if partner == "T" and alphabet == "rna" else partner)
    return table


def reverse_complement(codes, alphabet: str):
    """The reverse complement of each row of codes (rows x length)."""
    return complement_table(alphabet)[codes[:, ::-1]]


def place(codes: list, rows, encoding: Encoding) -> None:
    """Write each record's codes into its row of ``rows`` (zeros = padding) by the length rule and side."""
    width = rows.shape[1]
    for i, values in enumerate(codes):
        n = len(values)
        if n >= width:
            start = {"end": 0, "start": n - width, "both": (n - width) // 2}[encoding.side]
            rows[i] = values[start : start + width]
        else:
            start = {"end": 0, "start": width - n, "both": (width - n) // 2}[encoding.side]
            rows[i, start : start + n] = values


class SequenceRows:
    """A :class:`~galaxy_dl.data.streaming.Rows` base: sequences as codes (an array or a uint8 row cache),
    encoded a block of rows at a time; ``learn`` sets the k-mer vocabulary from some of its rows."""

    def __init__(self, codes, encoding: Encoding, ids=None):
        self.codes = codes
        self.encoding = encoding
        self.ids = ids  # record ids (bytes), for errors and for labels matched by id

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.codes.shape[0]), self.encoding.width)

    def __getitem__(self, rows):
        return self.encoding.transform(self.codes[rows])

    def release(self) -> None:
        release = getattr(self.codes, "release", None)
        if release is not None:
            release()

    def learn(self, index, block: int = 1 << 16) -> Encoding:
        """Learn the encoding from rows ``index`` (sorted, read in blocks); later rows are encoded with it."""
        import numpy as np

        index = np.sort(np.asarray(index))

        def blocks():
            for start in range(0, len(index), block):
                yield self.codes[index[start : start + block]]
                self.release()

        self.encoding = self.encoding.learn(blocks())
        return self.encoding


class Augmented:
    """A Rows base for training: the rows of a :class:`SequenceRows`, then the same rows reverse-complemented
    (row ``n + i`` is row ``i``'s other strand), so a model learns motifs on both strands."""

    def __init__(self, base: SequenceRows):
        self.base = base

    @property
    def encoding(self) -> Encoding:
        return self.base.encoding

    @property
    def shape(self) -> tuple[int, int]:
        n, width = self.base.shape
        return (2 * n, width)

    def _codes(self, rows):
        import numpy as np

        rows = np.asarray(rows)
        n = self.base.shape[0]
        other = rows >= n
        codes = self.base.codes[np.where(other, rows - n, rows)]
        if other.any():
            codes[other] = reverse_complement(codes[other], self.encoding.alphabet or "dna")
        return codes

    def __getitem__(self, rows):
        return self.encoding.transform(self._codes(rows))

    def release(self) -> None:
        self.base.release()

    def learn(self, index, block: int = 1 << 16) -> Encoding:
        import numpy as np

        index = np.sort(np.asarray(index))

        def blocks():
            for start in range(0, len(index), block):
                yield self._codes(index[start : start + block])
                self.release()

        self.base.encoding = self.encoding.learn(blocks())
        return self.base.encoding


def summary(lengths, encoding: Encoding) -> str:
    """Counts and lengths for a run's report: "800 sequences, 180-220 residues (mean 200.1); ..."."""
    import numpy as np

    lengths = np.asarray(lengths)
    if not len(lengths):
        raise DataError("has no sequences")
    strands = "; and their reverse complements in training" if encoding.revcomp else ""
    if encoding.window:
        return f"{len(lengths)} intervals as {encoding.window} bp windows of the genome; {encoding.describe()}{strands}"
    return (
        f"{len(lengths)} sequences, {int(lengths.min())}-{int(lengths.max())} residues "
        f"(mean {float(lengths.mean()):.1f}); {encoding.describe()}{strands}"
    )
