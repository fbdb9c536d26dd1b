"""`byok run`: the command's options and help; what it does is in `run_body`."""

from __future__ import annotations

from typing import List, Optional

import typer

from . import complete
from .options import BASE_URL, EFFORT, MAX_TOKENS, SHOW_REASONING, STRICT, TEMPERATURE
from .root import single, state
from .state import MAX_ID
from .run_body import run as run_prompt


def run(
    ctx: typer.Context,
    prompt: Optional[List[str]] = typer.Argument(None, help="The prompt (stdin comes first)."),
    system: Optional[str] = typer.Option(None, "--system", "-s", metavar="TEXT",
                                        help="System prompt."),
    model: Optional[str] = typer.Option(None, "--model", "-m",
                                        help="Model id, alias, or PROVIDER/MODEL.",
                                        autocompletion=complete.models),
    provider: Optional[str] = typer.Option(None, "--provider", "-p",
                                           help="A provider (see `byok provider list`).",
                                           autocompletion=complete.providers),
    key: Optional[str] = typer.Option(None, "--key", "-k", metavar="NAME",
                                      help="Which of the provider's keys: a stored key's "
                                           "name, or its environment variable."),
    max_tokens: Optional[int] = MAX_TOKENS,
    temperature: Optional[float] = TEMPERATURE,
    effort: Optional[str] = EFFORT,
    base_url: Optional[str] = BASE_URL,
    no_stream: bool = typer.Option(False, "--no-stream", help="Wait for the whole answer."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object at the end."),
    explain: bool = typer.Option(False, "--explain", help="Show the plan; send nothing."),
    no_fallback: bool = typer.Option(False, "--no-fallback",
                                     help="No model or provider fallback."),
    chain: bool = typer.Option(False, "--fallback",
                               help="With -p or -m: use the fallback chain when that "
                                    "provider is unavailable."),
    cont: bool = typer.Option(False, "--continue", "-c",
                              help="Continue the latest conversation."),
    cid: Optional[int] = typer.Option(None, "--cid", min=1, max=MAX_ID, metavar="ID",
                                      help="Continue conversation ID."),
    no_log: bool = typer.Option(False, "--no-log",
                                help="Keep this prompt and answer out of the history."),
    no_stdin: bool = typer.Option(False, "--no-stdin",
                                  help="Do not read stdin, even when it is a pipe or a file."),
    no_header: bool = typer.Option(False, "--no-header",
                                   help="With --explain: leave out the header lines."),
    wide: bool = typer.Option(False, "--wide",
                              help="With --explain: every column, however narrow the "
                                   "terminal."),
    cost: bool = typer.Option(False, "--cost", help="Show what the answer cost, on stderr."),
    allow_unpriced: bool = typer.Option(False, "--allow-unpriced",
                                        help="Send to a model of unknown price under a budget."),
    schema: Optional[str] = typer.Option(None, "--schema", metavar="SCHEMA",
                                         help="The answer must be JSON fitting this JSON "
                                              "Schema: a file, inline JSON, or 'name, age "
                                              "int'. stdout gets exactly the JSON."),
    schema_multi: Optional[str] = typer.Option(None, "--schema-multi", metavar="SCHEMA",
                                               help="As --schema, for a list of such objects "
                                                    "(as {\"items\": [...]})."),
    show_reasoning: bool = SHOW_REASONING,
    attach: Optional[List[str]] = typer.Option(None, "--attach", "-a",
                                               metavar="PATH|URL|-",
                                               help="Attach an image (PNG, JPEG, GIF, "
                                                    "WebP) or a PDF; repeatable. - reads "
                                                    "it from stdin."),
    strict: bool = STRICT,
) -> None:
    """Send a prompt and stream the answer to stdout.

    Examples:

      byok run "explain SIGPIPE in one line"

      git diff | byok run -m haiku "write a commit message"

      byok run -c -p anthropic "and now in French"

      byok run -m openrouter/meta-llama/llama-4-maverick -k work "hi"

      byok run --explain -p anthropic

      byok run -m opus --effort low "a quick answer"

      byok run --schema 'name, age int' "invent a person"

      byok run -a receipt.pdf -a photo.png "do these match?"
    """
    # ctx.params holds every parameter above by name; the fast path passes the same.
    run_prompt(state(ctx), **ctx.params)


app = single("run", run)
