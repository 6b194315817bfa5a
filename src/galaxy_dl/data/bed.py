"""Genomic intervals (BED3 and up, narrowPeak) read against a reference genome, as fixed windows of DNA.

Each interval becomes a window of ``--window`` bp centred on it (on a narrowPeak's summit, its 10th column, when
it gives one), read from the indexed reference with pysam's ``FastaFile`` (samtools' ``.fai``: used when it is
there, else built in a temporary folder, so an input's folder is never written); a window that runs past either
end of its chromosome is padded with N. The windows then go the way of FASTA records (:func:`fasta.encode`):
one-byte codes, in memory or a byte cache, encoded a block at a time. Record ids are ``chrom:start-end``.
The strand column is not used: ``--revcomp`` trains on both strands.
"""

import gzip
import os
import tempfile
from collections.abc import Iterator
from typing import Any

from galaxy_dl import runtime
from galaxy_dl.data import fasta
from galaxy_dl.data.fileio import open_input
from galaxy_dl.data.seqcoding import Encoding
from galaxy_dl.errors import DataError, UsageError, first_line, suggest

COLUMNS = ["chrom", "start", "end", "name", "score", "strand", "signalValue", "pValue", "qValue", "peak"]
BLOCK = 8192


def read_intervals(path: str, source: str):
    """The BED file as a DataFrame (columns named as BED and narrowPeak name them); track, browser and comment
    lines are skipped; coordinates are checked."""
    import numpy as np
    import pandas as pd

    with open_input(path, DataError, source, "a BED file") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    skip = 0
    opener: Any = gzip.open if gzipped else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.startswith(("track", "browser", "#")) and line.strip():
                    break
                skip += 1
        frame = pd.read_csv(
            path,
            sep="\t",
            header=None,
            skiprows=skip,
            comment="#",
            dtype={0: str},
            compression="gzip" if gzipped else None,
        )
    except pd.errors.EmptyDataError:
        raise DataError("has no intervals", source=source) from None
    except (pd.errors.ParserError, OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot be read as BED: {first_line(exc)}", source=source) from None
    if frame.shape[1] < 3:
        raise DataError(f"has {frame.shape[1]} columns; BED has at least 3 (chrom, start, end)", source=source)
    frame.columns = [COLUMNS[i] if i < len(COLUMNS) else f"column{i + 1}" for i in range(frame.shape[1])]
    for column in ("start", "end"):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() | (values != values.round())
        if bad.any():
            row = int(np.argmax(bad.to_numpy()))
            raise DataError(
                f"line {skip + row + 1}: {column} {frame[column].iloc[row]!r} is not a whole number", source=source
            )
        frame[column] = values.astype(np.int64)
    bad = (frame["start"] < 0) | (frame["end"] <= frame["start"])
    if bad.any():
        row = int(np.argmax(bad.to_numpy()))
        raise DataError(
            f"line {skip + row + 1}: the interval {frame['start'].iloc[row]}-{frame['end'].iloc[row]} is empty or "
            "negative (BED: 0-based start < end)",
            source=source,
        )
    frame.attrs["first_line"] = skip + 1
    return frame


def column(frame, name: str, option: str, source: str):
    """A column of the BED file by its name (``name``, ``score``, ``signalValue``, ...) or 1-based number."""
    if name.isdigit() and 1 <= int(name) <= frame.shape[1]:
        return frame.iloc[:, int(name) - 1]
    if name not in frame.columns:
        names = [str(c) for c in frame.columns]
        raise DataError(
            f"{option}: no column {name!r}{suggest(name, names)} (columns: {', '.join(names)}, or 1-{len(names)})",
            source=source,
        )
    return frame[name]


class Genome:
    """An indexed reference genome (FASTA, plain or bgzip); its ``.fai`` is built in a temporary folder if missing."""

    def __init__(self, path: str, source: str):
        import pysam

        self.source = source
        with open_input(path, DataError, source, "a reference genome") as raw:
            head = raw.read(4)
        index = None
        self._folder = None
        if not os.path.exists(path + ".fai"):
            self._folder = tempfile.TemporaryDirectory(prefix="galaxy-dl-fai-")
            index = os.path.join(self._folder.name, "genome.fa.fai")
        try:
            with runtime.quiet_native_stderr():
                if index is not None:  # samtools faidx, writing the index where we choose
                    pysam.faidx(path, "--fai-idx", index)
                self.fasta = pysam.FastaFile(path, filepath_index=index)
        except (OSError, ValueError, pysam.SamtoolsError) as exc:
            if head[:2] == b"\x1f\x8b":
                raise DataError(
                    "is gzip-compressed, which allows no random access: give it uncompressed, or compressed with "
                    f"bgzip (then `samtools faidx {path}`)",
                    source=source,
                ) from None
            raise DataError(f"cannot be read as an indexed FASTA genome: {first_line(exc)}", source=source) from None
        self.lengths = dict(zip(self.fasta.references, self.fasta.lengths, strict=True))

    def check(self, intervals, source: str) -> None:
        """Every interval on a chromosome of the genome, and within it."""
        import numpy as np

        known = intervals["chrom"].isin(list(self.lengths))
        if not known.all():
            row = int(np.argmax(~known.to_numpy()))
            chrom = intervals["chrom"].iloc[row]
            raise DataError(
                f"line {intervals.attrs['first_line'] + row}: chromosome {chrom!r} is not in {self.source}"
                f"{suggest(str(chrom), list(self.lengths))} ({len(self.lengths)} sequences there)",
                source=source,
            )
        ends = intervals["chrom"].map(self.lengths).to_numpy()
        past = intervals["end"].to_numpy() > ends
        if past.any():
            row = int(np.argmax(past))
            raise DataError(
                f"line {intervals.attrs['first_line'] + row}: end {intervals['end'].iloc[row]} is past the end of "
                f"{intervals['chrom'].iloc[row]} ({ends[row]} bp in {self.source})",
                source=source,
            )

    def window(self, chrom: str, start: int, end: int) -> str:
        """The genome's letters in [start, end), N beyond either end of the chromosome."""
        length = self.lengths[chrom]
        inside = self.fasta.fetch(chrom, max(0, start), min(length, end))
        return "N" * max(0, -start) + inside + "N" * max(0, end - length)

    def close(self) -> None:
        self.fasta.close()
        if self._folder is not None:
            self._folder.cleanup()


def centres(intervals):
    """Each interval's centre: a narrowPeak's summit (start + peak) where given, else the midpoint."""
    import numpy as np

    middle = (intervals["start"].to_numpy() + intervals["end"].to_numpy()) // 2
    if "peak" in intervals.columns:
        peak = intervals["peak"].to_numpy()
        return np.where(peak >= 0, intervals["start"].to_numpy() + peak, middle)
    return middle


def _blocks(intervals, genome: Genome, window: int) -> Iterator[tuple[list, list]]:
    starts = centres(intervals) - window // 2
    chroms = intervals["chrom"].tolist()
    ids = [
        f"{c}:{s}-{e}" for c, s, e in zip(chroms, intervals["start"].tolist(), intervals["end"].tolist(), strict=True)
    ]
    for first in range(0, len(ids), BLOCK):
        last = min(first + BLOCK, len(ids))
        yield (
            ids[first:last],
            [genome.window(chroms[i], int(starts[i]), int(starts[i]) + window) for i in range(first, last)],
        )
        runtime.check_interrupted()


def read(path: str, source: str, genome_path: str, encoding: Encoding, how: Any = None, *, take: dict | None = None):
    """The intervals of ``path`` as windows of ``encoding.window`` bp of the genome; ``take`` names BED columns to
    return beside them (``{"--target": "name"}``)."""
    if not encoding.window:
        raise UsageError("genomic intervals need --window BP")
    intervals = read_intervals(path, source)
    taken = {option: column(intervals, name, option, source) for option, name in (take or {}).items()}
    genome = Genome(genome_path, f"--genome {genome_path}")
    try:
        genome.check(intervals, source)
        sequences = fasta.encode(_blocks(intervals, genome, encoding.window), source, encoding, how, len(intervals))
    finally:
        genome.close()
    return sequences, taken


def iter_blocks(path: str, source: str, genome_path: str, encoding: Encoding, rows: int):
    """(record ids, encoded float32 rows) in blocks of about ``rows`` intervals, with a fitted encoding."""
    if not encoding.window:
        raise DataError("the model was trained on FASTA sequences, not genomic intervals: drop --genome", source=source)
    intervals = read_intervals(path, source)
    genome = Genome(genome_path, f"--genome {genome_path}")
    try:
        genome.check(intervals, source)
        yield from fasta.iter_encoded(_blocks(intervals, genome, encoding.window), source, encoding, rows)
    finally:
        genome.close()
