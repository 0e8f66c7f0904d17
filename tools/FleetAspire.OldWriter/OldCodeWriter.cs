using Npgsql;

namespace FleetAspire.OldWriter;

/// <summary>
/// A build from before the migration, running beside the new services: it knows nothing of <c>Machine</c>, the epoch
/// fence or the writer tag, and writes legacy columns exactly as the old code did — a custom machine registered,
/// then moved to another port. Its writes reach the change log untagged, so the migration classifies them
/// <c>legacy-only-write</c>, keeps <c>MachineRead</c> closed while it runs, and repairs them legacy → Machine.
/// </summary>
public sealed class OldCodeWriter(NpgsqlDataSource dataSource, string owner)
{
    private int _round;

    /// <summary>One round of old-code writes, each in a transaction of its own (as the old code committed them).</summary>
    public async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        var round = Interlocked.Increment(ref _round);
        var id = $"cm_old_{Environment.ProcessId}_{Guid.NewGuid():N}"[..40];
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using (var register = new NpgsqlCommand("""
            INSERT INTO custom_machines (id, ipv4, port, shared_key, user_id, created_at, updated_at)
            VALUES (@id, @ipv4, 22, @key, @owner, now(), now())
            """, connection))
        {
            register.Parameters.AddWithValue("id", id);
            register.Parameters.AddWithValue("ipv4", $"198.18.{round / 250 % 250}.{round % 250}");
            register.Parameters.AddWithValue("key", "old-build-key-" + Guid.NewGuid().ToString("N"));
            register.Parameters.AddWithValue("owner", owner);
            await register.ExecuteNonQueryAsync(cancellationToken);
        }

        await using var move = new NpgsqlCommand("UPDATE custom_machines SET port = 2022, updated_at = now() WHERE id = @id", connection);
        move.Parameters.AddWithValue("id", id);
        await move.ExecuteNonQueryAsync(cancellationToken);
    }
}
