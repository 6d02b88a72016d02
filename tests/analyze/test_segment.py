from collections import Counter

import pytest

from overthink.analyze.config import AnalyzeConfig
from overthink.analyze.grade import Grader
from overthink.analyze.segment import SEGMENTERS, locate_presplit, split_rules
from overthink.analyze.thinking import split_thinking
from overthink.config import load_config
from standin import chat_reply, standin_endpoint

GRADE = Grader()
PROBLEM = "Janet's ducks lay 16 eggs a day. She eats 3, bakes with 4 and sells the rest at $2 each. What does she make?"
THINKING = """We need 16 - 3 - 4 eggs. That means 16 minus 3 is 13 eggs.

Then 13 minus 4 leaves 9, and 9 times $2 equals $18.

Wait, let me double-check that. 16 - 3 = 13, 13 - 4 = 9, 9 * 2 = 18. So she makes $18.

Yes, that seems right.

Alternatively, 16 * 2 = 32 and 7 * 2 = 14, so 32 - 14 = 18. The answer is 18.

So, in conclusion, she makes $18 a day."""


def rounds(text, gold="18", problem=PROBLEM):
    return [text[s.start : s.end] for s in split_rules(text, 0, len(text), problem, gold, GRADE)]


def test_rules_split_at_answers_and_checks():
    parts = rounds(THINKING)
    assert len(parts) == 3
    assert parts[0].startswith("We need") and "equals $18" in parts[0]
    assert parts[1].startswith("Wait") and "Yes, that seems right." in parts[1]  # comment stays with its answer
    assert parts[2].startswith("Alternatively") and parts[2].endswith("$18 a day.")  # conclusion merges


def test_intermediate_results_end_no_round():
    assert "13 eggs" in rounds(THINKING)[0] and "leaves 9" in rounds(THINKING)[0]


def test_a_thinking_that_never_states_an_answer_has_no_solution():
    text = "Let me think.\n\nHmm, 3 plus 4.\n\nStill thinking"
    assert split_rules(text, 0, len(text), "What is 3 + 4?", "7", GRADE) == []


def test_rounds_tile_the_thinking_part():
    start, end = 10, len(THINKING)
    solutions = split_rules(THINKING, start, end, PROBLEM, "18", GRADE)
    assert solutions[0].start == start and solutions[-1].end == end
    assert all(a.end == b.start for a, b in zip(solutions, solutions[1:]))


# What the question asks decides what is an answer (tests/analyze/test_rounds.py has the parts).
CD = "Find the product $CD$ of the integers $C$ and $D$ for which $C + D = 4$ and $8C - 3D = -23$."
CD_TRACE = [
    "From the first equation C = 4 - D, so 8(4 - D) - 3D = -23, and 32 - 11D = -23.",
    "So D = 5 and C = -1.\n\nThe product is CD = (-1)(5) = -5.",
    "Wait, let me double-check with elimination. 3C + 3D = 12, adding gives 11C = -11, so C = -1 and D = 5. "
    "Again CD = -5.",
    "Alternatively, suppose I had D = -5 instead: then C = 9, and 8(9) - 3(-5) = 87, which is not -23.",
    "So I'm confident: CD = -5.",
]


def test_the_value_of_another_unknown_is_a_step():
    text = "\n\n".join(CD_TRACE)
    found = split_rules(text, 0, len(text), CD, "-5", GRADE)
    # "D = 5" and "D = -5" (the value of another unknown, a supposition) end nothing; the check
    # reaches CD again, and so does the second method's conclusion
    assert [text[s.start : s.end].strip() for s in found] == [
        "\n\n".join(CD_TRACE[:2]),
        CD_TRACE[2],
        "\n\n".join(CD_TRACE[3:]),
    ]
    assert [s.answer for s in found] == ["-5", "-5", "-5"]


def test_one_candidate_of_several_is_not_the_largest():
    text = (
        "The roots are x = 6, x = 1 and x = -2.\n\nOnly x = 6 and x = 1 are allowed here, x = 6 being valid."
        "\n\nThe largest of them is 6.\n\nLet me verify: f(6) - g(6) = 0, so the largest x-value is 6."
    )
    found = split_rules(text, 0, len(text), "Find the largest $x$-value at which f and g intersect.", "6", GRADE)
    assert [text[s.end - 40 : s.end].strip()[-16:] for s in found] == [
        "The largest of them is 6."[-16:],
        "largest x-value is 6."[-16:],
    ]


def test_a_part_of_the_computation_the_question_does_not_ask_for_is_a_step():
    text = (
        "100 ÷ 60 = 1.666..., so the integer part is 1.\n\nSo there is only one such number below 100."
        "\n\nWait, let me check: 60 × 2 = 120 is over 100, so the answer is 1."
    )
    question = "How many of the first one hundred positive integers are divisible by 3, 4, and 5?"
    found = split_rules(text, 0, len(text), question, "1", GRADE)
    assert [text[s.start : s.end].strip()[-12:] for s in found] == ["number below 100."[-12:], "answer is 1."]


def test_a_cut_off_loop_s_last_value_is_not_its_answer_when_the_gold_is_known():
    loop = "In this case, n = 5. So, we need the term where the power of x is zero."
    text = "\n\n".join([loop, "Then 10^2 times -1/8 gives -125.", loop, "Then 10^2 times"])
    question = "Find the constant term in the expansion of (10x^3 - 1/(2x^2))^5."
    assert [s.answer for s in split_rules(text, 0, len(text), question, "-125", GRADE)] == ["-125"]


def test_without_a_gold_the_response_s_own_answers_decide():
    text = "So 6 times 7 is 42.\n\nWait, let me check: 7 times 6 is 42 as well.\n\n</think> The answer is 42."
    end = text.index("</think>")
    assert len(split_rules(text, 0, end, "What is 6 times 7?", None, None)) == 2


def test_a_wrong_answer_concluded_for_the_asked_symbol_ends_a_solution():
    """A cut-off thinking never boxes its (wrong) answer; "Therefore, y = 100." still states one."""
    question = "Two lines are parallel. What is the number of degrees represented by $y$?"
    text = "\n\n".join(
        [
            "The marked angle is 80 degrees, and y is its supplement, so y = 180 - 80.",
            "Therefore, y = 100.",
            "Wait, maybe the angles are corresponding instead. Then they are equal, so y = 80. Hmm.",
            "Let me look at the triangle: y = 180 - 2(40), so y = 100. Therefore, y = 100.",
            "Therefore, y = 60 is not possible here, since",
        ]
    )
    found = split_rules(text, 0, len(text), question, "50", GRADE)
    assert [s.answer for s in found] == ["100", "100"]


def test_a_check_that_passes_reaches_the_answer_again():
    """Plugging the answer back in and saying it fits re-derives it (official rule 2)."""
    question = "A regular octagon has the same perimeter as a hexagon of side 16 cm. How long is each side?"
    text = "\n\n".join(
        [
            "The hexagon's perimeter is 6 * 16 = 96 cm, so each side of the octagon is 96 / 8 = 12 cm.",
            "Let me double-check. With sides of 12 cm, the octagon's perimeter is 8 * 12 = 96 cm, which matches.",
            "Alternatively, the sides are in the ratio 6 : 8, so the side is 16 * 6 / 8 = 12 cm.",
        ]
    )
    assert len(split_rules(text, 0, len(text), question, "12", GRADE)) == 3
    announced = text.replace("which matches", "and I check if that makes sense")
    assert len(split_rules(announced, 0, len(announced), question, "12", GRADE)) == 2


def test_a_display_completes_the_sentence_before_its_colon():
    question = "What is the domain of $f(x) = \\sqrt{x - 1}$? Express your answer in interval notation."
    text = "So x must be at least 1.\n\nIn interval notation, that would be:\n\n\\[ [1, \\infty) \\]\n\nDone."
    found = split_rules(text, 0, len(text), question, "[1, \\infty)", GRADE)
    assert len(found) == 1 and found[0].answer == "[1, \\infty)"


def test_thinking_tags():
    text = "<think>\nwork\n</think>\n\nThe answer is \\boxed{2}."
    parts = split_thinking(text, ("<think>",), ("</think>",))
    assert text[parts.thinking_start : parts.thinking_end] == "\nwork\n"
    assert text[parts.answer_start :].strip().startswith("The answer")
    assert parts.opened and parts.closed
    bare = split_thinking("no tags at all", ("<think>",), ("</think>",))
    assert (bare.thinking_start, bare.thinking_end, bare.closed) == (0, 14, False)


def test_presplit_located_verbatim_or_not():
    text = "First part. A=1.\n\nSecond part. A=1.\n\n"
    found = locate_presplit(text, ["First part. A=1.", "Second part. A=1."], 0)
    assert [text[s.start : s.end].strip() for s in found] == ["First part. A=1.", "Second part. A=1."]
    assert locate_presplit(text, ["First part.", "Not in the text"], 0) is None


P1 = "We need 6 * 7. Six sevens are 42. So the answer is 42."
P2 = "Wait, let me double-check: 7 * 6 = 42. The answer is 42."
P3 = "Alternatively, 6 * 7 = 6 * 5 + 6 * 2 = 30 + 12 = 42. The answer is 42."
RESPONSE = f"<think>\n{P1}\n\n{P2}\n\n{P3}\n</think>\n\\boxed{{42}}"
START, END = len("<think>"), RESPONSE.index("</think>")
GIVEN = [f"{P1}\n\n{P2}", P3]  # the row's presplit solutions
# the stand-in judge's split of the three paragraphs (stage 1); stage 2 finds no answer in step 2 alone
SPLIT_REPLY = (
    "<solution1><step>###STEP 1</step><answer>42</answer><complete>true</complete></solution1>"
    "<solution2><step>###STEP 2\n...\n###STEP 3</step><answer>42</answer><complete>true</complete></solution2>"
)
EXPECTED = {  # solution texts, stripped
    "rules": [P1, P2, P3],
    "presplit": GIVEN,
    "llm": [P1, f"{P2}\n\n{P3}"],
}


def judge(split_reply: str, step_reply: str = '{"result": false}'):
    """A stand-in judge: `split_reply` to splitting requests, `step_reply` to step judgements."""
    return lambda body: chat_reply(
        split_reply if "###STEP" in body["messages"][0]["content"] else step_reply, body["model"]
    )


def segment(method, reply=SPLIT_REPLY, given=GIVEN, response=RESPONSE):
    """(solution texts, solutions, the row's flags, stats, requests sent) of the registered segmenter `method`."""
    with standin_endpoint(judge(reply)) as (url, requests):
        config = load_config(
            AnalyzeConfig,
            None,
            [
                f"segment.method={method}",
                "input.columns.solutions=pieces",
                f"segment.llm.base_url={url}",
                "segment.llm.max_retries=0",
            ],
        )
        stats, row = Counter(), {"problem": "6*7?", "given_solutions": given, "flags": []}
        solutions = SEGMENTERS.get(method)(config, stats, GRADE)(row, response, START, response.index("</think>"))
    texts = [response[s.start : s.end].strip() for s in solutions]
    return texts, solutions, row["flags"], stats, requests


def test_every_registered_segmenter_has_an_expectation():
    assert set(EXPECTED) == set(SEGMENTERS.names())


@pytest.mark.parametrize("method", SEGMENTERS.names())
def test_registered_segmenters(method):
    texts, solutions, flags, _, _ = segment(method)
    assert texts == EXPECTED[method] and flags == []
    assert solutions[0].start == START and all(a.end == b.start for a, b in zip(solutions, solutions[1:]))


def test_rules_and_llm_rounds_run_to_the_end_of_the_thinking():
    assert segment("rules")[1][-1].end == END and segment("llm")[1][-1].end == END
    assert [s.answer for s in segment("rules")[1]] == ["42", "42", "42"]


def test_presplit_not_verbatim_keeps_placeholders():
    _, solutions, flags, _, _ = segment("presplit", given=[P1, "a solution the response does not contain"])
    assert [(s.start, s.end, s.answer) for s in solutions] == [(-1, -1, None)] * 2
    assert flags == ["presplit_not_verbatim"]


def test_presplit_row_without_solutions_is_split_by_rules():
    assert segment("presplit", given=None)[0] == EXPECTED["rules"]


def test_llm_segmenter_falls_back_to_rules():
    texts, _, flags, stats, _ = segment("llm", reply="Two solutions, I think.")
    assert texts == EXPECTED["rules"] and flags == ["llm_split_fallback"]
    assert stats == {"llm_split_calls": 1, "llm_split_unreadable": 1, "llm_split_fallbacks": 1}


def test_rules_stay_within_one_solution_of_the_paper_authors_on_their_examples():
    import ast
    import json

    from locations import OFFICIAL, need

    rows = [json.loads(line) for line in need(OFFICIAL).read_text().splitlines()]
    theirs, ours = [], []
    for row in rows:
        text, given = row["response"], row["split_solutions"]
        given = ast.literal_eval(given) if isinstance(given, str) else given
        theirs.append(len(given))
        ours.append(len(split_rules(text, 0, len(text), row["problem"], row["expected_answer"], GRADE)))
    assert all(abs(a - b) <= 1 for a, b in zip(ours, theirs)), (ours, theirs)
    assert abs(sum(ours) / len(ours) - sum(theirs) / len(theirs)) <= 0.5


def test_rules_find_the_right_number_of_solutions_on_traces_written_by_others():
    """40 synthetic traces with known rounds (tests/analyze/data/heldout_rounds.jsonl), written
    by another session: varied re-check openers, plain unboxed results, wrong rounds never boxed.
    The splitter before issue 21 was tuned on them to 33/40, and real traces got worse. This one
    follows the readers' rules on real traces (tests/analyze/test_real_splits.py): a new solution
    starts where the text turns back ("Wait", "Alternatively", a question), and work that goes on
    without turning back elaborates the solution before. Most of these traces start their rounds
    with no turn at all ("Running it through decimals this time: ..."), so they read as one long
    solution: 5/40 (21/40 when any work after an answer started a new attempt; dropping that lifted
    the untouched half of the readers' traces from 0.67 to 0.78 boundary F1). A regression check,
    not a held-out score."""
    import json
    from pathlib import Path

    rows = [json.loads(line) for line in (Path(__file__).parent / "data" / "heldout_rounds.jsonl").open()]
    right = 0
    for row in rows:
        text = "\n\n".join(part["text"] for part in row["rounds"])
        found = split_rules(text, 0, len(text), row["problem"], row["gold"], GRADE)
        right += len(found) == len(row["rounds"])
    assert right >= 5, f"{right} of {len(rows)}"
