"""Writes platform/overthink/examples/responses.jsonl: small o1-style responses for the
quickstart (made here, deterministic; the model organism of a later stage replaces them)."""

import json
import random
from pathlib import Path

OPENERS = [
    "Let me work this out step by step.",
    "Okay, let's solve this carefully.",
    "Alright, I need to compute this.",
]
RECHECKS = [
    "Wait, let me double-check that. {a} {op} {b}: {work} So the result is {ans}.",
    "Hmm, let me verify this another way. {alt} That gives {ans} again.",
    "Let me check once more to be sure. Recomputing {a} {op} {b} = {ans}. Yes, it is {ans}.",
    "Alternatively, I can estimate: {alt} So the answer is {ans}.",
]


def problem(rng: random.Random, index: int) -> dict:
    a, b = rng.randint(12, 99), rng.randint(3, 29)
    op, ans = rng.choice([("+", a + b), ("*", a * b), ("-", a - b)])
    work = {
        "+": f"adding the tens and the ones gives {ans}.",
        "*": f"{a} times {b} is {a * b}.",
        "-": f"taking {b} away from {a} leaves {ans}.",
    }[op]
    alt = {
        "+": f"{ans} - {b} = {a}, which matches.",
        "*": f"{ans} / {b} = {a}, which matches.",
        "-": f"{ans} + {b} = {a}, which matches.",
    }[op]
    rounds = [f"{rng.choice(OPENERS)}\n\nWe need {a} {op} {b}. {work.capitalize()}\n\nSo the answer is {ans}."]
    if index % 5 == 3:  # a wrong first attempt, corrected later
        rounds[0] = (
            f"{rng.choice(OPENERS)}\n\nWe need {a} {op} {b}. Quickly, that is {ans + 10}.\n\nSo the answer is "
            f"{ans + 10}."
        )
    for template in rng.sample(RECHECKS, k=rng.randint(1, 4)):
        rounds.append(template.format(a=a, b=b, op=op, ans=ans, work=work, alt=alt))
    thinking = "\n\n".join(rounds)
    response = f"<think>\n{thinking}\n</think>\n\nThe result of ${a} {op} {b}$ is $\\boxed{{{ans}}}$."
    if index % 7 == 6:  # cut off at the token limit
        response = "<think>\n" + thinking[: len(thinking) // 2]
    return {
        "problem_id": f"ex-{index:03d}",
        "dataset": "arith-examples",
        "level": str(1 + index % 3),
        "problem": f"Compute {a} {op} {b}.",
        "response": response,
        "gold": str(ans),
    }


def main() -> None:
    rng = random.Random(2412_21187)
    rows = [problem(rng, i) for i in range(24)]
    target = Path(__file__).resolve().parents[1] / "platform" / "overthink" / "examples" / "responses.jsonl"
    target.write_text("".join(json.dumps(row) + "\n" for row in rows))
    print(f"wrote {len(rows)} responses to {target}")


if __name__ == "__main__":
    main()
