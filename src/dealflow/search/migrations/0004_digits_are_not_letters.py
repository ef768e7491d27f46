"""Runs of single letters are joined in the index ("B.V." -> "b v bv"), but a digit counted as a letter:
"Studio 7 B.V." was indexed with "7bv" and not "bv", so "studio bv" did not find it. search/text.py joins
letters only now; this migration rewrites the entries the old rule wrote differently (only entries with a
one-digit word can differ).

An entry's text is its words, then the runs joined (``text_words``). The words are the longest head whose
runs under the old rule are the rest of the text; the new text is those words and their runs under the new
rule. The rules are copied here, as they were and are on 2026-12-07, so that this migration keeps doing the
same when search/text.py changes. An entry cut at 4,000 characters may not split that way; it is left as it
was (``dealflow search --rebuild`` writes every entry anew).
"""

from collections.abc import Callable

from django.db import migrations

ONE_DIGIT_WORD = r"(^| )[0-9]( |$)"


def _runs(words: list[str], single: Callable[[str], bool]) -> list[str]:
    joined: list[str] = []
    run: list[str] = []
    for word in words:
        if single(word):
            run.append(word)
        elif run:
            if len(run) > 1:
                joined.append("".join(run))
            run = []
    if len(run) > 1:
        joined.append("".join(run))
    return joined


def _old_runs(words: list[str]) -> list[str]:
    return _runs(words, lambda word: len(word) == 1)


def _new_runs(words: list[str]) -> list[str]:
    return _runs(words, lambda word: len(word) == 1 and word.isalpha())


def rewritten(text: str) -> str | None:
    """The text of an entry under the new rule, or None when it is the same (or cannot be split)."""
    tokens = text.split(" ")
    for end in range(len(tokens), -1, -1):
        words = tokens[:end]
        if _old_runs(words) == tokens[end:]:
            new = " ".join(words + _new_runs(words))[:4000]
            return new if new != text else None
    return None


def digits_are_not_letters(apps, schema_editor):
    SearchEntry = apps.get_model("search", "SearchEntry")
    changes = []
    entries = SearchEntry.objects.filter(text__regex=ONE_DIGIT_WORD).values_list("id", "text")
    for pk, text in entries.iterator(chunk_size=2000):
        new = rewritten(text)
        if new is not None:
            changes.append((pk, new))
    for pk, new in changes:  # the full-text triggers follow the text
        SearchEntry.objects.filter(pk=pk).update(text=new)


class Migration(migrations.Migration):
    dependencies = [("search", "0003_owner_index_once")]

    operations = [migrations.RunPython(digits_are_not_letters, migrations.RunPython.noop)]
