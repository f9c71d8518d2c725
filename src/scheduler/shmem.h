/*-------------------------------------------------------------------------
 *
 * shmem.h
 *		Shared memory of the scheduler: worker slots, the queue of
 *		workflows with work to dispatch, and the condition variable that
 *		waiters sleep on.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_SHMEM_H
#define MC_SHMEM_H

#include "datatype/timestamp.h"
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "storage/spin.h"
#include "utils/uuid.h"

/* entries in the dispatch queue; beyond this, a rescan is asked for */
#define MC_QUEUE_SIZE 16384

/* recently cancelled or failed workflows, whose claimed tasks must not start */
#define MC_CANCELLED_RING 64

/*
 * The name of executor worker n: its background worker's name, and the
 * worker_id recorded in the rows of the tasks it claims.
 */
#define MC_WORKER_NAME "mycelium worker %d"

/* attempts whose worker the watchdog terminated, for their recovery */
#define MC_KILLED_RING 16

/*
 * The life of a worker slot (launcher.c): the launcher reserves a free
 * slot and registers a dynamic background worker for it (starting); the
 * worker takes the slot when it has connected (running); when it exits,
 * it frees the slot if it held no claimed task, else leaves it exited,
 * for the launcher to count its attempts as lost before the slot is used
 * again.
 */
typedef enum McSlotState
{
	MC_SLOT_FREE,
	MC_SLOT_STARTING,
	MC_SLOT_RUNNING,
	MC_SLOT_EXITED
} McSlotState;

/*
 * Most workflows a worker holds claimed tasks of at once: what it holds is
 * published in its slot, where workers count the running "slots" of a
 * workflow (dispatch.c).
 */
#define MC_SLOT_WORKFLOWS 64

/* a workflow a worker holds claimed tasks of, and how many */
typedef struct McHeldWorkflow
{
	pg_uuid_t	id;
	Oid			owner;			/* the workflow's owner */
	int32		ntasks;
} McHeldWorkflow;

/* one executor worker */
typedef struct McWorkerSlot
{
	McSlotState state;
	uint32		generation;		/* the launcher's that reserved it */
	pid_t		pid;			/* 0 when the worker is not running */
	Latch	   *latch;
	bool		waiting;		/* sleeping for work */
	bool		busy;			/* holds claimed tasks */
	bool		executing;		/* running the task below */
	bool		leaving;		/* idle, and leaving the pool */
	pg_uuid_t	workflow_id;
	int32		task_no;
	/* the attempt it runs, for the watchdog (watchdog.c) */
	int32		attempt;
	double		timeout;		/* the task's timeout, s (0: none) */
	TimestampTz deadline;		/* when that timeout runs out (0: never) */
	TimestampTz cancel_at;		/* when cancel_workflow interrupted it (0: not) */
	bool		terminating;	/* the watchdog sent it SIGTERM */
	int			nheld;			/* workflows it holds claimed tasks of */
	McHeldWorkflow held[MC_SLOT_WORKFLOWS];
	/* owners whose share it took for the claim it is making (below) */
	int			nreserved;
	Oid			reserved[MC_SLOT_WORKFLOWS];
} McWorkerSlot;

/* an attempt whose worker the watchdog terminated (watchdog.c) */
typedef struct McKilledAttempt
{
	pg_uuid_t	workflow_id;
	int32		task_no;
	int32		attempt;
	bool		timed_out;		/* at its timeout; else at cancel_workflow */
	double		timeout;		/* the task's timeout, s */
	TimestampTz killed_at;
} McKilledAttempt;

/*
 * A workflow that may have tasks to dispatch, or asks to be started, and
 * its rank in the queue: when it was pushed, less its priority times
 * mycelium.priority_aging, as its ready tasks rank (priority.c); lower
 * ranks are taken first.
 */
typedef struct McQueueEntry
{
	pg_uuid_t	workflow_id;
	Oid			start_by;		/* role asking to start it, or InvalidOid */
	int64		rank;
} McQueueEntry;

/* an entry of the dispatch queue where it sits (shmem.c) */
typedef struct McQueueSlot
{
	McQueueEntry entry;
	uint32		seq;			/* its place in the order of pushes */
	int32		heap_pos;		/* its place in the heap of ranks; -1: taken */
} McQueueSlot;

typedef struct McShared
{
	slock_t		mutex;			/* protects everything below but the CV */
	bool		rescan;			/* queue overflowed: rescan the catalog */
	Latch	   *launcher_latch;
	uint32		queue_head;		/* oldest entry not taken yet */
	uint32		queue_tail;		/* next free entry */
	McQueueSlot queue[MC_QUEUE_SIZE];	/* in the order of pushes */
	int32		heap_n;			/* entries not taken */
	int32		heap[MC_QUEUE_SIZE];	/* their slots, a binary heap by rank */
	uint32		cancelled_next; /* next slot of the ring below */
	pg_uuid_t	cancelled[MC_CANCELLED_RING];
	ConditionVariable progress; /* broadcast when workflows change */
	uint32		killed_next;	/* next slot of the ring below */
	McKilledAttempt killed[MC_KILLED_RING];
	uint32		generation;		/* bumped by each launcher as it starts */
	int			wanted;			/* workers asked for that no idle one served */
	bool		look_asked;		/* the launcher is to look at the catalog */
	bool		limits_held;	/* a worker's claim was held back by a limit */
	bool		limits_polling; /* the launcher pushes limited workflows again */
	int			nworkers;		/* slots: mycelium.max_workers */
	McWorkerSlot workers[FLEXIBLE_ARRAY_MEMBER];
} McShared;

extern McShared *mc_shared;
extern int	mc_worker_slot;

extern void mc_shmem_request(void);
extern void mc_shmem_startup(void);
extern bool mc_scheduler_available(void);
extern void mc_require_scheduler(void);
extern void mc_queue_push(const pg_uuid_t *workflow_id, Oid start_by,
						  int32 priority);
extern void mc_queue_push_entry(const McQueueEntry *entry);
extern int	mc_queue_room(void);
extern int	mc_queue_pop(McQueueEntry *entries, int max);
extern void mc_wake_workers(int n);
extern int	mc_idle_workers(void);
extern bool mc_pool_can_grow(void);
extern void mc_publish_held(const McHeldWorkflow *held, int n);
extern void mc_workflow_holders(const pg_uuid_t *workflow_id, int *nworkers,
								int *ntasks);
extern int	mc_owner_workers(Oid owner);
extern bool mc_owner_reserve(Oid owner);
extern void mc_set_busy(bool busy);
extern bool mc_workflow_ended_recently(const pg_uuid_t *workflow_id);
extern void mc_wake_launcher(void);
extern void mc_note_limits_held(void);
extern bool mc_limits_held_take(void);
extern void mc_limits_polling(bool polling);
extern void mc_push_at_commit(const pg_uuid_t *workflow_id, Oid start_by,
							  int32 priority);
extern void mc_interrupt_at_commit(const pg_uuid_t *workflow_id);

#endif							/* MC_SHMEM_H */
