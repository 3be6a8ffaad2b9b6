"""Prints the public API of one built kernel variant as symbols.json (schema 1).

Usage: python symbols.py VARIANT_DIR MODULE_NAME

The variant directory is imported as package MODULE_NAME with the torch of the
running interpreter. Functions are the package's public callables (its
__all__ when it has one); layers are the torch.nn.Module classes of its
`layers` submodule, with their has_backward / can_torch_compile attributes
(null when a layer does not say). Exit 3: the variant cannot be imported here.
"""
import importlib
import importlib.util
import inspect
import json
import sys
import traceback

LAYER_ATTRIBUTES = ("has_backward", "can_torch_compile")


def annotation_text(annotation):
    if annotation is inspect.Parameter.empty:
        return None
    if isinstance(annotation, str):
        return annotation
    return inspect.formatannotation(annotation)


def signature_of(obj):
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    return {
        "parameters": [
            {
                "name": p.name,
                "kind": p.kind.name,
                "default": None if p.default is inspect.Parameter.empty else repr(p.default),
                "annotation": annotation_text(p.annotation),
            }
            for p in signature.parameters.values()
        ],
        "return_annotation": annotation_text(signature.return_annotation),
    }


def describe(name, obj, kind):
    return {
        "name": name,
        "qualname": getattr(obj, "__qualname__", name),
        "module": getattr(obj, "__module__", None),
        "kind": kind,
        "doc": inspect.getdoc(obj),
        "signature": signature_of(obj) if kind == "function" else None,
    }


def public_names(module):
    exported = getattr(module, "__all__", None)
    if exported is not None:
        return [str(name) for name in exported], True
    return sorted(name for name in vars(module) if not name.startswith("_")), False


def is_public_module(module_name, package):
    # A function defined in a private submodule (`pkg._ops`) is not the
    # package's API unless __all__ says so.
    if module_name is None or not (module_name == package or module_name.startswith(package + ".")):
        return False
    return not any(part.startswith("_") for part in module_name[len(package) :].split(".") if part)


def functions_of(module, package):
    names, explicit = public_names(module)
    functions = []
    for name in names:
        obj = getattr(module, name, None)
        if inspect.isclass(obj) or inspect.ismodule(obj) or not callable(obj):
            continue
        if not (inspect.isroutine(obj) or hasattr(obj, "__wrapped__")):
            continue
        if not explicit and not is_public_module(getattr(obj, "__module__", None), package):
            continue
        functions.append(describe(name, obj, "function"))
    return functions


def layers_of(module, package):
    # Kernels without layers (tvm-ffi ones among them) need no torch here.
    try:
        layers = importlib.import_module(package + ".layers")
    except ModuleNotFoundError as e:
        if e.name != package + ".layers":
            raise
        return []
    import torch
    names, explicit = public_names(layers)
    found = []
    for name in names:
        obj = getattr(layers, name, None)
        if not (inspect.isclass(obj) and issubclass(obj, torch.nn.Module)):
            continue
        if not explicit and not is_public_module(obj.__module__, package):
            continue
        entry = describe(name, obj, "class")
        entry["attributes"] = {
            attribute: value if isinstance(value := getattr(obj, attribute, None), bool) else None
            for attribute in LAYER_ATTRIBUTES
        }
        found.append(entry)
    return found


def main():
    variant_dir, package = sys.argv[1], sys.argv[2]
    try:
        spec = importlib.util.spec_from_file_location(
            package, f"{variant_dir}/__init__.py", submodule_search_locations=[variant_dir]
        )
        if spec is None or spec.loader is None:
            raise ImportError(f"no Python package at {variant_dir}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[package] = module
        spec.loader.exec_module(module)
        symbols = {
            "schema_version": 1,
            "module": package,
            "functions": functions_of(module, package),
            "layers": layers_of(module, package),
        }
    except Exception:  # noqa: BLE001 - any failure to import means: no symbols here
        lines = traceback.format_exc().strip().splitlines()
        print(lines[-1] if lines else "import failed", file=sys.stderr)
        sys.exit(3)
    print(json.dumps(symbols, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
