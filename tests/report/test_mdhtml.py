"""aejax.report.mdhtml: the analysis notes' Markdown to HTML (markdown-it-py)."""
from aejax.report import mdhtml


def _flat(h: str) -> str:
    return h.replace("\n", "")


def test_markdown_to_html():
    h = _flat(mdhtml.to_html("# Title\n\nSome **bold** `x<y` *it*.\n\n- a\n- b\n\n| k | v |\n|---|---|\n| 1 | 2 |\n"))
    assert "<h2>Title</h2>" in h and "<strong>bold</strong>" in h and "<code>x&lt;y</code>" in h
    assert "<em>it</em>" in h and "<ul><li>a</li><li>b</li></ul>" in h
    assert "<th>k</th>" in h and "<td>2</td>" in h
    assert "<ol><li>one</li><li>two</li></ol>" in _flat(mdhtml.to_html("1. one\n2. two\n"))


def test_headings_shift_and_raw_html_is_escaped():
    assert "<h6>deep</h6>" in mdhtml.to_html("###### deep", shift=2)
    assert "<h1>top</h1>" in mdhtml.to_html("# top", shift=0)
    h = mdhtml.to_html("a <script>x</script> b\n\n- item\n  continued\n")
    assert "<script>" not in h and "&lt;script&gt;" in h
    assert "<li>item\ncontinued</li>" in h  # a continuation line stays in its bullet
