/*-------------------------------------------------------------------------
 *
 * ctx.h
 *		The execution context (ctx) of an attempt (SPEC 2): what a
 *		function executor is called with and an external agent's claim
 *		returns.
 *
 * A statement that hands out attempts selects MC_CTX_COLUMNS of its task
 * row t, over the lateral joins MC_CTX_JOINS adds to its FROM: the
 * workflow's context and variables (ws) and the handoff messages to the
 * task's agent (hs); t's attempt column must be the attempt's number.
 * The dependencies' results are read for all the rows at once, by
 * mc_ctx_dependencies, and mc_ctx_from_row builds the document of a row
 * from its columns and those results.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_CTX_H
#define MC_CTX_H

#include "utils/jsonb.h"

#define MC_CTX_COLUMNS(t) \
	t ".workflow_id, " t ".attempt, ws.context, ws.variables, " \
	t ".task_id, " t ".agent_id, " t ".agent_type, " t ".dependencies, " \
	t ".max_attempts, " t ".initial_delay, " t ".max_delay, " t ".exponential_base, " \
	t ".timeout, " t ".allow_failure, " t ".input, " t ".metadata, " \
	"hs.messages "
#define MC_CTX_NCOLUMNS 17

#define MC_CTX_JOINS(t) \
	"CROSS JOIN LATERAL (" \
	"  SELECT s.context, s.variables FROM mycelium.workflow_states s " \
	"  WHERE s.workflow_id = " t ".workflow_id OFFSET 0) ws " \
	"LEFT JOIN LATERAL (" \
	"  SELECT pg_catalog.jsonb_agg(m.message ORDER BY m.seq) AS messages " \
	"  FROM mycelium.handoffs m WHERE m.workflow_id = " t ".workflow_id " \
	"    AND m.target_agent_id = " t ".agent_id AND m.target_agent_type = " t ".agent_type) hs ON true "

/* the dependencies of the attempts in the rows of one statement (ctx.c) */
typedef struct McCtxDependencies McCtxDependencies;

extern McCtxDependencies *mc_ctx_dependencies(uint64 rows, int col);
extern Jsonb *mc_ctx_from_row(uint64 row, int col, McCtxDependencies *deps);

#endif							/* MC_CTX_H */
