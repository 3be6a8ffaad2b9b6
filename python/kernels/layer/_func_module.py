"""Functions as layers.

`use_kernel_forward_from_hub` on a function turns it into a module: an
instance of a new `nn.Module` subclass ("Func") whose forward calls the
function, so kernelize can swap that forward like any layer's. A model class
decorated with `use_kernelized_func(fn)` gives each of its instances a
private copy of the Func module (in `instance._kernel_funcs`, not a
submodule); while such an instance runs its forward, calls of the global
function are routed to the instance's copy. Kernelizing one model therefore
never changes what another model's calls of the same function do.
"""
from __future__ import annotations

import copy
import functools
import importlib
import inspect
from contextvars import ContextVar
from types import MethodType
from typing import Callable


def _is_compiling() -> bool:
    import torch

    compiler = getattr(torch, "compiler", None)
    return compiler is not None and compiler.is_compiling()


_PLAIN = object()


class _CompileSafeContextVar:
    """A ContextVar that torch.compile can trace.

    Older dynamo versions cannot trace ContextVar, so while compiling the
    value lives in a plain attribute; scopes opened there stay on it until
    they are reset, restoring exactly the state before them."""

    def __init__(self, name: str):
        self._var: ContextVar = ContextVar(name, default=None)
        self._plain = None
        self._plain_active = False

    def get(self):
        if self._plain_active or _is_compiling():
            return self._plain
        return self._var.get()

    def set(self, value):
        if self._plain_active or _is_compiling():
            token = (_PLAIN, self._plain, self._plain_active)
            self._plain, self._plain_active = value, True
            return token
        return self._var.set(value)

    def reset(self, token) -> None:
        if isinstance(token, tuple) and token and token[0] is _PLAIN:
            _, self._plain, self._plain_active = token
        else:
            self._var.reset(token)


# id(global Func instance) -> (the running model's private copy, the forward
# function that copy uses), for the model forward currently running.
_ACTIVE_KERNEL_FUNCS = _CompileSafeContextVar("_ACTIVE_KERNEL_FUNCS")


def _func_key(fn) -> str:
    """The `_kernel_funcs` key of a decorated function."""
    return getattr(fn, "__name__", None) or fn.kernel_layer_name


def _rebuild_kernel_func(module_name: str, func_name: str):
    """Unpickling a private copy: a new instance of the global function's
    Func class (its state is restored afterwards)."""
    module = importlib.import_module(module_name)
    return type(getattr(module, func_name))()


def create_func_module(func: Callable):
    """A new "Func" `nn.Module` subclass whose forward calls `func`.

    Its flags come from `func` (`can_torch_compile`, default False;
    `has_backward`, default True), and `forward` reports `func`'s signature
    with `self` in front so layer validation can compare it."""
    from torch import nn

    class Func(nn.Module):
        can_torch_compile = getattr(func, "can_torch_compile", False)
        has_backward = getattr(func, "has_backward", True)

        def forward(self, *args, **kwargs):
            active = _ACTIVE_KERNEL_FUNCS.get()
            if active is not None:
                routed = active.get(id(self))
                if routed is not None:
                    private, forward_function = routed
                    if not _is_compiling():
                        return private(*args, **kwargs)
                    # Compiled: call the chosen forward directly, so graphs
                    # depend on the implementation, not on which copy runs.
                    if forward_function is not type(self).forward:
                        return forward_function(self, *args, **kwargs)
            return func(*args, **kwargs)

        def __copy__(self):
            result = type(self)()
            result.__dict__.update(self.__dict__)
            _rebind_forward(self, result)
            return result

        def __deepcopy__(self, memo):
            result = type(self)()
            memo[id(self)] = result
            result.__dict__.update(copy.deepcopy(self.__dict__, memo))
            return result

        def __reduce__(self):
            module = importlib.import_module(func.__module__)
            if getattr(module, func.__name__, None) is self:
                # The global instance: pickled by name.
                return func.__name__
            state = self.__dict__.copy()
            forward_function = None
            bound = state.get("forward")
            if isinstance(bound, MethodType) and bound.__self__ is self:
                forward_function = bound.__func__
                del state["forward"]
            return (_rebuild_kernel_func, (func.__module__, func.__name__), (state, forward_function))

        def __setstate__(self, state):
            state, forward_function = state
            self.__dict__.update(state)
            if forward_function is not None:
                self.forward = MethodType(forward_function, self)

    signature = inspect.signature(func)
    Func.forward.__signature__ = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *signature.parameters.values()],
        return_annotation=signature.return_annotation,
    )
    # Pickle finds the global instance through the function's module.
    Func.__module__ = func.__module__
    return Func


def _rebind_forward(source, target) -> None:
    bound = source.__dict__.get("forward")
    if isinstance(bound, MethodType) and bound.__self__ is source:
        target.forward = MethodType(bound.__func__, target)


def use_kernelized_func(*funcs: Callable):
    """Class decorator attaching functions decorated with
    `use_kernel_forward_from_hub` to every instance of a module class, as
    private copies kernelize can replace (`instance._kernel_funcs`)."""

    def decorator(cls):
        for fn in funcs:
            if not hasattr(fn, "kernel_layer_name"):
                raise ValueError(
                    f"Function `{getattr(fn, '__name__', fn)}` is not decorated with @use_kernel_forward_from_hub "
                    "and cannot be used with @use_kernelized_func"
                )
        keys = [_func_key(fn) for fn in funcs]
        original_init = cls.__init__
        original_forward = cls.forward

        @functools.wraps(original_init)
        def __init__(self, *args, **kwargs):
            original_init(self, *args, **kwargs)
            # Not a submodule: stored past nn.Module's attribute handling.
            private = self.__dict__.setdefault("_kernel_funcs", {})
            for key, fn in zip(keys, funcs):
                private[key] = type(fn)()

        @functools.wraps(original_forward)
        def forward(self, *args, **kwargs):
            active = dict(_ACTIVE_KERNEL_FUNCS.get() or {})
            for key, fn in zip(keys, funcs):
                private = self._kernel_funcs[key]
                active[id(fn)] = (private, private.forward.__func__)
            token = _ACTIVE_KERNEL_FUNCS.set(active)
            try:
                return original_forward(self, *args, **kwargs)
            finally:
                _ACTIVE_KERNEL_FUNCS.reset(token)

        cls.__init__ = __init__
        cls.forward = forward
        return cls

    return decorator
