using Npgsql;

namespace FleetAspire.Data.Writes;

/// <summary>The steady state: the batch as it is.</summary>
public sealed class UnfencedBatch : IBatchFence
{
    public async Task<T> RunAsync<T>(NpgsqlBatch batch, Func<NpgsqlDataReader, Task<T>> read, CancellationToken cancellationToken)
    {
        await batch.PrepareAsync(cancellationToken);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        return await read(reader);
    }
}
