"""A small, safe expression language for `when`, checks and formulas.

Definition files are data written by people at a Sở TTTT; they are parsed here into a tiny
tree and evaluated by walking it, never handed to `eval`. Item references are written in
brackets because ids such as ``3.2.b`` would otherwise read as numbers: ``[3.2.a] <= [3.1.a]``.

Blank answers are ``None``. Arithmetic or comparison with a blank gives ``None``; a check whose
rule is ``None`` is not judged yet, and a ``when`` that is ``None`` hides its item. ``sum(...)``
counts blanks as zero, which the bandwidth formula needs.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any


class ExprError(ValueError):
    """A definition's expression that cannot be read; the message says where."""


_TOKEN = re.compile(
    r"""\s*(?:
    (?P<ref>\[[^\[\]\s]+\])
    |(?P<num>\d+(?:\.\d+)?)
    |(?P<str>'[^']*'|"[^"]*")
    |(?P<op><=|>=|==|!=|[-+*/()<>,])
    |(?P<name>[A-Za-z_][A-Za-z_0-9]*)
    )""",
    re.VERBOSE,
)

Node = tuple[Any, ...]
_KEYWORDS = {"and", "or", "not", "true", "false", "null"}
_BINARY = {
    "or": 1,
    "and": 2,
    "==": 4,
    "!=": 4,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
}


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenize(source: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    source = source.rstrip()
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if not m or m.end() == pos:
            raise ExprError(f"không đọc được ký tự {source[pos]!r} ở vị trí {pos + 1}")
        kind = m.lastgroup or ""
        toks.append(_Tok(kind, m.group(kind), m.start(kind)))
        pos = m.end()
    toks.append(_Tok("end", "", len(source)))
    return toks


class _Parser:
    def __init__(self, source: str) -> None:
        self.toks = _tokenize(source)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.text != text:
            raise ExprError(
                f"cần {text!r} ở vị trí {tok.pos + 1}, gặp {tok.text or 'hết biểu thức'!r}"
            )

    def parse(self) -> Node:
        node = self.expr(0)
        tok = self.peek()
        if tok.kind != "end":
            raise ExprError(f"thừa {tok.text!r} ở vị trí {tok.pos + 1}")
        return node

    def expr(self, min_prec: int) -> Node:
        left = self.unary()
        while True:
            tok = self.peek()
            op = tok.text if tok.kind in ("op", "name") else ""
            prec = _BINARY.get(op)
            if prec is None or prec < min_prec:
                return left
            self.take()
            right = self.expr(prec + 1)
            left = ("bin", op, left, right)

    def unary(self) -> Node:
        tok = self.peek()
        if tok.text == "not":
            self.take()
            return ("not", self.expr(3))
        if tok.text == "-":
            self.take()
            return ("neg", self.unary())
        return self.atom()

    def atom(self) -> Node:
        tok = self.take()
        if tok.kind == "ref":
            return ("ref", tok.text[1:-1])
        if tok.kind == "num":
            return ("lit", float(tok.text) if "." in tok.text else int(tok.text))
        if tok.kind == "str":
            return ("lit", tok.text[1:-1])
        if tok.text == "(":
            node = self.expr(0)
            self.expect(")")
            return node
        if tok.kind == "name":
            if tok.text in ("true", "false"):
                return ("lit", tok.text == "true")
            if tok.text == "null":
                return ("lit", None)
            if tok.text in _KEYWORDS:
                raise ExprError(f"không mong đợi {tok.text!r} ở vị trí {tok.pos + 1}")
            if tok.text not in _FUNCTIONS:
                raise ExprError(f"hàm không biết {tok.text!r} ở vị trí {tok.pos + 1}")
            self.expect("(")
            args: list[Node] = []
            if self.peek().text != ")":
                args.append(self.expr(0))
                while self.peek().text == ",":
                    self.take()
                    args.append(self.expr(0))
            self.expect(")")
            return ("call", tok.text, tuple(args))
        raise ExprError(f"không mong đợi {tok.text or 'hết biểu thức'!r} ở vị trí {tok.pos + 1}")


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        return v
    return None


def _sum(*args: Any) -> float:
    # A plain int or float is its own _num: tested inline, _num only for the rest.
    return sum([a for a in args if (t := type(a)) is int or t is float or _num(a) is not None])


def _answered(*args: Any) -> bool:
    return all(a is not None and a != "" and a != [] for a in args)


def _count_true(*args: Any) -> int:
    return sum(1 for a in args if a is True)


def _min(*args: Any) -> float | None:
    nums = [n for n in (_num(a) for a in args) if n is not None]
    return min(nums) if nums else None


def _max(*args: Any) -> float | None:
    nums = [n for n in (_num(a) for a in args) if n is not None]
    return max(nums) if nums else None


def _contains(collection: Any, value: Any) -> bool | None:
    if collection is None:
        return None
    return isinstance(collection, list | tuple) and value in collection


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sum": _sum,
    "answered": _answered,
    "count_true": _count_true,
    "min": _min,
    "max": _max,
    "contains": _contains,
}


@lru_cache(maxsize=4096)
def parse(source: str) -> Node:
    """Parse once; forms are loaded at start so every expression is checked then."""
    if not source or not source.strip():
        raise ExprError("biểu thức rỗng")
    return _Parser(source).parse()


def refs(source: str) -> tuple[str, ...]:
    """Item ids an expression reads, in order of first appearance."""
    seen: dict[str, None] = {}

    def walk(node: Node) -> None:
        kind = node[0]
        if kind == "ref":
            seen.setdefault(node[1], None)
        elif kind == "bin":
            walk(node[2])
            walk(node[3])
        elif kind in ("not", "neg"):
            walk(node[1])
        elif kind == "call":
            for arg in node[2]:
                walk(arg)

    walk(parse(source))
    return tuple(seen)


def _compare(op: str, a: Any, b: Any) -> bool | None:
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if a is None or b is None:
        return None
    na, nb = _num(a), _num(b)
    if na is None or nb is None:
        return None
    return {"<": na < nb, "<=": na <= nb, ">": na > nb, ">=": na >= nb}[op]


def _arith(op: str, a: Any, b: Any) -> float | None:
    na, nb = _num(a), _num(b)
    if na is None or nb is None:
        return None
    if op == "+":
        return na + nb
    if op == "-":
        return na - nb
    if op == "*":
        return na * nb
    if nb == 0:
        return None
    return na / nb


Compiled = Callable[[Mapping[str, Any]], Any]
_COMPILED: dict[int, tuple[Node, Compiled]] = {}


def compiled(node: Node) -> Compiled:
    """`node` as a closure of the values (blanks are None): the tree is walked once, not on
    every evaluation (scoring evaluates a form's formulas for thousands of agencies). Kept
    per node object (not by equality: ("lit", 1) == ("lit", True)); parse() keeps the nodes
    alive, and the node is held beside its closure so an id is never reused under it."""
    hit = _COMPILED.get(id(node))
    if hit is not None and hit[0] is node:
        return hit[1]
    fn = _compile(node)
    if len(_COMPILED) > 16384:  # bounded: nodes of sources parsed once and dropped
        _COMPILED.clear()
    _COMPILED[id(node)] = (node, fn)
    return fn


def _compile(node: Node) -> Compiled:
    kind = node[0]
    if kind == "lit":
        lit = node[1]
        return lambda values: lit
    if kind == "ref":
        return partial(_ref, node[1])
    if kind == "neg":
        inner = compiled(node[1])

        def neg(values: Mapping[str, Any]) -> Any:
            n = _num(inner(values))
            return None if n is None else -n

        return neg
    if kind == "not":
        inner = compiled(node[1])

        def not_(values: Mapping[str, Any]) -> Any:
            v = inner(values)
            return None if v is None else not v

        return not_
    if kind == "call":
        fn, args = _FUNCTIONS[node[1]], tuple(compiled(a) for a in node[2])
        return lambda values: fn(*[a(values) for a in args])
    op, left, right = node[1], compiled(node[2]), compiled(node[3])
    if op in ("and", "or"):
        stop = op == "or"  # `and` stops at False, `or` at True

        def logic(values: Mapping[str, Any]) -> Any:
            a = left(values)
            if a is stop:
                return stop
            b = right(values)
            if a is None or b is None:
                return None
            return bool(a) or bool(b) if stop else bool(a) and bool(b)

        return logic
    if op in ("==", "!=", "<", "<=", ">", ">="):
        compare = partial(_compare, op)
        return lambda values: compare(left(values), right(values))
    arith, plain = partial(_arith, op), _PLAIN[op]

    def arithmetic(values: Mapping[str, Any]) -> Any:
        a, b = left(values), right(values)
        ta, tb = type(a), type(b)
        # Two plain numbers (not a yes/no) and not a division by 0: _arith's result, inline.
        if (ta is int or ta is float) and (tb is int or tb is float) and (b or op != "/"):
            return plain(a, b)
        return arith(a, b)

    return arithmetic


_PLAIN: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}


def _ref(item: str, values: Mapping[str, Any]) -> Any:
    return values.get(item)


def _eval(node: Node, values: Mapping[str, Any]) -> Any:
    return compiled(node)(values)


def evaluate(source: str, values: Mapping[str, Any]) -> Any:
    """Value of an expression over answers keyed by item id; blanks are None."""
    return _eval(parse(source), values)


_NEGATED = {"<=": ">", "<": "≥", ">=": "<", ">": "≤", "==": "≠", "!=": "="}


@dataclass(frozen=True, slots=True)
class Sides:
    """A comparison's two sides, evaluated: what a failed check compares.

    `op` is the operator that *holds* when the rule fails (`<=` fails as `>`), so a message
    reads "4.1.3: 10 > 4.1.1 + 4.1.2: 9". Values are None where a side is blank.
    """

    left: Any
    left_refs: tuple[str, ...]
    op: str
    right: Any
    right_refs: tuple[str, ...]


def _node_refs(node: Node) -> tuple[str, ...]:
    seen: dict[str, None] = {}

    def walk(n: Node) -> None:
        if n[0] == "ref":
            seen.setdefault(n[1], None)
        elif n[0] == "bin":
            walk(n[2])
            walk(n[3])
        elif n[0] in ("not", "neg"):
            walk(n[1])
        elif n[0] == "call":
            for arg in n[2]:
                walk(arg)

    walk(node)
    return tuple(seen)


def sides(source: str, values: Mapping[str, Any]) -> Sides | None:
    """The evaluated sides of a rule that is one comparison; None for any other rule."""
    node = parse(source)
    if node[0] != "bin" or node[1] not in _NEGATED:
        return None
    _, op, left, right = node
    return Sides(
        _eval(left, values), _node_refs(left), _NEGATED[op], _eval(right, values), _node_refs(right)
    )


def ruled_out(source: str, values: Mapping[str, Any]) -> bool:
    """Whether a `when` is false for good: one of its `and` parts is false and every item that
    part reads is answered. A part that reads a blank may still turn true, so it is not."""
    node = parse(source)

    def out(n: Node) -> bool:
        if n[0] == "bin" and n[1] == "and":
            return out(n[2]) or out(n[3])
        read = _node_refs(n)
        return all(values.get(r) is not None for r in read) and _eval(n, values) is not True

    return out(node)
