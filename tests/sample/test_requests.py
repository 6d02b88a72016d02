from overthink.problems.schema import Problem
from overthink.sample.config import PromptConfig
from overthink.sample.requests import expand, sample_seed, user_message

PROBLEMS = [Problem("p1", "d", "What is 1+1?", "2"), Problem("p2", "d", "Pick one.", "B", choices=["x", "y"])]


def test_seeds_are_distinct_stable_and_order_free():
    seeds = {sample_seed(0, p, k) for p in ("p1", "p2") for k in range(50)}
    assert len(seeds) == 100
    assert sample_seed(0, "p1", 3) == sample_seed(0, "p1", 3) != sample_seed(1, "p1", 3)


def test_expand_makes_n_per_problem_and_skips_done():
    requests = expand(PROBLEMS[:1] + [Problem("p2", "d", "Two?", "2")], lambda p: p.problem_id, n=3, base_seed=0)
    assert [(r["problem_id"], r["sample_index"]) for r in requests] == [
        ("p1", 0),
        ("p1", 1),
        ("p1", 2),
        ("p2", 0),
        ("p2", 1),
        ("p2", 2),
    ]
    assert [r["prompt"] for r in requests] == ["p1"] * 3 + ["p2"] * 3
    rest = expand(PROBLEMS, lambda p: p.problem_id, n=3, base_seed=0, done={("p1", 0), ("p2", 2)})
    assert len(rest) == 4 and ("p1", 0) not in {(r["problem_id"], r["sample_index"]) for r in rest}


def test_user_message_lists_choices_and_the_answer_instruction():
    text = user_message(PROBLEMS[1], PromptConfig())
    assert "(A) x\n(B) y" in text and text.endswith("within \\boxed{}.")
