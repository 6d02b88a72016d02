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
