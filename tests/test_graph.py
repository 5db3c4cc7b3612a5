"""keras_transfer.graph, the one module on Keras' Functional internals: its behaviour pinned.

A Keras release that changes how Functional models store their graph fails
here first (and `graph._internal` names the missing attribute).
"""

import keras
import numpy as np
import pytest

from keras_transfer import graph

L = keras.layers


def residual():
    i = keras.Input((8, 8, 3), name="image")
    x = L.Conv2D(4, 3, padding="same", activation="relu", name="c1")(i)
    y = L.Conv2D(4, 3, padding="same", name="c2")(x)
    x = L.Add(name="add")([x, y])
    x = L.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(i, L.Dense(3, name="logits")(x), name="residual")


def two_inputs():
    a, b = keras.Input((4,), name="a"), keras.Input((2,), name="b")
    x = L.Concatenate(name="cat")([L.Dense(3, name="da")(a), b])
    return keras.Model([a, b], [L.Dense(2, name="out1")(x), L.Dense(1, name="out2")(x)])


def nested_applications():
    base = keras.applications.MobileNetV2(
        input_shape=(32, 32, 3), alpha=0.35, include_top=False, weights=None
    )
    i = keras.Input((32, 32, 3))
    x = L.GlobalAveragePooling2D()(base(i, training=False))
    return keras.Model(i, L.Dense(5, name="logits")(x)), base


def close(a, b):
    return all(
        np.abs(np.asarray(x) - np.asarray(y)).max() < 1e-5
        for x, y in zip(keras.tree.flatten(a), keras.tree.flatten(b))
    )


RNG = np.random.default_rng(0)


def test_rebuild_copies_a_residual_graph_exactly():
    model = residual()
    copy = graph.rebuild(model, graph.copy_call)
    x = RNG.random((2, 8, 8, 3)).astype("float32")
    assert copy is not model and [layer.name for layer in copy.layers] == [
        layer.name for layer in model.layers
    ]
    assert close(copy(x), model(x))
    assert all(a is not b for a, b in zip(copy.layers[1:], model.layers[1:]))


def test_rebuild_keeps_every_input_and_output_of_a_multi_input_graph():
    model = two_inputs()
    copy = graph.rebuild(model, graph.copy_call)
    assert [x.name for x in copy.inputs] == ["a", "b"] and len(copy.outputs) == 2
    xs = [RNG.random((3, 4)).astype("float32"), RNG.random((3, 2)).astype("float32")]
    assert close(copy(xs), model(xs))


def test_rebuild_visits_calls_in_execution_order_with_original_and_new_tensors():
    model, seen = residual(), []

    def visit(call):
        seen.append(
            (
                call.layer.name,
                [tuple(t.shape) for t in call.inputs],
                all(isinstance(a, keras.KerasTensor) for a in keras.tree.flatten(call.args)),
            )
        )
        return graph.copy_call(call)

    graph.rebuild(model, visit)
    assert [s[0] for s in seen] == ["c1", "c2", "add", "gap", "logits"]
    assert seen[2][1] == [(None, 8, 8, 4), (None, 8, 8, 4)] and all(s[2] for s in seen)


def test_walk_stops_inside_a_nested_applications_backbone_and_resumes():
    model, base = nested_applications()
    stop = "block_3_expand_relu"
    x = keras.Input((32, 32, 3))
    walk = graph.walk(model, [x], {stop})
    name, tensor = next(walk)
    assert name == stop and tuple(tensor.shape) == tuple(base.get_layer(stop).output.shape)
    with pytest.raises(StopIteration) as done:
        walk.send(tensor)  # unchanged: the re-run graph is the original function
    rerun = keras.Model(x, done.value.value[0])
    images = RNG.random((2, 32, 32, 3)).astype("float32")
    assert close(rerun(images), model(images))


def test_walk_without_stops_calls_nested_models_whole():
    model, base = nested_applications()
    x = keras.Input((32, 32, 3))
    walk = graph.walk(model, [x], set())
    with pytest.raises(StopIteration) as done:
        next(walk)
    rerun = keras.Model(x, done.value.value[0])
    assert base in rerun.layers  # called as one layer, not re-run layer by layer


def test_as_functional_refusals():
    model, _ = nested_applications()
    with pytest.raises(ValueError, match="without nested models"):
        graph.as_functional(model, "widen")
    assert graph.as_functional(model, "walk", nested=True) is model
    shared = L.Dense(4, name="shared")
    i = keras.Input((4,))
    with pytest.raises(ValueError, match="'shared', which is shared by 2 calls"):
        graph.as_functional(keras.Model(i, shared(shared(i))), "widen")

    class Sub(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="subclassed Sub"):
        graph.as_functional(Sub(), "widen")
    with pytest.raises(ValueError, match="unbuilt"):
        graph.as_functional(keras.Sequential([L.Dense(2)]), "widen")


def test_call_count_and_producer():
    model = residual()
    assert graph.call_count(model.get_layer("add")) == 1
    layer, inputs = graph.producer(model.get_layer("add").output)
    assert layer.name == "add" and [graph.producer(t)[0].name for t in inputs] == ["c1", "c2"]
    assert graph.producer(model.inputs[0]) is None


def test_all_layers_lists_nested_layers_after_their_model():
    model, base = nested_applications()
    names = [layer.name for layer in graph.all_layers(model)]
    k = names.index(base.name)
    assert names[k + 1 : k + 1 + len(base.layers)] == [layer.name for layer in base.layers]


def test_a_missing_internal_is_named():
    with pytest.raises(RuntimeError, match=r"internal object\._nodes_by_depth, which Keras 3"):
        graph._internal(object(), "_nodes_by_depth")


@pytest.mark.parametrize("call", ["transfer_layers", "parameter_report", "auto_pairs"])
def test_a_model_path_instead_of_a_model_is_refused_in_one_line(call):
    import keras_transfer as kt

    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3)])
    args = {
        "transfer_layers": ("model.keras", model),
        "parameter_report": ("model.keras",),
        "auto_pairs": ("model.keras", model),
    }[call]
    with pytest.raises(
        ValueError,
        match="Expected a Keras model to list the layers of, received str; pass the model object",
    ):
        getattr(kt, call)(*args)
