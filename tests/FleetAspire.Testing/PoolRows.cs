using Npgsql;

namespace FleetAspire.Testing;

/// <summary>
/// Pool servers' rows, in whichever model holds them: legacy rows while the transition is compiled in (the services
/// run in <c>Legacy</c>), Machine rows in the steady build. For what no API can do: read a shared key (never in a
/// response), take a row lock, seed an agent on a server that exists only at the provider.
/// </summary>
public static class PoolRows
{
    /// <summary>The pool servers' shared keys.</summary>
    public static async Task<IReadOnlyList<string>> SharedKeysAsync(string database)
    {
        var sql = await IsLegacyAsync(database)
            ? "SELECT shared_key FROM parked_machines"
            : "SELECT shared_key FROM machines WHERE type = 'hetzner' AND status IN ('launching', 'ready')";
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var keys = new List<string>();
        while (await reader.ReadAsync())
        {
            keys.Add(reader.GetString(0));
        }

        return keys;
    }

    /// <summary>Locks the row of provider server <c>@id</c> without waiting (inside the caller's transaction).</summary>
    public static async Task<string> LockWithoutWaitingSqlAsync(string database) => await IsLegacyAsync(database)
        ? "SELECT id FROM parked_machines WHERE machine_id = @id FOR UPDATE NOWAIT"
        : "SELECT id FROM machines WHERE type = 'hetzner' AND hetzner_machine_id = @id FOR UPDATE NOWAIT";

    /// <summary>Empties the pool without the provider (the free servers' rows) and sets its target to 0.</summary>
    public static async Task ClearAsync(string database) => await Sql.ExecuteAsync(database, (await IsLegacyAsync(database)
        ? "DELETE FROM parked_machines;"
        : "DELETE FROM machines WHERE type = 'hetzner' AND status IN ('launching', 'ready');") + " UPDATE pool_settings SET target_size = 0;");

    /// <summary>A new agent of <paramref name="userId"/> holding provider server <paramref name="serverId"/>.</summary>
    public static async Task AgentHoldingServerAsync(string database, string agentId, string userId, string serverId)
    {
        var sql = await IsLegacyAsync(database)
            ? """
              INSERT INTO agents (id, name, user_id, status, created_at, updated_at, machine_id, machine_ipv4, machine_shared_key, machine_type)
              VALUES (@id, 'a', @user, 'active', now(), now(), @server, '198.51.100.1', 'k-0123456789abcdef', 'hetzner')
              """
            : """
              INSERT INTO machines (id, type, hetzner_machine_id, legacy_id, ipv4, shared_key, port, status, created_at, last_seen_at)
              VALUES ('mh_' || @server, 'hetzner', @server, @server, '198.51.100.1', 'k-0123456789abcdef', 8911, 'in_use', now(), now());
              INSERT INTO agents (id, name, user_id, status, created_at, updated_at, machine_id)
              VALUES (@id, 'a', @user, 'active', now(), now(), 'mh_' || @server);
              """;
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("id", agentId);
        command.Parameters.AddWithValue("user", userId);
        command.Parameters.AddWithValue("server", serverId);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<bool> IsLegacyAsync(string database) =>
        await Sql.StringAsync(database, "SELECT to_regclass('parked_machines')::text") is not null;
}
