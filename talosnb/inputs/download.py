"""Verified downloads into talosnb's cache: what the pkgs build fetches, checked the way it checks.

A file is downloaded once (with pooch) into ``cache_dir()/downloads`` and kept
only when its sha256 (and, when given, its sha512) matches; a mismatch removes
the file and is refused, so a tampered or truncated download is never used.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from talosnb.core import cacheentry
from talosnb.core.errors import InputError
from talosnb.core.paths import cache_dir
from talosnb.core.progress import progress_bar


def file_digest(path: str | Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verified_download(url: str, fname: str, sha256: str, *, sha512: str | None = None,
                      progress: bool = True, mismatch_hint: str, http_hint: str, offline_hint: str) -> Path:
    """``url`` as ``cache_dir()/downloads/fname``, verified against sha256 (and sha512); reused after.

    Errors are InputErrors naming the URL: a hash mismatch (the file is removed), an
    HTTP error status, or no connection (``*_hint`` say what to do about each).
    """
    import pooch
    import requests

    folder = cache_dir() / "downloads"
    logger = pooch.get_logger()
    level = logger.level
    # pooch logs every download at INFO; talosnb shows a progress bar instead.
    logger.setLevel("WARNING")
    # pooch takes a bar of ours (its own would write to stderr, past a notebook's loading widget)
    bar = progress_bar(unit="B", unit_scale=True, desc=fname, leave=False) if progress else False
    try:
        # pooch writes a download to a temporary file and renames it into place once verified;
        # the lock makes a second run wait for the first one's download instead of fetching it again
        with cacheentry.building(folder / fname, f"downloading {fname}", optional=True):
            path = Path(pooch.retrieve(url, known_hash=f"sha256:{sha256}", fname=fname, path=folder,
                                       downloader=pooch.HTTPDownloader(progressbar=bar, timeout=60)))
    except ValueError as e:
        if "hash" not in str(e).lower():
            raise
        raise InputError(f"downloaded {fname} does not match the expected sha256 {sha256}; the file was removed",
                         where=url, hint=mismatch_hint) from None
    except requests.exceptions.HTTPError as e:
        code = e.response.status_code if e.response is not None else "?"
        raise InputError(f"cannot download {fname}: HTTP {code}", where=url, hint=http_hint) from None
    except (requests.exceptions.RequestException, OSError) as e:
        raise InputError(f"cannot download {fname}: offline or the server is unreachable ({type(e).__name__})",
                         where=url, hint=offline_hint) from None
    finally:
        logger.setLevel(level)
    if sha512 is not None and file_digest(path, "sha512") != sha512:
        # pooch checked one hash; the pkgs build checks both, so a sha512 mismatch is refused too
        path.unlink(missing_ok=True)
        raise InputError(f"downloaded {fname} does not match the expected sha512 {sha512}; the file was removed",
                         where=url, hint=mismatch_hint)
    return path
