"""Names vulture (``[tool.vulture]`` in pyproject.toml) cannot see being used: what Pyomo,
ONNX Runtime, SymPy, argparse, Sphinx, pytest and Python itself reach by attribute or by
name. Each line names where the use happens. Dead code goes; it is not added here."""

# ruff: noqa
# Pyomo components: declared on the model by attribute assignment, read by the solver interface.
one_pair  # coopt/fleet/knapsack.py
one  # coopt/mip/formulation.py
w_int_def
w_term_def
link_compute
link_visits
link_terminal
qos_latency
qos_energy
# onnxruntime.SessionOptions fields, read by ONNX Runtime.
enable_profiling
profile_file_prefix
log_severity_level
intra_op_num_threads
graph_optimization_level
# mpmath's working precision (tests/sim/test_continuous.py sets mp.dps).
dps
# SymPy: symbols registered in coopt.symbolic.derive.SYMBOLS for the symbol table; Function.nargs.
theta_n
V_f
nargs
# Python's module __getattr__ (coopt/fleet/__init__.py: lazy exports), argparse's error hook,
# Sphinx's setup() of the docs extensions, pytest's autouse fixtures.
__getattr__
error
setup
no_kept_matrix
pytestmark  # pytest's module-level marks
touch_slow_first  # tests/engines/test_engines.py: a job function sent by name to the workers
# coopt/mip/report.py: MipReport fields, read by to_dict() through dataclasses.fields()
build_time_s
by_placement_lp_time_s
lp_small_flow_mass
handle_starttag  # html.parser.HTMLParser's callbacks (tests/report/test_notebook.py)
handle_data
attrs
# coopt/model/vocabulary.py: members reached by iteration (tuple(Method), the CLI's choices=)
# and by value (Method("mip")), not by attribute
NEVER
LAST
ANY
ENUMERATION
MIP
AUTO
LAGRANGIAN
EXACT
BRUTE_FORCE
