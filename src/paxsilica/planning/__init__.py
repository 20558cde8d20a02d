"""Plans by optimization (issue 14): what to do, and against what — solved with HiGHS.

Modules, data flowing down: :mod:`.model` (the LP/MILP builder: build → solve → assign),
:mod:`.risk` (expectation, VaR, CVaR), :mod:`.scenarios` (scenario sets: the stress library or a Monte
Carlo run folder → unavailability of each source), :mod:`.base` (a consumer's supply base), the models
:mod:`.sourcing`, :mod:`.stockpile`, :mod:`.partners`, :mod:`.interdiction`, :mod:`.explain` (binding
constraints, duals, sensitivities) and :mod:`.briefing` (the briefing's "Plans" section). The shells
reach them through :mod:`paxsilica.services.planning`; the equations are in ``docs/planning.md``.
"""
