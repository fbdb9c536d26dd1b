"""byok: bring your own AI provider keys.

The command-line tool is built on a small Python API that scripts can use too; see
:mod:`byok_cli.api`.
"""

__version__ = "0.1.0"
