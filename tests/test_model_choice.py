"""Which model a build uses: the default (index.embed.DEFAULT_MODEL) or the user's remembered choice, and the one line that
says why an index of another model is rebuilt."""

from __future__ import annotations

import pytest

from conftest import FakeEmbedder
from index import store
from index.embed import DEFAULT_MODEL, MINILM
from index.search import config_for
from ingest.build import build, choose_model


def _manifest(index_dir):
    return store.read_manifest(store.current_version(index_dir), index_dir)


def test_each_model_keeps_its_own_fitted_values():
    assert DEFAULT_MODEL in (MINILM, "all-mpnet-base-v2")
    assert config_for("all-mpnet-base-v2") != config_for(MINILM)  # each model has its own fitted values
    assert config_for(MINILM) == config_for("a model with no fitted values")


# ---------------------------------------------------------------- which model a build uses
def test_an_index_of_another_model_follows_the_default_with_one_reason(fake_index):
    index_dir, _, _ = fake_index
    choice = choose_model(index_dir, None)
    assert choice.model == DEFAULT_MODEL and not choice.explicit
    assert "fake-bow" in choice.reason and "stale" in choice.reason and "\n" not in choice.reason
    assert "--model fake-bow" in choice.reason  # how to keep the old model
    # the index follows the default: naming its own model does not turn that into an explicit choice
    assert choose_model(index_dir, "fake-bow") == type(choice)("fake-bow", False)


def test_an_explicit_choice_is_remembered_by_a_plain_build(tmp_path, content_dir):
    index_dir = tmp_path / "index"
    build(content_dir, index_dir, embedder=FakeEmbedder(), model="fake-bow")
    assert _manifest(index_dir)["model_choice"] == "explicit"
    assert choose_model(index_dir, None) == choose_model(index_dir, None)
    kept = choose_model(index_dir, None)
    assert kept.model == "fake-bow" and kept.explicit and kept.reason is None
    # `--model default` follows the default again, and says why the index is rebuilt
    back = choose_model(index_dir, "default")
    assert back.model == DEFAULT_MODEL and not back.explicit and "stale" in back.reason
    # naming the index's own model keeps its choice as it was (the app's rebuild names it)
    assert choose_model(index_dir, "fake-bow") == kept
    # another explicit model is used, and the line says --model asked for it
    other = choose_model(index_dir, MINILM)
    assert other.model == MINILM and other.explicit and "as --model asks" in other.reason


def test_no_index_yet_builds_with_the_default_and_says_nothing(tmp_path):
    choice = choose_model(tmp_path / "none", None)
    assert choice == choose_model(tmp_path / "none", None)
    assert choice.model == DEFAULT_MODEL and not choice.explicit and choice.reason is None


def test_a_build_announces_the_reason_once_before_embedding(fake_index, monkeypatch):
    from index import embed
    from index.errors import ModelError

    index_dir, content_dir, _ = fake_index

    def stop(name):  # the announcement comes before the model is even resolved
        raise ModelError(f"stopped before resolving {name}")

    monkeypatch.setattr(embed, "resolve_model", stop)
    lines = []
    with pytest.raises(ModelError, match=DEFAULT_MODEL):
        build(content_dir, index_dir, announce=lines.append)
    assert len(lines) == 1 and "stale" in lines[0] and DEFAULT_MODEL in lines[0]


def test_broken_content_announces_nothing(fake_index):
    from index.errors import ContentErrors

    index_dir, content_dir, _ = fake_index
    (content_dir / "broken.md").write_text("no front matter at all\n", encoding="utf-8")
    lines = []
    with pytest.raises(ContentErrors):
        build(content_dir, index_dir, announce=lines.append)
    assert lines == []
