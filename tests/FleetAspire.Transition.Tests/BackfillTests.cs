using FleetAspire.Data.MachineTransition.Backfill;
using Npgsql;

namespace FleetAspire.Transition.Tests;

public sealed class BackfillTests
{
    /// <summary>A legacy fleet with one row of every kind, clean and dirty.</summary>
    internal const string LegacyFleet = """
        INSERT INTO parked_machines (id, machine_id, machine_name, ipv4, status, shared_key, created_at, updated_at) VALUES
            ('pm_ready', '1001', 'pool-1', '10.1.0.1', 'ready', 'k-1001', now(), now()),
            ('pm_launching', '1002', 'pool-2', '10.1.0.2', 'launching', 'k-1002', now(), now()),
            ('pm_inflight', NULL, 'pool-3', NULL, 'launching', 'k-x', now(), now()),
            ('pm_badip', '1003', 'pool-4', '10.1.0.999', 'ready', 'k-1003', now(), now());
        INSERT INTO agents (id, name, user_id, status, created_at, updated_at, machine_id, machine_ipv4, machine_shared_key, machine_type) VALUES
            ('agt_pool', 'a', 'alice', 'active', now(), now(), '2001', '10.2.0.1', 'k-2001', 'hetzner'),
            ('agt_idle', 'b', 'alice', 'idle', now(), now(), NULL, NULL, NULL, NULL),
            ('agt_custom', 'c', 'bob', 'active', now(), now(), 'cm_good', '192.0.2.10', 'ck-good-0123456789', 'custom'),
            ('agt_notype', 'd', 'carol', 'active', now(), now(), '2002', '10.2.0.2', 'k-2002', NULL),
            ('agt_dup1', 'e', 'dave', 'active', now(), now(), '2003', '10.2.0.3', 'k-2003', 'hetzner'),
            ('agt_dup2', 'f', 'erin', 'active', now(), now(), '2003', '10.2.0.4', 'k-2003', 'hetzner'),
            ('agt_differs', 'g', 'bob', 'active', now(), now(), 'cm_other', '192.0.2.99', 'wrong', 'custom');
        INSERT INTO custom_machines (id, ipv4, port, shared_key, user_id, current_agent_id, os, created_at, updated_at) VALUES
            ('cm_good', '192.0.2.10', 2222, 'ck-good-0123456789', 'bob', 'agt_custom', 'linux', now(), now()),
            ('cm_free', '192.0.2.11', 8911, 'ck-free-0123456789', 'bob', NULL, NULL, now(), now()),
            ('cm_dangling', '192.0.2.12', 8911, 'ck-dang-0123456789', 'bob', 'agt_gone', NULL, now(), now()),
            ('cm_differs', '192.0.2.13', 8911, 'ck-diff-0123456789', 'bob', 'agt_differs', NULL, now(), now());
        INSERT INTO machine_snapshots (id, machine_id, status, created_at, user_id, is_final) VALUES
            ('snap_pool', '2001', 'available', now(), 'alice', false),
            ('snap_custom', 'cm_good', 'available', now(), 'bob', false),
            ('snap_orphan', 'nothing', 'available', now(), 'alice', false);
        INSERT INTO machine_health_checks (agent_id, machine_id, outcome, checked_at) VALUES
            ('agt_pool', '2001', 'healthy', now()), ('agt_pool', 'nothing', 'healthy', now());
        """;

    private static async Task<(string Database, MachineBackfill Backfill, NpgsqlDataSource Source)> SeededAsync(string hint, int batchSize = 2)
    {
        var database = await (await TestPostgres.GetAsync()).CreateDatabaseAsync(hint);
        await Sql.ExecuteAsync(database, LegacyFleet);
        var source = NpgsqlDataSource.Create(database);
        return (database, new MachineBackfill(source, new BackfillOptions { BatchSize = batchSize, Pause = TimeSpan.Zero }), source);
    }

    private static async Task<BackfillProgress> RunToEndAsync(MachineBackfill backfill)
    {
        await backfill.StartAsync(CancellationToken.None);
        return await backfill.RunAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Every_legacy_kind_is_represented_with_the_derived_id_and_linked()
    {
        var (database, backfill, source) = await SeededAsync("bfmap");
        await using var _ = source;

        var progress = await RunToEndAsync(backfill);

        Assert.Equal(BackfillStates.Done, progress.State);
        async Task<long> Count(string sql) => await Sql.ScalarAsync(database, sql);
        Assert.Equal(1, await Count("SELECT count(*) FROM machines WHERE id = 'mh_1001' AND type = 'hetzner' AND status = 'ready' AND name = 'pool-1' AND legacy_id = '1001'"));
        Assert.Equal(1, await Count("SELECT count(*) FROM machines WHERE id = 'mh_1002' AND status = 'launching'"));
        Assert.Equal(1, await Count("SELECT count(*) FROM machines WHERE id = 'mh_2001' AND status = 'in_use' AND ipv4 = '10.2.0.1' AND shared_key = 'k-2001'"));
        Assert.Equal(1, await Count("SELECT count(*) FROM agents WHERE id = 'agt_pool' AND machine_ref = 'mh_2001'"));
        Assert.Equal(1, await Count("SELECT count(*) FROM machines WHERE id = 'mc_cm_good' AND type = 'custom' AND user_id = 'bob' AND port = 2222 AND os = 'linux' AND status = 'in_use'"));
        Assert.Equal(1, await Count("SELECT count(*) FROM agents WHERE id = 'agt_custom' AND machine_ref = 'mc_cm_good'"));
        Assert.Equal(1, await Count("SELECT count(*) FROM machines WHERE id = 'mc_cm_free' AND status = 'offline'"));
        Assert.Equal(1, await Count("SELECT count(*) FROM machine_snapshots WHERE id = 'snap_pool' AND machine_ref = 'mh_2001'"));
        Assert.Equal(1, await Count("SELECT count(*) FROM machine_snapshots WHERE id = 'snap_custom' AND machine_ref = 'mc_cm_good'"));
        Assert.Equal(1, await Count("SELECT count(*) FROM machine_health_checks WHERE machine_id = '2001' AND machine_ref = 'mh_2001'"));
        Assert.Equal(0, await Count("SELECT count(*) FROM machines WHERE legacy_id IS NULL OR id NOT IN (SELECT fleet_machine_id(type, legacy_id))"));
    }

    [Fact]
    public async Task Dirty_rows_are_reported_by_class_and_never_guessed_at()
    {
        var (database, backfill, source) = await SeededAsync("bfdirty");
        await using var _ = source;

        await RunToEndAsync(backfill);

        async Task<long> Dirty(string cls, string entity, string id) => await Sql.ScalarAsync(database,
            $"SELECT count(*) FROM migration_dirty_rows WHERE class = '{cls}' AND entity = '{entity}' AND entity_id = '{id}' AND resolved_at IS NULL");
        Assert.Equal(1, await Dirty("invalid-ipv4", "parked_machines", "pm_badip"));
        Assert.Equal(1, await Dirty("missing-type", "agents", "agt_notype"));
        Assert.Equal(1, await Dirty("duplicate-provider-id", "agents", "agt_dup1"));
        Assert.Equal(1, await Dirty("duplicate-provider-id", "agents", "agt_dup2"));
        Assert.Equal(1, await Dirty("dangling-current-agent", "custom_machines", "cm_dangling"));
        Assert.Equal(1, await Dirty("agent-fields-differ", "custom_machines", "cm_differs"));
        Assert.Equal(1, await Dirty("orphan-snapshot", "machine_snapshots", "snap_orphan"));
        Assert.Equal(1, await Sql.ScalarAsync(database, "SELECT count(*) FROM migration_dirty_rows WHERE class = 'orphan-health-check'"));
        // Quarantined, not half-migrated: no machine for a bad address, no relation for contested or inconsistent holders.
        Assert.Equal(0, await Sql.ScalarAsync(database, "SELECT count(*) FROM machines WHERE id IN ('mh_1003', 'mh_2003', 'mh_2002')"));
        Assert.Equal(0, await Sql.ScalarAsync(database, "SELECT count(*) FROM agents WHERE id IN ('agt_dup1', 'agt_dup2', 'agt_differs', 'agt_notype') AND machine_ref IS NOT NULL"));
        // The in-flight pool row (no provider id yet) is not copied, and reported like every row left out; its provider id
        // arriving closes the report (below).
        Assert.Equal(1, await Dirty("pending-provision", "parked_machines", "pm_inflight"));

        // Fixed at the source, a row leaves quarantine the next time it is copied, and is migrated.
        await Sql.ExecuteAsync(database, "UPDATE agents SET machine_type = 'hetzner' WHERE id = 'agt_notype'");
        await Sql.ExecuteAsync(database, "UPDATE parked_machines SET machine_id = '1004', ipv4 = '10.1.0.4' WHERE id = 'pm_inflight'");
        await RunToEndAsync(backfill);
        Assert.Equal(0, await Dirty("missing-type", "agents", "agt_notype"));
        Assert.Equal(0, await Dirty("pending-provision", "parked_machines", "pm_inflight"));
        Assert.Equal(1, await Sql.ScalarAsync(database, "SELECT count(*) FROM machines WHERE id = 'mh_1004'"));
        Assert.Equal(1, await Sql.ScalarAsync(database, "SELECT count(*) FROM agents WHERE id = 'agt_notype' AND machine_ref = 'mh_2002'"));
        Assert.Equal(1, await Dirty("duplicate-provider-id", "agents", "agt_dup1"));
    }

    [Fact]
    public async Task Running_twice_or_twice_at_once_gives_the_same_rows()
    {
        var (database, backfill, source) = await SeededAsync("bfidem");
        await using var _ = source;
        await RunToEndAsync(backfill);
        var first = await FingerprintAsync(database);

        await RunToEndAsync(backfill);
        await backfill.StartAsync(CancellationToken.None);
        await Task.WhenAll(backfill.RunAsync(CancellationToken.None), backfill.RunAsync(CancellationToken.None));
        await backfill.RunAsync(CancellationToken.None);

        Assert.Equal(first, await FingerprintAsync(database));
        Assert.Equal(BackfillStates.Done, (await backfill.ProgressAsync(CancellationToken.None)).State);
    }

    [Fact]
    public async Task A_run_killed_mid_batch_resumes_from_its_checkpoint_to_the_same_result()
    {
        var (reference, referenceBackfill, referenceSource) = await SeededAsync("bfref");
        await using var r = referenceSource;
        await RunToEndAsync(referenceBackfill);
        var (database, backfill, source) = await SeededAsync("bfresume", batchSize: 1);
        await using var _ = source;
        await backfill.StartAsync(CancellationToken.None);

        // Cancel at increasing points until a run gets through: each interrupted run stops wherever it is.
        var interruptions = 0;
        for (var afterMs = 1; (await backfill.ProgressAsync(CancellationToken.None)).State != BackfillStates.Done; afterMs *= 2)
        {
            using var kill = new CancellationTokenSource(TimeSpan.FromMilliseconds(afterMs));
            try
            {
                await backfill.RunAsync(kill.Token);
            }
            catch (OperationCanceledException)
            {
                interruptions++;
            }
        }

        Assert.True(interruptions > 0, "no run was interrupted");
        Assert.Equal(await FingerprintAsync(reference), await FingerprintAsync(database));
    }

    [Fact]
    public async Task Pause_stops_a_run_and_resume_finishes_it()
    {
        var (_, backfill, source) = await SeededAsync("bfpause", batchSize: 1);
        await using var __ = source;
        await backfill.StartAsync(CancellationToken.None);
        await backfill.PauseAsync(CancellationToken.None);

        var paused = await backfill.RunAsync(CancellationToken.None);
        await backfill.ResumeAsync(CancellationToken.None);
        var done = await backfill.RunAsync(CancellationToken.None);

        Assert.Equal(BackfillStates.Paused, paused.State);
        Assert.Equal(BackfillStates.Done, done.State);
        Assert.True(done.RowsDone >= done.RowsTotal - 1, $"{done.RowsDone} of {done.RowsTotal}");
    }

    [Fact]
    public async Task Concurrent_legacy_inserts_updates_and_deletes_during_the_backfill_are_all_reflected()
    {
        var database = await (await TestPostgres.GetAsync()).CreateDatabaseAsync("bfconcurrent");
        await Sql.ExecuteAsync(database, """
            INSERT INTO parked_machines (id, machine_id, machine_name, ipv4, status, shared_key, created_at, updated_at)
            SELECT 'pm_' || i, (100000 + i)::text, 'p' || i, '10.9.' || (i / 250) || '.' || (i % 250), 'ready', 'k' || i, now(), now()
            FROM generate_series(1, 3000) i;
            INSERT INTO agents (id, name, user_id, status, created_at, updated_at)
            SELECT 'agt_' || i, 'a' || i, 'u', 'idle', now(), now() FROM generate_series(1, 3000) i;
            INSERT INTO custom_machines (id, ipv4, port, shared_key, user_id, created_at, updated_at)
            SELECT 'cm_' || i, '172.16.' || (i / 250) || '.' || (i % 250), 22, 'ck-0123456789-' || i, 'u', now(), now()
            FROM generate_series(1, 1000) i;
            """);
        await using var source = NpgsqlDataSource.Create(database);
        var backfill = new MachineBackfill(source, new BackfillOptions { BatchSize = 100, Pause = TimeSpan.FromMilliseconds(2) });
        await backfill.StartAsync(CancellationToken.None);
        using var stop = new CancellationTokenSource();

        // Old code at work: claims (pool row deleted, agent updated), releases, custom edits and deletes, new pool rows.
        var writer = Task.Run(async () =>
        {
            await using var connection = await source.OpenConnectionAsync();
            for (var i = 1; !stop.IsCancellationRequested && i <= 1500; i++)
            {
                await using var command = new NpgsqlCommand($"""
                    BEGIN;
                    WITH p AS (DELETE FROM parked_machines WHERE id = 'pm_{i}' RETURNING machine_id, ipv4, shared_key)
                    UPDATE agents SET machine_id = p.machine_id, machine_ipv4 = p.ipv4, machine_shared_key = p.shared_key,
                        machine_type = 'hetzner', status = 'active' FROM p WHERE agents.id = 'agt_{i}';
                    UPDATE agents SET machine_id = NULL, machine_ipv4 = NULL, machine_shared_key = NULL, machine_type = NULL, status = 'idle'
                        WHERE id = 'agt_{i / 2}' AND {i} % 2 = 0;
                    UPDATE custom_machines SET ipv4 = '172.31.{i % 250}.{i / 250}' WHERE id = 'cm_{i % 1000 + 1}';
                    DELETE FROM custom_machines WHERE id = 'cm_{i % 1000 + 1}' AND {i} % 7 = 0;
                    INSERT INTO parked_machines (id, machine_id, machine_name, ipv4, status, shared_key, created_at, updated_at)
                        VALUES ('pm_new_{i}', '{900000 + i}', 'n', '10.8.{i % 250}.{i / 250}', 'ready', 'kn{i}', now(), now());
                    COMMIT;
                    """, connection);
                await command.ExecuteNonQueryAsync();
            }
        });

        var run = backfill.RunAsync(CancellationToken.None);
        await writer;
        await stop.CancelAsync();
        await run;
        // The run may have drained the log before the writer's last commits (it finishes whenever it catches up):
        // its catch-up, reopened, applies the rest from where it stopped.
        await backfill.CatchUpAgainAsync(CancellationToken.None);
        var progress = await backfill.RunAsync(CancellationToken.None);

        Assert.Equal(BackfillStates.Done, progress.State);
        // Every legacy source has exactly its machine, with its current fields; no machine without a source.
        Assert.Equal(0, await Sql.ScalarAsync(database, """
            SELECT count(*) FROM (
                SELECT fleet_machine_id('hetzner', machine_id) AS id, ipv4, shared_key FROM parked_machines
                UNION ALL SELECT fleet_machine_id('hetzner', machine_id), machine_ipv4, machine_shared_key FROM agents WHERE machine_type = 'hetzner'
                UNION ALL SELECT fleet_machine_id('custom', id), ipv4, shared_key FROM custom_machines) legacy
            FULL JOIN machines m USING (id)
            WHERE m.id IS NULL OR legacy.id IS NULL OR m.ipv4 IS DISTINCT FROM legacy.ipv4 OR m.shared_key IS DISTINCT FROM legacy.shared_key
            """));
        Assert.Equal(0, await Sql.ScalarAsync(database, """
            SELECT count(*) FROM agents
            WHERE machine_ref IS DISTINCT FROM CASE WHEN machine_type = 'hetzner' THEN fleet_machine_id('hetzner', machine_id) END
            """));
    }

    [Fact]
    public async Task A_row_held_by_a_long_writer_stops_only_itself_and_the_run_waits_for_it_instead_of_failing()
    {
        var (database, _, source) = await SeededAsync("bfheldrow");
        await using var _1 = source;
        var backfill = new MachineBackfill(source, new BackfillOptions { BatchSize = 500, Pause = TimeSpan.Zero, LockTimeout = TimeSpan.FromMilliseconds(50) });
        // A writer sits on the third parked machine (ids in order: pm_badip, pm_inflight, pm_launching, pm_ready).
        await using var holder = await source.OpenConnectionAsync();
        await using var hold = await holder.BeginTransactionAsync();
        await using (var take = new NpgsqlCommand("SELECT 1 FROM parked_machines WHERE id = 'pm_launching' FOR UPDATE", holder, hold))
        {
            await take.ExecuteNonQueryAsync();
        }

        await backfill.StartAsync(CancellationToken.None);
        var run = backfill.RunAsync(CancellationToken.None);
        // The batch shrank down to the rows in front of the held one and copied them; the run is still running.
        await Eventually.TrueAsync(async () => await backfill.ProgressAsync(CancellationToken.None) is
            { State: BackfillStates.Running, Step: "parked_machines", RowsDone: 2 }, TimeSpan.FromSeconds(30), "the rows before the held one were not copied");
        Assert.Equal(0, await Sql.ScalarAsync(database, "SELECT count(*) FROM machines WHERE id = 'mh_1002'"));
        // It keeps coming back to the held row, and neither fails nor skips it.
        await Eventually.TrueAsync(async () => await Sql.ScalarAsync(database,
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()") > 0,
            TimeSpan.FromSeconds(30), "the backfill never waited on the held row");
        Assert.False(run.IsCompleted, "the run gave up while a writer held a row");

        await hold.CommitAsync();
        var progress = await run;

        Assert.Equal(BackfillStates.Done, progress.State);
        Assert.Null(progress.Error);
        Assert.Equal(1, await Sql.ScalarAsync(database, "SELECT count(*) FROM machines WHERE id = 'mh_1002'"));
    }

    [Fact]
    public async Task The_catch_up_finishes_while_dual_written_changes_keep_arriving()
    {
        var (database, backfill, source) = await SeededAsync("bfsteadyload", batchSize: 500);
        await using var _ = source;
        await backfill.StartAsync(CancellationToken.None);
        // Old code's write inside the run's window: the catch-up must still copy it.
        await Sql.ExecuteAsync(database, "UPDATE parked_machines SET ipv4 = '10.1.7.7' WHERE id = 'pm_ready'");

        // Heartbeats of services in DualWrite: every one lands in the change log, none needs copying, and they never stop.
        using var stop = new CancellationTokenSource();
        var committed = 0L;
        var writers = Enumerable.Range(0, 3).Select(_ => Task.Run(async () =>
        {
            await using var connection = await source.OpenConnectionAsync();
            while (!stop.IsCancellationRequested)
            {
                await using var command = new NpgsqlCommand($"""
                    BEGIN;
                    SET LOCAL fleet.writer = 'fleetaspire/machines{MachineBackfill.WritesMachineSuffix}';
                    INSERT INTO machine_health_checks (agent_id, machine_id, outcome, checked_at) VALUES ('agt_pool', '2001', 'healthy', now());
                    COMMIT;
                    """, connection);
                await command.ExecuteNonQueryAsync();
                Interlocked.Increment(ref committed);
            }
        })).ToArray();
        try
        {
            await Eventually.TrueAsync(() => Task.FromResult(Interlocked.Read(ref committed) > 200), TimeSpan.FromSeconds(30),
                "the heartbeat writers did not get going");
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            BackfillProgress progress;
            try
            {
                progress = await backfill.RunAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                progress = await backfill.ProgressAsync(CancellationToken.None);
                Assert.Fail($"the run did not finish within 60 s under dual-write load (at {progress.Step}, {Interlocked.Read(ref committed)} heartbeats)");
                throw;
            }

            Assert.Equal(BackfillStates.Done, progress.State);
            // The load was still on when the run finished: it did not wait for a quiet moment.
            var atDone = Interlocked.Read(ref committed);
            await Eventually.TrueAsync(() => Task.FromResult(Interlocked.Read(ref committed) > atDone), TimeSpan.FromSeconds(10),
                "the writers had stopped");
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(writers);
        }

        Assert.Equal(1, await Sql.ScalarAsync(database, "SELECT count(*) FROM machines WHERE id = 'mh_1001' AND ipv4 = '10.1.7.7'"));
    }

    private static async Task<string> FingerprintAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT (SELECT count(*) || ':' || md5(string_agg(id || type || ipv4 || shared_key || status || port || coalesce(user_id, ''), ',' ORDER BY id)) FROM machines)
                || '|' || (SELECT md5(string_agg(id || coalesce(machine_ref, '-'), ',' ORDER BY id)) FROM agents)
                || '|' || (SELECT md5(string_agg(id || coalesce(machine_ref, '-'), ',' ORDER BY id)) FROM machine_snapshots)
                || '|' || (SELECT count(*) || md5(string_agg(class || entity || entity_id, ',' ORDER BY class, entity, entity_id)) FROM migration_dirty_rows)
            """, connection);
        return (string)(await command.ExecuteScalarAsync())!;
    }
}
