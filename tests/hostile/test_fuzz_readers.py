"""Property-based fuzzing of the readers: whatever bytes arrive, a reader returns data or raises one of our
typed errors (a one-line message and an exit code), never another exception."""

import contextlib
import gzip
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from galaxy_dl.data import documents, matrixmarket
from galaxy_dl.data.features import Streaming, iter_features, read_features
from galaxy_dl.data.tables import TableSpec, read_table
from galaxy_dl.errors import GalaxyDLError, ModelError, UsageError
from galaxy_dl.model import archive

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

cells = st.one_of(st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=True).map(repr), st.text(max_size=6),
                  st.sampled_from(["", "NA", "nan", "inf", "1e400", "\"", "'", "\\t", "\\r"]))
rows = st.lists(st.lists(cells, min_size=1, max_size=5), min_size=0, max_size=8)
tables = st.one_of(rows.map(lambda r: "\n".join("\t".join(row) for row in r).encode()), st.binary(max_size=300))


def _file(tmp_path_factory, data: bytes, compress: bool, name: str = "t.tsv") -> str:
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_bytes(gzip.compress(data) if compress else data)
    return str(path)


@FUZZ
@given(data=tables, compress=st.booleans(), header=st.booleans(), numeric=st.booleans())
def test_tables(tmp_path_factory, data, compress, header, numeric):
    spec = TableSpec(_file(tmp_path_factory, data, compress), header=header, option="--x")
    with contextlib.suppress(GalaxyDLError):
        read_table(spec, numeric=numeric)


@FUZZ
@given(data=tables, compress=st.booleans(), header=st.booleans())
def test_feature_blocks_for_prediction(tmp_path_factory, data, compress, header):
    spec = TableSpec(_file(tmp_path_factory, data, compress), header=header, option="--x")
    try:
        for _ in iter_features(spec, 3):
            pass
        read_features(spec, take={}, how=Streaming(stream=False))
    except GalaxyDLError:
        pass


size_lines = st.tuples(st.integers(-5, 10**12), st.integers(-5, 10**12), st.integers(-5, 10**13)).map(
    lambda t: " ".join(map(str, t)))
entries = st.lists(st.tuples(st.integers(-2, 12), st.integers(-2, 12), st.floats(allow_nan=True)), max_size=20)


@FUZZ
@given(banner=st.sampled_from(["%%MatrixMarket matrix coordinate real general", "%%MatrixMarket matrix array real general",
                               "%%MatrixMarket matrix coordinate pattern general", "%%MatrixMarket x", ""]),
       size=st.one_of(size_lines, st.text(max_size=20)), body=entries, tail=st.binary(max_size=40))
def test_matrix_market(banner, size, body, tail):
    text = f"{banner}\n% comment\n{size}\n" + "".join(f"{r} {c} {v!r}\n" for r, c, v in body)
    data = text.encode() + tail
    with contextlib.suppress(GalaxyDLError):
        matrixmarket.read(io.BufferedReader(io.BytesIO(data)), "--x X.mtx", room=len(data))


json_like = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5)),
                         lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)),
                         max_leaves=20)


@FUZZ
@given(text=st.one_of(st.text(max_size=200), json_like.map(repr), st.integers(0, 400).map(lambda n: "[" * n + "]" * n)))
def test_documents(text):
    for parse in (lambda: documents.parse_json(text, "--arch a.json", UsageError),
                  lambda: documents.parse_yaml(io.StringIO(text), "--spec s.yml", UsageError)):
        with contextlib.suppress(GalaxyDLError):
            parse()


@FUZZ
@given(data=st.one_of(st.binary(max_size=400), st.binary(max_size=400).map(lambda b: b"PK\x03\x04" + b),
                      st.binary(max_size=400).map(lambda b: b"\x89HDF\r\n\x1a\n" + b)))
def test_estimator_files(tmp_path_factory, data):
    path = _file(tmp_path_factory, data, False, "model.zip")
    with contextlib.suppress(ModelError):
        archive.load(path, "--model model.zip")


residues = st.text(alphabet="ACGTNacgtnRYXZ*-u \t\r\x00é", max_size=30)
records = st.lists(st.tuples(st.text(max_size=6), residues), max_size=6).map(
    lambda rs: "".join(f">{name}\n{seq}\n" for name, seq in rs).encode())


@FUZZ
@given(data=st.one_of(records, st.binary(max_size=200).map(lambda b: b">" + b)), compress=st.booleans(),
       encoding=st.sampled_from(["onehot", "kmer:2"]), length=st.sampled_from([None, "5", "longest"]))
def test_fasta(tmp_path_factory, data, compress, encoding, length):
    from galaxy_dl.data.seqcoding import Encoding

    spec = TableSpec(_file(tmp_path_factory, data, compress, "s.fa"), option="--x")
    with contextlib.suppress(GalaxyDLError):
        features = read_features(spec, take={}, how=Streaming(stream=False), encoding=Encoding.parse(encoding, length=length))
        rows = features.X.base
        rows.learn(range(rows.shape[0]))
        for _ in iter_features(spec, 2, encoding=rows.encoding):
            pass


bed_cells = st.one_of(st.sampled_from(["chrA", "chrB", "chrZ", "", "track x", "#c"]), st.integers(-5, 120).map(str),
                      st.text(max_size=4))


@FUZZ
@given(lines=st.lists(st.lists(bed_cells, min_size=1, max_size=7), max_size=6), window=st.integers(1, 50))
def test_bed_intervals(tmp_path_factory, lines, window):
    from galaxy_dl.data.seqcoding import Encoding

    folder = tmp_path_factory.mktemp("bed")
    genome = folder / "g.fa"
    genome.write_text(">chrA\n" + "ACGT" * 25 + "\n>chrB\nGGGcccNN\n")
    regions = folder / "r.bed"
    regions.write_text("".join("\t".join(cells) + "\n" for cells in lines))
    spec = TableSpec(str(regions), option="--x")
    with contextlib.suppress(GalaxyDLError):
        read_features(spec, take={}, how=Streaming(stream=False), encoding=Encoding().for_intervals(window),
                      genome=str(genome))
