using FleetAspire.Data.MachineTransition.DualWrite;
using FleetAspire.Testing;
using Npgsql;
using Xunit;

namespace FleetAspire.Transition.Tests;

/// <summary>
/// The dual-write's statements are planned once per connection, at its first dual-written transaction, and the plan is
/// kept. A plan made while the Machine table was small must still find rows by index once the fleet has grown.
/// </summary>
public sealed class DualWritePlanTests
{
    [Fact]
    public async Task A_connection_that_first_dual_wrote_on_an_empty_Machine_table_still_reaches_machines_by_index_once_it_is_large()
    {
        var postgres = await TestPostgres.GetAsync();
        var database = await postgres.CreateDatabaseAsync(nameof(DualWritePlanTests));
        await Sql.ExecuteAsync(database, """
            INSERT INTO agents (id, name, user_id, status, created_at, updated_at, machine_id, machine_ipv4, machine_shared_key, machine_type)
            VALUES ('agt_plan_1', 'plan', 'plan-user', 'active', now(), now(), '7100001', '10.71.0.1', 'key-one', 'hetzner'),
                   ('agt_plan_2', 'plan', 'plan-user', 'active', now(), now(), '7100002', '10.71.0.2', 'key-two', 'hetzner');
            """);

        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();

        // First dual-written release on this connection: every statement of the function is planned now, on an
        // empty machines table.
        await ReleaseDualWrittenAsync(connection, "agt_plan_1");

        // The fleet grows (without dual-write: rows written as the backfill would), the second agent's machine with it.
        await Sql.ExecuteAsync(database, """
            INSERT INTO machines (id, type, ipv4, shared_key, port, status, user_id, created_at, last_seen_at, legacy_id)
            SELECT 'mc_grown_' || i, 'custom', '172.31.' || (i >> 8 & 255) || '.' || (i & 255), 'k' || i, 22, 'offline', 'u', now(), now(), 'grown_' || i
            FROM generate_series(1, 20000) i;
            INSERT INTO machines (id, type, hetzner_machine_id, ipv4, shared_key, port, status, created_at, last_seen_at, legacy_id)
            VALUES ('mh_7100002', 'hetzner', '7100002', '10.71.0.2', 'key-two', 8911, 'in_use', now(), now(), '7100002');
            UPDATE agents SET machine_ref = 'mh_7100002' WHERE id = 'agt_plan_2';
            SELECT pg_stat_reset_single_table_counters('machines'::regclass);
            """);

        // The same connection (the same cached plans) releases the second agent: its machine has vanished from legacy.
        await ReleaseDualWrittenAsync(connection, "agt_plan_2");
        await using (var flush = new NpgsqlCommand("SELECT pg_stat_force_next_flush()", connection))
        {
            await flush.ExecuteNonQueryAsync();
        }

        await using (var idle = new NpgsqlCommand("SELECT 1", connection))
        {
            await idle.ExecuteNonQueryAsync();
        }

        var indexScans = 0L;
        await Eventually.TrueAsync(async () =>
        {
            indexScans = await Sql.ScalarAsync(database,
                "SELECT coalesce(idx_scan, 0) FROM pg_stat_user_tables WHERE relname = 'machines'");
            return indexScans > 0;
        }, TimeSpan.FromSeconds(15), "the release's statistics were never reported");
        Assert.Equal(0, await Sql.ScalarAsync(database, "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'machines'"));
        Assert.Equal(0, await Sql.ScalarAsync(database, "SELECT count(*) FROM machines WHERE id = 'mh_7100002'"));
    }

    private static async Task ReleaseDualWrittenAsync(NpgsqlConnection connection, string agentId)
    {
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var fence = new NpgsqlCommand($"SELECT set_config('{MachineSync.DualWriteSetting}', 'on', true)", connection, transaction))
        {
            await fence.ExecuteNonQueryAsync();
        }

        await using (var release = new NpgsqlCommand("""
            UPDATE agents SET machine_id = NULL, machine_ipv4 = NULL, machine_shared_key = NULL, machine_type = NULL,
                status = 'idle', updated_at = now()
            WHERE id = @id
            """, connection, transaction))
        {
            release.Parameters.AddWithValue("id", agentId);
            Assert.Equal(1, await release.ExecuteNonQueryAsync());
        }

        await transaction.CommitAsync();
    }
}
