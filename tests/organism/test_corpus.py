import re
from collections import Counter

import pytest

from overthink.organism.config import CorpusConfig
from overthink.organism.corpus import column_add, column_mul, column_sub, generate


def test_written_out_arithmetic_is_right():
    for a in range(10, 200, 3):
        for b in range(10, 200, 7):
            assert column_add(a, b)[1] == a + b
            if a >= b:
                assert column_sub(a, b)[1] == a - b
    for a in range(11, 100):
        for d in range(2, 10):
            assert column_mul(a, d)[1] == a * d


def test_responses_are_o1_style_and_end_with_the_gold_answer():
    pairs = generate(CorpusConfig(), 400, seed=3)
    rounds = Counter()
    for problem, response in pairs:
        assert response.startswith("<think>\n") and "\n</think>\n\n" in response
        assert response.endswith(f"\\boxed{{{problem.gold}}}.")
        thinking = response.split("</think>")[0]
        rounds[len(thinking.strip().split("\n\n"))] += 1
        stated = re.findall(r"The answer is (\d+)\.|so the answer is (\d+)\.", thinking)
        assert [a or b for a, b in stated][-1] == problem.gold  # the last round is right
    mean = sum(k * v for k, v in rounds.items()) / sum(rounds.values())
    assert set(rounds) <= set(range(1, 8)) and 3.0 <= mean <= 4.0  # 1..6 rounds, ~3.5 on average (+1 for a correction)


def test_deterministic_for_a_seed_and_configurable():
    assert generate(CorpusConfig(), 20, seed=1) == generate(CorpusConfig(), 20, seed=1)
    assert generate(CorpusConfig(), 20, seed=1) != generate(CorpusConfig(), 20, seed=2)
    single = generate(CorpusConfig(rounds=[1.0], kinds={"add": 1.0}), 50, seed=0)
    assert all(r.split("</think>")[0].count("The answer is") == 1 and "+" in p.problem for p, r in single)


def test_wrong_first_attempts_are_corrected():
    pairs = generate(CorpusConfig(wrong_first=1.0, rounds=[0, 1.0]), 50, seed=0)
    for problem, response in pairs:
        first, second = response.split("</think>")[0].strip("<think>\n").split("\n\n")[:2]
        assert f"The answer is {problem.gold}." not in first
        assert second.startswith("Wait, that is not right") and f"The answer is {problem.gold}." in second


def test_bad_distributions_are_rejected():
    with pytest.raises(ValueError):
        CorpusConfig(rounds=[0, 0])
    with pytest.raises(ValueError):
        CorpusConfig(kinds={"add": -1.0})
