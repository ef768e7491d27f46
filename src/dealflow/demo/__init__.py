"""Demo data: a realistic, deterministic sales organisation with 24 months of pipeline history.

``dealflow demo`` and ``dealflow run`` (first start only) call ``dealflow.demo.generate.demo_generate``.
Other apps add their own demo data in ``dealflow.demo.<app>`` modules with a ``seed(*, seed, today, stdout)``
function; the generator calls each one that exists after the pipeline data.
"""
