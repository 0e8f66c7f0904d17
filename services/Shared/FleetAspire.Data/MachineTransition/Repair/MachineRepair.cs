using System.Text.Json;
using FleetAspire.Data.MachineTransition.Backfill;
using FleetAspire.Data.MachineTransition.Phases;
using FleetAspire.Data.MachineTransition.ReverseSync;
using FleetAspire.Data.MachineTransition.Verification;
using Npgsql;

namespace FleetAspire.Data.MachineTransition.Repair;

public static class RepairDirections
{
    public const string LegacyToMachine = "legacy-to-machine";
    public const string MachineToLegacy = "machine-to-legacy";
}

/// <summary>One open divergence and which way a repair would write it.</summary>
public sealed record RepairItem(string Entity, string EntityId, string Field, string Kind, string Source, string Direction);

/// <summary>What a repair would do (dry run) or did (applied), in the phase it ran in.</summary>
/// <param name="Remaining">Open divergences beyond this run's bound, left for the next call.</param>
public sealed record RepairReport(bool Applied, string Phase, long Epoch, IReadOnlyList<RepairItem> Items, long? RepairId, long Remaining = 0);

/// <summary>
/// Rewrites the non-authoritative side from the authoritative side of the current phase, for the open divergences:
/// legacy → Machine while legacy is authoritative (<c>Legacy</c>, <c>DualWrite</c>), Machine → legacy in
/// <c>MachineRead</c> — except a divergence whose legacy side is newer than its Machine side per the change log (a
/// write from outside this build after dual-write began, <c>legacy-only-write</c>): that is never reverted, it is
/// repaired legacy → Machine. In <c>MachineOnly</c> legacy is not maintained, so there is nothing to repair (the
/// reverse sync runs when leaving it). Both sides are written with the backfill's and reverse sync's own statements,
/// in one transaction holding the epoch fence shared, so no flip lands half-way. Applied repairs are audited.
/// </summary>
/// <remarks>
/// Bounded: one run repairs at most <paramref name="maxItems"/> divergences (the report says how many remain), waits
/// at most 2 s for any lock and runs at most a minute — it holds the fence shared, so an unbounded run would hold every
/// flip. Past the bounds it is answered 503 + Retry-After and nothing of it is written.
/// </remarks>
public sealed class MachineRepair(NpgsqlDataSource dataSource, int maxItems = 1000)
{
    public async Task<RepairReport?> RunAsync(bool apply, string actor, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        PhaseState phase;
        await using (var fence = new NpgsqlCommand(
            "SET LOCAL lock_timeout = '2s'; SET LOCAL statement_timeout = '60s'; " +
            $"SELECT pg_advisory_xact_lock_shared({PhaseStore.FenceLockKey}); SELECT phase, epoch FROM migration_phase WHERE id = 1", connection, tx))
        await using (var reader = await fence.ExecuteReaderAsync(cancellationToken))
        {
            await reader.NextResultAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            phase = new PhaseState(Enum.Parse<TransitionPhase>(reader.Get<string>("phase")), reader.Get<long>("epoch"), default, string.Empty);
        }

        if (phase.Phase >= TransitionPhase.MachineOnly)
        {
            return null;
        }

        var items = new List<RepairItem>();
        long openTotal;
        await using (var count = new NpgsqlCommand("SELECT count(*) FROM migration_divergences WHERE resolved_at IS NULL", connection, tx))
        {
            openTotal = (long)(await count.ExecuteScalarAsync(cancellationToken))!;
        }

        await using var open = new NpgsqlCommand(
            "SELECT entity, entity_id, field, kind, source FROM migration_divergences WHERE resolved_at IS NULL ORDER BY entity, entity_id, field, kind LIMIT @max",
            connection, tx);
        open.Parameters.AddWithValue("max", maxItems);
        await using (var reader = await open.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var kind = reader.Get<string>("kind");
                var direction = phase.Phase == TransitionPhase.MachineRead && kind != DivergenceKinds.LegacyOnlyWrite
                    ? RepairDirections.MachineToLegacy
                    : RepairDirections.LegacyToMachine;
                items.Add(new RepairItem(reader.Get<string>("entity"), reader.Get<string>("entity_id"), reader.Get<string>("field"), kind,
                    reader.Get<string>("source"), direction));
            }
        }

        if (!apply || items.Count == 0)
        {
            await tx.RollbackAsync(cancellationToken);
            return new RepairReport(false, phase.Phase.ToString(), phase.Epoch, items, null, openTotal - items.Count);
        }

        await LegacyToMachineAsync(connection, tx, items.Where(i => i.Direction == RepairDirections.LegacyToMachine).ToList(), cancellationToken);
        var toLegacy = items.Where(i => i.Direction == RepairDirections.MachineToLegacy).ToList();
        if (toLegacy.Count > 0)
        {
            await MachineReverseSync.RunForAsync(connection, tx,
                toLegacy.Where(i => i.Entity == "machines").Select(i => i.EntityId).Distinct().ToArray(),
                toLegacy.Where(i => i.Entity == "agents").Select(i => i.EntityId).Distinct().ToArray(),
                "repair", cancellationToken);
            await ChildrenFromMachineAsync(connection, tx, toLegacy, cancellationToken);
        }

        // Repaired records close now; the next verification confirms (or reopens) them.
        await using (var resolve = new NpgsqlCommand("""
            UPDATE migration_divergences d SET resolved_at = now()
            FROM unnest(@entities::text[], @ids::text[], @fields::text[], @kinds::text[]) r(entity, entity_id, field, kind)
            WHERE d.resolved_at IS NULL AND (d.entity, d.entity_id, d.field, d.kind) = (r.entity, r.entity_id, r.field, r.kind)
            """, connection, tx))
        {
            resolve.Parameters.AddWithValue("entities", items.Select(i => i.Entity).ToArray());
            resolve.Parameters.AddWithValue("ids", items.Select(i => i.EntityId).ToArray());
            resolve.Parameters.AddWithValue("fields", items.Select(i => i.Field).ToArray());
            resolve.Parameters.AddWithValue("kinds", items.Select(i => i.Kind).ToArray());
            await resolve.ExecuteNonQueryAsync(cancellationToken);
        }

        long repairId;
        await using (var audit = new NpgsqlCommand("""
            INSERT INTO migration_repairs (actor, phase, epoch, items) VALUES (@actor, @phase, @epoch, @items::jsonb) RETURNING id
            """, connection, tx))
        {
            audit.Parameters.AddWithValue("actor", actor);
            audit.Parameters.AddWithValue("phase", phase.Phase.ToString());
            audit.Parameters.AddWithValue("epoch", phase.Epoch);
            audit.Parameters.AddWithValue("items", JsonSerializer.Serialize(items, JsonSerializerOptions.Web));
            repairId = (long)(await audit.ExecuteScalarAsync(cancellationToken))!;
        }

        await tx.CommitAsync(cancellationToken);
        return new RepairReport(true, phase.Phase.ToString(), phase.Epoch, items, repairId, openTotal - items.Count);
    }

    /// <summary>The backfill's statements for the legacy rows behind the divergences, then machines whose source is gone.</summary>
    private static async Task LegacyToMachineAsync(NpgsqlConnection connection, NpgsqlTransaction tx, List<RepairItem> items, CancellationToken cancellationToken)
    {
        if (items.Count == 0)
        {
            return;
        }

        string[] Ids(string entity) => items.Where(i => i.Entity == entity).Select(i => i.EntityId).Distinct().ToArray();
        var machines = Ids("machines");
        string[] legacyIds = [.. machines.Select(id => id.Length > 3 ? id[3..] : id)];
        var statements = new (string Sql, NpgsqlParameter[] Parameters)[]
        {
            ($"SELECT set_config('fleet.writer', 'fleetaspire/repair{MachineBackfill.WritesMachineSuffix}', true)", []),
            (BackfillSql.ParkedMachines.Replace("{source}", "id = ANY(@parked) OR machine_id = ANY(@legacy)", StringComparison.Ordinal),
                [new("parked", Ids("parked_machines")), new("legacy", legacyIds)]),
            (BackfillSql.PoolAgents.Replace("{source}", "id = ANY(@agents) OR machine_id = ANY(@legacy)", StringComparison.Ordinal),
                [new("agents", Ids("agents")), new("legacy", legacyIds)]),
            (BackfillSql.CustomMachines.Replace("{source}", "id = ANY(@custom) OR id = ANY(@legacy)", StringComparison.Ordinal),
                [new("custom", Ids("custom_machines")), new("legacy", legacyIds)]),
            (BackfillSql.Snapshots.Replace("{source}", "id = ANY(@snapshots)", StringComparison.Ordinal), [new("snapshots", Ids("machine_snapshots"))]),
            (BackfillSql.HealthChecks.Replace("{source}", "id::text = ANY(@health)", StringComparison.Ordinal), [new("health", Ids("machine_health_checks"))]),
            // Machines whose legacy source is gone: named by a divergence, or by the change log's record of a deleted row.
            (BackfillSql.RemoveVanished.Replace("@legacy_ids", """
                (SELECT array_agg(x) FROM (SELECT unnest(@legacy) UNION
                    SELECT coalesce(c.old_machine_id, CASE WHEN c.entity = 'custom_machines' THEN c.entity_id END)
                    FROM legacy_changes c JOIN unnest(@entities, @entity_ids) r(entity, entity_id) ON c.entity = r.entity AND c.entity_id = r.entity_id
                    WHERE c.op = 'D') v(x))
                """, StringComparison.Ordinal),
                [new("legacy", legacyIds), new("entities", items.Select(i => i.Entity).ToArray()), new("entity_ids", items.Select(i => i.EntityId).ToArray())]),
        };
        foreach (var (sql, parameters) in statements)
        {
            await using var command = new NpgsqlCommand(sql, connection, tx) { CommandTimeout = 0 };
            command.Parameters.AddRange(parameters);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>A child's legacy machine id from the machine its relation names (Machine authoritative).</summary>
    private static async Task ChildrenFromMachineAsync(NpgsqlConnection connection, NpgsqlTransaction tx, List<RepairItem> items, CancellationToken cancellationToken)
    {
        foreach (var table in new[] { "machine_snapshots", "machine_health_checks" })
        {
            var ids = items.Where(i => i.Entity == table).Select(i => i.EntityId).Distinct().ToArray();
            if (ids.Length == 0)
            {
                continue;
            }

            await using var command = new NpgsqlCommand($"""
                UPDATE {table} t SET machine_id = m.legacy_id FROM machines m
                WHERE m.id = t.machine_ref AND t.id::text = ANY(@ids) AND t.machine_id IS DISTINCT FROM m.legacy_id
                """, connection, tx);
            command.Parameters.AddWithValue("ids", ids);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }
}
