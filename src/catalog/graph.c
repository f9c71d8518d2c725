/*-------------------------------------------------------------------------
 *
 * graph.c
 *		Pictures of workflows: workflow_graph(id, format) draws the task
 *		graph as a Mermaid flowchart or a Graphviz DOT digraph, nodes
 *		coloured by status and edges for dependencies, or the task runs
 *		(every attempt, from the history) as a Mermaid gantt chart.
 *
 * The output depends only on the workflow's state: nodes and edges come
 * in task number order.  Node names are t1, t2, ... (task numbers), never
 * user text; labels are escaped for their language, so no task id can
 * break out of its label (DOT: backslash escapes inside a quoted string;
 * Mermaid: every ASCII character but letters, digits and spaces as a
 * numeric entity, #35; for "#"; the flowchart's title is a YAML quoted
 * string).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/uuid.h"

#include "api_workflow.h"
#include "catalog.h"
#include "mycelium.h"
#include "mycelium_errcodes.h"
#include "state.h"
#include "taskdef.h"

PG_FUNCTION_INFO_V1(mc_workflow_graph);

/* fill colours by task status, in the order of McTaskStatus */
static const char *const status_fill[MC_TASK_NSTATUS] = {
	"#e9ecef",					/* pending */
	"#fff3bf",					/* ready */
	"#a5d8ff",					/* running */
	"#b2f2bb",					/* completed */
	"#ffc9c9",					/* failed */
	"#f8f9fa",					/* skipped */
	"#ced4da"					/* cancelled */
};

typedef enum GraphFormat
{
	GRAPH_MERMAID,
	GRAPH_DOT,
	GRAPH_GANTT
} GraphFormat;

/* one task as the pictures need it */
typedef struct GraphTask
{
	int32		task_no;
	char	   *task_id;
	McTaskStatus status;
	int32		attempt;
	int			ndeps;
	int32	   *deps;
} GraphTask;

/* the columns of read_tasks' statement */
enum
{
	TASK_NO = 1,
	TASK_ID,
	TASK_STATUS,
	TASK_ATTEMPT,
	TASK_DEPENDENCIES
};

/* the columns of draw_gantt's statement: one attempt each */
enum
{
	RUN_TASK_ID = 1,
	RUN_ATTEMPT,
	RUN_OUTCOME,
	RUN_STARTED_AT,
	RUN_FINISHED_AT
};

/*
 * append_escaped
 *		Appends text as the inside of a double-quoted string of DOT or
 *		YAML (the title in a Mermaid diagram's front matter): quote and
 *		backslash escaped, control characters as spaces (names never have
 *		them, but errors might).
 */
static void
append_escaped(StringInfo buf, const char *text)
{
	const char *p;

	for (p = text; *p; p++)
	{
		if (*p == '"' || *p == '\\')
			appendStringInfoChar(buf, '\\');
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
			appendStringInfoChar(buf, ' ');
		else
			appendStringInfoChar(buf, *p);
	}
}

/*
 * append_mermaid_text
 *		Appends text for a Mermaid label: ASCII letters, digits, spaces and
 *		non-ASCII characters as they are, every other character as a
 *		numeric entity (#34; for a quote), so it cannot end the label or
 *		start markup.
 */
static void
append_mermaid_text(StringInfo buf, const char *text)
{
	const char *p;

	for (p = text; *p; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (c >= 0x80 || c == ' ' || (c >= '0' && c <= '9') ||
			(c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
			appendStringInfoChar(buf, *p);
		else if (c < 0x20 || c == 0x7f)
			appendStringInfoChar(buf, ' ');
		else
			appendStringInfo(buf, "#%d;", c);
	}
}

/*
 * status_line
 *		The second line of a task's label: its status, and its attempts
 *		when there was more than one.
 */
static char *
status_line(GraphTask *t)
{
	if (t->attempt > 1)
		return psprintf("%s, %d attempts", mc_task_status_names[t->status], t->attempt);
	return pstrdup(mc_task_status_names[t->status]);
}

/*
 * read_tasks
 *		The workflow's tasks in task number order, copied out of SPI.
 */
static GraphTask *
read_tasks(pg_uuid_t *id, int *ntasks)
{
	static const Oid argtypes[] = {UUIDOID};
	Datum		values[1];
	GraphTask  *tasks;
	uint64		rows;
	uint64		r;

	values[0] = UUIDPGetDatum(id);
	rows = mc_catalog_run(MC_PLAN_GRAPH_TASKS,
						  "SELECT task_no, task_id, status::pg_catalog.text, attempt, dependencies "
						  "FROM mycelium.task_states WHERE workflow_id = $1 ORDER BY task_no",
						  1, argtypes, values, NULL, 0);
	tasks = palloc0(sizeof(GraphTask) * Max(rows, 1));
	for (r = 0; r < rows; r++)
	{
		GraphTask  *t = &tasks[r];
		bool		isnull;
		Datum		deps;

		t->task_no = DatumGetInt32(mc_catalog_value(r, TASK_NO, &isnull));
		t->task_id = mc_catalog_text(r, TASK_ID);
		t->status = mc_task_status_from_name(mc_catalog_text(r, TASK_STATUS));
		t->attempt = DatumGetInt32(mc_catalog_value(r, TASK_ATTEMPT, &isnull));
		deps = mc_catalog_value(r, TASK_DEPENDENCIES, &isnull);
		if (!isnull)
		{
			t->deps = mc_catalog_int4_elems(DatumGetArrayTypePCopy(deps), &t->ndeps);
		}
	}
	*ntasks = (int) rows;
	return tasks;
}

/*
 * draw_mermaid
 *		A Mermaid flowchart: one class per status, one node per task, an
 *		edge from each dependency to its dependent.
 */
static void
draw_mermaid(StringInfo buf, const char *title, GraphTask *tasks, int ntasks)
{
	int			i;
	int			d;

	appendStringInfoString(buf, "---\ntitle: \"");
	append_escaped(buf, title);
	appendStringInfoString(buf, "\"\n---\nflowchart TD\n");
	for (i = 0; i < MC_TASK_NSTATUS; i++)
		appendStringInfo(buf, "    classDef %s fill:%s,stroke:#495057,color:#212529%s\n",
						 mc_task_status_names[i], status_fill[i],
						 i == MC_TASK_SKIPPED ? ",stroke-dasharray:4 3" : "");
	for (i = 0; i < ntasks; i++)
	{
		appendStringInfo(buf, "    t%d[\"", tasks[i].task_no);
		append_mermaid_text(buf, tasks[i].task_id);
		appendStringInfoString(buf, "<br/>");
		append_mermaid_text(buf, status_line(&tasks[i]));
		appendStringInfo(buf, "\"]:::%s\n", mc_task_status_names[tasks[i].status]);
	}
	for (i = 0; i < ntasks; i++)
		for (d = 0; d < tasks[i].ndeps; d++)
			appendStringInfo(buf, "    t%d --> t%d\n", tasks[i].deps[d], tasks[i].task_no);
}

/*
 * draw_dot
 *		A Graphviz digraph: filled boxes coloured by status, an edge from
 *		each dependency to its dependent.
 */
static void
draw_dot(StringInfo buf, const char *title, GraphTask *tasks, int ntasks)
{
	int			i;
	int			d;

	appendStringInfoString(buf, "digraph workflow {\n"
						   "    graph [rankdir=LR, labelloc=t, fontname=\"Helvetica\", label=\"");
	append_escaped(buf, title);
	appendStringInfoString(buf, "\"];\n"
						   "    node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", color=\"#495057\"];\n"
						   "    edge [color=\"#495057\"];\n");
	for (i = 0; i < ntasks; i++)
	{
		appendStringInfo(buf, "    t%d [label=\"", tasks[i].task_no);
		append_escaped(buf, tasks[i].task_id);
		appendStringInfoString(buf, "\\n");
		append_escaped(buf, status_line(&tasks[i]));
		appendStringInfo(buf, "\", fillcolor=\"%s\"%s];\n", status_fill[tasks[i].status],
						 tasks[i].status == MC_TASK_SKIPPED ? ", style=\"rounded,filled,dashed\"" : "");
	}
	for (i = 0; i < ntasks; i++)
		for (d = 0; d < tasks[i].ndeps; d++)
			appendStringInfo(buf, "    t%d -> t%d;\n", tasks[i].deps[d], tasks[i].task_no);
	appendStringInfoString(buf, "}\n");
}

/*
 * draw_gantt
 *		A Mermaid gantt chart of the task runs: a section per task (in task
 *		number order) and a bar per attempt, from its dispatch to its
 *		outcome (now, for one still running), tagged done, crit (failed)
 *		or active (running).
 */
static void
draw_gantt(StringInfo buf, const char *title, pg_uuid_t *id)
{
	static const Oid argtypes[] = {UUIDOID};
	Datum		values[1];
	uint64		rows;
	uint64		r;
	char	   *section = NULL;

	values[0] = UUIDPGetDatum(id);
	rows = mc_catalog_run(MC_PLAN_GRAPH_RUNS,
						  "SELECT r.task_id, r.attempt, r.outcome, "
						  "  pg_catalog.to_char(r.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS'), "
						  "  pg_catalog.to_char(COALESCE(r.finished_at, pg_catalog.now()) AT TIME ZONE 'UTC', "
						  "    'YYYY-MM-DD\"T\"HH24:MI:SS.MS') "
						  "FROM mycelium.workflow_timeline($1) WITH ORDINALITY AS r(task_id, attempt, outcome, "
						  "  started_at, finished_at, duration, error, execution_time, error_detail, n) "
						  "ORDER BY r.n",
						  1, argtypes, values, NULL, 0);

	appendStringInfoString(buf, "gantt\n    title ");
	append_mermaid_text(buf, title);
	appendStringInfoString(buf, "\n    dateFormat YYYY-MM-DDTHH:mm:ss.SSS\n"
						   "    axisFormat %H:%M:%S\n");
	for (r = 0; r < rows; r++)
	{
		bool		isnull;
		int32		attempt = DatumGetInt32(mc_catalog_value(r, RUN_ATTEMPT, &isnull));
		char	   *outcome = mc_catalog_text(r, RUN_OUTCOME);
		char	   *task_id = mc_catalog_text(r, RUN_TASK_ID);
		const char *tag;

		/* rows come task by task */
		if (section == NULL || strcmp(task_id, section) != 0)
		{
			appendStringInfoString(buf, "    section ");
			append_mermaid_text(buf, task_id);
			appendStringInfoChar(buf, '\n');
			section = task_id;
		}
		if (strcmp(outcome, "completed") == 0)
			tag = "done, ";
		else if (strcmp(outcome, "running") == 0)
			tag = "active, ";
		else if (strcmp(outcome, "failed") == 0 || strcmp(outcome, "retried") == 0)
			tag = "crit, ";
		else
			tag = "";
		appendStringInfo(buf, "    attempt %d ", attempt);
		append_mermaid_text(buf, outcome);
		appendStringInfo(buf, " :%srun%d, %s, %s\n", tag, (int) r + 1,
						 mc_catalog_text(r, RUN_STARTED_AT), mc_catalog_text(r, RUN_FINISHED_AT));
	}
}

/*
 * mc_workflow_graph
 *		workflow_graph(id, format): the workflow as 'mermaid' (flowchart),
 *		'dot' (Graphviz) or 'gantt' (Mermaid gantt chart of its task runs).
 */
Datum
mc_workflow_graph(PG_FUNCTION_ARGS)
{
	static const Oid argtypes[] = {UUIDOID, REGROLEOID, BOOLOID};
	McCatalogSession session;
	pg_uuid_t  *id;
	char	   *format;
	GraphFormat fmt;
	Datum		values[3];
	char	   *title;
	GraphTask  *tasks;
	int			ntasks;
	StringInfoData buf;
	MemoryContext cxt = CurrentMemoryContext;
	MemoryContext old;

	mc_require_arg(fcinfo, 0, "workflow_id");
	mc_require_arg(fcinfo, 1, "format");
	id = PG_GETARG_UUID_P(0);
	format = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (strcmp(format, "mermaid") == 0)
		fmt = GRAPH_MERMAID;
	else if (strcmp(format, "dot") == 0)
		fmt = GRAPH_DOT;
	else if (strcmp(format, "gantt") == 0)
		fmt = GRAPH_GANTT;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown graph format \"%s\"", format),
				 errhint("The formats are mermaid, dot and gantt.")));

	mc_catalog_open(&session);
	values[0] = UUIDPGetDatum(id);
	values[1] = ObjectIdGetDatum(session.caller);
	values[2] = BoolGetDatum(session.caller_is_admin);
	if (mc_catalog_run(MC_PLAN_GRAPH_WORKFLOW,
					   "SELECT COALESCE(name, 'workflow ' OPERATOR(pg_catalog.||) workflow_id::pg_catalog.text) "
					   "  OPERATOR(pg_catalog.||) ' (' OPERATOR(pg_catalog.||) status::pg_catalog.text "
					   "  OPERATOR(pg_catalog.||) ')' "
					   "FROM mycelium.workflow_states "
					   "WHERE workflow_id = $1 AND (owner = $2 OR $3)",
					   3, argtypes, values, NULL, 1) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_MC_STATE),
				 errmsg("workflow %s does not exist",
						DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(id))))));
	title = mc_catalog_text(0, MC_ONLY_COLUMN);

	/* the picture outlives the catalog session: build it in our context */
	old = MemoryContextSwitchTo(cxt);
	initStringInfo(&buf);
	MemoryContextSwitchTo(old);
	if (fmt == GRAPH_GANTT)
		draw_gantt(&buf, title, id);
	else
	{
		tasks = read_tasks(id, &ntasks);
		if (fmt == GRAPH_MERMAID)
			draw_mermaid(&buf, title, tasks, ntasks);
		else
			draw_dot(&buf, title, tasks, ntasks);
	}
	mc_catalog_close(&session);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}
