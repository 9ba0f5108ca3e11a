"""Build hook: bundle libllmemory.so into the wheel.

From a checkout, `pip install ./python` runs `make` in the repository (the library's own build)
and copies build/debug/libllmemory.so into the package, so the installed package needs no
compiler and finds its library without configuration. LLMEMORY_LIBRARY=/path/libllmemory.so
bundles that file instead; LLMEMORY_NO_BUNDLE=1 bundles nothing (the package then loads the
library installed on the system).
"""

import os
import shutil
import subprocess
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _library() -> "Path | None":
    if os.environ.get("LLMEMORY_NO_BUNDLE"):
        return None
    env = os.environ.get("LLMEMORY_LIBRARY")
    if env:
        return Path(env)
    if (ROOT / "Makefile").exists() and (ROOT / "include" / "llmemory.h").exists():
        subprocess.run(["make", "-C", str(ROOT), "-j2", "build/debug/libllmemory.so"], check=True)
        return ROOT / "build" / "debug" / "libllmemory.so"
    return None


class BuildPy(build_py):
    def run(self) -> None:
        super().run()
        lib = _library()
        if lib is not None:
            dest = Path(self.build_lib) / "llmemory" / "libllmemory.so"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(lib, dest)


class BinaryDistribution(Distribution):
    """The wheel carries a shared library, so it is platform-specific."""

    def has_ext_modules(self) -> bool:
        return not os.environ.get("LLMEMORY_NO_BUNDLE")


cmdclass = {"build_py": BuildPy}
try:
    from wheel.bdist_wheel import bdist_wheel

    class BdistWheel(bdist_wheel):
        """Not tied to one CPython: the package has no extension module, only the library."""

        def get_tag(self):  # type: ignore[no-untyped-def]
            _, _, plat = super().get_tag()
            return "py3", "none", plat

    cmdclass["bdist_wheel"] = BdistWheel
except ImportError:  # pragma: no cover
    pass

setup(cmdclass=cmdclass, distclass=BinaryDistribution)
