using Npgsql;

namespace FleetAspire.Transition.Tests;

public sealed class ChangeCaptureTests
{
    private static async Task<string> DatabaseAsync() => await (await TestPostgres.GetAsync()).CreateDatabaseAsync("capture");

    private static async Task<List<(string Entity, string Id, char Op, string? Writer)>> ChangesAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT entity, entity_id, op, writer FROM legacy_changes ORDER BY id", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var changes = new List<(string, string, char, string?)>();
        while (await reader.ReadAsync())
        {
            changes.Add((reader.GetString(0), reader.GetString(1), reader.GetChar(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
        }

        return changes;
    }

    [Fact]
    public async Task Old_code_writing_only_legacy_columns_is_captured_without_a_writer_tag()
    {
        var database = await DatabaseAsync();

        await Sql.ExecuteAsync(database, """
            INSERT INTO agents (id, name, user_id, status, created_at, updated_at) VALUES ('agt_old', 'a', 'u', 'idle', now(), now());
            UPDATE agents SET machine_id = '42', machine_ipv4 = '10.0.0.9', machine_shared_key = 'k', machine_type = 'hetzner' WHERE id = 'agt_old';
            UPDATE agents SET name = 'renamed' WHERE id = 'agt_old';
            DELETE FROM agents WHERE id = 'agt_old';
            """);

        var changes = await ChangesAsync(database);
        Assert.Equal([('I', (string?)null), ('U', null), ('D', null)], changes.Select(c => (c.Op, c.Writer)));
        Assert.All(changes, c => Assert.Equal(("agents", "agt_old"), (c.Entity, c.Id)));
    }

    [Fact]
    public async Task New_code_tags_its_writes_and_every_legacy_table_is_captured()
    {
        var database = await DatabaseAsync();

        await Sql.ExecuteAsync(database, """
            BEGIN;
            SET LOCAL fleet.writer = 'fleetaspire/agents';
            INSERT INTO parked_machines (id, machine_id, machine_name, ipv4, status, shared_key, created_at, updated_at)
                VALUES ('pm_1', '77', 'p', '10.0.0.1', 'ready', 'k', now(), now());
            INSERT INTO custom_machines (id, ipv4, port, shared_key, user_id, created_at, updated_at)
                VALUES ('cm_1', '10.0.0.2', 22, 'k2-0123456789abcdef', 'u', now(), now());
            INSERT INTO machine_snapshots (id, machine_id, status, created_at, user_id, is_final) VALUES ('snap_1', '77', 'available', now(), 'u', false);
            INSERT INTO machine_health_checks (agent_id, machine_id, outcome, checked_at) VALUES ('agt_x', '77', 'healthy', now());
            COMMIT;
            """);

        var changes = await ChangesAsync(database);
        Assert.Equal(["parked_machines", "custom_machines", "machine_snapshots", "machine_health_checks"], changes.Select(c => c.Entity));
        Assert.All(changes, c => Assert.Equal(('I', "fleetaspire/agents"), (c.Op, c.Writer)));
    }

    [Fact]
    public async Task A_rolled_back_write_leaves_no_change_record()
    {
        var database = await DatabaseAsync();

        await Sql.ExecuteAsync(database, """
            BEGIN;
            INSERT INTO custom_machines (id, ipv4, port, shared_key, user_id, created_at, updated_at)
                VALUES ('cm_gone', '10.0.0.3', 22, 'k3-0123456789abcdef', 'u', now(), now());
            ROLLBACK;
            """);

        Assert.Empty(await ChangesAsync(database));
    }

    [Theory]
    [InlineData("hetzner", "4711", "mh_4711")]
    [InlineData("custom", "cm_01abc", "mc_cm_01abc")]
    public async Task The_id_derivation_function_maps_a_legacy_id_to_one_machine_id(string type, string legacyId, string expected)
    {
        var database = await DatabaseAsync();
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT fleet_machine_id(@t, @l), fleet_machine_id('other', @l), fleet_machine_id(@t, NULL)", connection);
        command.Parameters.AddWithValue("t", type);
        command.Parameters.AddWithValue("l", legacyId);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();

        Assert.Equal(expected, reader.GetString(0));
        Assert.True(reader.IsDBNull(1), "an unknown type must not get an id");
        Assert.True(reader.IsDBNull(2), "no legacy id, no machine id");
    }
}
