"""coopt: optimal model placement and online model splitting for device-edge co-inference.

The model is specified in docs/model.md; it follows Yan, Bi and Zhang, "Optimal Model
Placement and Online Model Splitting for Device-Edge Co-Inference", IEEE Trans.
Wireless Commun. 21(10), 2022 (arXiv:2105.13618).

Typical use::

    from coopt import load_instance, solve
    result = solve(load_instance("data/cnn_chain.toml"))
    result.placement, result.objective
    print(result)          # the text report of `coopt solve`; result.to_frame() with pandas
"""

import coopt.report.text  # noqa: F401  (registers str(SolveResult), the text report)
from coopt.api import solve, solve_problem
from coopt.dp.results import SolveResult
from coopt.dp.stopping import (
    StoppingSolution,
    backward_induction,
    evaluate_policy,
    occupation,
    osla_policy,
    policy_at,
)
from coopt.errors import (
    CooptError,
    InstanceError,
    NoSolutionError,
    ProfileError,
    SolverUnavailableError,
)
from coopt.model.channel import Channel, build_channel
from coopt.model.costs import CostModel, cost_model
from coopt.model.instance import Instance, load_instance, parse_instance
from coopt.model.problem import Problem, prepare
from coopt.model.profiles import Profile, list_profiles, load_profile, mlp_profile

__version__ = "0.1.0"

__all__ = [
    "Channel",
    "CooptError",
    "CostModel",
    "Instance",
    "InstanceError",
    "NoSolutionError",
    "Problem",
    "Profile",
    "ProfileError",
    "SolveResult",
    "SolverUnavailableError",
    "StoppingSolution",
    "backward_induction",
    "build_channel",
    "cost_model",
    "evaluate_policy",
    "list_profiles",
    "load_instance",
    "load_profile",
    "mlp_profile",
    "occupation",
    "osla_policy",
    "parse_instance",
    "policy_at",
    "prepare",
    "solve",
    "solve_problem",
]
