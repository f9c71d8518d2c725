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
#include "utils/guc.h"

#include "mycelium.h"

PG_MODULE_MAGIC;

/* most tasks one workflow may hold */
int			mc_max_tasks_per_workflow = 100000;

/* largest JSON payload (input, metadata, context, variables, result), kB */
int			mc_max_payload_kb = 1024;

/*
 * _PG_init
 *		Defines the configuration variables.  Limits are superuser-only so a
 *		user cannot raise the bounds that protect the server.
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

	DefineCustomIntVariable("mycelium.max_payload_size",
							"Largest JSON payload (task input, metadata, result, workflow context or variables).",
							NULL,
							&mc_max_payload_kb,
							1024, 1, 1024 * 1024,
							PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("mycelium");
}
