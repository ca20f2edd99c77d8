"""talosnb export: run a notebook with parameters and write one HTML file that opens offline."""

from __future__ import annotations

import argparse
import sys

from talosnb.core.errors import InputError

from .common import ExitStatus, Result, follow_symlinks_option, positive

_HTML = (".html", ".htm")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Run NOTEBOOK.ipynb (papermill-style: -p values go into a cell after the one tagged 'parameters') "
        "in a fresh kernel and write it as one HTML file that opens offline: no CDN script, widget outputs "
        "shown as the static rendering each talosnb widget carries, images and styles inline.")
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = ("examples:\n"
                "  talosnb export notebooks/01-compare-architectures.ipynb -o compare.html\n"
                "  talosnb export notebooks/00-workbench.ipynb -o wb.html -p pkgs ~/src/pkgs -p talos ~/src/talos "
                "-p kernel_src /usr/src/linux-source-6.12.tar.xz\n"
                "  talosnb export notebooks/03-module-lists.ipynb -o lists.html --no-execute   # stored outputs")
    p.add_argument("notebook", metavar="NOTEBOOK.ipynb")
    p.add_argument("--output", "-o", required=True, metavar="FILE.html", help="where to write the HTML")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="set a parameter (None, True/False and numbers are read as such, anything else "
                        "as text); repeatable")
    p.add_argument("--no-execute", action="store_true",
                   help="don't run the notebook: convert its stored outputs (no -p then)")
    p.add_argument("--save-notebook", metavar="FILE.ipynb", help="also write the executed notebook")
    p.add_argument("--timeout", type=positive, default=600, metavar="SECONDS", help="per cell (default 600)")
    p.add_argument("--kernel", metavar="NAME", help="kernel to run it in (default: the notebook's)")
    p.add_argument("--format", default="text", choices=["text", "json"], help="output format")
    p.add_argument("--progress", action="store_true", help="show a progress bar over the cells")
    follow_symlinks_option(p)


def run(args: argparse.Namespace) -> Result:
    from talosnb.present.notebook import export_notebook, parse_value, read_notebook

    if not args.output.lower().endswith(_HTML):
        raise InputError(f"--output {args.output}: the export is HTML; name the file *.html")
    if not args.notebook.lower().endswith(".ipynb"):
        raise InputError(f"{args.notebook}: not a notebook file", hint="give an .ipynb file")
    if args.no_execute and args.parameter:
        raise InputError("-p sets values for a run; with --no-execute nothing runs", hint="drop one of them")
    parameters = {}
    for name, value in args.parameter:
        if not name.isidentifier():
            raise InputError(f"-p {name}: not a parameter name", hint="a Python variable name, e.g. pkgs")
        parameters[name] = parse_value(value)
    on_cell, bar = None, None
    if args.progress and not args.no_execute:
        from tqdm import tqdm

        cells = sum(1 for c in read_notebook(args.notebook).cells if c.cell_type == "code")
        bar = tqdm(total=cells + (1 if parameters else 0), desc="running cells", unit="cell", file=sys.stderr)

        def on_cell(**_kwargs: object) -> None:
            bar.update(1)
    try:
        done = export_notebook(args.notebook, args.output, parameters=parameters, timeout=args.timeout,
                               kernel_name=args.kernel, execute_cells=not args.no_execute, on_cell=on_cell,
                               save_notebook=args.save_notebook, follow_symlinks=args.follow_symlinks)
    finally:
        if bar is not None:
            bar.close()
    text = (f"{done['notebook']}: {'ran ' + str(done['code_cells']) + ' code cells, ' if not args.no_execute else ''}"
            f"{done['widget_outputs']} widget output(s) rendered statically\n"
            f"written to {done['output']} ({done['bytes']} bytes, no network resources)\n")
    return Result(done, text, ExitStatus.OK)
