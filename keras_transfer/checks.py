"""Argument checks shared by the package's builders and transforms (internal).

Each check raises ``ValueError`` with one line naming what was expected and
what was received, before anything is built or trained. Not public API: the
public functions call these on their own arguments.
"""

import numpy as np


def check_image_classifier(input_shape, num_classes):
    """``input_shape`` is ``(height, width, channels)`` and ``num_classes`` an integer >= 2.

    Example:
    >>> check_image_classifier((32, 32, 3), 10)
    >>> check_image_classifier((32, 32), 10)
    Traceback (most recent call last):
    ...
    ValueError: Expected input_shape (height, width, channels), received (32, 32).
    """
    if len(tuple(input_shape)) != 3:
        raise ValueError(f"Expected input_shape (height, width, channels), received "
                         f"{input_shape!r}.")
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) \
            or num_classes < 2:
        raise ValueError(f"Expected num_classes to be an integer >= 2, received "
                         f"{num_classes!r}.")


def check_choice(value, choices, name):
    """``value`` is one of ``choices``.

    Example:
    >>> check_choice("exact", ("exact", "paper"), "mode")
    >>> check_choice("fast", ("exact", "paper"), "mode")
    Traceback (most recent call last):
    ...
    ValueError: Expected mode in ('exact', 'paper'), received 'fast'.
    """
    if value not in choices:
        raise ValueError(f"Expected {name} in {choices}, received {value!r}.")


def check_factor(factor, minimum=2):
    """An integer (not a bool) ``>= minimum``, returned as ``int``.

    Example:
    >>> check_factor(2)
    2
    >>> check_factor(1.5)
    Traceback (most recent call last):
    ...
    ValueError: Expected an integer factor >= 2, received 1.5.
    """
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < minimum:
        raise ValueError(f"Expected an integer factor >= {minimum}, received {factor!r}.")
    return int(factor)
