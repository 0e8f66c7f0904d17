using Npgsql;

namespace FleetAspire.Data.MachineTransition.ReverseSync;

/// <summary>
/// Leaving <c>MachineOnly</c>: brings legacy up to date from every Machine row inserted, updated or deleted, and every
/// agent relation changed, while legacy was not written (the change marker, <c>machine_changes</c>). Runs inside the
/// MachineOnly → MachineRead flip, under the exclusive epoch fence: when dual-write resumes, the legacy rows it
/// starts from are current, so a legacy-first write can never copy a stale row back over Machine (ADR 0012).
/// </summary>
public static class MachineReverseSync
{
    private static string Writer(string name) =>
        $"SELECT set_config('fleet.writer', 'fleetaspire/{name}{Backfill.MachineBackfill.WritesMachineSuffix}', true)";

    /// <summary>
    /// What changed in MachineOnly: each machine's last known legacy identity (a deleted row's comes from the marker),
    /// and the agents whose relation changed or whose machine did.
    /// </summary>
    private static readonly string[] MarkedScope =
    [
        """
        CREATE TEMP TABLE rs_machines ON COMMIT DROP AS
        SELECT DISTINCT ON (entity_id) entity_id AS id, machine_type AS type, legacy_id
        FROM machine_changes WHERE synced_at IS NULL AND entity = 'machines'
        ORDER BY entity_id, id DESC
        """,
        """
        CREATE TEMP TABLE rs_agents ON COMMIT DROP AS
        SELECT entity_id AS id FROM machine_changes WHERE synced_at IS NULL AND entity = 'agents'
        UNION SELECT a.id FROM agents a JOIN rs_machines r ON a.machine_ref = r.id
        """,
    ];

    /// <summary>
    /// Given machines and agents (a repair): a machine that no longer exists keeps the legacy identity its id derives
    /// from; agents holding any of them in either model are included.
    /// </summary>
    private static readonly string[] GivenScope =
    [
        """
        CREATE TEMP TABLE rs_machines ON COMMIT DROP AS
        SELECT x.id,
               coalesce(m.type, CASE WHEN x.id LIKE 'mh\_%' THEN 'hetzner' WHEN x.id LIKE 'mc\_%' THEN 'custom' END) AS type,
               coalesce(m.legacy_id, substr(x.id, 4)) AS legacy_id
        FROM unnest(@machines::text[]) x(id) LEFT JOIN machines m ON m.id = x.id
        """,
        """
        CREATE TEMP TABLE rs_agents ON COMMIT DROP AS
        SELECT unnest(@agents::text[]) AS id
        UNION SELECT a.id FROM agents a JOIN rs_machines r ON a.machine_ref = r.id OR (a.machine_id = r.legacy_id AND a.machine_type = r.type)
        """,
    ];

    /// <summary>Legacy written from Machine for the machines and agents in <c>rs_machines</c> and <c>rs_agents</c>.</summary>
    private static readonly string[] Apply =
    [
        // Agents carry copies of the machine their relation names (or none).
        """
        UPDATE agents a
        SET machine_id = m.legacy_id, machine_ipv4 = nullif(m.ipv4, ''), machine_shared_key = m.shared_key, machine_type = m.type
        FROM rs_agents r JOIN agents x ON x.id = r.id LEFT JOIN machines m ON m.id = x.machine_ref
        WHERE a.id = x.id
          AND (a.machine_id, a.machine_ipv4, a.machine_shared_key, a.machine_type)
              IS DISTINCT FROM (m.legacy_id, nullif(m.ipv4, ''), m.shared_key, m.type)
        """,
        // Custom machines: gone ones deleted first (their address may be reused), present ones written whole.
        """
        DELETE FROM custom_machines c USING rs_machines r
        WHERE r.type = 'custom' AND c.id = r.legacy_id AND NOT EXISTS (SELECT 1 FROM machines m WHERE m.id = r.id)
        """,
        // Holders are cleared before they are rewritten: an agent that moved between two custom machines must not
        // meet its old row's current_agent_id (unique) half-way through the upsert.
        """
        UPDATE custom_machines SET current_agent_id = NULL
        WHERE current_agent_id IS NOT NULL AND id IN (SELECT legacy_id FROM rs_machines WHERE type = 'custom')
        """,
        """
        INSERT INTO custom_machines (id, ipv4, port, shared_key, user_id, current_agent_id, os, arch, cpu_count, memory_gb, created_at, updated_at)
        SELECT m.legacy_id, m.ipv4, m.port, m.shared_key, m.user_id, (SELECT a.id FROM agents a WHERE a.machine_ref = m.id),
               m.os, m.arch, m.cpu_count, m.memory_gb, m.created_at, m.last_seen_at
        FROM rs_machines r JOIN machines m ON m.id = r.id
        WHERE m.type = 'custom'
        ON CONFLICT (id) DO UPDATE SET ipv4 = EXCLUDED.ipv4, port = EXCLUDED.port, shared_key = EXCLUDED.shared_key,
            user_id = EXCLUDED.user_id, current_agent_id = EXCLUDED.current_agent_id, os = EXCLUDED.os, arch = EXCLUDED.arch,
            cpu_count = EXCLUDED.cpu_count, memory_gb = EXCLUDED.memory_gb, updated_at = EXCLUDED.updated_at
        """,
        // The pool: a hetzner machine nobody holds, launching or ready, is a pool row; one held or gone is not.
        """
        DELETE FROM parked_machines p USING rs_machines r
        WHERE r.type = 'hetzner' AND p.machine_id = r.legacy_id
          AND NOT EXISTS (SELECT 1 FROM machines m
                          WHERE m.id = r.id AND m.status IN ('launching', 'ready')
                            AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.machine_ref = m.id))
        """,
        """
        INSERT INTO parked_machines (id, machine_id, machine_name, ipv4, status, shared_key, created_at, updated_at)
        SELECT 'pm_' || replace(gen_random_uuid()::text, '-', ''), m.legacy_id, coalesce(m.name, 'fleet-pool-' || m.legacy_id),
               nullif(m.ipv4, ''), m.status, m.shared_key, m.created_at, m.last_seen_at
        FROM rs_machines r JOIN machines m ON m.id = r.id
        WHERE m.type = 'hetzner' AND m.status IN ('launching', 'ready')
          AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.machine_ref = m.id)
        ON CONFLICT (machine_id) DO UPDATE SET machine_name = EXCLUDED.machine_name, ipv4 = EXCLUDED.ipv4, status = EXCLUDED.status,
            shared_key = EXCLUDED.shared_key, updated_at = EXCLUDED.updated_at
        """,
    ];

    /// <summary>Applies every pending change to legacy inside the caller's transaction; returns how many changes it covered.</summary>
    public static async Task<long> RunAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, transaction, [Writer("reverse-sync"), .. MarkedScope, .. Apply], null, cancellationToken);
        await using var done = new NpgsqlCommand(
            "WITH d AS (UPDATE machine_changes SET synced_at = now() WHERE synced_at IS NULL RETURNING 1) SELECT count(*) FROM d",
            connection, transaction);
        return (long)(await done.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Rewrites legacy from Machine for the given machines (by Machine id) and agents, inside the caller's transaction.</summary>
    public static Task RunForAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string[] machineIds, string[] agentIds,
        string writer, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, [Writer(writer), .. GivenScope, .. Apply],
            [new NpgsqlParameter("machines", machineIds), new NpgsqlParameter("agents", agentIds)], cancellationToken);

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string[] statements,
        NpgsqlParameter[]? parameters, CancellationToken cancellationToken)
    {
        foreach (var sql in statements)
        {
            await using var command = new NpgsqlCommand(sql, connection, transaction) { CommandTimeout = 0 };
            foreach (var parameter in parameters ?? [])
            {
                if (sql.Contains("@" + parameter.ParameterName, StringComparison.Ordinal))
                {
                    command.Parameters.Add(parameter.Clone());
                }
            }

            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }
}
