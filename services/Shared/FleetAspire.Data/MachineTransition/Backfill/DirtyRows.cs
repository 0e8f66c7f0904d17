using System.Text;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace FleetAspire.Data.MachineTransition.Backfill;

/// <param name="Handling">Who deals with its class (<see cref="DirtyHandling"/>).</param>
/// <param name="Resolution">What an operator recorded when resolving it by hand (null when a later scan found it clean or gone).</param>
public sealed record DirtyRow(string Class, string Entity, string EntityId, string Detail, string Handling, DateTimeOffset FirstSeen,
    DateTimeOffset LastSeen, DateTimeOffset? ResolvedAt, string? Resolution, string? ResolvedBy);

/// <summary>Which reports a query or a bulk resolution covers. Null fields do not filter.</summary>
public sealed record DirtyFilter(string? Class, string? Entity, string? Handling, bool? Open);

/// <summary>
/// The dirty-row reports as operators work through them: keyset pages with filters, a resolution of one row or of
/// every open row a filter matches (audited with its reason), and the two ways reports close without an operator —
/// the row is gone, or the flip into MachineOnly linked the child to a tombstone.
/// </summary>
public sealed class DirtyRows(NpgsqlDataSource dataSource)
{
    private const string Columns =
        "class, entity, entity_id, detail, first_seen, last_seen, resolved_at, resolution, resolved_by";

    private static readonly string Where = $"""
        (@class::text IS NULL OR class = @class) AND (@entity::text IS NULL OR entity = @entity)
        AND (@handling::text IS NULL OR ({DirtyClasses.IsTombstoneSql("class")}) = (@handling = '{DirtyHandling.Tombstone}'))
        AND (@open::boolean IS NULL OR (resolved_at IS NULL) = @open)
        """;

    /// <summary>One page in (class, entity, entity_id) order, after <paramref name="after"/> (a cursor from the previous page).</summary>
    public async Task<(IReadOnlyList<DirtyRow> Rows, string? Next)> PageAsync(DirtyFilter filter, DirtyCursor? after, int limit,
        CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            SELECT {Columns} FROM migration_dirty_rows
            WHERE {Where} AND (@after_class::text IS NULL OR (class, entity, entity_id) > (@after_class, @after_entity, @after_id))
            ORDER BY class, entity, entity_id
            LIMIT @take
            """, connection);
        AddFilter(command, filter);
        command.Parameters.Add(Text("after_class", after?.Class));
        command.Parameters.Add(Text("after_entity", after?.Entity));
        command.Parameters.Add(Text("after_id", after?.EntityId));
        command.Parameters.AddWithValue("take", limit + 1);
        var rows = new List<DirtyRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(Read(reader));
        }

        var page = rows.Take(limit).ToList();
        return (page, rows.Count > limit ? new DirtyCursor(page[^1].Class, page[^1].Entity, page[^1].EntityId).Encode() : null);
    }

    /// <summary>Open reports by class and entity (the status page, the class list).</summary>
    public async Task<IReadOnlyDictionary<(string Class, string Entity), long>> OpenCountsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT class, entity, count(*) AS open FROM migration_dirty_rows WHERE resolved_at IS NULL GROUP BY class, entity", connection);
        var counts = new Dictionary<(string, string), long>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            counts[(reader.Get<string>("class"), reader.Get<string>("entity"))] = reader.Get<long>("open");
        }

        return counts;
    }

    /// <summary>Resolves the open reports on one row (optionally of one class); returns how many.</summary>
    public async Task<int> ResolveRowAsync(string entity, string entityId, string? className, string resolution, string actor,
        CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            UPDATE migration_dirty_rows SET resolved_at = now(), resolution = @resolution, resolved_by = @actor
            WHERE entity = @entity AND entity_id = @id AND resolved_at IS NULL AND (@class::text IS NULL OR class = @class)
            """, connection);
        command.Parameters.AddWithValue("resolution", resolution);
        command.Parameters.AddWithValue("actor", actor);
        command.Parameters.AddWithValue("entity", entity);
        command.Parameters.AddWithValue("id", entityId);
        command.Parameters.Add(Text("class", className));
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Resolves every open report the filter matches, with one recorded reason, and audits the resolution (who, when,
    /// which filter, how many) in the same transaction. Returns how many reports it closed.
    /// </summary>
    public async Task<int> ResolveAllAsync(DirtyFilter filter, string resolution, string actor, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        int resolved;
        await using (var command = new NpgsqlCommand($"""
            UPDATE migration_dirty_rows SET resolved_at = now(), resolution = @resolution, resolved_by = @actor
            WHERE {Where}
            """, connection, tx))
        {
            AddFilter(command, filter with { Open = true });
            command.Parameters.AddWithValue("resolution", resolution);
            command.Parameters.AddWithValue("actor", actor);
            resolved = await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var audit = new NpgsqlCommand("""
            INSERT INTO migration_dirty_resolutions (actor, filter, resolution, resolved) VALUES (@actor, @filter::jsonb, @resolution, @resolved)
            """, connection, tx))
        {
            audit.Parameters.AddWithValue("actor", actor);
            audit.Parameters.AddWithValue("filter", JsonSerializer.Serialize(filter with { Open = true }, JsonSerializerOptions.Web));
            audit.Parameters.AddWithValue("resolution", resolution);
            audit.Parameters.AddWithValue("resolved", resolved);
            await audit.ExecuteNonQueryAsync(cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
        return resolved;
    }

    /// <summary>
    /// Reports whose legacy row no longer exists are closed (nothing is left to judge) and no longer quarantine anything.
    /// Cheap: it probes by primary key, for quarantined reports only.
    /// </summary>
    public const string CloseGoneSql = """
        UPDATE migration_dirty_rows d SET resolved_at = coalesce(d.resolved_at, now()), quarantined = false
        WHERE d.quarantined AND CASE d.entity
            WHEN 'agents' THEN NOT EXISTS (SELECT 1 FROM agents x WHERE x.id = d.entity_id)
            WHEN 'parked_machines' THEN NOT EXISTS (SELECT 1 FROM parked_machines x WHERE x.id = d.entity_id)
            WHEN 'custom_machines' THEN NOT EXISTS (SELECT 1 FROM custom_machines x WHERE x.id = d.entity_id)
            WHEN 'machine_snapshots' THEN NOT EXISTS (SELECT 1 FROM machine_snapshots x WHERE x.id = d.entity_id)
            WHEN 'machine_health_checks' THEN NOT EXISTS (SELECT 1 FROM machine_health_checks x WHERE x.id = d.entity_id::bigint)
            ELSE false END
        """;

    public async Task<int> CloseGoneAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(CloseGoneSql, connection);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Run by the flip into MachineOnly right after it links every child: the reports the contract handles
    /// (<see cref="DirtyHandling.Tombstone"/>) close once their child names an existing Machine row.
    /// </summary>
    public static readonly string CloseLinkedTombstonesSql = $"""
        UPDATE migration_dirty_rows d
        SET resolved_at = now(), resolved_by = 'fleetaspire/link-children',
            resolution = 'linked to a tombstone Machine row by the flip into MachineOnly'
        WHERE d.resolved_at IS NULL AND {DirtyClasses.IsTombstoneSql("d.class")}
          AND CASE d.entity
            WHEN 'machine_snapshots' THEN EXISTS (SELECT 1 FROM machine_snapshots s JOIN machines m ON m.id = s.machine_ref WHERE s.id = d.entity_id)
            WHEN 'machine_health_checks' THEN EXISTS (SELECT 1 FROM machine_health_checks h JOIN machines m ON m.id = h.machine_ref
                                                      WHERE h.id = d.entity_id::bigint)
            ELSE false END
        """;

    private static void AddFilter(NpgsqlCommand command, DirtyFilter filter)
    {
        command.Parameters.Add(Text("class", filter.Class));
        command.Parameters.Add(Text("entity", filter.Entity));
        command.Parameters.Add(Text("handling", filter.Handling));
        command.Parameters.Add(new NpgsqlParameter("open", NpgsqlDbType.Boolean) { Value = (object?)filter.Open ?? DBNull.Value });
    }

    private static NpgsqlParameter Text(string name, string? value) => new(name, NpgsqlDbType.Text) { Value = (object?)value ?? DBNull.Value };

    private static DirtyRow Read(NpgsqlDataReader reader)
    {
        var className = reader.GetString(reader.GetOrdinal("class"));
        return new DirtyRow(className, reader.GetString(reader.GetOrdinal("entity")), reader.GetString(reader.GetOrdinal("entity_id")),
            reader.GetString(reader.GetOrdinal("detail")), DirtyClasses.HandlingOf(className),
            reader.GetFieldValue<DateTimeOffset>(reader.GetOrdinal("first_seen")), reader.GetFieldValue<DateTimeOffset>(reader.GetOrdinal("last_seen")),
            Nullable<DateTimeOffset>(reader, "resolved_at"), Nullable<string>(reader, "resolution"), Nullable<string>(reader, "resolved_by"));
    }

    private static T? Nullable<T>(NpgsqlDataReader reader, string column)
    {
        var ordinal = reader.GetOrdinal(column);
        return reader.IsDBNull(ordinal) ? default : reader.GetFieldValue<T>(ordinal);
    }
}

/// <summary>The position after a row, handed to clients as an opaque URL-safe token.</summary>
public sealed record DirtyCursor(string Class, string Entity, string EntityId)
{
    private const char Separator = '\u001f';

    public string Encode() => Convert.ToBase64String(Encoding.UTF8.GetBytes(string.Join(Separator, Class, Entity, EntityId)))
        .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static bool TryDecode(string? value, out DirtyCursor? cursor)
    {
        cursor = null;
        if (value is null || value.Length > 512)
        {
            return false;
        }

        try
        {
            var base64 = value.Replace('-', '+').Replace('_', '/');
            base64 += new string('=', (4 - base64.Length % 4) % 4);
            var parts = Encoding.UTF8.GetString(Convert.FromBase64String(base64)).Split(Separator);
            if (parts.Length != 3)
            {
                return false;
            }

            cursor = new DirtyCursor(parts[0], parts[1], parts[2]);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
