"""Search as people search, on the real Talos v1.10 configs and the 6.12.117 tree: words in any order,
ranked by where they were found, the same from the index kept on disk as from the loaded trees."""

from __future__ import annotations

import json
import shutil

import pytest
from engine_fixtures import DATA

from talosnb.cli.main import main


@pytest.fixture(scope="module")
def v110_pkgs(tmp_path_factory):
    if not DATA["v1.10"].is_dir():
        pytest.skip("../shared/data/talos-v1.10 not present")
    copy = tmp_path_factory.mktemp("search") / "pkgs"
    shutil.copytree(DATA["v1.10"] / "pkgs", copy)
    return copy


def _search(capsys, pkgs, tree, *words: str, limit: int = 30) -> list[dict]:
    code = main(["search", "--pkgs", str(pkgs), "--talos", str(DATA["v1.10"] / "talos"), "--kernel-src", str(tree),
                 "--format", "json", "--limit", str(limit), *words])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)["results"]


def test_search_ranks_words_in_any_order_on_the_real_configs(capsys, v110_pkgs, trees):
    tree = trees["6.12"]
    nvme = _search(capsys, v110_pkgs, tree, "nvme", "over", "tcp")
    assert nvme[0]["symbol"] == "NVME_TCP" and nvme[0]["where"] == "name, prompt"
    assert nvme[0]["values"] == {"amd64": "y", "arm64": "y"}
    assert _search(capsys, v110_pkgs, tree, "tcp over nvme")[0]["symbol"] == "NVME_TCP"   # any order
    serial = [r["symbol"] for r in _search(capsys, v110_pkgs, tree, "usb serial")]
    assert {"USB_SERIAL_FTDI_SIO", "USB_SERIAL_CP210X", "USB_SERIAL_CH341"} <= set(serial[:12])
    mellanox = _search(capsys, v110_pkgs, tree, "Mellanox")
    ranks = [r["rank"] for r in mellanox]
    assert ranks == sorted(ranks)                        # name hits, then prompts, modules, help
    top = [r["symbol"] for r in mellanox]
    assert top.index("MLX5_CORE") < 5 and top.index("MLX5_CORE") < top.index("MLX_WDT")
    assert all(r["match"] != "help" for r in mellanox[:top.index("MLX5_CORE") + 1])
    # trademark noise folded: "Intel(R) Ethernet ..." prompts
    intel = _search(capsys, v110_pkgs, tree, "intel ethernet")
    assert "ICE" in [r["symbol"] for r in intel[:10]]
    # a help hit says where, with the words in context
    help_hit = next(r for r in _search(capsys, v110_pkgs, tree, "ftdi", limit=50) if r["match"] == "help")
    assert help_hit["where"] == "help" and "ftdi" in help_hit["snippet"].lower()
    # a module name or path finds the symbol that builds it
    nbd = _search(capsys, v110_pkgs, tree, "kernel/drivers/block/nbd.ko")
    assert [(r["symbol"], r["match"]) for r in nbd] == [("BLK_DEV_NBD", "module")]


def test_search_index_on_disk_answers_like_the_loaded_trees(v110_pkgs, trees):
    from talosnb.analyses.search import SearchIndex, live_values
    from talosnb.app.search import open_search

    tree = trees["6.12"]
    talos = DATA["v1.10"] / "talos"
    from talosnb.app.session import Session

    open_search(v110_pkgs, talos, tree)
    again = open_search(v110_pkgs, talos, tree)
    assert again.from_cache and again.session is None     # no tree loaded the second time
    loaded = Session.open(v110_pkgs, talos, tree, kbuild=True)
    index = SearchIndex.build(loaded.configs, loaded.loaded_kbuild_maps())
    for query in ("mellanox", "usb serial", "wireguard", "drivers/net/wireguard/", "VIRTOI_NET"):
        want = [h.as_dict() for h in index.find(query, values=live_values(loaded.configs))]
        assert [h.as_dict() for h in again.find(query)] == want, query
    # another config text: not answered from the stored index
    config = v110_pkgs / "kernel" / "build" / "config-amd64"
    text = config.read_text()
    config.write_text(text.replace("CONFIG_DUMMY=y\n", "CONFIG_DUMMY=m\n"))
    try:
        edited = open_search(v110_pkgs, talos, tree)
        assert not edited.from_cache and edited.find("DUMMY")[0].values["amd64"] == "m"
    finally:
        config.write_text(text)


def test_a_warm_search_loads_no_tree_and_no_pandas(tmp_path):
    """The second search of the same inputs reads the stored index: no kconfiglib, no pandas, no Kbuild
    map in the process (the embedded sample; the timing is benchmarks/bench_search.py's)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = ("import sys\nfrom talosnb.cli.main import main\nmain(['search', 'dummy', '--format', 'json'])\n"
            "print('|' + ','.join(m for m in ('pandas', 'kconfiglib', 'talosnb.kbuild.model') if m in sys.modules))\n")
    env = {"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "TALOSNB_CACHE_DIR": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root,
                           env=env).stdout for _ in range(2)]
    assert "kconfiglib" in runs[0].rsplit("|", 1)[1]          # the first run loads the trees
    assert runs[1].rsplit("|", 1)[1].strip() == ""
    assert json.loads(runs[1].rsplit("|", 1)[0])["results"][0]["symbol"] == "DUMMY"


def test_get_shows_the_modules_a_symbol_builds_and_where_the_list_has_them(capsys, v110_pkgs, trees):
    talos = DATA["v1.10"] / "talos"
    code = main(["get", "--pkgs", str(v110_pkgs), "--talos", str(talos), "--kernel-src", str(trees["6.12"]),
                 "MLX5_CORE", "USB_SERIAL_FTDI_SIO"])
    out = capsys.readouterr().out
    assert code == 0, out
    for arch in ("amd64", "arm64"):
        lines = (talos / "hack" / f"modules-{arch}.txt").read_text().splitlines()
        number = lines.index("kernel/drivers/net/ethernet/mellanox/mlx5/core/mlx5_core.ko") + 1
        assert (f"module: kernel/drivers/net/ethernet/mellanox/mlx5/core/mlx5_core.ko: built as a module, "
                f"listed at hack/modules-{arch}.txt:{number}") in out
    # =y on arm64 in v1.10: no .ko to copy, and the list rightly lacks it
    arm64 = out[out.index("USB_SERIAL_FTDI_SIO [arm64]"):]
    assert "module: kernel/drivers/usb/serial/ftdi_sio.ko: built in (no .ko), not in the module list" in arm64


def test_search_as_text_ranks_like_people_search(capsys, v110_pkgs, trees):
    """The command's text, as a person reads it: each hit's first line names the symbol, its values and where
    its words were found, best first."""
    code = main(["search", "--pkgs", str(v110_pkgs), "--talos", str(DATA["v1.10"] / "talos"), "--kernel-src",
                 str(trees["6.12"]), "--limit", "12", "usb", "serial"])
    out = capsys.readouterr().out
    assert code == 0, out
    heads = [line.split() for line in out.split("\n\n", 1)[1].splitlines() if line[:1].isupper()]
    assert heads[0] == ["USB_SERIAL", "tristate", "[amd64=y,", "arm64=y]", "(name)"]
    names = [h[0] for h in heads]
    assert len(names) == 12 and {"USB_SERIAL_FTDI_SIO", "USB_SERIAL_CP210X", "USB_SERIAL_CH341"} <= set(names)
    ftdi = heads[names.index("USB_SERIAL_FTDI_SIO")]
    assert ftdi[2:] == ["[amd64=m,", "arm64=y]", "(name-prefix:", "name)"]
