"""Definition lists (mdit-py-plugins' deflist) and task lists (markdown-it-py's own)."""

from pathlib import Path

from builder.pipeline.parse import Prose, parse_text
from builder.pipeline.render import prose_html


def html_of(text: str) -> str:
    essay = parse_text(text, Path("/nonexistent/01-e.md"))
    return "".join(str(prose_html(b, essay.env)) for b in essay.blocks if isinstance(b, Prose))


def test_a_term_and_its_definitions_become_a_definition_list():
    html = html_of("Logit\n: A score before softmax.\n: Any *real* number.\n\nLoss\n: How wrong.\n")
    assert html == (
        "<dl>\n<dt>Logit</dt>\n<dd>A score before softmax.</dd>\n<dd>Any <em>real</em> number.</dd>\n"
        "<dt>Loss</dt>\n<dd>How wrong.</dd>\n</dl>\n"
    )


def test_a_line_starting_with_a_colon_elsewhere_stays_text():
    assert html_of(": not a definition\n") == "<p>: not a definition</p>\n"


def test_task_list_checkboxes_are_static_html_and_disabled_and_named_after_their_task():
    html = html_of("- [ ] train\n- [x] plot\n- note\n")
    assert html == (
        '<ul class="contains-task-list">\n'
        '<li class="task-list-item"><input class="task-list-item-checkbox" disabled="" type="checkbox"'
        ' aria-label="train"> train</li>\n'
        '<li class="task-list-item"><input class="task-list-item-checkbox" disabled="" type="checkbox" checked=""'
        ' aria-label="plot"> plot</li>\n<li>note</li>\n</ul>\n'
    )


def test_a_task_s_name_is_its_words_escaped_and_never_the_next_item_s():
    html = html_of('- [x] plot `x < 1` & "y"\n- [ ]\n- [ ] last\n')
    assert 'aria-label="plot x &lt; 1 &amp; “y”"' in html  # typographer's quotes, as the text has them
    assert html.count("aria-label") == 2  # "- [ ]" with no words is no task


def test_brackets_in_code_or_a_plain_list_are_not_tasks():
    assert "checkbox" not in html_of("- `[x]` is code\n- [link](x.html)\n\nText.\n\n    - [ ] indented code\n")
