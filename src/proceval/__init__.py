"""proceval: causal templates → controlled items → language models and people → analyses."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("proceval")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

from proceval.errors import ProcevalError

__all__ = ["ProcevalError", "__version__"]
