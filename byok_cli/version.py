"""byok's version, apart from the package so that modules can name it without importing
the package (and its lazy API) first."""

__version__ = "0.1.0"


def version_line() -> str:
    """What `byok --version` prints (the Typer option and the fast path alike)."""
    return f"byok {__version__}\n"
