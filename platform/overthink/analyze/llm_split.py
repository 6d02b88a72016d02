"""`segment.method=llm`: the paper's LLM splitter (arXiv 2412.21187; the authors' pipeline is
galaxyChen/overthinking, split_solution.py), through any OpenAI-compatible endpoint, a served
70B-class judge or `overthink serve` of one included.

Stage 1 (split): the thinking's paragraphs, numbered `###STEP n`, go to the judge in windows of
`segment.steps_per_request`; it wraps each solution that explicitly reaches an answer in tags
and names the answer. Stage 2 (step judge): every paragraph inside a solution but its last is
asked whether it explicitly contains that solution's answer; a yes ends a solution there. A
response whose judge finds no complete solution has none.

Requests of a whole shard go out together, at most `segment.concurrency` at a time; finished
splits are cached by (thinking text, question, judge model, prompt version), in memory and,
with `segment.cache_dir`, on disk. A reply that cannot be read falls back to the rules splitter
for that row (flag `llm_split_fallback`); a step judgement that cannot be read counts as no."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from overthink.analyze.segment import Segmenter, Solution, paragraphs

PROMPT_VERSION = "split-v1"

SPLIT_PROMPT = """Below is a student's reasoning about a problem, cut into steps marked ###STEP n. \
Find the solutions in it.

A solution is a stretch of consecutive steps that explicitly reaches an answer to the question \
(for a math problem, the value asked for; for a multiple-choice question, an option). Rules:
1. Whenever a step states an answer explicitly, a solution ends there, right or wrong.
2. A verification, double-check or reflection that reaches an answer again is a solution of its \
own, however short, and whether or not its answer agrees with the one before.
3. A step that only concludes or restates the answer of the solution before it belongs to that \
solution. Intermediate values are not answers: judge by what the question asks for.
4. The steps may start in the middle of a solution and may stop before one is finished; a \
solution that reaches no answer is incomplete.

Reply with one block per solution, in order, each covering its first and last step:
<solution1><step>###STEP a ... ###STEP b</step><answer>the answer</answer><complete>true</complete></solution1>
<solution2>...</solution2>
Use <complete>false</complete> and <answer>none</answer> for a solution that reaches no answer.

Question:
\"\"\"
{question}
\"\"\"

Reasoning:
\"\"\"
{steps}
\"\"\""""

STEP_PROMPT = """Does this single step of a student's reasoning explicitly contain the expected answer \
to the question? Its correctness does not matter; a step that only works towards it, or mentions \
it as a possibility, does not contain it; a boxed value is a strong sign that it does. Reply with \
JSON only: {{"result": true}} or {{"result": false}}.

Question:
\"\"\"
{question}
\"\"\"

Step:
\"\"\"
{step}
\"\"\"

Expected answer:
\"\"\"
{expected}
\"\"\""""

_SOLUTION = re.compile(r"<solution(\d+)>(.*?)</solution\1>", re.DOTALL)
_STEP_NUMBER = re.compile(r"###\s*STEP\s*(\d+)", re.IGNORECASE)


def _tag(name: str, text: str) -> str | None:
    found = re.search(rf"<{name}>(.*?)</{name}>", text, re.DOTALL)
    return found.group(1).strip() if found else None


def numbered_steps(texts: list[str], first: int) -> str:
    return "\n\n".join(f"###STEP {first + i}\n{text.strip()}" for i, text in enumerate(texts))


def parse_solutions(reply: str, first: int, last: int) -> list[tuple[int, str]] | None:
    """(last step, answer) of each complete solution of a stage-1 reply for steps first..last,
    in order; None when the reply holds no readable solution block at all."""
    blocks = _SOLUTION.findall(reply or "")
    if not blocks:
        return None
    found: list[tuple[int, str]] = []
    for _, block in blocks:
        steps = [int(n) for n in _STEP_NUMBER.findall(_tag("step", block) or "")]
        answer = _tag("answer", block)
        complete = (_tag("complete", block) or "").lower() == "true"
        if not steps or not complete or not answer or answer.lower() == "none":
            continue
        end = steps[-1]
        if first <= end <= last and (not found or end > found[-1][0]):
            found.append((end, answer))
    return found


def parse_judgement(reply: str) -> bool | None:
    """The boolean of a stage-2 reply (`{"result": true}`, fenced or not); None if unreadable."""
    match = re.search(r"\{[^{}]*\}", reply or "")
    if not match:
        return None
    try:
        value = json.loads(match.group(0)).get("result")
    except (json.JSONDecodeError, AttributeError):
        return None
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value if isinstance(value, bool) else None


@dataclass
class _Job:
    key: str
    record: dict
    spans: list[tuple[int, int]]
    texts: list[str]
    ends: list[tuple[int, str]] | None = None  # (last paragraph, 1-based; answer)
    failed: bool = False


class SplitCache:
    """Finished splits by key: in memory, and in `folder` (one small JSON file each) when set."""

    def __init__(self, folder: str | None):
        self.memory: dict[str, list] = {}
        self.folder = Path(folder) if folder else None
        if self.folder:
            self.folder.mkdir(parents=True, exist_ok=True)

    def get(self, key: str) -> list | None:
        if key in self.memory:
            return self.memory[key]
        path = self.folder / f"{key}.json" if self.folder else None
        if path and path.exists():
            try:
                self.memory[key] = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                return None
            return self.memory[key]
        return None

    def put(self, key: str, ends: list) -> None:
        self.memory[key] = ends
        if self.folder:
            temporary = self.folder / f".{key}.tmp"
            temporary.write_text(json.dumps(ends))
            temporary.replace(self.folder / f"{key}.json")


class LLMSplitter:
    """A segmenter through a judge endpoint (`ask(prompt) -> reply text`). `prepare` sends the
    requests of many rows concurrently; a row it did not prepare is split on its own call."""

    def __init__(
        self,
        ask: Callable[[str], str],
        judge: str,
        fallback: Segmenter,
        stats: Counter,
        concurrency: int = 16,
        steps_per_request: int = 50,
        judge_steps: bool = True,
        cache_dir: str | None = None,
    ):
        self.ask = ask
        self.judge = judge
        self.fallback = fallback
        self.stats = stats
        self.concurrency = concurrency
        self.steps_per_request = steps_per_request
        self.judge_steps = judge_steps
        self.cache = SplitCache(cache_dir)
        self._lock = threading.Lock()  # requests run in threads; counts must add up
        self.unreadable: set[str] = set()  # rows whose split failed in `prepare`: not asked twice

    def count(self, name: str) -> None:
        with self._lock:
            self.stats[name] += 1

    def key(self, record: dict, thinking: str) -> str:
        identity = json.dumps([PROMPT_VERSION, self.judge, self.judge_steps, record.get("problem"), thinking])
        return hashlib.sha256(identity.encode()).hexdigest()[:32]

    def prepare(self, rows: list[tuple[dict, str, int, int]]) -> None:
        jobs = []
        for record, text, start, end in rows:
            key = self.key(record, text[start:end])
            if self.cache.get(key) is None:
                spans = paragraphs(text, start, end)
                jobs.append(_Job(key, record, spans, [text[a:b] for a, b in spans]))
        if jobs:
            self._run(jobs)

    def __call__(self, record: dict, text: str, start: int, end: int) -> list[Solution]:
        key = self.key(record, text[start:end])
        spans = paragraphs(text, start, end)
        ends = self.cache.get(key)
        if ends is None and key not in self.unreadable:
            job = _Job(key, record, spans, [text[a:b] for a, b in spans])
            self._run([job])
            ends = self.cache.get(key)
        if ends is None:
            record["flags"].append("llm_split_fallback")
            self.count("llm_split_fallbacks")
            return self.fallback(record, text, start, end)
        solutions, first = [], 0
        for last, answer in ends:
            solutions.append(Solution(spans[first][0] if first else start, spans[last - 1][1], answer))
            first = last
        if solutions:
            solutions[-1] = Solution(solutions[-1].start, end, solutions[-1].answer)
        return solutions

    def _run(self, jobs: list[_Job]) -> None:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            windows = [
                (job, first, min(first + self.steps_per_request, len(job.texts)))
                for job in jobs
                for first in range(0, len(job.texts), self.steps_per_request)
            ]
            replies = list(pool.map(lambda window: self._split_window(*window), windows))
            for job in jobs:
                job.ends = []
            for (job, _, _), found in zip(windows, replies):
                if found is None:
                    job.failed = True
                else:
                    job.ends += [(end, answer) for end, answer in found if not job.ends or end > job.ends[-1][0]]
            live = [job for job in jobs if not job.failed]
            self.unreadable.update(job.key for job in jobs if job.failed)
            if self.judge_steps:
                self._judge_steps(pool, live)
        for job in live:
            if job.ends:
                job.ends[-1] = (len(job.texts), job.ends[-1][1])  # what follows the last answer is its own
            self.cache.put(job.key, [list(pair) for pair in job.ends])

    def _split_window(self, job: _Job, first: int, stop: int) -> list[tuple[int, str]] | None:
        prompt = SPLIT_PROMPT.format(
            question=job.record.get("problem") or "", steps=numbered_steps(job.texts[first:stop], first + 1)
        )
        self.count("llm_split_calls")
        found = parse_solutions(self._ask(prompt), first + 1, stop)
        if found is None:
            self.count("llm_split_unreadable")
        return found

    def _judge_steps(self, pool: ThreadPoolExecutor, jobs: list[_Job]) -> None:
        """Stage 2: inside each solution, a step that explicitly holds its answer ends one."""
        questions = []
        for job in jobs:
            first = 1
            for last, answer in job.ends:
                questions += [(job, step, answer) for step in range(first, last)]
                first = last + 1
        verdicts = list(pool.map(lambda q: self._judge_step(*q), questions))
        extra: dict[int, list[tuple[int, str]]] = {}
        for (job, step, answer), verdict in zip(questions, verdicts):
            if verdict:
                extra.setdefault(id(job), []).append((step, answer))
        for job in jobs:
            job.ends = sorted(set(job.ends) | set(extra.get(id(job), [])))

    def _judge_step(self, job: _Job, step: int, answer: str) -> bool:
        prompt = STEP_PROMPT.format(
            question=job.record.get("problem") or "", step=job.texts[step - 1].strip(), expected=answer
        )
        self.count("llm_step_calls")
        verdict = parse_judgement(self._ask(prompt))
        if verdict is None:
            self.count("llm_step_unreadable")
        return bool(verdict)

    def _ask(self, prompt: str) -> str:
        try:
            return self.ask(prompt)
        except Exception as err:  # a dead or refusing endpoint: the row falls back, the run goes on
            self.count(f"llm_request_errors.{type(err).__name__}")
            return ""
