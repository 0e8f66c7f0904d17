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
    public async Task The_expand_migrations_apply_to_a_populated_database_while_writers_run_and_no_writer_waits_long()
    {
        var database = await (await TestPostgres.GetAsync()).CreateEmptyDatabaseAsync("expandlive");
        await MigrateAsync(database, LastLegacyMigration);
        await ExecuteAsync(database, """
            INSERT INTO agents (id, name, user_id, status, created_at, updated_at, machine_id, machine_ipv4, machine_shared_key, machine_type)
            SELECT 'agt_' || i, 'a' || i, 'u' || (i % 100), 'active', now(), now(), (5000000 + i)::text, '10.0.0.1', md5(i::text), 'hetzner'
            FROM generate_series(1, 50000) i;
            INSERT INTO machine_health_checks (agent_id, machine_id, outcome, checked_at)
            SELECT 'agt_' || i, (5000000 + i)::text, 'healthy', now() FROM generate_series(1, 50000) i;
            """);

        using var stop = new CancellationTokenSource();
        var writes = 0;
        var slowestTicks = 0L;
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            await using var connection = new NpgsqlConnection(database);
            await connection.OpenAsync();
            var i = 0;
            while (!stop.IsCancellationRequested)
            {
                var started = Stopwatch.StartNew();
                // Old code: legacy columns only, with a statement timeout a real client would have.
                await using var update = new NpgsqlCommand(
                    "SET statement_timeout = '5s'; UPDATE agents SET machine_ipv4 = @ip, updated_at = now() WHERE id = @id", connection);
                update.Parameters.AddWithValue("ip", $"10.0.{w}.{i % 250}");
                update.Parameters.AddWithValue("id", $"agt_{(w * 10000) + (i % 10000) + 1}");
                await update.ExecuteNonQueryAsync();
                await using var insert = new NpgsqlCommand(
                    "INSERT INTO machine_health_checks (agent_id, machine_id, outcome, checked_at) VALUES (@a, @m, 'healthy', now())", connection);
                insert.Parameters.AddWithValue("a", $"agt_{i + 1}");
                insert.Parameters.AddWithValue("m", $"{5000001 + i}");
                await insert.ExecuteNonQueryAsync();
                var elapsed = started.Elapsed.Ticks;
                long seen;
                while (elapsed > (seen = Interlocked.Read(ref slowestTicks)) && Interlocked.CompareExchange(ref slowestTicks, elapsed, seen) != seen)
                {
                }

                Interlocked.Add(ref writes, 2);
                i++;
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
        Assert.Equal(0, await ScalarAsync(database, """
            SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE c.relname IN ('ix_agents_machine_ref', 'ix_machine_snapshots_machine_ref', 'ix_machine_health_checks_machine_ref')
              AND NOT (i.indisvalid AND i.indisready)
            """));
        Assert.Equal(3, await ScalarAsync(database, """
            SELECT count(*) FROM pg_class WHERE relname IN ('ix_agents_machine_ref', 'ix_machine_snapshots_machine_ref', 'ix_machine_health_checks_machine_ref')
            """));
        Assert.Equal(50000, await ScalarAsync(database, "SELECT count(*) FROM agents"));
    }

    [Fact]
    public async Task An_interrupted_index_build_is_repaired_by_running_the_migrations_again()
    {
        var database = await (await TestPostgres.GetAsync()).CreateEmptyDatabaseAsync("expandrerun");
        await MigrateAsync(database, null);
        // As if the process died mid-migration: one index missing, the migration not recorded as applied.
        await ExecuteAsync(database, """
            DROP INDEX ix_machine_snapshots_machine_ref;
            DELETE FROM "__EFMigrationsHistory" WHERE migration_id LIKE '%_Expand_IndexMachineRelations';
            """);

        await MigrateAsync(database, null);

        Assert.Equal(1, await ScalarAsync(database, """
            SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE c.relname = 'ix_machine_snapshots_machine_ref' AND i.indisvalid
            """));
    }

    private static async Task MigrateAsync(string database, string? target)
    {
        await using var db = new FleetDbContext(FleetDbContextOptions.Build(database));
        await db.GetService<IMigrator>().MigrateAsync(target);
    }

    internal static async Task ExecuteAsync(string database, string sql)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 120 };
        await command.ExecuteNonQueryAsync();
    }

    internal static async Task<long> ScalarAsync(string database, string sql)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
