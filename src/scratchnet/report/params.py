"""A notebook's parameters, checked at the door by ``check_parameters(globals())``.

Each must have its literal default's type (a float may be an int; a list, a non-empty list of
what the default holds), be a known data set (or a path) or one of its :data:`CHOICES`."""
import ast
import math

from ..activations import ACTIVATIONS
from ..data import DATASETS, looks_like_path
from ..network import ARCHITECTURES
from ..optim import OPTIMIZERS, SCHEDULES

# Parameters that take one of a fixed set of strings, by name, in every notebook.
CHOICES = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES, "arch": ARCHITECTURES,
           "activation": tuple(ACTIVATIONS), "dtype": ("float32", "float64")}
# What a default's type asks for, in words: (one, several); bool before int, its parent type.
KINDS = ((bool, "True or False", "booleans"), (int, "an integer", "integers"),
         (float, "a finite number", "finite numbers"), (str, "a string", "strings"),
         (dict, "a mapping", "mappings"))


class ParameterError(ValueError):
    """A notebook parameter that cannot be used; IPython shows its one line, not a traceback."""

    def _render_traceback_(self):
        return [f"ParameterError: {self}"]


def literal_defaults(source):
    """``{name: value}`` of a cell made only of ``name = literal`` lines, else None."""
    try:
        body = ast.parse(source or "").body
        if not all(isinstance(node, ast.Assign) and len(node.targets) == 1
                   and isinstance(node.targets[0], ast.Name) for node in body):
            return None
        return {node.targets[0].id: ast.literal_eval(node.value) for node in body} or None
    except (SyntaxError, ValueError):
        return None


def parameters_cell_defaults(shell=None):
    """The defaults of the last cell of literal assignments the kernel ran before this one."""
    from IPython import get_ipython

    shell = get_ipython() if shell is None else shell
    if shell is None:
        raise ParameterError("check_parameters reads the parameters cell from the notebook's "
                             "kernel; outside one, pass defaults=")
    for source in reversed(list(shell.history_manager.input_hist_raw)[:-1]):
        # papermill's injected cell, "# Parameters" first, holds the values, not the defaults.
        if not source.lstrip().startswith("# Parameters") and (found := literal_defaults(source)):
            return found
    raise ParameterError("no parameters cell ran before check_parameters: run the cell tagged "
                         "parameters first")


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _element(default):
    """A prototype of the default list's elements (a float when numbers mix), or None."""
    if default and all(_is_number(v) for v in default):
        return next((v for v in default if isinstance(v, float)), default[0])
    return default[0] if len({type(v) for v in default}) == 1 else None


def _kind(default):
    """What a default's type asks for, in words: (for one value, for the elements of a list)."""
    if isinstance(default, (list, tuple)):
        element = _element(default)
        of = f" of {_kind(element)[1]}" if element is not None else ""
        return "a non-empty list" + of, "non-empty lists" + of
    if isinstance(default, str) and default.lower() in DATASETS:
        return "a data set name", "data set names"
    words = [(one, several) for kind, one, several in KINDS if isinstance(default, kind)]
    return words[0] if words else (type(default).__name__,) * 2


def _problem(value, default, name):
    """Why ``value`` does not fit ``default``: None when it does (any value fits None)."""
    if isinstance(default, (bool, dict)):
        return None if isinstance(value, type(default)) else "wrong type"
    if isinstance(default, (int, float)):
        if not _is_number(value) or (isinstance(default, int) and isinstance(value, float)):
            return "wrong type"
        return "not finite" if isinstance(default, float) and not math.isfinite(value) else None
    if isinstance(default, str):
        if not isinstance(value, str):
            return "wrong type"
        known = value.lower() in DATASETS or looks_like_path(value)
        if default.lower() in DATASETS and not known:
            return "unknown data set"
        return "not a choice" if name in CHOICES and value not in CHOICES[name] else None
    if isinstance(default, (list, tuple)):
        if not isinstance(value, (list, tuple)):
            return "wrong type"
        if not value:
            return "empty"
        element = _element(default)
        for item in value:
            if why := _problem(item, element, name):
                return f"element {item!r}: {why}"
    return None


def _yaml(value):
    """``value`` as papermill's -y would want it written, for a hint."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    return value if isinstance(value, str) else repr(value)


def check_value(name, value, default):
    """The one-line message on why parameter ``name`` cannot be ``value``, None when it can."""
    why = _problem(value, default, name)
    if why is None:
        return None
    got = "an empty list" if why == "empty" else repr(value)
    if isinstance(value, str) and not isinstance(default, str):
        got = f"the string {got}"
    if why.startswith("element "):
        got += f" ({why.split(':')[0]} does not fit)"
    expected = _kind(default)[0]
    if "unknown data set" in why:
        expected = (("a list of data set names" if isinstance(default, list) else
                     "a data set name") + f" among {', '.join(DATASETS)}, or a .mat file's path")
    elif "not a choice" in why:
        expected = f"one of {', '.join(CHOICES[name])}"
    how = f"pass it with papermill's -p {name} VALUE"
    if isinstance(default, (list, tuple, dict)):
        how = (f"papermill's -p passes a string: pass a list with -y '{name}: {_yaml(default)}' "
               "or -f params.yaml")
    return f"{name}: got {got}, expected {expected} (default {default!r}); {how}"


def check_parameters(namespace, defaults=None):
    """Check the parameters in ``namespace`` (a notebook's ``globals()``) against ``defaults`` (a
    dict or a cell's source; the parameters cell's when None); raise on the first misfit."""
    if defaults is None:
        defaults = parameters_cell_defaults()
    elif isinstance(defaults, str):
        defaults = literal_defaults(defaults) or {}
    for name, default in defaults.items():
        message = check_value(name, namespace.get(name, default), default)
        if message:
            raise ParameterError(message)
    return {name: namespace.get(name, default) for name, default in defaults.items()}
