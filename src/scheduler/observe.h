/*-------------------------------------------------------------------------
 *
 * observe.h
 *		What an operator watches from outside: workflow-end notifications
 *		and failed-attempt log lines.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_OBSERVE_H
#define MC_OBSERVE_H

#include "utils/uuid.h"

/* the channel told of each workflow that reaches a final status */
#define MC_WORKFLOW_END_CHANNEL "mycelium_workflow_end"

/*
 * the channel told, with an empty payload, when workflows are created or
 * deleted, or change status without ending
 */
#define MC_WORKFLOWS_CHANNEL "mycelium_workflows"

extern bool mc_log_failed_attempts;

extern void mc_notify_workflow_end(const pg_uuid_t *workflow_id, const char *status);
extern void mc_notify_workflows_changed(void);
extern void mc_tasks_ready_since(const pg_uuid_t *workflow_id, bool resumed);
extern void mc_log_failed_attempt(const pg_uuid_t *workflow_id, const char *task_id,
								  int32 attempt, const char *error_type,
								  int sqlerrcode, const char *outcome);

#endif							/* MC_OBSERVE_H */
