"""build-arch: a Keras model architecture (JSON) from layer specs or a graph spec file."""

import click

from galaxy_dl.cli.common import backend_option, load_keras, max_params_option, program, setup_runtime, threads_option


@program(
    "build-arch",
    help="""Build a Keras model architecture and write it as Keras JSON.

\b
Sequential stacks from flags:
  build-arch --input-shape 7129 --layer 'Dense(16, activation="elu")' \\
             --layer 'Dense(1, activation="sigmoid")' -o arch.json
Graphs (several inputs, merges, named layers) from a YAML or JSON spec:
  build-arch --spec graph.yml -o arch.json

A layer spec is a call of any keras.layers class with literal arguments; initializers,
regularizers and constraints may be called inside it, e.g.
'Dense(16, kernel_regularizer=L2(0.01), kernel_constraint=MaxNorm(3))'.""",
)
@click.option(
    "--input-shape", metavar="SHAPE", help="Shape of one input row: 7129, 7129, or (7129,); 28,28,1 for images."
)
@click.option("--layer", "layers", multiple=True, metavar="SPEC", help="A layer, in order; repeat for each layer.")
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(dir_okay=False),
    help="YAML/JSON graph spec instead of --input-shape/--layer.",
)
@click.option("--name", default=None, help="Model name.")
@click.option("-o", "--output", required=True, metavar="PATH", help="Architecture JSON to write ('-' for stdout).")
@click.option("--quiet", is_flag=True, help="Do not print the model summary to stderr.")
@max_params_option
@backend_option
@threads_option
def main(input_shape, layers, spec_path, name, output, quiet, threads, backend):
    setup_runtime(threads, backend)
    from galaxy_dl.data.fileio import check_writable, write_text
    from galaxy_dl.model.layerspec import parse_layer, parse_shape

    if spec_path and (input_shape or layers):
        raise click.UsageError("give either --spec or --input-shape with --layer, not both")
    if not spec_path and not (input_shape and layers):
        raise click.UsageError("give --input-shape and at least one --layer (or --spec)")
    check_writable(output, "-o/--output")
    calls = [parse_layer(spec) for spec in layers]  # syntax errors before the slow Keras import
    shape = parse_shape(input_shape) if input_shape else ()
    if spec_path:
        from galaxy_dl.model.specfile import load_spec

        spec = load_spec(spec_path, "--spec")  # a bad spec is refused before the slow Keras import
        if name:
            spec["name"] = name
    load_keras()
    from galaxy_dl.model.architecture import build_functional, build_sequential, summary, to_json

    model = build_functional(spec, f"--spec {spec_path}") if spec_path else build_sequential(shape, calls, name=name)
    if not quiet:
        click.echo(summary(model), err=True)
    write_text(output, to_json(model))
