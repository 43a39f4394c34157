"""`python -m ingest import`: the seed export (text and a PDF made from it) becomes 15 draft questions whose 75
sections are the seed's lines; an incomplete export is refused with file and line; nothing is ever overwritten."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from index.errors import ContentErrors, SearchToolError
from ingest.__main__ import main
from ingest.content import SECTIONS, load_bank
from ingest.importer import IMPORT_TOPIC, _join, draft_title, import_export, read_export

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT.parent / "shared" / "seed" / "ml-interview-questions.txt"
KEYS = [k for k, _ in SECTIONS]


def seed_lines() -> list[str]:
    return SEED.read_text(encoding="utf-8").split("\n")[2:77]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def make_pdf(path: Path, text: str, page_format: str | tuple = "A4", size: int = 10) -> Path:
    """The export's text laid out as a PDF: wrapped lines, page breaks, 2 mm between lines of the export."""
    import matplotlib
    from fpdf import FPDF

    pdf = FPDF(format=page_format)
    pdf.add_font("dejavu", fname=str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"))
    pdf.set_font("dejavu", size=size)
    pdf.add_page()
    for line in text.split("\n"):
        pdf.multi_cell(0, size * 0.45, line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    pdf.output(str(path))
    return path


def test_seed_gives_15_drafts_whose_75_sections_are_the_seed_lines(tmp_path):
    report = import_export(SEED, tmp_path / "out")
    assert len(report.written) == 15 and not report.already_in_bank
    bank = load_bank(tmp_path / "out")
    assert len(bank) == 15
    assert all(q.draft and q.topics == (IMPORT_TOPIC,) and q.title.endswith("?") for q in bank)
    by_short = {q.sections[0].text: q for q in bank}
    lines = seed_lines()
    for i in range(0, 75, 5):
        q = by_short[lines[i]]
        assert [s.text for s in q.sections] == lines[i:i + 5]  # exactly, line by line
        assert [s.key for s in q.sections] == KEYS


def test_seed_matches_the_bank_word_for_word_ignoring_punctuation(tmp_path):
    import_export(SEED, tmp_path / "out")
    content = {tuple(words(q.sections[0].text)): q for q in load_bank(ROOT / "content")}
    drafts = load_bank(tmp_path / "out")
    assert len(drafts) == 15
    for draft in drafts:
        original = content[tuple(words(draft.sections[0].text))]
        for ours, theirs in zip(draft.sections, original.sections):
            assert words(ours.text) == words(theirs.text), (draft.id, ours.key)


@pytest.mark.parametrize("page_format, size", [("A4", 10), ("Letter", 12), ((150, 200), 9)])
def test_a_pdf_made_from_the_seed_gives_the_same_sections(tmp_path, page_format, size):
    pdf = make_pdf(tmp_path / "seed.pdf", SEED.read_text(encoding="utf-8"), page_format, size)
    assert [x.text for x in read_export(pdf).lines] == seed_lines()
    import_export(pdf, tmp_path / "from-pdf")
    import_export(SEED, tmp_path / "from-text")
    from_pdf = {q.id: q for q in load_bank(tmp_path / "from-pdf")}
    from_text = {q.id: q for q in load_bank(tmp_path / "from-text")}
    assert from_pdf.keys() == from_text.keys() and len(from_pdf) == 15
    for qid, q in from_text.items():
        assert from_pdf[qid].title == q.title
        assert [s.text for s in from_pdf[qid].sections] == [s.text for s in q.sections]


def test_the_pdf_really_wraps_and_breaks_pages(tmp_path):
    """The PDF test above would prove nothing if every export line sat on one line of one page."""
    from pypdf import PdfReader

    pdf = make_pdf(tmp_path / "seed.pdf", SEED.read_text(encoding="utf-8"))
    reader = PdfReader(pdf)
    assert len(reader.pages) > 3
    visual = [line for page in reader.pages for line in page.extract_text().split("\n") if line.strip()]
    assert len(visual) > 3 * 78


def truncated_seed() -> str:
    lines = SEED.read_text(encoding="utf-8").split("\n")
    return "\n".join(lines[:75] + lines[77:])  # the last question loses its last two lines; the footer stays


def test_a_truncated_export_is_refused_with_file_and_line(tmp_path):
    export = tmp_path / "cut.txt"
    export.write_text(truncated_seed(), encoding="utf-8")
    with pytest.raises(ContentErrors) as info:
        import_export(export, tmp_path / "out")
    [problem] = info.value.errors
    assert problem.path == str(export) and problem.line == 73  # where the incomplete question starts
    assert "question 15 has 3 of its 5 lines" in problem.message and "missing common mistakes" in problem.message
    assert not (tmp_path / "out").exists()


def test_a_truncated_pdf_is_refused_with_its_page(tmp_path):
    pdf = make_pdf(tmp_path / "cut.pdf", truncated_seed())
    with pytest.raises(ContentErrors) as info:
        import_export(pdf, tmp_path / "out")
    [problem] = info.value.errors
    assert problem.line == 73 and re.search(r"question 15 \(page \d+\) has 3 of its 5 lines", problem.message)
    assert not (tmp_path / "out").exists()


def test_the_cli_reports_file_and_line_and_exits_1(tmp_path, capsys):
    export = tmp_path / "cut.txt"
    export.write_text(truncated_seed(), encoding="utf-8")
    assert main(["import", str(export), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert f"{export}:73: question 15 has 3 of its 5 lines" in err and "nothing was written" in err
    assert main(["import", str(SEED), "--out", str(tmp_path / "out")]) == 0
    assert "imported 15 questions as drafts" in capsys.readouterr().out


def test_an_existing_file_is_never_overwritten(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    mine = (ROOT / "tests" / "fixtures" / "content").glob("*.md")
    first = next(iter(sorted(mine)))
    taken = out / "overfitting.md"  # the id the seed's third question drafts, holding another question
    taken.write_bytes(first.read_bytes())
    before = taken.read_bytes()
    report = import_export(SEED, out)
    assert taken.read_bytes() == before
    assert out / "overfitting-2.md" in report.written
    assert load_bank(out)  # the bank still loads: no two files claim one id


def test_importing_twice_writes_nothing_the_second_time(tmp_path):
    out = tmp_path / "out"
    import_export(SEED, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    report = import_export(SEED, out)
    assert report.written == () and len(report.already_in_bank) == 15
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_the_seed_into_the_real_bank_is_recognised_as_already_there(tmp_path):
    """content/ holds the seed's questions with restored commas and real titles: nothing new to import."""
    import shutil

    shutil.copytree(ROOT / "content", tmp_path / "content")
    before = {p.name: p.read_bytes() for p in (tmp_path / "content").iterdir()}
    report = import_export(SEED, tmp_path / "content")
    assert report.written == () and len(report.already_in_bank) == 15
    assert {p.name: p.read_bytes() for p in (tmp_path / "content").iterdir()} == before


def test_read_only_refuses_an_import(tmp_path, monkeypatch):
    monkeypatch.setenv("MLPREP_READONLY", "1")
    with pytest.raises(SearchToolError, match="MLPREP_READONLY"):
        import_export(SEED, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_pdf_without_space_between_paragraphs_is_refused_not_guessed(tmp_path):
    import matplotlib
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_font("dejavu", fname=str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"))
    pdf.set_font("dejavu", size=10)
    pdf.add_page()
    for line in SEED.read_text(encoding="utf-8").split("\n"):
        pdf.multi_cell(0, 4.5, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(tmp_path / "tight.pdf"))
    with pytest.raises(ContentErrors, match="no space between its paragraphs"):
        import_export(tmp_path / "tight.pdf", tmp_path / "out")


def test_drafted_titles_ids_and_aliases():
    lines = seed_lines()
    assert draft_title(lines[0])[:2] == ("What is the difference between supervised learning and unsupervised "
                                         "learning?", "supervised-learning-vs-unsupervised-learning")
    assert draft_title(lines[5])[:2] == ("What is the difference between classification and regression?",
                                         "classification-vs-regression")
    assert draft_title(lines[10])[:2] == ("What is overfitting?", "overfitting")
    assert draft_title(lines[30])[:2] == ("What is a Random Forest?", "random-forest")
    assert draft_title(lines[40])[:2] == ("What are word embeddings?", "word-embeddings")
    assert draft_title(lines[50]) == ("What is feature leakage?", "feature-leakage", ("data leakage",))
    assert "SGD" in draft_title(lines[55])[2]
    title, qid, _ = draft_title("During training the loss goes down.")  # no subject to ask about
    assert title.startswith("What does this describe: during training") and title.endswith("?")


def test_drafted_ids_are_unique_within_one_import(tmp_path):
    lines = seed_lines()
    export = tmp_path / "twice.txt"
    # the same short answer twice with different explanations: same drafted id, two different questions
    second = [lines[10], "Another explanation.", *lines[12:15]]
    export.write_text("\n".join(["header", "subheader", *lines[10:15], *second, "PAGE 1 OF 1"]), encoding="utf-8")
    report = import_export(export, tmp_path / "out")
    assert sorted(p.name for p in report.written) == ["overfitting-2.md", "overfitting.md"]


def test_a_question_repeated_in_one_export_is_imported_once(tmp_path):
    lines = seed_lines()
    export = tmp_path / "overlap.txt"
    export.write_text("\n".join(["header", "subheader", *lines[:10], "PAGE 1 OF 2", "header", "subheader",
                                 *lines[5:15], "PAGE 2 OF 2"]), encoding="utf-8")
    report = import_export(export, tmp_path / "out")
    assert len(report.written) == 3 and len(report.already_in_bank) == 1


def test_an_export_line_that_breaks_the_format_is_refused_at_its_line(tmp_path):
    lines = seed_lines()
    export = tmp_path / "heading.txt"
    export.write_text("\n".join(["header", "subheader", *lines[:7], "## Examples", *lines[8:10]]), encoding="utf-8")
    with pytest.raises(ContentErrors) as info:
        import_export(export, tmp_path / "out")
    assert {e.line for e in info.value.errors} == {10}  # the export's line, not the drafted file's
    assert any(e.message.startswith('unknown section "Examples"') for e in info.value.errors)
    assert not (tmp_path / "out").exists()


def test_a_hyphenated_word_split_by_a_wrap_is_joined_whole():
    assert _join("semi-", "supervised learning") == "semi-supervised learning"
    assert _join("it is simply —", "solving") == "it is simply — solving"
    assert _join("labels", "— it is") == "labels — it is"


def test_drafts_are_searchable_like_any_question(tmp_path, fake_embedder):
    from index.search import open_index
    from ingest.build import build

    import_export(SEED, tmp_path / "out")
    build(tmp_path / "out", tmp_path / "index", embedder=fake_embedder)
    index = open_index(tmp_path / "index", tmp_path / "out", embedder=fake_embedder)
    hits = index.search("feature leakage data leakage target variable", k=3).hits
    assert hits[0].question_id == "feature-leakage"
