"""FASTA input (DNA, RNA, protein; plain, gzip or bgzip), read with pysam and turned into one-byte codes.

pysam is htslib's parser, the one samtools uses: it read a million 200 bp records in 0.56 s plain and 1.2 s
gzipped here, Biopython's SimpleFastaParser in 0.88 s and 1.8 s, pyfaidx in 11.8 s (it indexes first);
pyfastx was faster still (0.31 s) but keeps its indexes in a format of its own, while pysam's ``FastaFile``
reads the samtools ``.fai`` indexes that reference genomes (and Galaxy's data tables) already carry.

Records are taken a block at a time, checked (a name, a sequence, letters of the alphabet, unique ids) and
their codes written in memory or to a uint8 row cache on disk (:mod:`galaxy_dl.data.rowcache`), as tables'
float32 rows are: a FASTA of millions of records is never held as text, nor encoded whole.
"""

import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from galaxy_dl import runtime
from galaxy_dl.data import streaming
from galaxy_dl.data.fileio import open_input, text_bytes
from galaxy_dl.data.seqcoding import (
    ALPHABETS,
    AMBIGUITY,
    INVALID,
    Encoding,
    SequenceRows,
    code_table,
    detect,
    place,
    summary,
)
from galaxy_dl.errors import DataError, first_line

SUFFIXES = (".fa", ".fasta", ".fna", ".faa", ".ffn", ".frn")
BLOCK_RECORDS = 8192
SAMPLE_BYTES = 1 << 20  # residues read to tell DNA, RNA and protein apart


def is_fasta(path: str, source: str) -> bool:
    """Whether ``path`` holds FASTA, by content: its first non-blank byte (after gunzip) is ``>``."""
    with open_input(path, DataError, source, "a FASTA file") as raw:
        head = raw.read(2)
        raw.seek(0)
        stream: Any = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw
        try:
            return stream.read(4096).lstrip()[:1] == b">"
        except (OSError, EOFError, zlib.error):
            return False


def claims_fasta(path: str) -> bool:
    """Whether the name says FASTA (``.fa``, ``.fasta``, ... maybe ``.gz``): such a file that is not is refused."""
    name = path.lower().removesuffix(".gz")
    return name.endswith(SUFFIXES)


@dataclass
class Sequences:
    """Every record of a FASTA file as a :class:`SequenceRows` (codes, encoding, ids) and their lengths."""

    rows: SequenceRows
    lengths: Any  # residues per record, before padding or truncation

    @property
    def ids(self):
        return self.rows.ids

    def describe(self) -> str:
        return summary(self.lengths, self.rows.encoding)


def _records(path: str, source: str) -> Iterator[tuple[str, str]]:
    """(id, sequence) per record, in file order, from htslib's parser; its errors are one line naming the file."""
    import pysam

    if not is_fasta(path, source):
        raise DataError("is not FASTA (a FASTA file starts with a '>' header line)", source=source)
    _check_inflation(path, source)
    try:
        with runtime.quiet_native_stderr(), pysam.FastxFile(path, persist=False) as records:
            for record in records:
                if record.quality is not None:
                    raise DataError(f"record {record.name!r} has qualities: this is FASTQ, not FASTA", source=source)
                yield record.name or "", record.sequence or ""
    except (ValueError, OSError) as exc:
        raise DataError(f"cannot be read as FASTA (cut short, or corrupt?): {first_line(exc)}", source=source) from None


def _check_inflation(path: str, source: str) -> None:
    """A gzip FASTA is inflated once, a block at a time, before pysam reads it: pysam holds a whole record in memory,
    so a small file that would inflate into a huge record is refused here first, by the tables' ratio (a plain
    file costs what it is)."""
    from galaxy_dl.data.tables import Inflated

    with open_input(path, DataError, source, "a FASTA file") as raw:
        if raw.read(2) != b"\x1f\x8b":
            return
        raw.seek(0)
        stream = Inflated(raw, source, hint="give such a FASTA uncompressed")
        while stream.read(1 << 20):
            pass
    if stream.refused is not None:
        raise stream.refused


def _blocks(path: str, source: str) -> Iterator[tuple[list, list]]:
    names: list[str] = []
    sequences: list[str] = []
    for name, sequence in _records(path, source):
        names.append(name)
        sequences.append(sequence)
        if len(names) == BLOCK_RECORDS:
            yield names, sequences
            names, sequences = [], []
            runtime.check_interrupted()
    if names:
        yield names, sequences


def _survey(path: str, source: str) -> tuple[int, int, bytes]:
    """A first pass: records, the longest sequence, and a sample of residues (to detect the alphabet)."""
    count, longest, sample = 0, 0, bytearray()
    for _, sequence in _records(path, source):
        count += 1
        longest = max(longest, len(sequence))
        if len(sample) < SAMPLE_BYTES:
            sample += sequence[:SAMPLE_BYTES].encode("utf-8", "surrogateescape")
    if count == 0:
        raise DataError("has no FASTA records", source=source)
    return count, longest, bytes(sample)


def read(path: str, source: str, encoding: Encoding, how: Any = None) -> Sequences:
    """Every record of ``path`` as codes, with ``encoding`` settled (alphabet, length) by the data.

    ``how`` (a :class:`~galaxy_dl.data.features.Streaming`) decides memory or a uint8 row cache on disk.
    A fitted encoding (predict) is applied as it is: its alphabet and length, its rule.
    """
    count = None
    if encoding.alphabet is None or (encoding.rule == "longest" and encoding.length is None):
        count, longest, sample = _survey(path, source)
        encoding = replace(encoding, alphabet=encoding.alphabet or detect(sample))
        if encoding.rule == "longest":
            encoding = encoding.settled(encoding.alphabet or "dna", longest)
    return encode(_blocks(path, source), source, encoding, how, count or _estimated_records(path, encoding.length))


def encode(blocks, source: str, encoding: Encoding, how: Any, records: int) -> Sequences:
    """Blocks of (ids, sequences) as codes, in memory or (beyond the budget for about ``records`` rows, or with
    ``--stream``) in a uint8 row cache on disk; ids are checked to be unique."""
    import numpy as np

    alphabet = encoding.alphabet or "dna"
    table = code_table(alphabet)
    codes: Any = None
    parts: list[Any] = []
    lengths, ids = [], []
    row = 0
    for names, sequences in blocks:
        if codes is None:
            encoding = encoding.settled(alphabet, len(sequences[0]) or 1)
            estimate = records * (encoding.length or 1)
            stream = streaming.should_stream(estimate, getattr(how, "stream", None), getattr(how, "budget_mb", None))
            if stream:
                from galaxy_dl.data.rowcache import DenseCache

                codes = DenseCache(encoding.length or 1, getattr(how, "cache_dir", None), dtype="uint8")
            else:
                codes = parts
        block, block_lengths = _codes(names, sequences, table, encoding, row, source)
        codes.append(block)
        lengths.append(block_lengths)
        ids.append(np.array([name.encode("utf-8", "surrogateescape") for name in names], dtype=bytes))
        row += len(names)
    if codes is None:
        raise DataError("has no sequences", source=source)
    all_ids = np.concatenate(ids)
    _check_unique(all_ids, source)
    held = codes.finish() if hasattr(codes, "finish") else np.concatenate(parts)
    return Sequences(SequenceRows(held, encoding, all_ids), np.concatenate(lengths))


def _estimated_records(path: str, length: int | None) -> int:
    """Records a file of this size holds at about ``length`` residues each (a gzip file: its trailer's size)."""
    return max(1, text_bytes(path) // max(1, (length or 1) + 16))


def _codes(names: list, sequences: list, table, encoding: Encoding, first: int, source: str):
    """A block of records as codes (rows x encoding.length, zeros = padding) and their lengths, checked."""
    import numpy as np

    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    if not lengths.all():
        i = int(np.argmin(lengths))
        raise DataError(f"record {names[i]!r} (record {first + i + 1}) has no sequence", source=source)
    if encoding.rule == "equal" and (lengths != encoding.length).any():
        i = int(np.argmax(lengths != encoding.length))
        raise DataError(
            f"record {names[i]!r} is {lengths[i]} long, but the sequences before it are {encoding.length}: give "
            "--seq-length N (pad or cut to N) or --seq-length longest",
            source=source,
        )
    mapped = table[np.frombuffer("".join(sequences).encode("utf-8", "surrogateescape"), dtype=np.uint8)]
    if (mapped == INVALID).any():
        _invalid(names, sequences, encoding.alphabet or "dna", first, source)
    width = encoding.length or 1
    if (lengths == width).all():
        return mapped.reshape(len(sequences), width), lengths
    rows = np.zeros((len(sequences), width), dtype=np.uint8)
    ends = np.cumsum(lengths)
    place([mapped[end - n : end] for end, n in zip(ends, lengths, strict=True)], rows, encoding)
    return rows, lengths


def _invalid(names: list, sequences: list, alphabet: str, first: int, source: str):
    accepted = set(ALPHABETS[alphabet] + "".join(AMBIGUITY[alphabet]))
    accepted |= {c.lower() for c in accepted}
    for i, sequence in enumerate(sequences):
        for position, letter in enumerate(sequence):
            if letter not in accepted:
                raise DataError(
                    f"record {names[i]!r} (record {first + i + 1}): {letter!r} at position {position + 1} is not a "
                    f"{alphabet} letter ({' '.join(ALPHABETS[alphabet])} or the ambiguity codes "
                    f"{' '.join(AMBIGUITY[alphabet])}); for other sequences give --alphabet",
                    source=source,
                )


def _check_unique(ids, source: str) -> None:
    import numpy as np

    ordered = np.sort(ids)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if len(repeated):
        first = repeated[0].decode("utf-8", "surrogateescape")
        raise DataError(
            f"record id {first!r} occurs more than once ({len(np.unique(repeated))} ids repeat): ids must be unique",
            source=source,
        )


def iter_blocks(path: str, source: str, encoding: Encoding, rows: int) -> Iterator[tuple[list, Any]]:
    """(record ids, encoded float32 rows) in blocks of about ``rows`` records, with a fitted encoding."""
    return iter_encoded(_blocks(path, source), source, encoding, rows)


def iter_encoded(blocks, source: str, encoding: Encoding, rows: int) -> Iterator[tuple[list, Any]]:
    """Blocks of (ids, sequences) as (ids, encoded float32 rows) of about ``rows`` records; ids checked unique."""
    import numpy as np

    table = code_table(encoding.alphabet or "dna")
    row, ids = 0, []
    for names, sequences in blocks:
        codes, _ = _codes(names, sequences, table, encoding, row, source)
        ids.append(np.array([name.encode("utf-8", "surrogateescape") for name in names], dtype=bytes))
        row += len(names)
        for start in range(0, len(names), rows):
            yield names[start : start + rows], encoding.transform(codes[start : start + rows])
    if not ids:
        raise DataError("has no sequences", source=source)
    _check_unique(np.concatenate(ids), source)  # the caller's output is not in place until it returns


def labels_by_id(frame, ids, source: str):
    """The label table in record order when its first column holds the record ids (in any order), without that
    column; else the table as it is (labels in record order). Ids missing on either side are named."""
    import numpy as np
    import pandas as pd

    if frame.shape[1] < 2:
        return frame
    given = frame.iloc[:, 0].astype(str).to_numpy()
    records = pd.Index([i.decode("utf-8", "surrogateescape") for i in ids.tolist()])
    if np.isin(given, records).mean() < 0.5:
        return frame
    column = frame.columns[0]
    if len(set(given)) < len(given):
        repeated = pd.Series(given)[pd.Series(given).duplicated()].iloc[0]
        raise DataError(f"id {repeated!r} (column {column!r}) labels more than one row", source=source)
    lookup = pd.Index(given)
    position = lookup.get_indexer(records)
    problems = []
    missing = records[position < 0]
    if len(missing):
        problems.append(f"{len(missing)} records have no label ({_few(missing)})")
    extra = lookup.difference(records)
    if len(extra):
        problems.append(f"{len(extra)} ids are not records of the FASTA file ({_few(extra)})")
    if problems:
        raise DataError(f"labels matched by the ids in column {column!r}: {'; '.join(problems)}", source=source)
    return frame.iloc[position, 1:].reset_index(drop=True)


def _few(names) -> str:
    shown = ", ".join(repr(str(n)) for n in list(names)[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")
