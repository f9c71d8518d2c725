/*-------------------------------------------------------------------------
 *
 * mycelium.h
 *		Declarations shared by every part of the mycelium extension:
 *		configuration variables, limits and the status enumerations.
 *
 * The task and workflow state machines are drawn in
 * doc/state-machines.md; the enumerations below follow the SQL enum types
 * mycelium.task_status and mycelium.workflow_status, in the same order.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MYCELIUM_H
#define MYCELIUM_H

#define MC_SCHEMA_NAME "mycelium"
#define MC_USER_ROLE "mycelium_user"
#define MC_ADMIN_ROLE "mycelium_admin"

/* longest task_id, agent_id or agent_type, in bytes */
#define MC_MAX_NAME_LEN 255

/* configuration (see mycelium.c for their definitions) */
extern int	mc_max_tasks_per_workflow;
extern int	mc_max_payload_kb;
extern int	mc_max_ctx_kb;
extern int	mc_json_schema_max_steps;
extern int	mc_max_workers;
extern int	mc_min_workers;
extern int	mc_max_workers_per_owner;
extern int	mc_worker_idle_timeout_ms;
extern int	mc_batch_size;
extern int	mc_batch_time_ms;
extern int	mc_terminate_grace_ms;
extern int	mc_priority_aging_s;
extern char *mc_database;

/* task status, in the order of the SQL enum mycelium.task_status */
typedef enum McTaskStatus
{
	MC_TASK_PENDING,
	MC_TASK_READY,
	MC_TASK_RUNNING,
	MC_TASK_COMPLETED,
	MC_TASK_FAILED,
	MC_TASK_SKIPPED,
	MC_TASK_CANCELLED
} McTaskStatus;

#define MC_TASK_NSTATUS (MC_TASK_CANCELLED + 1)

/* workflow status, in the order of the SQL enum mycelium.workflow_status */
typedef enum McWorkflowStatus
{
	MC_WF_PENDING,
	MC_WF_RUNNING,
	MC_WF_PAUSED,
	MC_WF_CANCELLING,			/* cancelled: waits for its running attempts */
	MC_WF_FAILING,				/* failed: waits for its running attempts */
	MC_WF_COMPLETED,
	MC_WF_FAILED,
	MC_WF_CANCELLED
} McWorkflowStatus;

#define MC_WF_NSTATUS (MC_WF_CANCELLED + 1)

extern void _PG_init(void);

#endif							/* MYCELIUM_H */
