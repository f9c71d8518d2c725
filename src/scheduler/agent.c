/*-------------------------------------------------------------------------
 *
 * agent.c
 *		Telling external agents that tasks of their agent type are ready.
 *
 * Agents LISTEN on the channel mycelium_ready; the payload is an agent
 * type.  Every statement that can make a task ready tells which external
 * agent types it made ready, and a notification is queued for each.
 * PostgreSQL folds identical notifications of one transaction into one, so
 * an agent type is notified once per commit however many of its tasks
 * became ready, and not at all if the transaction rolls back.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/async.h"
#include "catalog/pg_type.h"

#include "agent.h"

/*
 * mc_notify_ready
 *		Tasks of an external agent type are ready: notify its agents when
 *		this transaction commits.
 */
void
mc_notify_ready(const char *agent_type)
{
	Async_Notify(MC_READY_CHANNEL, agent_type);
	/* signal tasks started waiting: the launcher looks at them (signals.c) */
	if (strcmp(agent_type, MC_SIGNAL_AGENT_TYPE) == 0)
		mc_signal_wake_at_commit();
}

/*
 * mc_notify_ready_row
 *		Notifies the agent type in column col of row row of the last
 *		statement's result, unless it is NULL (see MC_EXTERNAL_READY_TYPE).
 */
void
mc_notify_ready_row(uint64 row, int col)
{
	char	   *agent_type = mc_catalog_text(row, col);

	if (agent_type != NULL)
		mc_notify_ready(agent_type);
}

/*
 * mc_notify_ready_rows
 *		Notifies the agent types in column 1 of the last statement's n
 *		result rows.
 */
void
mc_notify_ready_rows(uint64 n)
{
	uint64		i;

	for (i = 0; i < n; i++)
		mc_notify_ready_row(i, MC_ONLY_COLUMN);
}

/*
 * mc_notify_ready_workflow
 *		A workflow runs (again): notifies the external agent types it has
 *		ready tasks for.  One index probe per external agent type.
 */
void
mc_notify_ready_workflow(pg_uuid_t *workflow_id)
{
	static const Oid argtypes[] = {UUIDOID};
	Datum		values[1];

	values[0] = UUIDPGetDatum(workflow_id);
	mc_notify_ready_rows(mc_catalog_run(MC_PLAN_READY_EXTERNAL,
										"SELECT e.agent_type FROM mycelium.executors e "
										"WHERE e.executor IS NULL AND EXISTS ("
										"  SELECT 1 FROM mycelium.task_states t "
										"  WHERE t.agent_type = e.agent_type AND t.workflow_id = $1 "
										"    AND t.status = 'ready') "
										"UNION ALL "
										"SELECT '" MC_SIGNAL_AGENT_TYPE "' WHERE EXISTS ("
										"  SELECT 1 FROM mycelium.task_states t "
										"  WHERE t.agent_type = '" MC_SIGNAL_AGENT_TYPE "' "
										"    AND t.workflow_id = $1 AND t.status = 'ready')",
										1, argtypes, values, NULL, 0));
}
