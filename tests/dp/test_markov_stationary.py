"""Stationary laws of Markov channels: GTH against exact rational arithmetic, closed classes.

The reference solves :math:`\\pi (P - I) = 0`, :math:`\\sum \\pi = 1` in
:class:`fractions.Fraction` (exact Gaussian elimination) on the matrix whose
off-diagonal entries are the given floats exactly and whose diagonal is
:math:`1 - \\sum_{j \\ne i} P_{ij}`, exactly: the chain the floats describe.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from coopt import solve
from coopt.cli.main import main
from coopt.errors import InstanceError
from coopt.model.channel import build_channel, closed_classes, stationary_distribution
from coopt.model.instance import ChannelSpec
from tests.support.instances import make_doc

RTOL_GTH = 1e-13  # GTH has no cancellation: a few ulps per component, K <= 12


def exact_stationary(transition: np.ndarray) -> list[Fraction]:
    """Stationary law of an irreducible chain by exact Gaussian elimination."""
    k = transition.shape[0]
    p = [[Fraction(float(x)) for x in row] for row in transition]
    for i in range(k):
        p[i][i] = 1 - sum(p[i][j] for j in range(k) if j != i)
    # Rows of A = P^T - I, the last one replaced by the normalisation.
    a = [[p[j][i] - (1 if i == j else 0) for j in range(k)] + [Fraction(0)] for i in range(k - 1)]
    a.append([Fraction(1)] * k + [Fraction(1)])
    for col in range(k):
        piv = next(r for r in range(col, k) if a[r][col] != 0)
        a[col], a[piv] = a[piv], a[col]
        for r in range(k):
            if r != col and a[r][col] != 0:
                f = a[r][col] / a[col][col]
                a[r] = [x - f * y for x, y in zip(a[r], a[col])]
    return [a[i][k] / a[i][i] for i in range(k)]


def assert_matches_exact(pi: np.ndarray, exact: list[Fraction]) -> None:
    for got, ref in zip(pi, exact):
        assert abs(Fraction(float(got)) - ref) <= RTOL_GTH * ref, (float(got), float(ref))


ISSUE_GAINS = (1e-10, 2e-9, 5e-11, 4e-9)


def joined(link: float) -> np.ndarray:
    """The issue's two-class chain, joined by ``link`` from state 0 and from state 3."""
    return np.array(
        [
            [0.5 - link, 0.5, link, 0.0],
            [0.3, 0.7, 0.0, 0.0],
            [0.0, 0.0, 0.6, 0.4],
            [link, 0.0, 0.2, 0.8 - link],
        ]
    )


@pytest.mark.parametrize("link", [1e-300, 1e-200, 1e-12, 1e-6, 0.1])
def test_nearly_decomposable_chain_matches_exact_arithmetic(link):
    P = joined(link)
    pi = stationary_distribution(P)
    assert_matches_exact(pi, exact_stationary(P))
    if link <= 1e-12:
        # Balance across the weak links gives pi_0 = pi_3; the classes' own laws fix the
        # rest, up to O(link).
        np.testing.assert_allclose(pi, [0.24, 0.40, 0.12, 0.24], rtol=1e-10)


def random_nearly_decomposable(rng: np.random.Generator) -> np.ndarray:
    """Blocks of strongly linked states in a ring, neighbouring blocks joined by links
    of 1e-90..1e-2 (products of three links stay above double precision's range)."""
    sizes = rng.integers(1, 4, size=int(rng.integers(2, 5)))
    k = int(sizes.sum())
    block = np.repeat(np.arange(len(sizes)), sizes)
    P = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            d = (block[j] - block[i]) % len(sizes)
            if d == 0:
                P[i, j] = rng.uniform(0.1, 1.0)
            elif d in (1, len(sizes) - 1):
                P[i, j] = 10.0 ** rng.uniform(-90, -2)
        P[i] /= P[i].sum()
    perm = rng.permutation(k)
    return P[np.ix_(perm, perm)]


@pytest.mark.parametrize("seed", range(25))
def test_random_nearly_decomposable_chains_match_exact_arithmetic(seed):
    P = random_nearly_decomposable(np.random.default_rng(seed))
    assert_matches_exact(stationary_distribution(P), exact_stationary(P))


def test_transient_states_get_zero_and_the_closed_class_its_law():
    # States 0 and 3 are transient; {1, 2} is the only closed class.
    P = np.array(
        [
            [0.2, 0.3, 0.0, 0.5],
            [0.0, 0.9, 0.1, 0.0],
            [0.0, 0.4, 0.6, 0.0],
            [0.1, 0.0, 0.7, 0.2],
        ]
    )
    assert closed_classes(P) == [[1, 2]]
    pi = stationary_distribution(P)
    assert pi[0] == 0.0 and pi[3] == 0.0
    assert_matches_exact(pi[1:3], exact_stationary(P[1:3, 1:3]))


def test_closed_classes_on_the_zero_pattern():
    assert closed_classes(joined(0.0)) == [[0, 1], [2, 3]]
    assert closed_classes(joined(1e-300)) == [[0, 1, 2, 3]]
    assert closed_classes(np.eye(3)) == [[0], [1], [2]]


def test_two_closed_classes_without_initial_name_the_classes():
    spec = ChannelSpec("markov", gains=ISSUE_GAINS, transition=tuple(map(tuple, joined(0.0))))
    with pytest.raises(InstanceError) as err:
        build_channel(spec)
    msg = str(err.value)
    assert "\n" not in msg
    assert "2 closed classes" in msg
    assert "states 0, 1 (gains 1e-10, 2e-09)" in msg  # the user's order, not sorted by gain
    assert "states 2, 3 (gains 5e-11, 4e-09)" in msg
    assert "channel.initial" in msg


def test_two_closed_classes_with_initial_are_accepted():
    initial = (0.1, 0.2, 0.3, 0.4)
    spec = ChannelSpec("markov", gains=ISSUE_GAINS, transition=tuple(map(tuple, joined(0.0))), initial=initial)
    ch = build_channel(spec)
    order = np.argsort(ISSUE_GAINS)
    np.testing.assert_array_equal(ch.initial, np.asarray(initial)[order])


def test_default_initial_is_permuted_with_the_gains():
    P = joined(1e-12)
    ch = build_channel(ChannelSpec("markov", gains=ISSUE_GAINS, transition=tuple(map(tuple, P))))
    order = np.argsort(ISSUE_GAINS)
    exact = exact_stationary(P)
    assert_matches_exact(ch.initial, [exact[i] for i in order])


def markov_doc(link: float):
    return make_doc(
        network__profile="lenet5",
        channel__law="markov",
        channel__mean_gain=None,
        channel__states=None,
        channel__gains=list(ISSUE_GAINS),
        channel__transition=joined(link).tolist(),
    )


def test_cli_refuses_two_closed_classes_with_one_line(write_instance, capsys):
    code = main(["solve", str(write_instance(markov_doc(0.0)))])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("coopt: error: channel.transition")
    assert "2 closed classes" in err


def test_solve_uses_the_exact_law_of_a_weakly_joined_chain(write_instance):
    from coopt import load_instance

    res = solve(load_instance(write_instance(markov_doc(1e-300))))
    order = np.argsort(ISSUE_GAINS)
    np.testing.assert_allclose(res.channel.initial, np.array([0.24, 0.40, 0.12, 0.24])[order], rtol=1e-12)
