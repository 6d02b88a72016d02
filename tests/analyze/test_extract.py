import pytest

from overthink.analyze.extract import (
    answer_phrase,
    conclusion_value,
    extract_choice,
    extract_math_answer,
    final_answer,
    last_boxed,
    looks_cut_off,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        (r"so \boxed{5}", "5"),
        (r"\boxed{1} then \boxed{\frac{1}{2}}", r"\frac{1}{2}"),
        (r"\boxed{\left( 3, \frac{\pi}{2} \right)} done", r"\left( 3, \frac{\pi}{2} \right)"),
        (r"\boxed 7 is it", "7"),
        (r"\fbox{x+1}", "x+1"),
        (r"cut off \boxed{\frac{1}{2", None),
        ("no box here", None),
    ],
)
def test_last_boxed_balances_braces(text, expected):
    assert last_boxed(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("So the answer is 42.", "42"),
        ("The final answer is $\\frac{3}{4}$.", "\\frac{3}{4}"),
        ("Answer: 3.5", "3.5"),
        ("I think the answer is correct.", None),  # words are not an answer
        ("I'm confident that the answer is three boxes contain neither.", "3"),
        ("The answer should be in the form \\( \\sqrt{a}/b \\), where a is square-free.", None),  # its shape
    ],
)
def test_answer_phrase(text, expected):
    assert answer_phrase(text) == expected


def test_final_answer_reads_the_tail_not_an_early_intermediate_conclusion():
    text = "So the subtotal is 5.\n\nMore work here.\n\nThen more.\n\nAnd more.\n\nThe greater integer is 18."
    assert extract_math_answer(text) == "18"
    assert extract_math_answer("Therefore, the value of n is 3.\n\nI think that's it.") == "3"


def test_last_number_only_when_asked():
    assert extract_math_answer("we get 12 apples and 7 pears") is None
    assert extract_math_answer("we get 12 apples and 7 pears", fallback_last_number=True) == "7"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Answer: C", "C"),
        ("so the answer is (B).", "B"),
        (r"\boxed{D}", "D"),
        (r"\boxed{\text{A}}", "A"),
        ("no letter", None),
    ],
)
def test_choice_letters(text, expected):
    assert extract_choice(text) == expected


def test_cut_off_detection():
    assert looks_cut_off("and then we multiply by")
    assert not looks_cut_off("So the answer is 4.")
    assert not looks_cut_off(r"\[ \boxed{4} \]")


def test_truncated_thinking_gives_no_final_answer_unless_it_boxed_one():
    thinking = "First try: the total is 12.\n\nWait, let me recompute 3 times"
    assert final_answer("", thinking, truncated=True, choice=False, fallback_last_number=True) is None
    boxed = "Work.\n\n**Final Answer**\n\n\\[ \\boxed{-2,1} \\]\n<"
    assert final_answer("", boxed, truncated=True, choice=False, fallback_last_number=True) == "-2,1"


def test_answer_section_wins_and_falls_back_to_thinking_when_it_is_cut():
    thinking = "Work.\n\nTherefore, the minimum value of the expression is 64."
    assert final_answer("The result is $\\boxed{64}$.", thinking, False, False, True) == "64"
    assert final_answer("Let \\( a, b", thinking, False, False, True) == "64"


@pytest.mark.parametrize(
    "sentence, value",
    [
        ("Therefore, the equation of the line is y = -2x.", "y = -2x"),
        ("So, yes, the equation y = 3x + 1 correctly describes this line.", "y = 3x + 1"),
        ("So, the total is 3 + 4 = 7.", "7"),
        ("Therefore, x = 5.", "5"),
        ("Thus the answer is \\(8000\\).", "8000"),
        ("Therefore, the number of boys is 9.", "9"),
        ("Therefore, the solutions are x = 1 or x = 4.", "1, 4"),
    ],
)
def test_concluded_formulas_are_read_whole(sentence, value):
    assert conclusion_value(sentence) == value


def test_a_displayed_equation_after_a_colon_is_the_answer():
    text = "Thus, the equation of the plane is:\n\\[\n2x + 3y - z + 4 = 0\n\\]"
    assert extract_math_answer(text) == "2x + 3y - z + 4 = 0"
