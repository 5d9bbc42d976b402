import doctest

import rlvr.rewards.verify as verify


def test_doctests():
    result = doctest.testmod(verify)
    assert result.attempted > 0 and result.failed == 0


def test_the_warm_up_leaves_no_parse_cached():
    # What the warm-up parsed is not what will be graded: it must not take the cache's room.
    verify.warm_up_worker(full=False)
    assert verify._parse_answer_cached.cache_info().currsize == 0
