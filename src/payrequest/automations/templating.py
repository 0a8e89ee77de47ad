"""Message templates: a sandboxed Jinja2 environment, strict about unknown variables, with a
bounded amount of work per render.

The only module of `automations` that imports jinja2 (see the import-linter contract in
pyproject.toml). Templates are written by staff, so they run in `ImmutableSandboxedEnvironment`
(no attribute access to internals, no mutation) with `StrictUndefined` (a misspelt variable is an
error, not an empty string). HTML email bodies are autoescaped; SMS and text bodies are not.
A template is validated when the flow is saved by rendering it against a sample context with
every variable the action will have at run time.

A render may not freeze the process that runs it (the web server's event loop, or the worker's):
every loop round, call, filter, attribute lookup and intercepted operator spends from a budget
(`MAX_STEPS`) and checks a deadline (`MAX_SECONDS`); no single value may grow past `MAX_SIZE`
characters or items (checked before `*`, `**`, `%`, `+`, `~`, `join`, `replace`, widths and
format specs make it), the text written by `{{ … }}` counts against `MAX_WRITTEN`, and the
rendered message may not exceed `MAX_OUTPUT`. Past any limit the render stops with
`TemplateTooBig` ("The template does too much work"), which the flow editor shows on save and
the run log records at run time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps
from typing import Any, cast

from jinja2 import StrictUndefined, TemplateError, TemplateRuntimeError, nodes, pass_eval_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from payrequest.errors import N_, PayrequestError, ValidationFailed

__all__ = ["TemplateError", "TemplateTooBig", "check", "render"]

MAX_TEMPLATE = 5000
MAX_STEPS = 20_000  # loop rounds, calls, filters, lookups and operators in one render
MAX_SECONDS = 0.5  # wall clock for one render
MAX_SIZE = 100_000  # characters or items of any one value
MAX_WRITTEN = 1_000_000  # characters written by {{ … }} in one render, blocks and sets included
MAX_OUTPUT = 100_000  # characters of the rendered message
MAX_BITS = 4096  # of an integer made by * or **

TOO_MUCH = N_("The template does too much work (too many loop rounds, or too much text)")

# Widths, precisions and nested fields in %-formats and {}-formats.
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(\*|\d+)?(?:\.(\*|\d+))?")
_BRACE_SPEC = re.compile(r"\{[^{}]*:([^{}]*)(\{)?")
_DIGITS = re.compile(r"\d+")


class TemplateTooBig(PayrequestError):
    """A render went past one of the module's limits."""

    code = "template_too_big"


@dataclass(slots=True)
class _Budget:
    steps: int
    written: int
    deadline: float


_budget: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


def _spend(steps: int = 1, written: int = 0) -> None:
    budget = _budget.get()
    if budget is None:  # compiling outside a render: constant folding only
        return
    budget.steps -= steps
    budget.written -= written
    if budget.steps < 0 or budget.written < 0 or time.monotonic() > budget.deadline:
        raise TemplateTooBig(TOO_MUCH)


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes | list | tuple | dict) else 0


def _limit(size: int) -> None:
    if size > MAX_SIZE:
        raise TemplateTooBig(TOO_MUCH)


def _bounded(value: Any) -> Any:
    _limit(_size(value))
    return value


def _check_format(pattern: str) -> None:
    """Refuse widths and precisions past MAX_SIZE, and widths taken from the arguments."""
    if "%" in pattern:
        for width, precision in _PERCENT_SPEC.findall(pattern):
            for given in (width, precision):
                if given == "*" or (given and int(given) > MAX_SIZE):
                    raise TemplateTooBig(TOO_MUCH)
    if "{" in pattern:
        for spec, nested in _BRACE_SPEC.findall(pattern):
            if nested or any(int(d) > MAX_SIZE for d in _DIGITS.findall(spec)):
                raise TemplateTooBig(TOO_MUCH)


def _check_numbers(values: Iterable[Any]) -> None:
    for value in values:
        if isinstance(value, int) and abs(value) > MAX_SIZE:
            raise TemplateTooBig(TOO_MUCH)


def _lines(value: Any) -> int:
    return str(value).count("\n") + 1


def _precheck(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse a string method or filter call whose result would pass MAX_SIZE before making it.
    `value`: the string or sequence it works on; `args`: the rest."""
    if name in ("center", "ljust", "rjust", "zfill", "wordwrap", "truncate", "batch", "slice"):
        _check_numbers([*args, *kwargs.values()])
    elif name == "expandtabs":
        _check_numbers([*args, *kwargs.values()])
        tab = next(iter([*args, *kwargs.values()]), 8)
        _limit(str(value).count("\t") * int(tab) + len(str(value)))
    elif name == "indent":
        width = next(iter([*args, *kwargs.values()]), 4)
        per_line = len(width) if isinstance(width, str) else width
        _check_numbers([per_line])
        _limit(len(str(value)) + _lines(value) * int(per_line))
    elif name == "replace" and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        text = str(value)
        count = len(text) + 1 if not old else text.count(old)
        _limit(len(text) + count * max(len(new) - len(old), 0))
    elif name in ("format", "format_map") and isinstance(value, str):
        _check_format(value)


def _joined_size(separator: Any, items: list[Any]) -> int:
    return len(str(separator)) * max(len(items) - 1, 0) + sum(len(str(i)) for i in items)


def _rounds(iterable: Any) -> Iterator[Any]:
    """A loop's iterable, one step per round (every `{% for %}` goes through it)."""
    for item in iterable:
        _spend()
        yield item


@pass_eval_context
def _joined(eval_ctx: EvalContext, *parts: Any) -> str:
    """The `~` operator, its operands' total size checked first."""
    _limit(sum(len(str(part)) for part in parts))
    return markup_join(parts) if eval_ctx.autoescape else str_join(parts)


class _Bounding(NodeTransformer):
    """Routes every loop's iterable through `_rounds` and every `~` through `_joined`."""

    def __init__(self, environment: ImmutableSandboxedEnvironment) -> None:
        self.environment = environment

    def _call(self, helper: str, args: list[nodes.Expr], where: nodes.Node) -> nodes.Call:
        call = nodes.Call(
            nodes.ImportedName(f"{__name__}.{helper}"), args, [], None, None, lineno=where.lineno
        )
        call.set_environment(self.environment)
        return call

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = self._call("_rounds", [cast(nodes.Expr, node.iter)], node)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return self._call("_joined", list(node.nodes), node)


class _BoundingGenerator(CodeGenerator):
    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        _Bounding(self.environment).visit(node)  # type: ignore[arg-type]
        super().visit_Template(node, frame)


def _written(value: Any) -> Any:
    """`finalize`: what every `{{ … }}` writes counts against MAX_WRITTEN."""
    text = value if isinstance(value, str) else str(value)
    _spend(written=len(text))
    return text


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox with a work budget; see the module's docstring."""

    code_generator_class = _BoundingGenerator
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, *, autoescape: bool) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=autoescape, finalize=_written)
        self.globals.pop("lipsum", None)  # paragraphs of filler on demand: no use in a message
        self.filters = {name: _counted(name, f) for name, f in self.filters.items()}

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _spend()
        method = getattr(__obj, "__wrapped__", __obj)  # the sandbox wraps str.format
        method_of = getattr(method, "__self__", None)
        if isinstance(method_of, str | list | tuple):
            name = getattr(method, "__name__", "")
            if name == "join":
                items = list(args[0]) if args else []
                _limit(_joined_size(method_of, items))
                args = (items, *args[1:])
            else:
                _precheck(name, method_of, args, kwargs)
        return _bounded(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _spend()
        if operator == "*":
            if isinstance(left, int) and isinstance(right, int):
                if left.bit_length() + right.bit_length() > MAX_BITS:
                    raise TemplateTooBig(TOO_MUCH)
            elif isinstance(right, int):
                _limit(_size(left) * max(right, 0))
            elif isinstance(left, int):
                _limit(_size(right) * max(left, 0))
        elif operator == "**" and isinstance(left, int) and isinstance(right, int):
            if abs(left) > 1 and right > 0 and left.bit_length() * right > MAX_BITS:
                raise TemplateTooBig(TOO_MUCH)
        elif operator == "%" and isinstance(left, str):
            _check_format(left)
        elif operator == "+":
            _limit(_size(left) + _size(right))
        return _bounded(super().call_binop(context, operator, left, right))

    def getattr(self, obj: Any, attribute: str) -> Any:
        _spend()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _spend()
        return super().getitem(obj, argument)


def _counted(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that spends a step, refuses to make an oversized value, and checks its result."""
    passes = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0

    @wraps(function)
    def counted(*args: Any, **kwargs: Any) -> Any:
        _spend()
        value, rest = (args[passes], args[passes + 1 :]) if len(args) > passes else (None, ())
        if name == "join":
            items = list(value) if value is not None else []
            separator = rest[0] if rest else kwargs.get("d", "")
            _limit(_joined_size(separator, items))
            args = (*args[:passes], items, *rest)
        else:
            _precheck(name, value, rest, kwargs)
        return _bounded(function(*args, **kwargs))

    return counted


_text = _BoundedEnvironment(autoescape=False)
_html = _BoundedEnvironment(autoescape=True)


def render(source: str, context: dict[str, Any], *, html: bool = False) -> str:
    """Render or raise TemplateError (syntax, unknown variable, sandbox violation, any other
    failure of the template) or TemplateTooBig (past a limit of this module)."""
    environment = _html if html else _text
    token = _budget.set(_Budget(MAX_STEPS, MAX_WRITTEN, time.monotonic() + MAX_SECONDS))
    try:
        written: list[str] = []
        size = 0
        for chunk in environment.from_string(source).generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateTooBig(TOO_MUCH)
            written.append(chunk)
        return "".join(written)
    except (TemplateError, PayrequestError):
        raise
    except (ArithmeticError, LookupError, TypeError, ValueError, RecursionError) as exc:
        raise TemplateRuntimeError(str(exc)) from exc
    finally:
        _budget.reset(token)


def check(source: str, sample: dict[str, Any], *, field: str, html: bool = False) -> None:
    """Refuse a template that does not compile, uses an unknown variable or does too much."""
    if len(source) > MAX_TEMPLATE:
        raise ValidationFailed("At most %(most)s characters", field=field, most=MAX_TEMPLATE)
    try:
        render(source, sample, html=html)
    except TemplateTooBig:
        raise ValidationFailed(TOO_MUCH, field=field) from None
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        detail = str(exc.message or exc)
        if line:
            raise ValidationFailed(
                "Template error (line %(line)s): %(detail)s", field=field, line=line, detail=detail
            ) from None
        raise ValidationFailed("Template error: %(detail)s", field=field, detail=detail) from None
    except Exception as exc:  # a filter raising on sample data, e.g. a bad format spec
        raise ValidationFailed("Template error: %(detail)s", field=field, detail=str(exc)) from None
