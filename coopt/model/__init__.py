"""The data of the model: instances (the only parser), layer profiles and the layer
calculator, channel laws and their quantisation, the cost model, and the
:class:`~coopt.model.problem.Problem` that every method starts from (docs/model.md sections
2, 3 and 8). NumPy only; nothing here solves anything."""
