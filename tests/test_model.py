"""Lesson 03's reference: the network's structure."""

from mnist_lessons.backend import import_keras
from mnist_lessons.model import NUM_PARAMETERS, build_model

keras = import_keras()


def test_build_model_layers():
    """Is it 784 inputs, Dense(512, relu), then Dense(10, softmax)?"""
    model = build_model()
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert len(dense) == len(model.layers) == 2
    assert [layer.units for layer in dense] == [512, 10]
    assert [layer.activation.__name__ for layer in dense] == ["relu", "softmax"]
    assert tuple(model.input_shape) == (None, 784)
    assert tuple(model.output_shape) == (None, 10)


def test_build_model_parameter_count():
    """Are there 784*512+512 + 512*10+10 = 407,050 parameters?"""
    assert build_model().count_params() == NUM_PARAMETERS == 407_050


def test_build_model_is_uncompiled_and_fresh():
    """Is the model uncompiled, and does each call build new weights?"""
    first, second = build_model(), build_model()
    assert not first.compiled
    assert first.layers[0].kernel is not second.layers[0].kernel
