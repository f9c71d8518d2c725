/*-------------------------------------------------------------------------
 *
 * retry.c
 *		The retry policy of the original design: after failed attempt n
 *		(counting from 1) the next attempt waits
 *			min(max_delay, initial_delay * exponential_base ^ (n - 1))
 *		seconds.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "retry.h"

/*
 * mc_retry_delay
 *		Seconds to wait after failed attempt number attempt.  Computed in
 *		a way that cannot overflow for any attempt count.
 */
double
mc_retry_delay(int attempt, double initial_delay, double max_delay,
			   double exponential_base)
{
	double		delay;

	if (attempt < 1)
		attempt = 1;
	delay = initial_delay * pow(exponential_base, attempt - 1);
	if (isnan(delay) || delay > max_delay)
		delay = max_delay;
	return delay;
}
