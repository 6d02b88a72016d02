"""responses.html on constructed rows: escaped, self-contained, and every mark where it belongs."""

import re

from overthink.analyze.responses_page import pick_sample, pieces, render_responses_page, sample_numbers

THINKING = "<think>\nTry 2+2 = 4.\n\nCheck: 4 - 2 = 2, so 4.\n\nOr <script>alert(1)</script> & 5.\n"
RESPONSE = THINKING + "</think>\nThe answer is \\boxed{4} & done."


def solution(start, end, answer, correct, distinct, text=RESPONSE):
    return {"text": text[start:end], "start": start, "end": end, "tokens": end - start, "answer": answer,
            "correct": correct, "distinct": distinct}  # fmt: skip


def row(problem_id="p0", solutions=None, first_correct=0, **extra):
    if solutions is None:  # right, repeat, then a wrong new strategy; the tag opens the thinking
        cuts = [8, RESPONSE.index("Check"), RESPONSE.index("Or <"), len(THINKING)]
        solutions = [
            solution(cuts[0], cuts[1], "4", True, True),
            solution(cuts[1], cuts[2], "4", True, False),
            solution(cuts[2], cuts[3], "5", False, True),
        ]
    return {
        "dataset": "toy", "problem_id": problem_id, "source_file": "/data/toy.jsonl", "source_row": 1,
        "problem": "What is 2+2? Use a < b & c.", "response": RESPONSE, "gold": "4", "thinking_end": len(THINKING),
        "solutions": solutions, "num_solutions": len(solutions), "num_tokens": len(RESPONSE),
        "final_answer": "4", "correct": True, "first_correct_index": first_correct, "truncated": False,
        "flags": [], "error": None, **extra,
    }  # fmt: skip


def blocks(page: str) -> list[str]:
    """The opening tag of each solution block, in order."""
    return re.findall(r'<div class="block ([^"]*)"><div class="label"><span><b>Solution', page)


def test_text_is_escaped_and_the_page_is_self_contained():
    page = render_responses_page([row()], "model <x> & co")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; 5." in page
    assert "<think>" not in page and "&lt;think&gt;" in page  # the response's tags are shown, not parsed
    assert "a &lt; b &amp; c" in page and "model &lt;x&gt; &amp; co" in page
    assert not re.search(r"http|src=|<link|<script|@import|url\(", page)


def test_correctness_first_correct_and_strategy_marks():
    page = render_responses_page([row()], "t")
    assert blocks(page) == ["right first-correct", "right repeat", "wrong new"]
    assert page.count("★ first correct</span>") == 1 + 1  # the legend's and solution 1's
    assert page.count('<span class="tag repeat-tag">repeat</span>') == 1 + 1
    assert page.count('<span class="tag new-tag">new strategy</span>') == 1 + 1  # never on solution 1


def test_first_correct_later_and_ungraded_rows():
    late = row(solutions=[solution(8, 20, "3", False, True), solution(20, 30, "4", True, True)], first_correct=1)
    assert blocks(render_responses_page([late], "t")) == ["wrong", "right first-correct new"]
    ungraded = row(solutions=[solution(8, 20, "3", None, True)], first_correct=None, gold=None, correct=None)
    assert blocks(render_responses_page([ungraded], "t")) == ["ungraded"]


def test_response_reads_in_order_with_the_parts_outside_the_solutions():
    kinds = [(kind, m) for kind, _, m in pieces(row())]
    assert kinds == [("outside", None), ("solution", 0), ("solution", 1), ("solution", 2), ("answer", None)]
    assert "".join(text for _, text, _ in pieces(row())) == RESPONSE
    given = row(solutions=[{**solution(8, 20, "4", True, True), "start": None, "end": None}])
    assert [kind for kind, _, _ in pieces(given)] == ["solution"]  # not located: the texts alone


def test_sample_is_limited_deterministic_and_mixes_in_several_solutions():
    single = [solution(8, 20, "4", True, True)]
    rows = [row(f"p{i}", solutions=None if i % 5 == 0 else single) for i in range(30)]
    picked = pick_sample(rows, limit=6)
    assert picked == pick_sample(rows, limit=6) and len(picked) == 6 and picked == sorted(picked)
    assert sum(rows[i]["num_solutions"] >= 2 for i in picked) == 3  # half the limit, more than the head has
    page = render_responses_page(rows, "t", limit=6)
    assert page.count('<article class="response"') == 6 and "<b>6</b> of 30 responses shown." in page


def test_every_problem_first_sample_before_any_second():
    rows = [row(f"p{i // 3}") for i in range(12)]  # 4 problems, 3 samples each, in input order
    assert sample_numbers(rows) == [0, 1, 2] * 4
    assert pick_sample(rows, limit=4) == [0, 3, 6, 9]
