"""The parts of the rules splitter: what a question asks, what a sentence arrives at, which
values are settled answers, and how answered paragraphs group into solutions."""

import pytest

from overthink.analyze.question import read_question
from overthink.analyze.rounds import Features, split_paragraphs
from overthink.analyze.statements import combined, number_value, paragraph_statements, sentences, settled


@pytest.mark.parametrize(
    "question, target, selectors",
    [
        ("Find the product $CD$ of the integers $C$ and $D$ for which $C + D = 4$.", "CD", set()),
        ("If $f(x)=5x^2+3x+4$, what is the value of $f(-2)$?", "f(-2)", set()),
        ("What is the maximum value of $4(x + 7)(2 - x)$, over all real numbers $x$?", "4(x+7)(2-x)", {"largest"}),
        ("Solve for the positive value of $x$ such that $x^2 = 16$.", "x", {"positive"}),
        ("What is the greatest common divisor of 68 and 92?", None, set()),  # a name, not a choice
        ("How many students take physics?", None, set()),
    ],
)
def test_what_the_question_asks(question, target, selectors):
    ask = read_question(question)
    assert ask.target == target and ask.selectors == selectors


@pytest.mark.parametrize(
    "text, values",
    [
        ("So, P = 345 / 3 = 115", [("115", "P")]),  # the end of the chain, not a step of it
        ("CD = (-1)(5) = -5", [("-5", "CD")]),
        ("Between 6 and 1, the largest is 6.", [("6", None)]),
        ("Therefore, the solutions are x = 1 and x = -2.", [("1, -2", "x"), ("-2", "x"), ("1", "x")]),
        ("So, the polar coordinates are (3, π/2).", [("(3, \\pi /2)", None)]),
        ("Therefore, the original price was $36.", [("36", None)]),  # dollars, not math
        ("Given P = 115, then Ch = 2P = 230", [("230", None)]),  # the supposition states nothing
        ("Therefore, the correct choice is option C.", [("C", None)]),
        ("What about \\(x = 4\\):", []),  # a trial announced, not a result
        ("There are 50 such pairs, so -50 in total.", [("-50", None), ("50", None)]),  # "so" arrives
        ("Thus 12 divided by 4 gives 3.", [("3", None)]),  # its verb arrives, not the "thus"
        ("So the roots are x = 5, x = 7, and x = 3.", [("5, 7, 3", "x"), ("3", "x"), ("7", "x"), ("5", "x")]),
        ("In interval notation, that's written as \\((5, \\infty)\\).", [("(5, \\infty)", None)]),
        ("In interval notation, that's (-sqrt(2), sqrt(2)).", [("(-sqrt(2), sqrt(2))", None)]),  # plain-text roots
        (
            "\\[ \\mathbf{u} = \\begin{pmatrix} 1 \\\\ -4 \\end{pmatrix} \\]",
            [("\\begin{pmatrix} 1 \\\\ -4 \\end{pmatrix}", "\\mathbf{u}")],
        ),
        ("But a and b cannot both be 1, since their gcd is 6.", [("6", None)]),  # ruled out, not arrived at
        ("So, 27 is indeed the smallest such cube.", [("27", None)]),  # the value first, then what it is
    ],
)
def test_what_a_sentence_arrives_at(text, values):
    found = [(s.value, s.subject) for s in paragraph_statements(sentences(text)) if not s.strong]
    assert found == values


@pytest.mark.parametrize(
    "question, target, selectors",
    [
        # the one symbol of the asking sentence, when no verb of asking names it
        ("Lines meet as shown. What is the number of degrees represented by $y$?", "y", set()),
        # a selector that picks an object the question asks something else of chooses nothing
        (
            "What is the difference between the areas of the region with the greatest area and "
            "the region with the smallest area?",
            None,
            set(),
        ),
        # the asking sentence starts after a full stop inside math
        (
            "Let $p$ and $q$ be positive real numbers with $p + q = 1.$  Find the minimum value of $1/p + 4/q$.",
            "1/p+4/q",
            {"smallest"},
        ),
    ],
)
def test_what_the_question_asks_when_it_says_so_indirectly(question, target, selectors):
    ask = read_question(question)
    assert ask.target == target and ask.selectors == selectors


def test_a_worded_answer_among_listed_candidates_is_not_chosen():
    names = frozenset({"Evelyn"})
    listed = "There are dots, each labeled with a name: Evelyn, Briana, Carla, Debra and Angela."
    assert [s.value for s in paragraph_statements(sentences(listed), names)] == []
    chosen = "Clearly, Evelyn has the highest average speed."
    assert [s.value for s in paragraph_statements(sentences(chosen), names)] == ["Evelyn"]


def test_boxes_and_answer_phrases_are_strong():
    found = paragraph_statements(sentences("So the answer is 42. \\boxed{42}"))
    assert [(s.value, s.strong) for s in found if s.strong] == [("42", True)] * 2


@pytest.mark.parametrize(
    "value, is_settled",
    [
        ("3\\sqrt{13}", True),
        ("\\sqrt{117}", False),  # a square left under the root
        ("\\frac{448}{15625}", True),
        ("2240/78125", False),  # not in lowest terms
        ("14/3", True),  # a fraction is a value, not a division left to do
        ("\\frac{1}{2} \\times 60", False),
        ("\\frac{40}{0.02}", False),  # a division still to do
        ("\\frac{3}{3\\sqrt{3}}", False),  # a common factor left
        ("\\sqrt{\\frac{4225}{28561}}", False),  # the root of a square
        ("\\frac{2\\sqrt{65}}{3}", True),
        ("35 \\times \\frac{1}{625}", False),  # a product still to do
        ("2500 - 2550", False),
        ("-5", True),
        ("1, -2", True),
    ],
)
def test_settled_values(value, is_settled):
    assert settled(value) is is_settled


@pytest.mark.parametrize(
    "formula, is_combined",
    [("19x - 4x + 1 - 81", False), ("x^3 + (3x^2 - 3x^2) + 3x - 6", False), ("15x - 80", True), ("x^2 + x^3", True)],
)
def test_like_terms_left_to_combine(formula, is_combined):
    assert combined(formula) is is_combined


def test_numbers_are_read_by_value():
    assert number_value("\\frac{448}{15625}") == number_value("0.028672")
    assert number_value("26,000") == 26000 and number_value("x + 1") is None and number_value("10^{1000}") is None


def F(answer=None, work=False, opener=False, drops=False):  # noqa: N802 (a row of the table below)
    return Features(answer, work, opener, drops)


def test_paragraphs_group_into_solutions():
    paragraphs = [
        F(work=True),
        F("18", work=True),  # the first answer
        F(),  # a comment stays with it
        F(opener=True),  # "Wait, let me check" starts the next attempt
        F("18", work=True),  # which reaches the answer again: a solution
        F(work=True),  # work that goes on without turning back elaborates it
        F("18", work=True),
        F(opener=True),  # a check that computes nothing
        F(),
        F("18"),  # and restates the answer: a solution, however short
        F(opener=True, drops=True),  # another way, set aside ("more complicated")
        F(),
        F("18"),  # a restatement after it concludes the solution before
        F(opener=True),  # "Just to be thorough, could ...? No: the problem says ..."
        F("18"),  # a doubt settled in words, then restated: nothing of its own
    ]
    assert split_paragraphs(paragraphs) == [(2, "18"), (6, "18"), (14, "18")]
    assert split_paragraphs([F(work=True), F(opener=True)]) == []  # no answer, no solution
