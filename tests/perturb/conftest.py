"""The perturbation tests measure on the real parking env (``probes.py``).

``standin_env.py`` (a numpy stand-in shared with tests/evaluate) remains for
what the real env cannot show: an env whose layout has no ``scale``,
``fail_value`` or ``limits``, and one without a "steering" action.
"""
