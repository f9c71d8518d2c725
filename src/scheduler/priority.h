/*-------------------------------------------------------------------------
 *
 * priority.h
 *		Workflow and task priorities: their range, the order ready tasks
 *		start in (ready_rank), and set_workflow_priority.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_PRIORITY_H
#define MC_PRIORITY_H

#include "fmgr.h"

/* the range of priorities; 0 is the default */
#define MC_PRIORITY_MIN (-100)
#define MC_PRIORITY_MAX 100

/*
 * MC_READY_RANK(t)
 *		SQL: the ready_rank of task row t becoming ready now.  Ready tasks
 *		start in ready_rank order, lowest first: a task of priority p
 *		ranks as though it had been ready p times mycelium.priority_aging
 *		longer than it has.  The setting is read per statement, so every
 *		rank a statement gives uses one value.
 */
#define MC_PRIORITY_AGING_SQL \
	"pg_catalog.current_setting('mycelium.priority_aging')::pg_catalog.interval"
#define MC_READY_RANK(t) MC_READY_RANK_BEFORE t MC_READY_RANK_AFTER
/* its text around the alias (read back on Citus: catalog.c, citus_time_sql) */
#define MC_READY_RANK_BEFORE "(pg_catalog.clock_timestamp() - "
#define MC_READY_RANK_AFTER ".priority * " MC_PRIORITY_AGING_SQL ")"

extern void mc_check_priority(int32 priority, const char *what);
extern int64 mc_queue_rank(int32 priority);
extern int32 mc_priority_arg(FunctionCallInfo fcinfo, int argno);

#endif							/* MC_PRIORITY_H */
