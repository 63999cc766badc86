"""A notebook's parameters, checked at the door.

A notebook calls ``check_parameters(globals())`` in the cell right after its parameters cell.
Each parameter must have the type of its literal default there (an int stays an int, a float
may be given as an int, a list stays a non-empty list of what the default list holds), a data
set name must be one we know (or a path), and a few names take a fixed set of values
(:data:`CHOICES`). The first problem stops the notebook with one line naming the parameter,
what it got and how to pass it: papermill's ``-p`` passes a list as a string, ``-y`` or ``-f``
pass a list.

The defaults are read from the parameters cell as the kernel ran it (IPython's input history:
the last cell of literal assignments before this one that is not papermill's injected
``# Parameters`` cell), so the check needs nothing per notebook.
"""
import ast
import math

from ..activations import ACTIVATIONS
from ..data import DATASETS, looks_like_path
from ..network import ARCHITECTURES
from ..optim import OPTIMIZERS, SCHEDULES

# Parameters that take one of a fixed set of strings, by name, in every notebook.
CHOICES = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES, "arch": ARCHITECTURES,
           "activation": tuple(ACTIVATIONS), "dtype": ("float32", "float64")}

INJECTED_MARK = "# Parameters"


class ParameterError(ValueError):
    """A notebook parameter that cannot be used; the message is one line."""

    def _render_traceback_(self):
        # IPython shows this instead of a traceback: the one line is the whole story.
        return [f"ParameterError: {self}"]


def literal_defaults(source):
    """``{name: value}`` of a cell made only of ``name = literal`` lines, else None."""
    try:
        tree = ast.parse(source or "")
    except SyntaxError:
        return None
    defaults = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            return None
        try:
            defaults[node.targets[0].id] = ast.literal_eval(node.value)
        except ValueError:
            return None
    return defaults or None


def parameters_cell_defaults(shell=None):
    """The defaults of the parameters cell the kernel ran last before the current cell."""
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    if shell is None:
        raise ParameterError("check_parameters reads the parameters cell from the notebook's "
                             "kernel; outside one, pass defaults=")
    inputs = list(shell.history_manager.input_hist_raw)
    for source in reversed(inputs[:-1]):
        if source.lstrip().startswith(INJECTED_MARK):
            continue
        defaults = literal_defaults(source)
        if defaults:
            return defaults
    raise ParameterError("no parameters cell ran before check_parameters: run the cell tagged "
                         "parameters first")


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _kind(default):
    """What a default's type asks for, in words."""
    if isinstance(default, bool):
        return "True or False"
    if isinstance(default, int):
        return "an integer"
    if isinstance(default, float):
        return "a finite number"
    if isinstance(default, str):
        return "a data set name" if _is_dataset(default) else "a string"
    if isinstance(default, dict):
        return "a mapping"
    if isinstance(default, (list, tuple)):
        element = _element(default)
        return "a non-empty list" + (f" of {_plural(_kind(element))}" if element is not None
                                     else "")
    return type(default).__name__


def _plural(kind):
    words = {"an integer": "integers", "a finite number": "finite numbers",
             "a data set name": "data set names", "a string": "strings",
             "True or False": "booleans", "a mapping": "mappings"}
    return words.get(kind, kind.replace("a non-empty list", "non-empty lists", 1))


def _element(default):
    """A prototype of the default list's elements (a float when numbers mix), or None."""
    if not default:
        return None
    if all(_is_number(v) for v in default):
        return next((v for v in default if isinstance(v, float)), default[0])
    kinds = {type(v) for v in default}
    return default[0] if len(kinds) == 1 else None


def _is_dataset(text):
    return isinstance(text, str) and text.lower() in DATASETS


def _problem(value, default, name):
    """Why ``value`` does not fit ``default`` (None when it does)."""
    if default is None:
        return None
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "wrong type"
    if isinstance(default, int):
        return None if isinstance(value, int) and not isinstance(value, bool) else "wrong type"
    if isinstance(default, float):
        if not _is_number(value):
            return "wrong type"
        return None if math.isfinite(value) else "not finite"
    if isinstance(default, str):
        if not isinstance(value, str):
            return "wrong type"
        if _is_dataset(default) and not (_is_dataset(value) or looks_like_path(value)):
            return "unknown data set"
        if name in CHOICES and value not in CHOICES[name]:
            return "not a choice"
        return None
    if isinstance(default, dict):
        return None if isinstance(value, dict) else "wrong type"
    if isinstance(default, (list, tuple)):
        if not isinstance(value, (list, tuple)):
            return "wrong type"
        if not value:
            return "empty"
        element = _element(default)
        if element is None:
            return None
        for item in value:
            why = _problem(item, element, name)
            if why:
                return f"element {item!r}: {why}"
        return None
    return None


def _yaml(value):
    """``value`` as papermill's -y would want it written, for a hint."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, str):
        return value
    return repr(value)


def _how(name, default):
    if isinstance(default, (list, tuple, dict)):
        return (f"papermill's -p passes a string: pass a list with -y '{name}: {_yaml(default)}' "
                "or -f params.yaml")
    return f"pass it with papermill's -p {name} VALUE"


def check_value(name, value, default):
    """The one-line message on why parameter ``name`` cannot be ``value``, None when it can."""
    why = _problem(value, default, name)
    if why is None:
        return None
    got = (f"the string {value!r}" if isinstance(value, str) and not isinstance(default, str)
           else f"{value!r}")
    if why == "empty":
        got = "an empty list"
    expected = _kind(default)
    if why == "unknown data set" or "unknown data set" in why:
        expected = (("a list of data set names" if isinstance(default, list) else
                     "a data set name") + f" among {', '.join(DATASETS)}, or a .mat file's path")
    elif "not a choice" in why:
        expected = f"one of {', '.join(CHOICES[name])}"
    if why.startswith("element "):
        got += f" ({why.split(':')[0]} does not fit)"
    return f"{name}: got {got}, expected {expected} (default {default!r}); {_how(name, default)}"


def check_parameters(namespace, defaults=None):
    """Check the notebook's parameters in ``namespace`` (its ``globals()``) against the literal
    defaults of its parameters cell (read from the kernel's history when not given, as a dict
    or a cell's source); raise :class:`ParameterError` on the first that does not fit."""
    if defaults is None:
        defaults = parameters_cell_defaults()
    elif isinstance(defaults, str):
        defaults = literal_defaults(defaults) or {}
    for name, default in defaults.items():
        message = check_value(name, namespace.get(name, default), default)
        if message:
            raise ParameterError(message)
    return {name: namespace.get(name, default) for name, default in defaults.items()}
