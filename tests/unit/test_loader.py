"""Loading .dig files: strict YAML, locations, !include."""

from __future__ import annotations

import pytest

from digpy.core.errors import ConfigError
from digpy.core.language.dig.loader import load_file, load_text
from digpy.core.workflow.located import key_location, value_location


def test_values_keep_their_types_and_dates_stay_strings():
    data = load_text("a: 1\nb: 2016-01-01\nc: 07:00:00\nd: yes\ne: true\nf: 1.5\ng: null\nh: [1, x]\n")
    assert data == {"a": 1, "b": "2016-01-01", "c": "07:00:00", "d": "yes", "e": True, "f": 1.5, "g": None,
                    "h": [1, "x"]}


def test_non_string_keys_read_as_json_writes_them():
    assert dict(load_text("true: a\nnull: b\n1: c\nfalse: d\n")) == {"true": "a", "null": "b", "1": "c", "false": "d"}


def test_every_key_and_value_knows_its_location():
    data = load_text("+a:\n  echo>: hi\n+b:\n    sh>: x\n", "wf.dig")
    assert str(key_location(data, "+b")) == "wf.dig:3:1"
    assert str(key_location(data["+b"], "sh>")) == "wf.dig:4:5"
    assert str(value_location(data["+a"], "echo>")) == "wf.dig:2:10"


def test_duplicate_keys_are_an_error_at_the_second_key():
    with pytest.raises(ConfigError) as e:
        load_text("+a:\n  echo>: 1\n+a:\n  echo>: 2\n", "wf.dig")
    assert str(e.value) == "wf.dig:3:1: duplicated key '+a' (first at line 1)"


def test_invalid_yaml_is_located():
    with pytest.raises(ConfigError) as e:
        load_text("+a:\n  echo>: [1, 2\n", "wf.dig")
    assert str(e.value).startswith("wf.dig:3:1: invalid YAML")


def test_a_tab_indent_says_to_use_spaces():
    with pytest.raises(ConfigError) as e:
        load_text("+a:\n\techo>: 1\n", "wf.dig")
    assert str(e.value) == ("wf.dig:2:1: invalid YAML: found character that cannot start any token; "
                            "YAML does not allow tabs for indentation: indent with spaces")


def test_unknown_tags_are_an_error():
    with pytest.raises(ConfigError, match="unknown YAML tag '!env'"):
        load_text("a: !env HOME\n")


def test_top_level_must_be_a_mapping(tmp_path):
    path = tmp_path / "wf.dig"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match=r"wf\.dig:1:1: a workflow file must be a mapping"):
        load_file(path)


def test_empty_file_is_an_empty_mapping(tmp_path):
    path = tmp_path / "wf.dig"
    path.write_text("# nothing\n")
    assert load_file(path) == {}


def test_include_as_key_merges_and_as_value_substitutes(tmp_path):
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "t.dig").write_text("+inc:\n  echo>: included\n_export:\n  b: 2\n")
    (tmp_path / "params.yml").write_text("x: 1\ny: [1, 2]\n")
    (tmp_path / "wf.dig").write_text(
        "_export:\n  a: 1\n!include : 'tasks/t.dig'\n+main:\n  _export: !include 'params.yml'\n  echo>: m\n"
    )
    data = load_file(tmp_path / "wf.dig")
    assert data["_export"] == {"a": 1, "b": 2}
    assert data["+inc"] == {"echo>": "included"}
    assert data["+main"]["_export"] == {"x": 1, "y": [1, 2]}
    assert str(key_location(data["+inc"], "echo>")) == "tasks/t.dig:2:3"


def test_include_must_stay_inside_the_including_directory(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (tmp_path / "secret.dig").write_text("a: 1\n")
    (sub / "wf.dig").write_text("!include : '../secret.dig'\n")
    with pytest.raises(ConfigError, match="points outside the directory"):
        load_file(sub / "wf.dig")


def test_include_cycles_and_missing_files_are_errors(tmp_path):
    (tmp_path / "a.dig").write_text("!include : 'b.dig'\n")
    (tmp_path / "b.dig").write_text("!include : 'a.dig'\n")
    with pytest.raises(ConfigError, match="includes itself"):
        load_file(tmp_path / "a.dig")
    (tmp_path / "c.dig").write_text("x: !include 'nope.dig'\n")
    with pytest.raises(ConfigError, match=r"c.dig:1:4: !include 'nope.dig': file not found"):
        load_file(tmp_path / "c.dig", display_root=tmp_path)


def test_non_utf8_file_is_a_clear_error(tmp_path):
    (tmp_path / "wf.dig").write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(ConfigError, match="is not UTF-8"):
        load_file(tmp_path / "wf.dig")


def test_an_alias_is_a_copy_of_its_anchor_with_the_anchor_locations():
    data = load_text("_export: &defaults\n  a: [1, 2]\n+t:\n  _export: *defaults\n  echo>: hi\n", "wf.dig")
    assert data["+t"]["_export"] == {"a": [1, 2]}
    assert data["+t"]["_export"] is not data["_export"]
    assert str(value_location(data["+t"], "_export")) == "wf.dig:1:10", "where the anchor is"


def test_limits_are_located_errors():
    with pytest.raises(ConfigError, match=r"^wf\.dig:1:\d+: values are nested more than 100 levels deep"):
        load_text("a: " + "[" * 200 + "]" * 200 + "\n", "wf.dig")
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]\n" for i in range(6))
    with pytest.raises(ConfigError, match=r"more than 250,000 values"):
        load_text(laughs, "wf.dig")
