using System.Security.Cryptography;
using System.Text;
using FleetAspire.Data.MachineTransition.Verification;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace FleetAspire.Data.MachineTransition.Shadow;

/// <summary>
/// Shared keys compared by keyed HMAC. Not <c>SecretFingerprint</c> (ServiceDefaults): that one is shown to clients and
/// must be stable across processes, so it needs a configured key; these fingerprints never leave the process (only
/// "differs" is recorded), so a per-process random key serves and no service needs one more secret.
/// </summary>
public sealed class ComparisonFingerprint
{
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);

    public string Of(string secret) => Convert.ToHexString(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(secret)));
}

/// <summary>
/// Comparisons the shadow worker runs for reads and write checks, by the verifier's own definitions: the legacy
/// model's expectation of Machine rows (<see cref="MachineVerifier.Expected"/>) against the rows, with the C#
/// comparator; and the verifier's child-link query for snapshots and health checks. Each reads both sides in one
/// statement (one snapshot), so a write landing between the request and the comparison is seen whole on both sides.
/// Quarantined (dirty) rows are known divergences and left out, as the verifier leaves them out.
/// </summary>
public static class MachineShadow
{
    public const string Snapshots = "machine_snapshots";
    public const string HealthChecks = "machine_health_checks";

    /// <summary>Machines named by legacy ids (provider server ids, custom machine ids) the served read returned.</summary>
    /// <remarks>Nothing is computed until the worker runs it: a read that is not sampled pays for the closure only.</remarks>
    public static Func<IServiceProvider, CancellationToken, Task<ShadowResult>> Machines(IReadOnlyCollection<string> legacyIds) =>
        (services, cancellationToken) => CompareMachinesAsync(services, "SELECT DISTINCT unnest(@ids::text[]) AS legacy_id", "ids",
            legacyIds.ToArray(), cancellationToken);

    /// <summary>
    /// Snapshots (<c>machine_snapshots</c>) or health checks (<c>machine_health_checks</c>) a read served: each must be
    /// linked to the Machine its legacy machine id names (<c>unlinked</c> when not, <c>orphan</c> when no such Machine).
    /// </summary>
    public static Func<IServiceProvider, CancellationToken, Task<ShadowResult>> Children(string table, IReadOnlyCollection<string> ids)
    {
        var (idExpression, scope) = table switch
        {
            Snapshots => ("t.id", "{0} = ANY(@ids)"),
            HealthChecks => ("t.id::text", "{0} = ANY(@ids::bigint[])"),
            _ => throw new ArgumentOutOfRangeException(nameof(table), table, "not a child table"),
        };
        return async (services, cancellationToken) =>
        {
            var served = ids.Distinct().ToArray();
            var findings = new List<ShadowFinding>();
            await ReadAsync(services, MachineVerifier.ChildDifferences(table, idExpression, scope), "ids", served, reader =>
                findings.Add(new ShadowFinding(table, reader.Get<string>("entity_id"), new FieldDivergence(reader.Get<string>("field"),
                    reader.Get<string>("kind"), reader.GetStringOrNull("legacy_value"), reader.GetStringOrNull("machine_value")))), cancellationToken);
            var found = findings.Select(f => f.EntityId).ToHashSet();
            return new ShadowResult(findings, served.Where(id => !found.Contains(id)).Select(id => (table, id)).ToList());
        };
    }

    /// <summary>
    /// The agents among <paramref name="agentIds"/> that are known divergences (<see cref="MachineVerifier.AgentQuarantined"/>):
    /// a shadow compare leaves them out exactly as the verifier does.
    /// </summary>
    public static async Task<IReadOnlySet<string>> QuarantinedAgentsAsync(IServiceProvider services, IReadOnlyCollection<string> agentIds,
        CancellationToken cancellationToken)
    {
        var quarantined = new HashSet<string>(StringComparer.Ordinal);
        await ReadAsync(services, $"SELECT a.id FROM agents a WHERE a.id = ANY(@ids) AND {MachineVerifier.AgentQuarantined("a")}", "ids",
            agentIds.ToArray(), reader => quarantined.Add(reader.Get<string>("id")), cancellationToken);
        return quarantined;
    }

    /// <summary>Both sides of the machines whose legacy ids <paramref name="idsSql"/> selects, compared field by field.</summary>
    internal static async Task<ShadowResult> CompareMachinesAsync(IServiceProvider services, string idsSql, string parameter, object value,
        CancellationToken cancellationToken)
    {
        var fingerprint = services.GetRequiredService<ComparisonFingerprint>();
        var findings = new List<ShadowFinding>();
        var clean = new List<(string, string)>();
        await ReadAsync(services, BothSides(idsSql), parameter, value, reader =>
        {
            var (legacy, machine) = (Side(reader, "legacy"), Side(reader, "machine"));
            var id = legacy?.Id ?? machine!.Id;
            var differences = MachineComparator.Compare(legacy, machine, fingerprint.Of);
            findings.AddRange(differences.Select(d => new ShadowFinding("machines", id, d)));
            if (differences.Count == 0)
            {
                clean.Add(("machines", id));
            }
        }, cancellationToken);
        return new ShadowResult(findings, clean);
    }

    /// <summary>
    /// Full join of both sides for the named legacy ids: a legacy machine without its Machine row, and a Machine row
    /// whose legacy source is gone, are both found (Machine rows by the ids either type would derive, so by key).
    /// </summary>
    private static string BothSides(string idsSql) => $"""
        WITH ids AS ({idsSql}),
        legacy AS ({MachineVerifier.Expected("{0} IN (SELECT legacy_id FROM ids)")}),
        machine AS (SELECT * FROM machines WHERE id IN (SELECT fleet_machine_id(t, legacy_id) FROM ids, (VALUES ('hetzner'), ('custom')) v(t)))
        SELECT l.id AS legacy_id, l.type AS legacy_type, l.provider_id AS legacy_provider_id, l.ipv4 AS legacy_ipv4,
               l.port AS legacy_port, l.status AS legacy_status, l.user_id AS legacy_user_id, l.shared_key AS legacy_shared_key,
               m.id AS machine_id, m.type AS machine_type, m.hetzner_machine_id AS machine_provider_id, m.ipv4 AS machine_ipv4,
               m.port AS machine_port, m.status AS machine_status, m.user_id AS machine_user_id, m.shared_key AS machine_shared_key
        FROM legacy l FULL JOIN machine m ON m.id = l.id
        WHERE l.id IS NULL
           OR NOT EXISTS (SELECT 1 FROM migration_dirty_rows d WHERE d.entity = l.src AND d.entity_id = l.src_id AND d.quarantined)
        """;

    private static async Task ReadAsync(IServiceProvider services, string sql, string parameter, object value, Action<NpgsqlDataReader> row,
        CancellationToken cancellationToken)
    {
        var db = services.GetRequiredService<FleetDbContext>();
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var command = new NpgsqlCommand(sql, (NpgsqlConnection)db.Database.GetDbConnection());
            command.Parameters.AddWithValue(parameter, value);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                row(reader);
            }
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    /// <summary>One side of a compared row: its columns are prefixed <c>legacy_</c> or <c>machine_</c>.</summary>
    private static MachineSide? Side(NpgsqlDataReader reader, string side) => reader.GetStringOrNull($"{side}_id") is not { } id
        ? null
        : new MachineSide(id, reader.Get<string>($"{side}_type"), reader.GetStringOrNull($"{side}_provider_id"), reader.GetStringOrNull($"{side}_ipv4"),
            reader.Get<int>($"{side}_port"), reader.Get<string>($"{side}_status"), reader.GetStringOrNull($"{side}_user_id"),
            reader.GetStringOrNull($"{side}_shared_key"));
}
