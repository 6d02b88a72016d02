from overthink.analyze.grade import Grader
from overthink.analyze.segment import locate_presplit, split_rules
from overthink.analyze.thinking import split_thinking

GRADE = Grader()


def anchored(*answers):
    return lambda value: any(GRADE(a, value) for a in answers)


THINKING = """We need 16 - 3 - 4 eggs. That means 16 minus 3 is 13 eggs.

Then 13 minus 4 leaves 9, and 9 times $2 equals $18.

Wait, let me double-check that. 16 - 3 = 13, 13 - 4 = 9, 9 * 2 = 18. So she makes $18.

Yes, that seems right.

Alternatively, 16 * 2 = 32 and 7 * 2 = 14, so 32 - 14 = 18. The answer is 18.

So, in conclusion, she makes $18 a day."""


def rounds(text, *answers):
    return [text[s.start:s.end] for s in split_rules(text, 0, len(text), anchored(*answers))]


def test_rules_split_at_answers_and_restarts():
    parts = rounds(THINKING, "18")
    assert len(parts) == 3
    assert parts[0].startswith("We need") and "equals $18" in parts[0]
    assert parts[1].startswith("Wait") and "Yes, that seems right." in parts[1]  # comment merges
    assert parts[2].startswith("Alternatively") and parts[2].endswith("$18 a day.")  # conclusion merges


def test_intermediate_results_end_no_round():
    parts = rounds(THINKING, "18")
    assert "13 eggs" in parts[0] and "leaves 9" in parts[0]


def test_without_an_answer_the_thinking_is_one_round():
    text = "Let me think.\n\nHmm, 3 plus 4.\n\nStill thinking"
    solutions = split_rules(text, 0, len(text), anchored("7"))
    assert len(solutions) == 1 and solutions[0].answer is None
    assert (solutions[0].start, solutions[0].end) == (0, len(text))


def test_rounds_tile_the_thinking_part():
    start, end = 10, len(THINKING)
    solutions = split_rules(THINKING, start, end, anchored("18"))
    assert solutions[0].start == start and solutions[-1].end == end
    assert all(a.end == b.start for a, b in zip(solutions, solutions[1:]))


def test_thinking_tags():
    text = "<think>\nwork\n</think>\n\nThe answer is \\boxed{2}."
    parts = split_thinking(text, ("<think>",), ("</think>",))
    assert text[parts.thinking_start:parts.thinking_end] == "\nwork\n"
    assert text[parts.answer_start:].strip().startswith("The answer")
    assert parts.opened and parts.closed
    bare = split_thinking("no tags at all", ("<think>",), ("</think>",))
    assert (bare.thinking_start, bare.thinking_end, bare.closed) == (0, 14, False)


def test_presplit_located_verbatim_or_not():
    text = "First part. A=1.\n\nSecond part. A=1.\n\n"
    found = locate_presplit(text, ["First part. A=1.", "Second part. A=1."], 0)
    assert [text[s.start:s.end].strip() for s in found] == ["First part. A=1.", "Second part. A=1."]
    assert locate_presplit(text, ["First part.", "Not in the text"], 0) is None
