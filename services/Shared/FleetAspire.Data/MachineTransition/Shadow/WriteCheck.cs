using FleetAspire.Data.MachineTransition.Verification;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace FleetAspire.Data.MachineTransition.Shadow;

/// <summary>
/// The check of a committed dual-write: the legacy rows the transaction wrote and the Machine rows the dual-write made
/// of them, read back and compared with the verifier's comparator (source <c>write-check</c>). Rows quarantined as
/// dirty are known divergences and left out. Runs on the shadow worker after the commit, never on the request path;
/// a write committed since by another transaction can make it see a later state (a false alarm the next scan clears).
/// </summary>
public static class WriteCheck
{
    /// <summary>
    /// The legacy machine ids the transaction's rows name, the verifier's own expectation of their Machine rows, and
    /// the Machine rows themselves — in one statement, so one snapshot.
    /// </summary>
    private static readonly string BothSides = $"""
        WITH ids AS (
            SELECT a.machine_id AS legacy_id FROM legacy_changes ch JOIN agents a ON a.id = ch.entity_id
            WHERE ch.txid = @txid AND ch.entity = 'agents' AND a.machine_id IS NOT NULL
            UNION SELECT p.machine_id FROM legacy_changes ch JOIN parked_machines p ON p.id = ch.entity_id
            WHERE ch.txid = @txid AND ch.entity = 'parked_machines' AND p.machine_id IS NOT NULL
            UNION SELECT ch.entity_id FROM legacy_changes ch WHERE ch.txid = @txid AND ch.entity = 'custom_machines'),
        legacy AS ({MachineVerifier.Expected("{0} IN (SELECT legacy_id FROM ids)")})
        SELECT l.id, l.type, l.provider_id, l.ipv4, l.port, l.status, l.user_id, l.shared_key,
               m.id, m.type, m.hetzner_machine_id, m.ipv4, m.port, m.status, m.user_id, m.shared_key
        FROM legacy l LEFT JOIN machines m ON m.id = l.id
        WHERE NOT EXISTS (SELECT 1 FROM migration_dirty_rows d WHERE d.entity = l.src AND d.entity_id = l.src_id AND d.resolved_at IS NULL)
        """;

    /// <summary>The work for one committed transaction.</summary>
    public static Func<IServiceProvider, CancellationToken, Task<ShadowResult>> For(long txid, Func<string, string> fingerprint) =>
        async (services, cancellationToken) =>
        {
            var db = services.GetRequiredService<FleetDbContext>();
            var connection = (NpgsqlConnection)db.Database.GetDbConnection();
            await db.Database.OpenConnectionAsync(cancellationToken);
            try
            {
                await using var command = new NpgsqlCommand(BothSides, connection);
                command.Parameters.AddWithValue("txid", txid);
                var findings = new List<ShadowFinding>();
                var clean = new List<(string, string)>();
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    var legacy = Side(reader, 0)!;
                    var differences = MachineComparator.Compare(legacy, Side(reader, 8), fingerprint);
                    findings.AddRange(differences.Select(d => new ShadowFinding("machines", legacy.Id, d)));
                    if (differences.Count == 0)
                    {
                        clean.Add(("machines", legacy.Id));
                    }
                }

                return new ShadowResult(findings, clean);
            }
            finally
            {
                await db.Database.CloseConnectionAsync();
            }
        };

    private static MachineSide? Side(NpgsqlDataReader reader, int at) => reader.IsDBNull(at)
        ? null
        : new MachineSide(reader.GetString(at), reader.GetString(at + 1), Text(reader, at + 2), Text(reader, at + 3), reader.GetInt32(at + 4),
            reader.GetString(at + 5), Text(reader, at + 6), Text(reader, at + 7));

    private static string? Text(NpgsqlDataReader reader, int at) => reader.IsDBNull(at) ? null : reader.GetString(at);
}
