"""responses.html: a sample of analyzed responses drawn as their solutions, so a researcher can
check the splitting, the grading and the repeat/new judgement by eye. Pure: analyzed rows in
(pyarrow `to_pylist()`), one self-contained HTML page out (inline CSS, no scripts, no fetches),
so it opens from disk or from the MLflow artifact view alike."""

from __future__ import annotations

from html import escape
from itertools import islice

DEFAULT_LIMIT = 40

# Correctness of one answer -> CSS class; the legend and the tests use the same names.
VERDICT_CLASS = {True: "right", False: "wrong", None: "ungraded"}
VERDICT_TEXT = {True: "✓ correct", False: "✗ wrong", None: "ungraded"}

STYLE = """
body { margin: 0 auto; max-width: 1200px; padding: 16px 24px; background: #fafafa; color: #1f2328;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
h1 { font-size: 20px; margin: 4px 0 8px; }
h2 { font-size: 15px; margin: 0 0 6px; }
pre, code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace;
  font-size: 12.5px; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: 4px 0 0; }
.counts { font-size: 15px; margin: 4px 0; }
.how { color: #57606a; margin: 4px 0 10px; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 14px; align-items: center; padding: 8px 10px;
  background: #fff; border: 1px solid #d0d7de; border-radius: 6px; }
.legend .sw { display: inline-block; width: 26px; height: 14px; vertical-align: middle; margin-right: 4px;
  border-radius: 3px; }
.response { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; margin: 18px 0; padding: 12px 14px; }
.facts { display: flex; flex-wrap: wrap; gap: 2px 18px; margin: 0 0 8px; color: #3d444d; }
.facts b { color: #1f2328; }
.problem { background: #f1f4f8; border-radius: 6px; padding: 6px 10px; margin-bottom: 8px; }
.strip { display: flex; height: 18px; border-radius: 4px; overflow: hidden; margin: 8px 0;
  border: 1px solid #d0d7de; }
.strip span { min-width: 3px; border-right: 2px solid #fff; color: #fff; font-size: 11px; line-height: 18px;
  text-align: center; overflow: hidden; white-space: nowrap; }
.block { border-radius: 6px; padding: 6px 10px; margin: 6px 0; border-left: 6px solid; }
.label { font-size: 13px; display: flex; flex-wrap: wrap; gap: 4px 10px; align-items: center; }
.tag { border-radius: 10px; padding: 0 8px; font-size: 12px; font-weight: 600; }
.right { background: #e8f5e9; border-color: #2e7d32; }
.wrong { background: #fdecea; border-color: #c62828; }
.ungraded { background: #f3f4f6; border-color: #8c959f; }
.strip .right, .sw.right { background: #2e7d32; }
.strip .wrong, .sw.wrong { background: #c62828; }
.strip .ungraded, .sw.ungraded { background: #8c959f; }
.strip .rest, .sw.rest { background: #cfdcec; }
.strip .repeat, .sw.repeat { background-image: repeating-linear-gradient(45deg, rgba(255,255,255,.45) 0 3px,
  transparent 3px 7px); }
.tag.right { background: #2e7d32; color: #fff; }
.tag.wrong { background: #c62828; color: #fff; }
.tag.ungraded { background: #8c959f; color: #fff; }
.first-correct { outline: 3px solid #f5a623; outline-offset: 1px; }
.strip .first-correct { outline: none; box-shadow: inset 0 0 0 3px #f5a623; }
.first-tag { background: #f5a623; color: #1f2328; }
.new-tag { background: #0969da; color: #fff; }
.repeat-tag { background: #8c959f; color: #fff; }
.outside { background: #fff; border: 1px dashed #afb8c1; border-left: 6px solid #d0d7de; color: #57606a; }
.outside pre { margin: 0; }
.outside .label { display: inline; font-family: system-ui, "DejaVu Sans", sans-serif; font-style: italic; }
.answer-part { background: #eef4fc; border-color: #0969da; }
.overview { border-collapse: collapse; width: 100%; margin: 12px 0; background: #fff; font-size: 13px; }
.overview td, .overview th { border-bottom: 1px solid #eaeef2; padding: 2px 8px; text-align: left;
  white-space: nowrap; }
.overview td.bar { width: 70%; }
.overview .strip { margin: 2px 0; }
summary { cursor: pointer; }
.note { color: #57606a; font-style: italic; }
"""


def pick_sample(rows: list[dict], limit: int = DEFAULT_LIMIT) -> list[int]:
    """Indices of the responses the page shows, in input order. Up to half are the earliest
    responses with several solutions (where there is a split to check),
    the rest the earliest of the others; "earliest" takes every problem's first sample before
    any second one, so the page spans problems rather than showing one problem's ten samples.
    Deterministic: the same analysis always shows the same page."""
    numbers = sample_numbers(rows)
    by_spread = sorted(range(len(rows)), key=lambda i: (numbers[i] or 0, i))
    several = [i for i in by_spread if (rows[i]["num_solutions"] or 0) >= 2][: limit // 2]
    chosen = set(several)
    chosen.update(islice((i for i in by_spread if i not in chosen), limit - len(chosen)))
    return sorted(chosen)


def sample_numbers(rows: list[dict]) -> list[int | None]:
    """Which sample of its problem each response is (0, 1, … in input order), as the sample stage
    numbers them; None for rows without a problem id, whose siblings cannot be told."""
    seen: dict[tuple, int] = {}
    numbers: list[int | None] = []
    for row in rows:
        if row.get("problem_id") is None:
            numbers.append(None)
            continue
        key = (row.get("dataset"), row["problem_id"])
        numbers.append(seen.get(key, 0))
        seen[key] = numbers[-1] + 1
    return numbers


def render_responses_page(rows: list[dict], title: str, limit: int = DEFAULT_LIMIT) -> str:
    """The page for `pick_sample(rows, limit)`. Only the picked rows need `problem` and
    `response` (the analyze stage reads those two columns for them alone); without `response`
    the solutions are shown on their own."""
    picked = pick_sample(rows, limit)
    numbers = sample_numbers(rows)
    shown = [rows[i] for i in picked]
    cards = "\n".join(response_card(rows[i], i, numbers[i]) for i in picked)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>\n"
        f"<h1>{escape(title)}</h1>\n{summary_header(shown, len(rows))}\n{LEGEND}\n"
        f"{overview(picked, rows, numbers)}\n{cards}\n</body></html>\n"
    )


def overview(picked: list[int], rows: list[dict], numbers: list[int | None]) -> str:
    """One line per shown response, its bar as long as its tokens: the whole sample on one screen."""
    longest = max((rows[i]["num_tokens"] or 0 for i in picked), default=0) or 1
    lines = [
        f'<tr><td><a href="#r{i}">{identity(rows[i], numbers[i], short=True)}</a></td>'
        f'<td><span class="tag {VERDICT_CLASS[rows[i]["correct"]]}">{VERDICT_TEXT[rows[i]["correct"]]}</span></td>'
        f'<td class="bar">{strip(rows[i], 100 * (rows[i]["num_tokens"] or 0) / longest)}</td></tr>'
        for i in picked
    ]
    return (
        '<table class="overview"><tr><th>response</th><th>final answer</th>'
        f"<th>solutions, as long as their tokens (longest response: {longest} tokens)</th></tr>"
        + "".join(lines)
        + "</table>"
    )


def identity(row: dict, sample_number: int | None, short: bool = False) -> str:
    """dataset · problem · sample · row: where a response comes from, escaped."""
    parts = (
        row.get("dataset") or "",
        f"problem {row['problem_id']}" if row.get("problem_id") is not None else "",
        f"sample {sample_number}" if sample_number is not None else "",
        "" if short else f"row {row['source_row']} of {basename(row.get('source_file') or '')}",
    )
    return escape(" · ".join(str(part) for part in parts if part))


def summary_header(shown: list[dict], total: int) -> str:
    analyzed = [r for r in shown if r["num_solutions"] is not None]
    graded = [r for r in analyzed if r["correct"] is not None]
    mean = sum(r["num_solutions"] for r in analyzed) / len(analyzed) if analyzed else 0.0
    first_right = sum(1 for r in graded if r["first_correct_index"] == 0)
    final_right = sum(1 for r in graded if r["correct"])
    several = sum(1 for r in analyzed if r["num_solutions"] >= 2)
    return (
        f'<p class="counts"><b>{len(shown)}</b> of {total} responses shown. In this sample: '
        f"mean <b>{mean:.1f}</b> solutions ({several} with several) · "
        f"first solution correct in <b>{first_right}</b> of {len(graded)} graded · "
        f"final answer correct in <b>{final_right}</b> of {len(graded)}</p>\n"
        '<p class="how">Sample: the earliest responses in input order (first samples of each problem '
        "before second ones), half of them chosen among responses with several solutions.</p>"
    )


def swatch(classes: str, text: str) -> str:
    return f'<span><span class="sw {classes}"></span>{text}</span>'


LEGEND = (
    '<div class="legend"><b>Legend</b>'
    + swatch("right", "solution whose answer is correct")
    + swatch("wrong", "wrong answer (or none)")
    + swatch("ungraded", "ungraded (no gold)")
    + '<span><span class="tag first-tag">★ first correct</span> the first correct solution (outlined)</span>'
    + '<span><span class="tag new-tag">new strategy</span> / <span class="tag repeat-tag">repeat</span> '
    "a later solution's strategy judged new or seen before (hatched in the bar)</span>"
    + swatch("rest", "in the bar: tokens outside every solution (the answer part after the thinking, folded below)")
    + "</div>"
)


def response_card(row: dict, index: int, sample_number: int | None) -> str:
    final, count = row["correct"], row["num_solutions"]
    facts = [
        f"gold <b><code>{escape(str(row['gold']))}</code></b>" if row.get("gold") is not None else "no gold answer",
        f"final answer <b><code>{escape(str(row['final_answer']))}</code></b> "
        f'<span class="tag {VERDICT_CLASS[final]}">{VERDICT_TEXT[final]}</span>',
        f"<b>{count if count is not None else 'no'}</b> solution{'' if count == 1 else 's'}",
        f"<b>{row['num_tokens']}</b> tokens" if row.get("num_tokens") is not None else "",
        "truncated" if row.get("truncated") else "",
        f"flags: {escape(', '.join(row['flags']))}" if row.get("flags") else "",
        f"error: {escape(row['error'])}" if row.get("error") else "",
    ]
    problem = row.get("problem")
    return (
        f'<article class="response" id="r{index}"><h2>{identity(row, sample_number)}</h2>\n'
        f'<div class="facts">{"".join(f"<span>{f}</span>" for f in facts if f)}</div>\n'
        + (f'<div class="problem"><b>Problem</b><pre>{escape(problem)}</pre></div>\n' if problem else "")
        + strip(row)
        + "\n".join(piece_html(kind, text, m, row) for kind, text, m in pieces(row))
        + "</article>"
    )


def basename(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def pieces(row: dict) -> list[tuple[str, str, int | None]]:
    """The response in reading order as (kind, text, solution index): kind is `solution`,
    `outside` (thinking text no solution covers) or `answer` (after the closing thinking tag).
    Solutions without a span in the response (given, not verbatim) or a row without its
    `response` text are shown as the solution texts alone."""
    solutions, response = row["solutions"] or [], row.get("response")
    if response is None or any(s["start"] is None for s in solutions):
        return [("solution", s["text"], m) for m, s in enumerate(solutions)]
    thinking_end = row["thinking_end"] if row["thinking_end"] is not None else len(response)
    out, cursor = [], 0
    for m, s in sorted(enumerate(solutions), key=lambda item: item[1]["start"]):
        if s["start"] > cursor:
            out.append(("outside", response[cursor : s["start"]], None))
        out.append(("solution", s["text"], m))
        cursor = max(cursor, s["end"])
    if thinking_end > cursor:
        out.append(("outside", response[cursor:thinking_end], None))
    if thinking_end < len(response):
        out.append(("answer", response[max(thinking_end, cursor) :], None))
    return [piece for piece in out if piece[0] == "solution" or piece[1].strip()]


def solution_marks(row: dict, m: int) -> tuple[str, list[str]]:
    """The CSS classes and the tags of solution m: correctness, first correct, repeat or new."""
    solution = row["solutions"][m]
    classes = [VERDICT_CLASS[solution["correct"]]]
    tags = []
    if row["first_correct_index"] == m:
        classes.append("first-correct")
        tags.append('<span class="tag first-tag">★ first correct</span>')
    if m > 0 and solution["distinct"] is not None:
        classes.append("new" if solution["distinct"] else "repeat")
        tags.append(
            '<span class="tag new-tag">new strategy</span>'
            if solution["distinct"]
            else '<span class="tag repeat-tag">repeat</span>'
        )
    return " ".join(classes), tags


def strip(row: dict, width_pct: float = 100.0) -> str:
    """The response's solutions as one bar, each as wide as its tokens: the picture at a glance."""
    solutions = row["solutions"] or []
    if not solutions:
        return '<p class="note">No solutions (the row was not analyzed or reached no answer).</p>\n'
    spans = []
    for m, s in enumerate(solutions):
        classes, _ = solution_marks(row, m)
        star = "★" if row["first_correct_index"] == m else ""
        hint = f"solution {m + 1}: {s['tokens']} tokens, answer {s['answer']}"
        spans.append(
            f'<span class="{classes}" style="flex: {max(s["tokens"] or 0, 1)} 1 0" '
            f'title="{escape(hint)}">{m + 1}{star}</span>'
        )
    rest = (row.get("num_tokens") or 0) - sum(s["tokens"] or 0 for s in solutions)
    if rest > 0:  # the answer part and any text between rounds, so bars compare as whole responses
        spans.append(
            f'<span class="rest" style="flex: {rest} 1 0" title="{rest} tokens outside every solution"></span>'
        )
    return f'<div class="strip" style="width: {max(width_pct, 2):.1f}%">{"".join(spans)}</div>\n'


def piece_html(kind: str, text: str, index: int | None, row: dict) -> str:
    body = escape(text.strip("\n"))  # blank lines at a cut are the paragraph break the split fell on
    if kind == "outside":
        return f'<div class="block outside"><pre><span class="label">outside every solution:</span> {body}</pre></div>'
    if kind == "answer":  # folded: the solutions are what the page is for
        return (
            '<details class="block answer-part"><summary class="label"><b>answer part</b> (after the thinking, '
            f"click to unfold) · final answer <code>{escape(str(row['final_answer']))}</code></summary>"
            f"<pre>{body}</pre></details>"
        )
    solution = row["solutions"][index]
    classes, tags = solution_marks(row, index)
    answer = solution["answer"]
    label = [
        f"<b>Solution {index + 1}</b>",
        f"{solution['tokens']} tokens" if solution["tokens"] is not None else "",
        f"answer <code>{escape(answer)}</code>" if answer is not None else "no answer",
        f'<span class="tag {VERDICT_CLASS[solution["correct"]]}">{VERDICT_TEXT[solution["correct"]]}</span>',
        *tags,
    ]
    return (
        f'<div class="block {classes}"><div class="label">{"".join(f"<span>{p}</span>" for p in label if p)}</div>'
        f"<pre>{body}</pre></div>"
    )
