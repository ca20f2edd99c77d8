"""The wheel's packages: talosnb, and the repository's data/ and notebooks/ folders, which the wheel
carries as talosnb/data and talosnb/notebooks.

data/ (the embedded sample) and notebooks/ stay at the top of the repository, where people look for
them; an installed talosnb finds them inside the package instead (talosnb.core.paths).
Everything else is in pyproject.toml.

Which files go in: every file git tracks under these folders (setuptools-scm lists them; the sdist
keeps the list for a wheel built from it), so a new data file under talosnb/ (a profiles/*.toml)
ships without a line here. Every folder is named as a package (a namespace package where it has no
__init__.py), as setuptools wants for folders that hold package data.
"""

from setuptools import find_namespace_packages, setup

EMBEDDED = {"talosnb.data": "data", "talosnb.notebooks": "notebooks"}


def folders(package: str, where: str) -> list[str]:
    """`package` and a package name for every folder below `where` (caches left out)."""
    found = find_namespace_packages(where=where, exclude=["*__pycache__*", "*.egg-info*"])
    return [package, *(f"{package}.{name}" for name in found)]


packages = [name for name in folders("talosnb", "talosnb")]
for package, where in EMBEDDED.items():
    packages += folders(package, where)

setup(packages=packages, package_dir=EMBEDDED, include_package_data=True,
      exclude_package_data={"": ["*.py[co]"]})
