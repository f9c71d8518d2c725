/*-------------------------------------------------------------------------
 *
 * execute.h
 *		Running one attempt of one task with a function executor.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_EXECUTE_H
#define MC_EXECUTE_H

#include "utils/jsonb.h"
#include "utils/uuid.h"

typedef enum McOutcome
{
	MC_OUTCOME_NONE,			/* not run yet */
	MC_OUTCOME_COMPLETED,		/* returned a result; its effects are kept */
	MC_OUTCOME_FAILED,			/* raised an error (or timed out) */
	MC_OUTCOME_NOT_OURS,		/* not run: cancelled before the worker locked it */
	MC_OUTCOME_NOT_RUN,			/* not run: its workflow ended meanwhile */
	MC_OUTCOME_HANDED_BACK		/* not run: left for other workers */
} McOutcome;

/* a claimed task, as the dispatcher hands it to the executor */
typedef struct McRunTask
{
	pg_uuid_t	workflow_id;
	int32		task_no;
	char	   *task_id;
	Oid			owner;
	Oid			executor;		/* InvalidOid: the agent type has none now */
	Oid			registered_by;	/* who registered the executor */
	int32		attempt;
	int32		max_attempts;
	double		initial_delay;
	double		max_delay;
	double		exponential_base;
	double		timeout;		/* seconds, 0 for none */
	bool		allow_failure;
	Jsonb	   *ctx;
	char	   *agent_type;
	Jsonb	   *output_schema;	/* the agent type's, or NULL */
	/* set by mc_execute_task */
	McOutcome	outcome;
	bool		timed_out;
	Jsonb	   *result;
	char	   *error;
	const char *error_type;		/* its error_detail's (NULL: exception) */
	int			sqlerrcode;		/* the SQLSTATE raised (0: none) */
	double		execution_ms;	/* how long the attempt ran (< 0: it did not) */
} McRunTask;

extern void mc_execute_task(McRunTask *task, bool in_worker);

#endif							/* MC_EXECUTE_H */
