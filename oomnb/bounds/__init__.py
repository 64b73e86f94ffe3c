"""Bounded-termination arguments, derived from the model.

:mod:`oomnb.bounds.engine` is the one bound engine (longest paths with
vector weights in an explored state graph): the checker's step-count
bounds and the symbolic time bounds both come out of it.
"""
