"""Scheduled reconcile (docs/reconcile.md): the planner enqueues one job per location, the worker runs
a job phase by phase. Import from the modules: `jobs` (job, report, settings), `run` (`Reconciler`),
`planner`, `worker`, `invocation` (the Lambda entry), `transfer_preview`.

Files by responsibility: `context` (one job's state, the cursor, guarded repairs, the delete budget),
`pair_sync` (one mapped pair), `deletes` and `creates` (repairs), `full_pass` and `full_index`,
`incremental_pass`, `notes_phase`, `child_phases` (tasks), `search_paging`, `record_values`.
"""
