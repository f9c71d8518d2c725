/*-------------------------------------------------------------------------
 *
 * watchdog.c
 *		Ending executors that do not stop when interrupted, so that no
 *		executor can hold a worker, and the server's function tasks, for
 *		ever.
 *
 * A task's timeout and cancel_workflow interrupt its executor through the
 * query-cancel mechanism (execute.c, shmem.c).  An executor may catch
 * that (a PL/pgSQL block with EXCEPTION WHEN query_canceled) and go on.
 * The launcher therefore looks, at every turn of its loop, at the attempts
 * the workers publish in their slots: one still running
 * mycelium.terminate_grace after its timeout ran out, or after
 * cancel_workflow interrupted it, has its worker terminated as
 * pg_terminate_backend does (SIGTERM: a FATAL error at its next interrupt
 * check, which no exception block catches).  Its transaction aborts with
 * the process, undoing the attempt's writes and those of the attempts the
 * worker ran before it in the same transaction.
 *
 * The attempt is then recovered like any attempt whose worker stopped,
 * by whoever recovers that worker's attempts (mc_recover_orphans), and
 * whichever process starts the worker again: the ring of killed attempts
 * kept here tells the recovery to record it as timed out or cancelled
 * (mc_watchdog_killed), not as lost, and that the other tasks the worker
 * had claimed before it was terminated go back uncounted: they were not
 * at fault.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "mycelium.h"
#include "shmem.h"
#include "watchdog.h"

/* a worker the watchdog terminates, for its log line */
typedef struct Victim
{
	pid_t		pid;
	pg_uuid_t	workflow_id;
	int32		task_no;
	int32		attempt;
	bool		timed_out;
} Victim;

/*
 * mc_watchdog_check
 *		Terminates the workers whose attempt is still running
 *		mycelium.terminate_grace after its timeout ran out or after
 *		cancel_workflow interrupted it, noting each attempt in the ring of
 *		killed attempts first.  Returns in how many ms the next one falls
 *		due, or -1 if none will.  Called by the launcher.
 */
long
mc_watchdog_check(void)
{
	TimestampTz now = GetCurrentTimestamp();
	int64		grace_us = (int64) mc_terminate_grace_ms * 1000;
	Victim		victims[64];
	int			nvictims = 0;
	long		nap = -1;
	int			i;

	if (mc_shared == NULL)
		return -1;
	SpinLockAcquire(&mc_shared->mutex);
	for (i = 0; i < mc_shared->nworkers; i++)
	{
		McWorkerSlot *w = &mc_shared->workers[i];
		TimestampTz due = 0;
		bool		timed_out = false;

		if (w->pid == 0 || !w->executing || w->terminating)
			continue;
		if (w->deadline != 0)
		{
			due = w->deadline + grace_us;
			timed_out = true;
		}
		if (w->cancel_at != 0 && (due == 0 || w->cancel_at + grace_us < due))
		{
			due = w->cancel_at + grace_us;
			timed_out = false;
		}
		if (due == 0)
			continue;
		if (now < due)
		{
			long		ms = (long) ((due - now) / 1000) + 1;

			nap = nap < 0 ? ms : Min(nap, ms);
			continue;
		}
		if (nvictims < lengthof(victims))
		{
			McKilledAttempt *k = &mc_shared->killed[mc_shared->killed_next++ % MC_KILLED_RING];
			Victim	   *v = &victims[nvictims++];

			memcpy(&k->workflow_id, &w->workflow_id, sizeof(pg_uuid_t));
			k->task_no = w->task_no;
			k->attempt = w->attempt;
			k->timed_out = timed_out;
			k->timeout = w->timeout;
			k->killed_at = now;
			w->terminating = true;
			v->pid = w->pid;
			memcpy(&v->workflow_id, &w->workflow_id, sizeof(pg_uuid_t));
			v->task_no = w->task_no;
			v->attempt = w->attempt;
			v->timed_out = timed_out;
		}
	}
	SpinLockRelease(&mc_shared->mutex);

	for (i = 0; i < nvictims; i++)
	{
		Victim	   *v = &victims[i];

		ereport(LOG,
				(errmsg("terminating mycelium worker process %d: attempt %d of task %d of workflow %s did not stop within %d ms after %s",
						(int) v->pid, v->attempt, v->task_no,
						DatumGetCString(DirectFunctionCall1(uuid_out,
															UUIDPGetDatum(&v->workflow_id))),
						mc_terminate_grace_ms,
						v->timed_out ? "its timeout" : "cancel_workflow"),
				 errhint("The executor caught the interruption (query_canceled) and went on.")));
		if (kill(v->pid, SIGTERM) != 0)
			ereport(LOG,
					(errmsg("could not send signal to process %d: %m", (int) v->pid)));
	}
	return nap;
}

/*
 * mc_watchdog_killed
 *		Whether the watchdog terminated the worker of this attempt, and at
 *		which of its ends (with the task's timeout and when it was killed).
 *		MC_LOST_CRASH if it did not.
 */
McLostKind
mc_watchdog_killed(const pg_uuid_t *workflow_id, int32 task_no, int32 attempt,
				   double *timeout, TimestampTz *killed_at)
{
	McLostKind	kind = MC_LOST_CRASH;
	int			i;

	if (mc_shared == NULL)
		return kind;
	SpinLockAcquire(&mc_shared->mutex);
	for (i = 0; i < MC_KILLED_RING && i < (int) mc_shared->killed_next; i++)
	{
		McKilledAttempt *k = &mc_shared->killed[i];

		if (k->task_no == task_no && k->attempt == attempt &&
			memcmp(&k->workflow_id, workflow_id, sizeof(pg_uuid_t)) == 0)
		{
			kind = k->timed_out ? MC_LOST_TIMED_OUT : MC_LOST_CANCELLED;
			*timeout = k->timeout;
			*killed_at = k->killed_at;
			break;
		}
	}
	SpinLockRelease(&mc_shared->mutex);
	return kind;
}
