"""Open answers graded by rubric and a judge panel, and the panel held to account.

- :mod:`genspec.grading.rubric`: the score (points met over points possible, clipped
  to [0, 1]) and field helpers that read a rubric or a reference answer from a row;
- :mod:`genspec.grading.panel`: blind judging, one criterion per call, through the cache;
- :mod:`genspec.grading.agreement`: Krippendorff's alpha, Cohen's kappa against people;
- :mod:`genspec.grading.summary`: the panel's agreement and cost per task, and the
  verdict held to its agreement floor;
- :mod:`genspec.grading.tasks`: the ``rubric_task`` builder for plugins.
"""
