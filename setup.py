"""Package discovery for setuptools; everything else is declared in pyproject.toml.

The folders core/, plugins/, server/, client/ and migrations/ install as digpy.core, digpy.plugins,
digpy.server, digpy.client and digpy.migrations. Every folder under them is found (with or without an
__init__.py), and every file in them ships, so a new sub-package or a folder of templates or static
files cannot be left out of the wheel. .ci/smoke_wheel.py checks the installed wheel.
"""

from __future__ import annotations

from setuptools import find_namespace_packages, setup

FOLDERS = ("core", "plugins", "server", "client", "migrations")

package_dir = {"digpy": "digpy"}
packages = ["digpy"]
for folder in FOLDERS:
    package_dir[f"digpy.{folder}"] = folder
    packages += [f"digpy.{folder}",
                 *(f"digpy.{folder}.{name}" for name in find_namespace_packages(folder, exclude=["*__pycache__"]))]

setup(
    package_dir=package_dir,
    packages=packages,
    # Non-Python files of every package: JavaScript, templates, alembic's script.py.mako, static files.
    package_data={"": ["*"]},
    exclude_package_data={"": ["*.py[cod]", "*~"]},
)
