using Npgsql;

namespace FleetAspire.Data.MachineTransition;

/// <summary>
/// The tail every keyset-batched statement of the transition ends with — the backfill's copies and the contract's
/// batched steps: <c>SELECT count(*), max(id)</c> of the rows it covered.
/// </summary>
internal static class KeysetBatch
{
    /// <summary>Runs the statement and reads how many rows it covered and the last key (PostgreSQL names the columns after the aggregates).</summary>
    public static async Task<(long Count, string? Last)> RunAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.Get<long>("count"), reader.GetStringOrNull("max"));
    }
}
