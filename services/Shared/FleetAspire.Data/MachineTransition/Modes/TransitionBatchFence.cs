using FleetAspire.Data.Migrations;
using FleetAspire.Data.Writes;
using Npgsql;

namespace FleetAspire.Data.MachineTransition.Modes;

/// <summary>
/// The epoch fence in front of a one-batch write: the fence function runs first in the batch's implicit transaction
/// with the epoch the write was planned for, and raises if the phase moved — so the write after it never runs under
/// the other authority (the transaction interceptor can look at the fence's answer before writing; a batch cannot).
/// The refusal refreshes this instance's phase and reaches the planner as <see cref="PhaseChangedException"/>, which
/// plans again once.
/// </summary>
public sealed class TransitionBatchFence(FleetDbContext db, TransitionWriteInterceptor fence, TransitionModeResolver resolver) : IBatchFence
{
    public async Task<T> RunAsync<T>(NpgsqlBatch batch, Func<NpgsqlDataReader, Task<T>> read, CancellationToken cancellationToken)
    {
        var planned = db.PlannedWriteMode?.Epoch;
        var first = new NpgsqlBatchCommand(TransitionWriteInterceptor.FenceSql);
        fence.AddFenceParameters(first.Parameters, planned);
        batch.BatchCommands.Insert(0, first);
        long epoch, txid;
        T result;
        try
        {
            await batch.PrepareAsync(cancellationToken);
            await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            (epoch, txid) = (reader.GetInt64(reader.GetOrdinal("epoch")), reader.GetInt64(reader.GetOrdinal("txid")));
            await reader.NextResultAsync(cancellationToken);
            result = await read(reader);
        }
        catch (PostgresException e) when (e.SqlState == MachineTransitionSql.PhaseMovedState)
        {
            var current = await resolver.RefreshAsync(cancellationToken);
            throw new PhaseChangedException(planned ?? current.Epoch, current.Epoch);
        }
        catch (Exception e)
        {
            fence.RecordFailure(e);
            throw;
        }

        // Committed: nothing may throw from here on — a phase change now would have the planner run the write again
        // (a claim committed once, then answered 409). The sampled write check is skipped if the phase moved since.
        if (await resolver.CurrentAsync() is { } mode && mode.Epoch == epoch)
        {
            fence.Committed(mode, txid);
        }

        return result;
    }
}
