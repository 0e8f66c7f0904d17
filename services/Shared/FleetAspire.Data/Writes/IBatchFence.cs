using Npgsql;

namespace FleetAspire.Data.Writes;

/// <summary>
/// Runs a write sent as one batch: one round trip and one implicit transaction (no BEGIN, no COMMIT), like the pool
/// claim. The steady state has nothing to add; while the machine migration runs, its epoch fence goes first in the
/// same transaction (<c>MachineTransition/Modes/TransitionBatchFence</c>).
/// </summary>
public interface IBatchFence
{
    /// <summary>
    /// Executes <paramref name="batch"/> on its (open) connection, hands <paramref name="read"/> the reader on the
    /// batch's own first result, and returns once the batch has committed.
    /// </summary>
    Task<T> RunAsync<T>(NpgsqlBatch batch, Func<NpgsqlDataReader, Task<T>> read, CancellationToken cancellationToken);
}
