using Npgsql;

namespace FleetAspire.Data.MachineTransition.Verification;

public static class DivergenceKinds
{
    public const string MissingInMachine = "missing-in-machine";
    public const string MissingInLegacy = "missing-in-legacy";
    public const string FieldMismatch = "field-mismatch";
    public const string AssignmentMismatch = "assignment-mismatch";
    public const string Orphan = "orphan";
    public const string Unlinked = "unlinked";
}

public sealed record VerificationSummary(DateTimeOffset StartedAt, TimeSpan Duration, IReadOnlyDictionary<string, long> OpenByKind, long Open)
{
    public bool Clean => Open == 0;
}

/// <summary>
/// Compares the legacy model with <c>machines</c> in the database, one set-based query per entity, and stores what
/// differs as divergence records (<c>migration_divergences</c>). Quarantined dirty rows are known divergences and
/// left out. IPv4 text forms and null/empty are normalised before comparing; shared keys are compared only as
/// HMAC-SHA256 fingerprints keyed with the server secret, and reported only as "differs".
/// </summary>
public sealed class MachineVerifier(NpgsqlDataSource dataSource, byte[] fingerprintKey)
{
    public const string Source = "verifier";

    /// <summary>The legacy model's expectation of every Machine row, with the legacy row it comes from.</summary>
    private const string Expected = """
        SELECT fleet_machine_id('hetzner', p.machine_id) AS id, 'hetzner' AS type, p.machine_id AS provider_id, p.ipv4, p.shared_key,
               8911 AS port, CASE p.status WHEN 'ready' THEN 'ready' ELSE 'launching' END AS status, NULL::text AS user_id,
               'parked_machines' AS src, p.id AS src_id
        FROM parked_machines p WHERE p.machine_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.machine_type = 'hetzner' AND a.machine_id = p.machine_id)
        UNION ALL
        SELECT fleet_machine_id('hetzner', a.machine_id), 'hetzner', a.machine_id, a.machine_ipv4, a.machine_shared_key, 8911, 'in_use', NULL,
               'agents', a.id
        FROM agents a WHERE a.machine_type = 'hetzner' AND a.machine_id IS NOT NULL
        UNION ALL
        SELECT fleet_machine_id('custom', c.id), 'custom', NULL, c.ipv4, c.shared_key, c.port,
               CASE WHEN c.current_agent_id IS NULL THEN 'offline' ELSE 'in_use' END, c.user_id, 'custom_machines', c.id
        FROM custom_machines c
        """;

    /// <summary>One row per difference: (entity, entity_id, field, kind, legacy_value, machine_value).</summary>
    private static readonly string MachineDifferences = $$"""
        WITH expected AS (
            -- Quarantined sources are known divergences: the whole pair (legacy row and any Machine made from it) is
            -- left out, not just the legacy side.
            SELECT e.*, EXISTS (SELECT 1 FROM migration_dirty_rows d
                                WHERE d.entity = e.src AND d.entity_id = e.src_id AND d.resolved_at IS NULL) AS quarantined
            FROM ({{Expected}}) e),
        joined AS (
            SELECT e.id, e.src, e.src_id, m.id AS m_id, m.type AS m_type,
                   fleet_norm_ipv4(e.ipv4) AS ipv4, fleet_norm_ipv4(m.ipv4) AS m_ipv4, e.port, m.port AS m_port, e.type,
                   nullif(trim(e.provider_id), '') AS provider_id, nullif(trim(m.hetzner_machine_id), '') AS m_provider_id,
                   nullif(trim(e.user_id), '') AS user_id, nullif(trim(m.user_id), '') AS m_user_id, e.status, m.status AS m_status,
                   hmac(convert_to(e.shared_key, 'UTF8'), @key, 'sha256') IS DISTINCT FROM hmac(convert_to(m.shared_key, 'UTF8'), @key, 'sha256') AS key_differs,
                   e.quarantined
            FROM expected e FULL JOIN machines m ON m.id = e.id),
        pairs AS (SELECT * FROM joined WHERE NOT coalesce(quarantined, false)),
        differing AS (
            -- Only pairs with a difference are unpivoted into per-field rows; on clean data that is none.
            SELECT * FROM pairs
            WHERE id IS NOT NULL AND m_id IS NOT NULL
              AND (ipv4 IS DISTINCT FROM m_ipv4 OR port IS DISTINCT FROM m_port OR type IS DISTINCT FROM m_type
                   OR provider_id IS DISTINCT FROM m_provider_id OR user_id IS DISTINCT FROM m_user_id
                   OR status IS DISTINCT FROM m_status OR key_differs))
        SELECT 'machines', coalesce(id, m_id), '*', '{{DivergenceKinds.MissingInMachine}}', src || ':' || src_id, NULL FROM pairs WHERE m_id IS NULL
        UNION ALL
        SELECT 'machines', m_id, '*', '{{DivergenceKinds.MissingInLegacy}}', NULL, m_type FROM pairs WHERE id IS NULL
        UNION ALL
        SELECT 'machines', id, f.field, '{{DivergenceKinds.FieldMismatch}}', f.legacy_value, f.machine_value
        FROM differing, LATERAL (VALUES
            ('ipv4', ipv4, m_ipv4),
            ('port', port::text, m_port::text),
            ('type', type, m_type),
            ('provider_id', provider_id, m_provider_id),
            ('owner', user_id, m_user_id),
            ('status', status, m_status),
            ('shared_key', CASE WHEN key_differs THEN 'differs' END, CASE WHEN key_differs THEN 'differs' END)
        ) AS f(field, legacy_value, machine_value)
        WHERE f.legacy_value IS DISTINCT FROM f.machine_value OR (f.field = 'shared_key' AND key_differs)
        """;

    /// <summary>Agents whose relation is not the machine the legacy fields say they hold.</summary>
    private static readonly string AssignmentDifferences = $$"""
        SELECT 'agents', a.id, 'machine_ref', '{{DivergenceKinds.AssignmentMismatch}}', expected_ref, a.machine_ref
        FROM agents a,
             LATERAL (SELECT CASE
                 WHEN a.machine_type = 'hetzner' AND a.machine_id IS NOT NULL THEN fleet_machine_id('hetzner', a.machine_id)
                 WHEN a.machine_type = 'custom' AND EXISTS (SELECT 1 FROM custom_machines c WHERE c.id = a.machine_id AND c.current_agent_id = a.id)
                     THEN fleet_machine_id('custom', a.machine_id)
             END AS expected_ref) x
        WHERE a.machine_ref IS DISTINCT FROM expected_ref
          AND NOT EXISTS (SELECT 1 FROM migration_dirty_rows d WHERE d.entity = 'agents' AND d.entity_id = a.id AND d.resolved_at IS NULL)
          AND NOT EXISTS (SELECT 1 FROM migration_dirty_rows d WHERE d.entity = 'custom_machines' AND d.entity_id = a.machine_id AND d.resolved_at IS NULL)
        """;

    /// <summary>Snapshots and health checks: linked to the wrong machine or not at all (unlinked), or to nothing that exists (orphan).</summary>
    private static string ChildDifferences(string table, string idExpression) => $$"""
        SELECT '{{table}}', {{idExpression}}, 'machine_ref',
               CASE WHEN m.id IS NULL THEN '{{DivergenceKinds.Orphan}}' ELSE '{{DivergenceKinds.Unlinked}}' END,
               t.machine_id, t.machine_ref
        FROM {{table}} t
        LEFT JOIN machines m ON m.id IN (fleet_machine_id('hetzner', t.machine_id), fleet_machine_id('custom', t.machine_id))
        WHERE (t.machine_ref IS DISTINCT FROM m.id OR m.id IS NULL)
          AND NOT EXISTS (SELECT 1 FROM migration_dirty_rows d WHERE d.entity = '{{table}}' AND d.entity_id = {{idExpression}} AND d.resolved_at IS NULL)
        """;

    /// <summary>
    /// A full verification: every query, their results stored, divergences no longer found marked resolved.
    /// </summary>
    public async Task<VerificationSummary> VerifyAsync(CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.UtcNow;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        foreach (var query in new[] { MachineDifferences, AssignmentDifferences, ChildDifferences("machine_snapshots", "t.id"), ChildDifferences("machine_health_checks", "t.id::text") })
        {
            await using var record = new NpgsqlCommand($"""
                INSERT INTO migration_divergences (entity, entity_id, field, kind, legacy_value, machine_value, source, first_seen, last_seen)
                SELECT d.*, '{Source}', @now, @now FROM ({query}) AS d(entity, entity_id, field, kind, legacy_value, machine_value)
                ON CONFLICT (entity, entity_id, field, kind) DO UPDATE SET last_seen = @now, resolved_at = NULL,
                    legacy_value = EXCLUDED.legacy_value, machine_value = EXCLUDED.machine_value
                """, connection, tx) { CommandTimeout = 0 };
            record.Parameters.AddWithValue("key", fingerprintKey);
            record.Parameters.AddWithValue("now", started);
            await record.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var resolve = new NpgsqlCommand(
            "UPDATE migration_divergences SET resolved_at = @now WHERE resolved_at IS NULL AND last_seen < @now AND source = @source", connection, tx))
        {
            resolve.Parameters.AddWithValue("now", started);
            resolve.Parameters.AddWithValue("source", Source);
            await resolve.ExecuteNonQueryAsync(cancellationToken);
        }

        var byKind = new Dictionary<string, long>();
        await using (var count = new NpgsqlCommand("SELECT kind, count(*) FROM migration_divergences WHERE resolved_at IS NULL GROUP BY kind", connection, tx))
        await using (var reader = await count.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                byKind[reader.GetString(0)] = reader.GetInt64(1);
            }
        }

        await tx.CommitAsync(cancellationToken);
        return new VerificationSummary(started, DateTimeOffset.UtcNow - started, byKind, byKind.Values.Sum());
    }
}
