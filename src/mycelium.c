/*-------------------------------------------------------------------------
 *
 * mycelium.c
 *		Entry point of the mycelium extension: module magic, _PG_init and
 *		the configuration variables.
 *
 * The SQL API works whether or not the library is preloaded; what needs
 * shared_preload_libraries (the background scheduler) is registered only
 * when the library is loaded by the postmaster.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "api_agent.h"
#include "launcher.h"
#include "mycelium.h"
#include "observe.h"
#include "shmem.h"

PG_MODULE_MAGIC;

/* most tasks one workflow may hold */
int			mc_max_tasks_per_workflow = 100000;

/* largest JSON payload (input, metadata, context, variables, result), kB */
int			mc_max_payload_kb = 1024;

/* largest execution context (ctx) of an attempt, kB */
int			mc_max_ctx_kb = 128 * 1024;

/*
 * JSON Schema evaluation budget, in steps (one subschema applied to one
 * value, one "enum"/"uniqueItems" comparison; an error reported counts 64):
 * what one validation, or compiling one schema, may cost before it is
 * refused (54000).  The default is some 0.3 s of CPU (about 30 ns a step);
 * no test of the official suite needs more than 400 steps, the 1 kB handoff
 * message of bench/json_schema.sh 46, a 1 MB array of small items checked
 * against one item schema about a million.
 */
int			mc_json_schema_max_steps = 10000000;

/* most executor workers of the scheduler, server-wide */
int			mc_max_workers = 12;

/* most executor workers one owner's workflows take */
int			mc_max_workers_per_owner = 10;

/* executor workers kept while the server is idle */
int			mc_min_workers = 1;

/* how long a worker stays idle before it leaves the pool, ms */
int			mc_worker_idle_timeout_ms = 10000;

/* most tasks a worker claims at once */
int			mc_batch_size = 256;

/* longest a worker runs attempts before recording them, ms */
int			mc_batch_time_ms = 20;

/* how long a ready task waits to gain one point of priority, s (priority.c) */
int			mc_priority_aging_s = 60;

/* how long an interrupted executor may go on before its worker is terminated, ms */
int			mc_terminate_grace_ms = 5000;

/* the database the scheduler serves */
char	   *mc_database = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;

/*
 * shmem_request
 *		shmem_request_hook: the scheduler's shared memory.
 */
static void
shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	mc_shmem_request();
}

/*
 * _PG_init
 *		Defines the configuration variables; when the library is preloaded,
 *		also asks for shared memory and registers the scheduler's
 *		background workers.  Limits are superuser-only so a user cannot
 *		raise the bounds that protect the server.
 */
void
_PG_init(void)
{
	DefineCustomIntVariable("mycelium.max_tasks_per_workflow",
							"Largest number of tasks a single workflow may hold.",
							"Checked by create_workflow and add_tasks.",
							&mc_max_tasks_per_workflow,
							100000, 1, 10000000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("mycelium.log_failed_attempts",
							 "Logs each failed attempt of a task, one line each.",
							 "The line names the workflow, the task, the attempt, its error type and what follows, for log-based alerting.",
							 &mc_log_failed_attempts,
							 false,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("mycelium.synchronous_claims",
							 "Makes a claim_tasks call outside a transaction block wait for its commit to reach disk.",
							 "Off: such a claim commits as with synchronous_commit off; one lost in a crash leaves its tasks ready, as though it had not been made.",
							 &mc_synchronous_claims,
							 false,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("mycelium.max_payload_size",
							"Largest JSON payload (task input, metadata, result, workflow context or variables).",
							NULL,
							&mc_max_payload_kb,
							1024, 1, 1024 * 1024,
							PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mycelium.max_ctx_size",
							"Largest execution context (ctx) of an attempt: what its input, metadata, workflow context and variables, dependencies' results and handoff messages take together.",
							"An attempt whose ctx would be larger fails with SQLSTATE 54000.",
							&mc_max_ctx_kb,
							128 * 1024, 1, 200 * 1024,
							PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mycelium.json_schema_max_steps",
							"Most steps one JSON Schema validation may take.",
							"A step is one subschema applied to one value; validations needing more are refused.",
							&mc_json_schema_max_steps,
							10000000, 1000, PG_INT32_MAX,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mycelium.batch_size",
							"Most tasks a worker claims and records in one transaction.",
							NULL,
							&mc_batch_size,
							256, 1, 10000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mycelium.batch_time",
							"Longest a worker runs attempts before it records them and commits.",
							NULL,
							&mc_batch_time_ms,
							20, 1, 60000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mycelium.terminate_grace",
							"How long an executor may go on after its timeout or cancel_workflow interrupted it, before its worker is terminated.",
							"An executor that catches the interruption is ended this way; its attempt counts as timed out or cancelled.",
							&mc_terminate_grace_ms,
							5000, 0, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mycelium.priority_aging",
							"How long a ready task waits to gain one point of priority.",
							"Ready tasks start in order of priority and time ready: a task of priority p ranks as though it had waited p times this longer, so none is overtaken by a task that became ready more than this times the difference of their priorities after it.",
							&mc_priority_aging_s,
							60, 1, 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	/* the scheduler's settings exist only where it can run */
	if (!process_shared_preload_libraries_in_progress)
	{
		MarkGUCPrefixReserved("mycelium");
		return;
	}

	DefineCustomStringVariable("mycelium.database",
							   "Database the scheduler serves.",
							   "The extension must be created in it.",
							   &mc_database,
							   "postgres",
							   PGC_POSTMASTER, 0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("mycelium.max_workers",
							"Most executor workers of the scheduler: the most function tasks running at once, server-wide.",
							"The launcher starts them as work needs them; each is a background worker, so max_worker_processes must leave room for them and the launcher.",
							&mc_max_workers,
							12, 1, 256,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mycelium.max_workers_per_owner",
							"Most executor workers the workflows of one owner take at once.",
							"Leaves the other workers to other owners' tasks.",
							&mc_max_workers_per_owner,
							10, 1, 256,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mycelium.min_workers",
							"Executor workers kept while the server is idle.",
							"At most mycelium.max_workers of them are started.",
							&mc_min_workers,
							1, 0, 256,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mycelium.worker_idle_timeout",
							"How long an executor worker stays idle before it leaves the pool.",
							"Workers leave only while more than mycelium.min_workers stay.",
							&mc_worker_idle_timeout_ms,
							10000, 100, 24 * 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("mycelium");
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = shmem_request;
	mc_shmem_startup();
	mc_register_workers();
}
