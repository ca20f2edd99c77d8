"""talosnb search: symbols by the words of their name, prompt, help text or module."""

from __future__ import annotations

import argparse

from talosnb.core.errors import InputError

from .common import ExitStatus, Result, common_options, context, inputs_context


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Every word, in any order, is looked for in each symbol's name, prompt, help text and the "
                     "modules it builds (case and (R)/(TM) ignored). Ranked: the exact name, names starting with "
                     "the words, names holding them all, names and prompts, modules, help texts; then similar "
                     "names. A .ko name or path, or a source file or folder (drivers/block/), finds the symbols "
                     "that build it (via the Kbuild files). Each hit says where its words were found.")
    common_options(p)
    p.add_argument("text", nargs="+")
    p.add_argument("--limit", type=int, default=30)
    p.add_argument("--no-modules", action="store_true", help="don't read the Kbuild files (faster the first time)")


def run(args: argparse.Namespace) -> Result:
    query = " ".join(args.text)
    if not query.strip():
        raise InputError("nothing to search for", hint="give a symbol name, words of a prompt, or a module name")
    if args.toolchain == "recorded" and not args.toolchain_from:
        # the index and values kept on disk: a repeated search loads no tree
        from talosnb.app.search import open_search

        source = open_search(args.pkgs, args.talos, args.kernel_src, arch=args.arch,
                             patches=not args.no_patches, modules=not args.no_modules, progress=args.progress)
        hits = source.find(query, limit=args.limit)
        payload, text = context(source.session) if source.session is not None else inputs_context(source.inputs)
    else:
        from talosnb.analyses.search import SearchIndex, live_values

        from .common import open_session

        session = open_session(args)
        maps = None
        if not args.no_modules:
            maps = {arch: session.kbuild_map(arch, progress=args.progress) for arch in session.configs}
        hits = SearchIndex.build(session.configs, maps).find(query, limit=args.limit,
                                                             values=live_values(session.configs))
        payload, text = context(session)
    payload["query"] = query
    payload["results"] = [hit.as_dict() for hit in hits]
    if not hits:
        text += f"\nnothing matches {query!r}\n"
    for hit in hits:
        values = ", ".join(f"{a}={v}" for a, v in sorted(hit.values.items()))
        how = hit.match if hit.where == [hit.match] else f"{hit.match}: {', '.join(hit.where)}"
        text += f"\n{hit.symbol:32} {hit.type:8} [{values}]  ({how})\n"
        if hit.prompt:
            text += f"  {hit.prompt}\n"
        if hit.snippet:
            text += f"  {'help' if 'help' in hit.where else 'module'}: {hit.snippet}\n"
        text += f"  {hit.defined_at}\n"
    return Result(payload, text, ExitStatus.OK)
