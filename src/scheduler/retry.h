/*-------------------------------------------------------------------------
 *
 * retry.h
 *		The retry policy: how long to wait before the next attempt.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_RETRY_H
#define MC_RETRY_H

extern double mc_retry_delay(int attempt, double initial_delay,
							 double max_delay, double exponential_base);

#endif							/* MC_RETRY_H */
