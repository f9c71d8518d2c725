# A catalog statement's plan, made again when the statistics change, is
# made with the settings of its first one (src/catalog/catalog.c,
# catalog_run).
#
# The statements that find their rows by key are planned with sequential
# scans off, and their generic plans are kept.  The plan cache makes a
# plan again inside SPI when an invalidation arrives while the statement
# takes its locks; that plan used to be made without the settings and, on
# a small table, read the whole table at every call until the next
# ANALYZE: a purge of a few workflows scanned all of workflow_states (a
# regression test failed on it once), and a worker's claims could do the
# same for hours.  Here the invalidation arrives at that moment for sure:
# a session's read of a workflow waits inside its statement for
# workflow_states' lock, which another session holds while it adds a
# workflow and analyzes the table, and gets it when that session commits.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

# no autovacuum: only the test's ANALYZEs change the statistics
my $node = mycelium_node('replan', 'autovacuum = off');
my $wf = $node->safe_psql('postgres', q{SELECT mycelium.create_workflow('[]')});
$node->safe_psql('postgres', 'ANALYZE mycelium.workflow_states');

# whether the session of pid PID waits for a lock of the given type
sub waits_for
{
	my ($pid, $locktype) = @_;
	$node->poll_query_until('postgres', qq{
		SELECT EXISTS (SELECT 1 FROM pg_locks
		 WHERE pid = $pid AND NOT granted AND locktype = '$locktype')});
}

# the sequential scans of workflow_states, as the statistics collector has them
sub seq_scans
{
	return $node->safe_psql('postgres', q{
		SELECT seq_scan FROM pg_stat_user_tables
		 WHERE relid = 'mycelium.workflow_states'::regclass});
}
my $before = seq_scans();

# the reader reads once: its plan is made and kept
my $reader = $node->background_psql('postgres');
my $reader_pid = $reader->query_safe('SELECT pg_backend_pid()');
is($reader->query_safe("SELECT mycelium.get_workflow('$wf') IS NOT NULL"), 't',
	'the reader reads the workflow');

# the holder takes the table; the reader's second read, its plan still
# valid, waits for the table inside its statement
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN; LOCK TABLE mycelium.workflow_states IN ACCESS EXCLUSIVE MODE');
$reader->query_until(qr/reading again/,
	"\\echo reading again\nSELECT mycelium.get_workflow('$wf') IS NOT NULL;\n");
ok(waits_for($reader_pid, 'relation'), "the reader's second read waits for workflow_states");

# meanwhile the table's statistics change, and the plan with them
$holder->query_safe(q{SELECT mycelium.create_workflow('[]') IS NOT NULL;
	ANALYZE mycelium.workflow_states;
	COMMIT});
is($reader->query_safe('SELECT 1'), "t\n1", 'the second read ends and reads the workflow');
$_->quit for ($holder, $reader);

# the sessions' backends report what they scanned when they exit
$node->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM pg_stat_activity
	 WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()})
  or die 'the sessions did not end';
is(seq_scans() - $before, 0,
	'the read planned again after the ANALYZE did not scan workflow_states');

$node->stop;
done_testing();
