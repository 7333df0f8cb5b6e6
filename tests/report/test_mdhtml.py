"""aejax.report.mdhtml: the Markdown subset the reports use, to HTML."""
from aejax.report import mdhtml


def test_markdown_to_html():
    h = mdhtml.to_html("# Title\n\nSome **bold** `x<y` *it*.\n\n- a\n- b\n\n| k | v |\n|---|---|\n| 1 | 2 |\n")
    assert "<h2>Title</h2>" in h and "<b>bold</b>" in h and "<code>x&lt;y</code>" in h and "<i>it</i>" in h
    assert "<ul><li>a</li><li>b</li></ul>" in h and "<th>k</th>" in h and "<td>2</td>" in h
    assert "<ol><li>one</li><li>two</li></ol>" in mdhtml.to_html("1. one\n2. two\n")
