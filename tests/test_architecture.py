import json

import pytest

from galaxy_dl import runtime
from galaxy_dl.errors import ModelError, UsageError
from galaxy_dl.model.architecture import (
    build_functional,
    build_sequential,
    load_json_file,
    make_layer,
    model_from_config,
    parse_config,
    to_json,
)
from galaxy_dl.model.layerspec import parse_layer

DATA = __import__("pathlib").Path(__file__).parent / "data"


@pytest.fixture(scope="module", autouse=True)
def keras():
    runtime.configure()
    return runtime.import_keras()


def layers(*specs):
    return [parse_layer(s) for s in specs]


def test_sequential_json_round_trips_through_keras(keras):
    model = build_sequential((7129,), layers('Dense(16, activation="elu")', 'Dense(1, activation="sigmoid")'))
    text = to_json(model)
    again = keras.models.model_from_json(text)
    assert [type(layer).__name__ for layer in again.layers] == ["Dense", "Dense"]
    assert again.count_params() == model.count_params() == 7129 * 16 + 16 + 17
    assert text == to_json(again)


@pytest.mark.parametrize("spec", [
    "SeparableConv2D(2, 3)", "DepthwiseConv2D(3)", "Conv2DTranspose(2, 3)",
    "Cropping2D(1)", "UpSampling2D(2)", "ZeroPadding2D(1)", "MaxPooling2D(2)", "AveragePooling2D(2)",
    "GlobalMaxPooling2D()", "BatchNormalization()", "GaussianNoise(0.1)", "SpatialDropout2D(0.1)",
    "LeakyReLU(alpha=0.2)", "PReLU()", "ELU()", "ReLU(max_value=6)", "Softmax()", "Permute((2, 1, 3))",
    "ActivityRegularization(l1=0.01)", "Reshape((8, 8, 1))",
])
def test_layer_families_build_on_image_input(spec):
    model = build_sequential((8, 8, 1), layers(spec))
    assert len(model.layers) == 1


@pytest.mark.parametrize("spec", ["LSTM(4)", "GRU(4, return_sequences=True)", "Conv1D(4, 3, padding='same')", "SimpleRNN(3)", "Masking(0.0)", "Flatten()"])
def test_recurrent_layers_build_on_sequence_input(spec):
    assert build_sequential((5, 2), layers(spec)).layers


def test_regularizers_constraints_and_initializers_are_reachable():
    model = build_sequential((4,), layers(
        "Dense(3, kernel_regularizer=L2(0.01), kernel_constraint=MaxNorm(3), bias_constraint=NonNeg(), "
        "kernel_initializer=HeNormal(seed=1), activity_regularizer=L1L2(l1=0.0, l2=0.1))"))
    config = json.loads(to_json(model))["config"]["layers"][1]["config"]
    assert config["kernel_regularizer"]["class_name"] == "L2"
    assert config["kernel_constraint"]["class_name"] == "MaxNorm"
    assert config["kernel_initializer"]["class_name"] == "HeNormal"


def test_leaky_relu_alpha_is_translated():
    layer = make_layer(parse_layer("LeakyReLU(alpha=0.3)"))
    assert layer.negative_slope == pytest.approx(0.3)


def test_cudnn_names_become_modern_layers(capsys):
    assert type(make_layer(parse_layer("CuDNNLSTM(4)"))).__name__ == "LSTM"
    assert "LSTM in Keras 3" in capsys.readouterr().err


@pytest.mark.parametrize("spec, message", [
    ("Dense(16, activaton='elu')", "takes no argument 'activaton' (did you mean activation?)"),
    ("Dens(16)", "unknown layer 'Dens' (did you mean Dense?)"),
    ("LocallyConnected1D(4, 3)", "Keras 3 has no LocallyConnected1D; use Conv1D"),
    ("ThresholdedReLU(1.0)", "ReLU(threshold=...)"),
    ("Lambda(1)", "Lambda layers hold Python code"),
    ("Dense(16, kernel_constraint=MaxNrom(3))", "'MaxNrom' is not a Keras layer, initializer, regularizer or constraint (did you mean MaxNorm?)"),
    ("Dense(16, activation='elux')", "layer \"Dense(16, activation='elux')\""),
])
def test_layer_errors_name_the_problem(spec, message):
    with pytest.raises(UsageError) as err:
        make_layer(parse_layer(spec))
    assert message in str(err.value)


def test_shape_error_names_the_layer():
    with pytest.raises(UsageError, match=r"layer 'Conv2D\(2, 3\)' does not fit the previous output"):
        build_sequential((10,), layers("Conv2D(2, 3)"))


def test_functional_graph_two_inputs_two_branches_merge():
    spec = {
        "name": "two_views",
        "inputs": [{"name": "genes", "shape": [6]}, {"name": "clinical", "shape": [2]}],
        "layers": [
            {"name": "g", "layer": 'Dense(4, activation="relu")', "inputs": ["genes"]},
            {"name": "c", "layer": "Dense(2)", "inputs": "clinical"},
            {"name": "merged", "layer": "Concatenate()", "inputs": ["g", "c"]},
            {"name": "out_a", "layer": 'Dense(1, activation="sigmoid")', "inputs": ["merged"]},
            {"name": "out_b", "layer": "Dense(1)", "inputs": [-2]},
        ],
        "outputs": ["out_a", "out_b"],
    }
    model = build_functional(spec, "spec")
    assert [t.name for t in model.inputs] == ["genes", "clinical"]
    assert len(model.outputs) == 2 and model.name == "two_views"
    assert model_from_config(parse_config(to_json(model), "x"), "x").count_params() == model.count_params()


def test_functional_wiring_errors():
    spec = {"inputs": [{"name": "x", "shape": [3]}], "layers": [{"layer": "Dense(2)", "inputs": ["y"]}]}
    with pytest.raises(UsageError, match="wires 'y', which is not defined above"):
        build_functional(spec, "spec")
    with pytest.raises(UsageError, match="unknown key 'layer' \\(did you mean layers\\?\\)"):
        build_functional({"inputs": [], "layer": []}, "spec")


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON"),
    ('{"a": 1}', "JSON but not a Keras model architecture"),
    ('{"class_name": "Sequential", "config": {"layers": [{"module": "os", "class_name": "system", "config": {}}]}, "module": "keras"}',
     "names module 'os'"),
    ('{"class_name": "Sequential", "module": "keras", "config": {"layers": [{"module": "keras.layers", "class_name": "Lambda", "config": {}}]}}',
     "is a Lambda layer"),
    ('{"class_name": "Sequential", "module": "keras", "config": {"layers": [{"module": "keras.layers", "class_name": "Nope", "config": {}}]}}',
     "cannot build the model"),
])
def test_bad_architecture_files(tmp_path, text, message):
    path = tmp_path / "arch.json"
    path.write_text(text)
    with pytest.raises(ModelError, match=message) as err:
        model_from_config(load_json_file(str(path)), str(path))
    assert str(path) in str(err.value)


def test_truncated_architecture_file(tmp_path):
    model = build_sequential((4,), layers("Dense(2)"))
    path = tmp_path / "arch.json"
    path.write_text(to_json(model)[:200])
    with pytest.raises(ModelError, match="not valid JSON"):
        load_json_file(str(path))


def test_keras2_sequential_is_converted(capsys):
    model = model_from_config(load_json_file(str(DATA / "keras2_sequential.json")), "k2")
    assert [layer.name for layer in model.layers] == ["dense_1", "dropout_1", "dense_2"]
    assert tuple(model.inputs[0].shape) == (None, 17)
    assert model.layers[0].kernel_regularizer.l2 == pytest.approx(0.01)
    assert "converted a Keras 2.3.1 architecture" in capsys.readouterr().err


def test_keras2_functional_is_converted():
    model = model_from_config(load_json_file(str(DATA / "keras2_functional.json")), "k2")
    assert [t.shape[-1] for t in model.inputs] == [4, 3]
    assert model.count_params() == 4 * 8 + 8 + 3 * 8 + 8 + 16 + 1


def test_keras2_argument_that_changes_meaning_is_an_error(capsys):
    with pytest.raises(ModelError, match="time_major=True has no Keras 3 equivalent"):
        load_json_file(str(DATA / "keras2_lstm_time_major.json"))
    assert "implementation" not in capsys.readouterr().err  # Keras 3's LSTM still takes it: kept, as Keras would


def test_keras2_arguments_keras3_drops_are_dropped_with_its_warning(tmp_path, capsys):
    doc = json.loads((DATA / "keras2_sequential.json").read_text())
    doc["config"]["layers"].insert(0, {"class_name": "Embedding", "config": {
        "name": "embedding", "input_dim": 50, "output_dim": 4, "input_length": 17, "batch_input_shape": [None, 17]}})
    doc["config"]["layers"][1]["config"].pop("batch_input_shape", None)
    path = tmp_path / "k2.json"
    path.write_text(json.dumps(doc))
    config = load_json_file(str(path))
    assert "input_length" not in json.dumps(config)
    assert "layer embedding: dropped input_length=17 (Keras 3: Argument `input_length` is deprecated" in capsys.readouterr().err


def test_keras2_arguments_in_a_layer_spec_are_dropped_with_keras_own_warning(capsys):
    """GTN's older RNN tutorial writes Embedding(..., input_length=500): Keras 3 infers it, so it is left out."""
    model = build_sequential((500,), [parse_layer("Embedding(10000, 32, input_length=500)"), parse_layer("Flatten()")])
    assert "input_length" not in to_json(model)
    err = capsys.readouterr().err
    assert "input_length is a Keras 2 argument that Keras 3 drops (Argument `input_length` is deprecated" in err
    with pytest.raises(UsageError, match="takes no argument 'input_lenght' \\(did you mean"):
        build_sequential((5,), [parse_layer("Dense(3, input_lenght=2)")])


def test_architecture_json_mutation_fuzz_never_crashes():
    """Character-level mutants of a real architecture: each builds or fails with a GalaxyDLError."""
    import random

    from galaxy_dl.errors import GalaxyDLError

    text = to_json(build_sequential((6,), layers('Dense(4, activation="relu")', "Dropout(0.2)", "Dense(1)")))
    rng = random.Random(7)
    alphabet = '{}[]":,0123456789.-abcdefghijklmnopqrstuvwxyzLD_ \n'
    built = refused = 0
    for _ in range(400):
        chars = list(text)
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(chars))
            op = rng.random()
            if op < 0.5:
                chars[pos] = rng.choice(alphabet)
            elif op < 0.8:
                del chars[pos:pos + rng.randint(1, 12)]
            else:
                chars.insert(pos, rng.choice(alphabet))
        try:
            model_from_config(parse_config("".join(chars), "mutant"), "mutant")
            built += 1
        except GalaxyDLError:
            refused += 1
    assert built + refused == 400 and refused > 100 and built > 0


@pytest.mark.parametrize("shape, spec", [
    # core
    ((4,), "Activation('relu')"), ((4,), "RepeatVector(3)"), ((4,), "ActivityRegularization(l2=0.1)"),
    ((3, 4), "Masking(mask_value=0.0)"), ((5, 4), "SpatialDropout1D(0.2)"), ((5, 5, 5, 2), "SpatialDropout3D(0.2)"),
    # convolution, cropping, up-sampling, padding, pooling in 1D/2D/3D
    ((8, 2), "Conv1D(2, 3)"), ((8, 2), "SeparableConv1D(2, 3)"), ((8, 2), "DepthwiseConv1D(3)"), ((8, 2), "Conv1DTranspose(2, 3)"),
    ((6, 6, 6, 1), "Conv3D(2, 3)"), ((6, 6, 6, 1), "Conv3DTranspose(2, 3)"), ((8, 2), "Cropping1D(1)"), ((6, 6, 6, 1), "Cropping3D(1)"),
    ((8, 2), "UpSampling1D(2)"), ((4, 4, 4, 1), "UpSampling3D(2)"), ((8, 2), "ZeroPadding1D(1)"), ((4, 4, 4, 1), "ZeroPadding3D(1)"),
    ((8, 2), "MaxPooling1D(2)"), ((4, 4, 4, 1), "AveragePooling3D(2)"), ((8, 2), "GlobalAveragePooling1D()"), ((4, 4, 4, 1), "GlobalMaxPooling3D()"),
    # recurrent, cells and wrappers
    ((5, 2), "RNN(LSTMCell(4))"), ((5, 2), "RNN(GRUCell(3))"), ((5, 2), "RNN(SimpleRNNCell(3))"),
    ((5, 2), "Bidirectional(LSTM(4))"), ((5, 2), "TimeDistributed(Dense(3))"), ((3, 6, 6, 1), "ConvLSTM2D(2, 3)"),
    ((3, 6, 1), "ConvLSTM1D(2, 3)"),
    # embedding, normalization, noise, advanced activations
    ((5,), "Embedding(100, 8)"), ((4,), "LayerNormalization()"), ((4,), "UnitNormalization()"), ((4,), "GaussianDropout(0.1)"),
    ((4,), "AlphaDropout(0.1)"), ((4,), "ReLU(threshold=0.5)"), ((4,), "Softmax()"), ((4,), "ELU(alpha=0.5)"),
])
def test_every_layer_family_galaxy_ml_offers(shape, spec):
    assert build_sequential(shape, layers(spec)).layers


@pytest.mark.parametrize("merge", ["Add()", "Subtract()", "Multiply()", "Average()", "Maximum()", "Minimum()", "Concatenate()", "Dot(axes=1)"])
def test_merge_layers_in_a_graph(merge):
    spec = {"inputs": [{"name": "a", "shape": [3]}, {"name": "b", "shape": [3]}],
            "layers": [{"name": "m", "layer": merge, "inputs": ["a", "b"]}, {"layer": "Dense(1)"}]}
    assert build_functional(spec, "spec").count_params() > 0


def test_lambda_cannot_hide_inside_a_wrapper():
    with pytest.raises(UsageError, match="Lambda layers hold Python code"):
        make_layer(parse_layer("TimeDistributed(Lambda(1))"))
