/*-------------------------------------------------------------------------
 *
 * launcher.c
 *		The scheduler's launcher: runs the pool of executor workers and
 *		keeps time for them.
 *
 * The launcher is registered when the library is preloaded; it starts
 * the executor workers as work needs them and counts the attempts of
 * those that exited as lost (pool.c).  It fills the dispatch queue from
 * the catalog at start and whenever the queue overflowed (the only times
 * it scans), wakes the workflows whose retry back-off has run out
 * (notifying external agents of their due tasks), and takes back the tasks
 * of external agents whose lease lapsed, starts the workflows whose
 * delayed start (start_workflow's start_at) is due, and looks at signal
 * tasks that started waiting or whose deadline passed (signals.c), sleeping
 * until the next of these is due.  At every turn of its loop it is also the watchdog that
 * terminates workers whose executor does not stop when interrupted
 * (watchdog.c).
 *
 * A rescan goes in passes over the workflows with ready function tasks,
 * in workflow id order, each tick taking only as many as the queue has
 * room for and going on from there at the next, so that however many
 * workflows are active the launcher never pushes more than the queue
 * holds (which would overflow it and ask for another rescan at once).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "agent.h"
#include "agent_limits.h"
#include "api_control.h"
#include "catalog.h"
#include "citus.h"
#include "dispatch.h"
#include "recovery.h"
#include "launcher.h"
#include "mycelium.h"
#include "pool.h"
#include "priority.h"
#include "shmem.h"
#include "signals.h"
#include "version.h"
#include "watchdog.h"

/* longest sleep between looks for due retries, ms */
#define MC_LAUNCHER_NAP 1000L

/* most delayed starts a tick starts */
#define MC_DUE_STARTS_PER_TICK 256

/* most workflows a tick looks at for their signal tasks */
#define MC_SIGNAL_WORKFLOWS_PER_TICK 256

/*
 * Whether the workflow of task row t is running, looked up per task (as a
 * join, a generic plan could read every running workflow instead).
 */
#define WORKFLOW_RUNNING(t) \
	"(SELECT w.status FROM mycelium.workflow_states w " \
	" WHERE w.workflow_id = " t ".workflow_id) = 'running' "

/*
 * How often the launcher rescans while some worker is idle or the pool may
 * grow, ms: a safety net, so that a workflow whose ready tasks no push
 * announced (a wake-up lost to a race between workers) waits at most this
 * long.  A busy pool is not rescanned: its workers find the work.
 */
#define MC_SAFETY_RESCAN 5000L

/* sleep between the ticks of a rescan while the queue drains, ms */
#define MC_RESCAN_NAP 10L

/*
 * How often (ms) the launcher pushes again the workflows whose ready
 * function tasks an agent type's limits held back (agent_limits.c), while
 * there are some: a worker that finds a workflow's tasks held back drops
 * it, and nothing else would look at it again when the limit lets more.
 */
#define MC_LIMITS_NAP 100L
#define MC_LIMITS_MIN_NAP 10L

/*
 * The rescan under way: whether one is, where its pass goes on from, and
 * whether another pass was asked for while it went on (an overflow may
 * have dropped a workflow the pass had gone past).
 */
static bool rescan_active = false;
static bool rescan_again = false;
static pg_uuid_t rescan_after;

/*
 * mc_register_workers
 *		Registers the launcher (from _PG_init, while
 *		shared_preload_libraries is processed); the postmaster starts it
 *		again a second after it stops.  The launcher starts the executor
 *		workers itself, as dynamic background workers.
 */
void
mc_register_workers(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "mycelium");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "mc_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "mycelium launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "mycelium launcher");
	RegisterBackgroundWorker(&worker);
}

/*
 * launcher_detach
 *		on_shmem_exit callback: the launcher is gone.
 */
static void
launcher_detach(int code, Datum arg)
{
	SpinLockAcquire(&mc_shared->mutex);
	mc_shared->launcher_latch = NULL;
	SpinLockRelease(&mc_shared->mutex);
}

/* what one tick keeps past its transaction (the ids it pushes after commit) */
static MemoryContext tick_cxt = NULL;

/* the columns of the statements whose rows push_rows reads */
enum
{
	PUSHED_WORKFLOW_ID = 1,
	PUSHED_PRIORITY
};

/*
 * push_rows
 *		Copies the workflow ids of the last statement's result, ranked by
 *		their priorities (PUSHED_*), into queue entries in the tick's
 *		context, to be pushed after commit.
 */
static void
push_rows(uint64 n, McQueueEntry **ids)
{
	uint64		i;

	*ids = MemoryContextAlloc(tick_cxt, sizeof(McQueueEntry) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		memcpy(&(*ids)[i].workflow_id, DatumGetUUIDP(mc_catalog_value(i, PUSHED_WORKFLOW_ID, &isnull)),
			   sizeof(pg_uuid_t));
		(*ids)[i].start_by = InvalidOid;
		(*ids)[i].rank = mc_queue_rank(DatumGetInt32(mc_catalog_value(i, PUSHED_PRIORITY, &isnull)));
	}
}

/*
 * rescan_page
 *		The next page of the rescan under way: up to as many workflows with
 *		ready function tasks as the queue has room for, after the last one
 *		the pass reached, into *ids.  Ends the pass when it finds fewer.
 *		Returns how many it found.
 */
static uint64
rescan_page(TimestampTz now, McQueueEntry **ids)
{
	static const Oid argtypes[] = {UUIDOID, TIMESTAMPTZOID, INT4OID};
	Datum		values[3];
	int			room = mc_queue_room() / 2;
	uint64		n;

	*ids = NULL;
	if (room <= 0)
		return 0;
	values[0] = UUIDPGetDatum(&rescan_after);
	values[1] = TimestampTzGetDatum(now);
	values[2] = Int32GetDatum(room);
	n = mc_catalog_run(MC_PLAN_RESCAN,
					   "SELECT t.workflow_id, pg_catalog.max(t.priority) "
					   "FROM mycelium.task_states t "
					   "WHERE t.status = 'ready' AND t.workflow_id > $1 "
					   "  AND (t.run_after IS NULL OR t.run_after <= $2) "
					   "  AND " WORKFLOW_RUNNING("t") "AND " MC_FUNCTION_TASK("t")
					   "GROUP BY t.workflow_id ORDER BY t.workflow_id LIMIT $3",
					   3, argtypes, values, NULL, 0);
	push_rows(n, ids);
	elog(DEBUG1, "mycelium rescan: %llu workflows with ready tasks",
		 (unsigned long long) n);
	if (n < (uint64) room)
	{
		/* the pass is over; another follows if asked for meanwhile */
		rescan_active = rescan_again;
		rescan_again = false;
		memset(&rescan_after, 0, sizeof(rescan_after));
	}
	else
		rescan_after = (*ids)[n - 1].workflow_id;
	return n;
}

/*
 * tick
 *		One look at the catalog: the next page of a rescan if one is under
 *		way, the workflows with due retries not yet claimed, the external
 *		agent types whose retries fell due since the last look (notified),
 *		the workflows with ready tasks of agent types with limits (while
 *		limits hold workers' claims back), and lapsed leases; first, the attempts left running by workers that
 *		exited, and with recover (the first look since the extension
 *		appeared) by any worker not running now.  Returns how long to
 *		sleep, in ms.
 */
static long
tick(TimestampTz *since, bool recover)
{
	static const Oid argtypes[] = {TIMESTAMPTZOID, TIMESTAMPTZOID, INT4OID};
	McCatalogSession session;
	TimestampTz now = GetCurrentTimestamp();
	Datum		values[3];
	McQueueEntry *ids;
	McQueueEntry *limited;
	uint64		nlimited;
	McQueueEntry *found = NULL;
	uint64		n;
	uint64		nfound = 0;
	uint64		i;
	long		nap = MC_LAUNCHER_NAP;
	bool		isnull;
	Datum		next;

	if (tick_cxt == NULL)
		tick_cxt = AllocSetContextCreate(TopMemoryContext, "mycelium launcher tick",
										 ALLOCSET_SMALL_SIZES);
	MemoryContextReset(tick_cxt);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	mc_catalog_open(&session);

	(void) mc_pool_recover(&session, recover);
	if (rescan_active)
	{
		nfound = rescan_page(now, &found);
		if (rescan_active)
			nap = MC_RESCAN_NAP;
	}

	values[0] = TimestampTzGetDatum(*since);
	values[1] = TimestampTzGetDatum(now);
	/*
	 * Every due retry of a function task not claimed yet, not only those
	 * that fell due since the last look: a worker sets run_after before its
	 * commit, which may come after a look whose window already passed it.
	 */
	n = mc_catalog_run(MC_PLAN_DUE_RETRIES,
					   "SELECT t.workflow_id, pg_catalog.max(t.priority) "
					   "FROM mycelium.task_states t "
					   "WHERE t.status = 'ready' AND t.run_after IS NOT NULL "
					   "  AND t.run_after <= $2 "
					   "  AND " WORKFLOW_RUNNING("t") "AND " MC_FUNCTION_TASK("t")
					   "GROUP BY t.workflow_id",
					   2, argtypes, values, NULL, 0);
	push_rows(n, &ids);

	/*
	 * Ready function tasks of agent types with limits, maybe held back:
	 * looked for only while workers' claims find limits holding tasks
	 * back (limits that never bind cost nothing here).
	 */
	values[2] = Int32GetDatum(Max(mc_queue_room() / 2, 1));
	nlimited = 0;
	if (mc_limits_held_take())
		nlimited = mc_catalog_run(MC_PLAN_LIMITED_READY,
								  "SELECT t.workflow_id, pg_catalog.max(t.priority) "
								  "FROM mycelium.executors e JOIN mycelium.task_states t "
								  "  ON t.agent_type = e.agent_type AND t.status = 'ready' "
								  "    AND t.task_no >= 0 "
								  "WHERE (e.max_running IS NOT NULL OR e.rate IS NOT NULL) "
								  "  AND e.executor IS NOT NULL "
								  "  AND (t.run_after IS NULL OR t.run_after <= $2) "
								  "  AND " WORKFLOW_RUNNING("t")
								  "GROUP BY t.workflow_id LIMIT $3",
								  3, argtypes, values, NULL, 0);
	push_rows(nlimited, &limited);
	mc_limits_polling(nlimited > 0);
	if (nlimited > 0)
	{
		/*
		 * And sooner when a rate's next whole token comes sooner (past the
		 * tokens there are, which the workers pushed now will take), but
		 * not more often than every MC_LIMITS_MIN_NAP.  Where the buckets
		 * are in shared memory (limit_slots.c), the row's is the one
		 * set_agent_type_limits filled, full by now: the nap is then one
		 * token's interval, or less.
		 */
		nap = Min(nap, MC_LIMITS_NAP);
		mc_catalog_run(MC_PLAN_LIMITS_NEXT_TOKEN,
					   "SELECT pg_catalog.ceil(pg_catalog.min("
					   "  (pg_catalog.floor(x.tokens) + 1 - x.tokens) * 1000 * "
					   "  pg_catalog.date_part('epoch', x.rate_per) / x.rate))::pg_catalog.int8 "
					   "FROM (SELECT e.rate, e.rate_per, LEAST(" MC_RATE_BURST("e") ", "
					   "    COALESCE(e.rate_tokens, e.rate) + e.rate * "
					   "    GREATEST(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - e.rate_at), 0) / "
					   "    pg_catalog.date_part('epoch', e.rate_per)) AS tokens "
					   "  FROM mycelium.executors e "
					   "  WHERE (e.max_running IS NOT NULL OR e.rate IS NOT NULL) "
					   "    AND e.rate IS NOT NULL AND e.executor IS NOT NULL) x",
					   0, NULL, NULL, NULL, 1);
		next = mc_catalog_value(0, MC_ONLY_COLUMN, &isnull);
		if (!isnull)
			nap = Max(Min(nap, DatumGetInt64(next)), MC_LIMITS_MIN_NAP);
	}

	/* external agents: retries that fell due, and leases that lapsed */
	mc_notify_ready_rows(mc_catalog_run(MC_PLAN_DUE_EXTERNAL,
										"SELECT DISTINCT t.agent_type FROM mycelium.task_states t "
										"JOIN mycelium.executors e ON e.agent_type = t.agent_type "
										"  AND e.executor IS NULL "
										"WHERE t.status = 'ready' AND t.run_after IS NOT NULL "
										"  AND t.run_after > $1 AND t.run_after <= $2",
										2, argtypes, values, NULL, 0));
	mc_expire_leases(&session, now);

	/* delayed starts that are due; more at once if there are more */
	if (mc_start_due_workflows(&session, now, MC_DUE_STARTS_PER_TICK) == MC_DUE_STARTS_PER_TICK)
		nap = MC_RESCAN_NAP;

	/* signal tasks that started waiting, and their deadlines (signals.c) */
	if (mc_signal_tick(&session, now, MC_SIGNAL_WORKFLOWS_PER_TICK) == MC_SIGNAL_WORKFLOWS_PER_TICK)
		nap = MC_RESCAN_NAP;

	mc_catalog_run(MC_PLAN_NEXT_RETRY,
				   "SELECT LEAST("
				   "  (SELECT pg_catalog.min(run_after) FROM mycelium.task_states "
				   "   WHERE status = 'ready' AND run_after IS NOT NULL AND run_after > $2), "
				   "  (SELECT pg_catalog.min(lease_until) FROM mycelium.task_states "
				   "   WHERE lease_until IS NOT NULL), "
				   "  (SELECT pg_catalog.min(start_at) FROM mycelium.workflow_states "
				   "   WHERE status = 'pending' AND start_at IS NOT NULL))",
				   2, argtypes, values, NULL, 1);
	next = mc_catalog_value(0, MC_ONLY_COLUMN, &isnull);
	if (!isnull)
	{
		long		ms = (long) ((DatumGetTimestampTz(next) - now) / 1000) + 1;

		nap = Max(Min(ms, nap), 1L);
	}

	mc_catalog_close(&session);
	PopActiveSnapshot();
	CommitTransactionCommand();
	mc_pool_free_recovered();

	for (i = 0; i < nfound; i++)
		mc_queue_push_entry(&found[i]);
	for (i = 0; i < n; i++)
		mc_queue_push_entry(&ids[i]);
	for (i = 0; i < nlimited; i++)
		mc_queue_push_entry(&limited[i]);
	*since = now;
	return nap;
}

/*
 * extension_ready
 *		Whether the catalog is there at the library's version.  While an
 *		older version is installed (a new build before ALTER EXTENSION
 *		UPDATE), logs once that the scheduler idles and why, and once that
 *		it resumes when the update has run.
 */
static bool
extension_ready(void)
{
	static McExtensionState last = MC_EXT_MISSING;
	McExtensionState state;
	char	   *installed;

	StartTransactionCommand();
	state = mc_extension_state(&installed);
	if (state == MC_EXT_OTHER_VERSION && last != MC_EXT_OTHER_VERSION)
		ereport(LOG,
				(errmsg("mycelium scheduler is idle: extension \"mycelium\" version %s is installed in database \"%s\", but the library is version %s",
						installed, mc_database, MC_EXTVERSION),
				 errhint("Run ALTER EXTENSION mycelium UPDATE in database \"%s\".",
						 mc_database)));
	else if (state == MC_EXT_CURRENT && last == MC_EXT_OTHER_VERSION)
		ereport(LOG,
				(errmsg("mycelium scheduler resumes: extension \"mycelium\" was updated to version %s",
						MC_EXTVERSION)));
	/* on a Citus worker node the coordinator's scheduler does the work */
	if (state == MC_EXT_CURRENT && mc_citus_worker())
	{
		if (last != MC_EXT_CITUS_WORKER)
			ereport(LOG,
					(errmsg("mycelium scheduler is idle: this server is a Citus worker node, and the coordinator schedules the workflows of database \"%s\"",
							mc_database)));
		state = MC_EXT_CITUS_WORKER;
	}
	CommitTransactionCommand();
	last = state;
	return state == MC_EXT_CURRENT;
}

/*
 * mc_launcher_main
 *		Entry point of the launcher.
 */
void
mc_launcher_main(Datum main_arg)
{
	TimestampTz since = 0;
	bool		rescan = true;	/* a rescan is to start */
	bool		recovered = false;	/* others' orphans since the extension appeared */
	TimestampTz next_look = 0;	/* when the next look at the catalog is due */
	TimestampTz last_pass = 0;	/* when the last rescan pass began */
	bool		ready = false;	/* the extension was there at the last look */

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(mc_database, NULL, 0);
	pgstat_report_appname("mycelium launcher");

	SpinLockAcquire(&mc_shared->mutex);
	mc_shared->launcher_latch = MyLatch;
	SpinLockRelease(&mc_shared->mutex);
	on_shmem_exit(launcher_detach, (Datum) 0);
	mc_pool_adopt();

	for (;;)
	{
		long		nap = 1000L;
		bool		look;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		/*
		 * A wake that only asks for workers (mc_wake_workers) starts them
		 * and sleeps again until the next look is due.
		 */
		SpinLockAcquire(&mc_shared->mutex);
		look = mc_shared->look_asked || mc_shared->rescan;
		mc_shared->look_asked = false;
		SpinLockRelease(&mc_shared->mutex);
		if (!look && ready && GetCurrentTimestamp() < next_look)
		{
			mc_pool_grow();
			pgstat_report_activity(STATE_IDLE, NULL);
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 Max((next_look - GetCurrentTimestamp()) / 1000, 1),
							 PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			continue;
		}

		ready = extension_ready();

		if (ready)
		{
			SpinLockAcquire(&mc_shared->mutex);
			rescan |= mc_shared->rescan;
			mc_shared->rescan = false;
			SpinLockRelease(&mc_shared->mutex);
			if (since == 0)
				since = GetCurrentTimestamp();
			if (!rescan && !rescan_active &&
				GetCurrentTimestamp() >= last_pass + MC_SAFETY_RESCAN * 1000 &&
				(mc_idle_workers() > 0 || mc_pool_can_grow()))
			{
				elog(DEBUG1, "mycelium: safety rescan");
				rescan = true;
			}
			if (rescan)
				last_pass = GetCurrentTimestamp();
			if (rescan && rescan_active)
				rescan_again = true;
			else if (rescan)
			{
				rescan_active = true;
				memset(&rescan_after, 0, sizeof(rescan_after));
			}
			nap = tick(&since, !recovered);
			rescan = false;
			recovered = true;
			/* only once the attempts of gone workers are recovered */
			mc_pool_grow();
		}
		else
		{
			rescan = true;
			recovered = false;
		}

		/* executors that do not stop when interrupted (watchdog.c) */
		{
			long		due = mc_watchdog_check();

			if (due >= 0)
				nap = Min(nap, due);
		}

		next_look = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), nap);

		/* what the tick did shows in the statistics views, as a backend's */
		pgstat_report_stat(true);
		pgstat_report_activity(STATE_IDLE, NULL);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 nap, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
