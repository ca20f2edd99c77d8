"""Small random Kconfig trees and .config files, for checking talosnb's value rules against conf.

Each case is a Kconfig of 8-24 symbols of every type (bool, tristate, int,
hex, string) using the constructs real trees use: prompts with conditions,
`depends on` (also Linux 7.x `depends on X if Y`), defaults with conditions,
`select`/`imply`, ranges with constant and symbol bounds, comparisons, choices
with defaults and dependent members, `menu`/`if` blocks with `visible if`,
`transitional` symbols (Linux 7.x) and the `modules` symbol. Every expression
refers only to symbols defined earlier, so no case has a dependency loop. With
each tree comes a .config assigning a random part of its symbols (values of
the right type, int/hex sometimes out of range, choice members, old names of
transitional symbols).

Everything is drawn from a `random.Random`, so a seed names a case.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class _Sym:
    name: str
    kind: str                 # bool, tristate, int, hex, string
    choice: int | None = None  # index of the choice it belongs to
    transitional: bool = False
    prompt: bool = True
    low: int | None = None    # the constant range, for drawing values
    high: int | None = None


@dataclass
class Case:
    seed: str
    kconfig: str
    config: str
    symbols: list[str] = field(default_factory=list)


class _Gen:
    def __init__(self, rng: random.Random, modern: bool) -> None:
        self.rng = rng
        self.modern = modern
        self.syms: list[_Sym] = []
        self.lines: list[str] = []
        self.has_modules = rng.random() < 0.8
        self.choices = 0

    # --- expressions over what is defined so far -------------------------

    def _tri_syms(self) -> list[_Sym]:
        return [s for s in self.syms if s.kind in ("bool", "tristate") and not s.transitional]

    def _num_syms(self) -> list[_Sym]:
        return [s for s in self.syms if s.kind in ("int", "hex") and not s.transitional]

    def expr(self, depth: int = 0) -> str:
        rng = self.rng
        tris = self._tri_syms()
        nums = self._num_syms()
        roll = rng.random()
        if depth < 2 and roll < 0.25 and tris:
            op = rng.choice(["&&", "||"])
            return f"({self.expr(depth + 1)} {op} {self.expr(depth + 1)})"
        if roll < 0.35 and tris:
            return f"!{self.atom(tris)}"
        if roll < 0.5 and nums:
            sym = rng.choice(nums)
            value = rng.randint(-2, 40)
            const = hex(max(value, 0)) if sym.kind == "hex" and rng.random() < 0.7 else str(value)
            return f"{sym.name} {rng.choice(['=', '!=', '<', '<=', '>', '>='])} {const}"
        strings = [s for s in self.syms if s.kind == "string" and not s.transitional]
        if roll < 0.53 and strings:
            sym = rng.choice(strings)
            return f'{sym.name} {rng.choice(["=", "!="])} "{rng.choice(["", "a", "0", "10"])}"'
        if roll < 0.6 and tris:
            sym = rng.choice(tris)
            value = rng.choice(["y", "m", "n"])
            # not `BOOL != y`: conf's expr_transform() turns it into !<the symbol read as an
            # expression>, undefined behaviour (it crashes or answers at random)
            op = "=" if sym.kind == "bool" and value == "y" else rng.choice(["=", "!="])
            return f"{sym.name} {op} {value}"
        if tris:
            return self.atom(tris)
        return rng.choice(["y", "n", "m"])

    def atom(self, tris: list[_Sym]) -> str:
        if self.rng.random() < 0.1:
            return self.rng.choice(["y", "m", "n"])
        return self.rng.choice(tris).name

    def cond(self, p: float) -> str:
        return f" if {self.expr()}" if self.rng.random() < p else ""

    # --- entries ---------------------------------------------------------

    def _defined_again(self, sym: _Sym) -> list[str]:
        """`sym` defined again elsewhere, as arch and driver Kconfigs do: more prompts and defaults."""
        out = ["", f"config {sym.name}"]
        if self.rng.random() < 0.5:
            out.append(f'\tprompt "{sym.name.lower()} again"{self.cond(0.5)}')
        out.append(f"\tdefault {self.default_value(sym)}{self.cond(0.5)}")
        if self.rng.random() < 0.5:
            out.append(f"\tdepends on {self.expr()}")
        if sym.kind in ("bool", "tristate"):
            out.append(f"\t#SELECTS {sym.name}")
        return out

    def symbol(self, indent: str = "") -> None:
        rng = self.rng
        kind = rng.choices(["bool", "tristate", "int", "hex", "string"], [35, 30, 13, 10, 12])[0]
        sym = _Sym(f"S{len(self.syms)}", kind)
        out = [f"{indent}config {sym.name}"]
        prompt = rng.random() < 0.75
        sym.prompt = prompt
        if prompt and kind in ("bool", "tristate") and rng.random() < 0.1:
            out[0] = f"{indent}menuconfig {sym.name}"
        if not prompt and kind in ("bool", "tristate") and rng.random() < 0.4:
            # def_bool EXPR: the type and a default in one line
            out.append(f"{indent}\tdef_{kind} {self.default_value(sym)}{self.cond(0.3)}")
        else:
            out.append(f'{indent}\t{kind} "{sym.name.lower()}"{self.cond(0.2)}' if prompt else f"{indent}\t{kind}")
        if rng.random() < 0.35:
            depends = self.expr()
            if self.modern and rng.random() < 0.15 and self._tri_syms():
                depends += f" if {self.expr()}"  # Linux 7.x
            out.append(f"{indent}\tdepends on {depends}")
        for _ in range(rng.choice([0, 1, 1, 2])):
            out.append(f"{indent}\tdefault {self.default_value(sym)}{self.cond(0.4)}")
        if kind in ("int", "hex") and rng.random() < 0.4:
            out.append(f"{indent}\trange {self.range(sym)}{self.cond(0.25)}")
        if kind in ("bool", "tristate"):
            # select/imply symbols defined later: filled in once they exist
            out.append(f"{indent}\t#SELECTS {sym.name}")
        if rng.random() < 0.08:
            out += self._defined_again(sym)
        self.syms.append(sym)
        self.lines += out
        if rng.random() < 0.05:
            self.lines += ["", f'comment "after {sym.name}"'] + (
                [f"\tdepends on {self.expr()}"] if rng.random() < 0.6 else [])

    def default_value(self, sym: _Sym) -> str:
        rng = self.rng
        if sym.kind in ("bool", "tristate"):
            return self.expr() if rng.random() < 0.5 else rng.choice(["y", "m", "n"])
        same = [s for s in self.syms if s.kind == sym.kind and not s.transitional]
        if same and rng.random() < 0.3:
            return rng.choice(same).name
        if sym.kind == "string":
            return '"' + rng.choice(["", "a", "b c", "0", "10"]) + '"'
        number = rng.randint(-3, 50) if sym.kind == "int" else rng.randint(0, 60)
        if sym.kind == "hex":
            return rng.choice([hex(number), f"0x{number:X}", format(number, "x")])
        return str(number)

    def range(self, sym: _Sym) -> str:
        rng = self.rng
        low = rng.randint(0, 10)
        high = low + rng.randint(0, 30)
        sym.low, sym.high = low, high
        same = [s for s in self._num_syms() if s.kind == sym.kind]
        lo = hex(low) if sym.kind == "hex" else str(low)
        hi = hex(high) if sym.kind == "hex" else str(high)
        if same and rng.random() < 0.25:
            hi = rng.choice(same).name
        return f"{lo} {hi}"

    def choice(self) -> None:
        rng = self.rng
        index = self.choices
        self.choices += 1
        out = ["choice", f'\tprompt "choice {index}"{self.cond(0.15)}']
        if rng.random() < 0.3:
            out.append(f"\tdepends on {self.expr()}")
        members = [_Sym(f"C{index}_{i}", "bool", choice=index) for i in range(rng.randint(2, 4))]
        if rng.random() < 0.7:
            out.append(f"\tdefault {rng.choice(members).name}{self.cond(0.3)}")
        if rng.random() < 0.2:
            out.append(f"\tdefault {rng.choice(members).name}")
        self.lines += out + [""]
        for member in members:
            self.lines.append(f"config {member.name}")
            self.lines.append(f'\tbool "{member.name.lower()}"')
            if rng.random() < 0.25:
                self.lines.append(f"\tdepends on {self.expr()}")
            self.lines.append("")
        self.lines.append("endchoice")
        self.syms += members

    def transitional(self) -> None:
        """An old name kept for configs that still set it, feeding the new symbol's default."""
        kind = self.rng.choice(["bool", "tristate", "int", "string"])
        old = _Sym(f"OLD{len(self.syms)}", kind, transitional=True, prompt=False)
        new = _Sym(f"S{len(self.syms) + 1}", kind)
        self.lines += [f"config {old.name}", f"\t{kind}", "\ttransitional", "\thelp", "\t  old name", "",
                       f"config {new.name}", f'\t{kind} "{new.name.lower()}"',
                       f"\tdefault {old.name}"]
        if kind in ("bool", "tristate"):
            self.lines.append(f"\t#SELECTS {new.name}")
        self.lines.append("")
        self.syms += [old, new]

    def build(self, count: int) -> str:
        rng = self.rng
        if self.has_modules:
            self.lines += ["config MODULES", '\tbool "modules"', f"\tdefault {rng.choice('yyn')}", "\tmodules", ""]
            self.syms.append(_Sym("MODULES", "bool"))
        while len(self.syms) < count:
            roll = rng.random()
            if roll < 0.1:
                self.choice()
            elif roll < 0.16 and self.modern:
                self.transitional()
            elif roll < 0.26 and self._tri_syms():
                keyword = rng.choice(["menu", "if"])
                if keyword == "menu":
                    self.lines += [f'menu "menu {len(self.syms)}"']
                    if rng.random() < 0.5:
                        self.lines.append(f"\tvisible if {self.expr()}")
                    if rng.random() < 0.5:
                        self.lines.append(f"\tdepends on {self.expr()}")
                    self.lines.append("")
                else:
                    self.lines += [f"if {self.expr()}", ""]
                for _ in range(rng.randint(1, 3)):
                    self.symbol()
                    self.lines.append("")
                self.lines += ["endmenu" if keyword == "menu" else "endif", ""]
            else:
                self.symbol()
                self.lines.append("")
        return self._fill_selects()

    def _fill_selects(self) -> str:
        rng = self.rng
        out = []
        for line in self.lines:
            if not line.strip().startswith("#SELECTS"):
                out.append(line)
                continue
            name = line.split()[-1]
            position = next(i for i, s in enumerate(self.syms) if s.name == name)
            later = [s for s in self.syms[position + 1:]
                     if s.kind in ("bool", "tristate") and not s.transitional and s.choice is None]
            indent = line[:len(line) - len(line.lstrip())]
            # conditions, like everything else, only over symbols defined before
            every, self.syms = self.syms, self.syms[:position]
            for _ in range(rng.choice([0, 0, 0, 1, 1, 2])):
                if later:
                    keyword = rng.choice(["select", "select", "imply"])
                    out.append(f"{indent}{keyword} {rng.choice(later).name}{self.cond(0.3)}")
            self.syms = every
        return "\n".join(out) + "\n"

    def config(self) -> str:
        rng = self.rng
        lines = ["# random .config"]
        for sym in self.syms:
            if rng.random() > 0.5:
                continue
            lines.append(self.line(sym))
        rng.shuffle(lines[1:])
        return "\n".join(lines) + "\n"

    def line(self, sym: _Sym) -> str:
        rng = self.rng
        if sym.kind in ("bool", "tristate"):
            value = rng.choice(["y", "n"] if sym.kind == "bool" else ["y", "m", "n"])
            return f"# CONFIG_{sym.name} is not set" if value == "n" else f"CONFIG_{sym.name}={value}"
        if sym.kind == "string":
            return f'CONFIG_{sym.name}="{rng.choice(["", "x", "a b", "07"])}"'
        if sym.low is not None and rng.random() < 0.7:
            number = rng.randint(max(sym.low - 3, 0), sym.high + 3)
        else:
            number = rng.randint(0, 70)
        if sym.kind == "hex":
            return f"CONFIG_{sym.name}={rng.choice([hex(number), format(number, 'x')])}"
        return f"CONFIG_{sym.name}={number}"


def make_case(seed: str, *, modern: bool = True) -> Case:
    """The case named `seed`; `modern` draws Linux 7.x syntax too (transitional, depends on X if Y)."""
    rng = random.Random(seed)
    gen = _Gen(rng, modern)
    kconfig = gen.build(rng.randint(8, 24))
    return Case(seed, kconfig, gen.config(), [s.name for s in gen.syms])
