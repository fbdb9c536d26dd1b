"""`byok config set | get | show`: the profile's settings."""

from __future__ import annotations

import typer

from ..catalog import load
from ..errors import ByokError, Code
from . import complete, output
from .root import group, state

app = group("Show and change the profile's settings.")

# setting name -> database column
SETTINGS = {
    "preferred-provider": "preferred_provider",
    "openai.model": "openai_model",
    "anthropic.model": "anthropic_model",
    "openai.base_url": "openai_base_url",
    "anthropic.base_url": "anthropic_base_url",
    "logging": "logging",
    "show-cost": "show_cost",
    "allow-unpriced": "allow_unpriced",
    "openai.send_env_key": "openai_send_env_key",
    "anthropic.send_env_key": "anthropic_send_env_key",
}
ON_OFF = {"logging", "show_cost", "allow_unpriced", "openai_send_env_key",
          "anthropic_send_env_key"}


def _column(name: str) -> str:
    column = SETTINGS.get(name.strip().lower())
    if column is None:
        raise ByokError(Code.USAGE, f"unknown setting {name!r}",
                        hint="one of: " + ", ".join(SETTINGS))
    return column


def _check(name: str, column: str, value: str) -> str | None:
    from ..urls import check

    value = value.strip()
    if column == "preferred_provider":
        if value not in ("openai", "anthropic", "system"):
            raise ByokError(Code.USAGE, f"preferred-provider must be openai, anthropic or system, "
                            f"not {value!r}")
        return value
    if column in ON_OFF:
        if value not in ("on", "off"):
            raise ByokError(Code.USAGE, f"{name} must be on or off, not {value!r}")
        return value
    if value in ("", "default", "none"):
        return None  # back to the default
    if column.endswith("_model"):
        provider = column.split("_")[0]
        return load().resolve(value, provider)[1]
    return check(value, name)


def _shown(column: str, value: str | None) -> str | None:
    from ..urls import shown

    return shown(value) if value and column.endswith("_base_url") else value


@app.command("set")
def set_value(ctx: typer.Context,
              name: str = typer.Argument(..., metavar="NAME", autocompletion=complete.settings),
              value: str = typer.Argument(..., metavar="VALUE")) -> None:
    """Change a setting of the profile ("default" or "none" resets a model or URL).

    Examples:

      byok config set preferred-provider anthropic

      byok config set openai.base_url http://localhost:11434/v1
    """
    st = state(ctx)
    column = _column(name)
    st.store.set_setting(st.profile, column, _check(name.strip().lower(), column, value))
    output.info(f"{name} = {_shown(column, st.store.settings(st.profile)[column]) or '(default)'} "
                f"for profile {st.profile!r}")


@app.command("get")
def get_value(ctx: typer.Context,
              name: str = typer.Argument(..., metavar="NAME", autocompletion=complete.settings)
              ) -> None:
    """Print one setting's value (empty when it is the default).

    Example:

      byok config get preferred-provider
    """
    st = state(ctx)
    column = _column(name)
    typer.echo(_shown(column, st.store.settings(st.profile)[column]) or "")


@app.command("show")
def show(ctx: typer.Context,
         as_json: bool = typer.Option(False, "--json", help="Print a JSON object.")) -> None:
    """Show every setting of the profile.

    Example:

      byok --profile work config show --json
    """
    st = state(ctx)
    settings = st.store.settings(st.profile)
    values = {name: _shown(column, settings[column]) for name, column in SETTINGS.items()}
    if as_json:
        output.emit_json({"profile": st.profile, **values})
        return
    output.table(["setting", "value"], [[k, v if v is not None else "(default)"]
                                        for k, v in values.items()])
