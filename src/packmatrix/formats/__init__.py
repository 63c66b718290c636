"""Packaging formats: one module per format, each behind the contract in ``formats.base``.

How to add a format (the whole walk, with a sketch: ``docs/add-a-format.md``):

1. Write ``formats/<name>.py`` with a class that satisfies ``formats.base.Format``: a ``name``
   and ``title``, and ``unavailable``, ``build``, ``deploy``, ``launch`` and ``inspect``. Import
   ``formats.base``, ``core.context`` and the helpers you need (``formats.launch.LocalLaunch``
   starts a local process), never ``packmatrix.formats.registry``. Return typed records:
   ``Built``, ``Deployment`` and ``model.records.Portability``; raise ``errors.StepFailed``
   with the tool's last lines when a step fails, so the row says why.
2. Add one instance to ``FORMATS`` in ``packmatrix/formats/registry.py``, and its name to
   ``FORMATS`` in ``noxfile.py``, in the same order (a unit test keeps the two equal).

What you then get for free: ``--formats NAME`` and ``nox -s NAME``; the same smoke test, cold
and warm startup, memory, footprint, lock check, security scan and ``--check-reproducible``
applied by the pipeline; a row in the terminal table, the Markdown, HTML and JSON reports,
``compare`` and ``merge``; and the integration tests that run every registered format
(``tests/integration/test_matrix.py``). ``tests/unit/test_pipeline.py`` shows what a row says
when a format fails at each stage.

This package's ``__init__`` stays empty of imports on purpose: the contract module is a leaf,
so importing it never imports an implementation, and the registry never causes a cycle.
"""
