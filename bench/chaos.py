"""Chaos convergence: the whole connector on the local runtime with faults applied all through the run.

    .venv/bin/python bench/chaos.py [--quick] [--variants] [--leads N] [--seed S] [--no-faults] [--quiet]
                                    [--log FILE]

Faults (from the start of the workload to the end of the reconcile):
- GHL sandbox: 10 % 429, 5 % 5xx (500/502/503), 2 % slow past the client's read timeout (the request is
  applied, the answer comes too late), 1 % "422 but created" (create routes);
- GHL search: index lag on (2 s plus up to 1 s of jitter: a write shows in search results only later)
  and search order `ignored` (the sort is not honoured; a stable arbitrary order);
- child writes: while the child-failure leads are pushed, a third of GHL's tag, note and task writes
  fail (429/500/503) and 5 % answer 422 although applied; the callers retry the failed leads;
- webhooks: 10 % duplicated, 5 % dropped (never delivered), reordered (pairs held and swapped); and
  notes created and edited in GHL with no webhook at all on contacts nothing else touches;
- Rankr sandbox: 5 % 5xx (500/502/503, `Retry-After: 0`);
- lead push: `RANKR_GHL_FAULT_CRASH_AFTER_GHL_WRITE` (1 %): the worker process exits between a lead's GHL
  contact write and its mapping write (the re-resolve path must find that contact, not make a twin).
- `--variants`: one quick pass with `pick_variants(--seed)` applied to the GHL sandbox (its search order
  and lag replace the bench's, but lag stays on: a pick of 0 s keeps 2 s); the last line starts with
  the pick as applied.

Workload (`--quick` = all sizes / 5): 500 leads (Rankr contacts) pushed through the Lambda Invoke API in
batches of 10 by 4 concurrent callers playing Rankr (60 % sync, 20 % the same batch twice at once,
20 % async `Event`; 15 % of sync batches invoked again after they succeeded; a sync caller re-invokes
retryable failures and function errors with backoff, as Rankr would); then 50 leads carrying tags, a
note and a task, pushed the same way under the child-write faults. Then, concurrently: 500 contact
edits, 100 contact deletes and 200 task changes (create / complete / title edit without webhook /
delete) made GHL-side through the sandbox admin (which emits the webhooks); 200 edits made Rankr-side
(these reach GHL only through reconcile); 50 notes GHL-side (half without webhooks); two full reconciles
back to back by the deployed ReconcileFunction (handed its job as an SQS record; a record it reports
failed is redelivered at once instead of after the queue's 30-minute visibility timeout), with 50 more
leads (30 % with a note and task) pushed while each runs, and 25 lead reverts (the lead edited in
Rankr and pushed as B, then back and pushed as A again). Then: flush webhooks, drain the queues, replay
any async push whose retries were spent (the control API's `dlq.replay`, as Rankr would), one
more full reconcile and one notes reconcile (what production's schedules run over a day: the full
pass and the nightly notes pass), draining after each. Faults stay on throughout.

Measured against both sandboxes' final state and the mapping table (contacts, tasks and notes):
- lost: a live record on one side without its live mapped twin on the other side (leads never linked,
  GHL deletes not applied in Rankr, GHL tasks not mirrored, ...); a lead's own task lives in GHL only;
- duplicated_contacts: more than one live contact with the same identity (lead e-mail/phone) on a side;
- orphan_mappings: a mapping whose GHL or Rankr record is gone (or deleted) and neither side is
  tombstoned;
- field_mismatches: mapped fields (canonical form, rankr_ghl.sync) that differ between live twins;
- edits_lost: a field edited on one side (and never edited on the other side for that record) whose
  final value is not the edited value on both sides;
- dlq_messages: messages in every DLQ plus the lead-push failure queue;
- false_deletes: a mapped contact, task or note that nobody deleted, deleted (or marked deleted) on a
  side by the connector (mappings at the end, plus those seen after the first pushes that vanished);
- twins: a Rankr contact no lead made (every GHL contact of the run comes from a lead), GHL contacts
  sharing one lead's tag, a lead's note or task written twice in GHL, or mirrored back into Rankr;
- reverts_lost: a reverted lead whose GHL contact does not hold A, right after the pushes or at the end;
- children_lost: a lead's tag, note or task missing on its live GHL contact;
- note_mismatches / task_mismatches: per live contact pair, a live note (task) without an equal one
  (canonical common fields) on the other side; the lead's own note and task count on the GHL side only.
Last stdout line (JSON): those counts, ghl_calls, seconds, search_lag_s and search_order (the search
conditions in effect), a few workload counters, and `drained`: whether every wait for the queues ended
with them empty. Target: every count but ghl_calls and seconds is zero (and drained).

Waiting for the queues is progress-based, not a fixed deadline: a wait goes on while the backlog keeps
shrinking (or the SQS pumps keep settling messages) and gives up only after `drain_stall_s` (120 s)
without progress, or at a hard cap sized to the workload (`drain_cap`: 300 s + 2 s per workload item);
a wait that gave up is logged, and the run still measures (drained: false). Why it must be sized to
the workload: every webhook event of the run belongs to one location, i.e. to one FIFO message group,
which the workers process one batch at a time, and under this fault mix that group moves at 3-5
events/s. Measured on the worker's log of a full run: 1,824 events in 404 s of worker time, of which
207 s were the GHL client's rate-budget blocks after the 187 injected 429s (1.10 s each: the client
blocks the location for one window plus up to 20 % jitter, and the sandbox window is GHL's 10 s
scaled to 1 s), 58 s read timeouts and their backoff, 32 s backoff after 5xx, ~95 s actual work; and
an event whose four attempts all draw a fault (2 in that run) holds the whole group for the scaled
visibility timeout, 18 s. (A --quick run: 372 events, 93 s, 52 s of it in 48 429 blocks.)

Local runtime settings, all defaults except: the fault rates; `time_scale` (0.1: Lambda's async retry
delays and SQS visibility timeouts x0.1, and the GHL location's rate window 10 s -> 1 s, so a 429's
block scales with it); the GHL client read timeout (`GHL_TIMEOUT_S`, 1 s, so "slow" requests time out
quickly); and LeadPushFunction's Timeout (120 s -> 30 s, in a temporary copy of template.yaml). The
last one keeps a crash's cost in the same scaled time: Powertools Idempotency holds a crashed lead's
INPROGRESS record until the invocation's deadline (the function timeout), and Lambda's async retries
(scaled to 6 s and 12 s) must outlive it as the real 1 and 2 minute ones outlive 120 s.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
for _path in (REPO_ROOT / "layers" / "rankr_ghl", REPO_ROOT / "devtools"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from rankr_ghl_tools.chaos.changes import EditLog, ghl_operations, rankr_operations  # noqa: E402
from rankr_ghl_tools.chaos.config import ChaosConfig, log, variant_pick  # noqa: E402
from rankr_ghl_tools.chaos.drain import (  # noqa: E402
    drain_cap,
    settle,
    wait_async_invocations,
    wait_for,
    workload_items,
)
from rankr_ghl_tools.chaos.leads import Lead, PushStats, RankrCaller, make_leads, push_leads  # noqa: E402
from rankr_ghl_tools.chaos.measure import SAFETY_KEYS  # noqa: E402
from rankr_ghl_tools.chaos.measure_records import audit_trail, measure  # noqa: E402
from rankr_ghl_tools.chaos.runtime import (  # noqa: E402
    apply_faults,
    apply_search_conditions,
    chaos_stack,
    failure_queue_depth,
    install_location,
    mapping_pairs,
    replay_failed_pushes,
    run_reconcile,
)
from rankr_ghl_tools.local.pumps import deadline_figures  # noqa: E402

# The counts the target wants at zero (the e2e test asserts these).
ZERO_TARGETS = (
    "lost",
    "duplicated_contacts",
    "orphan_mappings",
    "field_mismatches",
    "edits_lost",
    "dlq_messages",
)
# The safety counts (false deletes, twins, lost reverts and children, note and task mismatches).
ALL_ZERO_TARGETS = ZERO_TARGETS + SAFETY_KEYS
# What the drain test and others reach through this module.
__all__ = ["ALL_ZERO_TARGETS", "ZERO_TARGETS", "ChaosConfig", "drain_cap", "main", "run_chaos", "wait_for",
           "workload_items"]  # fmt: skip


def run_chaos(config: ChaosConfig) -> dict[str, Any]:
    from rankr_ghl.sync.mapping import default_mapping
    from rankr_ghl_tools.chaos.measure import Expectations
    from rankr_ghl_tools.chaos.workload import (
        NotePlan,
        ReconcileRuns,
        child_write_faults,
        children_payload,
        expected_children,
        plan_reverts,
        run_revert,
    )

    rng = random.Random(config.seed)
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="rankr-ghl-chaos-") as tmp,
        chaos_stack(config, Path(tmp)) as stack,
    ):
        location_id, account_id = install_location(stack, config)
        switches = apply_search_conditions(stack, config)
        leads = make_leads(stack, account_id, config.leads + config.child_leads + config.late_leads, rng)
        first = leads[: config.leads]
        child_wave = leads[config.leads : config.leads + config.child_leads]
        late = leads[config.leads + config.child_leads :]
        for lead in child_wave + [lead for lead in late if rng.random() < 0.3]:
            lead.children = children_payload(lead.lead_id)
        stack.ghl.admin.reset_stats()
        apply_faults(stack, config)
        log(config, f"stack up ({time.monotonic() - started:.1f}s); pushing {len(first)} leads")

        push = push_leads(stack, location_id, first, config, rng)
        drained = wait_async_invocations(stack, config)
        log(config, f"leads pushed ({time.monotonic() - started:.1f}s): {dict(push.outcomes)}")
        if config.faults:
            child_write_faults(stack.ghl.admin, config.seed)
        child_push = push_leads(stack, location_id, child_wave, config, rng)
        drained = wait_async_invocations(stack, config) and drained
        apply_faults(stack, config)
        log(
            config,
            f"child-failure leads pushed ({time.monotonic() - started:.1f}s): {dict(child_push.outcomes)}",
        )

        expect = Expectations(lead_ids={lead.lead_id for lead in leads})
        earlier = mapping_pairs(stack, location_id)
        for entity, entity_pairs in earlier.items():
            expect.earlier_pairs[entity] += entity_pairs
        pairs = {p.rankr_id: p.ghl_id for p in earlier["contact"]}
        ghl_before = stack.ghl.admin.state(location_id)
        first_ids = [lead.lead_id for lead in first if lead.lead_id in pairs]
        reserved = rng.sample(
            first_ids, min(len(first_ids) // 3, config.reverts + config.quiet_note_contacts)
        )
        reverts = plan_reverts(
            reserved[: config.reverts], {lead.lead_id: lead.fields for lead in first}, config.reverts, rng
        )
        quiet = [pairs[rid] for rid in reserved[config.reverts :]]
        reserved_ghl = {pairs[rid] for rid in reserved}
        contacts = [c for c in ghl_before["contacts"] if c["id"] in set(pairs.values()) - reserved_ghl]
        ghl_ops, deleted = ghl_operations(contacts, config, rng)
        rankr_ops = rankr_operations(
            {r: g for r, g in pairs.items() if g not in reserved_ghl}, deleted, config, rng
        )
        busy = rng.sample(
            sorted({c["id"] for c in contacts} - deleted),
            min(config.busy_note_contacts, len(contacts) - len(deleted)),
        )
        notes = NotePlan(quiet_contacts=quiet, busy_contacts=busy)
        note_ops = notes.operations(rng)
        edits = EditLog()
        runs = ReconcileRuns(runs=config.reconciles_during_traffic)
        by_id = {lead.lead_id: lead for lead in first}
        late_stats: list[PushStats] = []

        def run_ops(ops: list[Any], admin: Any, scope: str) -> None:
            for op in ops:
                op(admin, scope, edits)
                time.sleep(0.002)

        def run_note_ops() -> None:
            for op in note_ops:
                op(stack.ghl.admin, location_id)
                time.sleep(0.01)

        def push_during_reconciles() -> None:
            """Half the late leads once the first reconcile runs, the rest and the reverts once the
            second does (so each full run overlaps lead pushes)."""
            late_rng = random.Random(config.seed + 1)
            half = len(late) // 2
            runs.first_started.wait(timeout=600)
            late_stats.append(push_leads(stack, location_id, late[:half], config, late_rng))
            if config.reconciles_during_traffic > 1:
                runs.second_started.wait(timeout=600)
            late_stats.append(push_leads(stack, location_id, late[half:], config, late_rng))
            caller = RankrCaller(
                stack, location_id, PushStats(), give_up_after_s=config.lead_push_timeout_s * 4 + 60
            )
            for revert in reverts:
                lead = by_id[revert.lead_id]

                def push(values: dict[str, Any], lead: Lead = lead) -> None:
                    caller.push_sync([Lead(lead.lead_id, {**lead.fields, **values}, lead.children)])

                run_revert(revert, stack.rankr.admin, account_id, push)
            after = {c["id"]: c for c in stack.ghl.admin.state(location_id)["contacts"]}
            contact_mapping = default_mapping().contact
            for revert in reverts:
                gid = pairs[revert.lead_id]
                expect.revert_expected[gid] = revert.expected
                if gid in after:
                    expect.revert_snapshot[gid] = dict(contact_mapping.from_ghl(after[gid]))

        log(
            config,
            f"traffic: {len(ghl_ops)} GHL changes, {len(rankr_ops)} Rankr edits, {len(note_ops)} notes, "
            f"{len(late)} late leads, {len(reverts)} reverts, {runs.runs} full reconciles",
        )
        with ThreadPoolExecutor(max_workers=5) as pool:
            done = [
                pool.submit(run_ops, ghl_ops, stack.ghl.admin, location_id),
                pool.submit(run_ops, rankr_ops, stack.rankr.admin, account_id),
                pool.submit(run_note_ops),
                pool.submit(push_during_reconciles),
                pool.submit(runs.run, lambda: run_reconcile(stack, location_id, config)),
            ]
            for future in done:
                future.result()
        drained = wait_async_invocations(stack, config) and drained
        drained = settle(stack, config) and drained
        # Async pushes whose retries were all spent wait in the failure queue for Rankr to replay.
        replays = 0
        while failure_queue_depth(stack).get("LeadPushFailureQueue") and replays < 3:
            replays += 1
            log(config, f"replaying failed async pushes: {replay_failed_pushes(stack, account_id)}")
            drained = wait_async_invocations(stack, config) and drained
            drained = settle(stack, config) and drained
        log(config, f"webhooks settled ({time.monotonic() - started:.1f}s); reconciling")
        recon = run_reconcile(stack, location_id, config)
        drained = settle(stack, config) and drained
        # What production runs over the same day: the full pass and the nightly notes pass (the only
        # one that finds a note written or edited in GHL without any webhook on a quiet contact).
        notes_recon = run_reconcile(stack, location_id, config, mode="notes")
        drained = settle(stack, config) and drained
        log(config, f"reconciled and drained ({time.monotonic() - started:.1f}s)")

        final_pairs = mapping_pairs(stack, location_id)
        for p in final_pairs["contact"] + expect.earlier_pairs["contact"]:
            if p.rankr_id in expect.lead_ids:
                expect.lead_contacts.setdefault(p.rankr_id, p.ghl_id)
        expect.children = {
            lead.lead_id: expected_children(lead.lead_id, lead.fields.get("tags") or [], lead.children)
            for lead in leads
            if lead.children
        }
        expect.deleted_by_workload = (
            set(deleted)
            | edits.deleted
            | {
                record["id"]
                for kind in ("tasks", "notes")
                for record in ghl_before.get(kind, [])
                if record.get("contactId") in deleted
            }
        )
        rankr_tagged = {pairs.get(rid) for (rid, name) in edits.rankr if name == "tags"}
        expect.tags_replaced = {gid for (gid, name) in edits.ghl if name == "tags"} | {
            g for g in rankr_tagged if g
        }
        counts, problems = measure(stack, location_id, account_id, leads, edits, expect=expect)
        if config.verbose and any(counts.values()):
            audit_trail(stack, location_id, problems, config)
        depths = failure_queue_depth(stack)
        stats = stack.ghl.admin.stats()
        for name, items in problems.items():
            for item in items[:15]:
                log(config, f"{name}: {item}")
        log(config, f"failure queues: {depths}; GHL faults injected: {stats.get('faultsInjected')}")
        all_pushes = [push, child_push, *late_stats]
        permanent = [
            r.get("error", {}).get("code")
            for caller_stats in all_pushes
            for r in caller_stats.permanent_failures
        ]
        log(
            config,
            f"rankr faults: {stack.rankr.admin.stats().get('faults')}; push: invocations={push.invocations} "
            f"async={push.async_invocations} function_errors={push.function_errors} "
            f"caller_retries={push.caller_retries} gave_up={len(push.gave_up)} permanent={permanent}",
        )
        return {
            **counts,
            "dlq_messages": sum(depths.values()),
            **deadline_figures(stack.pumps),
            "ghl_calls": int(stats.get("total", 0)),
            "seconds": round(time.monotonic() - started, 1),
            "search_lag_s": switches.get("search_lag_s"),
            "search_order": switches.get("search_order"),
            "leads": len(leads),
            "ghl_changes": len(ghl_ops),
            "rankr_edits": len(rankr_ops),
            "notes_written": len(notes.written),
            "notes_without_webhook": sum(1 for n in notes.written if not n["webhook"]),
            "reverts": len(reverts),
            "child_leads": len(child_wave),
            "lead_push_crashes": sum(p.function_errors for p in all_pushes),
            "reconciles_during_traffic": len(runs.attempts),
            "reconcile_attempts": recon.get("attempts"),
            "notes_reconcile_attempts": notes_recon.get("attempts"),
            "faults": config.faults,
            "drained": drained,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every workload size / 5")
    parser.add_argument("--leads", type=int, help="override the number of leads")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-faults", action="store_true", help="the same workload without any fault")
    parser.add_argument(
        "--variants",
        action="store_true",
        help="one quick pass under pick_variants(--seed) applied to the GHL sandbox (implies --quick)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument("--log", help="write the functions' log lines to this file")
    args = parser.parse_args(argv)
    config = ChaosConfig(seed=args.seed, faults=not args.no_faults, verbose=not args.quiet, log_path=args.log)
    if args.quick or args.variants:
        config = config.scaled(5)
    if args.leads:
        config.leads = args.leads
    pick: dict[str, Any] | None = None
    if args.variants:
        pick = variant_pick(config, args.seed)
    result = run_chaos(config)
    if pick is not None:
        result = {"variants": pick, **result}
    print(json.dumps(result), flush=True)
    return 0 if all(result[k] == 0 for k in ALL_ZERO_TARGETS) and result["drained"] else 1


if __name__ == "__main__":
    sys.exit(main())
