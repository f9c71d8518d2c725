/*-------------------------------------------------------------------------
 *
 * state.h
 *		The state manager: the task and workflow state machines, versioned
 *		changes with history, and rollback.  See doc/state-machines.md.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_STATE_H
#define MC_STATE_H

#include "datatype/timestamp.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#include "catalog.h"
#include "mycelium.h"

/* a workflow's row, locked for the rest of the transaction */
typedef struct McWorkflow
{
	pg_uuid_t	id;
	Oid			owner;
	McWorkflowStatus status;
	int64		version;		/* the version this change will create */
	int32		max_parallel_tasks;
	int32		tasks_open;
	int32		tasks_running;
	int32		priority;		/* the workflow's priority (priority.c) */
	char	   *error;			/* set when the workflow fails */
	const char *error_type;		/* ... and its error_type (cancelled, task_failed) */
	bool		changed;		/* something was changed at this version */
	bool		status_set;		/* mc_workflow_set_status was called */
} McWorkflow;

/*
 * The columns of a workflow row w that mc_workflow_read_locked reads, in
 * its order, for statements that lock workflows of their own finding.
 */
#define MC_WORKFLOW_COLUMNS(w) \
	w ".owner, " w ".status::pg_catalog.text, " w ".version, " \
	w ".tasks_open, " w ".tasks_running, " w ".error, " w ".max_parallel_tasks, " \
	w ".workflow_id, " w ".error_detail->>'error_type', " w ".priority"
#define MC_WORKFLOW_NCOLUMNS 10

/*
 * MC_WORKFLOW_SAVE_COUNTERS
 *		SQL: what mc_workflows_save writes of a workflow whose status was
 *		not set (its version and task counters), as one statement given
 *		the values (from: a FROM clause they come from, or ""), for the
 *		save itself (save_counters) and for a statement that saves the
 *		workflow it changes (a CTE): the one-task claims and completions
 *		of external agents, which then call mc_workflow_saved.
 */
#define MC_WORKFLOW_SAVE_COUNTERS(from, id, version, open, running) \
	"UPDATE mycelium.workflow_states w SET version = " version ", " \
	"tasks_open = " open ", tasks_running = " running ", " \
	"updated_at = pg_catalog.clock_timestamp() " \
	from " WHERE w.workflow_id = " id

/*
 * Why an attempt (or a task) failed: recorded as the task's error (the
 * message) and error_detail ({error_type, message, sqlstate, attempt}).
 */
typedef struct McError
{
	const char *type;			/* exception, timeout, cancelled, lost, ... */
	const char *message;
	int			sqlerrcode;		/* the SQLSTATE raised (0: none) */
	double		execution_ms;	/* how long the attempt ran (< 0: not known) */
} McError;

/* one task's row, as the state manager needs it */
typedef struct McTask
{
	int32		task_no;
	char	   *task_id;
	McTaskStatus status;
	int32		attempt;
	bool		allow_failure;
	Datum		dependents;		/* int4[] or 0 */
} McTask;

/*
 * The columns of a task row t that mc_task_read reads, in its order; a
 * statement that selects them first passes MC_TASK_FIRST_COLUMN.
 */
#define MC_TASK_COLUMNS(t) \
	t ".task_no, " t ".status::pg_catalog.text, " t ".attempt, " \
	t ".allow_failure, " t ".dependents"
#define MC_TASK_FIRST_COLUMN 1
#define MC_TASK_NCOLUMNS 5

extern const char *const mc_task_status_names[];
extern const char *const mc_workflow_status_names[];

extern McTaskStatus mc_task_status_from_name(const char *name);
extern McWorkflowStatus mc_workflow_status_from_name(const char *name);
extern bool mc_task_status_is_terminal(McTaskStatus status);
extern bool mc_workflow_status_is_terminal(McWorkflowStatus status);
extern bool mc_workflow_status_is_ending(McWorkflowStatus status);
extern bool mc_task_transition_allowed(McTaskStatus from, McTaskStatus to);

extern int	mc_uuid_cmp(const void *a, const void *b);
extern int	mc_task_key_cmp(const pg_uuid_t *wa, int32 na,
							const pg_uuid_t *wb, int32 nb);
extern void mc_workflow_lock(McCatalogSession *session, pg_uuid_t *id,
							 McWorkflow *wf);
extern Oid	mc_workflow_visible_owner(McCatalogSession *session, pg_uuid_t *id);
extern int	mc_workflows_lock_due_starts(McCatalogSession *session, TimestampTz now,
										 int max, McWorkflow *wfs);
extern void mc_workflows_lock(McCatalogSession *session, pg_uuid_t *ids, int n,
							  bool skip_locked, McWorkflow **wfs, bool *locked);
extern bool mc_workflows_locked_in_xact(void);
extern void mc_workflow_read_locked(uint64 row, int col, McWorkflow *wf);
extern bool mc_workflow_visible(McCatalogSession *session, Oid owner);
extern void mc_workflow_saved(McWorkflow *wf);
extern void mc_workflows_lock_all(McCatalogSession *session, pg_uuid_t *ids,
								  int n, McWorkflow *wfs);
extern void mc_workflow_count_change(McWorkflow *wf);
extern void mc_workflow_count_started(McWorkflow *wf, int n);
extern void mc_workflow_count_completed(McWorkflow *wf, int n);
extern void mc_workflow_count_done(McWorkflow *wf);
extern void mc_workflow_tasks_added(McCatalogSession *session, McWorkflow *wf,
									int32 base, int n);
extern void mc_workflow_settle(McCatalogSession *session, McWorkflow *wf);
extern void mc_workflows_save(McCatalogSession *session, McWorkflow **wfs, int n);
extern void mc_workflow_set_status(McCatalogSession *session, McWorkflow *wf,
								   McWorkflowStatus status, const char *event);
extern void mc_workflow_save(McCatalogSession *session, McWorkflow *wf);
extern void mc_task_raise_if_busy(McWorkflow *wf, const char *task_id);
extern void mc_task_read(uint64 row, int col, McTask *task);
extern bool mc_task_get(McWorkflow *wf, const char *task_id, McTask *task);
/*
 * MC_ATTEMPT_MS
 *		How long the running attempt of task row t has run, in ms: from its
 *		claim (started_at) until now.  What an attempt that ends without
 *		its own measurement counts (external agents' attempts, lapsed
 *		leases, lost and terminated attempts, cancellations).
 */
#define MC_ATTEMPT_MS(t) \
	"(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - " t ".started_at) * 1000)"

/*
 * MC_SKIP_DESCENDANTS
 *		The CTEs d and s of the statement that skips the pending and ready
 *		tasks of workflow $1 that depend, directly or not, on the tasks $2
 *		(int4[]) (skip_descendants; its Citus form in citus_state.c): s
 *		returns the columns returning of each task it skipped.
 */
#define MC_SKIP_DESCENDANTS(returning) \
	"WITH RECURSIVE d(task_no) AS (" \
	"  SELECT pg_catalog.unnest($2::pg_catalog.int4[]) " \
	"  UNION " \
	"  SELECT pg_catalog.unnest(t.dependents) FROM mycelium.task_states t " \
	"  JOIN d ON t.workflow_id = $1 AND t.task_no = d.task_no" \
	"), s AS (" \
	"  UPDATE mycelium.task_states t SET status = 'skipped', " \
	"    finished_at = pg_catalog.clock_timestamp() " \
	"  FROM d WHERE t.workflow_id = $1 AND t.task_no = d.task_no " \
	"    AND t.status IN ('pending', 'ready') " \
	"  RETURNING " returning \
	") "

/*
 * MC_END_OPEN_TASKS
 *		The CTEs o and s of the statement that ends the open tasks of
 *		workflow $1 (mc_workflow_finish; its Citus form in citus_state.c):
 *		those no other session holds, running ones cancelled (with the
 *		time their attempt ran), the others given the task status in
 *		parameter rest.  s returns the columns returning of each, then its
 *		old status and, for a running one, its execution time (ms).
 */
#define MC_END_OPEN_TASKS(rest, returning) \
	"WITH o AS (" \
	"  SELECT task_no, status::pg_catalog.text AS old_status, " \
	"    " rest "::mycelium.task_status AS rest " \
	"  FROM mycelium.task_states " \
	"  WHERE workflow_id = $1 AND status IN ('pending', 'ready', 'running') " \
	"  FOR UPDATE SKIP LOCKED" \
	"), s AS (" \
	"  UPDATE mycelium.task_states t SET finished_at = pg_catalog.clock_timestamp(), " \
	"    worker_id = NULL, lease_until = NULL, run_after = NULL, " \
	"    status = CASE WHEN t.status = 'running' THEN 'cancelled' " \
	"      ELSE o.rest END, " \
	"    execution_time = CASE WHEN t.status = 'running' " \
	"      THEN COALESCE(" MC_ATTEMPT_MS("t") ", t.execution_time) " \
	"      ELSE t.execution_time END " \
	"  FROM o WHERE t.workflow_id = $1 AND t.task_no = o.task_no " \
	"  RETURNING " returning ", o.old_status, " \
	"    CASE WHEN o.old_status = 'running' AND t.started_at IS NOT NULL " \
	"      THEN t.execution_time END AS ms" \
	")"

/*
 * MC_ROLLBACK_TASKS
 *		The CTEs of the statement that returns the tasks of workflow $1 to
 *		their state at version $2 (mc_workflow_rollback; its Citus form in
 *		citus_state.c): each task's last history row up to $2 (h), the
 *		tasks as they are and as they were (tgt), the unmet dependencies
 *		at $2 (unmet), what each becomes and whether that changes its row
 *		(changed) or what its history shows (visible) (fin), and the
 *		update of the rows that change (upd), which returns the task_no,
 *		new_status, attempt, result, error, error_detail, execution_time
 *		and visible of each.  The new status is cast and the rows compared
 *		in fin, not in the update: Citus refuses a stable function (an
 *		enum's input and output) with a column among its arguments in an
 *		UPDATE.  Its user includes priority.h (MC_READY_RANK).
 */
#define MC_ROLLBACK_TASKS \
	"WITH h AS (" \
	"  SELECT DISTINCT ON (task_no) task_no, status, attempt, result, error, error_detail, " \
	"    execution_time, changed_at " \
	"  FROM mycelium.workflow_state_history " \
	"  WHERE workflow_id = $1 AND version <= $2 AND task_no > 0 " \
	"  ORDER BY task_no, version DESC" \
	"), tgt AS (" \
	"  SELECT t.task_no, t.dependencies, t.allow_failure, " \
	"    t.status::pg_catalog.text AS old_status, t.attempt AS old_attempt, " \
	"    t.result AS old_result, t.error AS old_error, t.deps_pending AS old_deps_pending, " \
	"    COALESCE(h.status, 'pending') AS status, COALESCE(h.attempt, 0) AS attempt, " \
	"    h.result, h.error, h.error_detail, h.execution_time, h.changed_at " \
	"  FROM mycelium.task_states t LEFT JOIN h ON h.task_no = t.task_no " \
	"  WHERE t.workflow_id = $1" \
	"), unmet AS (" \
	"  SELECT c.task_no, pg_catalog.count(*)::pg_catalog.int4 AS n " \
	"  FROM tgt c CROSS JOIN LATERAL pg_catalog.unnest(c.dependencies) AS dep(task_no) " \
	"  JOIN tgt d ON d.task_no = dep.task_no " \
	"  WHERE NOT (d.status = 'completed' OR (d.status = 'failed' AND d.allow_failure)) " \
	"  GROUP BY c.task_no" \
	"), fin AS (" \
	"  SELECT f.*, f.new_status::mycelium.task_status AS new_enum, " \
	"    (f.old_status, f.old_attempt, f.old_result, f.old_error, f.old_deps_pending) " \
	"      IS DISTINCT FROM (f.new_status, f.attempt, f.result, f.error, f.deps_pending) AS changed, " \
	"    (f.old_status, f.old_attempt, f.old_result, f.old_error) " \
	"      IS DISTINCT FROM (f.new_status, f.attempt, f.result, f.error) AS visible " \
	"  FROM (SELECT tgt.*, COALESCE(u.n, 0) AS deps_pending, " \
	"      CASE WHEN tgt.status IN ('pending', 'ready', 'running') THEN " \
	"        CASE WHEN COALESCE(u.n, 0) = 0 THEN 'ready' ELSE 'pending' END " \
	"      ELSE tgt.status END AS new_status " \
	"    FROM tgt LEFT JOIN unmet u ON u.task_no = tgt.task_no) f" \
	"), upd AS (" \
	"  UPDATE mycelium.task_states t SET " \
	"    status = fin.new_enum, attempt = fin.attempt, " \
	"    result = fin.result, error = fin.error, error_detail = fin.error_detail, " \
	"    execution_time = fin.execution_time, deps_pending = fin.deps_pending, " \
	"    run_after = NULL, " \
	"    ready_rank = CASE WHEN fin.new_status = 'ready' THEN " MC_READY_RANK("t") " END, " \
	"    ready_at = CASE WHEN fin.new_status = 'ready' THEN " \
	"      COALESCE(t.ready_at, pg_catalog.now()) END, " \
	"    started_at = CASE WHEN fin.new_status IN ('pending', 'ready') THEN NULL " \
	"      ELSE t.started_at END, " \
	"    finished_at = CASE WHEN fin.new_status IN ('pending', 'ready') THEN NULL " \
	"      ELSE fin.changed_at END " \
	"  FROM fin WHERE t.workflow_id = $1 AND t.task_no = fin.task_no AND fin.changed " \
	"  RETURNING t.task_no, fin.new_status, fin.attempt, fin.result, fin.error, " \
	"    fin.error_detail, fin.execution_time, fin.visible" \
	")"

extern Jsonb *mc_error_detail(const McError *error, int32 attempt);
extern McError mc_error_ended(const McError *error, double ms);
extern void mc_task_transition(McCatalogSession *session, McWorkflow *wf,
							   McTask *task, McTaskStatus to,
							   Jsonb *result, const McError *error,
							   const char *event);
extern void mc_task_retry(McCatalogSession *session, McWorkflow *wf,
						  McTask *task, double delay, bool started,
						  const McError *error, const char *event);
extern void mc_workflow_finish(McCatalogSession *session, McWorkflow *wf,
							   McWorkflowStatus status, McTaskStatus rest,
							   const char *event);
extern void mc_history_record(McCatalogSession *session, McWorkflow *wf,
							  int32 task_no, const char *status, int32 attempt,
							  Jsonb *result, const McError *error,
							  const char *event);
extern void mc_workflow_rollback(McCatalogSession *session, McWorkflow *wf,
								 int64 target);

#endif							/* MC_STATE_H */
