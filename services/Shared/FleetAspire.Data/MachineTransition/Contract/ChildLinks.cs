using Npgsql;

namespace FleetAspire.Data.MachineTransition.Contract;

/// <summary>
/// Tombstones around MachineOnly (docs/adr/0014). Entering it, every snapshot and health check is linked to a Machine:
/// a child whose machine is gone from both models (a snapshot kept after its server was destroyed) gets a tombstone
/// to link to. Leaving it, the tombstones go (legacy has no such state; a child of a gone machine is consistent there),
/// deleted before the reverse sync so it removes their legacy sources too. Both run inside the flip, under the
/// exclusive epoch fence: no write runs meanwhile.
/// </summary>
public static class ChildLinks
{
    /// <summary>The machine a child names, by its legacy id: hetzner server ids are numeric, custom machine ids are not.</summary>
    private const string ChildTypeOf = "CASE WHEN c.machine_id ~ '^[0-9]+$' THEN 'hetzner' ELSE 'custom' END";

    private static string Unlinked(string alias) =>
        $"({alias}.machine_ref IS NULL OR NOT EXISTS (SELECT 1 FROM machines x WHERE x.id = {alias}.machine_ref))";

    private static string Link(string table) => $"""
        UPDATE {table} t SET machine_ref = m.id FROM machines m
        WHERE {Unlinked("t")} AND m.id IN (fleet_machine_id('hetzner', t.machine_id), fleet_machine_id('custom', t.machine_id))
        """;

    private static readonly string[] LinkStatements =
    [
        $"SELECT set_config('fleet.writer', 'fleetaspire/link-children{Backfill.MachineBackfill.WritesMachineSuffix}', true)",
        $"""
        WITH unlinked AS (
            SELECT machine_id, machine_ref FROM machine_snapshots
            UNION SELECT machine_id, machine_ref FROM machine_health_checks),
        gone AS (
            SELECT DISTINCT c.machine_id, {ChildTypeOf} AS type FROM unlinked c
            WHERE {Unlinked("c")}
              AND NOT EXISTS (SELECT 1 FROM machines m
                              WHERE m.id IN (fleet_machine_id('hetzner', c.machine_id), fleet_machine_id('custom', c.machine_id))))
        INSERT INTO machines (id, type, hetzner_machine_id, ipv4, shared_key, port, status, created_at, last_seen_at, legacy_id)
        SELECT fleet_machine_id(type, machine_id), type, CASE WHEN type = 'hetzner' THEN machine_id END, '0.0.0.0',
               encode(gen_random_bytes(24), 'hex'), 8911, 'destroyed', now(), now(), machine_id
        FROM gone ON CONFLICT DO NOTHING
        """,
        Link("machine_snapshots"),
        Link("machine_health_checks"),
        // The reports the contract handles itself close here: their children name a Machine row now.
        Backfill.DirtyRows.CloseLinkedTombstonesSql,
    ];

    /// <summary>The children that name no existing Machine row: the contract's gate wants none.</summary>
    public static readonly string CountUnlinked = $"""
        SELECT (SELECT count(*) FROM machine_snapshots s WHERE {Unlinked("s")}) AS snapshots,
               (SELECT count(*) FROM machine_health_checks h WHERE {Unlinked("h")}) AS health_checks
        """;

    /// <summary>Links every child; returns the tombstones created and the children linked.</summary>
    public static async Task<(int Tombstones, int Linked)> LinkAsync(NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection, tx);
        foreach (var statement in LinkStatements)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(statement));
        }

        await batch.ExecuteNonQueryAsync(cancellationToken);
        return (batch.BatchCommands[1].RecordsAffected, batch.BatchCommands[2].RecordsAffected + batch.BatchCommands[3].RecordsAffected);
    }

    /// <summary>Removes every tombstone (recorded in the change marker, so the reverse sync removes legacy sources too).</summary>
    public static async Task<int> RemoveTombstonesAsync(NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("DELETE FROM machines WHERE status = 'destroyed'", connection, tx);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
