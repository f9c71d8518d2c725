/*-------------------------------------------------------------------------
 *
 * agent.h
 *		Telling external agents that tasks of their agent type are ready.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_AGENT_H
#define MC_AGENT_H

#include "utils/uuid.h"

#include "catalog.h"
#include "signals.h"

/* the channel external agents LISTEN on; the payload is the agent type */
#define MC_READY_CHANNEL "mycelium_ready"

/*
 * A SQL expression, over a task_states row aliased t: the row's agent type
 * when it is ready and external agents claim it (or, for signal tasks, it
 * waits for a signal: signals.c), else NULL.  Statements
 * that make tasks ready return it, so they can notify (mc_notify_ready_row).
 */
#define MC_EXTERNAL_READY_TYPE(t) \
	"CASE WHEN " t ".status = 'ready' AND (" t ".agent_type = '" MC_SIGNAL_AGENT_TYPE "' " \
	"OR EXISTS (SELECT 1 FROM mycelium.executors e " \
	"WHERE e.agent_type = " t ".agent_type AND e.executor IS NULL)) THEN " t ".agent_type END"

extern void mc_notify_ready(const char *agent_type);
extern void mc_notify_ready_row(uint64 row, int col);
extern void mc_notify_ready_rows(uint64 n);
extern void mc_notify_ready_workflow(pg_uuid_t *workflow_id);

#endif							/* MC_AGENT_H */
