/*-------------------------------------------------------------------------
 *
 * recovery.c
 *		Attempts that lost their executor: those of scheduler workers that
 *		are gone (a crash, a terminated stubborn executor, a restart) and
 *		those of external agents whose lease lapsed.  The launcher runs
 *		both (pool.c at its start and when a worker exits; launcher.c at
 *		each lease deadline); each lost attempt counts as failed and is
 *		retried per its task's policy (mc_fail_attempt_as in attempts.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "attempts.h"
#include "recovery.h"
#include "shmem.h"
#include "state.h"
#include "watchdog.h"

/*
 * The columns of a lost attempt, in the order ORPHANS_SQL and
 * mc_expire_leases' statement return them, as fail_lost_attempts reads
 * them.
 */
enum
{
	LOST_WORKFLOW_ID = 1,
	LOST_TASK_ID,
	LOST_ATTEMPT,
	LOST_WHY,
	LOST_TASK_NO,
	LOST_WORKER_ID,
	LOST_STARTED_AT
};

/*
 * fail_lost_attempts
 *		Each row of the last statement's result names an attempt that was
 *		lost (workflow_id, task_id, attempt, why, task_no, worker_id,
 *		started_at): it counts as failed, and the task is retried per its
 *		policy or fails.  An attempt whose worker the watchdog terminated
 *		is recorded as what it was, timed out or cancelled; the other tasks
 *		that worker had claimed before are handed back uncounted
 *		(watchdog.c).  An attempt that finished or was replaced since the
 *		statement looked is left alone.
 */
static void
fail_lost_attempts(McCatalogSession *session, uint64 n)
{
	pg_uuid_t  *wfs = palloc(sizeof(pg_uuid_t) * Max(n, 1));
	char	  **ids = palloc(sizeof(char *) * Max(n, 1));
	int32	   *attempts = palloc(sizeof(int32) * Max(n, 1));
	char	  **whys = palloc(sizeof(char *) * Max(n, 1));
	char	  **workers = palloc(sizeof(char *) * Max(n, 1));
	TimestampTz *started = palloc(sizeof(TimestampTz) * Max(n, 1));
	McLostKind *kinds = palloc(sizeof(McLostKind) * Max(n, 1));
	double	   *timeouts = palloc(sizeof(double) * Max(n, 1));
	TimestampTz *killed_at = palloc(sizeof(TimestampTz) * Max(n, 1));
	uint64		i;
	uint64		j;

	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		d;

		memcpy(&wfs[i], DatumGetUUIDP(mc_catalog_value(i, LOST_WORKFLOW_ID, &isnull)),
			   sizeof(pg_uuid_t));
		ids[i] = mc_catalog_text(i, LOST_TASK_ID);
		attempts[i] = DatumGetInt32(mc_catalog_value(i, LOST_ATTEMPT, &isnull));
		whys[i] = mc_catalog_text(i, LOST_WHY);
		workers[i] = mc_catalog_text(i, LOST_WORKER_ID);
		d = mc_catalog_value(i, LOST_STARTED_AT, &isnull);
		started[i] = isnull ? 0 : DatumGetTimestampTz(d);
		kinds[i] = mc_watchdog_killed(&wfs[i],
									  DatumGetInt32(mc_catalog_value(i, LOST_TASK_NO, &isnull)),
									  attempts[i], &timeouts[i], &killed_at[i]);
	}
	/* what a terminated worker had claimed besides its stubborn attempt */
	for (i = 0; i < n; i++)
	{
		if (kinds[i] != MC_LOST_TIMED_OUT && kinds[i] != MC_LOST_CANCELLED)
			continue;
		for (j = 0; j < n; j++)
		{
			if (kinds[j] == MC_LOST_CRASH && workers[i] != NULL && workers[j] != NULL &&
				strcmp(workers[i], workers[j]) == 0 && started[j] <= killed_at[i])
				kinds[j] = MC_LOST_BYSTANDER;
		}
	}

	for (i = 0; i < n; i++)
	{
		McWorkflow	wf;
		McTask		task;

		mc_workflow_lock(session, &wfs[i], &wf);
		if (!mc_task_get(&wf, ids[i], &task) || task.status != MC_TASK_RUNNING ||
			task.attempt != attempts[i])
			continue;
		switch (kinds[i])
		{
			case MC_LOST_TIMED_OUT:
				(void) mc_fail_attempt_as(session, &wf, &task,
										  psprintf("task timed out after %g s; the executor did not stop within mycelium.terminate_grace, so its worker was terminated",
												   timeouts[i]),
										  "timeout", MC_OUTCOME_FAILED, true);
				break;
			case MC_LOST_CANCELLED:
				(void) mc_fail_attempt_as(session, &wf, &task,
										  pstrdup("the executor did not stop within mycelium.terminate_grace of cancel_workflow, so its worker was terminated"),
										  "cancelled", MC_OUTCOME_FAILED, false);
				break;
			case MC_LOST_BYSTANDER:
				(void) mc_fail_attempt_as(session, &wf, &task,
										  pstrdup("its worker was terminated"),
										  NULL, MC_OUTCOME_HANDED_BACK, false);
				break;
			case MC_LOST_CRASH:
				(void) mc_fail_attempt_as(session, &wf, &task,
										  psprintf("attempt %d was lost: %s", task.attempt, whys[i]),
										  workers[i] != NULL ? "lost" : "lease_expired",
										  MC_OUTCOME_FAILED, false);
				break;
		}
		mc_workflow_save(session, &wf);
		if (wf.status == MC_WF_RUNNING)
			mc_push_at_commit(&wf.id, InvalidOid, wf.priority);
	}
}

/*
 * ORPHANS_SQL
 *		The attempts of function tasks left running by the scheduler
 *		workers that cond (on worker_id, given $1) picks, as
 *		fail_lost_attempts reads them, lost because why.
 */
#define ORPHANS_SQL(why, cond) \
	"SELECT workflow_id, task_id, attempt, '" why "', task_no, worker_id, started_at " \
	"FROM mycelium.task_states " \
	"WHERE status = 'running' AND task_no >= 0 AND lease_until IS NULL AND " cond " " \
	"ORDER BY workflow_id, task_no"

/*
 * mc_recover_orphans
 *		Attempts left running by scheduler workers that are gone count as
 *		failed: those of every worker but the nlive named in live (the
 *		pool's running and starting workers, pool.c), whether it exited, a
 *		crash restarted the server, or the catalog was restored from
 *		another server.  With all (the launcher's first look), also those
 *		of sessions that ran execute_workflow before the server stopped;
 *		else only those of scheduler workers, whose names are theirs alone.
 */
void
mc_recover_orphans(McCatalogSession *session, Datum *live, int nlive, bool all)
{
	static const Oid argtypes[] = {TEXTARRAYOID, BOOLOID};
	Datum		values[2];

	values[0] = mc_catalog_array(live, nlive, TEXTOID);
	values[1] = BoolGetDatum(all);
	fail_lost_attempts(session,
					   mc_catalog_run_scan(MC_PLAN_RECOVER_ORPHANS,
										   ORPHANS_SQL("its worker stopped",
													   "worker_id IS NOT NULL AND worker_id <> ALL ($1) "
													   "  AND ($2 OR worker_id "
													   "  LIKE 'mycelium worker %')"),
										   2, argtypes, values, NULL, 0));
}

/*
 * mc_expire_leases
 *		Attempts of external agents whose lease lapsed before now count as
 *		failed: the agent lost the task, which is retried per its policy
 *		(by any agent) or fails.
 */
void
mc_expire_leases(McCatalogSession *session, TimestampTz now)
{
	static const Oid argtypes[] = {TIMESTAMPTZOID};
	Datum		values[1];

	values[0] = TimestampTzGetDatum(now);
	fail_lost_attempts(session,
					   mc_catalog_run(MC_PLAN_EXPIRED_LEASES,
									  "SELECT workflow_id, task_id, attempt, "
									  "  pg_catalog.format('the lease of worker \"%s\" lapsed', worker_id), "
									  "  task_no, NULL::pg_catalog.text, NULL::pg_catalog.timestamptz "
									  "FROM mycelium.task_states "
									  "WHERE lease_until IS NOT NULL AND lease_until < $1 "
									  "  AND status = 'running' "
									  "ORDER BY workflow_id, task_no",
									  1, argtypes, values, NULL, 0));
}
