import pytest

from overthink.analyze.grade import Grader


@pytest.fixture(scope="module")
def grade():
    return Grader(timeout_s=5)


@pytest.mark.parametrize(
    "gold, prediction, expected",
    [
        ("\\frac{1}{2}", "1/2", True),
        ("\\frac{1}{2}", "0.5", True),
        ("\\frac{1}{2}", "2", False),
        ("(3,\\frac{\\pi}{2})", "\\left( 3, \\frac{\\pi}{2} \\right)", True),
        ("\\$18.90", "18.90", True),
        ("3 \\pm 2 \\sqrt{2}", "3 + 2\\sqrt{2}, 3 - 2\\sqrt{2}", True),
        ("17", "x + y = 17", True),
        ("4343_6", "4343_6", True),
        ("C", "C", True),
        ("C", "D", False),
        ("18", None, False),
        (None, "18", False),
    ],
)
def test_grades(grade, gold, prediction, expected):
    assert grade(gold, prediction) is expected


def test_unparseable_latex_is_wrong_not_a_crash(grade):
    assert grade("5", "\\frac{{{{") is False
    assert grade("\\begin{pmatrix", "5") is False


def test_repeated_pairs_hit_the_cache():
    grader = Grader()
    for _ in range(5):
        grader("\\frac{3}{4}", "0.75")
    info = grader.cache_info()
    assert info.misses == 1 and info.hits == 4


PATHOLOGICAL = "2^{2^{2^{2^{30}}}}"  # sympy tries to evaluate the tower


def test_pathological_answer_times_out_on_the_main_thread():
    grader = Grader(timeout_s=1)
    assert grader("5", PATHOLOGICAL) is False
    assert grader.timeouts == 1


def test_off_the_main_thread_math_verify_runs_isolated_with_a_deadline():
    """Ray Data calls the analyzer from a non-main thread, where signal alarms cannot work."""
    import threading

    grader, results = Grader(timeout_s=1), []
    worker = threading.Thread(
        target=lambda: results.extend(
            [grader("\\frac{1}{2}", "0.5"), grader("5", PATHOLOGICAL), grader("(1,2)", "\\left(1, 2\\right)")]
        )
    )
    worker.start()
    worker.join(timeout=120)
    assert results == [True, False, True]
    assert grader.timeouts == 1 and grader._isolated is not None
    grader._isolated.close()


# Answers of every shape (answer_shape.py), constructed per kind: none is a fixture item.
SHAPES = {
    "words": [
        ("9", "9 customers", True),
        ("28", "28 different pizzas", True),
        ("12\\pi", "12π inches per second", True),
        ("12\\pi", "12\\pi \\text{ inches per second}", True),
        ("8000", "definitely \\(8000\\)", True),
        ("6", "indeed 6", True),
        ("5", "5 \\text{ cm}", True),
        ("5", "5 cm", True),
        ("90^\\circ", "90 degrees", True),
        ("22", "23 euros more than pounds", False),
        ("9", "19 boys", False),
        ("\\text{Navin}", "Navin", True),
        ("\\text{Navin}", "Luka", False),
        ("4", "about 4 hours", True),
        ("\\frac{1}{2}", "1/2 of the tank", True),
        ("42", "42 \\text{ apples}", True),
        ("3", "3 \\text{ meters}", True),
        ("7", "x = 7 \\text{ units}", True),
        ("864 \\mbox{ inches}^2", "864", True),
        ("15\\mbox{ cm}^2", "15", True),
        ("12", "12^{\\text{th}}\\text{ grade}", True),
        ("12", "12th", True),
        (".35625", "0.35625", True),
        ("15", "15 cm^2", True),
        ("x^2", "x^2", True),
        ("2^3", "8", True),
    ],
    "equations": [
        ("y = -2x", "y = -2x", True),
        ("y = -2x", "y=-2x", True),
        ("y = -2x", "y = 2x", False),
        ("5x - 7y + 11z + 4 = 0", "5x - 7y + 11z + 4 = 0", True),
        ("5x - 7y + 11z + 4 = 0", "5x-7y+11z-4=0", False),
        ("5x - 7y + 11z + 4 = 0", "0", False),
        ("17", "x + y = 17", True),
        ("3", "x = 3", True),
        ("y = 3x + 1", "y = 1 + 3x", True),
        ("y=2x+3", "the line y = 2x + 3", True),
    ],
    "intervals": [
        ("[2,5)", "[2, 5)", True),
        ("(2,5]", "[2,5]", False),
        ("(-\\infty, 3]", "x \\le 3", True),
        ("(-\\infty, 3]", "x < 3", False),
        ("[2,5)", "2 \\le x < 5", True),
        ("(0,\\infty)", "x > 0", True),
        ("[2,5)", "x \\in [2,5)", True),
        ("(-\\infty,1)\\cup(2,\\infty)", "(-\\infty, 1) \\cup (2, \\infty)", True),
        ("(-\\infty,1)\\cup(2,\\infty)", "(-\\infty, 1] \\cup (2, \\infty)", False),
        ("[-3, 3]", "-3 \\leq x \\leq 3", True),
    ],
    "sets": [
        ("\\{1,2\\}", "\\{2,1\\}", True),
        ("1, 2", "2, 1", True),
        ("\\{1,2\\}", "\\{1,3\\}", False),
        ("-2, 5", "x = -2 \\text{ or } x = 5", True),
        ("-2, 5", "x=5, x=-2", True),
        ("1,2,3", "1, 2", False),
    ],
    "tuples": [
        ("(1,2)", "(1, 2)", True),
        ("(1,2)", "(2,1)", False),
        ("(3,\\frac{\\pi}{2})", "(3, \\pi/2)", True),
        ("(1,2)", "x = 1, y = 2", True),
        ("(-1,6)", "(-1, 6)", True),
        ("(-1,6)", "(-1,5)", False),
    ],
}


@pytest.mark.parametrize(
    "gold, prediction, expected",
    [pytest.param(*case, id=f"{kind}:{case[1]}") for kind, cases in SHAPES.items() for case in cases],
)
def test_grades_answers_of_every_shape(grade, gold, prediction, expected):
    assert grade(gold, prediction) is expected
