using System.Diagnostics;
using FleetAspire.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql;

namespace FleetAspire.Transition.Tests;

public sealed class ExpandMigrationTests
{
    private const string LastLegacyMigration = "Legacy_SnapshotOwnerAndFinal";

    [Fact]
    public async Task The_expand_migrations_apply_to_a_populated_database_while_legacy_writers_run_and_no_writer_waits_long()
    {
        var database = await (await TestPostgres.GetAsync()).CreateEmptyDatabaseAsync("expandlive");
        await MigrateAsync(database, LastLegacyMigration);
        await Sql.ExecuteAsync(database, """
            INSERT INTO agents (id, name, user_id, status, created_at, updated_at, machine_id, machine_ipv4, machine_shared_key, machine_type)
            SELECT 'agt_' || i, 'a' || i, 'u' || (i % 100), 'active', now(), now(), (5000000 + i)::text, '10.0.0.1', md5(i::text), 'hetzner'
            FROM generate_series(1, 50000) i;
            INSERT INTO machine_health_checks (agent_id, machine_id, outcome, checked_at)
            SELECT 'agt_' || i, (5000000 + i)::text, 'healthy', now() FROM generate_series(1, 50000) i;
            INSERT INTO parked_machines (id, machine_id, machine_name, ipv4, status, shared_key, created_at, updated_at)
            SELECT 'pm_' || w || '_' || i, (7000000 + w * 10000 + i)::text, 'p', '10.7.' || w || '.' || (i % 250), 'ready', md5(i::text), now(), now()
            FROM generate_series(0, 3) w, generate_series(0, 4999) i;
            INSERT INTO agents (id, name, user_id, status, created_at, updated_at)
            SELECT 'idle_' || w || '_' || i, 'i', 'u' || w, 'idle', now(), now() FROM generate_series(0, 3) w, generate_series(0, 4999) i;
            """);

        using var stop = new CancellationTokenSource();
        var writes = 0;
        var slowestTicks = 0L;
        var claims = new int[4];
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            await using var connection = new NpgsqlConnection(database);
            await connection.OpenAsync();
            var i = 0;
            while (!stop.IsCancellationRequested && i < 5000)
            {
                var started = Stopwatch.StartNew();
                // Today's code, statement for statement: legacy columns only, with the statement timeout a real
                // client has. A machine update, a claim (the pool row moves onto an idle agent), a health check, a
                // custom machine registration and a snapshot.
                await using var batch = new NpgsqlBatch(connection)
                {
                    BatchCommands =
                    {
                        new("SET statement_timeout = '5s'"),
                        new($"UPDATE agents SET machine_ipv4 = '10.0.{w}.{i % 250}', updated_at = now() WHERE id = 'agt_{(w * 10000) + (i % 10000) + 1}'"),
                        new($"""
                             WITH p AS (DELETE FROM parked_machines WHERE id = 'pm_{w}_{i}' RETURNING machine_id, ipv4, shared_key)
                             UPDATE agents SET machine_id = p.machine_id, machine_ipv4 = p.ipv4, machine_shared_key = p.shared_key,
                                 machine_type = 'hetzner', status = 'active', updated_at = now() FROM p WHERE agents.id = 'idle_{w}_{i}'
                             """),
                        new($"INSERT INTO machine_health_checks (agent_id, machine_id, outcome, checked_at) VALUES ('agt_{i + 1}', '{5000001 + i}', 'healthy', now())"),
                        new($"""
                             INSERT INTO custom_machines (id, ipv4, port, shared_key, user_id, created_at, updated_at)
                             VALUES ('cm_{w}_{i}', '172.{16 + w}.{i / 250}.{i % 250}', 22, 'ck-{w}-{i}-0123456789', 'u{w}', now(), now())
                             """),
                        new($"INSERT INTO machine_snapshots (id, machine_id, status, created_at, user_id, is_final) VALUES ('snap_{w}_{i}', 'cm_{w}_{i}', 'available', now(), 'u{w}', false)"),
                    },
                };
                await using var tx = await connection.BeginTransactionAsync();
                batch.Transaction = tx;
                await batch.ExecuteNonQueryAsync();
                await tx.CommitAsync();
                var elapsed = started.Elapsed.Ticks;
                long seen;
                while (elapsed > (seen = Interlocked.Read(ref slowestTicks)) && Interlocked.CompareExchange(ref slowestTicks, elapsed, seen) != seen)
                {
                }

                Interlocked.Add(ref writes, 5);
                claims[w] = ++i;
            }
        })).ToArray();

        await Eventually.TrueAsync(() => Task.FromResult(Volatile.Read(ref writes) > 100), TimeSpan.FromSeconds(10), "writers did not start");
        var before = Volatile.Read(ref writes);
        await MigrateAsync(database, null);
        var during = Volatile.Read(ref writes) - before;
        await stop.CancelAsync();
        await Task.WhenAll(writers);

        Assert.True(during > 0, "no write went through while the migration ran");
        var slowest = TimeSpan.FromTicks(Interlocked.Read(ref slowestTicks));
        Assert.True(slowest < TimeSpan.FromSeconds(2), $"a writer waited {slowest.TotalMilliseconds:0} ms");
        // Every transaction the writers saw commit is there, whole.
        Assert.Equal(claims.Sum(), await Sql.ScalarAsync(database, "SELECT count(*) FROM agents WHERE id LIKE 'idle_%' AND machine_type = 'hetzner'"));
        Assert.Equal(claims.Sum(), await Sql.ScalarAsync(database, "SELECT count(*) FROM custom_machines"));
        Assert.Equal(claims.Sum(), await Sql.ScalarAsync(database, "SELECT count(*) FROM machine_snapshots"));
        Assert.Equal(20000 - claims.Sum(), await Sql.ScalarAsync(database, "SELECT count(*) FROM parked_machines"));
        Assert.Equal(0, await Sql.ScalarAsync(database, """
            SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE c.relname IN ('ix_agents_machine_ref', 'ix_machine_snapshots_machine_ref', 'ix_machine_health_checks_machine_ref')
              AND NOT (i.indisvalid AND i.indisready)
            """));
        Assert.Equal(3, await Sql.ScalarAsync(database, """
            SELECT count(*) FROM pg_class WHERE relname IN ('ix_agents_machine_ref', 'ix_machine_snapshots_machine_ref', 'ix_machine_health_checks_machine_ref')
            """));
        Assert.Equal(70000, await Sql.ScalarAsync(database, "SELECT count(*) FROM agents"));
    }

    [Fact]
    public async Task An_interrupted_index_build_is_repaired_by_running_the_migrations_again()
    {
        var database = await (await TestPostgres.GetAsync()).CreateEmptyDatabaseAsync("expandrerun");
        await MigrateAsync(database, null);
        // As if the process died mid-migration: one index missing, the migration not recorded as applied.
        await Sql.ExecuteAsync(database, """
            DROP INDEX ix_machine_snapshots_machine_ref;
            DELETE FROM "__EFMigrationsHistory" WHERE migration_id LIKE '%_Expand_IndexMachineRelations';
            """);

        await MigrateAsync(database, null);

        Assert.Equal(1, await Sql.ScalarAsync(database, """
            SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE c.relname = 'ix_machine_snapshots_machine_ref' AND i.indisvalid
            """));
    }

    private static async Task MigrateAsync(string database, string? target)
    {
        await using var db = new FleetDbContext(FleetDbContextOptions.Build(database));
        await db.GetService<IMigrator>().MigrateAsync(target);
    }
}
