"""Symbolic evaluation of kbuild Makefiles: each word of a make variable with the conditions on
CONFIG symbols under which it is there."""

from __future__ import annotations

import itertools
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from .model import TRISTATE, Condition, Conds


@dataclass(frozen=True)
class Word:
    text: str
    conds: Conds = ()


_CONFIG_RE = re.compile(r"^CONFIG_[A-Za-z0-9_]+$")
_ASSIGN_RE = re.compile(r"(\+=|::=|:=|\?=|!=|=)")
_COND_RE = re.compile(r"^(ifdef|ifndef|ifeq|ifneq)\b\s*(.*)$")
_INCLUDE_RE = re.compile(r"^(-?include|sinclude)\s+(.*)$")
_EXTRA_VALUES: frozenset[str] = frozenset()


def merge_conds(a: Conds, b: Conds) -> Conds | None:
    """Conjunction of two condition tuples; None when contradictory."""
    if not b:
        return a
    if not a:
        return b
    out = list(a)
    for c in b:
        if c in out:
            continue
        for o in out:
            if o.symbol == c.symbol:
                domain = TRISTATE + tuple(o.allowed | c.allowed)
                if not (o.satisfying(domain) & c.satisfying(domain)):
                    return None
        out.append(c)
    return tuple(out)


def _combinations(alternatives: list[list[tuple[str, Conds]]]) -> Iterator[tuple[list[str], Conds]]:
    """Every way to pick one (string, conditions) alternative from each list, as the picked
    strings and the conjunction of their conditions; contradictory picks are left out."""
    for combo in itertools.product(*alternatives):
        conds: Conds | None = ()
        for _, c in combo:
            assert conds is not None   # None breaks out of the loop
            conds = merge_conds(conds, c)
            if conds is None:
                break
        if conds is not None:
            yield [s for s, _ in combo], conds

def _split_top(text: str, sep: str | None = None) -> list[str]:
    """Split on whitespace (sep None) or on ``sep``, not inside ``$(...)``/``${...}``."""
    parts: list[str]
    cur: list[str]
    parts, depth, cur = [], 0, []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "({":
            depth += 1
        elif ch in ")}":
            depth = max(0, depth - 1)
        if depth == 0 and ((sep is None and ch in " \t") or ch == sep):
            if sep is not None or cur:
                parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    if sep is not None or cur:
        parts.append("".join(cur))
    return parts


def _find_close(text: str, start: int) -> int:
    """Index of the bracket closing the one at ``start``, or -1."""
    open_ch = text[start]
    close_ch = ")" if open_ch == "(" else "}"
    depth = 0
    for i in range(start, len(text)):
        if text[i] == open_ch:
            depth += 1
        elif text[i] == close_ch:
            depth -= 1
            if depth == 0:
                return i
    return -1


class _Unevaluable(Exception):
    pass


class Evaluator:
    """Evaluates one directory's Makefile (and what it includes) symbolically."""

    def __init__(self, tree: Path, directory: str, base_vars: Mapping[str, list[Word]],
                 unevaluated: list[tuple[str, str]], files_read: set[str] | None = None) -> None:
        self.tree = tree
        self.files_read = files_read if files_read is not None else set()
        self.directory = directory
        self.vars: dict[str, list[Word]] = {k: list(v) for k, v in base_vars.items()}
        self.vars.setdefault("obj", [Word(directory or ".")])
        self.vars.setdefault("src", [Word(directory or ".")])
        self.unevaluated = unevaluated
        self.exported: set[str] = set()
        # define NAME ... endef bodies, for $(call NAME,...) under $(eval ...)
        self.defines: dict[str, str] = {}
        self.where = ""
        self.line_text = ""
        self.problem: str | None = None

    # -- expansion: text -> list of (string, conds) alternatives ------------
    def expand_alts(self, text: str) -> list[tuple[str, Conds]]:
        """All strings ``text`` can expand to, each with its conditions (mutually exclusive
        for CONFIG references, as listed in a variable otherwise)."""
        pieces: list[list[tuple[str, Conds]]] = []
        i, lit = 0, []
        while i < len(text):
            ch = text[i]
            if ch == "$" and i + 1 < len(text):
                nxt = text[i + 1]
                if nxt == "$":
                    lit.append("$")
                    i += 2
                    continue
                if lit:
                    pieces.append([("".join(lit), ())])
                    lit = []
                if nxt in "({":
                    end = _find_close(text, i + 1)
                    if end < 0:
                        raise _Unevaluable("unbalanced $(")
                    pieces.append(self._reference(text[i + 2:end]))
                    i = end + 1
                else:
                    # $@, $< ... only mean something in recipes.
                    pieces.append([("", ())])
                    i += 2
                continue
            lit.append(ch)
            i += 1
        if lit:
            pieces.append([("".join(lit), ())])
        if not pieces:
            return [("", ())]
        if len(pieces) == 1:
            return pieces[0]
        out = [("".join(strs), conds) for strs, conds in _combinations(pieces)]
        if len(out) > 64:
            raise _Unevaluable("too many combinations")
        return out

    def expand_words(self, text: str) -> list[Word]:
        """Expand a list of words; a token that is exactly one variable splices its words
        with their own conditions, as make would list them."""
        words: list[Word] = []
        for token in _split_top(text):
            for s, conds in self._token_alts(token):
                for w in s.split():
                    words.append(Word(w, conds))
        return words

    def _token_alts(self, token: str) -> list[tuple[str, Conds]]:
        if token.startswith("$(") and token.endswith(")") and _find_close(token, 1) == len(token) - 1:
            inner = token[2:-1]
            if re.fullmatch(r"[A-Za-z0-9_.\-]+", inner) and not _CONFIG_RE.match(inner):
                return [(w.text, w.conds) for w in self.vars.get(inner, [])] if inner in self.vars \
                    else self._unknown_var(inner)
        return self.expand_alts(token)

    def _unknown_var(self, name: str) -> list[tuple[str, Conds]]:
        return [("", ())]

    def _config_alts(self, symbol: str, extra: Iterable[str] = ()) -> list[tuple[str, Conds]]:
        out: list[tuple[str, Conds]] = []
        for v in tuple(dict.fromkeys(("y", "m", *extra))) + ("n",):
            cond = Condition(symbol, "select", frozenset({v}), self.where, self.line_text)
            out.append(("" if v == "n" else v, (cond,)))
        return out

    def _var_alts(self, name: str) -> list[tuple[str, Conds]]:
        if _CONFIG_RE.match(name):
            return self._config_alts(name[len("CONFIG_"):], _EXTRA_VALUES)
        words = self.vars.get(name)
        if words is None:
            return self._unknown_var(name)
        if all(not w.conds for w in words):
            return [(" ".join(w.text for w in words), ())]
        if len(words) == 1:
            w = words[0]
            # Present under its conditions, empty otherwise.
            alts = [(w.text, w.conds)]
            if len(w.conds) == 1:
                alts.append(("", (w.conds[0].negate(),)))
            else:
                alts.append(("", ()))
            return alts
        # Several words, each under its own condition: when they are exclusive (the usual
        # `X := a` / `else X := b`) each word is one alternative.
        return [(w.text, w.conds) for w in words]

    def _reference(self, inner: str) -> list[tuple[str, Conds]]:
        m = re.match(r"([a-z-]+)[ \t]+(.*)$", inner, re.DOTALL)
        if m and m.group(1) in _FUNCTIONS:
            return _FUNCTIONS[m.group(1)](self, m.group(2))
        if m and re.fullmatch(r"[a-z-]+", m.group(1)) and " " in inner and "=" not in m.group(1):
            raise _Unevaluable(f"$({m.group(1)} ...)")
        # Substitution reference: $(VAR:a=b), $(VAR:%.o=%.c)
        sm = re.fullmatch(r"([^:]+):([^=]*)=(.*)", inner, re.DOTALL)
        if sm:
            alts = self._var_alts(self._name(sm.group(1)))
            pat, rep = sm.group(2), sm.group(3)
            if "%" not in pat:
                pat, rep = "%" + pat, "%" + rep
            return [(" ".join(_patsubst_word(pat, rep, w) for w in s.split()), c) for s, c in alts]
        return self._var_alts(self._name(inner))

    def _name(self, text: str) -> str:
        if "$" not in text:
            return text
        alts = self.expand_alts(text)
        if len(alts) != 1:
            raise _Unevaluable("computed variable name")
        return alts[0][0]

    def _args(self, text: str, n: int) -> list[str]:
        parts = _split_top(text, ",")
        if len(parts) > n:
            parts = parts[:n - 1] + [",".join(parts[n - 1:])]
        return parts + [""] * (n - len(parts))

    # -- statements --------------------------------------------------------
    def assign(self, lhs: str, op: str, rhs: str, stack: Conds) -> None:
        lhs = lhs.strip()
        for prefix in ("export ", "override "):
            if lhs.startswith(prefix):
                lhs = lhs[len(prefix):].strip()
                if prefix == "export ":
                    self.exported.add(lhs)
        if op == "!=":
            raise _Unevaluable("shell assignment")
        words = self.expand_words(rhs)
        for name, name_conds in self.expand_alts(lhs):
            name = name.strip()
            conds = merge_conds(stack, name_conds) if name and " " not in name else None
            if conds is not None:
                self._assign_one(name, op, conds, words)

    def _assign_one(self, name: str, op: str, conds: Conds, words: list[Word]) -> None:
        new = [Word(w.text, m) for w in words if (m := merge_conds(conds, w.conds)) is not None]
        old = self.vars.get(name)
        if op == "+=":
            self.vars[name] = (old or []) + new
        elif op == "?=" and old is not None:
            return
        elif not conds or not old:
            self.vars[name] = new
        else:
            # An overriding assignment under conditions keeps the old words where the
            # conditions fail: not(c1 and c2 ...) = (not c1) or (c1 and not c2) or ...
            kept: list[Word] = []
            for i, c in enumerate(conds):
                branch = conds[:i] + (c.negate(),)
                for w in old:
                    m = merge_conds(w.conds, branch)
                    if m is not None:
                        kept.append(Word(w.text, m))
            self.vars[name] = kept + new

    def branches(self, match: re.Match) -> tuple[list[Conds], list[Conds]]:
        """:meth:`condition` of a matched ``ifdef``/``ifeq``/... line; one that cannot be
        evaluated is recorded (with this line) and both branches are kept, unconditionally."""
        try:
            return self.condition(match.group(1), match.group(2))
        except _Unevaluable as e:
            self.unevaluated.append((self.where, f"{self.line_text} ({e})"))
            return [()], [()]

    def condition(self, keyword: str, arg: str) -> tuple[list[Conds], list[Conds]]:
        """(alternatives for the if-branch, alternatives for the else-branch); [] is never."""
        arg = arg.strip()
        yes: list[Conds]
        no: list[Conds]
        if keyword in ("ifdef", "ifndef"):
            name = self._name(arg)
            if _CONFIG_RE.match(name):
                c = Condition(name[len("CONFIG_"):], "ifdef", frozenset({"n"}), self.where,
                              self.line_text, negated=True)
                yes, no = [(c,)], [(c.negate(),)]
            else:
                value = " ".join(w.text for w in self.vars.get(name, []) if not w.conds)
                yes, no = ([()], []) if value.strip() else ([], [()])
            return (yes, no) if keyword == "ifdef" else (no, yes)
        left, right = _compare_args(arg)
        if left is None or right is None:   # _compare_args gives both or neither
            raise _Unevaluable("unreadable comparison")
        global _EXTRA_VALUES
        literals = frozenset(x.strip() for x in (left, right) if "$" not in x) - {"y", "m", ""}
        _EXTRA_VALUES = literals
        try:
            la, ra = self.expand_alts(left), self.expand_alts(right)
        finally:
            _EXTRA_VALUES = frozenset()
        true_sets: list[Conds] = []
        false_sets: list[Conds] = []
        for (ls, lc), (rs, rc) in itertools.product(la, ra):
            conds = merge_conds(lc, rc)
            if conds is None:
                continue
            (true_sets if ls.strip() == rs.strip() else false_sets).append(conds)
        kind = "ifeq"
        yes = _as_dnf(true_sets, kind)
        no = _as_dnf(false_sets, "ifneq")
        if len(yes) > 16 or len(no) > 16:
            raise _Unevaluable("condition has too many cases")
        return (yes, no) if keyword == "ifeq" else (no, yes)


def _as_dnf(sets: list[Conds], kind: str) -> list[Conds]:
    """"Any of ``sets``" as few alternatives as possible: alternatives that differ only in
    one symbol's value merge into one condition allowing those values (``[]``: never)."""
    if any(not s for s in sets):
        return [()]
    by_symbol: dict[str, set[str]] = {}
    for s in sets:
        if len({c.symbol for c in s}) != 1:
            break
        vals = set(TRISTATE) | {v for c in s for v in c.allowed}
        ok = set.intersection(*[set(c.satisfying(vals)) for c in s])
        by_symbol.setdefault(s[0].symbol, set()).update(ok)
    else:
        if len(by_symbol) == 1:
            sym, vals = next(iter(by_symbol.items()))
            return [(Condition(sym, kind, frozenset(vals), sets[0][0].where, sets[0][0].text),)]
    return [tuple(c.with_kind(kind) for c in alt) for alt in merge_alternatives(sets)]


def _compare_args(arg: str) -> tuple[str | None, str | None]:
    if arg.startswith("("):
        end = _find_close(arg, 0)
        if end < 0:
            return None, None
        parts = _split_top(arg[1:end], ",")
        if len(parts) != 2:
            return None, None
        return parts[0].strip(), parts[1].strip()
    m = re.fullmatch(r"""(['"])(.*?)\1\s+(['"])(.*?)\3""", arg)
    if m:
        return m.group(2), m.group(4)
    return None, None


def _patsubst_word(pat: str, rep: str, word: str) -> str:
    if "%" in pat:
        pre, _, suf = pat.partition("%")
        if word.startswith(pre) and word.endswith(suf) and len(word) >= len(pre) + len(suf):
            stem = word[len(pre):len(word) - len(suf)]
            return rep.replace("%", stem, 1)
        return word
    return rep if word == pat else word


def _match_pattern(pat: str, word: str) -> bool:
    if "%" in pat:
        pre, _, suf = pat.partition("%")
        return word.startswith(pre) and word.endswith(suf) and len(word) >= len(pre) + len(suf)
    return word == pat


def _fn_map(per_word: Callable[[list[str], str], str | None]) -> Callable[[Evaluator, str, int], list[tuple[str, Conds]]]:
    """A make function applying to each word of its last argument (addprefix, patsubst...):
    the list keeps each word's own conditions."""
    def fn(ev: Evaluator, text: str, nargs: int) -> list[tuple[str, Conds]]:
        args = ev._args(text, nargs)
        fixed_alts = [ev.expand_alts(a) for a in args[:-1]]
        words = ev.expand_words(args[-1])
        out = []
        for fixed, conds in _combinations(fixed_alts):
            strs = [s.strip() for s in fixed]
            for w in words:
                m = merge_conds(conds, w.conds)
                if m is None:
                    continue
                res = per_word(strs, w.text)
                if res is not None:
                    out.append((res, m))
        return out or [("", ())]
    return fn


def _fn_whole(apply: Callable[[list[str]], str]) -> Callable[[Evaluator, str, int], list[tuple[str, Conds]]]:
    """A make function over whole strings (subst, if): every combination of its arguments."""
    def fn(ev: Evaluator, text: str, nargs: int) -> list[tuple[str, Conds]]:
        args = ev._args(text, nargs)
        return [(apply(strs), conds) for strs, conds in _combinations([ev.expand_alts(a) for a in args])]
    return fn


def _filter(keep: bool) -> Callable[[list[str], str], str | None]:
    def per(strs: list[str], w: str) -> str | None:
        hit = any(_match_pattern(p, w) for p in strs[0].split())
        return w if hit == keep else None
    return per


_FUNCTIONS = {
    "addprefix": lambda ev, t: _fn_map(lambda s, w: s[0] + w)(ev, t, 2),
    "addsuffix": lambda ev, t: _fn_map(lambda s, w: w + s[0])(ev, t, 2),
    "patsubst": lambda ev, t: _fn_map(lambda s, w: _patsubst_word(s[0], s[1], w))(ev, t, 3),
    "filter": lambda ev, t: _fn_map(_filter(True))(ev, t, 2),
    "filter-out": lambda ev, t: _fn_map(_filter(False))(ev, t, 2),
    "sort": lambda ev, t: _fn_map(lambda s, w: w)(ev, t, 1),
    "strip": lambda ev, t: _fn_map(lambda s, w: w)(ev, t, 1),
    "basename": lambda ev, t: _fn_map(lambda s, w: posixpath.splitext(w)[0])(ev, t, 1),
    "notdir": lambda ev, t: _fn_map(lambda s, w: posixpath.basename(w))(ev, t, 1),
    "dir": lambda ev, t: _fn_map(lambda s, w: posixpath.dirname(w) + "/")(ev, t, 1),
    "subst": lambda ev, t: _fn_whole(lambda a: a[2].replace(a[0], a[1]))(ev, t, 3),
    "if": lambda ev, t: _fn_whole(lambda a: a[1] if a[0].strip() else a[2])(ev, t, 3),
    "or": lambda ev, t: _fn_whole(lambda a: a[0].strip() or a[1].strip())(ev, t, 2),
    "and": lambda ev, t: _fn_whole(lambda a: a[1].strip() if a[0].strip() else "")(ev, t, 2),
}

# Variables kbuild reads from a directory's Makefile to decide what to build and visit
# (obj-*, subdir-*, composite lists foo-y/foo-objs); flags, host programs and clean lists
# are not, so trouble evaluating them is not worth reporting.
_RELEVANT_RE = re.compile(r"^(obj|subdir|core|drivers|libs)-|-(y|m|objs)$|^[A-Za-z0-9_\-]+-\$\(CONFIG_")
_IRRELEVANT_RE = re.compile(
    r"^(export\s+)?(ccflags|asflags|ldflags|cppflags|rustflags|subdir-ccflags|subdir-asflags|always|extra|"
    r"targets|hostprogs|userprogs|userccflags|userldflags|hostccflags|hostldflags|hostcflags|clean|lib-|"
    r"KBUILD|CFLAGS|AFLAGS|LDFLAGS|CPPFLAGS|OBJECT_FILES|GCOV|KASAN|KCSAN|UBSAN|KCOV|KMSAN|OBJTOOL|"
    r"quiet|cmd|no-clean|header-test|dtb|dtc|vdso|HOST|KCOV|LLVM|INSTRUMENT|CC_|RUST|purgatory|"
    r"[a-z0-9_]*flags)")


def _relevant(lhs: str) -> bool:
    lhs = lhs.strip()
    return bool(_RELEVANT_RE.search(lhs)) and not _IRRELEVANT_RE.match(lhs)


def _logical_lines(text: str) -> Iterable[tuple[int, str, bool]]:
    """(line number, logical line, starts with a tab) with continuations joined."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        start = i
        line = lines[i]
        while line.endswith("\\") and (len(line) - len(line.rstrip("\\"))) % 2 == 1 and i + 1 < len(lines):
            i += 1
            line = line[:-1] + " " + lines[i].lstrip()
        yield start + 1, line, lines[start].startswith("\t")
        i += 1


def _strip_comment(line: str) -> str:
    idx = line.find("#")
    while idx >= 0:
        if idx == 0 or line[idx - 1] != "\\":
            return line[:idx]
        idx = line.find("#", idx + 1)
    return line


def _find_assign(line: str) -> tuple[int, str] | None:
    """Position and operator of a variable assignment, None for rules and other lines."""
    depth = 0
    i = 0
    n = len(line)
    while i < n:
        ch = line[i]
        if ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        elif depth == 0:
            if ch == "=" :
                if i > 0 and line[i - 1] in "+?!":
                    return i - 1, line[i - 1] + "="
                return i, "="
            if ch == ":":
                if line.startswith("::=", i):
                    return i, "::="
                if line.startswith(":=", i):
                    return i, ":="
                return None  # a rule (or a target-specific variable): not kbuild's lists
        i += 1
    return None


def evaluate_makefile(tree: Path, directory: str, file: str, ev: Evaluator,
                      included: int = 0, outer: list[Conds] | None = None) -> None:
    """Run the statements of one makefile (tree-relative path) through ``ev``; ``outer``
    are the conditions it is read under (an ``include`` inside an ``ifdef``)."""
    ev.files_read.add(file)
    try:
        text = (tree / file).read_text(encoding="utf-8", errors="replace")
    except OSError:
        ev.unevaluated.append((file, "cannot read makefile"))
        return
    _MakefileReader(tree, directory, file, ev, included, [()] if outer is None else outer).read(text)


class _MakefileReader:
    """One makefile's logical lines, as make reads them: define blocks kept for ``$(call)``,
    recipe lines of rules skipped, conditionals nested, every other statement evaluated under
    the conditions in force. ``at`` names the line every statement is reported at (for text
    an ``$(eval ...)`` made: the eval's line)."""

    def __init__(self, tree: Path, directory: str, file: str, ev: Evaluator, included: int,
                 outer: list[Conds], at: str | None = None) -> None:
        self.tree, self.directory, self.file, self.ev, self.included = tree, directory, file, ev, included
        self.outer = outer
        self.at = at
        # one frame per open conditional: [conditions in force, else-branch conditions, active]
        self.stack: list[list] = []
        self.in_rule = False
        self.in_define = 0
        self.define: tuple[str, list[str]] | None = None

    def read(self, text: str) -> None:
        for lineno, raw, tab in _logical_lines(text):
            if self.in_define:
                self._inside_define(raw)
                continue
            if tab and self.in_rule:
                continue
            line = _strip_comment(raw).strip()
            if line:
                self.ev.where, self.ev.line_text = self.at or f"{self.file}:{lineno}", line
                self.in_rule = False
                self._line(line)

    def _inside_define(self, raw: str) -> None:
        if re.match(r"^\s*endef\b", raw):
            self.in_define -= 1
            if not self.in_define and self.define is not None:
                self.ev.defines[self.define[0]] = "\n".join(self.define[1])
                self.define = None
                return
        elif re.match(r"^\s*(export\s+|override\s+)?define\b", raw):
            self.in_define += 1
        if self.define is not None:
            self.define[1].append(raw)

    @property
    def current(self) -> list[Conds] | None:
        return self.stack[-1][0] if self.stack else self.outer

    def _line(self, line: str) -> None:
        m = _COND_RE.match(line)
        if m:
            self._open_conditional(m)
        elif line.startswith("else"):
            self._else(line)
        elif line.startswith("endif"):
            if self.stack:
                self.stack.pop()
        elif self.current is not None:
            self._statement(line, self.current)

    def _open_conditional(self, m: re.Match) -> None:
        current = self.current
        if current is None:
            self.stack.append([None, None, False])
            return
        yes, no = self.ev.branches(m)
        self.stack.append([_conj(current, yes), _conj(current, no), True])

    def _else(self, line: str) -> None:
        if not self.stack:
            self.ev.unevaluated.append((self.ev.where, "else without if"))
            return
        frame = self.stack[-1]
        parent = self.stack[-2][0] if len(self.stack) > 1 else self.outer
        frame[0], pending = frame[1], frame[1]
        mm = _COND_RE.match(line[4:].strip())
        if not mm:
            frame[1] = None
        elif pending is None or parent is None:
            frame[0], frame[1] = None, None
        else:
            yes, no = self.ev.branches(mm)
            frame[0], frame[1] = _conj(pending, yes), _conj(pending, no)

    def _statement(self, line: str, current: list[Conds]) -> None:
        ev = self.ev
        dm = re.match(r"^(export\s+|override\s+)?define\s+([A-Za-z0-9_.\-]+)\s*(?:[:+?]?=)?\s*$", line)
        if dm or re.match(r"^(export\s+|override\s+)?define\b", line):
            self.in_define = 1
            self.define = (dm.group(2), []) if dm else None
            return
        im = _INCLUDE_RE.match(line)
        if im:
            _include(self.tree, self.directory, im, ev, self.included, current)
            return
        pos = _find_assign(line)
        if pos is None:
            self._other(line)
            return
        idx, op = pos
        lhs, rhs = line[:idx], line[idx + len(op):].strip()
        try:
            for alt in current:
                ev.assign(lhs, op, rhs, alt)
        except _Unevaluable as e:
            if _relevant(lhs):
                ev.unevaluated.append((ev.where, f"{line} ({e})"))

    def _other(self, line: str) -> None:
        """A line that is no assignment: an export list, a rule, a function call, or something
        kbuild would read that can't be evaluated here (recorded, not guessed)."""
        if re.match(r"^export\s+[A-Za-z0-9_\s]+$", line):
            self.ev.exported.update(line.split()[1:])
        elif re.match(r"^\$\((eval|foreach)\s", line):
            self._eval(line)
        elif ":" in line:
            self.in_rule = True
        elif re.match(r"^(unexport|vpath|\$\(call|\$\(info|\$\(warning)", line):
            pass
        elif _relevant(line):
            self.ev.unevaluated.append((self.ev.where, line))


    def _eval(self, line: str) -> None:
        """A top-level ``$(eval ...)`` or ``$(foreach ...)`` line, as kbuild Makefiles use them to
        stamp out object lists from a ``define`` (``$(foreach t,$(list-y),$(eval $(call TPL,$(t),y)))``,
        drivers/platform/x86/intel/Makefile): each text the eval makes is read as statements,
        under the conditions of the list word it was made from."""
        ev, where, current = self.ev, self.ev.where, self.current
        try:
            blocks = _eval_blocks(ev, line, {}, evaluated=False)
        except _Unevaluable as e:
            ev.unevaluated.append((where, f"{line} ({e})"))
            return
        for text, conds in blocks:
            under = _conj(current, [conds])
            if under is not None and text.strip():
                _MakefileReader(self.tree, self.directory, self.file, ev, self.included, under, at=where).read(text)
        ev.where, ev.line_text = where, line


def _eval_blocks(ev: Evaluator, text: str, bound: dict[str, str], *, evaluated: bool
                 ) -> list[tuple[str, Conds]]:
    """The makefile texts ``$(eval ...)`` would read from ``text`` (``evaluated``: already
    inside an eval), each with the conditions of the foreach words it came from.

    Handles ``$(foreach VAR,LIST,BODY)``, ``$(eval BODY)`` and ``$(call NAME,ARG,...)`` of a
    ``define``; anything else inside is substituted textually and left to the statements."""
    text = text.strip()
    m = re.match(r"^\$\((foreach|eval|call)\s+", text)
    if not m or _find_close(text, 1) != len(text) - 1:
        return [(_bind(text, bound), ())] if evaluated else []
    inner = text[m.end():-1]
    kind = m.group(1)
    if kind == "eval":
        return _eval_blocks(ev, inner, bound, evaluated=True)
    if kind == "foreach":
        var, items, body = (part.strip() for part in ev._args(inner, 3))
        out: list[tuple[str, Conds]] = []
        for word in ev.expand_words(_bind(items, bound)):
            for block, conds in _eval_blocks(ev, body, {**bound, var: word.text}, evaluated=evaluated):
                merged = merge_conds(word.conds, conds)
                if merged is not None:
                    out.append((block, merged))
        return out
    name, *args = (part.strip() for part in _split_top(inner, ","))
    define = ev.defines.get(name)
    if define is None:
        raise _Unevaluable(f"$(call {name}) of no define")
    values = {}
    for i, arg in enumerate(args, 1):
        alts = ev.expand_alts(_bind(arg, bound))
        if len(alts) != 1 or alts[0][1]:
            raise _Unevaluable(f"argument {i} of $(call {name}) is not one plain word")
        values[str(i)] = alts[0][0].strip()
    return [(_bind(define, values), ())] if evaluated else []


def _bind(text: str, bound: Mapping[str, str]) -> str:
    """``text`` with ``$(NAME)``/``${NAME}`` of the bound names (foreach variables, call
    arguments) replaced by their values."""
    for name, value in bound.items():
        text = text.replace(f"$({name})", value).replace(f"${{{name}}}", value)
    return text


def _conj(a: list[Conds] | None, b: list[Conds] | None) -> list[Conds] | None:
    """Both of two alternative lists; None when that can never hold."""
    if a is None or b is None:
        return None
    out = [m for x in a for y in b if (m := merge_conds(x, y)) is not None]
    return out or None


def _include(tree: Path, directory: str, im: re.Match, ev: Evaluator, included: int,
             current: list[Conds]) -> None:
    optional = im.group(1) != "include"
    try:
        targets = [s for s, _ in ev.expand_alts(im.group(2))]
    except _Unevaluable:
        targets = []
    for target in " ".join(targets).split():
        rel = posixpath.normpath(target.lstrip("/"))
        rel = rel.removeprefix("./")
        # scripts/ makefiles hold rules and flags, never kbuild's object lists.
        if rel.startswith(("scripts/", "include/config/")):
            continue
        if not (tree / rel).is_file():
            if not optional:
                ev.unevaluated.append((ev.where, f"include {target}: not in the tree"))
            continue
        if included > 8:
            ev.unevaluated.append((ev.where, f"include {target}: nested too deep"))
            continue
        evaluate_makefile(tree, directory, rel, ev, included + 1, current)


def relabel(conds: Conds, kind: str) -> Conds:
    """Name what a symbol picking a variable name (``obj-$(CONFIG_X)``) means once the list
    is known: ``=m`` puts a word in obj-m ("module"), ``=y`` in obj-y ("builtin")."""
    def label(c: Condition) -> Condition:
        if c.kind != "select" or c.negated:
            return c
        by_allowed = {frozenset({"m"}): "module", frozenset({"y"}): "builtin",
                      frozenset({"y", "m"}): "guard"}
        return c.with_kind(by_allowed.get(c.allowed, kind))
    return tuple(label(c) for c in conds)


def merge_alternatives(alts: list[Conds]) -> list[Conds]:
    """Merge alternatives that differ in one condition on the same symbol (obj-y with
    X=y and obj-m with X=m become one guard "X is y or m")."""
    alts = list(dict.fromkeys(alts))
    changed = True
    while changed and len(alts) > 1:
        changed = False
        for i, j in itertools.combinations(range(len(alts)), 2):
            a, b = alts[i], alts[j]
            if len(a) != len(b):
                continue
            diff = [k for k in range(len(a)) if a[k] != b[k]]
            if len(diff) != 1:
                continue
            ca, cb = a[diff[0]], b[diff[0]]
            if ca.symbol != cb.symbol or ca.negated or cb.negated or ca.where != cb.where:
                continue
            allowed = ca.allowed | cb.allowed
            kind = "guard" if allowed == frozenset({"y", "m"}) else ca.kind
            merged = a[:diff[0]] + (Condition(ca.symbol, kind, allowed, ca.where, ca.text),) + a[diff[0] + 1:]
            alts = [x for k, x in enumerate(alts) if k not in (i, j)] + [merged]
            changed = True
            break
    return alts
