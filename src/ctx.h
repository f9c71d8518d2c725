/*-------------------------------------------------------------------------
 *
 * ctx.h
 *		The execution context (ctx) of an attempt (SPEC 2): what a
 *		function executor is called with and an external agent's claim
 *		returns.
 *
 * A statement that hands out attempts selects MC_CTX_COLUMNS of its task
 * row t, over the lateral joins MC_CTX_JOINS adds to its FROM: the
 * workflow's context and variables (ws), the dependencies' results (p)
 * and the handoff messages to the task's agent (hs); t's attempt column
 * must be the attempt's number.  mc_ctx_from_row builds the document from
 * those columns of a result row.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_CTX_H
#define MC_CTX_H

#include "utils/jsonb.h"

#define MC_CTX_COLUMNS(t) \
	t ".workflow_id, " t ".attempt, ws.context, ws.variables, " \
	t ".task_id, " t ".agent_id, " t ".agent_type, p.ids, " \
	t ".max_attempts, " t ".initial_delay, " t ".max_delay, " t ".exponential_base, " \
	t ".timeout, " t ".allow_failure, " t ".input, " t ".metadata, " \
	"p.results, hs.messages "
#define MC_CTX_NCOLUMNS 18

#define MC_CTX_JOINS(t) \
	"CROSS JOIN LATERAL (" \
	"  SELECT s.context, s.variables FROM mycelium.workflow_states s " \
	"  WHERE s.workflow_id = " t ".workflow_id OFFSET 0) ws " \
	"LEFT JOIN LATERAL (" \
	"  SELECT pg_catalog.jsonb_agg(d.task_id ORDER BY d.task_no) AS ids, " \
	"    pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(" \
	"      'task_id', d.task_id, 'agent_id', d.agent_id, 'agent_type', d.agent_type," \
	"      'status', d.status, 'result', d.result, 'error', d.error) " \
	"      ORDER BY d.task_no) AS results " \
	"  FROM mycelium.task_states d " \
	"  WHERE " t ".dependencies IS NOT NULL AND d.workflow_id = " t ".workflow_id " \
	"    AND d.task_no = ANY (" t ".dependencies)) p ON true " \
	"LEFT JOIN LATERAL (" \
	"  SELECT pg_catalog.jsonb_agg(m.message ORDER BY m.seq) AS messages " \
	"  FROM mycelium.handoffs m WHERE m.workflow_id = " t ".workflow_id " \
	"    AND m.target_agent_id = " t ".agent_id AND m.target_agent_type = " t ".agent_type) hs ON true "

extern Jsonb *mc_ctx_from_row(uint64 row, int col);

#endif							/* MC_CTX_H */
