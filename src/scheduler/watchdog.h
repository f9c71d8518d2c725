/*-------------------------------------------------------------------------
 *
 * watchdog.h
 *		Ending executors that do not stop when interrupted.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_WATCHDOG_H
#define MC_WATCHDOG_H

#include "datatype/timestamp.h"
#include "utils/uuid.h"

/* how a lost attempt is to be recorded (mc_watchdog_lost_attempt) */
typedef enum McLostKind
{
	MC_LOST_CRASH,				/* its worker stopped: a failed attempt */
	MC_LOST_TIMED_OUT,			/* terminated past its timeout */
	MC_LOST_CANCELLED,			/* terminated after cancel_workflow */
	MC_LOST_BYSTANDER			/* claimed by a worker terminated for another */
} McLostKind;

extern long mc_watchdog_check(void);
extern McLostKind mc_watchdog_killed(const pg_uuid_t *workflow_id, int32 task_no,
									 int32 attempt, double *timeout,
									 TimestampTz *killed_at);

#endif							/* MC_WATCHDOG_H */
