"""Options `run` and `chat` share: one declaration each, so that both say the same."""

from __future__ import annotations

import typer

from . import complete

TEMPERATURE = typer.Option(None, "--temperature", min=0.0, max=2.0, metavar="T",
                           help="Sampling temperature, for models that take one: lower is "
                                "more predictable.")
EFFORT = typer.Option(None, "--effort", metavar="LEVEL", autocompletion=complete.efforts,
                      help="Effort or reasoning level (low, medium, high…), for models that "
                           "have one.")
MAX_TOKENS = typer.Option(None, "--max-tokens", min=1, metavar="N",
                          help="Upper bound on the answer's length, in tokens.")
BASE_URL = typer.Option(None, "--base-url", metavar="URL",
                        help="API base URL for the provider used (wins over the environment "
                             "and the profile).")
SHOW_REASONING = typer.Option(False, "--show-reasoning",
                              help="Show the model's reasoning or thinking, dimmed, on stderr.")
STRICT = typer.Option(False, "--strict",
                      help="An answer cut off at the token limit is an error (exit 20), not a "
                           "warning.")
