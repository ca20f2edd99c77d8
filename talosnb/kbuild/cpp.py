"""Just enough of the C preprocessor to read device ID tables as the compiler sees them.

A driver's ID table is C: ``{ PCI_VDEVICE(INTEL, ICE_DEV_ID_E810C_QSFP), board_e810 }``. What
modpost turns into aliases (scripts/mod/file2alias.c) is the table's bytes after the preprocessor
expanded ``PCI_VDEVICE`` (include/linux/pci.h), pasted ``PCI_VENDOR_ID_##vend``
(include/linux/pci_ids.h) and dropped the entries of ``#ifdef`` blocks the config leaves out.
This module does that much: tokens with their source line, object- and function-like macros with
``#`` and ``##`` (cpp's rescanning, a macro never expanding inside itself), integer constant
expressions, and ``#if`` conditions kept as text to be decided per config
(:func:`condition_holds`: ``CONFIG_X``, ``defined()``, ``IS_ENABLED()``, ``IS_BUILTIN()``,
``IS_MODULE()``, ``IS_REACHABLE()`` as include/linux/kconfig.h defines them).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\f\v]+|\\\n)
  | (?P<nl>\n)
  | (?P<str>L?"(?:\\.|[^"\\\n])*")
  | (?P<chr>L?'(?:\\.|[^'\\\n])*')
  | (?P<num>\.?[0-9](?:[eEpP][+-]|[0-9A-Za-z_.])*)
  | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>\#\#|<<|>>|<=|>=|==|!=|&&|\|\||->|\.\.\.|[-+*/%&|^~!<>?:;,.()\[\]{}=\#])
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)

_COMMENT_OR_STRING = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.DOTALL)


def strip_comments(text: str) -> str:
    """Comments replaced by a space (their newlines kept, so line numbers stay), strings kept."""
    def blank(m: re.Match) -> str:
        s = m.group(0)
        if s[0] in "\"'":
            return s
        return " " + "\n" * s.count("\n") if s.startswith("/*") else " "
    return _COMMENT_OR_STRING.sub(blank, text)


class Token(NamedTuple):
    # a tuple: a table's entries make hundreds of thousands of them, and a frozen dataclass's
    # __init__ costs several times a tuple's
    kind: str      # "id", "num", "str", "chr", "punct", "other"
    text: str
    line: int
    # the #if-block the token was written in (an index into the file's blocks), -1 for none
    block: int = -1
    # names of the macros whose expansion produced it (cpp's "hide set")
    hide: frozenset[str] = frozenset()


def tokenize(text: str, line: int = 1, block: int = -1) -> list[Token]:
    out = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == "nl":
            line += 1
            continue
        if kind == "ws":
            line += m.group(0).count("\n")
            continue
        assert kind is not None
        out.append(Token(kind, m.group(0), line, block))
    return out


@dataclass(frozen=True)
class Macro:
    name: str
    params: tuple[str, ...] | None     # None: object-like
    body: tuple[Token, ...]
    variadic: bool = False


_DEFINE = re.compile(r"#\s*define\s+([A-Za-z_]\w*)(\(([^)]*)\))?(.*)", re.DOTALL)


def parse_define(directive: str) -> Macro | None:
    """A ``#define`` line (continuations joined, comments stripped) as a Macro."""
    text = strip_comments(directive)
    for opener in ("/*", "//"):     # a comment running on past the line
        if opener in text:
            text = text[:text.index(opener)]
    m = _DEFINE.match(text.strip())
    if not m:
        return None
    name, params_text, body = m.group(1), m.group(3), m.group(4)
    params: tuple[str, ...] | None = None
    variadic = False
    if m.group(2) is not None:
        names = [p.strip() for p in params_text.split(",") if p.strip()]
        if names and names[-1].endswith("..."):
            variadic = True
            names[-1] = names[-1][:-3].strip() or "__VA_ARGS__"
        params = tuple(names)
    elif body and not body[0].isspace():
        body = " " + body
    return Macro(name, params, tuple(tokenize(body.replace("\\\n", " "))), variadic)


class Expander:
    """Macro expansion over a scope: ``lookup(name) -> Macro | None``."""

    MAX_TOKENS = 200_000

    def __init__(self, lookup: Mapping[str, Macro]) -> None:
        self.lookup = lookup

    def expand(self, tokens: list[Token]) -> list[Token]:
        out: list[Token] = []
        stack = tokens[::-1]     # what is left to scan, next token last
        produced = 0
        while stack:
            tok = stack.pop()
            if tok.kind != "id" or tok.text in tok.hide:
                out.append(tok)
                continue
            macro = self.lookup.get(tok.text)
            if macro is None:
                out.append(tok)
                continue
            if macro.params is None:
                hide = tok.hide | {macro.name}
                body = [Token(t.kind, t.text, tok.line, tok.block, hide) for t in macro.body]
                body = self._paste(body, {}, tok)
            else:
                if not stack or stack[-1].text != "(":
                    out.append(tok)
                    continue
                args = _collect_args(stack)
                if args is None:
                    out.append(tok)
                    continue
                body = self._substitute(macro, args, tok)
            produced += len(body)
            if produced > self.MAX_TOKENS:
                raise ValueError("macro expansion too large")
            stack.extend(reversed(body))
        return out

    def _substitute(self, macro: Macro, args: list[list[Token]], call: Token) -> list[Token]:
        params = list(macro.params or ())
        if macro.variadic:
            fixed = len(params) - 1
            va = args[fixed:]
            joined: list[Token] = []
            for k, a in enumerate(va):
                if k:
                    joined.append(Token("punct", ",", call.line, call.block))
                joined.extend(a)
            args = args[:fixed] + [joined]
        if len(args) < len(params):
            args = args + [[] for _ in range(len(params) - len(args))]
        if len(params) == 0 and args == [[]]:
            args = []
        bound = dict(zip(params, args, strict=False))
        hide = call.hide | {macro.name}
        body = list(macro.body)
        out: list[Token] = []
        k = 0
        while k < len(body):
            t = body[k]
            if t.text == "#" and k + 1 < len(body) and body[k + 1].text in bound:
                arg = bound[body[k + 1].text]
                text = " ".join(a.text for a in arg).replace("\\", "\\\\").replace('"', '\\"')
                out.append(Token("str", f'"{text}"', call.line, call.block, hide))
                k += 2
                continue
            if t.kind == "id" and t.text in bound:
                next_paste = k + 1 < len(body) and body[k + 1].text == "##"
                prev_paste = k > 0 and body[k - 1].text == "##"
                arg = bound[t.text]
                replaced = arg if (next_paste or prev_paste) else self.expand(list(arg))
                out.extend(Token(a.kind, a.text, call.line, call.block, a.hide | hide if a.hide else hide)
                           for a in replaced)
                if not replaced and (next_paste or prev_paste):
                    out.append(Token("placemarker", "", call.line, call.block, hide))
                k += 1
                continue
            out.append(Token(t.kind, t.text, call.line, call.block, hide))
            k += 1
        return self._paste(out, bound, call)

    @staticmethod
    def _paste(tokens: list[Token], bound: Mapping[str, list[Token]], call: Token) -> list[Token]:
        if not any(t.text == "##" for t in tokens):
            return [t for t in tokens if t.kind != "placemarker"]
        out: list[Token] = []
        k = 0
        while k < len(tokens):
            t = tokens[k]
            if t.text == "##" and out and k + 1 < len(tokens):
                left, right = out.pop(), tokens[k + 1]
                text = left.text + right.text
                pasted = tokenize(text, call.line, call.block) if text else []
                if len(pasted) == 1:
                    out.append(Token(pasted[0].kind, text, call.line, call.block, left.hide | right.hide))
                elif not text:
                    out.append(Token("placemarker", "", call.line, call.block, left.hide))
                else:
                    out.extend(pasted)
                k += 2
                continue
            out.append(t)
            k += 1
        return [t for t in out if t.kind != "placemarker"]


def _collect_args(stack: list[Token]) -> list[list[Token]] | None:
    """The arguments of a call whose "(" is next on ``stack`` (consumed with them); None and
    ``stack`` untouched when the parentheses never close."""
    depth = 0
    args: list[list[Token]] = [[]]
    for k in range(len(stack) - 1, -1, -1):
        t = stack[k]
        if t.kind == "punct" and t.text in "([{":
            depth += 1
            if depth == 1:
                continue
        elif t.kind == "punct" and t.text in ")]}":
            depth -= 1
            if depth == 0:
                del stack[k:]
                return args
        elif t.text == "," and depth == 1:
            args.append([])
            continue
        args[-1].append(t)
    return None


# --- integer constant expressions ----------------------------------------------------

_INT = re.compile(r"(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)([uUlL]*)$")
_C_TYPES = {"unsigned", "signed", "int", "long", "short", "char", "u8", "u16", "u32", "u64", "__u8", "__u16",
            "__u32", "__u64", "s8", "s16", "s32", "s64", "kernel_ulong_t", "size_t", "const", "uint8_t",
            "uint16_t", "uint32_t", "uint64_t", "__le16", "__le32", "__be16", "__be32", "bool"}


class NotConstant(ValueError):
    pass


def _skip_cast(toks: list[Token], k: int) -> int:
    """Past a cast to an integer type at ``k`` (``(u32)``, ``(unsigned long)``), else ``k``."""
    if toks[k].text != "(" or k + 1 >= len(toks) or toks[k + 1].text not in _C_TYPES:
        return k
    j = k + 1
    while j < len(toks) and toks[j].text in _C_TYPES | {"*"}:
        j += 1
    if j < len(toks) and toks[j].text == ")" and j + 1 < len(toks) and \
            toks[j + 1].text not in (")", ",", "|", "&", "<<", ">>", "+", "-", "*"):
        return j + 1
    return k


_PY_OPERATORS = {"+", "-", "*", "%", "<<", ">>", "&", "|", "^", "~", "(", ")", "<", ">", "<=", ">=", "==", "!="}


def _number(text: str) -> int:
    m = _INT.match(text)
    if not m:
        raise NotConstant(text)
    digits = m.group(1)
    if digits[:2].lower() == "0x":
        return int(digits, 16)
    return int(digits, 8) if digits.startswith("0") and len(digits) > 1 else int(digits)


def _python_token(t: Token) -> str:
    if t.kind == "num":
        return str(_number(t.text))
    if t.kind == "chr":
        body = t.text.strip("L'")
        return str(ord(body.encode().decode("unicode_escape")) if body else 0)
    if t.text in ("&&", "||", "!"):
        return {"&&": " and ", "||": " or ", "!": " not "}[t.text]
    if t.text == "/":
        return "//"
    if t.kind == "punct" and t.text in _PY_OPERATORS:
        return t.text
    raise NotConstant(t.text)


_BINARY = {"*": 10, "/": 10, "%": 10, "+": 9, "-": 9, "<<": 8, ">>": 8, "<": 7, "<=": 7, ">": 7, ">=": 7,
           "==": 6, "!=": 6, "&": 5, "^": 4, "|": 3, "&&": 2, "||": 1}


def _apply(op: str, a: int, b: int) -> int:
    if op in ("/", "%") and b == 0:
        raise NotConstant("division by zero")
    return {"*": lambda: a * b, "/": lambda: int(a / b), "%": lambda: a - int(a / b) * b, "+": lambda: a + b,
            "-": lambda: a - b, "<<": lambda: a << b, ">>": lambda: a >> b, "<": lambda: int(a < b),
            "<=": lambda: int(a <= b), ">": lambda: int(a > b), ">=": lambda: int(a >= b), "==": lambda: int(a == b),
            "!=": lambda: int(a != b), "&": lambda: a & b, "^": lambda: a ^ b, "|": lambda: a | b,
            "&&": lambda: int(bool(a) and bool(b)), "||": lambda: int(bool(a) or bool(b))}[op]()


class _Parser:
    """C's integer constant expressions by precedence climbing, GNU ``a ?: b`` included."""

    def __init__(self, toks: list[Token]) -> None:
        self.toks = toks
        self.k = 0

    def peek(self) -> str | None:
        return self.toks[self.k].text if self.k < len(self.toks) else None

    def take(self) -> Token:
        if self.k >= len(self.toks):
            raise NotConstant("unexpected end")
        tok = self.toks[self.k]
        self.k += 1
        return tok

    def expression(self) -> int:
        cond = self.binary(1)
        if self.peek() != "?":
            return cond
        self.take()
        if self.peek() == ":":
            self.take()
            other = self.expression()
            return cond if cond else other
        yes = self.expression()
        if self.take().text != ":":
            raise NotConstant("?: without :")
        no = self.expression()
        return yes if cond else no

    def binary(self, level: int) -> int:
        left = self.unary()
        while True:
            op = self.peek()
            prec = _BINARY.get(op or "")
            if prec is None or prec < level:
                return left
            self.take()
            right = self.binary(prec + 1)
            left = _apply(op or "", left, right)

    def unary(self) -> int:
        k = _skip_cast(self.toks, self.k)
        if k != self.k:
            self.k = k
            return self.unary()
        tok = self.take()
        if tok.text == "(":
            value = self.expression()
            if self.take().text != ")":
                raise NotConstant("unbalanced (")
            return value
        if tok.text in ("-", "+", "~", "!"):
            value = self.unary()
            return {"-": -value, "+": value, "~": ~value, "!": int(not value)}[tok.text]
        if tok.kind == "num":
            return _number(tok.text)
        if tok.kind == "chr":
            body = tok.text.strip("L'")
            return ord(body.encode().decode("unicode_escape")) if body else 0
        raise NotConstant(tok.text)


def int_value(tokens: list[Token]) -> int:
    """The value of an integer constant expression (casts to integer types dropped); raises
    NotConstant for anything else (a pointer, an unknown name)."""
    toks = [t for t in tokens if t.text]
    if not toks:
        raise NotConstant("empty")
    key = tuple(t.text for t in toks)
    cached = _INT_CACHE.get(key)
    if cached is None:
        parser = _Parser(toks)
        try:
            value = parser.expression()
        except (RecursionError, OverflowError, KeyError) as e:
            raise NotConstant(" ".join(key)) from e
        if parser.k != len(toks):
            raise NotConstant(" ".join(key))
        if len(_INT_CACHE) > 200_000:
            _INT_CACHE.clear()
        _INT_CACHE[key] = cached = value
    return cached


_INT_CACHE: dict[tuple[str, ...], int] = {}


def string_value(tokens: list[Token]) -> str:
    """Adjacent string literals concatenated (``"fsl," "imx8"``); raises NotConstant otherwise."""
    parts = []
    for t in tokens:
        if t.kind != "str" or t.text.startswith("L"):
            if t.text in ("(", ")"):
                continue
            raise NotConstant(t.text)
        parts.append(t.text[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape"))
    if not parts:
        raise NotConstant("no string")
    return "".join(parts)


# --- #if conditions, decided per config ------------------------------------------------

_CFG_FUNCS = ("IS_ENABLED", "IS_BUILTIN", "IS_MODULE", "IS_REACHABLE")


def normalize_condition(text: str, expander: Expander, defined: Container[str]) -> str:
    """An ``#if`` expression with the file's own macros expanded and ``defined(NAME)`` of
    non-CONFIG names decided (``MODULE`` is defined: these are module builds), so that only
    CONFIG_ references remain for :func:`condition_holds`."""
    toks = tokenize(text)
    # protect defined X / defined(X) and IS_*(CONFIG_X) from expansion
    out: list[str] = []
    k = 0
    pending: list[Token] = []

    def flush() -> None:
        if pending:
            out.extend(t.text for t in expander.expand(list(pending)))
            pending.clear()
    while k < len(toks):
        t = toks[k]
        if t.text == "defined":
            flush()
            if k + 1 < len(toks) and toks[k + 1].text == "(":
                name = toks[k + 2].text if k + 2 < len(toks) else ""
                k += 4
            else:
                name = toks[k + 1].text if k + 1 < len(toks) else ""
                k += 2
            if name.startswith("CONFIG_"):
                out.append(f"defined({name})")
            else:
                out.append("1" if name in defined or name in ("MODULE", "__KERNEL__", "__LITTLE_ENDIAN")
                           else "0")
            continue
        if t.text in _CFG_FUNCS and k + 3 < len(toks) and toks[k + 1].text == "(" and toks[k + 3].text == ")":
            flush()
            out.append(f"{t.text}({toks[k + 2].text})")
            k += 4
            continue
        pending.append(t)
        k += 1
    flush()
    return " ".join(out)


def condition_holds(expr: str, values: Mapping[str, str]) -> bool:
    """Whether a normalized ``#if`` expression holds for a config (symbol -> value as in a
    .config, without ``CONFIG_``), as include/linux/kconfig.h and autoconf.h make it hold in
    a module's compilation (MODULE defined)."""
    return _compile_condition(expr)(values)


def _condition_python(expr: str) -> str:
    """A normalized ``#if`` expression as Python over the helpers of :func:`_compile_condition`."""
    toks = tokenize(expr)
    py: list[str] = []
    k = 0
    while k < len(toks):
        t = toks[k]
        if t.kind == "id" and t.text in (*_CFG_FUNCS, "defined") and k + 3 < len(toks) and toks[k + 1].text == "(":
            py.append(f"_{t.text.lower()}({toks[k + 2].text!r})")
            k += 4
            continue
        if t.kind == "id":
            # autoconf.h: CONFIG_X 1 for y, CONFIG_X_MODULE 1 for m, the value for int/hex/string
            py.append(f"_v({t.text!r})" if t.text.startswith("CONFIG_") else "0")
        elif t.text in ("?", ":"):
            py.append({"?": " if ", ":": " else "}[t.text])   # rare; evaluated only when well formed
        else:
            try:
                py.append(_python_token(t))
            except NotConstant:
                py.append("0")
        k += 1
    return "".join(py).strip() or "0"


class _Values:
    """A config's values as the helpers of a compiled ``#if`` read them."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = values

    def sym(self, name: str) -> str:
        return self.values.get(name.removeprefix("CONFIG_"), "n") or "n"

    def value(self, name: str) -> int:
        if name.endswith("_MODULE"):
            return 1 if self.sym(name[:-7]) == "m" else 0
        v = self.sym(name)
        if v == "y":
            return 1
        if v in ("m", "n"):
            return 0
        try:
            return int(v, 0)
        except ValueError:
            return 0

    def env(self) -> dict[str, Any]:
        sym = self.sym
        return {"_v": self.value,
                "_defined": lambda n: (sym(n[:-7]) == "m") if n.endswith("_MODULE") else sym(n) not in ("n", "m"),
                "_is_enabled": lambda n: sym(n) in ("y", "m"), "_is_builtin": lambda n: sym(n) == "y",
                "_is_module": lambda n: sym(n) == "m", "_is_reachable": lambda n: sym(n) in ("y", "m")}


@functools.lru_cache(maxsize=16384)
def _compile_condition(expr: str) -> Callable[[Mapping[str, str]], bool]:
    try:
        compiled = compile(_condition_python(expr), "<#if>", "eval")
    except SyntaxError:
        compiled = compile("0", "<#if>", "eval")

    def holds(values: Mapping[str, str]) -> bool:
        try:
            return bool(eval(compiled, {"__builtins__": {}}, _Values(values).env()))
        except Exception:  # noqa: BLE001 -- an expression this reader can't decide counts as false
            return False
    return holds
