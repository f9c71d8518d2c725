/*-------------------------------------------------------------------------
 *
 * taskdef.h
 *		Task definitions: parsing and validating the JSON objects of the
 *		SQL API (the seed's TaskDefinition) into C structs.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_TASKDEF_H
#define MC_TASKDEF_H

#include "fmgr.h"
#include "utils/jsonb.h"

/* retry policy defaults (the seed's RetryPolicy) */
#define MC_DEFAULT_MAX_ATTEMPTS 3
#define MC_DEFAULT_INITIAL_DELAY 1.0
#define MC_DEFAULT_MAX_DELAY 60.0
#define MC_DEFAULT_EXPONENTIAL_BASE 2.0

/* bounds; delays and timeouts are kept to what a millisecond timer holds */
#define MC_MAX_ATTEMPTS 1000
#define MC_MAX_SECONDS 2147483.0

typedef struct McTaskDef
{
	int			index;			/* 0-based position in the tasks array */
	char	   *task_id;
	char	   *agent_id;
	char	   *agent_type;
	int			ndeps;
	char	  **dep_ids;		/* dependency task ids, as written */
	int32	   *deps;			/* their task numbers (set by dag.c) */
	int32		max_attempts;
	double		initial_delay;
	double		max_delay;
	double		exponential_base;
	double		timeout;		/* seconds; 0 means no timeout */
	bool		allow_failure;
	Jsonb	   *input;			/* NULL when absent or JSON null */
	Jsonb	   *metadata;		/* NULL when absent or JSON null */
	char	   *signal;			/* a signal task's signal name, else NULL */
	bool		has_priority;	/* the definition gives a priority ... */
	int32		priority;		/* ... this one (priority.c) */
} McTaskDef;

extern McTaskDef *mc_parse_tasks(Jsonb *tasks, int *ntasks);
extern void mc_check_payload_size(Jsonb *value, const char *what);
extern void mc_check_error_size(const char *error);
extern void mc_require_arg(FunctionCallInfo fcinfo, int argno, const char *name);
extern char *mc_name_problem(const char *value, int len);
extern char *mc_name_for_message(const char *name);

#endif							/* MC_TASKDEF_H */
