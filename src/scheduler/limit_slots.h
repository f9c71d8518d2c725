/*-------------------------------------------------------------------------
 *
 * limit_slots.h
 *		The reservations of agent types with limits, in shared memory: the
 *		tasks that claims not yet committed took or may take, and each
 *		rate's token bucket (limit_slots.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_LIMIT_SLOTS_H
#define MC_LIMIT_SLOTS_H

#include "postgres.h"

#include "datatype/timestamp.h"

/*
 * What a claim asks of one limited agent type, and what it gets: the
 * caller fills in the type and its limits, with the running tasks it
 * counted; mc_limit_slots_reserve sets reserved (how many of its tasks
 * the claim may take).
 */
typedef struct McLimitAsk
{
	const char *agent_type;
	uint64		key;			/* its slot's key (mc_limit_slots_cached) */
	int32		max_running;	/* -1: no limit of running tasks */
	int32		running;		/* its running tasks, as counted (or -1: to
								 * count, mc_limit_slots_cached says) */
	uint64		ended_before;	/* "ended" before that count */
	bool		exact;			/* the count is exact (under max_running) */
	uint32		limits_xmin;	/* the xmin of the type's executors row: a
								 * count kept under other limits is not used */
	double		rate;			/* starts per rate_per; 0: no rate */
	double		rate_per;		/* seconds */
	int32		reserved;		/* out: tasks the claim may take */
	int			entry;			/* out: its entry in this backend's list */
} McLimitAsk;

extern Size mc_limit_slots_shmem_size(void);
extern void mc_limit_slots_shmem_init(void);
extern bool mc_limit_slots_available(void);
extern uint64 mc_limit_slots_ended(void);
extern bool mc_limit_slots_cached(McLimitAsk *asks, int n, int cap);
extern void mc_limit_slots_reserve(McLimitAsk *asks, int n, int cap);
extern void mc_limit_slots_note_started(void);
extern void mc_limit_slots_settle(McLimitAsk *asks, int n,
								  const int32 *taken);

#endif							/* MC_LIMIT_SLOTS_H */
