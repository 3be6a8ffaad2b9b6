"""Find Torch library registrations whose op name lacks the kernel's namespace.

Usage: python3 ops_lint.py PATH
PATH is a directory (every *.py below it is checked) or a single file.
Prints one JSON object: {"violations": [{"file", "line", "kind", "name"}],
"errors": [{"file", "line", "message"}]}.

A violation is a top-level function, async function or class with a decorator
that is a call of custom_op, triton_op, register_kernel, register_fake,
register_vmap or register_torch_dispatch (bare or as the last attribute),
with at least one positional argument, whose first positional argument is
not a call of add_op_namespace_prefix. Without the prefix the op would be
registered outside the kernel's unique namespace and clash with other
versions of the kernel loaded in the same process.
"""

import ast
import json
import os
import sys

REGISTRATION_DECORATORS = {
    "custom_op",
    "triton_op",
    "register_kernel",
    "register_fake",
    "register_vmap",
    "register_torch_dispatch",
}
PREFIX_FUNCTION = "add_op_namespace_prefix"
DEFINITION_KINDS = (
    (ast.AsyncFunctionDef, "async function"),
    (ast.FunctionDef, "function"),
    (ast.ClassDef, "class"),
)


def called_name(node):
    """Name of the function a call expression calls: `f` or `a.b.f` -> "f"."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def definition_kind(node):
    for node_type, kind in DEFINITION_KINDS:
        if isinstance(node, node_type):
            return kind
    return None


def lacks_prefix(decorator):
    if not isinstance(decorator, ast.Call):
        return False
    if called_name(decorator.func) not in REGISTRATION_DECORATORS:
        return False
    if not decorator.args:
        return False
    first = decorator.args[0]
    return not (isinstance(first, ast.Call) and called_name(first.func) == PREFIX_FUNCTION)


def check_file(path, violations, errors):
    try:
        with open(path, "rb") as f:
            source = f.read()
        tree = ast.parse(source, filename=path)
    except SyntaxError as e:
        errors.append({"file": path, "line": e.lineno or 0, "message": e.msg})
        return
    except (OSError, ValueError) as e:
        errors.append({"file": path, "line": 0, "message": str(e)})
        return
    for node in tree.body:
        kind = definition_kind(node)
        if kind is None:
            continue
        for decorator in node.decorator_list:
            if lacks_prefix(decorator):
                violations.append(
                    {"file": path, "line": decorator.lineno, "kind": kind, "name": node.name}
                )


def python_files(root):
    if os.path.isfile(root):
        yield root
        return
    for directory, subdirs, files in os.walk(root):
        subdirs.sort()
        for name in sorted(files):
            if name.endswith(".py"):
                yield os.path.join(directory, name)


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: ops_lint.py PATH\n")
        return 2
    violations = []
    errors = []
    for path in python_files(sys.argv[1]):
        check_file(path, violations, errors)
    json.dump({"violations": violations, "errors": errors}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
