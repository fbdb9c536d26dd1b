"""`--schema` (issue 22): a JSON Schema from a file, inline JSON or the concise form, sent in
each API's structured-output form (the SDK contract tests compare the bodies), the answer
checked here, stdout exactly the JSON; models and providers that cannot take one refused."""

import json

import pytest

from byok_cli.errors import ByokError, Code
from byok_cli.schema import concise, first_violation, is_strict, load, parse_answer
from conftest import ANTHROPIC_GOOD, OPENAI_GOOD

PERSON = {"type": "object", "properties": {
    "name": {"type": "string", "minLength": 1},
    "age": {"type": "integer", "minimum": 0},
    "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}, "maxItems": 3},
    "kind": {"enum": ["human", "robot"]},
    "email": {"anyOf": [{"type": "string", "pattern": "@"}, {"type": "null"}]}},
    "required": ["name", "age"], "additionalProperties": False,
    "$defs": {"tag": {"type": "string", "maxLength": 5}}}


# What the fake answers fits this one (its strings are "Echo[<model>]").
FITTING = json.loads(json.dumps(PERSON).replace('"maxLength": 5', '"maxLength": 40')
                     .replace('"pattern": "@"', '"pattern": "^Echo"'))


def posts(fake):
    return [r for r in fake.requests if r["method"] == "POST"]


# --- the validator ----------------------------------------------------------------------------

@pytest.mark.parametrize("value, why", [
    ({"name": "Ana", "age": 3}, None),
    ({"name": "Ana", "age": 3.0, "tags": ["a", "b"], "kind": "robot", "email": None}, None),
    ({"name": "Ana"}, "$: missing required property 'age'"),
    ({"name": "Ana", "age": "3"}, "$.age: expected integer, got string"),
    ({"name": "Ana", "age": True}, "$.age: expected integer, got boolean"),
    ({"name": "", "age": 3}, "$.name: shorter than 1 characters"),
    ({"name": "Ana", "age": -1}, "$.age: -1 breaks minimum 0"),
    ({"name": "Ana", "age": 3, "tags": ["a", "toolong"]}, "$.tags[1]: longer than 5 characters"),
    ({"name": "Ana", "age": 3, "tags": ["a"] * 4}, "$.tags: more than 3 items"),
    ({"name": "Ana", "age": 3, "kind": "cat"}, '$.kind: "cat" is not one of "human", "robot"'),
    ({"name": "Ana", "age": 3, "email": "nope"}, "$.email: matches none of the anyOf choices"),
    ({"name": "Ana", "age": 3, "x": 1}, "$: property 'x' is not allowed"),
    ([1], "$: expected object, got array"),
])
def test_first_violation(value, why):
    assert first_violation(value, {"type": "object", **PERSON}) == why


def test_a_hostile_depth_is_bounded():
    deep: dict = {"type": "object"}
    for _ in range(100):
        deep = {"type": "object", "properties": {"a": deep}}
    with pytest.raises(ByokError) as caught:
        load(json.dumps(deep))
    assert caught.value.code == Code.USAGE and "nested" in caught.value.message
    value: list = []
    for _ in range(200):
        value = [value]
    assert "nested" in first_violation(value, {"items": {"$ref": "#"}, "type": "array"})


def test_concise_form_and_strictness():
    assert concise("name, age int, score float: 0 to 1, ok bool") == {
        "type": "object", "properties": {
            "name": {"type": "string"}, "age": {"type": "integer"},
            "score": {"type": "number", "description": "0 to 1"}, "ok": {"type": "boolean"}},
        "required": ["name", "age", "score", "ok"], "additionalProperties": False}
    assert is_strict(concise("a, b int")) and not is_strict(PERSON)
    assert not is_strict({"type": "object", "properties": {"a": {"type": "string"}},
                          "additionalProperties": False})  # a not required
    with pytest.raises(ByokError):
        concise("name, age integer-ish")


def test_answers_that_are_not_json():
    assert parse_answer('```json\n{"a": 1}\n```') == {"a": 1}
    with pytest.raises(ByokError) as caught:
        parse_answer("Sure! Here it is: {")
    assert caught.value.code == Code.SCHEMA_MISMATCH and "not JSON" in caught.value.message


# --- through the installed byok -------------------------------------------------------------

@pytest.mark.parametrize("provider, key", [("openai", OPENAI_GOOD),
                                           ("anthropic", ANTHROPIC_GOOD)])
def test_run_schema_stdout_is_exactly_the_json(byok_env, fake, tmp_path, provider, key):
    byok_env.set_key(provider, key)
    model = "gpt-6.2-sol" if provider == "openai" else "claude-sonnet-5-5"
    path = tmp_path / "person.json"
    path.write_text(json.dumps(FITTING))
    for given in (str(path), json.dumps(FITTING)):
        r = byok_env.run("run", "-p", provider, "-m", model, "--schema", given, "a person")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout) == {"name": f"Echo[{model}]", "age": 42,
                                        "tags": [f"Echo[{model}]"], "kind": "human",
                                        "email": f"Echo[{model}]"}
        assert r.stdout.count("\n") == 1 and r.stderr == ""
    body = posts(fake)[-1]["body"]
    if provider == "openai":
        assert body["response_format"] == {"type": "json_schema", "json_schema": {
            "name": "answer", "schema": FITTING, "strict": False}}
    else:
        assert body["output_config"] == {"format": {"type": "json_schema", "schema": FITTING}}
    r = byok_env.run("run", "-p", provider, "-m", model, "--schema-multi", "name, age int",
                     "--json", "people")
    out = json.loads(r.stdout)
    assert out["data"] == {"items": [{"name": f"Echo[{model}]", "age": 42}]}
    assert json.loads(out["text"]) == out["data"]


def test_an_answer_that_breaks_the_schema_is_a_distinct_exit(byok_env, fake):
    """The fake fills strings with Echo[<model>], which a maxLength of 3 refuses."""
    byok_env.set_key("openai", OPENAI_GOOD)
    schema = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 3}},
              "required": ["name"], "additionalProperties": False}
    r = byok_env.run("run", "-m", "gpt-6.2-sol", "--schema", json.dumps(schema), "a name")
    assert r.returncode == Code.SCHEMA_MISMATCH.exit_status == 22, r.stderr
    assert r.stdout == ""
    assert "does not fit the schema: $.name: longer than 3 characters" in r.stderr
    # the answer is kept, so that `-c` can ask for a fix
    listed = json.loads(byok_env.run("history", "list", "--json").stdout)
    assert len(listed) == 1
    assert "Echo[gpt-6.2-sol]" in byok_env.run("history", "show", str(listed[0]["id"])).stdout


@pytest.mark.parametrize("args, words", [
    (["--schema", "{not json"], "--schema is not valid JSON"),
    (["--schema", "/no/such/schema.json"], "there is no schema file"),
    (["--schema", '{"type": "array"}'], "must describe an object"),
    (["--schema", "name, age years"], "unknown type 'years'"),
    (["--schema", "a", "--schema-multi", "b"], "cannot be used together"),
    (["-p", "deepseek", "--schema", "a"], "DeepSeek cannot be held to a JSON Schema"),
])
def test_schemas_and_providers_refused_before_sending(byok_env, fake, args, words):
    byok_env.set_key("openai", OPENAI_GOOD)
    byok_env.set_key("deepseek", "sk-" + "d" * 32)
    r = byok_env.run("run", *args, "hi")
    assert r.returncode == Code.USAGE.exit_status, r.stderr
    assert words in r.stderr
    assert posts(fake) == []


def test_a_catalogued_model_without_structured_output_is_refused():
    from byok_cli.catalog.curated import load as catalogue

    assert "cannot be held to a JSON Schema" in catalogue().refuses(
        "anthropic", "claude-opus-4-20250514", schema=True)
    assert catalogue().refuses("anthropic", "claude-haiku-4-5", schema=True) is None


def test_python_api_takes_a_schema(in_process, fake):
    import byok_cli

    b = byok_cli.Byok()
    b.keychain.set("openai", OPENAI_GOOD)
    b.store.set_setting("default", "preferred_provider", "openai")
    result = b.ask("a person", model="gpt-6.2-sol", schema="name, age int", log=False)
    assert result.outcome.data == {"name": "Echo[gpt-6.2-sol]", "age": 42}
    with pytest.raises(ByokError) as caught:
        b.ask("a person", model="gpt-6.2-sol", log=False,
              schema={"type": "object", "properties": {"age": {"type": "string",
                                                               "maxLength": 3}}})
    assert caught.value.code == Code.SCHEMA_MISMATCH
