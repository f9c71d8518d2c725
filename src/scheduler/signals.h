/*-------------------------------------------------------------------------
 *
 * signals.h
 *		Signal tasks: tasks that wait for a named signal
 *		(mycelium.signal) instead of running on an executor.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_SIGNALS_H
#define MC_SIGNALS_H

#include "datatype/timestamp.h"
#include "utils/uuid.h"

#include "catalog.h"

/*
 * The agent type of every signal task.  No executor may be registered for
 * it, and no external agent may claim it: only a signal, or its deadline,
 * finishes such a task.
 */
#define MC_SIGNAL_AGENT_TYPE "mycelium.signal"

/* the longest deadline of a signal task, in seconds (ten years) */
#define MC_MAX_SIGNAL_DEADLINE 315576000.0

extern void mc_signal_refuse_agent_type(const char *agent_type);
extern void mc_signal_refuse_running(pg_uuid_t *workflow_id, const char *task_id);
extern void mc_signal_wake_at_commit(void);
extern int	mc_signal_tick(McCatalogSession *session, TimestampTz now, int max);

#endif							/* MC_SIGNALS_H */
