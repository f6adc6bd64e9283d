"""genspec: do general-purpose LLMs beat domain specialists?

The import package is deliberately light: ``import genspec`` pulls in pluggy only,
so the CLI starts fast and plugin packages can import ``genspec.hookimpl`` cheaply.
Heavy libraries (torch, transformers, mlflow, litellm) are imported where used.
"""

from genspec.hookspecs import hookimpl

__all__ = ["__version__", "hookimpl"]
__version__ = "0.1.0"
